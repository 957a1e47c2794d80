"""What IT sees of the running service: systemd's readiness and watchdog messages on
$NOTIFY_SOCKET, and Prometheus metrics that follow the work the agent does."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request

import pytest

from conciliador import __version__
from conftest import make_workspace, wait_for

pytestmark = pytest.mark.slow


def _bound_port(log: str) -> int | None:
    for line in log.splitlines():
        if line.startswith("{") and (event := json.loads(line)).get("event") == "metrics_listening":
            return int(event["address"].rpartition(":")[2])
    return None


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_service_reports_readiness_and_metrics(tmp_path, daemon_factory):
    # Port 0: the agent binds a free port and logs it (no window in which another process could
    # take a port picked here and released).
    ws = make_workspace(tmp_path / "ws", invoices=5, stable_seconds=0.1,
                        extra_config='\n[metrics]\nlisten = "127.0.0.1:0"\n')
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(30)
    try:
        d = daemon_factory(ws, env={"NOTIFY_SOCKET": str(notify_path)})
        first = listener.recv(4096).decode()
        assert "READY=1" in first and "STATUS=watching" in first, first
        port = wait_for(lambda: _bound_port(d.output()), 10, "the metrics port in the log")
        before = _scrape(port)
        assert before[f'conciliador_info{{version="{__version__}"}}'] == 1

        payments = [(f"PAGO {ref}", total) for _, ref, _, total in ws.invoices]
        (ws.inbox / "extracto.csv").write_bytes(ws.statement("s", payments + [("PAGO DESCONOCIDO", 1234)]))
        wait_for(lambda: _scrape(port).get('conciliador_postings_total{outcome="posted"}') == 5, 30,
                 "five postings counted in /metrics")
        after = _scrape(port)
        assert after['conciliador_files_total{status="archived"}'] == 1
        assert after["conciliador_statement_lines_total"] == 6
        assert after['conciliador_decisions_total{kind="apply"}'] == 5
        assert after['conciliador_decisions_total{kind="unmatched"}'] == 1
        assert after['conciliador_outbox_postings{state="posted"}'] == 5
        assert after['conciliador_outbox_postings{state="pending"}'] == 0
        assert after["conciliador_lines_waiting_for_finance"] == 1
        assert after["conciliador_outbox_oldest_waiting_seconds"] == 0  # all five made
        assert after["conciliador_last_round_timestamp_seconds"] > 0
        assert after["conciliador_round_seconds_count"] >= 1

        messages = []
        while "WATCHDOG=1" not in messages:
            messages.append(listener.recv(4096).decode())
        d.stop(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(listener.recv(4096).decode())
        assert d.proc.returncode == 0, d.output()
    finally:
        listener.close()
    with pytest.raises(OSError):  # the endpoint goes away with the agent
        _scrape(port)


def test_notify_gives_up_on_a_full_socket_and_watchdog_is_rate_limited(tmp_path, monkeypatch):
    """A reader that stops reading (systemd stuck, a test that reads one message) must not hang
    the agent: sends give up after a second. And the loop, which goes round several times a
    second, sends WATCHDOG=1 at most twice per WatchdogSec."""
    import time

    from conciliador import sdnotify

    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        filler.connect(str(path))
        filler.setblocking(False)
        with pytest.raises(BlockingIOError):  # fill the queue: no one reads
            for _ in range(10_000):
                filler.send(b"X=1")
        filler.close()
        started = time.monotonic()
        assert sdnotify.notify("WATCHDOG=1") is False
        assert time.monotonic() - started < 5

        while True:  # drain, then the rate limit alone decides
            listener.setblocking(False)
            try:
                listener.recv(64)
            except BlockingIOError:
                break
        monkeypatch.setenv("WATCHDOG_USEC", "600000")  # WatchdogSec=0.6: at most every 0.3 s
        monkeypatch.setattr(sdnotify, "_last_watchdog", float("-inf"))
        assert sdnotify.watchdog() is True
        assert sdnotify.watchdog() is False
        time.sleep(0.35)
        assert sdnotify.watchdog() is True
        assert [listener.recv(64) for _ in range(2)] == [b"WATCHDOG=1"] * 2
    finally:
        listener.close()


def test_the_oldest_waiting_posting_is_measured(tmp_path):
    """A posting the ERP does not take (down, or an outcome it cannot confirm) waits in the outbox;
    IT's alert is on its age, not on a count that is rarely zero on a busy day."""
    import datetime as dt
    import time

    from conciliador.config import load_config
    from conciliador.daemon import Agent, RunSummary
    from conciliador.errors import RetryableError
    from conciliador.metrics import Metrics
    from conciliador.plugins.flatfile import FlatFileErp

    class Down(FlatFileErp):
        def post(self, posting):
            raise RetryableError("connection refused")

    ws = make_workspace(tmp_path / "ws", invoices=1)
    (ws.inbox / "s.csv").write_bytes(ws.statement("s", [(f"PAGO {r}", t) for _, r, _, t in ws.invoices]))
    agent = Agent(load_config(ws.config))
    agent.rt.connectors["acme"] = Down(agent.rt.connectors["acme"].settings, company="acme")
    metrics = Metrics()
    try:
        assert agent.run_once().deferred == 1
        two_hours_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat(timespec="microseconds")
        with agent.rt.db.transaction() as conn:
            conn.execute("UPDATE outbox SET created_at = ?", (two_hours_ago,))
        metrics.record(RunSummary(), agent.rt.db, time.monotonic())
        age = metrics.registry.get_sample_value("conciliador_outbox_oldest_waiting_seconds")
        assert 7200 <= age < 7300
    finally:
        agent.close()
        metrics.close()
