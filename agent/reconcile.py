"""ERP snapshot -> matching -> decisions and outbox postings, in one transaction per company.

The engine never calls the ERP: this module reads the snapshot through the connector, hands the
engine plain data, and writes what it decided. Postings already in the outbox but not yet
confirmed by the ERP are taken off the snapshot's open amounts, so an invoice is never applied
twice while its first application is still on its way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from .config import Settings
from .errors import ConnectorError
from .keys import posting_key
from .learning import aliases
from .matching import Engine, MatchConfig
from .models import Application, Decision, DecisionKind, OpenItem, Posting, PostingKind, StatementLine
from .runtime import Runtime
from .store import utcnow

log = structlog.get_logger(__name__)


@dataclass
class ReconcileStats:
    decided: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    postings: int = 0
    failed_companies: list[str] = field(default_factory=list)


def pending_companies(runtime: Runtime) -> list[str]:
    rows = runtime.db.conn.execute("SELECT DISTINCT company FROM statement_lines WHERE status = 'new'").fetchall()
    return sorted(r[0] for r in rows)


def reconcile(runtime: Runtime) -> ReconcileStats:
    """Decide every new line of every company; a company whose ERP cannot be read waits for the next round."""
    stats = ReconcileStats()
    for company in pending_companies(runtime):
        try:
            reconcile_company(runtime, company, stats)
        except ConnectorError as exc:
            stats.failed_companies.append(company)
            log.warning("snapshot_failed", company=company, error=str(exc), retryable=exc.retryable)
        except Exception:  # a connector bug costs this company a round, not the agent
            stats.failed_companies.append(company)
            log.exception("snapshot_failed", company=company)
    return stats


def reconcile_company(runtime: Runtime, company: str, stats: ReconcileStats) -> None:
    db = runtime.db
    connector = runtime.connectors[company]
    rows = db.conn.execute(
        "SELECT id, data FROM statement_lines WHERE status = 'new' AND company = ? ORDER BY id", (company,)
    ).fetchall()
    if not rows:
        return
    customers = list(connector.customers())
    items = net_of_outbox(runtime, company, list(connector.open_items()))
    lines = [StatementLine.model_validate_json(r["data"]) for r in rows]
    engine = Engine(customers, items, runtime.extractors, match_config(runtime.settings),
                    aliases=aliases(db, company))
    decisions = engine.decide_all(lines)
    exceptions: list[tuple[StatementLine, Decision]] = []

    with db.transaction() as conn:
        snapshot_id = conn.execute(
            "INSERT INTO snapshots(company, taken_at, customers, open_items) VALUES (?, ?, ?, ?)",
            (company, utcnow(), len(customers), len(items)),
        ).lastrowid
        conn.executemany("INSERT INTO snapshot_customers(snapshot_id, customer_id, data) VALUES (?, ?, ?)",
                         [(snapshot_id, c.id, c.model_dump_json()) for c in customers])
        conn.executemany(
            "INSERT INTO snapshot_items(snapshot_id, document, customer_id, open_amount, data) VALUES (?, ?, ?, ?, ?)",
            [(snapshot_id, i.document, i.customer_id, str(i.open_amount), i.model_dump_json()) for i in items])
        for row, line, decision in zip(rows, lines, decisions, strict=True):
            decision_id = conn.execute(
                "INSERT INTO decisions(line_id, snapshot_id, company, kind, score, reason, data, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row["id"], snapshot_id, company, decision.kind.value, str(decision.score), decision.reason,
                 decision.model_dump_json(), utcnow()),
            ).lastrowid
            conn.execute("UPDATE statement_lines SET status = 'decided' WHERE id = ?", (row["id"],))
            db.audit(conn, "decided", line_id=row["id"], kind=decision.kind.value, reason=decision.reason,
                     rule=decision.evidence[0].rule if decision.evidence else "",
                     documents=[a.document for a in decision.applications])
            stats.decided[decision.kind.value] += 1
            if decision.kind is DecisionKind.APPLY:
                if _enqueue(runtime, conn, company, row["id"], decision_id, line, decision):
                    stats.postings += 1
            elif decision.kind in (DecisionKind.SUGGEST, DecisionKind.UNMATCHED):
                exceptions.append((line, decision))
    log.info("reconciled", company=company, lines=len(lines), **dict(stats.decided))
    for line, decision in exceptions:
        runtime.host.notify("conciliador_exception_raised", line=line, decision=decision, company=company)


def _enqueue(runtime: Runtime, conn, company: str, line_id: int, decision_id: int, line: StatementLine,
             decision: Decision) -> bool:
    return enqueue(runtime, conn, posting_for(line, decision, company, posting_key(line.identity)), line_id, decision_id)


def posting_for(line: StatementLine, decision: Decision, company: str, key: str) -> Posting:
    """The ERP posting that applies ``line`` as ``decision`` says."""
    return Posting(
        key=key,
        company=company,
        kind=PostingKind.APPLY if decision.applications else PostingKind.ON_ACCOUNT,
        customer_id=decision.customer_id,
        currency=line.currency,
        amount=line.amount,
        value_date=line.value_date or line.booking_date,
        bank_account=line.account,
        bank_reference=line.bank_reference,
        applications=decision.applications,
        on_account=decision.on_account,
        text=(line.payer_name or line.remittance)[:50],
    )


def enqueue(runtime: Runtime, conn, posting: Posting, line_id: int, decision_id: int) -> bool:
    """Put ``posting`` in the outbox inside the caller's transaction (the one that writes its
    decision); False if its key is already claimed. Shared with finance's resolutions."""
    now = utcnow()
    # The primary key claims the idempotency key: a second claim is refused by the store itself.
    cur = conn.execute(
        "INSERT INTO outbox(key, company, line_id, decision_id, state, payload, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (posting.key, posting.company, line_id, decision_id, posting.model_dump_json(), now, now),
    )
    if cur.rowcount == 0:
        log.error("posting_key_taken", key=posting.key, line_id=line_id)
        return False
    runtime.db.audit(conn, "posting_queued", line_id=line_id, posting_key=posting.key, kind=posting.kind.value,
                     documents=[a.document for a in posting.applications], amount=str(posting.amount),
                     **({"reverses": posting.reverses} if posting.reverses else {}))
    return True


def match_config(settings: Settings) -> MatchConfig:
    """The engine's settings from ``[matching]``; the companies' own accounts mark internal transfers."""
    values = settings.matching.model_dump()
    for key in ("retefuente_rates", "reteiva_rates", "reteica_rates", "reference_layouts"):
        values[key] = tuple(values[key])
    return MatchConfig(**values, own_accounts=frozenset(a for c in settings.companies.values() for a in c.accounts))


def net_of_outbox(runtime: Runtime, company: str, items: list[OpenItem]) -> list[OpenItem]:
    """Subtract applications queued or in flight, which the ERP does not show yet."""
    queued: dict[str, Decimal] = defaultdict(Decimal)
    for (payload,) in runtime.db.conn.execute(
        "SELECT payload FROM outbox WHERE company = ? AND state IN ('pending', 'in_flight')", (company,)
    ):
        data = json.loads(payload)
        if data.get("kind") == PostingKind.REVERSAL.value:
            # A reversal repeats the original's applications but gives them back: counting them
            # would take the items off a second time. Until the ERP confirms it, nothing is freed.
            continue
        for raw in data.get("applications", ()):
            application = Application.model_validate(raw)
            queued[application.document] += application.cleared
    if not queued:
        return items
    return [i.model_copy(update={"open_amount": i.open_amount - queued[i.document]}) if i.document in queued else i
            for i in items]
