"""A plugin that raises during a hook is isolated: the file or posting it handled fails with a
reason, and the agent goes on with everything else."""

from __future__ import annotations

import importlib
import signal
from collections import Counter
from pathlib import Path

import pytest

from conciliador.pluginhost import ENTRY_POINT_GROUP
from conftest import Workspace, cli, make_workspace, wait_for

CRASHY = '''\
from conciliador import BankFormat, StatementLine, hookimpl

CONCILIADOR_PLUGIN_API = "1"


class Crashy(BankFormat):
    name = "crashy"
    description = "a format whose parser has a bug"

    def detect(self, head, filename):
        return 1.0 if head.startswith(b"CRASHY") else 0.0

    def parse(self, stream, filename):
        yield StatementLine(account="0123-456789-01", currency="COP", booking_date="2026-11-20", amount="1000")
        raise ZeroDivisionError("division by zero in Crashy.parse")


class Blind(BankFormat):
    name = "blind"
    description = "a format whose detect has a bug"

    def detect(self, head, filename):
        raise UnicodeDecodeError("utf-8", head, 0, 1, "blind cannot read")

    def parse(self, stream, filename):
        return iter(())


@hookimpl
def conciliador_bank_formats():
    return [Crashy(), Blind()]
'''


def install_crashy(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "crashy_bank.py").write_text(CRASHY, encoding="utf-8")
    info = site / "crashy_bank-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashy-bank\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ncrashy = crashy_bank\n", encoding="utf-8")
    importlib.invalidate_caches()
    return site


def payments(ws: Workspace) -> list[tuple[str, object]]:
    return [(f"PAGO {ref}", total) for _, ref, _, total in ws.invoices]


@pytest.mark.slow
def test_parser_that_raises_costs_its_file_not_the_daemon(tmp_path: Path, daemon_factory) -> None:
    ws = make_workspace(tmp_path / "ws", invoices=2, stable_seconds=0.2)
    daemon = daemon_factory(ws, env={"PYTHONPATH": str(install_crashy(tmp_path))})

    (ws.inbox / "crashy.dat").write_bytes(b"CRASHY statement\n")
    quarantined = ws.root / "quarantine" / "crashy.dat"
    wait_for(lambda: quarantined.exists(), 30, "the crashy file to be quarantined")  # moved after its reason
    assert ws.quarantined() == [quarantined]
    reason = quarantined.with_name("crashy.dat.reason.txt").read_text(encoding="utf-8")
    assert "crashy" in reason and "ZeroDivisionError" in reason and "division by zero in Crashy.parse" in reason
    assert ws.query("SELECT count(*) FROM statement_lines")[0][0] == 0  # the line it yielded was not kept
    assert daemon.proc.poll() is None

    # The blind format's detect raises on every file; the agent still reads this one.
    (ws.inbox / "good.csv").write_bytes(ws.statement("good", payments(ws)))
    wait_for(lambda: len(ws.postings()) == 2, 30, "the good file's payments to be posted")
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0
    assert [p.name for p in ws.archived()] == ["good.csv"]
    assert "detect_failed" in daemon.output() and "parser_failed" in daemon.output()


def run_once_with(ws: Workspace, connector_class) -> object:
    from conciliador.config import load_config
    from conciliador.daemon import Agent

    agent = Agent(load_config(ws.config))
    agent.rt.connectors["acme"] = connector_class(agent.rt.connectors["acme"].settings, company="acme")
    try:
        return agent.run_once()
    finally:
        agent.close()


def test_post_that_raises_leaves_the_posting_waiting_with_the_error(tmp_path: Path) -> None:
    from conciliador.plugins.flatfile import FlatFileErp

    class Buggy(FlatFileErp):
        def post(self, posting):
            raise KeyError("BUKRS")

    ws = make_workspace(tmp_path / "ws", invoices=3)
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", payments(ws)))

    summary = run_once_with(ws, Buggy)

    assert summary.files[0].status == "archived"
    assert (summary.posted, summary.failed, summary.pending) == (0, 0, 3)
    rows = ws.query("SELECT state, last_error FROM outbox")
    assert len(rows) == 3 and all(state == "in_flight" and error == "connector error: KeyError('BUKRS')"
                                  for state, error in rows)
    assert ws.postings() == []

    # The next run, with the connector fixed, posts each payment once.
    import time
    time.sleep(1.1)  # poster.retry_after_seconds in the test workspace
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert sorted(Counter(p["key"] for p in ws.postings()).values()) == [1, 1, 1]


def test_post_that_raises_after_the_erp_committed_is_not_posted_twice(tmp_path: Path) -> None:
    from conciliador.plugins.flatfile import FlatFileErp

    class CrashesAfterCommit(FlatFileErp):
        def post(self, posting):
            super().post(posting)
            raise AttributeError("'NoneType' object has no attribute 'DocumentNo'")

    ws = make_workspace(tmp_path / "ws", invoices=2)
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", payments(ws)))
    summary = run_once_with(ws, CrashesAfterCommit)
    assert (summary.posted, summary.pending) == (0, 2)

    import time
    time.sleep(1.1)
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert len(ws.postings()) == 2  # found by find_posting, not sent again
    recovered = ws.query("SELECT count(*) FROM audit WHERE event = 'posted' "
                         "AND json_extract(detail, '$.recovered_by_find_posting')")[0][0]
    assert recovered == 2


def test_find_posting_that_raises_defers_and_the_agent_goes_on(tmp_path: Path) -> None:
    import time

    from conciliador.plugins.flatfile import FlatFileErp

    class LosesAnswers(FlatFileErp):
        def post(self, posting):
            super().post(posting)
            raise TimeoutError("read timed out")

    class CannotSearch(FlatFileErp):
        def find_posting(self, key):
            raise IndexError("list index out of range")

    ws = make_workspace(tmp_path / "ws", invoices=2)
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", payments(ws)))
    assert run_once_with(ws, LosesAnswers).pending == 2
    time.sleep(1.1)

    summary = run_once_with(ws, CannotSearch)

    # The outcome is unknown and cannot be learnt: nothing is sent again, each stays in flight with
    # the error, so the next round asks find_posting first.
    assert (summary.posted, summary.failed, summary.pending) == (0, 0, 2)
    rows = ws.query("SELECT state, last_error FROM outbox")
    assert rows == [("in_flight", "connector error: IndexError('list index out of range')")] * 2
    assert len(ws.postings()) == 2


def test_matching_rule_that_raises_costs_only_its_own_matches(tmp_path: Path) -> None:
    """A buggy reference extractor finds nothing; the built-in rule still matches every line."""
    from conciliador import ReferenceExtractor, hookimpl
    from conciliador.config import load_config
    from conciliador.daemon import Agent
    from conciliador.pluginhost import PluginHost
    from conciliador.runtime import build_runtime

    class Broken(ReferenceExtractor):
        name = "broken-rule"

        def extract(self, line):
            raise KeyError("collection code")

    class Rules:
        @hookimpl
        def conciliador_matching_rules(self):
            return [Broken()]

    ws = make_workspace(tmp_path / "ws", invoices=3)
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", payments(ws)))
    settings = load_config(ws.config)
    host = PluginHost().load(extra=[("rules", Rules())])
    agent = Agent(settings, build_runtime(settings, host=host))
    try:
        summary = agent.run_once()
    finally:
        agent.close()
    assert summary.undecided == 0 and summary.reconcile.failed_companies == []
    assert ws.query("SELECT count(*) FROM decisions")[0][0] == 3
