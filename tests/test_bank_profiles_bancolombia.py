"""Bancolombia's "Descargar movimientos" export (profiles bancolombia-movimientos, XLSX, and
bancolombia-movimientos-csv, its CSV re-save from Excel), whose layout another project documented
from real files (github.com/ingcarlostello/xtrakto, docs/ROADMAP.md, Appendix A.2); the account
taken from the file name (account.filename_pattern); and the choice between XLSX profiles, which
reads the workbook's leading rows (BankFormat.detect_file) when its first 8 KiB do not show them.

The samples were written by tests/data/banks/profiles/make_bancolombia_movimientos.py: two
overlapping exports of one invented account (1-15 and 10-25 November) and the CSV of the first.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import os
import shutil
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
from conciliador.plugins.banks import profiles as profiles_module
from conciliador.plugins.banks.profiles import SHIPPED_PROFILES, load_profiles
from conciliador.statements import detect

DATA = Path(__file__).parent / "data" / "banks" / "profiles"
FIRST = DATA / "bancolombia_movimientos_01234567890_nov01-15.xlsx"
LATER = DATA / "bancolombia_movimientos_01234567890_nov10-25.xlsx"
FIRST_CSV = DATA / "bancolombia_movimientos_01234567890_nov01-15.csv"
BOGOTA = DATA / "bogota_movimientos_098765432_nov.xlsx"
XLSX, CSV = "profile:bancolombia-movimientos", "profile:bancolombia-movimientos-csv"


def _generator():
    name = "make_bancolombia_movimientos"
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


gen = _generator()


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


@pytest.fixture(scope="module")
def shipped():
    return {f.name: f for f in load_profiles(SHIPPED_PROFILES)}


def read(fmt, path: Path, name: str | None = None) -> tuple[list[StatementLine], list[StatementSummary]]:
    with open(path, "rb") as fh:
        items = list(fmt.parse(fh, name or path.name))
    return [i for i in items if isinstance(i, StatementLine)], [i for i in items if isinstance(i, StatementSummary)]


def excel_like(source: Path, target: Path) -> Path:
    """The workbook with a large part first, so its texts lie beyond the first 8 KiB (as in a
    workbook Excel saved with some weight: a logo, a long style sheet)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("xl/media/image1.bin", os.urandom(20000), compress_type=zipfile.ZIP_STORED)
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return target


# -- the export, as A.2 describes it ------------------------------------------------------------------

def test_the_samples_have_the_documented_shape():
    book = openpyxl.load_workbook(FIRST)  # not read-only: cell types and number formats as written
    [sheet] = book.worksheets
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == ["Fecha", "Descripción", "Referencia", "Valor"]
    dates = [r[0].value for r in rows[1:]]
    assert all(isinstance(d, dt.datetime) and d.time() == dt.time(5, 0) for d in dates)   # 05:00 in every cell
    assert dates == sorted(dates, reverse=True)                                            # newest first
    references = [r[2] for r in rows[1:] if r[2].value is not None]
    assert all(c.data_type == "s" for c in references) and any(c.value.startswith("00") for c in references)
    assert sum(r[2].value is None for r in rows[1:]) > 20                                  # often empty
    assert all(isinstance(r[3].value, (int, float)) for r in rows[1:])                     # signed numbers
    with zipfile.ZipFile(FIRST) as z:  # texts where Excel keeps them
        assert "xl/sharedStrings.xml" in z.namelist() and b"inlineStr" not in z.read("xl/worksheets/sheet1.xml")
    csv_text = FIRST_CSV.read_bytes().decode("cp1252")
    assert csv_text.startswith("Fecha;Descripción;Referencia;Valor\r\n") and "\r\n5/11/2026;" in csv_text


def test_export_lines_amounts_and_sums(shipped):
    lines, [summary] = read(shipped[XLSX], FIRST)
    assert len(lines) == 56
    assert sum(x.amount for x in lines if x.amount > 0) == Decimal("2990048.32")
    assert sum(x.amount for x in lines if x.amount < 0) == Decimal("-3920311.56")
    interest = [x for x in lines if x.remittance == "ABONO INTERESES AHORROS"]
    assert len(interest) == 15 and sum(x.amount for x in interest) == Decimal("47.82")
    assert all(Decimal("0.5") <= x.amount < 6 for x in interest)                        # a few pesos, to the cent
    assert {x.account for x in lines} == {"01234567890"} and {x.currency for x in lines} == {"COP"}
    # No balance, no account, no period in the export: the summary spans the rows' dates, with no balances.
    assert (summary.account, summary.period_from, summary.period_to) == ("01234567890", dt.date(2026, 11, 1),
                                                                          dt.date(2026, 11, 15))
    assert summary.opening_balance is None and summary.closing_balance is None
    # What the generator put in, row for row (its own arithmetic, not the parser's).
    expected = gen.export(gen.ledger(), *gen.FIRST)
    assert [(x.booking_date, x.amount, x.end_to_end_id) for x in lines] == [
        (shown, m.amount, m.reference) for shown, m in expected]
    assert lines[0].position == "row 2" and lines[-1].position == "row 57"


def test_dates_are_the_cells_dates(shipped):
    """05:00 is local midnight in Bogotá stored as UTC: the cell's date is the day, never the day before."""
    lines, _ = read(shipped[XLSX], FIRST)
    sheet = openpyxl.load_workbook(FIRST, read_only=True).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert [x.booking_date for x in lines] == [c.date() for c in cells]
    assert lines[0].booking_date == dt.date(2026, 11, 15) and lines[-1].booking_date == dt.date(2026, 11, 1)
    assert all(x.value_date is None for x in lines)


def test_references_keep_their_leading_zeros_and_join_the_payment_text(shipped):
    lines, _ = read(shipped[XLSX], FIRST)
    qr = [x for x in lines if x.remittance.startswith("PAGO QR") and x.end_to_end_id]
    assert qr and all(len(x.end_to_end_id) == 10 and x.end_to_end_id.startswith("0") for x in qr)
    first_qr = qr[0]
    assert (first_qr.end_to_end_id, first_qr.remittance) == ("0001650441", "PAGO QR TIENDA LA ESQUINA 0001650441")
    nequi = [x for x in lines if x.remittance.startswith("TRANSFERENCIAS A NEQUI")]
    assert nequi and all(len(x.end_to_end_id) == 10 and x.end_to_end_id[0] == "3" for x in nequi)
    pse = [x for x in lines if x.remittance.startswith("PAGO PSE")]
    assert pse and all(len(x.end_to_end_id) == 9 for x in pse)
    assert [x.remittance for x in lines if x.remittance.startswith("RETIRO")][0] == \
        "RETIRO CAJERO  ATM PLAZA CENTR ATM PLAZA CENTRAL 1"
    transfers = [x for x in lines if x.remittance.startswith(("TRANSF DE", "PAGO INTERBANC"))]
    assert transfers and all(x.amount > 0 and x.end_to_end_id == "" for x in transfers)
    assert all(x.bank_reference == "" for x in lines)   # Referencia is the payer's reference, not the entry's id


def test_identical_movements_of_a_day_are_all_kept(shipped):
    lines, _ = read(shipped[XLSX], FIRST)
    same = [x for x in lines if x.booking_date == dt.date(2026, 11, 12) and x.amount == Decimal("-8500")]
    assert [x.ordinal for x in same] == [0, 1, 2]
    assert len({x.identity for x in lines}) == len(lines) == 56


def test_the_csv_saved_from_excel_reads_as_the_workbook(shipped):
    assert "Descripción".encode("cp1252") in FIRST_CSV.read_bytes()
    from_xlsx, [s1] = read(shipped[XLSX], FIRST)
    from_csv, [s2] = read(shipped[CSV], FIRST_CSV)
    key = lambda x: (x.booking_date, x.amount, x.end_to_end_id, x.remittance, x.account, x.identity)  # noqa: E731
    assert [key(x) for x in from_csv] == [key(x) for x in from_xlsx]
    assert (s1.period_from, s1.period_to, s1.account) == (s2.period_from, s2.period_to, s2.account)
    assert from_csv[0].position == "row 2"


def test_csv_amounts_signed_with_or_without_thousands(shipped):
    data = "\r\n".join(["Fecha;Descripción;Referencia;Valor",
                        "5/11/2026;PAGO PSE EMPRESA DE ENERGIA;445566778;-185430",
                        "5/11/2026;COMPRA EN  MERCADO XYZ;;-84250,5",
                        "05/11/2026;PAGO INTERBANC EMPRESA EJEMPLO;;3.200.000",
                        "4/11/2026;TRANSF DE Ana Prueba;;1.190.000,50",
                        "4/11/2026;PAGO SUC VIRT TC VISA;;-1.234.567,89",
                        "4/11/2026;ABONO INTERESES AHORROS;;11,24",
                        ""]).encode("cp1252")
    fmt = shipped[CSV]
    assert fmt.detect(data, "x.csv") == 0.85
    lines = [i for i in fmt.parse(io.BytesIO(data), "movimientos 01234567890.csv") if isinstance(i, StatementLine)]
    assert [x.amount for x in lines] == [Decimal("-185430"), Decimal("-84250.5"), Decimal("3200000"),
                                         Decimal("1190000.50"), Decimal("-1234567.89"), Decimal("11.24")]
    assert lines[2].booking_date == lines[0].booking_date == dt.date(2026, 11, 5)
    assert lines[0].end_to_end_id == "445566778"


def test_an_overlapping_later_export_gives_the_same_movements_the_same_identities(shipped):
    """What a second export repeats is recognised, identical movements of a day included: nothing
    the agent already stored from the first export is stored again, except the one row Bancolombia
    itself dates differently (A.2): the interest of the first export's last day, shown on that day
    (never after the range's end) and on the next day in the later export."""
    first, _ = read(shipped[XLSX], FIRST)
    later, _ = read(shipped[XLSX], LATER)
    overlap = (dt.date(2026, 11, 10), dt.date(2026, 11, 15))
    known = {x.identity: x for x in first}
    repeated = [x for x in later if x.booking_date <= overlap[1]]
    assert len(repeated) == 23 and all(x.identity in known for x in repeated)
    assert {x.ordinal for x in repeated if x.amount == Decimal("-8500")} == {0, 1, 2}
    assert {x.ordinal for x in repeated if x.amount == Decimal("150000")} == {0, 1}
    # In the first export, dated 10/11 to 15/11 but not in the later one: the interest of 09/11 (the
    # day before the later range, which it leaves out) and the interest of 15/11, which the later
    # export dates 16/11 and which therefore comes in once more.
    only_first = [x for x in first if overlap[0] <= x.booking_date and x.identity not in {y.identity for y in later}]
    assert [(x.booking_date, x.remittance) for x in only_first] == [(dt.date(2026, 11, 15), "ABONO INTERESES AHORROS"),
                                                                    (dt.date(2026, 11, 10), "ABONO INTERESES AHORROS")]
    moved = only_first[0]
    assert [x.booking_date for x in later if x.remittance == moved.remittance and x.amount == moved.amount] == \
        [dt.date(2026, 11, 16)]


# -- the account from the file name ---------------------------------------------------------------

@pytest.mark.parametrize("name, account", [
    ("Movimientos 01234567890.xlsx", "01234567890"),
    ("movimientos_012-345678-90_noviembre.xlsx", "012-345678-90"),
    ("012 345678 90.xlsx", "012 345678 90"),
    ("extracto-2026-11-15-01234567890.xlsx", "01234567890"),
])
def test_the_account_comes_from_the_file_name(shipped, name, account):
    lines, [summary] = read(shipped[XLSX], FIRST, name)
    assert {x.account for x in lines} == {account} and summary.account == account


@pytest.mark.parametrize("name", ["Movimientos.xlsx", "movimientos_202611151230.xlsx", "cuenta 1234567890.xlsx"])
def test_without_the_account_in_the_file_name_the_file_is_refused_in_plain_words(shipped, name):
    with pytest.raises(StatementError) as info:
        read(shipped[XLSX], FIRST, name)
    stem = name.rsplit(".", 1)[0]
    assert str(info.value) == (
        f"the file {name!r} does not say which account it belongs to: this Bancolombia export does not print the "
        "account number, so it is read from the file name. Rename the file to include the account number, for "
        f"example '{stem} 12345678901.xlsx'")


def test_the_refusal_is_what_finance_reads_in_quarantine(formats, tmp_path):
    path = shutil.copy(FIRST, tmp_path / "Movimientos.xlsx")
    report = parse_file(Path(path), formats)
    assert report.format == XLSX
    assert report.error.startswith(f"{XLSX}: the file 'Movimientos.xlsx' does not say which account")
    assert "'Movimientos 12345678901.xlsx'" in report.error
    csv_path = shutil.copy(FIRST_CSV, tmp_path / "movimientos.csv")
    assert "'movimientos 12345678901.csv'" in parse_file(Path(csv_path), formats).error


BASE = """\
    name = "mi-banco"
    bank = "Mi Banco"
    file_type = "csv"
    [detect]
    header_cells = ["Fecha", "Valor"]
    [columns]
    date = "Fecha"
    amount = "Valor"
    [account]
"""


@pytest.mark.parametrize("account, key, value, words", [
    ({"value": "1", "filename_pattern": r"(\d{11})"}, "account", {"value": "1", "filename_pattern": r"(\d{11})"},
     "give exactly one of account.value, account.title_pattern, account.column, account.filename_pattern"),
    ({"filename_pattern": r"\d{11}"}, "account.filename_pattern", r"\d{11}",
     "needs exactly one group (...) around the account number in the file name"),
    ({"filename_pattern": r"((\d+)-(\d+))"}, "account.filename_pattern", r"((\d+)-(\d+))", "needs exactly one group"),
    ({"filename_pattern": r"(\d{11"}, "account.filename_pattern", r"(\d{11", "not a regular expression"),
    ({"filename_pattern": 11}, "account.filename_pattern", 11, "Input should be a valid string"),
])
def test_a_bad_filename_pattern_names_file_key_and_value(tmp_path, account, key, value, words):
    path = tmp_path / "mi.toml"
    lines = [f"{k} = '{v}'" if isinstance(v, str) else f"{k} = {v}" for k, v in account.items()]
    path.write_text(textwrap.dedent(BASE) + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profiles(tmp_path)
    assert str(info.value).startswith(f"bank profile {path}: {key} = {value!r}: "), str(info.value)
    assert words in str(info.value)


def test_a_user_profile_with_a_filename_pattern(tmp_path):
    (tmp_path / "mi.toml").write_text(textwrap.dedent(BASE) + "filename_pattern = 'cta-(\\d+)'\n", encoding="utf-8")
    [fmt] = load_profiles(tmp_path)
    data = b"Fecha,Valor\n01/11/2026,\"1,00\"\n"
    lines = [i for i in fmt.parse(io.BytesIO(data), "extracto cta-778.csv") if isinstance(i, StatementLine)]
    assert lines[0].account == "778"
    with pytest.raises(StatementError) as info:
        list(fmt.parse(io.BytesIO(data), "extracto.csv"))
    assert "'extracto.csv' does not say which account" in str(info.value) and "for example" not in str(info.value)


# -- detection among every installed format ---------------------------------------------------------

@pytest.mark.parametrize("path, expected", [(FIRST, XLSX), (LATER, XLSX), (FIRST_CSV, CSV)],
                         ids=lambda p: getattr(p, "name", p))
def test_detection_chooses_the_movements_profiles(formats, path, expected):
    report = parse_file(path, formats)
    assert report.format == expected, report.scores
    assert not report.error
    assert [name for name, _ in report.scores] == [expected]   # nobody else claims it


@pytest.mark.parametrize("name", ["export 01234567890 098765432.xlsx", "movimientos_01234567890_098765432.xlsx"])
def test_between_two_xlsx_profiles_the_rows_decide(formats, tmp_path, name):
    """Excel keeps a workbook's texts beyond the first 8 KiB: the quick look can only guess (the
    XLSX profiles tie), and reading the leading rows then gives the file to the profile whose
    header it has, in both directions. (test_bank_profiles_colombia.py has every XLSX profile compete.)"""
    bogota = "profile:banco-de-bogota-movimientos"
    for source, right, wrong in ((FIRST, XLSX, bogota), (BOGOTA, bogota, XLSX)):
        path = excel_like(source, tmp_path / name)
        head = path.read_bytes()[:HEAD_BYTES]
        quick = {f.name: f.detect(head, name) for f in formats if f.name in (right, wrong)}
        assert all(0 < score < MAYBE_BELOW for score in quick.values()), quick   # both only "maybe"
        if source == FIRST:  # on the quick look alone (ties by name), Banco de Bogotá would take it and refuse it
            assert min(quick, key=lambda n: (-quick[n], n)) == wrong
        fmt, scores = detect(path, formats)
        assert fmt.name == right, scores
        assert wrong not in dict(scores)
        report = parse_file(path, formats)
        assert report.format == right and not report.error, report.error


def test_an_unrelated_workbook_gets_no_profile_and_a_clear_reason(formats, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["Inventario", "Cantidad", "Bodega"])
    for n in range(200):
        book.active.append([f"Artículo {n}", n, "Principal"])
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    buffer = io.BytesIO()
    book.save(buffer)
    shaped = tmp_path / "shaped.xlsx"
    shaped.write_bytes(gen.excel_shaped(buffer.getvalue()))
    for path in (plain, shaped, excel_like(shaped, tmp_path / "movimientos_nov.xlsx")):
        fmt, scores = detect(path, formats)
        assert fmt is None and scores == [], (path.name, scores)
        report = parse_file(path, formats)
        assert report.format == "" and report.error.startswith("no installed bank format recognises this file (none of")
        assert "It is an Excel workbook: bank exports in Excel are read through bank profiles, and none of them has " \
               "this workbook's header row" in report.error


def test_a_workbook_the_zip_checks_refuse_keeps_its_precise_reason(formats, tmp_path):
    """detect_file does not turn a refused workbook into "not mine": parse() then names the problem."""
    path = tmp_path / "bomba.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(210):
                member.write(b"\0" * 2**20)
    report = parse_file(path, formats)
    assert report.format.startswith("profile:") and "zip bomb" in report.error


def test_detect_file_reads_only_the_leading_rows_of_a_large_export(shipped, tmp_path, monkeypatch):
    book = openpyxl.Workbook()
    book.active.append(["Fecha", "Descripción", "Referencia", "Valor"])
    for n in range(20000):
        book.active.append([dt.datetime(2026, 11, 1 + n % 28, 5), f"PAGO PSE ENTIDAD {n}", f"{n:09d}", -n - 0.5])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "grande.xlsx"
    path.write_bytes(gen.excel_shaped(buffer.getvalue()))
    tables = []

    class Spy(profiles_module._LazyStrings):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            tables.append(self)

    monkeypatch.setattr(profiles_module, "_LazyStrings", Spy)
    with open(path, "rb") as stream:
        assert shipped[XLSX].detect_file(stream, path.name) == 0.85
    [table] = tables
    # Only the strings of the rows read (search_rows = 5: the header's 4, then 2 a row) of 40,004.
    assert len(table._strings) == 4 + 4 * 2
    with open(path, "rb") as stream:
        assert shipped["profile:banco-de-bogota-movimientos"].detect_file(stream, path.name) == 0.0

    # No sheet is sized: without a <dimension>, openpyxl would parse each sheet whole to size it.
    from openpyxl.worksheet._reader import WorkSheetParser

    def whole_sheet(self):
        raise AssertionError("detect_file parsed a sheet to size it")

    monkeypatch.setattr(WorkSheetParser, "parse_dimensions", whole_sheet)
    with open(path, "rb") as stream:
        assert shipped[XLSX].detect_file(stream, path.name) == 0.85
    # A leading cell that points far into the string table: detection gives up (the quick
    # score stands) instead of reading the whole table.
    monkeypatch.setattr(Spy, "LIMIT", 3)
    with open(path, "rb") as stream:
        assert shipped[XLSX].detect_file(stream, path.name) is None


def test_conciliador_parse_shows_the_export(tmp_path):
    result = cli("parse", str(FIRST))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert f"format: {XLSX}" in out
    assert "account 01234567890 COP 2026-11-01 .. 2026-11-15 no balances lines 56" in out
    assert "lines 56 credits 2990048.32 debits 3920311.56 currencies COP" in out
    assert "PAGO QR TIENDA LA ESQUINA 0001650441" in out


def test_what_the_agent_does_with_each_file(tmp_path):
    """End to end through intake: the export named with its account is archived; without it, and an
    Excel workbook no profile knows, are quarantined with reasons finance can act on."""
    from conftest import make_workspace

    ws = make_workspace(tmp_path / "ws")
    shutil.copy(FIRST, ws.inbox / "Movimientos 01234567890.xlsx")
    shutil.copy(LATER, ws.inbox / "Movimientos.xlsx")  # other bytes: the same ones would be "already known"
    book = openpyxl.Workbook()
    book.active.append(["Inventario", "Cantidad"])
    book.save(ws.inbox / "inventario.xlsx")
    result = cli("run", "--once", "--config", str(ws.config))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in ws.archived()] == ["Movimientos 01234567890.xlsx"]
    quarantine = ws.root / "quarantine"
    assert (f"\nProblem: {XLSX}: the file 'Movimientos.xlsx' does not say which account it belongs to: this "
            "Bancolombia export does not print the account number, so it is read from the file name. Rename the file "
            "to include the account number, for example 'Movimientos 12345678901.xlsx'\n"
            ) in (quarantine / "Movimientos.xlsx.reason.txt").read_text(encoding="utf-8")
    reason = (quarantine / "inventario.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "\nFormat: -\n" in reason
    assert "\nProblem: No installed bank format recognises this file (none of the " in reason
    assert ("It is an Excel workbook: bank exports in Excel are read through bank profiles, and none of them has this "
            "workbook's header row (docs/bank-profiles.md says how to add one). Check that it is a bank statement, or "
            "install the plugin for its format.\n") in reason
