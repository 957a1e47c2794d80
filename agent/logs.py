"""Structured logging: JSON lines when running as a service, readable text on a terminal.

Every event passes through :func:`redact` first, so a secret handed to a log call by mistake is
printed as ``**********``.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from pydantic import SecretStr

REDACTED = "**********"
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key|authorization", re.I)
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):([^@\s]+)@")


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, SecretStr) or (_SECRET_KEY.search(key) and value not in (None, "")):
            event[key] = REDACTED
        elif isinstance(value, str) and "://" in value:
            event[key] = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", value)
    return event


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Set up structlog for the process. ``fmt`` is ``auto`` (JSON unless a TTY), ``json`` or ``console``."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
