"""Davivienda ("Movimientos" and "Reporte"), Banco de Bogotá and BBVA Colombia exports, read by the
profiles rebuilt from public descriptions of real files (each profile's header comment cites and
grades its sources): lines, sums, dates and signs; the running balance where there is one; the
account from the sheet's name (account.sheet_pattern) or the file's name, and the refusal
without it; and the choice between every shipped XLSX profile (BankFormat.detect_file).

The samples were written by tests/data/banks/profiles/make_colombian_exports.py (invented
accounts, names and amounts; Excel's shared-string table).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import os
import sys
import textwrap
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import cli

from conciliador import HEAD_BYTES, MAYBE_BELOW, ConfigError, StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.pluginhost import PluginHost
from conciliador.plugins.banks.profiles import SHIPPED_PROFILES, ProfileFormat, load_profile, load_profiles
from conciliador.statements import detect

DATA = Path(__file__).parent / "data" / "banks" / "profiles"


def _generator():
    name = "make_colombian_exports"
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


gen = _generator()
MOVIMIENTOS = DATA / gen.FILES["davivienda"]
REPORTE = DATA / gen.FILES["reporte"]
BOGOTA = DATA / gen.FILES["bogota"]
BBVA = DATA / gen.FILES["bbva"]
DAV, REP, BOG, BBV = ("profile:davivienda-movimientos", "profile:davivienda-reporte",
                      "profile:banco-de-bogota-movimientos", "profile:bbva-colombia-movimientos")
SAMPLES = [(MOVIMIENTOS, DAV), (REPORTE, REP), (BOGOTA, BOG), (BBVA, BBV)]


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


@pytest.fixture(scope="module")
def shipped() -> dict[str, ProfileFormat]:
    return {f.name: f for f in load_profiles(SHIPPED_PROFILES)}


def read(fmt, path: Path, name: str | None = None) -> tuple[list[StatementLine], list[StatementSummary]]:
    with open(path, "rb") as fh:
        items = list(fmt.parse(fh, name or path.name))
    return [i for i in items if isinstance(i, StatementLine)], [i for i in items if isinstance(i, StatementSummary)]


def excel_like(source: Path, target: Path) -> Path:
    """The workbook with a large part first, so that none of its text is in the first 8 KiB."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("xl/media/image1.bin", os.urandom(20000), compress_type=zipfile.ZIP_STORED)
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return target


def rows_of(path: Path, sheet: int = 0) -> list[list]:
    book = openpyxl.load_workbook(path)  # not read-only: cell types as written
    return [list(r) for r in book.worksheets[sheet].iter_rows()]


def workbook(path: Path, sheet_title: str, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    book.active.title = sheet_title
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


# -- the samples have the shapes the sources describe ----------------------------------------------

def test_the_samples_have_the_described_shapes():
    book = openpyxl.load_workbook(MOVIMIENTOS)
    assert book.sheetnames == [gen.DAVIVIENDA_SHEET, "GASTOS"] and len(gen.DAVIVIENDA_SHEET) == 31
    rows = rows_of(MOVIMIENTOS)
    assert [c.value for c in rows[0] if c.value] == ["Movimientos"] and not any(c.value for c in rows[1])
    assert [c.value for c in rows[2]] == gen.DAVIVIENDA_HEADER
    body = rows[3:]
    assert all(isinstance(r[0].value, dt.datetime) for r in body)                        # date cells
    assert all(isinstance(r[8].value, (int, float)) and r[8].value > 0 for r in body)    # Valor Total unsigned
    assert {r[2].value for r in body} == {"Notas Credito", "Notas Debito", "Deposito Especial"}

    rows = rows_of(REPORTE)
    assert [c.value for c in rows[0]] == gen.REPORTE_HEADER
    assert all(isinstance(r[0].value, str) and len(r[0].value) == 10 and r[0].value[2] == "/" for r in rows[1:])
    assert all(r[6].value.startswith("$ ") for r in rows[1:]) and any(r[6].value == "$ 1.807,00" for r in rows[1:])
    assert {r[3].value for r in rows[1:]} == {"Nota Débito", "Nota Crédito"}

    book = openpyxl.load_workbook(BOGOTA)
    assert book.sheetnames == [gen.BOGOTA_SHEET] and len(gen.BOGOTA_SHEET) == 31
    rows = rows_of(BOGOTA)
    assert [c.value for c in rows[0]] == gen.BOGOTA_HEADER
    assert all((r[4].value is None) != (r[5].value is None) for r in rows[1:])              # one side each

    rows = rows_of(BBVA)
    assert [c.value for c in rows[13]] == gen.BBVA_HEADER                                  # header on row 14
    amounts = [r[3].value for r in rows[14:]]
    assert any(isinstance(a, float) for a in amounts) and "$-2,919.54" in amounts
    assert all(isinstance(r[0].value, str) and r[0].value[2] == "-" for r in rows[14:])   # dd-mm-yyyy text

    for path in (MOVIMIENTOS, REPORTE, BOGOTA, BBVA):  # texts where Excel keeps them
        with zipfile.ZipFile(path) as z:
            assert "xl/sharedStrings.xml" in z.namelist()
            assert not any(b"inlineStr" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


# -- Davivienda "Movimientos" ----------------------------------------------------------------------

def test_davivienda_movimientos_lines_signs_and_running_balance(shipped, formats):
    lines, [summary] = read(shipped[DAV], MOVIMIENTOS)
    assert len(lines) == 44
    assert sum(x.amount for x in lines if x.amount > 0) == Decimal("35498080.37")
    assert sum(x.amount for x in lines if x.amount < 0) == Decimal("-8867868.26")
    # The account is the number in the sheet's name; the GASTOS sheet is not read.
    assert {x.account for x in lines} == {"0560001234567890"} and summary.account == "0560001234567890"
    assert (summary.period_from, summary.period_to) == (dt.date(2026, 11, 1), dt.date(2026, 11, 20))
    assert (summary.opening_balance, summary.closing_balance) == (Decimal("12500000.00"), Decimal("39130212.11"))
    assert summary.opening_balance + sum(x.amount for x in lines) == summary.closing_balance
    assert not parse_file(MOVIMIENTOS, formats).balance_breaks
    # Row for row what the generator wrote: Tran gives the sign of the unsigned Valor Total.
    movements = gen.davivienda_movements()
    assert [(x.booking_date, x.amount, x.bank_reference, x.transaction_code) for x in lines] == [
        (m.day, m.amount, m.document, str(m.code)) for m in movements]
    assert all((x.amount < 0) == (m.kind == "Notas Debito") for x, m in zip(lines, movements))
    assert lines[0].position == "row 4" and lines[-1].position == "row 47"
    first = lines[0]
    assert (first.payer_id, first.end_to_end_id, first.remittance) == (
        "000000800987654", "1472231409", "Abono ACH COMERCIAL LOS ANDES LTDA 1472231409 ACH")
    # Two QR payments of one amount on one day: two documents, two identities.
    qr = [x for x in lines if x.booking_date == dt.date(2026, 11, 20) and x.amount == Decimal("25000")]
    assert len(qr) == 2 and len({x.identity for x in qr}) == 2
    assert len({x.identity for x in lines}) == 44


def test_davivienda_movimientos_newest_first_gives_the_same_balances(shipped, tmp_path):
    """The row order is not documented: the running balance tells it."""
    book = openpyxl.load_workbook(MOVIMIENTOS)
    values = [[c.value for c in r] for r in book.worksheets[0].iter_rows()]
    path = workbook(tmp_path / "nuevos_primero.xlsx", gen.DAVIVIENDA_SHEET, values[:3] + values[3:][::-1])
    lines, [summary] = read(shipped[DAV], path)
    assert lines[0].booking_date == dt.date(2026, 11, 20) and len(lines) == 44
    assert (summary.opening_balance, summary.closing_balance) == (Decimal("12500000.00"), Decimal("39130212.11"))


def test_davivienda_movimientos_text_dates_and_amounts_read_too(shipped, tmp_path):
    """Our choice where the sources leave it open: YYYY-MM-DD text dates and "$ 1.234,56" text
    amounts (the printed report's style) read as well as date and number cells; the direction
    values are compared without case or accents."""
    header = gen.DAVIVIENDA_HEADER
    row = dict.fromkeys(header)
    rows = [["Movimientos"], [], header]
    for fecha, tran, valor, saldo in (("2026-11-03", "NOTAS CRÉDITO", "$ 1.234.567,89", "$ 2.234.567,89"),
                                      ("2026-11-04", "notas debito", "$ 34.567,89", "$ 2.200.000,00"),
                                      ("2026-11-04", "Nota Débito", 200000, 2000000)):
        rows.append([{**row, "Fecha": fecha, "Doc.": "1", "Tran": tran, "Desc Mot.": "x", "Valor Total": valor,
                      "Valor Saldo": saldo}[h] for h in header])
    path = workbook(tmp_path / "texto.xlsx", "Movimientos 0560001234567890", rows)
    lines, [summary] = read(shipped[DAV], path)
    assert [(x.booking_date, x.amount) for x in lines] == [(dt.date(2026, 11, 3), Decimal("1234567.89")),
                                                          (dt.date(2026, 11, 4), Decimal("-34567.89")),
                                                          (dt.date(2026, 11, 4), Decimal("-200000"))]
    assert summary.account == "0560001234567890"
    assert (summary.opening_balance, summary.closing_balance) == (Decimal("1000000.00"), Decimal("2000000"))


def test_an_unknown_direction_is_refused_with_row_and_column(shipped, tmp_path):
    header = gen.DAVIVIENDA_HEADER
    rows = [["Movimientos"], [], header,
            [dt.datetime(2026, 11, 3), 1, "Cheque Pagado", None, None, None, 11, "x", 5000.0, 5000.0, None, None, None,
             None, None, None, 95000.0]]
    path = workbook(tmp_path / "cheque.xlsx", "Movimientos0560001234567890", rows)
    with pytest.raises(StatementError) as info:
        read(shipped[DAV], path)
    assert (info.value.position, info.value.field) == ("row 4", "Tran (column C)")
    assert info.value.problem == ("'Cheque Pagado' is neither a debit (Notas Debito, Nota Débito) nor a credit "
                                  "(Notas Credito, Nota Crédito, Deposito Especial)")


@pytest.mark.parametrize("sheet, account", [
    ("Movimientos0560001234567890 - 2", "0560001234567890"),
    ("Movimientos 0560001234567890", "0560001234567890"),
    ("Movimientos039269999858", "039269999858"),
])
def test_the_account_comes_from_the_sheet_name(shipped, tmp_path, sheet, account):
    values = [[c.value for c in r] for r in openpyxl.load_workbook(MOVIMIENTOS).worksheets[0].iter_rows()]
    lines, [summary] = read(shipped[DAV], workbook(tmp_path / "m.xlsx", sheet, values))
    assert {x.account for x in lines} == {account} and summary.account == account


@pytest.mark.parametrize("sheet, hint", [
    ("Movimientos", "Rename the sheet to include the account number, for example 'Movimientos12345678901'"),
    ("Mov", "Give the sheet back the name the bank gave it, which carries the account number"),
    ("Hoja1", "Give the sheet back the name the bank gave it, which carries the account number"),
])
def test_without_the_account_in_the_sheet_name_the_file_is_refused_in_plain_words(shipped, tmp_path, sheet, hint):
    values = [[c.value for c in r] for r in openpyxl.load_workbook(MOVIMIENTOS).worksheets[0].iter_rows()]
    path = workbook(tmp_path / "0560001234567890.xlsx", sheet, values)  # the file name does not count here
    with pytest.raises(StatementError) as info:
        read(shipped[DAV], path)
    assert str(info.value) == (
        f"the sheet {sheet!r} does not say which account it belongs to: this Davivienda export names its sheet after "
        f"the account number, so it is read from the sheet's name. {hint}")


def test_the_sheet_refusal_is_what_finance_reads_in_quarantine(formats, tmp_path):
    values = [[c.value for c in r] for r in openpyxl.load_workbook(MOVIMIENTOS).worksheets[0].iter_rows()]
    report = parse_file(workbook(tmp_path / "davivienda.xlsx", "Mov", values), formats)
    assert report.format == DAV
    assert report.error.startswith(f"{DAV}: the sheet 'Mov' does not say which account it belongs to")


# -- Davivienda "Reporte" --------------------------------------------------------------------------

def test_davivienda_reporte_text_amounts_text_dates_sign_from_transaccion(shipped):
    lines, [summary] = read(shipped[REP], REPORTE)
    assert len(lines) == 36                                                  # the "$ 0,00" row is dropped
    assert sum(x.amount for x in lines if x.amount > 0) == Decimal("11202911.71")
    assert sum(x.amount for x in lines if x.amount < 0) == Decimal("-1196584.41")
    movements = gen.reporte_movements()
    assert [(x.booking_date, x.amount, x.bank_reference) for x in lines] == [
        (m.day, m.amount, m.document) for m in movements]
    assert all((x.amount < 0) == (m.kind == "Nota Débito") for x, m in zip(lines, movements))
    assert Decimal("1807.00") in {x.amount for x in lines}                   # "$ 1.807,00"
    # The download of 1-15 November brings days around it: they are read like the others.
    assert (summary.period_from, summary.period_to) == (dt.date(2026, 10, 30), dt.date(2026, 11, 16))
    assert summary.opening_balance is None and summary.closing_balance is None
    assert {x.account for x in lines} == {"456600123456"}
    skipped = [x.position for x in lines][7:9]
    assert skipped == ["row 9", "row 11"]                                     # row 10 is the "$ 0,00" row
    ach = next(x for x in lines if x.remittance.startswith("Abono ACH"))
    assert (ach.payer_id, ach.end_to_end_id) == ("800987654", "672945")


def test_davivienda_reporte_overlapping_downloads_repeat_the_same_identities(shipped, tmp_path):
    movements = gen.reporte_movements()
    later = tmp_path / "davivienda_reporte_456600123456_nov10-25.xlsx"
    gen.write_reporte(later, [m for m in movements if m.day >= dt.date(2026, 11, 10)])
    first, _ = read(shipped[REP], REPORTE)
    second, _ = read(shipped[REP], later)
    known = {x.identity for x in first}
    assert second and all(x.identity in known for x in second)
    assert len([x for x in first if x.booking_date >= dt.date(2026, 11, 10)]) == len(second)


@pytest.mark.parametrize("name, account", [
    ("davivienda_reporte_456600123456_nov01-15.xlsx", "456600123456"),
    ("04-BANCO DAVIVIENDA 9858 456600123456.xlsx", "456600123456"),      # the last four, then the number
    ("reporte-0560001234567890-2026-11-15.xlsx", "0560001234567890"),    # 16 digits, as the Movimientos sheet
])
def test_the_reporte_account_comes_from_the_file_name(shipped, name, account):
    lines, [summary] = read(shipped[REP], REPORTE, name)
    assert summary.account == account


@pytest.mark.parametrize("path, profile, name, example, account", [
    (REPORTE, REP, "04-BANCO DAVIVIENDA 9858.xlsx", "04-BANCO DAVIVIENDA 9858 123456789012.xlsx", "123456789012"),
    (REPORTE, REP, "Reporte 4566 0012 3456.xlsx", "Reporte 4566 0012 3456 123456789012.xlsx", "123456789012"),
    (BOGOTA, BOG, "04-BOGOTA 8295.xlsx", "04-BOGOTA 8295 123456789.xlsx", "123456789"),
    (BOGOTA, BOG, "movimientos_20261130.xlsx", "movimientos_20261130 123456789.xlsx", "123456789"),
    (BBVA, BBV, "movimientos BBVA.xlsx", "movimientos BBVA 12345678901.xlsx", "12345678901"),
    (BBVA, BBV, "bbva 2026-11-30.xlsx", "bbva 2026-11-30 12345678901.xlsx", "12345678901"),
])
def test_without_the_account_in_the_file_name_the_file_is_refused_in_plain_words(shipped, path, profile, name, example,
                                                                                 account):
    with pytest.raises(StatementError) as info:
        read(shipped[profile], path, name)
    bank = shipped[profile].profile.bank
    assert str(info.value) == (
        f"the file {name!r} does not say which account it belongs to: this {bank} export does not print the account "
        f"number, so it is read from the file name. Rename the file to include the account number, for example "
        f"{example!r}")
    _, [summary] = read(shipped[profile], path, example)  # and the example it gives reads as that number
    assert summary.account == account


# -- Banco de Bogotá -------------------------------------------------------------------------------

def test_bogota_debit_credit_date_cells_no_balance(shipped):
    lines, [summary] = read(shipped[BOG], BOGOTA)
    assert len(lines) == 37
    assert sum(x.amount for x in lines if x.amount > 0) == Decimal("39784836.13")
    assert sum(x.amount for x in lines if x.amount < 0) == Decimal("-24942317.68")
    movements = gen.bogota_movements()
    assert [(x.booking_date, x.amount, x.end_to_end_id) for x in lines] == [
        (m.day, m.amount, m.document) for m in movements]
    assert (summary.account, summary.period_from, summary.period_to) == ("098765432", dt.date(2026, 11, 2),
                                                                         dt.date(2026, 11, 30))
    assert summary.opening_balance is None and summary.closing_balance is None
    assert lines[0].position == "row 2" and lines[0].remittance == "Comision PSE 860316599 BANCA ELECTRONICA"
    assert all(x.bank_reference == "" for x in lines)          # Documento's meaning is open: kept as a reference
    same = [x for x in lines if x.booking_date == dt.date(2026, 11, 18) and x.end_to_end_id == "5550001"]
    assert [x.ordinal for x in same] == [0, 1] and len({x.identity for x in lines}) == 37


def test_bogota_text_dates_and_amounts_read_too(shipped, tmp_path):
    rows = [gen.BOGOTA_HEADER, ["2026-11-03", "Cr Ach", "BANCA ELECTRONICA", "900123456", None, "1.234.567,89"],
            [dt.date(2026, 11, 4), "Comision PSE", "BANCA ELECTRONICA", "0", "4.200,00", None],
            ["Total", None, None, None, "4.200,00", "1.234.567,89"]]
    lines, _ = read(shipped[BOG], workbook(tmp_path / "b.xlsx", gen.BOGOTA_SHEET, rows), "bogota 098765432.xlsx")
    assert [(x.booking_date, x.amount) for x in lines] == [(dt.date(2026, 11, 3), Decimal("1234567.89")),
                                                          (dt.date(2026, 11, 4), Decimal("-4200.00"))]


# -- BBVA Colombia ---------------------------------------------------------------------------------

def test_bbva_header_on_row_14_signed_amounts_numbers_and_text(shipped):
    lines, [summary] = read(shipped[BBV], BBVA)
    assert len(lines) == 30
    assert sum(x.amount for x in lines if x.amount > 0) == Decimal("27702864.52")
    assert sum(x.amount for x in lines if x.amount < 0) == Decimal("-11949651.62")
    movements = gen.bbva_movements()
    assert [(x.booking_date, x.amount, x.end_to_end_id) for x in lines] == [
        (m.day, m.amount, m.reference) for m in movements]
    assert lines[0].position == "row 15"
    assert summary.account == "00130456000200123456"
    assert (summary.period_from, summary.period_to) == (dt.date(2026, 11, 3), dt.date(2026, 11, 30))
    assert summary.opening_balance is None
    assert Decimal("-2919.54") in {x.amount for x in lines}


def test_bbva_without_observaciones_is_refused_naming_the_columns(shipped, tmp_path):
    """OBSERVACIONES is required by one source only: an export without it says so (adjust a copy)."""
    rows = [["BBVA"]] + [[]] * 12 + [["FECHA DE OPERACIÓN", "CONCEPTO", "IMPORTE (COP)"],
                                     ["03-11-2026", "ABONO", 1000.0]]
    with pytest.raises(StatementError) as info:
        read(shipped[BBV], workbook(tmp_path / "b.xlsx", "Movimientos", rows), "bbva 0013045601.xlsx")
    assert info.value.field == "reference"
    assert "no column 'OBSERVACIONES'" in info.value.problem and "FECHA DE OPERACIÓN, CONCEPTO, IMPORTE (COP)" in \
        info.value.problem


# -- detection: every shipped XLSX profile competes ------------------------------------------------

@pytest.mark.parametrize("path, expected", SAMPLES, ids=lambda p: getattr(p, "name", p))
def test_each_export_goes_to_its_profile_and_no_other(formats, path, expected):
    report = parse_file(path, formats)
    assert report.format == expected, report.scores
    assert not report.error, report.error
    assert [name for name, _ in report.scores] == [expected]   # nobody else claims it


@pytest.mark.parametrize("path, expected", SAMPLES, ids=lambda p: getattr(p, "name", p))
def test_with_the_text_out_of_reach_the_leading_rows_decide(formats, shipped, tmp_path, path, expected):
    """Beyond the first 8 KiB every XLSX profile can only say "maybe"; reading the leading rows of
    the workbook then gives 0.85 (header found) to one profile and 0 to every other."""
    target = excel_like(path, tmp_path / path.name)
    head = target.read_bytes()[:HEAD_BYTES]
    xlsx = sorted(n for n, f in shipped.items() if f.profile.file_type == "xlsx")
    assert len(xlsx) == 5
    for name in xlsx:
        assert 0 < shipped[name].detect(head, target.name) < MAYBE_BELOW, name
        with open(target, "rb") as stream:
            assert shipped[name].detect_file(stream, target.name) == (0.85 if name == expected else 0.0), name
    fmt, scores = detect(target, formats)
    assert fmt.name == expected and [n for n, _ in scores] == [expected], scores


@pytest.mark.parametrize("rows", [
    [["Inventario", "Cantidad", "Bodega"], ["Tornillo", 10, "Principal"]],
    # Davivienda's GASTOS sheet moved first: no Valor Saldo, not the movements.
    [["Fecha", "Doc.", "Tran", "Ofi.", "Mot.", "Desc Mot.", "Valor Total"],
     [dt.datetime(2026, 11, 4), 1, "Notas Debito", "PORTAL-EMPRESARIAL", 9001, "Gravamen", 100.0]],
    # A layout listed by a source of no stated origin (plural Débitos/Créditos and a Saldo): not Bogotá's.
    [["Fecha", "Transacción", "Oficina", "Documento", "Débitos", "Créditos", "Saldo"],
     [dt.datetime(2026, 11, 4), "Cr Ach", "BANCA ELECTRONICA", "1", None, 100.0, 100.0]],
    # BBVA's header without its amount column.
    [["FECHA DE OPERACIÓN", "FECHA VALOR", "CONCEPTO", "IMPORTE", "OBSERVACIONES"],
     ["03-11-2026", None, "x", 1.0, None]],
], ids=["inventory", "davivienda-gastos", "bogota-plural", "bbva-importe"])
def test_an_unrelated_or_near_workbook_gets_no_profile(formats, tmp_path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "movimientos 098765432 456600123456.xlsx"
    path.write_bytes(gen.excel_shaped(buffer.getvalue()))
    fmt, scores = detect(path, formats)
    assert fmt is None and scores == [], scores
    assert "none of them has this workbook's header row" in parse_file(path, formats).error


# -- account.sheet_pattern is validated like the other keys ----------------------------------------

BASE = """\
    name = "mi-banco"
    bank = "Mi Banco"
    file_type = "xlsx"
    [detect]
    header_cells = ["Fecha", "Valor"]
    [columns]
    date = "Fecha"
    amount = "Valor"
    [account]
"""


@pytest.mark.parametrize("file_type, extra, key, value, words", [
    ("xlsx", "sheet_pattern = 'Cuenta'", "account.sheet_pattern", "Cuenta",
     "needs exactly one group (...) around the account number in the sheet's name"),
    ("xlsx", "sheet_pattern = 'Cuenta (['", "account.sheet_pattern", "Cuenta ([", "not a regular expression"),
    ("xlsx", "sheet_pattern = '(\\d+)'\nvalue = '1'", "account", {"value": "1", "sheet_pattern": "(\\d+)"},
     "give exactly one of account.value, account.title_pattern, account.column, account.filename_pattern, "
     "account.sheet_pattern"),
    ("csv", "sheet_pattern = '(\\d+)'", "account.sheet_pattern", "(\\d+)", "only an xlsx profile has sheets"),
    ("xlsx", "sheet_pattern = 7", "account.sheet_pattern", 7, "Input should be a valid string"),
])
def test_a_bad_sheet_pattern_names_file_key_and_value(tmp_path, file_type, extra, key, value, words):
    body = textwrap.dedent(BASE).replace('file_type = "xlsx"', f'file_type = "{file_type}"') + extra + "\n"
    path = tmp_path / "mi.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"bank profile {path}: {key} = {value!r}: "), str(info.value)
    assert words in str(info.value)


def test_a_user_profile_with_a_sheet_pattern(tmp_path):
    path = tmp_path / "mi.toml"
    path.write_text(textwrap.dedent(BASE) + "sheet_pattern = 'Cta-(\\d+)'\n", encoding="utf-8")
    fmt = ProfileFormat(load_profile(path), source=path)
    book = workbook(tmp_path / "x.xlsx", "Extracto Cta-778", [["Fecha", "Valor"], [dt.date(2026, 11, 2), 5.0]])
    lines, [summary] = read(fmt, book)
    assert lines[0].account == summary.account == "778"


# -- the command line ---------------------------------------------------------------------------------

def test_conciliador_parse_shows_the_davivienda_export():
    result = cli("parse", str(MOVIMIENTOS))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert f"format: {DAV}" in out
    assert ("account 0560001234567890 COP 2026-11-01 .. 2026-11-20 opening 12500000.00 closing 39130212.11 lines 44"
            in out)
    assert "lines 44 credits 35498080.37 debits 8867868.26 currencies COP" in out
    assert "break" not in out.lower()


def test_a_renamed_shipped_profile_left_in_a_user_folder_still_loads(tmp_path):
    """The guessed profiles davivienda, bbva-colombia and banco-de-bogota were replaced: a copy a user
    kept under one of those names no longer collides with a shipped name."""
    (tmp_path / "davivienda.toml").write_text(textwrap.dedent(BASE).replace('name = "mi-banco"', 'name = "davivienda"')
                                              + "value = '1'\n", encoding="utf-8")
    [fmt] = load_profiles(tmp_path)
    assert fmt.name == "profile:davivienda"
    assert fmt.name not in {f.name for f in load_profiles(SHIPPED_PROFILES)}
