"""Prometheus metrics of the running agent, for IT's monitoring (``[metrics] listen``).

Counters grow with the work each round did; gauges (outbox, lines waiting for finance) are read
from the store by the worker thread after each round, because the SQLite connection belongs to
that thread and a scrape must never wait on the store. Each agent has its own registry, so several
agents in one process (tests) never share figures.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from . import __version__

if TYPE_CHECKING:
    from .daemon import RunSummary
    from .store import Database

log = structlog.get_logger(__name__)

OUTBOX_STATES = ("pending", "in_flight", "posted", "failed")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info("conciliador", "The agent's version.", registry=r).info({"version": __version__})
        self.files = Counter("conciliador_files", "Statement files taken from the inbox, by outcome.", ["status"],
                             registry=r)
        self.lines = Counter("conciliador_statement_lines", "New statement lines accepted.", registry=r)
        self.decisions = Counter("conciliador_decisions", "Statement lines decided by the engine, by kind.", ["kind"],
                                 registry=r)
        self.postings = Counter("conciliador_postings", "Postings sent to the ERP, by outcome (posted, failed = "
                                "refused for good, deferred = to retry).", ["outcome"], registry=r)
        self.snapshot_failures = Counter("conciliador_erp_read_failures", "Rounds in which a company's ERP could "
                                         "not be read.", ["company"], registry=r)
        self.outbox = Gauge("conciliador_outbox_postings", "Postings in the outbox, by state.", ["state"], registry=r)
        self.oldest = Gauge("conciliador_outbox_oldest_waiting_seconds", "Age of the oldest posting not yet made "
                            "(pending or in flight), 0 when there is none: a posting whose outcome the ERP cannot "
                            "confirm waits here, never resent, until someone looks.", registry=r)
        self.waiting = Gauge("conciliador_lines_waiting_for_finance", "Lines the agent could not apply "
                             "(suggestion or no match), not yet resolved.", registry=r)
        self.rounds = Histogram("conciliador_round_seconds", "Duration of a round that did work.", registry=r,
                                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
        self.last_round = Gauge("conciliador_last_round_timestamp_seconds", "When the last round ended (Unix time); "
                                "alert when it stops moving.", registry=r)
        self._server = None

    def serve(self, listen: str) -> None:
        """Expose ``/metrics`` on ``host:port`` (a thread of its own; scrapes never touch the store)."""
        host, _, port = listen.rpartition(":")
        self._server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1",
                                                  registry=self.registry)
        # Port 0 lets the system pick a free one (tests): the log names the port actually bound.
        log.info("metrics_listening", address=f"{host or '127.0.0.1'}:{self.port}")

    @property
    def port(self) -> int | None:
        return self._server.server_port if self._server else None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, summary: RunSummary, db: Database, started: float) -> None:
        """Count what one round did and refresh the gauges from the store."""
        # Gauges first: a scrape between the two halves then never sees a round counted whose
        # outbox and waiting lines are not refreshed yet.
        counts = dict(db.conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        for state in OUTBOX_STATES:
            self.outbox.labels(state).set(counts.get(state, 0))
        oldest = db.conn.execute("SELECT min(created_at) FROM outbox WHERE state IN ('pending', 'in_flight')").fetchone()[0]
        self.oldest.set(max(0.0, time.time() - dt.datetime.fromisoformat(oldest).timestamp()) if oldest else 0)
        self.waiting.set(db.conn.execute(
            "SELECT count(*) FROM decisions WHERE superseded_by IS NULL AND kind IN ('suggest', 'unmatched')"
        ).fetchone()[0])
        for outcome in summary.files:
            self.files.labels(outcome.status).inc()
            self.lines.inc(outcome.lines)
        for kind, count in summary.reconcile.decided.items():
            self.decisions.labels(kind).inc(count)
        for company in summary.reconcile.failed_companies:
            self.snapshot_failures.labels(company).inc()
        for outcome in ("posted", "failed", "deferred"):
            if count := getattr(summary, outcome):
                self.postings.labels(outcome).inc(count)
        if summary.files or summary.reconcile.decided or summary.posted or summary.failed or summary.deferred:
            self.rounds.observe(time.monotonic() - started)
        self.last_round.set(time.time())
