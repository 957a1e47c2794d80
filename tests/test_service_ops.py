"""What IT sees of the running service: systemd's readiness and watchdog messages on
$NOTIFY_SOCKET, and Prometheus metrics that follow the work the agent does."""

from __future__ import annotations

import signal
import socket
import urllib.request

import pytest

from conciliador import __version__
from conftest import make_workspace, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_service_reports_readiness_and_metrics(tmp_path, daemon_factory):
    port = _free_port()
    ws = make_workspace(tmp_path / "ws", invoices=5, stable_seconds=0.1,
                        extra_config=f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
    notify_path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(30)
    try:
        d = daemon_factory(ws, env={"NOTIFY_SOCKET": str(notify_path)})
        first = listener.recv(4096).decode()
        assert "READY=1" in first and "STATUS=watching" in first, first
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
