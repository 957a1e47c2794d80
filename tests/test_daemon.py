"""The agent as a real process watching a real inbox: files in, archive or quarantine out, postings
in the flat-file ERP, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
from decimal import Decimal

import pytest

from conftest import Workspace, wait_for

pytestmark = pytest.mark.slow


def _payments(ws: Workspace, first: int, last: int) -> list[tuple[str, Decimal]]:
    return [(f"PAGO FACTURA {ref}", total) for _, ref, _, total in ws.invoices[first - 1:last]]


def test_daemon_takes_files_from_watched_inbox(workspace: Workspace, daemon_factory):
    ws = workspace
    d = daemon_factory(ws)

    # A good statement: five exact payments, one without reference, one bank charge.
    good = ws.statement("s1", _payments(ws, 1, 5) + [("TRANSFERENCIA SIN DATOS", Decimal("77777.00"))],
                        extra_rows=[["0123-456789-01", "2026-11-20", "-8500.00", "COP", "FEE1", "", "COMISION"]])
    (ws.inbox / "extracto-1.csv").write_bytes(good)
    wait_for(lambda: len(ws.postings()) == 5, 30, "five postings in the flat-file ERP")
    assert [p.name for p in ws.archived()] == ["extracto-1.csv"]
    assert not list(ws.inbox.iterdir())
    assert ws.query("SELECT count(*) FROM statement_lines")[0][0] == 7
    assert {p["applied_document"] for p in ws.postings()} == {doc for doc, *_ in ws.invoices[:5]}
    assert all(len(p["key"]) == 16 for p in ws.postings())
    wait_for(lambda: list((ws.root / "exceptions").glob("excepciones-*-acme.csv")), 10, "the exceptions file")
    exceptions = next((ws.root / "exceptions").glob("excepciones-*-acme.csv")).read_text(encoding="utf-8-sig")
    assert "TRANSFERENCIA SIN DATOS" in exceptions and "COMISION" not in exceptions

    # A malformed file is quarantined with a reason naming the line and the field ...
    (ws.inbox / "roto.csv").write_bytes(b"# conciliador-csv v1\naccount,booking_date,amount,currency\n"
                                        b"0123-456789-01,2026-11-20,1.234,56,COP\n")
    wait_for(lambda: ws.quarantined(), 30, "the malformed file in quarantine")
    assert [p.name for p in ws.quarantined()] == ["roto.csv"]
    reason = (ws.root / "quarantine" / "roto.csv.reason.txt").read_text()
    assert "roto.csv" in reason and "line 3" in reason

    # ... and the daemon keeps going with the next file.
    (ws.inbox / "extracto-2.csv").write_bytes(ws.statement("s2", _payments(ws, 6, 8), start=100))
    wait_for(lambda: len(ws.postings()) == 8, 30, "three more postings")
    assert d.proc.poll() is None

    # The same bytes again under another name: recorded as a duplicate, nothing posted twice.
    (ws.inbox / "extracto-2-copia.csv").write_bytes(ws.statement("s2", _payments(ws, 6, 8), start=100))
    # The row is committed before the file moves (crash recovery relies on that order): wait for both.
    wait_for(lambda: ws.query("SELECT count(*) FROM files WHERE status = 'duplicate'")[0][0] == 1
             and len(ws.archived()) == 3, 30, "the copy recorded as a duplicate and archived")
    assert len(ws.postings()) == 8
    assert ws.query("SELECT count(*) FROM statement_lines")[0][0] == 10
    assert sorted(p.name for p in ws.archived()) == ["extracto-1.csv", "extracto-2-copia.csv", "extracto-2.csv"]

    assert d.stop() == 0
    events = [json.loads(line)["event"] for line in d.output().splitlines() if line.startswith("{")]
    assert "file_quarantined" in events and "file_duplicate" in events and events[-1] == "agent_stopped"


def test_done_marker_releases_a_file_at_once(tmp_path, daemon_factory):
    from conftest import make_workspace

    ws = make_workspace(tmp_path / "ws", stable_seconds=3600)  # only the marker can release the file
    daemon_factory(ws)
    (ws.inbox / "extracto.csv").write_bytes(ws.statement("s", _payments(ws, 1, 2)))
    (ws.inbox / "extracto.csv.done").touch()
    wait_for(lambda: len(ws.postings()) == 2, 30, "postings after the .done marker")
    assert not (ws.inbox / "extracto.csv.done").exists()


def test_rescan_at_start_takes_files_that_arrived_while_stopped(workspace: Workspace, daemon_factory):
    ws = workspace
    (ws.inbox / "antes.csv").write_bytes(ws.statement("s", _payments(ws, 1, 3)))
    daemon_factory(ws)
    wait_for(lambda: len(ws.postings()) == 3, 30, "postings from the file found at start")


def test_sigint_stops_cleanly_while_busy(tmp_path, daemon_factory):
    from conftest import make_workspace

    ws = make_workspace(tmp_path / "ws", invoices=400)
    d = daemon_factory(ws)
    (ws.inbox / "grande.csv").write_bytes(ws.statement("s", _payments(ws, 1, 400)))
    wait_for(lambda: ws.postings(), 30, "the first postings")
    assert d.stop(signal.SIGINT) == 0
    # Whatever was posted is recorded; whatever is pending waits for the next start.
    posted = {p["key"] for p in ws.postings()}
    recorded = {k for (k,) in ws.query("SELECT key FROM outbox WHERE state = 'posted'")}
    assert recorded == posted
    assert ws.query("SELECT count(*) FROM outbox WHERE state = 'in_flight'")[0][0] == 0


def test_second_agent_on_same_state_is_refused(workspace: Workspace, daemon_factory):
    from conftest import cli

    daemon_factory(workspace)
    result = cli("run", "--config", str(workspace.config))
    assert result.returncode != 0
    assert "already running" in result.stderr


def test_file_from_unknown_account_goes_to_exceptions(tmp_path):
    """An account no company claims is not lost: its lines are kept and shown to finance."""
    from conftest import cli, make_workspace

    ws = make_workspace(tmp_path / "ws")
    text = ws.statement("s", _payments(ws, 1, 1)).replace(b"0123-456789-01", b"999-000-1")
    (ws.inbox / "otra-cuenta.csv").write_bytes(text)
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert ws.postings() == []
    files = list((ws.root / "exceptions").glob("*.csv"))
    assert len(files) == 1 and "sin-empresa" in files[0].name
    assert "cuenta sin empresa" in files[0].read_text(encoding="utf-8-sig")


def test_copy_of_archive_folder_is_untouched(workspace: Workspace):
    """Archived files keep their bytes: the archive is evidence."""
    from conftest import cli

    data = workspace.statement("s", _payments(workspace, 1, 2))
    (workspace.inbox / "a.csv").write_bytes(data)
    assert cli("run", "--once", "--config", str(workspace.config)).returncode == 0
    [archived] = workspace.archived()
    assert archived.read_bytes() == data


def test_sighup_reload_keeps_the_last_good_config(workspace: Workspace, daemon_factory):
    ws = workspace
    d = daemon_factory(ws)
    good = ws.config.read_text()

    ws.config.write_text(good.replace("stable_seconds = 0.3", "stable_seconds = -1"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload_failed" in d.output(), 20, "the failed reload to be logged")
    assert "intake.stable_seconds" in d.output()
    (ws.inbox / "a.csv").write_bytes(ws.statement("a", _payments(ws, 1, 2)))
    wait_for(lambda: len(ws.postings()) == 2, 30, "postings under the kept configuration")

    ws.config.write_text('language = "en"\n' + good)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: '"reloaded"' in d.output(), 20, "the reload")
    (ws.inbox / "b.csv").write_bytes(ws.statement("b", [("NO REFERENCE HERE", Decimal("123456.00"))], start=50))
    wait_for(lambda: list((ws.root / "exceptions").glob("exceptions-*-acme.csv")), 30, "an English exceptions file")
    # any() rather than next(): past local midnight the day's files are two
    assert any("No reference to an open invoice" in p.read_text(encoding="utf-8-sig")
               for p in (ws.root / "exceptions").glob("exceptions-*.csv"))
    assert d.stop() == 0
