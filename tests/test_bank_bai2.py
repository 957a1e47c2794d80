"""BAI2 (plugins/banks/bai2.py) on realistic files of each layout seen in the wild
(tests/data/banks/bai2/) and on broken ones; the conformance kit runs over the same folder (each
file beside its ``.expected.json`` or ``.error.json``). The real-world moov-io corpus is run by
tests/test_corpus.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador import HEAD_BYTES, StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.plugins.banks.bai2 import Bai2
from conciliador.pluginhost import PluginHost
from conciliador.testing import BankFormatCase, BankFormatConformance, load_samples

DATA = Path(__file__).parent / "data" / "banks" / "bai2"
ROOT = Path(__file__).resolve().parents[1]
BAI2 = Bai2()


def _bench():
    spec = importlib.util.spec_from_file_location("bench_parse_bai2", ROOT / "bench" / "parse_bai2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


def items(data: bytes | str | Path) -> list:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode()
    return list(BAI2.parse(io.BytesIO(data), "test.bai"))


def split(found: list) -> tuple[list[StatementLine], list[StatementSummary]]:
    return ([i for i in found if isinstance(i, StatementLine)], [i for i in found if isinstance(i, StatementSummary)])


def refused(data: bytes | str | Path) -> StatementError:
    with pytest.raises(StatementError) as info:
        items(data)
    assert info.value.position
    return info.value


# A minimal valid file: one group, one account, two details; 49 = 100000 + 150000 + 125000 +
# 25000 (summary and detail amounts as written), 4 records; 98 = 6 records; 99 = 8.
SMALL = """01,BANKID,CUSTID,260114,0800,1,80,,2/
02,CUSTID,BANKID,1,260114,2400,USD,2/
03,0123456789,USD,010,100000,,,015,150000,,/
16,142,125000,Z,REF1,FE-1,PAGO FE-1/
16,451,25000,Z,REF2,,CARGO/
49,400000,4/
98,400000,1,6/
99,400000,1,8/
"""


class TestBai2Conformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return BankFormatCase(format=BAI2, samples=load_samples(DATA), make_large=BENCH.generate, claims=("bai2",))


# -- detection ---------------------------------------------------------------------------------

def test_detect_by_content():
    assert BAI2.detect(SMALL.encode(), "x.txt") == 1.0
    assert BAI2.detect(b"\xef\xbb\xbf" + SMALL.encode(), "x.txt") == 1.0
    one_line = (DATA / "multi_record_lines.bai").read_bytes()[:HEAD_BYTES]
    assert BAI2.detect(one_line, "statement.dat") == 1.0  # 01 and 02 on the same physical line
    assert BAI2.detect(SMALL.splitlines()[0].encode(), "x.bai") == 0.6  # a file header alone
    assert BAI2.detect(b"00,0004,1/2/345,06/0321,0829,001,80,1,2/", "sample-parseError.txt") == 0.0
    assert BAI2.detect(b"01" + b"9" * 160 + b"\r\n", "x.bai") == 0.0  # Asobancaria's 01 record
    assert BAI2.detect(b"", "x.bai") == 0.0


# -- what is read --------------------------------------------------------------------------------

def test_standard_file_lines_and_balances():
    lines, summaries = split(items(DATA / "standard_two_groups.bai"))
    assert len(lines) == 10 and len(summaries) == 5
    first = lines[0]
    assert (first.account, first.currency, first.amount, first.booking_date) == (
        "000123456789", "USD", Decimal("1250.00"), dt.date(2026, 1, 14))
    assert (first.bank_reference, first.end_to_end_id, first.transaction_code) == ("ACH0114001", "FE-1001", "142")
    assert first.remittance == "PAGO FACTURA FE-1001, CLIENTE ALFA S.A.S."  # commas in the text
    wire = lines[1]  # funds type V: value date and time before the references; text goes on in an 88
    assert wire.value_date == dt.date(2026, 1, 14) and wire.bank_reference == "FW0114002"
    assert wire.remittance == "INCOMING WIRE FROM NORTHWIND TRADERS INC, REF FE-1002 FE-1003"
    assert lines[2].amount == Decimal("250.00") and lines[2].bank_reference == "LBX0114003"  # funds type S
    assert [ln.amount for ln in lines[3:5]] == [Decimal("-649.50"), Decimal("-500.00")]  # 475, 698: debits
    assert lines[5].amount == Decimal("1000.00") and lines[5].end_to_end_id == "E2E-7781"  # funds type D
    # 890 (non-monetary information) is no transaction; it still counts in the 49 controls.
    assert "STOP PAYMENT" not in " ".join(ln.remittance for ln in lines)
    # Currency from the group (COP) or the account (EUR, JPY), implied decimals by ISO 4217.
    assert [(ln.currency, ln.amount) for ln in lines[6:]] == [
        ("COP", Decimal("1000000.00")), ("COP", Decimal("234567.89")), ("EUR", Decimal("-50.00")),
        ("JPY", Decimal("250000"))]
    s = summaries[0]
    assert (s.statement_id, s.opening_balance, s.closing_balance, s.period_from, s.period_to) == (
        "021000021/260114/000123456789", Decimal("15000.00"), Decimal("17350.50"), dt.date(2026, 1, 14),
        dt.date(2026, 1, 14))
    assert s.declared_count is None and s.declared_total is None
    assert [x.statement_id for x in summaries[2:]] == [
        "BANCOLCOBB/260114/0011223344", "BANCOLCOBB/260114/0011223355", "BANCOLCOBB/260114/0011223366"]
    assert (summaries[4].opening_balance, summaries[4].closing_balance) == (Decimal("1000000"), Decimal("1250000"))
    assert all(ln.statement_id == summaries[0].statement_id for ln in lines[:5])


def test_agent_reads_standard_file_without_balance_breaks(formats):
    report = parse_file(DATA / "standard_two_groups.bai", formats)
    assert report.format == "bai2" and report.error == ""
    assert report.line_count == 10 and len(report.statements) == 5 and not report.balance_breaks
    assert report.currencies == {"USD", "COP", "EUR", "JPY"}


def test_records_without_slash_text_with_slashes_and_colon_continuation():
    lines, summaries = split(items(DATA / "goldman_style_no_slash.bai"))
    assert len(lines) == 4 and len(summaries) == 2
    first = lines[0]
    assert first.amount == Decimal("1000.00") and first.bank_reference == "SB2600000404"
    assert 'Remittance Info: "FE-3001/FE-3002"' in first.remittance and "EREF: GSQ4FBGF" in first.remittance
    assert (first.payer_name, first.payer_account) == ("CLIENTE BETA SAS", "4455667788")  # DBNM / DACT of a credit
    assert lines[1].end_to_end_id == "GS0D9VGMP1"  # no customer reference: the EREF addendum
    assert "FACT 08/12/25 FE-3003" in lines[1].remittance
    assert (lines[2].amount, lines[2].payer_name, lines[2].payer_account) == (
        Decimal("-500.00"), "PROVEEDOR DELTA", "609873838")  # CRNM / CACT of a debit
    assert summaries[0].closing_balance == Decimal("10931.50")


def test_several_records_per_line_wrapped_text_and_split_summary():
    lines, summaries = split(items(DATA / "multi_record_lines.bai"))
    assert [ln.position for ln in lines] == ["line 4", "line 4", "line 5", "line 6", "line 9", "line 10"]
    assert [ln.amount for ln in lines] == [Decimal(x) for x in ("25.00", "5.00", "1.00", "-25.00", "-6.00", "-1.00")]
    assert lines[3].remittance == "111111 ACH_SETL FE-4001 FE-4002 PO 7788"  # plain new line, then an 88
    assert [(s.opening_balance, s.closing_balance) for s in summaries] == [
        (Decimal("-35.00"), Decimal("-36.00")), (Decimal("0.00"), Decimal("0.00")),
        (Decimal("985.47"), Decimal("985.47"))]


def test_stale_trailers_are_accepted_with_a_warning(caplog, formats):
    """An account added to a group after its trailers were written (as in moov-io sample4/5): the
    98 contradicts its own 49s, so the controls cannot judge the records; the file is read."""
    with caplog.at_level(logging.WARNING, logger="conciliador.plugins.banks.bai2"):
        lines, summaries = split(items(DATA / "stale_trailers.bai"))
    assert len(lines) == 11 and len(summaries) == 6
    assert any("contradict one another" in r.getMessage() for r in caplog.records)
    added = lines[6]
    assert added.remittance == "DEPÓSITO EN CHEQUE CAFÉ PEÑA LTDA"  # Windows-1252 text
    report = parse_file(DATA / "stale_trailers.bai", formats)
    assert report.error == "" and not report.balance_breaks


def test_identical_details_get_ordinals():
    text = SMALL.replace("16,451,25000,Z,REF2,,CARGO/", "16,142,125000,Z,REF1,FE-1,PAGO FE-1/").replace(
        "49,400000,4/", "49,500000,4/").replace("98,400000", "98,500000").replace("99,400000", "99,500000")
    lines, _ = split(items(text))
    assert [ln.ordinal for ln in lines] == [0, 1] and lines[0].identity != lines[1].identity


def test_blank_currency_defaults_to_usd_and_blank_controls_are_not_checked():
    text = SMALL.replace("2400,USD,2/", "2400,,2/").replace("03,0123456789,USD,", "03,0123456789,,").replace(
        "49,400000,4/", "49,,/").replace("98,400000,1,6/", "98,,1,/").replace("99,400000,1,8/", "99,,1,/")
    lines, summaries = split(items(text))
    assert {ln.currency for ln in lines} == {"USD"} and summaries[0].closing_balance == Decimal("1500.00")


def test_several_files_in_one_and_blank_lines():
    lines, summaries = split(items(SMALL + "\n\n" + SMALL.replace("REF1", "REF9")))
    assert len(lines) == 4 and len(summaries) == 2


# -- refused -------------------------------------------------------------------------------------

@pytest.mark.parametrize("old,new,field,fragment", [
    ("98,400000,1,6/", "98,400000,1,7/", "99 number of records", "the 98 group trailers count 7"),
    ("99,400000,1,8/", "99,400000,2,8/", "99 number of groups", "declares 2 groups"),
    ("99,400000,1,8/", "99,400000,1,9/", "99 number of records", "declares 9 records"),
    ("02,CUSTID,BANKID,1,", "02,CUSTID,BANKID,2,", "group status", "deletion"),
    ("16,142,125000,Z,", "16,142,125000,X,", "funds type", "unknown funds type 'X'"),
    ("16,451,25000,Z,", "16,451,-25000,Z,", "amount", "unsigned amount"),
    ("16,451,25000,Z,", "16,451,,Z,", "amount", "has no amount"),
    ("16,451,25000,Z,", "16,45X,25000,Z,", "type code", "three-digit type code"),
    ("2400,USD,2/", "2400,U$D,2/", "currency", "not an ISO 4217 currency code"),
    ("015,150000,,/", "015,15O000,,/", "amount of 015", "not a whole number"),
    ("49,400000,4/", "49,400000,4X/", "49 number of records", "not a whole number"),
])
def test_malformed_records_are_refused(old, new, field, fragment):
    assert old in SMALL
    exc = refused(SMALL.replace(old, new))
    assert exc.field == field and fragment in exc.problem, exc


@pytest.mark.parametrize("text,fragment", [
    ("", "the file is empty"),
    ("02,CUSTID,BANKID,1,260114,2400,USD,2/\n", "must start with a 01 file header"),
    (SMALL.replace("03,0123456789,USD,010,100000,,,015,150000,,/\n", ""), "outside an account"),
    ("88,PAGO/\n" + SMALL, "no record before it"),
    (SMALL.replace("49,400000,4/\n", ""), "without the 49 trailer of account 0123456789"),
    (SMALL.replace("99,400000,1,8/\n", ""), "truncated: it ends inside the file"),
    (SMALL + "TOTAL 4000.00\n", "does not start with a record type"),
    (SMALL.replace("49,400000,4/", "49,400000,4/ garbage"), "unexpected text after the end of a record"),
    (SMALL.replace("98,400000,1,6/\n", ""), "before the 98 trailer"),
    (SMALL.replace("16,142,", "16:142,"), "must be followed by a comma"),
])
def test_broken_structure_is_refused(text, fragment):
    exc = refused(text)
    assert fragment in str(exc), exc


def test_group_record_count_is_checked_when_the_accounts_leave_theirs_blank():
    text = SMALL.replace("49,400000,4/", "49,400000,/").replace("98,400000,1,6/", "98,400000,1,7/").replace(
        "99,400000,1,8/", "99,400000,1,9/")
    exc = refused(text)
    assert exc.field == "98 number of records" and "declares 7 records but the group holds 6" in exc.problem


def test_trailers_that_agree_with_each_other_but_not_with_the_records_refuse_the_file():
    """A detail lost in transmission: the trailers were written for the full file, so they agree
    with one another and the 49 shows the loss."""
    exc = refused(SMALL.replace("16,451,25000,Z,REF2,,CARGO/\n", ""))
    assert exc.position == "line 5" and exc.field == "49 control total"


def test_broken_samples_name_the_record(formats):
    report = parse_file(DATA / "control_total_mismatch.bai", formats)
    assert report.format == "bai2"
    assert report.error.startswith("bai2: line 11, field 49 control total: the 49 trailer of account 000123456789")


# -- scale ---------------------------------------------------------------------------------------

def test_generated_file_of_many_groups_passes_every_control(tmp_path):
    path = tmp_path / "big.bai"
    BENCH.generate(path, 30_000)
    with open(path, "rb") as fh:
        lines, summaries = split(list(BAI2.parse(fh, path.name)))
    assert len(lines) == 30_000 and len(summaries) == 120
    assert len({ln.identity for ln in lines}) == 30_000
