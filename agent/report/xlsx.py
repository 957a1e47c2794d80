"""The report's figures as a workbook (openpyxl), one sheet per table of the HTML page, for finance
to filter, chart or paste elsewhere. Numbers are numbers, dates are dates, and no text cell can
run as a formula."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..exceptions_file import safe_text
from ..workbook import clean_text
from . import tables
from .kpis import Report
from .tables import Cell
from .texts import WHOLE_UNITS, text

HEADER_FILL = PatternFill("solid", fgColor="E5E7EB")


def render_xlsx(report: Report, language: str) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = text("title", language)
    wb.properties.creator = "conciliador"
    if not report.has_data:
        ws = wb.create_sheet(text("sheet_summary", language))
        ws["A1"] = safe_text(text("no_data", language))
        ws.column_dimensions["A"].width = 120
    else:
        for table in tables.all_tables(report, language):
            _sheet(wb, table, language)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _sheet(wb: Workbook, table: tables.Table, language: str) -> None:
    ws = wb.create_sheet(table.sheet)
    ws.append([safe_text(clean_text(h)) for h in table.headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [max(10, min(len(h) + 2, 28)) for h in table.headers]
    for r, row in enumerate(table.rows, start=2):
        for c, figure in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=_value(figure))
            cell.number_format = _format(figure, language)
            if figure.kind != "text":
                cell.alignment = Alignment(horizontal="right")
            else:
                widths[c - 1] = max(widths[c - 1], min(len(str(figure.value or "")) + 2, 60))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = "A2"
    if table.rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(table.rows) + 1}"


def _value(cell: Cell) -> object:
    if cell.value is None:
        return None
    if cell.kind == "text":
        # A payer name from a bank file can hold control characters XML forbids (ESC, NUL ...).
        return safe_text(clean_text(cell.value))
    if cell.kind == "pct":
        return Decimal(cell.value) / 100  # stored as a fraction, shown with Excel's % format
    return cell.value


def _format(cell: Cell, language: str) -> str:
    if cell.kind == "money":
        return "#,##0" if cell.currency in WHOLE_UNITS else "#,##0.00"
    if cell.kind == "pct":
        return "0.0%"
    if cell.kind == "number":
        return "0.0"
    if cell.kind == "int":
        return "0"
    if cell.kind == "date" and isinstance(cell.value, dt.date):
        return "dd/mm/yyyy" if language == "es" else "yyyy-mm-dd"
    return "General"
