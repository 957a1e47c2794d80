"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no
external font, image or stylesheet, so it opens from a mail attachment or a shared folder offline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import escape

from . import svg, tables
from .figures import AGING, LAG, UNAPPLIED_AGE, Report
from .tables import Cell, Table
from .texts import WHOLE_UNITS, compact, date, money, number, percent, stamp, text

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:24px}
.meta{color:#4b5563;margin:0}
.empty{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:24px;font-size:16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;margin:20px 0}
.tile{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px}
.tile .label{color:#4b5563;font-size:13px}
.tile .figure{font-size:22px;font-weight:600;margin:2px 0;white-space:nowrap}
.tile .hint{color:#6b7280;font-size:12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin:16px 0}
section h2{font-size:17px;margin:0 0 6px}
section h3{font-size:14px;margin:14px 0 4px;color:#374151}
.note{color:#4b5563;font-size:12.5px;margin:4px 0 10px}
svg.chart{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;margin-top:10px;font-size:12px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f9fafb;font-weight:600}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{max-height:360px;overflow:auto}
.wide{overflow-x:auto}
"""

NUMERIC = frozenset({"int", "money", "pct", "number"})


def render_html(report: Report, language: str) -> str:
    lang = language
    company = report.company or text("all_companies", lang)
    head = (f'<!doctype html><html lang="{"es-CO" if lang == "es" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(text('title', lang))} · {escape(company)}</title><style>{CSS}</style></head><body><main>")
    meta = " · ".join((
        text("period", lang, start=date(report.period.start, lang), end=date(report.period.end, lang),
             days=report.period.days),
        company, text("generated", lang, at=stamp(report.generated_at, lang))))
    out = [head, f'<header><h1>{escape(text("title", lang))}</h1><p class="meta">{escape(meta)}</p></header>']
    if not report.has_data:
        out.append(f'<p class="empty" id="no-data">{escape(text("no_data", lang))}</p>')
    else:
        figures = {t.name: t for t in tables.all_tables(report, lang)}
        out.append(_tiles(report, lang))
        out.append(_daily(report, lang, figures["daily"]))
        out.append(_time(report, lang, figures["time"]))
        out.append(_unapplied(report, lang, figures["unapplied"], figures["payers"]))
        out.append(_aging(report, lang, figures["aging"], figures["ar"]))
        out.append(_banks(report, lang, figures["banks"]))
        out.append(f'<section id="summary"><h2>{escape(figures["summary"].sheet)}</h2>'
                   f'{_table(figures["summary"], lang)}</section>')
    out.append("</main></body></html>")
    return "".join(out)


# -- pieces ----------------------------------------------------------------------------------------------
def _na(lang: str) -> str:
    return text("not_available", lang)


def _tile(key: str, label: str, figure: str, hint: str, value: object, currency: str = "") -> str:
    shown = "" if value is None else str(value)
    cur = f' data-currency="{currency}"' if currency else ""
    return (f'<div class="tile" data-kpi="{key}"{cur} data-value="{escape(shown)}"><div class="label">{escape(label)}'
            f'</div><div class="figure">{escape(figure)}</div><div class="hint">{escape(hint)}</div></div>')


def _tiles(report: Report, lang: str) -> str:
    tta = report.time_to_apply
    out = ['<div class="tiles">']
    rate = report.auto_rate
    out.append(_tile("auto_rate", text("kpi_auto_rate", lang), percent(rate, lang) if rate is not None else _na(lang),
                     text("kpi_auto_rate_hint", lang, auto=report.auto, payments=report.payments,
                          reversed=report.auto_reversed), rate))
    hours = tta.median_hours
    out.append(_tile("median_hours", text("kpi_time", lang),
                     text("hours", lang, value=number(hours, 1, lang)) if hours is not None else _na(lang),
                     text("kpi_time_hint", lang, p90=_hours(tta.p90_hours, lang)), hours))
    for currency, waiting in sorted(report.unapplied.items()):
        out.append(_tile("unapplied", f'{text("kpi_unapplied", lang)} {currency}', money(waiting.amount, currency, lang),
                         text("kpi_unapplied_hint", lang, count=waiting.count, oldest=waiting.oldest_days),
                         waiting.amount, currency))
    if not report.unapplied:
        out.append(_tile("unapplied", text("kpi_unapplied", lang), "0", text("nothing_unapplied", lang), 0))
    for currency, ar in sorted(report.ar_totals.items()):
        suffix = f" {currency}" if len(report.ar_totals) > 1 else ""
        out.append(_tile("dso", text("kpi_dso", lang) + suffix,
                         text("days_value", lang, value=number(ar.dso, 1, lang)) if ar.dso is not None else _na(lang),
                         text("kpi_dso_hint", lang, days=report.period.days), ar.dso, currency))
        out.append(_tile("cei", text("kpi_cei", lang) + suffix,
                         percent(ar.cei, lang) if ar.cei is not None else _na(lang),
                         text("kpi_cei_hint", lang), ar.cei, currency))
        out.append(_tile("overdue_pct", text("kpi_overdue", lang) + suffix,
                         percent(ar.overdue_pct, lang) if ar.overdue_pct is not None else _na(lang),
                         text("kpi_overdue_hint", lang, overdue=money(ar.overdue, currency, lang),
                              total=money(ar.total, currency, lang)), ar.overdue_pct, currency))
    out.append("</div>")
    return "".join(out)


def _hours(value: Decimal | None, lang: str) -> str:
    return text("hours", lang, value=number(value, 1, lang)) if value is not None else _na(lang)


def _section(key: str, title: str, note: str, body: str) -> str:
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<section id="{key}"><h2>{escape(title)}</h2>{note_html}{body}</section>'


def _empty(lang: str) -> str:
    return f'<p class="note">{escape(text("chart_empty", lang))}</p>'


def _daily(report: Report, lang: str, table: Table) -> str:
    if not report.payments:
        chart = _empty(lang)
    else:
        labels = [d.day.strftime("%d/%m") if lang == "es" else d.day.strftime("%m-%d") for d in report.daily]
        chart = svg.bars("chart-daily", text("sec_daily", lang), labels,
                         [svg.Series(text("series_rate", lang), [d.rate for d in report.daily])],
                         axis=lambda v: percent(v, lang), value=lambda v: percent(v, lang), top=Decimal(100))
    body = chart + f'<div class="scroll">{_table(table, lang)}</div>'
    return _section("daily", text("sec_daily", lang), text("sec_daily_note", lang), body)


def _time(report: Report, lang: str, table: Table) -> str:
    tta = report.time_to_apply
    note = text("sec_time_note", lang, median=_hours(tta.median_hours, lang), p90=_hours(tta.p90_hours, lang),
                median_days=_days(tta.median_days, lang), p90_days=_days(tta.p90_days, lang))
    if not tta.count:
        chart = _empty(lang)
    else:
        series = [svg.Series(text("series_auto", lang), [Decimal(tta.lag[b][0]) for b in LAG], svg.PALETTE[0]),
                  svg.Series(text("series_manual", lang), [Decimal(tta.lag[b][1]) for b in LAG], svg.PALETTE[1])]
        chart = svg.bars("chart-time", text("sec_time", lang), [text(f"lag_{b}", lang) for b in LAG], series,
                         axis=lambda v: number(v, 0 if v == v.to_integral_value() else 1, lang),
                         value=lambda v: number(v, 0, lang))
    return _section("time", text("sec_time", lang), note, chart + _table(table, lang))


def _days(value: Decimal | None, lang: str) -> str:
    return text("days_value", lang, value=number(value, 1, lang)) if value is not None else _na(lang)


def _unapplied(report: Report, lang: str, table: Table, payers: Table) -> str:
    as_of = date(report.period.end, lang)
    if not report.unapplied:
        return _section("unapplied", text("sec_unapplied", lang, date=as_of), "",
                        f'<p class="note">{escape(text("nothing_unapplied", lang))}</p>')
    body = []
    for currency, waiting in sorted(report.unapplied.items()):
        body.append(f"<h3>{escape(currency)}</h3>")
        body.append(svg.bars(f"chart-unapplied-{currency}", text("sec_unapplied", lang, date=as_of),
                             [text(f"age_{b}", lang) for b in UNAPPLIED_AGE],
                             [svg.Series(currency, [waiting.by_age[b] for b in UNAPPLIED_AGE], svg.PALETTE[1])],
                             axis=lambda v: compact(v, lang), value=lambda v, c=currency: money(v, c, lang),
                             height=260))
    body.append(_table(table, lang))
    body.append(f'<h3>{escape(text("sec_payers", lang))}</h3>')
    for currency in sorted({p.currency for p in report.payers}):
        rows = [p for p in report.payers if p.currency == currency]
        body.append(svg.hbars(f"chart-payers-{currency}", f'{text("sec_payers", lang)} {currency}',
                              [p.payer or text("no_payer", lang) for p in rows], [p.amount for p in rows],
                              value=lambda v, c=currency: money(v, c, lang), colour=svg.PALETTE[4]))
    body.append(_table(payers, lang))
    return _section("unapplied", text("sec_unapplied", lang, date=as_of), "", "".join(body))


def _aging(report: Report, lang: str, table: Table, ar_table: Table) -> str:
    if not report.ar:
        return _section("aging", text("sec_aging", lang), text("sec_aging_note", lang), _empty(lang))
    body = []
    labels = [text(f"aging_{b}", lang) for b in AGING]
    for currency in sorted(report.ar_totals):
        groups = [g for g in report.ar if g.currency == currency]
        series = [svg.Series(tables.company_name(g.company, lang), [g.buckets[b] for b in AGING],
                             svg.PALETTE[i % len(svg.PALETTE)]) for i, g in enumerate(groups)]
        body.append(f"<h3>{escape(currency)}</h3>")
        body.append(svg.bars(f"chart-aging-{currency}", f'{text("sec_aging", lang)} {currency}', labels, series,
                             axis=lambda v: compact(v, lang), value=lambda v, c=currency: money(v, c, lang),
                             category_colours=svg.AGING_COLOURS))
    undated = sum(g.no_due_date for g in report.ar)
    if undated:
        body.append(f'<p class="note">{escape(text("no_due_date_note", lang, count=undated))}</p>')
    body.append(_table(table, lang))
    body.append(f'<h3>{escape(text("sec_ar", lang))}</h3><p class="note">{escape(text("sec_ar_note", lang))}</p>')
    body.append(_table(ar_table, lang))
    return _section("aging", text("sec_aging", lang), text("sec_aging_note", lang), "".join(body))


def _banks(report: Report, lang: str, table: Table) -> str:
    rated = [b for b in report.banks if b.payments]
    chart = svg.hbars("chart-banks", text("sec_banks", lang),
                      [f"{tables.company_name(b.company, lang)} · {b.account} ({b.currency})" for b in rated],
                      [b.rate or Decimal(0) for b in rated], value=lambda v: percent(v, lang),
                      top=Decimal(100), colour=svg.PALETTE[2]) if rated else _empty(lang)
    return _section("banks", text("sec_banks", lang), "", chart + _table(table, lang))


def _table(table: Table, lang: str) -> str:
    numeric = [c.kind in NUMERIC for c in table.rows[0]] if table.rows else [False] * len(table.headers)
    head = "".join(f'<th{" class=num" if n else ""}>{escape(h)}</th>' for h, n in zip(table.headers, numeric, strict=True))
    rows = []
    for row in table.rows:
        rows.append("<tr>" + "".join(_cell(c, lang) for c in row) + "</tr>")
    return (f'<div class="wide"><table class="figures" data-table="{table.name}" data-sheet="{escape(table.sheet)}">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _cell(cell: Cell, lang: str) -> str:
    value = cell.value
    if value is None:
        shown, raw = _na(lang), ""
    elif cell.kind == "int":
        shown, raw = number(Decimal(value), 0, lang), str(value)
    elif cell.kind == "money":  # the table's currency column (or the row's label) names the currency
        shown, raw = number(value, 0 if cell.currency in WHOLE_UNITS else 2, lang), str(value)
    elif cell.kind == "pct":
        shown, raw = percent(value, lang), str(value)
    elif cell.kind == "number":
        shown, raw = number(value, 1, lang), str(value)
    elif cell.kind == "date":
        shown, raw = date(value, lang), value.isoformat() if isinstance(value, dt.date) else str(value)
    else:
        shown, raw = str(value), str(value)
    css = ' class="num"' if cell.kind in NUMERIC else ""
    return f'<td{css} data-value="{escape(raw)}">{escape(shown)}</td>'
