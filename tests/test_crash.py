"""Exactly once across crashes: the agent is SIGKILLed with postings in its outbox, at named fault
points and at random instants, restarted, and the flat-file ERP is the oracle: every applied line
is posted once, none twice."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

import pytest

from conftest import Workspace, cli, make_workspace, wait_for

pytestmark = pytest.mark.slow

PAYMENTS = 120


def _statement(ws: Workspace) -> bytes:
    return ws.statement("s", [(f"PAGO {ref}", total) for _, ref, _, total in ws.invoices])


def _assert_exactly_once(ws: Workspace, payments: int = PAYMENTS) -> None:
    rows = ws.postings()
    documents_per_key = {}
    for row in rows:
        documents_per_key.setdefault(row["key"], set()).add(row["document"])
    # One ERP document per key, and one row per key (each payment clears a single invoice here).
    assert all(len(docs) == 1 for docs in documents_per_key.values())
    duplicates = [k for k, n in Counter(r["key"] for r in rows).items() if n > 1]
    assert duplicates == [], f"posted twice: {duplicates}"
    applied = Counter(r["applied_document"] for r in rows)
    assert max(applied.values()) == 1, "an invoice was cleared twice"
    assert len(rows) == payments
    states = dict(ws.query("SELECT state, count(*) FROM outbox GROUP BY state"))
    assert states == {"posted": payments}
    recorded = dict(ws.query("SELECT key, erp_document FROM outbox"))
    assert recorded == {k: next(iter(v)) for k, v in documents_per_key.items()}


def _run_once_with(ws: Workspace, connector_class):
    """One in-process pass of the agent with the company's flat-file ERP replaced by a variant
    that misbehaves the way a real ERP does."""
    from conciliador.config import load_config
    from conciliador.daemon import Agent

    (ws.inbox / "e.csv").write_bytes(ws.statement("s", [(f"PAGO {r}", t) for _, r, _, t in ws.invoices]))
    agent = Agent(load_config(ws.config))
    agent.rt.connectors["acme"] = connector_class(agent.rt.connectors["acme"].settings, company="acme")
    try:
        return agent.run_once()
    finally:
        agent.close()


@pytest.mark.parametrize("point", ["poster.before_post", "poster.after_post"])
def test_crash_at_named_point_then_restart(tmp_path, daemon_factory, point):
    ws = make_workspace(tmp_path / "ws", invoices=PAYMENTS)
    (ws.inbox / "extracto.csv").write_bytes(_statement(ws))
    d = daemon_factory(ws, env={"CONCILIADOR_CRASH_AT": f"{point}:7"}, may_exit=True)
    code = d.proc.wait(60)
    assert code == -signal.SIGKILL, d.output()
    pending = ws.query("SELECT count(*) FROM outbox WHERE state != 'posted'")[0][0]
    assert pending > 0, "the crash should leave postings in the outbox"
    in_flight = ws.query("SELECT count(*) FROM outbox WHERE state = 'in_flight'")[0][0]
    assert in_flight == 1  # the one the agent was sending when it died
    if point == "poster.after_post":
        assert len(ws.postings()) == 7  # the ERP has it, the store does not know yet

    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    _assert_exactly_once(ws)
    recovered = ws.query("SELECT count(*) FROM audit WHERE event = 'posted' "
                         "AND json_extract(detail, '$.recovered_by_find_posting')")[0][0]
    assert recovered == (1 if point == "poster.after_post" else 0)


def test_sigkill_at_random_instants(tmp_path, daemon_factory):
    payments = 2000
    ws = make_workspace(tmp_path / "ws", invoices=payments)
    (ws.inbox / "extracto.csv").write_bytes(_statement(ws))
    rng = random.Random(20261123)
    kills = 0
    for _ in range(8):
        d = daemon_factory(ws)
        wait_for(lambda: ws.db_path.exists() and ws.query("SELECT count(*) FROM outbox")[0][0] > 0, 30,
                 "postings in the outbox")
        time.sleep(rng.uniform(0.0, 0.15))
        if ws.query("SELECT count(*) FROM outbox WHERE state != 'posted'")[0][0] == 0:
            d.stop()
            break
        d.stop(signal.SIGKILL)
        kills += 1
    assert kills >= 3, "the agent finished before it could be killed three times; make the statement larger"
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    _assert_exactly_once(ws, payments)


def test_timeout_after_erp_committed_is_not_posted_twice(tmp_path):
    """A lost response (the ERP committed, the answer never came) is resolved by find_posting."""
    from conciliador.errors import RetryableError
    from conciliador.plugins.flatfile import FlatFileErp

    class LosesFirstAnswer(FlatFileErp):
        lost = 0

        def post(self, posting):
            result = super().post(posting)
            if not LosesFirstAnswer.lost:
                LosesFirstAnswer.lost += 1
                raise RetryableError("timed out waiting for the ERP")
            return result

    ws = make_workspace(tmp_path / "ws", invoices=3)
    summary = _run_once_with(ws, LosesFirstAnswer)
    assert summary.posted == 3 and summary.pending == 0
    assert len(ws.postings()) == 3
    assert Counter(p["key"] for p in ws.postings()).most_common(1)[0][1] == 1


def test_erp_refusal_reaches_finance(tmp_path):
    from conciliador.errors import PermanentError
    from conciliador.plugins.flatfile import FlatFileErp

    class ClosedPeriod(FlatFileErp):
        def post(self, posting):
            raise PermanentError("posting period 2026/11 is closed", erp_message="Período contable 11/2026 cerrado")

    ws = make_workspace(tmp_path / "ws", invoices=2)
    summary = _run_once_with(ws, ClosedPeriod)
    assert summary.failed == 2
    [path] = [p for p in summary.exception_files if p.suffix == ".csv"]  # the workbook's CSV twin
    text = path.read_text(encoding="utf-8-sig")
    assert text.count("rechazado por el ERP") == 2 and "Período contable 11/2026 cerrado" in text


def test_erp_down_defers_postings_until_it_is_back(tmp_path):
    from conciliador.errors import RetryableError
    from conciliador.plugins.flatfile import FlatFileErp

    class Down(FlatFileErp):
        def post(self, posting):
            raise RetryableError("connection refused by erp.example:443")

    ws = make_workspace(tmp_path / "ws", invoices=2)
    summary = _run_once_with(ws, Down)
    assert summary.pending == 2 and summary.posted == 0
    rows = ws.query("SELECT state, attempts, last_error, next_attempt_at FROM outbox")
    assert all(state == "in_flight" and attempts == 5 and "connection refused" in error and retry_at
               for state, attempts, error, retry_at in rows)

    time.sleep(1.1)  # poster.retry_after_seconds in the test workspace
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert len(ws.postings()) == 2


def test_once_exit_code_when_erp_cannot_be_read(tmp_path):
    ws = make_workspace(tmp_path / "ws", invoices=2)
    (ws.root / "erp" / "open_items.csv").unlink()
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", [(f"PAGO {r}", t) for _, r, _, t in ws.invoices]))
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 3, result.stderr
    assert "wait" in result.stderr and "open_items.csv" in result.stdout + result.stderr
    assert ws.query("SELECT count(*) FROM statement_lines WHERE status = 'new'")[0][0] == 2


def test_connector_bug_while_reading_costs_a_round_not_the_agent(tmp_path):
    from conciliador.plugins.flatfile import FlatFileErp

    class Buggy(FlatFileErp):
        def customers(self):
            raise KeyError("KUNNR")

    ws = make_workspace(tmp_path / "ws", invoices=2)
    summary = _run_once_with(ws, Buggy)
    assert summary.undecided == 2 and summary.reconcile.failed_companies == ["acme"]
    # The next run with a working ERP decides and posts them.
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert len(ws.postings()) == 2
