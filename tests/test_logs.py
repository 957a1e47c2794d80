"""Secrets never reach a log line, whatever the caller passes."""

from __future__ import annotations

import io
import json

from pydantic import SecretStr

from conciliador import logs


class _Stream(io.StringIO):
    def isatty(self) -> bool:
        return False


def _log_line(**fields) -> dict:
    stream = _Stream()
    logs.configure("debug", "auto", stream=stream)
    import structlog

    structlog.get_logger("t").info("event", **fields)
    return json.loads(stream.getvalue())


def test_json_when_not_a_terminal_and_secrets_redacted():
    line = _log_line(password="hunter2", api_key="abc", token="t0k", secret=SecretStr("s3"),
                     url="https://user:pa55@sap.example:44300/sap/bc/soap/rfc", company="acme")
    assert line["event"] == "event" and line["level"] == "info" and line["company"] == "acme"
    for key in ("password", "api_key", "token", "secret"):
        assert line[key] == logs.REDACTED
    assert "pa55" not in line["url"] and line["url"].startswith("https://user:")
    assert "hunter2" not in json.dumps(line)


def test_console_format_on_request():
    stream = _Stream()
    logs.configure("info", "console", stream=stream)
    import structlog

    structlog.get_logger("t").info("hello", password="x")
    text = stream.getvalue()
    assert "hello" in text and "x\n" not in text and logs.REDACTED in text
