"""Reading a workbook finance dropped into ``resolutions/``: untrusted input, checked before it is opened.

An XLSX file is a zip of XML parts. Before openpyxl sees it, the zip's directory is checked: it
must hold a workbook part, no more than :data:`MAX_MEMBERS` parts, no large part that expands more
than :data:`MAX_RATIO` times (a zip bomb), and at most :data:`MAX_EXPANDED` bytes once expanded. The
sizes checked are the ones zipfile enforces while reading (it stops at a part's declared size and
fails on a CRC mismatch), so a forged directory cannot make the reader expand more. openpyxl
parses the XML with defusedxml (a dependency), which refuses entity expansion.

Rows are taken by their header, in either language, so finance may reorder or add columns. Amounts
read back are display copies only: the hidden line id, identity and version decide.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import openpyxl

from .workbook import header_key, sheet_kind

MAX_MEMBERS = 500
#: Bytes a dropped workbook may take once expanded. Far below ``intake.max_file_mb`` (sized for bank
#: statements): openpyxl holds the shared-strings part in memory whole, and 30 MiB of tiny shared
#: strings already cost it ~185 MB and 8 s. The agent's own workbook takes about 1-2 KiB a row
#: expanded, so this fits well over 15,000 rows.
MAX_EXPANDED = 32 << 20
MAX_RATIO = 100  # openpyxl's own sheets compress 5-20 times; bombs, thousands
RATIO_FLOOR = 1 << 20  # parts smaller than this are not worth a ratio check
MAX_ROWS = 200_000
REQUIRED = ("line_id", "identity", "version", "action")


class WorkbookRefused(Exception):
    """The file cannot be read as an exception workbook; ``code`` and ``params`` render the reason."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class RowInput:
    sheet: str  # pending | applied
    title: str  # the sheet's name as written
    row: int  # 1-based, as Excel numbers it
    values: dict[str, object] = field(default_factory=dict)

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if value is None:
            return ""
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            return str(int(value))  # an id (or an invoice number) Excel stored as a number
        return str(value).strip()


def megabytes(size: int) -> str:
    """A size for a sentence, rounded up: a file just over a 32 MB limit reads "33 MB", not "32 MB"."""
    return str(math.ceil(size / 2**20))


def check_zip(path: Path, limit: int | None = None) -> None:
    """Refuse (:class:`WorkbookRefused`) anything that is not a reasonable XLSX zip; ``limit`` is
    the expanded size allowed (:data:`MAX_EXPANDED` by default)."""
    limit = MAX_EXPANDED if limit is None else limit
    name = path.name
    if not zipfile.is_zipfile(path):
        raise WorkbookRefused("file_not_xlsx", file=name)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookRefused("file_unreadable", file=name, error=str(exc)) from None
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise WorkbookRefused("file_not_xlsx", file=name)
    if len(members) > MAX_MEMBERS:
        raise WorkbookRefused("file_too_many_parts", file=name, parts=str(len(members)), limit=str(MAX_MEMBERS))
    for m in members:  # before the total: a bomb is the more useful reason
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise WorkbookRefused("file_suspicious", file=name, member=m.filename,
                                  ratio=f"{m.file_size // max(m.compress_size, 1)}")
    total = sum(m.file_size for m in members)
    if total > limit:
        raise WorkbookRefused("file_too_large", file=name, size=megabytes(total), limit=f"{limit / 2**20:g}")


def read_rows(path: Path, limit: int | None = None) -> list[RowInput]:
    """The rows of the workbook's agent sheets (Pendientes and Aplicados hoy, in either language,
    and copies or renamed sheets that carry the agent's columns), by column key. Every error
    reading the file is a :class:`WorkbookRefused`: openpyxl parses a sheet only when its rows
    are iterated, so a damaged sheet fails here, not when the file is opened."""
    check_zip(path, limit)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False, keep_vba=False)
    except Exception as exc:  # openpyxl raises many kinds on malformed parts
        raise WorkbookRefused("file_unreadable", file=path.name, error=_error(exc)) from None
    try:
        rows: list[RowInput] = []
        found = False
        for ws in wb.worksheets:
            sheet = _sheet_rows(ws, path.name)
            if sheet is not None:
                found = True
                rows += sheet
        if not found:
            raise WorkbookRefused("file_not_exception_workbook", file=path.name, sheets="Pendientes / Aplicados hoy")
        return rows
    except WorkbookRefused:
        raise
    except Exception as exc:  # anything else openpyxl raises while reading: the file is refused, not the agent
        raise WorkbookRefused("file_unreadable", file=path.name, error=_error(exc)) from None
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001 - closing a damaged zip must not hide the reason
            pass


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _header_keys(kind: str, header: tuple) -> dict[int, str]:
    return {i: key for i, text in enumerate(header) if text is not None and (key := header_key(kind, text))}


def _kind_by_header(header: tuple) -> str | None:
    """The kind of a sheet whose name is not the agent's (a copy such as «Pendientes (2)», or a
    renamed sheet) but whose header carries a decision column: pending unless it has the applied
    sheet's «Documento ERP»."""
    pending = set(_header_keys("pending", header).values())
    if "action" not in pending:
        return None
    return "applied" if "erp_document" in _header_keys("applied", header).values() else "pending"


def _sheet_rows(ws, name: str) -> list[RowInput] | None:
    """A sheet's rows with something in a known column, or None for a sheet that is not the
    agent's (Resumen, Instrucciones, finance's own)."""
    kind = sheet_kind(ws.title)
    # read-only openpyxl trusts the sheet's <dimension>; a tool that writes it wrong (or not at
    # all) would lose rows silently, so the rows are read to the end of the sheet's data.
    ws.reset_dimensions()
    reached = 1  # the row being read, for the reason when the sheet's XML fails part-way
    try:
        it = ws.iter_rows(values_only=True)
        header = tuple(next(it, None) or ())
        reached = 2
        if kind not in ("pending", "applied"):
            kind = _kind_by_header(header)
            if kind is None:
                return None
        columns = _header_keys(kind, header)
        missing = [k for k in REQUIRED if k not in columns.values()]
        if missing:
            raise WorkbookRefused("file_missing_columns", file=name, sheet=ws.title, columns=", ".join(missing))
        out = []
        for number, values in enumerate(it, start=2):
            if number > MAX_ROWS:
                raise WorkbookRefused("file_too_many_rows", file=name, sheet=ws.title, limit=str(MAX_ROWS))
            row = RowInput(kind, ws.title, number)
            for i, key in columns.items():
                if i < len(values) and values[i] is not None and values[i] != "":
                    row.values[key] = _plain(values[i])
            if row.values:
                out.append(row)
            reached = number + 1
        return out
    except WorkbookRefused:
        raise
    except Exception as exc:  # a part cut short, text in a number cell, a bad shared-string index ...
        raise WorkbookRefused("file_sheet_unreadable", file=name, sheet=ws.title, row=str(reached),
                              error=_error(exc)) from None


def _plain(value: object) -> object:
    """Cell values without floats: Excel keeps numbers as doubles; they come back as Decimal."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value
    return str(value)
