"""What finance is shown: the lines the agent could not apply, and what it applied, per day and company.

Read from the store only (decisions, the outbox, the snapshots the decisions were made on), so the
exception workbook and its CSV twin can be rewritten at any time without asking the ERP. A line's
*version* is the id of its current decision: a workbook row carries it, and a resolution made on
an older version is refused as stale.

A line belongs to the day (local time) of its current decision, or of its file's arrival when it
has none (an account no company claims): what finance resolves today moves to today's workbook.

A posting the ERP refused keeps its line pending only while it belongs to the line's current
decision (``outbox.decision_id``; a reversal carries the decision that reversed the line): once
finance records another decision for the line (*ignorar* after booking it by hand, as the refusal
tells them), the refusal is history and the line leaves *Pendientes*.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from .messages import format_amount, render
from .models import Application, Decision, Posting, PostingKind, StatementLine
from .runtime import Runtime

#: Days back the "applied" sheet covers: older days' workbooks keep only their pending lines, so a
#: long-running agent does not rebuild a year of workbooks on every change.
APPLIED_DAYS = 7

NO_COMPANY = "sin-empresa"

STATUS = {
    "es": {"suggest": "sugerencia", "unmatched": "sin coincidencia", "no_company": "cuenta sin empresa",
           "failed": "rechazado por el ERP", "reversed": "reversado", "pending": "en camino al ERP",
           "in_flight": "en camino al ERP", "posted": "aplicado en el ERP", "apply": "aplicada",
           "ignore": "resuelta sin ERP"},
    "en": {"suggest": "suggestion", "unmatched": "no match", "no_company": "account without company",
           "failed": "refused by the ERP", "reversed": "reversed", "pending": "on its way to the ERP",
           "in_flight": "on its way to the ERP", "posted": "applied in the ERP", "apply": "applied",
           "ignore": "resolved without the ERP"},
}


@dataclass(frozen=True)
class Candidate:
    customer: str
    invoices: str
    amount: Decimal
    score: Decimal
    why: str


@dataclass(frozen=True)
class LineFacts:
    """The bank line as finance sees it, with the ids a workbook row hides."""

    line_id: int
    identity: str
    version: int
    company: str
    day: str
    date: dt.date
    bank: str
    account: str
    amount: Decimal
    currency: str
    payer: str
    payer_account: str
    bank_reference: str
    remittance: str


@dataclass(frozen=True)
class PendingItem:
    line: LineFacts
    status: str  # suggest | unmatched | no_company | failed | reversed
    reason: str
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class AppliedItem:
    line: LineFacts
    customer: str
    invoices: str
    applied: Decimal
    withheld: Decimal
    on_account: Decimal
    rule: str
    evidence: str
    score: Decimal
    erp_document: str
    state: str  # pending | in_flight | posted
    posting_key: str


@dataclass
class Group:
    day: str
    company: str
    pending: list[PendingItem] = field(default_factory=list)
    applied: list[AppliedItem] = field(default_factory=list)


# The latest posting of the line's current decision ``d``.
_LATEST_POSTING = ("LEFT JOIN outbox o ON o.rowid = (SELECT rowid FROM outbox WHERE line_id = l.id "
                   "AND decision_id = d.id ORDER BY created_at DESC, rowid DESC LIMIT 1)")


def collect(runtime: Runtime, *, extra_days: tuple[str, ...] = (), now: dt.datetime | None = None
            ) -> dict[tuple[str, str], Group]:
    """Every pending line, and the lines applied in the last :data:`APPLIED_DAYS` days (and on
    ``extra_days`` and the days of pending lines), by (day, company)."""
    language = runtime.settings.language
    conn = runtime.db.conn
    names = _CustomerNames(conn)
    groups: dict[tuple[str, str], Group] = {}

    def group(day: str, company: str) -> Group:
        return groups.setdefault((day, company), Group(day, company))

    # Three indexed sources instead of a scan of every decision ever made.
    pending = conn.execute(f"""
        WITH cand(line_id) AS (
            SELECT id FROM statement_lines WHERE status = 'no_company'
            UNION SELECT line_id FROM decisions WHERE superseded_by IS NULL AND kind IN ('suggest', 'unmatched')
            UNION SELECT o.line_id FROM outbox o JOIN decisions d ON d.id = o.decision_id
                  WHERE o.state = 'failed' AND d.superseded_by IS NULL)
        SELECT l.id, l.identity, l.data AS line, l.status AS line_status, l.company, f.received_at, f.format,
               d.id AS decision_id, d.kind, d.data AS decision, d.created_at, d.snapshot_id,
               o.key AS posting_key, o.state AS posting_state, o.last_error, o.payload AS posting
        FROM cand JOIN statement_lines l ON l.id = cand.line_id
        JOIN files f ON f.id = l.file_id
        LEFT JOIN decisions d ON d.line_id = l.id AND d.superseded_by IS NULL
        {_LATEST_POSTING}
        ORDER BY l.id""")
    for r in pending:
        if not (r["line_status"] == "no_company" or r["kind"] in ("suggest", "unmatched")
                or r["posting_state"] == "failed"):
            continue  # an old failed posting, decided again since
        line = StatementLine.model_validate_json(r["line"])
        decision = Decision.model_validate_json(r["decision"]) if r["decision"] else None
        facts = _facts(r, line, r["created_at"] or r["received_at"])
        if r["posting_state"] == "failed":
            posting = Posting.model_validate_json(r["posting"])
            code = "reversal_failed" if posting.kind is PostingKind.REVERSAL else "posting_failed"
            # A multi-step ERP may have recorded a step before refusing the next: applying the
            # line again would record that cash twice, so finance is told what it left behind.
            done = [d for (d,) in conn.execute("SELECT document FROM outbox_steps WHERE key = ? ORDER BY done_at, step",
                                                (r["posting_key"],))]
            error = r["last_error"] or ""
            if done and code == "posting_failed":
                code, error = "posting_failed_partly", error.rstrip(".")  # the sentence goes on
            status, reason = "failed", render(code, {"error": error, "documents": ", ".join(done)}, language)
        elif r["line_status"] == "no_company":
            status, reason = "no_company", render("no_company", {"account": line.account}, language)
        else:
            status = "reversed" if decision.reason == "reversed_by_finance" else r["kind"]
            reason = _explain(decision, language)
        candidates: tuple[Candidate, ...] = ()
        if decision is not None and status in ("suggest", "failed"):
            options = decision.candidates if decision.candidates else ((decision.applications,) if decision.applications else ())
            candidates = tuple(_candidate(apps, decision, line, names, r["snapshot_id"], language) for apps in options[:3])
        group(facts.day, facts.company).pending.append(PendingItem(facts, status, reason, candidates))

    # Applied lines: the last APPLIED_DAYS days, plus any older day whose workbook is rebuilt
    # because its pending lines changed (so its "applied" sheet stays whole).
    today = (now or dt.datetime.now(dt.UTC)).astimezone().date()
    first = today - dt.timedelta(days=APPLIED_DAYS - 1)
    ranges = [(_utc_start(first), "9999")]
    older = sorted({d for d, _ in groups} | set(extra_days))
    ranges += [(_utc_start(d), _utc_start(d + dt.timedelta(days=1)))
               for d in (dt.date.fromisoformat(day) for day in older) if d < first]
    for start, end in ranges:
        applied = conn.execute(f"""
            SELECT l.id, l.identity, l.data AS line, l.company, f.format, f.received_at,
                   d.id AS decision_id, d.data AS decision, d.created_at, d.snapshot_id,
                   o.state AS posting_state, o.erp_document, o.key AS posting_key
            FROM decisions d JOIN statement_lines l ON l.id = d.line_id
            JOIN files f ON f.id = l.file_id
            {_LATEST_POSTING}
            WHERE d.created_at >= ? AND d.created_at < ? AND d.superseded_by IS NULL AND d.kind = 'apply'
            ORDER BY l.id""", (start, end))
        for r in applied:
            if r["posting_state"] == "failed":
                continue  # shown as pending: finance must act on it
            line = StatementLine.model_validate_json(r["line"])
            decision = Decision.model_validate_json(r["decision"])
            facts = _facts(r, line, r["created_at"])
            apps = decision.applications
            group(facts.day, facts.company).applied.append(AppliedItem(
                line=facts,
                customer=names.label(decision.customer_id, r["snapshot_id"], decision),
                invoices=_invoices(apps, language),
                applied=sum((a.amount for a in apps), Decimal(0)),
                withheld=sum((w.amount for a in apps for w in a.withholdings), Decimal(0)),
                on_account=decision.on_account,
                rule=", ".join(dict.fromkeys(e.rule for e in decision.evidence)),
                evidence=_explain(decision, language),
                score=decision.score,
                erp_document=r["erp_document"] or "",
                state=r["posting_state"] or "pending",
                posting_key=r["posting_key"] or "",
            ))
    return groups


def local_day(stamp: str) -> str:
    return dt.datetime.fromisoformat(stamp).astimezone().date().isoformat()


def _utc_start(day: dt.date) -> str:
    """The store's timestamp (UTC) of local midnight at the start of ``day``."""
    return dt.datetime.combine(day, dt.time.min).astimezone().astimezone(dt.UTC).isoformat(timespec="microseconds")


def _facts(r, line: StatementLine, stamp: str) -> LineFacts:
    return LineFacts(
        line_id=r["id"], identity=r["identity"], version=r["decision_id"] or 0, company=r["company"] or NO_COMPANY,
        day=local_day(stamp), date=line.value_date or line.booking_date, bank=r["format"] or "",
        account=line.account, amount=line.amount, currency=line.currency, payer=line.payer_name,
        payer_account=line.payer_account, bank_reference=line.bank_reference, remittance=line.remittance)


def _explain(decision: Decision, language: str) -> str:
    return " ".join(render(e.code, e.detail, language) for e in decision.evidence) or render(decision.reason, {}, language)


def _invoices(apps: tuple[Application, ...], language: str) -> str:
    return "; ".join(f"{a.reference or a.document} ({a.document}): {format_amount(a.amount, language)}" for a in apps)


def _candidate(apps: tuple[Application, ...], decision: Decision, line: StatementLine, names: _CustomerNames,
               snapshot_id: int | None, language: str) -> Candidate:
    owners = [names.owner(a.document, snapshot_id) for a in apps]
    customer = next((o for o, _ in owners if o), decision.customer_id)
    cash = sum((a.amount for a in apps), Decimal(0))
    withheld = [w for a in apps for w in a.withholdings]
    # What paying these invoices in full would take, against what the bank says was paid.
    short = sum((open_ - a.cleared for a, (_, open_) in zip(apps, owners) if open_ is not None), Decimal(0))
    if withheld:
        why = render("candidate_net", {"withholdings": ", ".join(
            f"{w.kind} {w.rate * 100:g} %: {format_amount(w.amount, language)}" for w in withheld)}, language)
    elif cash == line.amount and short == 0:
        why = render("candidate_exact", {}, language)
    elif short > 0:
        why = render("candidate_partial", {"left": format_amount(short, language)}, language)
    else:
        why = render("candidate_differs", {"difference": format_amount(line.amount - cash, language)}, language)
    return Candidate(customer=names.label(customer, snapshot_id), invoices=_invoices(apps, language),
                     amount=cash, score=decision.score, why=why)


class _CustomerNames:
    """Customer names and invoice owners as of the snapshot a decision was made on."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.cache: dict[tuple, object] = {}

    def owner(self, document: str, snapshot_id: int | None) -> tuple[str, Decimal | None]:
        """The item's customer and its open amount when the decision was made."""
        if snapshot_id is None:
            return "", None
        key = ("item", snapshot_id, document)
        if key not in self.cache:
            row = self.conn.execute("SELECT customer_id, open_amount FROM snapshot_items WHERE snapshot_id = ? "
                                    "AND document = ?", (snapshot_id, document)).fetchone()
            self.cache[key] = (row[0], Decimal(row[1])) if row else ("", None)
        return self.cache[key]

    def label(self, customer_id: str, snapshot_id: int | None, decision: Decision | None = None) -> str:
        if not customer_id:
            return ""
        if decision is not None:  # finance's decisions carry the name they were made with
            for e in decision.evidence:
                if e.detail.get("customer_name"):
                    return f"{customer_id} {e.detail['customer_name']}"
        if snapshot_id is None:
            return customer_id
        key = ("customer", snapshot_id, customer_id)
        if key not in self.cache:
            row = self.conn.execute("SELECT data FROM snapshot_customers WHERE snapshot_id = ? AND customer_id = ?",
                                    (snapshot_id, customer_id)).fetchone()
            self.cache[key] = f"{customer_id} {json.loads(row[0])['name']}" if row else customer_id
        return self.cache[key]

