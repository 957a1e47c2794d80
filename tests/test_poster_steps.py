"""Postings the ERP makes in several calls: each finished step is kept, a step whose outcome is
unknown is looked for before it is sent again, and a finished step is never repeated, across
lost answers, connector failures and SIGKILL between the steps."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_workspace
from twostep_erp import TwoStepErp

HERE = Path(__file__).parent


def _child(ws, crash_at: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONCILIADOR_CRASH_AT": crash_at,
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(HERE / "twostep_erp.py"), str(ws.config)], env=env,
                          capture_output=True, text=True, timeout=120)


def _paying_workspace(tmp_path, invoices: int):
    """A workspace whose inbox holds a statement paying each of its ``invoices`` by reference."""
    ws = make_workspace(tmp_path / "ws", invoices=invoices)
    (ws.inbox / "s.csv").write_bytes(ws.statement("s", [(f"PAGO {r}", t) for _, r, _, t in ws.invoices]))
    return ws


def _agent(ws, connector_class=TwoStepErp):
    from conciliador.config import load_config
    from conciliador.daemon import Agent

    agent = Agent(load_config(ws.config))
    agent.rt.connectors["acme"] = connector_class(agent.rt.connectors["acme"].settings, company="acme")
    return agent


def _assert_each_step_once(ws, payments: int) -> None:
    erp = TwoStepErp(TwoStepErp.Settings(folder=ws.root / "erp"), company="acme")
    receipts = Counter(r["key"] for r in erp.receipts())
    postings = Counter(r["key"] for r in ws.postings())
    assert len(receipts) == len(postings) == payments
    assert max(receipts.values()) == 1, "a receipt was made twice"
    assert max(postings.values()) == 1, "a clearing was made twice"
    assert dict(ws.query("SELECT state, count(*) FROM outbox GROUP BY state")) == {"posted": payments}
    steps = ws.query("SELECT s.step, s.document, o.erp_document FROM outbox_steps s JOIN outbox o USING(key) "
                     "ORDER BY o.key, s.done_at")
    assert [s for s, _, _ in steps] == ["receipt", "clear"] * payments
    assert all(doc == final for step, doc, final in steps if step == "clear")


@pytest.mark.parametrize("crash_at, under_way, found_by_search", [
    ("poster.after_post:1", "receipt", "receipt"),  # the receipt is in the ERP, the store does not know it
    ("poster.before_post:2", "clear", None),         # the receipt is recorded, the clearing not yet sent
    ("poster.after_post:2", "clear", "clear"),       # the clearing is in the ERP, the store does not know it
])
def test_sigkill_between_steps_resumes_at_the_right_step(tmp_path, crash_at, under_way, found_by_search):
    ws = _paying_workspace(tmp_path, 3)
    child = _child(ws, crash_at)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert ws.query("SELECT step FROM outbox WHERE state = 'in_flight'") == [(under_way,)]

    agent = _agent(ws)
    try:
        summary = agent.run_once()
    finally:
        agent.close()
    assert summary.posted == 3 and summary.pending == 0
    _assert_each_step_once(ws, 3)
    recovered = ws.query("SELECT json_extract(detail, '$.step') FROM audit WHERE event IN ('posted', 'posting_step_done') "
                         "AND json_extract(detail, '$.recovered_by_find_posting')")
    assert [r[0] for r in recovered] == ([found_by_search] if found_by_search else [])


def test_lost_answer_of_a_step_is_found_not_resent(tmp_path):
    from conciliador.errors import RetryableError

    class LosesFirstReceiptAnswer(TwoStepErp):
        lost = 0

        def post_step(self, posting, step, done):
            result = super().post_step(posting, step, done)
            if step == "receipt" and not type(self).lost:
                type(self).lost += 1
                raise RetryableError("timed out waiting for the ERP")
            return result

    ws = _paying_workspace(tmp_path, 3)
    agent = _agent(ws, LosesFirstReceiptAnswer)
    try:
        summary = agent.run_once()
    finally:
        agent.close()
    assert summary.posted == 3
    _assert_each_step_once(ws, 3)


def test_refused_second_step_keeps_the_first_and_reaches_finance(tmp_path):
    from conciliador.errors import PermanentError

    class ClosedForClearing(TwoStepErp):
        def post_step(self, posting, step, done):
            if step == "clear":
                raise PermanentError("clearing refused", erp_message="F5 201: Período 11/2026 cerrado para compensar")
            return super().post_step(posting, step, done)

    ws = _paying_workspace(tmp_path, 2)
    agent = _agent(ws, ClosedForClearing)
    try:
        summary = agent.run_once()
    finally:
        agent.close()
    assert summary.failed == 2 and ws.postings() == []
    assert ws.query("SELECT step, count(*) FROM outbox_steps GROUP BY step") == [("receipt", 2)]
    assert ws.query("SELECT DISTINCT state, step, last_error FROM outbox") == [
        ("failed", "clear", "F5 201: Período 11/2026 cerrado para compensar")]
    [path] = [p for p in summary.exception_files if p.suffix == ".csv"]  # the workbook's CSV twin
    assert "F5 201" in path.read_text(encoding="utf-8-sig")


def test_a_lookup_that_cannot_answer_keeps_the_outcome_unknown_not_failed(tmp_path):
    """The answer of a receipt is lost, then the lookup itself is refused (the ERP user lacks the
    authorisation to read back, say): the posting must stay in flight, never be reported failed
    (finance would redo what the ERP did) nor re-sent; once the lookup works, it is found."""
    from conciliador.errors import PermanentError, RetryableError

    class BlindAfterTimeout(TwoStepErp):
        can_look = False

        def post_step(self, posting, step, done):
            result = super().post_step(posting, step, done)
            if step == "receipt":
                raise RetryableError("timed out waiting for the ERP")
            return result

        def find_step(self, posting, step, done):
            if not type(self).can_look:
                raise PermanentError("no authorisation to read documents",
                                     erp_message="User RFC_CONC may not call RFC_READ_TABLE (S_RFC)")
            return super().find_step(posting, step, done)

    ws = _paying_workspace(tmp_path, 1)
    agent = _agent(ws, BlindAfterTimeout)
    try:
        summary = agent.run_once()
        assert summary.failed == 0 and summary.posted == 0
        [(state, step, error)] = ws.query("SELECT state, step, last_error FROM outbox")
        assert (state, step) == ("in_flight", "receipt")
        assert "could not check whether the ERP already made step 'receipt'" in error and "S_RFC" in error
        erp = TwoStepErp(TwoStepErp.Settings(folder=ws.root / "erp"), company="acme")
        assert len(erp.receipts()) == 1, "the receipt was sent again although its outcome was unknown"

        BlindAfterTimeout.can_look = True
        with agent.rt.db.transaction() as conn:  # due now rather than after retry_after_seconds
            conn.execute("UPDATE outbox SET next_attempt_at = NULL")
        assert agent.run_once().posted == 1
    finally:
        agent.close()
    _assert_each_step_once(ws, 1)


def test_a_lost_answer_is_looked_up_only_once_the_erp_may_have_finished(tmp_path):
    """The ERP goes on with a request after the connector gave up on it, and finishes 0.8 s
    later. Looked up at once, the posting is not there yet and would be sent again: two
    receipts. With in_doubt_seconds the poster waits that long after the send, then finds it."""
    import threading
    import time

    from conciliador.errors import RetryableError

    class SlowErp(TwoStepErp):
        in_doubt_seconds = 1.5
        lookups: list[float] = []

        def post_step(self, posting, step, done):
            if step != "receipt" or self.find_step(posting, step, done) is not None:
                return super().post_step(posting, step, done)
            worker = threading.Thread(target=lambda: (time.sleep(0.8), super(SlowErp, self).post_step(posting, step, done)))
            worker.start()
            type(self).worker = worker
            raise RetryableError("timed out waiting for the ERP (it goes on)")

        def find_step(self, posting, step, done):
            type(self).lookups.append(time.monotonic())
            return super().find_step(posting, step, done)

    ws = _paying_workspace(tmp_path, 1)
    agent = _agent(ws, SlowErp)
    try:
        summary = agent.run_once()
        assert summary.posted == 0 and summary.deferred == 1
        [(state, error, due, sent_at)] = ws.query("SELECT state, last_error, next_attempt_at, sent_at FROM outbox")
        assert state == "in_flight" and "looked up 1.5 s after it was sent" in error, error
        # due when the doubt is over, not after retry_after_seconds
        gap = (dt.datetime.fromisoformat(due) - dt.datetime.fromisoformat(sent_at)).total_seconds()
        assert 1.5 <= gap < 1.6, gap
        SlowErp.worker.join()
        time.sleep(max(0.0, (dt.datetime.fromisoformat(due) - dt.datetime.now(dt.UTC)).total_seconds() + 0.05))
        assert agent.run_once().posted == 1  # due by now: looked up, found, not sent again
    finally:
        agent.close()
    _assert_each_step_once(ws, 1)
