"""Drains the outbox into the ERP: exactly once, across retries and crashes.

Each posting (each of its steps) is marked ``in_flight`` (committed) before the ERP is called and
``posted`` after it answers. A step found ``in_flight`` (the agent crashed, or the call timed out)
has an unknown outcome, so the connector's ``find_step`` (by default ``find_posting(key)``) is
asked first, no sooner than the connector's ``in_doubt_seconds`` after the send; only if the ERP
has nothing with that key is it sent again. A lookup that cannot answer leaves it waiting.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from .contracts import ErpConnector
from .errors import PermanentError, RetryableError
from .faults import crash_point
from .models import Posting, PostingKind, PostingResult
from .runtime import Runtime
from .store import utcnow

log = structlog.get_logger(__name__)

#: A reversal is one call to :meth:`ErpConnector.reverse`, whatever steps the connector posts in.
REVERSAL_STEPS = ("reverse",)


class _Stopping(Exception):
    """Raised inside a retry loop when the daemon is asked to stop."""


class _InDoubt(Exception):
    """A step's answer was lost less than the connector's ``in_doubt_seconds`` ago: not yet."""

    def __init__(self, wait: float, message: str) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass
class DrainStats:
    posted: int = 0
    failed: int = 0
    deferred: int = 0


class Poster:
    def __init__(self, runtime: Runtime, stop: threading.Event | None = None) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.stop = stop or threading.Event()

    def due(self) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT key FROM outbox WHERE state IN ('pending', 'in_flight') "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY created_at, key", (utcnow(),)
        ).fetchall()
        return [r[0] for r in rows]

    def drain(self, progress=None) -> DrainStats:
        stats = DrainStats()
        due = self.due()
        if progress is not None and due:
            progress.stage("postings", len(due))
        for key in due:
            if self.stop.is_set():
                break
            outcome = self.post_one(key)
            setattr(stats, outcome, getattr(stats, outcome) + 1)
            if progress is not None:
                progress.advance("postings")
        return stats

    def post_one(self, key: str) -> str:
        """Send one posting; returns ``posted``, ``failed`` (finance decides) or ``deferred`` (retry later)."""
        row = self.db.conn.execute("SELECT state, step, company, payload FROM outbox WHERE key = ?", (key,)).fetchone()
        if row is None or row["state"] not in ("pending", "in_flight"):
            return "deferred"
        posting = Posting.model_validate_json(row["payload"])
        connector = self.rt.connectors.get(row["company"])
        if connector is None:
            self._defer(key, f"no connector configured for company {row['company']!r}")
            return "deferred"
        try:
            steps = REVERSAL_STEPS if posting.kind is PostingKind.REVERSAL else tuple(connector.posting_steps(posting))
            if not steps:  # "posted" with no call made would lose the payment
                raise TypeError(f"{type(connector).__name__}.posting_steps() named no step for {key}")
            done = self._done_steps(key)
            for step in steps:
                if step in done:
                    continue
                # Only the step that was under way when the agent stopped has an unknown outcome.
                unknown = row["state"] == "in_flight" and row["step"] == step
                result, recovered = self._run_step(connector, posting, step, done, unknown)
                done[step] = result
                self._step_done(posting, step, result, recovered=recovered, last=step == steps[-1])
            return "posted"
        except _Stopping:
            return "deferred"
        except _InDoubt as exc:
            self._defer(key, str(exc), after=exc.wait)
            return "deferred"
        except RetryableError as exc:
            self._defer(key, str(exc))
            return "deferred"
        except PermanentError as exc:
            self._fail(key, exc)
            return "failed"
        except Exception as exc:  # a connector bug: outcome unknown, keep it in flight and retry later
            log.exception("connector_failed", key=key, company=row["company"])
            self._defer(key, f"connector error: {exc!r}")
            return "deferred"

    def _run_step(self, connector: ErpConnector, posting: Posting, step: str, done: dict[str, PostingResult],
                  unknown: bool) -> tuple[PostingResult, bool]:
        """One step with retries; returns its result and whether it was found rather than sent."""
        cfg = self.rt.settings.poster
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(cfg.max_attempts),
            # Exponential backoff plus random jitter, so many postings do not retry in lockstep.
            wait=wait_exponential(multiplier=cfg.backoff_initial_seconds, max=cfg.backoff_max_seconds)
            + wait_random(0, cfg.backoff_initial_seconds),
            sleep=self._sleep,
            reraise=True,
        )
        reversal = posting.kind is PostingKind.REVERSAL
        for attempt in retrying:
            with attempt:
                if unknown:
                    self._wait_out_doubt(connector, posting.key, step)
                    found = self._look_up(connector, posting, step, done)
                    if found is not None:
                        return found, True
                self._mark_in_flight(posting.key, step)
                unknown = True
                crash_point("poster.before_post")
                result = connector.reverse(posting) if reversal else connector.post_step(posting, step, done)
                crash_point("poster.after_post")
                return result, False
        raise AssertionError("unreachable: tenacity re-raises the last error")

    @staticmethod
    def _look_up(connector: ErpConnector, posting: Posting, step: str,
                 done: dict[str, PostingResult]) -> PostingResult | None:
        """Whether the ERP already made this step. A refusal *to answer* (a missing authorisation
        for the lookup, say) leaves the outcome unknown: reported as failed, finance would redo by
        hand what the ERP may have done. So it defers, and the step is checked again next time."""
        try:
            # A reversal is one step, "reverse": find_step gets the whole posting (what it reverses,
            # the payer), which a connector may need to look without broad read rights.
            return connector.find_step(posting, step, done)
        except PermanentError as exc:
            raise RetryableError(f"could not check whether the ERP already made step {step!r} of {posting.key}, "
                                 f"so it is not sent again until that can be checked: {exc.erp_message or exc}") from exc

    def _wait_out_doubt(self, connector: ErpConnector, key: str, step: str) -> None:
        """Raise :class:`_InDoubt` while the ERP may still be making the step sent last."""
        if connector.in_doubt_seconds <= 0:
            return
        sent = self.db.conn.execute("SELECT sent_at FROM outbox WHERE key = ?", (key,)).fetchone()[0]
        if sent is None:  # sent before the store kept the time (schema 5): nothing to wait for
            return
        elapsed = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(sent)).total_seconds()
        if elapsed < connector.in_doubt_seconds:
            raise _InDoubt(connector.in_doubt_seconds - elapsed,
                           f"the answer to step {step!r} of {key} was lost and the ERP may still be making it; "
                           f"it is looked up {connector.in_doubt_seconds:g} s after it was sent, never sent again "
                           "before")

    def _done_steps(self, key: str) -> dict[str, PostingResult]:
        rows = self.db.conn.execute("SELECT step, document, detail FROM outbox_steps WHERE key = ?", (key,))
        return {r["step"]: PostingResult(key=key, document=r["document"], detail=r["detail"]) for r in rows}

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise _Stopping

    def _mark_in_flight(self, key: str, step: str) -> None:
        with self.db.transaction() as conn:
            now = utcnow()
            conn.execute("UPDATE outbox SET state = 'in_flight', step = ?, attempts = attempts + 1, updated_at = ?, "
                         "sent_at = ? WHERE key = ?", (step, now, now, key))

    def _step_done(self, posting: Posting, step: str, result: PostingResult, *, recovered: bool, last: bool) -> None:
        # The step's record and the posting's state commit together: a crash between them would
        # leave a finished posting that the next round skips without ever marking it posted.
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO outbox_steps(key, step, document, detail, done_at) VALUES (?, ?, ?, ?, ?)",
                         (posting.key, step, result.document, result.detail, utcnow()))
            line_id = conn.execute("SELECT line_id FROM outbox WHERE key = ?", (posting.key,)).fetchone()[0]
            if last:
                conn.execute("UPDATE outbox SET state = 'posted', erp_document = ?, last_error = NULL, updated_at = ? "
                             "WHERE key = ?", (result.document, utcnow(), posting.key))
            else:
                conn.execute("UPDATE outbox SET state = 'pending', updated_at = ? WHERE key = ?", (utcnow(), posting.key))
            self.db.audit(conn, "posted" if last else "posting_step_done", line_id=line_id, posting_key=posting.key,
                          step=step, erp_document=result.document, recovered_by_find_posting=recovered)
        if not last:
            log.info("posting_step_done", key=posting.key, step=step, erp_document=result.document, recovered=recovered)
            return
        log.info("posted", key=posting.key, company=posting.company, erp_document=result.document, recovered=recovered)
        self.rt.host.notify("conciliador_posting_done", posting=posting, result=result)

    def _defer(self, key: str, error: str, *, after: float | None = None) -> None:
        seconds = self.rt.settings.poster.retry_after_seconds if after is None else after
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET next_attempt_at = ?, last_error = ?, updated_at = ? WHERE key = ?",
                         (later.isoformat(timespec="microseconds"), error, utcnow(), key))
        log.warning("posting_deferred", key=key, error=error, retry_at=later.isoformat(timespec="seconds"))

    def _fail(self, key: str, exc: PermanentError) -> None:
        message = exc.erp_message or str(exc)
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET state = 'failed', last_error = ?, updated_at = ? WHERE key = ?",
                         (message, utcnow(), key))
            line_id = conn.execute("SELECT line_id FROM outbox WHERE key = ?", (key,)).fetchone()[0]
            self.db.audit(conn, "posting_failed", line_id=line_id, posting_key=key, error=message)
        log.error("posting_failed", key=key, error=message)
