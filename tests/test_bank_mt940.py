"""SWIFT MT940 / MT942 (plugins/banks/mt940.py) on realistic files of each dialect
(tests/data/banks/mt940/) and on broken ones. The real-world corpus is run by tests/test_corpus.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador import StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.plugins.banks.mt940 import Mt940, Mt942
from conciliador.pluginhost import PluginHost

DATA = Path(__file__).parent / "data" / "banks" / "mt940"
ROOT = Path(__file__).resolve().parents[1]
MT940, MT942 = Mt940(), Mt942()


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


def items(data: bytes | str | Path, fmt=MT940) -> list:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode()
    return list(fmt.parse(io.BytesIO(data), "test.sta"))


def split(found: list) -> tuple[list[StatementLine], list[StatementSummary]]:
    return ([i for i in found if isinstance(i, StatementLine)], [i for i in found if isinstance(i, StatementSummary)])


def reject(data: bytes | str | Path, fmt=MT940) -> StatementError:
    with pytest.raises(StatementError) as info:
        items(data, fmt)
    return info.value


def statement(*body: str, opening: str = ":60F:C261119EUR1000,00", closing: str = ":62F:C261120EUR1100,00") -> str:
    return "\n".join([":20:T1", ":25:DE89370400440532013000", ":28C:1/1", opening, *body, closing, "-", ""])


# -------------------------------------------------------------------------------------------
# Realistic files, one per dialect


def test_both_formats_are_registered(formats):
    assert {"mt940", "mt942"} <= {f.name for f in formats}


def test_swift_envelope_multi_statement(formats):
    report = parse_file(DATA / "swift_envelope.sta", formats)
    assert (report.format, report.error, report.line_count) == ("mt940", "", 3)
    assert not report.balance_breaks and len(report.statements) == 2
    lines, summaries = split(items(DATA / "swift_envelope.sta"))
    first = lines[0]
    assert first.amount == Decimal("2500000.00") and first.currency == "COP"
    assert first.account == "CO12BANCOLOMBIA0123456789"
    assert first.bank_reference == "BC261120000001" and first.end_to_end_id == "E2E-ACME-0001"
    assert first.payer_name == "ACME S.A.S."
    assert first.remittance == "FE-1001 FE-1002 PAGO FACTURA"  # /REMI/ then the supplementary line
    assert first.booking_date == first.value_date == dt.date(2026, 11, 20)
    assert first.position == "line 6" and first.statement_id == "STMT20261120/00321/1"
    assert lines[1].amount == Decimal("-350000.50") and lines[1].remittance == "COMISION TRANSFERENCIA INTERNACIONAL"
    assert lines[2].amount == Decimal("1200000")  # "1200000," : a comma and no decimals
    assert [(s.opening_balance, s.closing_balance) for s in summaries] == [
        (Decimal("15000000.00"), Decimal("17149999.50")), (Decimal("17149999.50"), Decimal("18349999.50"))]
    assert summaries[0].period_from == dt.date(2026, 11, 19) and summaries[0].period_to == dt.date(2026, 11, 20)


def test_abnamro_header_lines_amounts_without_decimals_and_intermediate_pages(formats):
    report = parse_file(DATA / "abnamro.sta", formats)
    assert (report.format, report.error, report.line_count, len(report.statements)) == ("mt940", "", 4, 2)
    assert not report.balance_breaks
    lines, summaries = split(items(DATA / "abnamro.sta"))
    assert [line.amount for line in lines] == [Decimal("-9"), Decimal("-107"), Decimal("1250.75"), Decimal("-15")]
    assert lines[0].remittance.startswith("GIRO 428428 KPN - DIGITENNE") and "INCL. 1,44 BTW" in lines[0].remittance
    sepa = lines[2]
    assert (sepa.payer_name, sepa.payer_account, sepa.remittance) == ("J JANSEN", "NL44RABO0123456789", "FACTUUR 2011-0042")
    assert sepa.end_to_end_id == ""  # NOTPROVIDED
    assert [s.statement_id for s in summaries] == ["ABN AMRO BANK NV/19321/1", "ABN AMRO BANK NV/19322/1"]
    assert summaries[1].opening_balance == Decimal("4371.03") and summaries[1].closing_balance == Decimal("4356.03")


def test_ing_dutch_tags_reversals_and_statement_level_info(formats):
    report = parse_file(DATA / "ing.sta", formats)
    assert (report.format, report.error, report.line_count, len(report.statements)) == ("mt940", "", 4, 1)
    assert not report.balance_breaks
    lines, (summary,) = split(items(DATA / "ing.sta"))
    assert summary.account == "NL69INGB0123456789"  # "IBAN" + "EUR" in :25:, the currency cut off
    assert [line.amount for line in lines] == [Decimal("1.56"), Decimal("-1.57"), Decimal("-1.57"), Decimal("3.00")]
    first, _, returned, reversed_debit = lines
    assert first.end_to_end_id == "EV12341REP1231456T1234"
    assert (first.payer_name, first.payer_account) == ("ING BANK NV INZAKE WEB", "NL32INGB0000012345")
    assert first.remittance == "EV10001REP1000000T1000" and first.transaction_code == "NTRF/00100"
    # RC = reversal of a credit: money out; RD = reversal of a debit: money in.
    assert returned.amount < 0 and returned.remittance == "RTRN MS03 Factuur nr 123456 Klantnr 00123"
    assert returned.payer_name == "J.Janssen"  # wrapped inside the name: lines join without a space
    assert reversed_debit.amount > 0 and reversed_debit.payer_name == "Café Hôtel BV"  # UTF-8
    assert reversed_debit.payer_account == "NL32INGB0000012345"


def test_german_subfields_in_cp1252_with_year_rollover(formats):
    report = parse_file(DATA / "german_cp1252.sta", formats)
    assert (report.format, report.error, report.line_count) == ("mt940", "", 4) and not report.balance_breaks
    lines, (summary,) = split(items(DATA / "german_cp1252.sta"))
    credit, debit, rc, rd = lines
    assert credit.value_date == dt.date(2025, 12, 31) and credit.booking_date == dt.date(2026, 1, 2)
    assert credit.amount == Decimal("1500.00")  # "CR": C + funds code R
    assert credit.end_to_end_id == "RG-2025-0815" and credit.remittance == "Rechnung 2025-0815 Bäckerei Müller"
    assert credit.payer_name == "Bäckerei Müller GmbH & Co. KG" and credit.payer_account == "DE02120300000000202051"
    assert credit.transaction_code == "NTRF/166"
    assert debit.amount == Decimal("-99.90") and debit.end_to_end_id == "VA-889977"
    assert debit.remittance == "Stromabschlag Januar" and debit.payer_name == "Stadtwerke München GmbH"
    assert debit.payer_account == "DE32700500000000012345"  # ?31 wrapped across two lines
    assert rc.amount == Decimal("-250.00") and rc.payer_name == "Jörg Weiß"
    assert rc.remittance == "Rücküberweisung IBAN ungültig"
    assert rd.amount == Decimal("42.17") and rd.remittance == "Erstattung Gebühren Dezember"  # :NS: skipped
    assert summary.account == "37040044/0532013000" and summary.closing_balance == Decimal("11192.27")


def test_mt942_with_floor_limits_and_declared_totals(formats):
    report = parse_file(DATA / "mt942.sta", formats)
    assert (report.format, report.error, report.line_count, len(report.statements)) == ("mt942", "", 4, 2)
    lines, summaries = split(items(DATA / "mt942.sta", MT942))
    assert [line.amount for line in lines] == [Decimal("1500.00"), Decimal("249.50"), Decimal("-80.25"),
                                               Decimal("-1000")]
    assert lines[0].payer_name == "Cliente Uno S.A.S." and lines[1].end_to_end_id == "E2E-2"
    first, second = summaries
    assert first.opening_balance is None and first.closing_balance is None
    assert first.declared_movement == Decimal("1669.25") and second.declared_movement == Decimal("-1000")
    assert first.period_to == dt.date(2026, 11, 20) and second.statement_id == "MT942-0002/12/2"


def test_amounts_without_comma_zero_balances_and_statements_without_separator(formats):
    report = parse_file(DATA / "no_decimals_multi.sta", formats)
    assert (report.format, report.error, report.line_count, len(report.statements)) == ("mt940", "", 3, 2)
    assert not report.balance_breaks
    lines, summaries = split(items(DATA / "no_decimals_multi.sta"))
    assert [line.amount for line in lines] == [Decimal("500"), Decimal("-9"), Decimal("-491")]
    assert lines[0].payer_name == "PICQER BV" and lines[0].remittance == "FACTUUR 201403110"
    assert lines[1].bank_reference == "" and lines[1].booking_date == dt.date(2014, 5, 7)  # Citi's 4 spaces
    assert [(s.opening_balance, s.closing_balance) for s in summaries] == [(0, 491), (491, 0)]


# -------------------------------------------------------------------------------------------
# Broken files


@pytest.mark.parametrize(("name", "fmt", "position", "field", "words"), [
    ("broken_truncated.sta", MT940, "line 9", ":62F:", "without its closing balance"),
    ("broken_61.sta", MT940, "line 6", ":61: mark", "debit/credit mark"),
    ("broken_date.sta", MT940, "line 5", ":61: value date", "'261320' is not a date"),
    ("broken_amount.sta", MT940, "line 5", ":61: amount", "'100.00' is not an amount"),
    ("broken_subfields.sta", MT940, "line 5", ":86:", "sub-fields are broken"),
])
def test_broken_files_are_refused_with_position_and_field(name, fmt, position, field, words, formats):
    error = reject(DATA / name, fmt)
    assert (error.position, error.field) == (position, field)
    assert words in error.problem
    report = parse_file(DATA / name, formats)
    assert report.format == fmt.name and report.error


def test_mt942_totals_that_disagree_are_a_recorded_break_not_a_refusal(formats):
    """Interim reports disagree with themselves in real files (the shared corpus has one): like a
    balance break, the lines are kept and the gap is recorded; strict_balances refuses instead."""
    report = parse_file(DATA / "broken_mt942_90d.sta", formats)
    assert report.format == "mt942" and report.error == ""
    [checked] = report.balance_breaks
    assert checked.balance_break == Decimal("-0.25")  # declared -100.25, lines -100.00
    strict = parse_file(DATA / "broken_mt942_90d.sta", formats, strict_balances=True)
    assert "declares a net movement of -100.25" in strict.error and "strict_balances" in strict.error


def test_lines_stream_before_a_later_error():
    """The reader yields as it goes: the first statement comes out before the truncation is seen."""
    seen = []
    with pytest.raises(StatementError):
        for item in MT940.parse(io.BytesIO((DATA / "broken_truncated.sta").read_bytes()), "x"):
            seen.append(item)
    assert [type(i).__name__ for i in seen] == ["StatementLine", "StatementSummary", "StatementLine"]


@pytest.mark.parametrize(("text", "field", "words"), [
    (statement(":61:2611201120C100,00NTRFNONREF//R1", ":25:DE89370400440532013000"), ":25:", "second :25:"),
    (":20:T1\n:25:X\n:61:2611201120C100,00NTRFNONREF//R1\n-\n", ":61:", "before the account"),
    (statement(":61:2611201120C100,00NTRFNONREF//R1", closing=":62F:C261120USD1100,00"), ":62F:", "USD"),
    (statement(":61:2611201120C100,00NTRFNONREF//R1", closing=":62F:C2611EUR1100,00"), ":62F:", "not a balance"),
    (statement(":61:2611201120C100,00NTRFNONREF//R1", opening=":60F:C261119EUR1.000,00"), ":60F:", "not an amount"),
    (statement(":61:2611201120C100,00"), ":61: transaction type", "transaction type"),
    (statement(":61:26112C100,00NTRF"), ":61:", "value date"),
    (statement(":61:2611201340C100,00NTRFNONREF"), ":61: entry date", "entry date"),
    (":20:T1\n:25:X\n:28C:1\n:62F:C261120EUR1,00\n-\n", ":62F:", "without opening balance"),
    (":20:T1\n:25:X\n:28C:1\n-\n", ":60F:", "no opening balance"),
    (":20:R\n:25:X\n:13D:2611201015+0100\n:61:2611201120C1,00NTRFNONREF\n-\n", ":61:", "before the account"),
    (":20:R\n:25:X\n:34F:EUR0,\n:61:2611201120C1,00NTRFNONREF\n:90C:1USD1,00\n-\n", ":90C:", "in USD"),
])
def test_malformed_statements(text, field, words):
    error = reject(text)
    assert error.field == field and words in error.problem and error.position.startswith("line ")


def test_absurd_lines_and_fields_are_refused_without_reading_everything():
    assert "longer than" in reject(b":20:" + b"x" * 200_000).problem
    assert reject(statement(":61:2611201120C100,00NTRFNONREF//R1", ":86:" + "\nX" * 70_000)).field == ":86:"


# -------------------------------------------------------------------------------------------
# Tolerances


def test_february_30_is_moved_to_the_last_day_of_the_month():
    (line,), _ = split(items(statement(":61:2602300301DR100,00N024NONREF", ":86:805?00ENTGELT?20Pauschale")))
    assert line.value_date == dt.date(2026, 2, 28) and line.booking_date == dt.date(2026, 3, 1)
    assert line.amount == Decimal("-100.00") and line.remittance == "Pauschale"


def test_entry_date_in_the_previous_year():
    (line,), _ = split(items(statement(":61:2601021231C100,00NTRFNONREF//R1")))
    assert line.value_date == dt.date(2026, 1, 2) and line.booking_date == dt.date(2025, 12, 31)


def test_encodings_bom_latin1_crlf_and_envelope_on_one_line():
    text = statement(":61:2611201120C100,00NTRFNONREF//R1", ":86:PAGO SEÑOR NUÑEZ \x81").replace("\n", "\r\n")
    raw = b"\xef\xbb\xbf{1:F01X}{2:O940X}{4::20:T0\r\n" + text.encode("latin-1")
    (line,), (summary,) = split(items(raw))
    assert line.remittance == "PAGO SEÑOR NUÑEZ \x81" and summary.statement_id == "T1/1/1"
    utf8 = statement(":61:2611201120C100,00NTRFNONREF//R1", ":86:PAGO SEÑOR NUÑEZ").encode("utf-8")
    assert split(items(b"\xef\xbb\xbf" + utf8.rstrip(b"\n")))[0][0].remittance == "PAGO SEÑOR NUÑEZ"


def test_multiple_info_fields_and_custom_tags_stay_with_their_transaction():
    (line,), _ = split(items(statement(":61:2611201120C100,00NTRFNONREF//R1", ":NS:22JOHN", "23DOE",
                                       ":86:BETALINGSKENM. 123", ":86:FACTUUR 987", ":64:C261120EUR1100,00")))
    assert line.remittance == "BETALINGSKENM. 123 FACTUUR 987"


def test_a_transaction_after_the_end_of_its_statement_keeps_the_previous_account():
    """truth.json self-provided/multiline: a :61: after "-" is read, belongs to no summary."""
    found = items(statement(":61:2611201120C100,00NTRFNONREF//R1") + ":61:2611211121C5,NMSCX//Y\nPaiement\n")
    assert [type(i).__name__ for i in found] == ["StatementLine", "StatementSummary", "StatementLine"]
    assert found[2].account == "DE89370400440532013000" and found[2].remittance == "X Paiement"


def test_identical_transactions_get_ordinals():
    lines, _ = split(items(statement(*[":61:2611201120C50,00NTRFNONREF//R1"] * 2)))
    assert [line.ordinal for line in lines] == [0, 1] and lines[0].identity != lines[1].identity


def test_same_file_read_twice_gives_the_same_identities():
    first = [i.identity for i in split(items(DATA / "ing.sta"))[0]]
    assert first == [i.identity for i in split(items(DATA / "ing.sta"))[0]] and len(set(first)) == 4


# -------------------------------------------------------------------------------------------
# Detection


@pytest.mark.parametrize("name", ["swift_envelope.sta", "abnamro.sta", "ing.sta", "german_cp1252.sta",
                                  "no_decimals_multi.sta"])
def test_detects_mt940(name):
    head = (DATA / name).read_bytes()[:8192]
    assert MT940.detect(head, "x.txt") >= 0.9 and MT942.detect(head, "x.txt") < MT940.detect(head, "x.txt")


def test_detects_mt942():
    head = (DATA / "mt942.sta").read_bytes()
    assert MT942.detect(head, "x") > 0.9 and MT940.detect(head, "x") < MT942.detect(head, "x")


@pytest.mark.parametrize("head", [b"", b"\x00" * 100, b"1\n2\n3\n", b"account,booking_date,amount,currency\n",
                                  b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
                                  b"OFXHEADER:100\nDATA:OFXSGML\n", b"01,BANK,CUST,261120,1200,1,,,2/\n"])
def test_other_files_are_not_mine(head):
    assert MT940.detect(head, "statement.sta") == 0.0 and MT942.detect(head, "statement.sta") == 0.0


def test_detect_never_raises_on_garbage():
    rng = random.Random(940)
    for _ in range(300):
        head = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        for fmt in (MT940, MT942):
            assert 0.0 <= fmt.detect(head, "") <= 1.0


# -------------------------------------------------------------------------------------------
# Benchmark generator


def test_benchmark_file_is_valid_and_reconciles(tmp_path, formats):
    spec = importlib.util.spec_from_file_location("parse_mt940_bench", ROOT / "bench" / "parse_mt940.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(tmp_path / "b.sta", 600)
    report = parse_file(tmp_path / "b.sta", formats)
    assert (report.format, report.error, report.line_count, len(report.statements)) == ("mt940", "", 600, 3)
    assert not report.balance_breaks
