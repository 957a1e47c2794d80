"""The report's figures as tables, built once and written by both the HTML and the XLSX writer, so
the two files cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .figures import AGING, LAG, UNAPPLIED_AGE, Report
from .texts import text

CellValue = Decimal | int | str | dt.date | None


@dataclass(frozen=True)
class Cell:
    """One figure. ``kind`` says how it is written: text, int, money, pct (0-100), number (one
    decimal: days, hours) or date."""

    value: CellValue
    kind: str = "text"
    currency: str = ""


@dataclass
class Table:
    name: str
    sheet: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def company_name(company: str, language: str) -> str:
    return company or text("no_company", language)


def summary(report: Report, lang: str) -> Table:
    t = Table("summary", text("sheet_summary", lang), [text("col_figure", lang), text("col_value", lang)])
    tta = report.time_to_apply
    rows: list[tuple[str, Cell]] = [
        (text("sum_period_start", lang), Cell(report.period.start, "date")),
        (text("sum_period_end", lang), Cell(report.period.end, "date")),
        (text("sum_company", lang), Cell(report.company or text("all_companies", lang))),
        (text("sum_lines", lang), Cell(report.lines, "int")),
        (text("sum_payments", lang), Cell(report.payments, "int")),
        (text("sum_auto", lang), Cell(report.auto, "int")),
        (text("sum_auto_rate", lang), Cell(report.auto_rate, "pct")),
        (text("sum_auto_reversed", lang), Cell(report.auto_reversed, "int")),
        (text("sum_median_hours", lang), Cell(tta.median_hours, "number")),
        (text("sum_p90_hours", lang), Cell(tta.p90_hours, "number")),
        (text("sum_median_days", lang), Cell(tta.median_days, "number")),
        (text("sum_p90_days", lang), Cell(tta.p90_days, "number")),
        (text("sum_unapplied_count", lang), Cell(report.unapplied_count, "int")),
    ]
    for currency, waiting in sorted(report.unapplied.items()):
        rows.append((text("sum_unapplied", lang, currency=currency), Cell(waiting.amount, "money", currency)))
    for currency, ar in sorted(report.ar_totals.items()):
        rows += [
            (text("sum_ar_total", lang, currency=currency), Cell(ar.total, "money", currency)),
            (text("sum_overdue_pct", lang, currency=currency), Cell(ar.overdue_pct, "pct")),
            (text("sum_dso", lang, currency=currency), Cell(ar.dso, "number")),
            (text("sum_cei", lang, currency=currency), Cell(ar.cei, "pct")),
        ]
    t.rows = [[Cell(label), value] for label, value in rows]
    return t


def daily(report: Report, lang: str) -> Table:
    t = Table("daily", text("sheet_daily", lang),
              [text(k, lang) for k in ("col_day", "col_payments", "col_auto", "col_rate")])
    t.rows = [[Cell(d.day, "date"), Cell(d.payments, "int"), Cell(d.auto, "int"), Cell(d.rate, "pct")]
              for d in report.daily]
    return t


def time_to_apply(report: Report, lang: str) -> Table:
    t = Table("time", text("sheet_time", lang),
              [text(k, lang) for k in ("col_bucket", "col_auto", "col_manual")])
    t.rows = [[Cell(text(f"lag_{b}", lang)), Cell(report.time_to_apply.lag[b][0], "int"),
               Cell(report.time_to_apply.lag[b][1], "int")] for b in LAG]
    return t


def unapplied(report: Report, lang: str) -> Table:
    t = Table("unapplied", text("sheet_unapplied", lang),
              [text("col_bucket", lang), text("col_currency", lang), text("col_amount", lang)])
    for currency, waiting in sorted(report.unapplied.items()):
        t.rows += [[Cell(text(f"age_{b}", lang)), Cell(currency), Cell(waiting.by_age[b], "money", currency)]
                   for b in UNAPPLIED_AGE]
    return t


def payers(report: Report, lang: str) -> Table:
    t = Table("payers", text("sheet_payers", lang),
              [text(k, lang) for k in ("col_payer", "col_currency", "col_amount", "col_count", "col_oldest")])
    t.rows = [[Cell(p.payer or text("no_payer", lang)), Cell(p.currency), Cell(p.amount, "money", p.currency),
               Cell(p.count, "int"), Cell(p.oldest_days, "int")] for p in report.payers]
    return t


def aging(report: Report, lang: str) -> Table:
    t = Table("aging", text("sheet_aging", lang),
              [text("company", lang), text("col_currency", lang)] + [text(f"aging_{b}", lang) for b in AGING]
              + [text(k, lang) for k in ("col_total", "col_overdue", "col_overdue_pct")])
    groups = _with_totals(report)
    for g in groups:
        name = company_name(g.company, lang) if g.company else text("col_total", lang)
        t.rows.append([Cell(name), Cell(g.currency)] + [Cell(g.buckets[b], "money", g.currency) for b in AGING]
                      + [Cell(g.total, "money", g.currency), Cell(g.overdue, "money", g.currency),
                         Cell(g.overdue_pct, "pct")])
    return t


def receivables(report: Report, lang: str) -> Table:
    t = Table("ar", "DSO-CEI", [text(k, lang) for k in (
        "company", "col_currency", "col_begin_at", "col_begin", "col_sales", "col_as_of", "col_total",
        "col_end_current", "col_dso", "col_cei", "col_overdue_pct")])
    groups = _with_totals(report)
    for g in groups:
        name = company_name(g.company, lang) if g.company else text("col_total", lang)
        t.rows.append([Cell(name), Cell(g.currency), Cell(g.begin_at, "date"),
                       Cell(g.begin_total, "money", g.currency), Cell(g.sales, "money", g.currency),
                       Cell(g.as_of, "date"), Cell(g.total, "money", g.currency),
                       Cell(g.current, "money", g.currency), Cell(g.dso, "number"), Cell(g.cei, "pct"),
                       Cell(g.overdue_pct, "pct")])
    return t


def banks(report: Report, lang: str) -> Table:
    t = Table("banks", text("sheet_banks", lang), [text(k, lang) for k in (
        "company", "col_account", "col_currency", "col_lines", "col_payments", "col_auto", "col_rate",
        "col_applied_amount", "col_unapplied_amount", "col_unapplied_count")])
    t.rows = [[Cell(company_name(b.company, lang)), Cell(b.account), Cell(b.currency), Cell(b.lines, "int"),
               Cell(b.payments, "int"), Cell(b.auto, "int"), Cell(b.rate, "pct"),
               Cell(b.applied_amount, "money", b.currency), Cell(b.unapplied_amount, "money", b.currency),
               Cell(b.unapplied_count, "int")] for b in report.banks]
    return t


def _with_totals(report: Report) -> list:
    """Each company's receivables, plus a total per currency that more than one company holds."""
    totals = [total for currency, total in sorted(report.ar_totals.items())
              if sum(g.currency == currency for g in report.ar) > 1]
    return list(report.ar) + totals


def all_tables(report: Report, lang: str) -> list[Table]:
    return [summary(report, lang), daily(report, lang), time_to_apply(report, lang), unapplied(report, lang),
            payers(report, lang), aging(report, lang), receivables(report, lang), banks(report, lang)]
