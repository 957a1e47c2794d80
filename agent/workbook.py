"""The exception workbook finance works in: one XLSX per processing day and company, plus its CSV twin.

``exceptions/excepciones-2026-11-22-acme.xlsx`` (``exceptions-…`` in English) has four sheets:

- *Pendientes*: one row per line the agent did not apply, with the reason, the engine's top three
  candidates and the decision columns finance fills (action from a drop-down, invoices, customer,
  note). Hidden columns carry the line's id, identity and version (its current decision), which
  is how a dropped workbook is matched back and how stale rows are recognised
  (:mod:`conciliador.resolutions`).
- *Aplicados hoy*: what was applied that day, with rule, evidence and ERP document; the action
  ``reversar`` undoes an application through the ERP.
- *Resumen*: counts and amounts by status and by bank.
- *Instrucciones*: how to fill it and where to drop it.

A workbook is rewritten (temporary file and rename) only when what it shows changed: XLSX bytes
hold timestamps, so a fingerprint of the cell values is compared, kept in the store with the
file's size and time (a file someone replaced is written again). No cell the agent writes is a
formula: text cells are typed as text (openpyxl would store a string starting with ``=`` as a
formula) and those starting with a formula trigger carry Excel's quote prefix.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import structlog
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from . import exceptions_file, fsutil
from .exception_items import STATUS, AppliedItem, Group, PendingItem, collect
from .runtime import Runtime
from .store import utcnow

log = structlog.get_logger(__name__)

LAYOUT_VERSION = "2"  # 2: Facturas and Cliente cells formatted as text
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")
MAX_CELL_TEXT = 32_767  # Excel's limit per cell

FILE_PREFIX = {"es": "excepciones", "en": "exceptions"}
RESULT_SUFFIX = {"es": "-resultado", "en": "-result"}

SHEETS = {
    "pending": {"es": "Pendientes", "en": "Pending"},
    "applied": {"es": "Aplicados hoy", "en": "Applied today"},
    "summary": {"es": "Resumen", "en": "Summary"},
    "help": {"es": "Instrucciones", "en": "Instructions"},
}

# Action ids -> the label finance picks. Labels hold no comma (they form the drop-down's list).
ACTIONS = {
    "candidate_1": {"es": "aplicar candidato 1", "en": "apply candidate 1"},
    "candidate_2": {"es": "aplicar candidato 2", "en": "apply candidate 2"},
    "candidate_3": {"es": "aplicar candidato 3", "en": "apply candidate 3"},
    "invoices": {"es": "aplicar a facturas", "en": "apply to invoices"},
    "on_account": {"es": "anticipo", "en": "on account"},
    "not_payment": {"es": "no es pago de cliente", "en": "not a customer payment"},
    "return": {"es": "devolver", "en": "return"},
    "ignore": {"es": "ignorar", "en": "ignore"},
    "reverse": {"es": "reversar", "en": "reverse"},
}
SHEET_ACTIONS = {
    "pending": ("candidate_1", "candidate_2", "candidate_3", "invoices", "on_account", "not_payment", "return", "ignore"),
    "applied": ("reverse",),
}

RESULT_STATUS = {
    "es": {"applied": "aplicado", "refused": "rechazado", "unchanged": "sin cambios"},
    "en": {"applied": "applied", "refused": "refused", "unchanged": "no change"},
}


@dataclass(frozen=True)
class Column:
    key: str
    es: str
    en: str
    width: float
    kind: str = "text"  # text | amount | date | score | int
    hidden: bool = False
    decision: bool = False
    typed_as_text: bool = False  # a decision cell formatted "@": what finance types stays text


    def header(self, language: str) -> str:
        return self.es if language == "es" else self.en


_LINE_IDS = [
    Column("line_id", "id_linea", "line_id", 10, "int", hidden=True),
    Column("identity", "identidad", "identity", 20, hidden=True),
    Column("version", "version", "version", 10, "int", hidden=True),
]
_CANDIDATES = [
    column
    for n in (1, 2, 3)
    for column in (
        Column(f"c{n}_customer", f"Candidato {n}: cliente", f"Candidate {n}: customer", 26),
        Column(f"c{n}_invoices", f"Candidato {n}: facturas", f"Candidate {n}: invoices", 30),
        Column(f"c{n}_amount", f"Candidato {n}: valor", f"Candidate {n}: amount", 15, "amount"),
        Column(f"c{n}_score", f"Candidato {n}: puntaje", f"Candidate {n}: score", 11, "score"),
        Column(f"c{n}_why", f"Candidato {n}: por qué", f"Candidate {n}: why", 34),
    )
]
DECISION_COLUMNS = [
    Column("action", "Acción", "Action", 24, decision=True),
    # Text cells, so that Excel does not turn "5,7" (invoices 5 and 7) into the number 5.7, "5/7"
    # into a date, or a long document number into a rounded one.
    Column("invoices", "Facturas", "Invoices", 22, decision=True, typed_as_text=True),
    Column("customer", "Cliente", "Customer", 18, decision=True, typed_as_text=True),
    Column("note", "Nota", "Note", 30, decision=True),
]
# The bank line as both sheets show it first.
_LINE = [
    Column("date", "Fecha", "Date", 11, "date"),
    Column("bank", "Banco (formato)", "Bank (format)", 14),
    Column("account", "Cuenta", "Account", 17),
    Column("amount", "Valor", "Amount", 16, "amount"),
    Column("currency", "Moneda", "Currency", 8),
    Column("payer", "Pagador", "Payer", 28),
]
PENDING_COLUMNS = [
    *_LINE,
    Column("payer_account", "Cuenta del pagador", "Payer account", 17),
    Column("bank_reference", "Referencia del banco", "Bank reference", 17),
    Column("remittance", "Texto del pago", "Payment text", 34),
    Column("status", "Estado", "Status", 16),
    Column("reason", "Motivo", "Reason", 50),
    *_CANDIDATES,
    *DECISION_COLUMNS,
    *_LINE_IDS,
]
APPLIED_COLUMNS = [
    *_LINE,
    Column("remittance", "Texto del pago", "Payment text", 30),
    Column("applied_customer", "Cliente aplicado", "Customer applied", 26),
    Column("applied_invoices", "Facturas aplicadas", "Invoices applied", 32),
    Column("applied", "Valor aplicado", "Amount applied", 16, "amount"),
    Column("withheld", "Retenciones", "Withheld", 14, "amount"),
    Column("on_account", "Anticipo", "On account", 14, "amount"),
    Column("rule", "Regla", "Rule", 22),
    Column("evidence", "Evidencia", "Evidence", 50),
    Column("score", "Puntaje", "Score", 9, "score"),
    Column("erp_document", "Documento ERP", "ERP document", 15),
    Column("state", "Estado", "Status", 18),
    Column("action", "Acción", "Action", 14, decision=True),
    Column("note", "Nota", "Note", 30, decision=True),
    Column("posting_key", "llave", "key", 18, hidden=True),
    *_LINE_IDS,
]
SHEET_COLUMNS = {"pending": PENDING_COLUMNS, "applied": APPLIED_COLUMNS}
RESULT_COLUMNS = [
    Column("result", "Resultado", "Result", 14),
    Column("result_detail", "Detalle del resultado", "Result detail", 60),
]

NUMBER_FORMATS = {
    # Excel writes thousands and decimal separators by the reader's locale: es-CO shows 1.234.567,89.
    "amount": "#,##0.00",
    "score": "0%",
    "int": "0",
    "date": {"es": "DD/MM/YYYY", "en": "YYYY-MM-DD"},
}
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_DECISION_FILL = PatternFill("solid", fgColor="FFF4C2")
_BOLD = Font(bold=True)
_RIGHT = Alignment(horizontal="right")


# -- cells ----------------------------------------------------------------------------------
def clean_text(value: object) -> str:
    """Text a cell can hold: control characters XML forbids removed, cut at Excel's limit."""
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))[:MAX_CELL_TEXT]


def put(ws, row: int, col: int, value, kind: str = "text", language: str = "es"):
    """Write one cell so that it is never a formula, an error or a number stored as text."""
    if value is None or value == "":
        return None
    cell = ws.cell(row=row, column=col)
    if kind == "text" or isinstance(value, str):
        text = clean_text(value)
        cell.value = text
        cell.data_type = "s"  # openpyxl turns "=..." into a formula and "#N/A" into an error
        if text.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
        return cell
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    cell.value = value
    fmt = NUMBER_FORMATS.get(kind)
    if isinstance(fmt, dict):
        fmt = fmt.get(language, fmt["es"])
    if fmt:
        cell.number_format = fmt
    if kind in ("amount", "score", "int"):
        cell.alignment = _RIGHT
    return cell


def action_label(action: str, language: str) -> str:
    return ACTIONS[action][language]


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold().split())


_ACTION_BY_TEXT = {_fold(labels[lang]): action for action, labels in ACTIONS.items() for lang in ("es", "en")}


def action_from_text(text: str) -> str | None:
    """The action id for a label in either language (case, accents and spaces ignored)."""
    return _ACTION_BY_TEXT.get(_fold(text))


def header_key(sheet: str, text: str) -> str | None:
    """The column key for a header written in either language."""
    folded = _fold(str(text))
    for column in SHEET_COLUMNS[sheet] + RESULT_COLUMNS:
        if folded in (_fold(column.es), _fold(column.en)):
            return column.key
    return None


def sheet_kind(title: str) -> str | None:
    folded = _fold(title)
    return next((kind for kind, names in SHEETS.items() if folded in (_fold(names["es"]), _fold(names["en"]))), None)


# -- rows -----------------------------------------------------------------------------------
def pending_row(item: PendingItem, language: str) -> dict[str, object]:
    line = item.line
    row: dict[str, object] = {
        "date": line.date, "bank": line.bank, "account": line.account, "amount": line.amount,
        "currency": line.currency, "payer": line.payer, "payer_account": line.payer_account,
        "bank_reference": line.bank_reference, "remittance": line.remittance,
        "status": STATUS[language][item.status], "reason": item.reason,
        "line_id": line.line_id, "identity": line.identity, "version": line.version,
    }
    for n, c in enumerate(item.candidates, start=1):
        row.update({f"c{n}_customer": c.customer, f"c{n}_invoices": c.invoices, f"c{n}_amount": c.amount,
                    f"c{n}_score": c.score, f"c{n}_why": c.why})
    return row


def applied_row(item: AppliedItem, language: str) -> dict[str, object]:
    line = item.line
    return {
        "date": line.date, "bank": line.bank, "account": line.account, "amount": line.amount,
        "currency": line.currency, "payer": line.payer, "remittance": line.remittance,
        "applied_customer": item.customer, "applied_invoices": item.invoices, "applied": item.applied,
        "withheld": item.withheld, "on_account": item.on_account, "rule": item.rule, "evidence": item.evidence,
        "score": item.score, "erp_document": item.erp_document, "state": STATUS[language][item.state],
        "posting_key": item.posting_key, "line_id": line.line_id, "identity": line.identity, "version": line.version,
    }


# -- workbook -------------------------------------------------------------------------------
def build(pending: Sequence[dict], applied: Sequence[dict], language: str) -> Workbook:
    """The workbook for these rows (the ``-resultado`` file: :func:`build_result`)."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEETS["pending"][language]
    write_sheet(ws, PENDING_COLUMNS, pending, SHEET_ACTIONS["pending"], language)
    write_sheet(wb.create_sheet(SHEETS["applied"][language]), APPLIED_COLUMNS, applied,
                SHEET_ACTIONS["applied"], language)
    _summary(wb.create_sheet(SHEETS["summary"][language]), pending, applied, language)
    _instructions(wb.create_sheet(SHEETS["help"][language]), language)
    return wb


def build_result(sheets: Sequence[tuple[str, str, Sequence[dict]]], language: str) -> Workbook:
    """The ``-resultado`` workbook: ``sheets`` as (kind, title, rows), one sheet per sheet of the
    dropped file that had results, under its own title, with the result columns. A kind the file
    had no result on gets its sheet empty, so finance always finds both."""
    wb = Workbook()
    wb.remove(wb.active)
    titles = {title.casefold() for _, title, _ in sheets}
    for kind in ("pending", "applied"):
        mine = [(title, rows) for k, title, rows in sheets if k == kind]
        if not mine and SHEETS[kind][language].casefold() not in titles:
            mine = [(SHEETS[kind][language], [])]
        for title, rows in mine:
            write_sheet(wb.create_sheet(title), SHEET_COLUMNS[kind] + RESULT_COLUMNS, rows, SHEET_ACTIONS[kind], language)
    _summary(wb.create_sheet(SHEETS["summary"][language]), [r for k, _, rows in sheets if k == "pending" for r in rows],
             [r for k, _, rows in sheets if k == "applied" for r in rows], language)
    _instructions(wb.create_sheet(SHEETS["help"][language]), language)
    return wb


def write_sheet(ws, columns: list[Column], rows: Sequence[dict], actions: Iterable[str], language: str) -> None:
    for col, column in enumerate(columns, start=1):
        cell = put(ws, 1, col, column.header(language))
        cell.font = _BOLD
        cell.fill = _DECISION_FILL if column.decision else _HEADER_FILL
        dim = ws.column_dimensions[get_column_letter(col)]
        dim.width = column.width
        dim.hidden = column.hidden
    for r, row in enumerate(rows, start=2):
        for col, column in enumerate(columns, start=1):
            cell = put(ws, r, col, row.get(column.key), column.kind, language)
            if column.decision:
                cell = cell or ws.cell(row=r, column=col)
                cell.fill = _DECISION_FILL
                if column.typed_as_text:
                    cell.number_format = "@"
    last = get_column_letter(len(columns))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{last}{max(len(rows), 1) + 1}"
    action_col = next(i for i, c in enumerate(columns, start=1) if c.key == "action")
    labels = [action_label(a, language) for a in actions]
    validation = DataValidation(
        type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True, showErrorMessage=True,
        errorTitle="conciliador", showInputMessage=True,
        error=("Elija una acción de la lista." if language == "es" else "Choose an action from the list."),
        promptTitle=("Acción" if language == "es" else "Action"),
        prompt=", ".join(labels)[:255],
    )
    letter = get_column_letter(action_col)
    validation.add(f"{letter}2:{letter}{max(len(rows), 1) + 1}")
    ws.add_data_validation(validation)


def _summary(ws, pending: Sequence[dict], applied: Sequence[dict], language: str) -> None:
    es = language == "es"
    by_status: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    by_bank: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for rows, state_key, slot in ((pending, "status", 0), (applied, "state", 2)):
        for row in rows:
            amount = row.get("amount")
            amount = amount if isinstance(amount, Decimal) else Decimal(0)
            totals = by_status[(str(row.get(state_key, "")), str(row.get("currency", "")))]
            totals[0] += 1
            totals[1] += amount
            bank = by_bank[(str(row.get("bank", "")), str(row.get("account", "")), str(row.get("currency", "")))]
            bank[slot] += 1
            bank[slot + 1] += amount
    r = 1
    put(ws, r, 1, "Por estado" if es else "By status").font = _BOLD
    r += 1
    for col, text in enumerate(["Estado", "Moneda", "Líneas", "Valor"] if es else ["Status", "Currency", "Lines", "Amount"], 1):
        put(ws, r, col, text).font = _BOLD
    for (status, currency), (count, amount) in sorted(by_status.items()):
        r += 1
        put(ws, r, 1, status)
        put(ws, r, 2, currency)
        put(ws, r, 3, int(count), "int")
        put(ws, r, 4, amount, "amount")
    r += 2
    put(ws, r, 1, "Por banco" if es else "By bank").font = _BOLD
    r += 1
    heads = (["Banco (formato)", "Cuenta", "Moneda", "Pendientes", "Valor pendiente", "Aplicadas", "Valor aplicado"]
             if es else ["Bank (format)", "Account", "Currency", "Pending", "Pending amount", "Applied", "Applied amount"])
    for col, text in enumerate(heads, 1):
        put(ws, r, col, text).font = _BOLD
    for (bank, account, currency), (pc, pa, ac, aa) in sorted(by_bank.items()):
        r += 1
        for col, (value, kind) in enumerate(((bank, "text"), (account, "text"), (currency, "text"), (int(pc), "int"),
                                             (pa, "amount"), (int(ac), "int"), (aa, "amount")), 1):
            put(ws, r, col, value, kind)
    for col, width in enumerate((24, 18, 9, 12, 18, 12, 18), 1):
        ws.column_dimensions[get_column_letter(col)].width = width


_HELP = {
    "es": [
        "Cómo resolver las excepciones",
        "1. En la hoja Pendientes, elija en la columna Acción qué hacer con cada línea (lista desplegable).",
        "   aplicar candidato 1/2/3: aplica las facturas del candidato. aplicar a facturas: escriba los números en Facturas.",
        "   anticipo: deja el pago (o lo que sobre de las facturas escritas) en la cuenta del cliente de la columna Cliente.",
        "   no es pago de cliente, devolver, ignorar: se registra sin enviar nada al ERP.",
        "2. En la hoja Aplicados hoy, la acción reversar anula en el ERP una aplicación; la línea vuelve a Pendientes.",
        "3. Guarde una copia del libro (.xlsx) en la carpeta de resoluciones. No cambie ni borre las columnas ocultas.",
        "4. El agente aplica las filas válidas y deja junto a este libro un archivo …-resultado.xlsx con el resultado de cada fila.",
        "   Las filas rechazadas dicen por qué; corríjalas en ese archivo y déjelo de nuevo en resoluciones.",
    ],
    "en": [
        "How to resolve the exceptions",
        "1. On the Pending sheet, choose in the Action column what to do with each line (drop-down list).",
        "   apply candidate 1/2/3: applies the candidate's invoices. apply to invoices: write the numbers in Invoices.",
        "   on account: leaves the payment (or what the invoices written leave) on the account of the customer in Customer.",
        "   not a customer payment, return, ignore: recorded without sending anything to the ERP.",
        "2. On the Applied today sheet, the action reverse undoes an application in the ERP; the line returns to Pending.",
        "3. Save a copy of the workbook (.xlsx) into the resolutions folder. Do not change or delete the hidden columns.",
        "4. The agent applies the valid rows and writes beside this workbook a …-result.xlsx file with each row's result.",
        "   Refused rows say why; fix them in that file and drop it into resolutions again.",
    ],
}


def _instructions(ws, language: str) -> None:
    for r, text in enumerate(_HELP[language], start=1):
        cell = put(ws, r, 1, text)
        if r == 1:
            cell.font = _BOLD
    ws.column_dimensions["A"].width = 120


def to_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def fingerprint(*parts: object) -> str:
    """A digest of what a workbook shows, independent of the timestamps inside its bytes."""
    return hashlib.sha256(json.dumps([LAYOUT_VERSION, *parts], default=str, sort_keys=True).encode()).hexdigest()


# -- the files in exceptions/ -------------------------------------------------------------------
def workbook_path(runtime: Runtime, day: str, company: str) -> Path:
    return runtime.folders["exceptions"] / f"{FILE_PREFIX[runtime.settings.language]}-{day}-{company}.xlsx"


def write_exception_files(runtime: Runtime) -> list[Path]:
    """Rewrite each day's workbook (and CSV twin) whose content changed; returns the files written."""
    language = runtime.settings.language
    db = runtime.db
    known = {(r["day"], r["company"]) for r in db.conn.execute(
        "SELECT day, company FROM exception_workbooks WHERE pending > 0")}
    groups = collect(runtime, extra_days=tuple(sorted({d for d, _ in known})))
    for key in known:  # a day whose last pending line was resolved: written once more, without it
        groups.setdefault(key, Group(*key))
    written: list[Path] = []
    for (day, company), group in sorted(groups.items()):
        try:
            written += _write_group(runtime, day, company, group, language)
        except OSError as exc:
            # Finance has the file open in Excel (Windows locks it), or the share is full: the other
            # days and companies are still written, and this one is tried again next round.
            log.error("exception_workbook_not_written", day=day, company=company, error=str(exc))
    return written


def _write_group(runtime: Runtime, day: str, company: str, group: Group, language: str) -> list[Path]:
    db = runtime.db
    written: list[Path] = []
    pending = [pending_row(i, language) for i in group.pending]
    applied = [applied_row(i, language) for i in group.applied]
    path = workbook_path(runtime, day, company)
    digest = fingerprint(language, pending, applied)
    if not _unchanged(runtime, path, digest):
        fsutil.write_atomic(path, to_bytes(build(pending, applied, language)))
        st = path.stat()
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO exception_workbooks(path, day, company, fingerprint, pending, applied, size, mtime_ns, "
                "written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, pending = excluded.pending, applied = excluded.applied, "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, written_at = excluded.written_at",
                (str(path), day, company, digest, len(pending), len(applied), st.st_size, st.st_mtime_ns, utcnow()))
        written.append(path)
    twin = exceptions_file.write_twin(runtime, day, company, group.pending)
    if twin is not None:
        written.append(twin)
    return written


def _unchanged(runtime: Runtime, path: Path, digest: str) -> bool:
    row = runtime.db.conn.execute("SELECT fingerprint, size, mtime_ns FROM exception_workbooks WHERE path = ?",
                                  (str(path),)).fetchone()
    if row is None or row["fingerprint"] != digest:
        return False
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return (st.st_size, st.st_mtime_ns) == (row["size"], row["mtime_ns"])
