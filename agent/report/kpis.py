"""The KPIs finance reads, computed from the state store alone (the ERP is never called).

What the agent saw and did comes from statement lines, decisions and the outbox; what the
receivables looked like comes from the ERP readings the agent stored before each matching run
(``snapshots``). docs/report.md explains each figure and its approximations.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .figures import (TENTH, TOP_PAYERS, ArGroup, BankRow, DayRate, PayerRow, Period, Report, Unapplied, aging_bucket,
                      lag_bucket, unapplied_age_bucket)


def local_date(stamp: str) -> dt.date:
    """The store keeps UTC instants; finance's days are the machine's local days (as the exceptions
    file's are)."""
    return dt.datetime.fromisoformat(stamp).astimezone().date()


# -- statement lines and what became of them ---------------------------------------------------------
@dataclass
class _Posting:
    decision_id: int
    state: str
    reversal: bool
    at: dt.datetime


@dataclass
class _Line:
    company: str
    account: str
    shown_account: str
    currency: str
    booking: dt.date
    amount: Decimal
    payer: str
    received_at: dt.datetime
    first_decision: int | None
    first_kind: str | None
    current_kind: str | None
    postings: list[_Posting] = field(default_factory=list)

    @property
    def is_payment(self) -> bool:
        """A customer's payment: a credit the engine (or finance) did not set aside as a transfer,
        interest, a reversal or a debit. Lines not decided yet are not counted."""
        return self.amount > 0 and self.current_kind is not None and self.current_kind != "ignore"

    @property
    def auto(self) -> bool:
        """The engine's own first decision applied it, and the ERP did not refuse the posting."""
        return self.is_payment and self.first_kind == "apply" and any(
            p.decision_id == self.first_decision and not p.reversal and p.state != "failed" for p in self.postings)

    @property
    def auto_reversed(self) -> bool:
        """Applied by the engine, then reversed by finance: the engine's mistakes, counted apart."""
        return self.auto and any(p.reversal and p.state != "failed" for p in self.postings)

    def first_posted(self, end: dt.date) -> _Posting | None:
        done = [p for p in self.postings if p.state == "posted" and not p.reversal and p.at.astimezone().date() <= end]
        return min(done, key=lambda p: p.at, default=None)

    def applied_by(self, end: dt.date) -> bool:
        """Applied in the ERP at the end of ``end``: more applications posted than reversals."""
        balance = 0
        for p in self.postings:
            if p.state == "posted" and p.at.astimezone().date() <= end:
                balance += -1 if p.reversal else 1
        return balance > 0


_LINES = """
    WITH first AS (SELECT line_id, min(id) AS id FROM decisions GROUP BY line_id)
    SELECT l.id, coalesce(l.company, '') AS company, l.account, json_extract(l.data, '$.account') AS shown_account,
           l.currency, l.booking_date, l.amount,
           trim(coalesce(json_extract(l.data, '$.payer_name'), '')) AS payer_name,
           trim(coalesce(json_extract(l.data, '$.payer_account'), '')) AS payer_account,
           f.received_at, fd.id AS first_decision, fd.kind AS first_kind, cd.kind AS current_kind
    FROM statement_lines l
    JOIN files f ON f.id = l.file_id
    LEFT JOIN first ON first.line_id = l.id
    LEFT JOIN decisions fd ON fd.id = first.id
    LEFT JOIN decisions cd ON cd.line_id = l.id AND cd.superseded_by IS NULL
    WHERE l.booking_date <= :end AND (:company IS NULL OR l.company = :company)
      -- Before the period only the backlog matters: a line set aside, or applied before the period
      -- ended and never reversed, is not read (most of a long history).
      AND (l.booking_date >= :start
           OR ((cd.kind IS NULL OR cd.kind != 'ignore')
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.line_id = l.id AND o.state = 'posted'
                               AND o.updated_at < :end_utc
                               AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.line_id = l.id
                                               AND json_extract(r.payload, '$.kind') = 'reversal'))))
"""


def _lines(conn: sqlite3.Connection, period: Period, company: str | None) -> list[_Line]:
    lines: dict[int, _Line] = {}
    # The first instant after the period's last local day, as the store writes instants (UTC ISO).
    end_utc = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time()).astimezone(dt.UTC)
    params = {"start": period.start.isoformat(), "end": period.end.isoformat(), "company": company,
              "end_utc": end_utc.isoformat(timespec="microseconds")}
    for r in conn.execute(_LINES, params):
        lines[r["id"]] = _Line(
            company=r["company"], account=r["account"], shown_account=r["shown_account"] or r["account"],
            currency=r["currency"], booking=dt.date.fromisoformat(r["booking_date"]), amount=Decimal(r["amount"]),
            payer=" ".join((r["payer_name"] or r["payer_account"]).split()),
            received_at=dt.datetime.fromisoformat(r["received_at"]), first_decision=r["first_decision"],
            first_kind=r["first_kind"], current_kind=r["current_kind"])
    for r in conn.execute("SELECT line_id, decision_id, state, json_extract(payload, '$.kind') AS kind, updated_at "
                          "FROM outbox ORDER BY updated_at"):
        line = lines.get(r["line_id"])
        if line is not None:
            line.postings.append(_Posting(r["decision_id"], r["state"], r["kind"] == "reversal",
                                          dt.datetime.fromisoformat(r["updated_at"])))
    return list(lines.values())


def _hours(later: dt.datetime, earlier: dt.datetime) -> Decimal:
    delta = later - earlier
    seconds = max(delta.days * 86400 + delta.seconds, 0)
    return (Decimal(seconds) / 3600).quantize(TENTH)


def _line_kpis(report: Report, lines: list[_Line]) -> None:
    period = report.period
    daily = {day: DayRate(day) for day in period.each_day()}
    banks: dict[tuple[str, str, str], BankRow] = {}
    payers: dict[tuple[str, str], PayerRow] = {}
    names: dict[str, str] = {}
    for line in lines:
        in_period = line.booking >= period.start
        bank = banks.setdefault((line.company, line.account, line.currency),
                                BankRow(line.company, line.shown_account, line.currency))
        if in_period:
            report.lines += 1
            bank.lines += 1
            if line.is_payment:
                auto = line.auto
                report.payments += 1
                report.auto += auto
                report.auto_reversed += line.auto_reversed
                bank.payments += 1
                bank.auto += auto
                daily[line.booking].payments += 1
                daily[line.booking].auto += auto
            posted = line.first_posted(period.end)
            if line.amount > 0 and posted is not None:
                lag = max((posted.at.astimezone().date() - line.booking).days, 0)
                by_engine = line.first_kind == "apply" and posted.decision_id == line.first_decision
                report.time_to_apply.lag[lag_bucket(lag)][0 if by_engine else 1] += 1
                report.time_to_apply.hours.append(_hours(posted.at, line.received_at))
                report.time_to_apply.days.append(Decimal(lag))
            if line.amount > 0 and line.applied_by(period.end):
                bank.applied_amount += line.amount
        # The unapplied backlog is every payment still waiting at the period's end, however old.
        if line.amount > 0 and line.current_kind != "ignore" and not line.applied_by(period.end):
            age = (period.end - line.booking).days
            waiting = report.unapplied.setdefault(line.currency, Unapplied(line.currency))
            waiting.amount += line.amount
            waiting.count += 1
            waiting.oldest_days = max(waiting.oldest_days, age)
            waiting.by_age[unapplied_age_bucket(age)] += line.amount
            bank.unapplied_amount += line.amount
            bank.unapplied_count += 1
            key = line.payer.upper()
            names.setdefault(key, line.payer)
            payer = payers.setdefault((key, line.currency), PayerRow(names[key], line.currency))
            payer.amount += line.amount
            payer.count += 1
            payer.oldest_days = max(payer.oldest_days, age)
    report.daily = list(daily.values())
    report.banks = sorted((b for b in banks.values() if b.lines or b.unapplied_count),
                          key=lambda b: (b.company, b.account, b.currency))
    report.payers = sorted(payers.values(), key=lambda p: (-p.amount, p.payer))[:TOP_PAYERS]


# -- receivables from the ERP readings -----------------------------------------------------------------
def _snapshots(conn: sqlite3.Connection, company: str | None) -> dict[str, list[tuple[int, dt.date]]]:
    found: dict[str, list[tuple[int, dt.date]]] = defaultdict(list)
    for r in conn.execute("SELECT id, company, taken_at FROM snapshots WHERE :company IS NULL OR company = :company "
                          "ORDER BY taken_at, id", {"company": company}):
        found[r["company"]].append((r["id"], local_date(r["taken_at"])))
    return found


def _items(conn: sqlite3.Connection, snapshot_id: int):
    return conn.execute(
        "SELECT open_amount, json_extract(data, '$.currency') AS currency, json_extract(data, '$.due_date') AS due "
        "FROM snapshot_items WHERE snapshot_id = ?", (snapshot_id,))


def _ar_kpis(report: Report, conn: sqlite3.Connection) -> None:
    period = report.period
    for company, taken in sorted(_snapshots(conn, report.company).items()):
        upto_end = [s for s in taken if s[1] <= period.end]
        if not upto_end:
            continue
        end_id, as_of = upto_end[-1]
        before = [s for s in upto_end if s[1] < period.start]
        # Without a reading from before the period, the first one in it stands for the opening.
        begin_id, begin_at = before[-1] if before else upto_end[0]
        groups: dict[str, ArGroup] = {}

        def group(currency: str) -> ArGroup:
            return groups.setdefault(currency, ArGroup(company, currency, as_of=as_of, begin_at=begin_at,
                                                       days=period.days))

        for r in _items(conn, end_id):
            g = group(r["currency"])
            if r["due"] is None:
                g.no_due_date += 1
                days_past_due = 0
            else:
                days_past_due = (as_of - dt.date.fromisoformat(r["due"])).days
            g.buckets[aging_bucket(days_past_due)] += Decimal(r["open_amount"])
        for r in _items(conn, begin_id):
            group(r["currency"]).begin_total += Decimal(r["open_amount"])
        in_period = [sid for sid, day in upto_end if day >= period.start]
        for currency, amount in _sales(conn, in_period, period).items():
            group(currency).sales += amount
        report.ar.extend(groups[c] for c in sorted(groups))
    for g in report.ar:
        total = report.ar_totals.setdefault(g.currency, ArGroup("", g.currency, days=period.days))
        total.add(g)


def _sales(conn: sqlite3.Connection, snapshot_ids: list[int], period: Period) -> dict[str, Decimal]:
    """Invoices (and credit notes) dated in the period, as last read: each document counted once
    however many readings saw it open."""
    documents: dict[str, tuple[str, Decimal]] = {}
    for chunk in range(0, len(snapshot_ids), 500):
        ids = snapshot_ids[chunk:chunk + 500]
        rows = conn.execute(
            f"SELECT document, json_extract(data, '$.currency') AS currency, "
            f"json_extract(data, '$.original_amount') AS original FROM snapshot_items "
            f"WHERE snapshot_id IN ({','.join('?' * len(ids))}) "
            f"AND json_extract(data, '$.document_date') BETWEEN ? AND ? ORDER BY snapshot_id",
            (*ids, period.start.isoformat(), period.end.isoformat()))
        for r in rows:
            documents[r["document"]] = (r["currency"], Decimal(r["original"]))
    sales: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in documents.values():
        sales[currency] += amount
    return sales


def build_report(conn: sqlite3.Connection, period: Period, *, company: str | None = None,
                 now: dt.datetime | None = None) -> Report:
    """Every KPI of the report for ``period`` (and one company, or all)."""
    report = Report(period, (now or dt.datetime.now()).astimezone(), company)
    _line_kpis(report, _lines(conn, period, company))
    _ar_kpis(report, conn)
    return report
