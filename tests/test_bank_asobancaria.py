"""The ``asobancaria-2001`` bank format: detection, the lines it yields, its control checks and the
errors finance reads when a collection file is refused.

Samples are in tests/data/banks/asobancaria (written by make_samples.py there); faults are made
here from the same record builders so each test names the exact record it breaks.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conciliador import HEAD_BYTES, StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.pluginhost import PluginHost
from conciliador.plugins.banks.asobancaria import Asobancaria2001, _SequenceOrdinals

DATA = Path(__file__).parent / "data" / "banks" / "asobancaria"
_spec = importlib.util.spec_from_file_location("asobancaria_samples", DATA / "make_samples.py")
samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(samples)
r01, r05, r06, r08, r09 = samples.r01, samples.r05, samples.r06, samples.r08, samples.r09


@pytest.fixture(scope="module")
def fmt() -> Asobancaria2001:
    return Asobancaria2001()


def parse_bytes(fmt, data: bytes) -> list:
    return list(fmt.parse(io.BytesIO(data), "recaudo.txt"))


def parse_path(fmt, path: Path) -> tuple[list[StatementLine], list[StatementSummary]]:
    with open(path, "rb") as fh:
        items = list(fmt.parse(fh, path.name))
    return ([i for i in items if isinstance(i, StatementLine)], [i for i in items if isinstance(i, StatementSummary)])


def good_records() -> list[str]:
    """01, one lot of two collections (350,000.00 and 12,500.50), 08, 09: records 1 to 6."""
    return [r01("20261120", "007", "69812345678"), r05("0001"),
            r06("10011", 35000000, seq=1), r06("10012", 1250050, seq=2),
            r08(2, 36250050, "0001"), r09(2, 36250050)]


def refuse(fmt, records: list[str], *, newline: str = "\r\n") -> StatementError:
    with pytest.raises(StatementError) as info:
        parse_bytes(fmt, (newline.join(records) + newline).encode("latin-1"))
    return info.value


# -- detect -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["recaudo_bancolombia_crlf.txt", "recaudo_davivienda_3lotes_lf.txt",
                                  "recaudo_bogota_bom_repetidos.txt"])
def test_detect_is_sure_of_the_samples(fmt, name):
    head = (DATA / name).read_bytes()[:HEAD_BYTES]
    assert fmt.detect(head, "anything.dat") == 1.0


def test_detect_scores_an_unpadded_header_lower_but_still_claims_it(fmt):
    head = (r01("20261120", "007", "69812345678").rstrip() + "\r\n" + r05("0001")).encode()
    assert 0.7 <= fmt.detect(head, "x") < 1.0


@pytest.mark.parametrize("head", [
    b"", b"\x00" * 100, b"01,BANKID,CUSTID,261120,0615,1,,,2/\n",           # BAI2 file header
    b"# conciliador-csv v1\naccount,booking_date,amount,currency\n",
    b"0189090012342026133000700000069812345678202611200615A02",            # month 13
    b"0189090012342026112000700000069812345678202611202615A02",            # hour 26
    b"OFXHEADER:100\nDATA:OFXSGML\n", b"<?xml version='1.0'?><Document/>",
])
def test_detect_says_no_to_other_files(fmt, head):
    assert fmt.detect(head, "recaudo.txt") == 0.0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_detect_never_raises_on_garbage(head):
    assert 0.0 <= Asobancaria2001().detect(b"01" + head, "x") <= 1.0


# -- the lines ------------------------------------------------------------------------------------

def test_textbook_file(fmt):
    lines, summaries = parse_path(fmt, DATA / "recaudo_bancolombia_crlf.txt")
    assert [line.amount for line in lines] == [Decimal("350000.00"), Decimal("12500.50"), Decimal("489900.00"),
                                                Decimal("99.00"), Decimal("1200000.00")]
    first = lines[0]
    assert first.account == "69812345678"            # zero padding of the 17-digit field removed
    assert first.currency == "COP"
    assert first.booking_date == dt.date(2026, 11, 20)
    assert first.statement_id == "20261120-A"
    assert first.bank_reference == "20261120-A/0001/0000001"
    assert first.end_to_end_id == "10011"
    assert first.remittance.split()[:2] == ["10011", "0" * 43 + "10011"]   # stripped, then the exact 48 digits
    assert "origen: entidad financiera; medio: efectivo" in first.remittance
    assert first.transaction_code == "01/01"
    assert first.position == "record 3"
    assert all(line.amount > 0 for line in lines)     # collections only
    assert "medio: cheque; banco: Bancolombia" in lines[1].remittance
    assert "origen: ACH; medio: débito a cuenta por internet; banco: Davivienda" in lines[2].remittance
    assert "tarjeta de crédito en datáfono" in lines[3].remittance
    assert lines[3].end_to_end_id == "7700000010031"
    [summary] = summaries
    assert summary == StatementSummary(account="69812345678", currency="COP", statement_id="20261120-A",
                                       period_from=dt.date(2026, 11, 20), period_to=dt.date(2026, 11, 20),
                                       declared_count=5, declared_total=Decimal("2052499.50"), position="record 9")
    assert summary.opening_balance is None and summary.closing_balance is None


def test_several_lots_lf_unpadded_controls_no_final_newline_latin1(fmt):
    data = (DATA / "recaudo_davivienda_3lotes_lf.txt").read_bytes()
    assert not data.endswith(b"\n") and b"A\xd1O" in data      # Latin-1 "AÑO" in the reserved area
    lines, [summary] = parse_path(fmt, DATA / "recaudo_davivienda_3lotes_lf.txt")
    assert len(lines) == 7
    assert {line.account for line in lines} == {"475012345"}
    assert lines[0].statement_id == "20261121-B"
    assert [line.bank_reference for line in lines[3:5]] == ["20261121-B/0002/0000001", "20261121-B/0003/0000001"]
    assert summary.declared_count == 7
    assert summary.declared_total == sum(line.amount for line in lines) == Decimal("1763000.49")


def test_bom_unnumbered_identical_collections_keep_two_identities(fmt):
    lines, [summary] = parse_path(fmt, DATA / "recaudo_bogota_bom_repetidos.txt")
    assert [line.bank_reference for line in lines] == ["20261123-A/0001/r1", "20261123-A/0001/r2",
                                                       "20261123-A/0001/r3"]
    assert lines[0].amount == lines[1].amount and lines[0].end_to_end_id == lines[1].end_to_end_id
    assert len({line.identity for line in lines}) == 3
    assert "causal de devolución R02" in lines[2].remittance
    assert summary.declared_count == 3


def test_identity_is_the_same_when_the_file_is_read_again(fmt):
    first, _ = parse_path(fmt, DATA / "recaudo_bancolombia_crlf.txt")
    again, _ = parse_path(fmt, DATA / "recaudo_bancolombia_crlf.txt")
    assert [line.identity for line in first] == [line.identity for line in again]
    assert len({line.identity for line in first}) == len(first)


def test_a_repeated_sequence_gets_the_next_ordinal(fmt):
    records = good_records()
    records[3] = r06("10011", 35000000, seq=1)       # the same collection twice, same sequence
    records[4:] = [r08(2, 70000000, "0001"), r09(2, 70000000)]
    lines = [i for i in parse_bytes(fmt, "\n".join(records).encode()) if isinstance(i, StatementLine)]
    assert [line.ordinal for line in lines] == [0, 1]
    assert lines[0].identity != lines[1].identity


def test_operation_number_is_the_reference_when_there_is_no_sequence(fmt):
    records = good_records()
    records[2] = r06("10011", 35000000, seq=0, op="004512")
    lines = [i for i in parse_bytes(fmt, "\n".join(records).encode()) if isinstance(i, StatementLine)]
    assert lines[0].bank_reference == "20261120-A/0001/op004512"


def test_through_the_plugin_host_and_the_core_checks():
    formats = PluginHost().load().bank_formats()
    for name in ("recaudo_bancolombia_crlf.txt", "recaudo_davivienda_3lotes_lf.txt", "recaudo_bogota_bom_repetidos.txt"):
        report = parse_file(DATA / name, formats)
        assert report.format == "asobancaria-2001" and not report.error, report.error
        assert report.debit_sum == 0 and report.currencies == {"COP"}
        assert not report.balance_breaks


def test_records_trimmed_of_their_padding_are_read(fmt):
    records = [r.rstrip() for r in good_records()]
    records[2] = records[2][:94]      # 06 without its (blank) return reason
    items = parse_bytes(fmt, "\n".join(records).encode())
    assert len(items) == 3


def test_an_empty_lot_declaring_zero_is_accepted(fmt):
    records = good_records()
    records[5:5] = [r05("0002"), r08(0, 0, "0002")]
    assert len(parse_bytes(fmt, "\r\n".join(records).encode())) == 3


def test_blank_lines_and_a_dos_end_of_file_mark_are_ignored(fmt):
    data = ("\r\n".join(good_records()) + "\r\n\r\n\x1a").encode()
    assert len(parse_bytes(fmt, data)) == 3


def test_a_record_padded_beyond_162_with_blanks_is_read(fmt):
    records = good_records()
    records[4] = records[4].rstrip().ljust(256)      # as in a public sample: an 08 of 256 characters
    assert len(parse_bytes(fmt, "\n".join(records).encode())) == 3


# -- refusals: each names the record and the field ------------------------------------------------

def test_refuses_a_lot_total_that_does_not_add_up(fmt):
    with pytest.raises(StatementError) as info:
        parse_path(fmt, DATA / "roto_total_lote.txt")
    err = info.value
    assert (err.position, err.field) == ("record 5", "total (positions 12-29)")
    assert "362500.00" in err.problem and "362500.50" in err.problem


def test_refuses_a_truncated_transfer(fmt):
    with pytest.raises(StatementError) as info:
        parse_path(fmt, DATA / "roto_truncado.txt")
    assert info.value.position == "record 4" and "cut short" in info.value.problem


def test_refuses_a_file_control_that_does_not_match_the_lots(fmt):
    with pytest.raises(StatementError) as info:
        parse_path(fmt, DATA / "roto_control_archivo.txt")
    err = info.value
    assert (err.position, err.field) == ("record 9", "record count (positions 3-11)")
    assert "declares 2 detail records but the file holds 3 (in 2 lots)" in err.problem


def test_refuses_a_file_control_total_mismatch(fmt):
    records = good_records()
    records[5] = r09(2, 36250049)
    err = refuse(fmt, records)
    assert (err.position, err.field) == ("record 6", "total (positions 12-29)")


def test_refuses_a_lot_count_mismatch(fmt):
    records = good_records()
    records[4] = r08(3, 36250050, "0001")
    err = refuse(fmt, records)
    assert (err.position, err.field) == ("record 5", "record count (positions 3-11)")
    assert "declares 3 detail records but holds 2" in err.problem


def test_refuses_a_lot_number_mismatch(fmt):
    records = good_records()
    records[4] = r08(2, 36250050, "0002")
    err = refuse(fmt, records)
    assert (err.position, err.field) == ("record 5", "lot number (positions 30-33)")
    assert "lot 0002" in err.problem and "lot 0001" in err.problem


@pytest.mark.parametrize("mutate, position, field, words", [
    (lambda r: r[:1] + r[2:], "record 2", "record type", "outside a lot"),                # 06 before any 05
    (lambda r: r[:4] + [r05("0002")] + r[4:], "record 5", "record type", "has no 08"),    # 05 inside a lot
    (lambda r: r[:4] + r[5:], "record 5", "record type", "no 08 lot control"),            # 09 inside a lot
    (lambda r: r + [r06("1", 100)], "record 7", "record type", "after the 09"),
    (lambda r: r[:1] + ["07" + r[1][2:]] + r[2:], "record 2", "record type (positions 1-2)", "'07'"),
    (lambda r: [r[0]] + r, "record 2", "record type", "second 01"),
    (lambda r: r[1:], "record 1", "record type", "instead of the 01"),
    (lambda r: [r[0], r09(0, 0)], "record 2", "record type", "no lot"),
])
def test_refuses_records_out_of_order(fmt, mutate, position, field, words):
    err = refuse(fmt, mutate(good_records()))
    assert (err.position, err.field) == (position, field)
    assert words in err.problem


@pytest.mark.parametrize("index, start, text, field", [
    (0, 13, "20261131", "collection date (positions 13-20)"),
    (0, 41, "2026x120", "file date (positions 41-48)"),
    (0, 49, "2460", "file time (positions 49-52)"),
    (0, 3, "89090A1234", "biller NIT (positions 3-12)"),
    (0, 53, "*", "file modifier (position 53)"),
    (2, 51, "0000003500000O", "amount (positions 51-64)"),
    (2, 65, "X1", "payment origin (positions 65-66)"),
    (2, 88, "00-0001", "sequence (positions 88-94)"),
    (4, 12, "00000000003625005O", "total (positions 12-29)"),
    (4, 3, "00000000A", "record count (positions 3-11)"),
])
def test_refuses_malformed_fields(fmt, index, start, text, field):
    records = good_records()
    record = records[index]
    records[index] = record[:start - 1] + text + record[start - 1 + len(text):]
    err = refuse(fmt, records)
    assert (err.position, err.field) == (f"record {index + 1}", field)


def test_refuses_a_collection_of_zero(fmt):
    records = good_records()
    records[2] = r06("10011", 0)
    records[4:] = [r08(2, 1250050, "0001"), r09(2, 1250050)]
    err = refuse(fmt, records)
    assert (err.position, err.field) == ("record 3", "amount (positions 51-64)")


def test_refuses_a_file_without_its_file_control(fmt):
    err = refuse(fmt, good_records()[:-1])
    assert err.position == "end of file (after record 5)" and "09 file control" in err.problem


def test_refuses_a_file_cut_inside_a_lot(fmt):
    with pytest.raises(StatementError) as info:
        parse_bytes(fmt, "\r\n".join(good_records()[:3]).encode())      # no final newline either
    err = info.value
    assert "08 lot control of lot 0001" in err.problem


def test_refuses_data_beyond_position_162(fmt):
    records = good_records()
    records[2] = records[2] + "0600"
    err = refuse(fmt, records)
    assert err.position == "record 3" and "beyond position 162" in err.problem


def test_refuses_a_runaway_line(fmt):
    err = refuse(fmt, [good_records()[0], "9" * 5000])
    assert err.position == "record 2"


def test_refuses_the_1998_layout(fmt):
    record = "01" + "8909001234" + "20261120" + "007" + "0" * 6 + "69812345678" + "202611200615A02"
    err = refuse(fmt, [record.ljust(128)])
    assert "1998" in err.problem


def test_refuses_an_empty_file(fmt):
    with pytest.raises(StatementError):
        parse_bytes(fmt, b"")


# -- ordinals without remembering every line ------------------------------------------------------

def test_sequence_ordinals_count_repeats_in_any_order():
    ordinals = _SequenceOrdinals()
    seen = [ordinals("0001", n) for n in (1, 2, 3, 7, 5, 2, 6, 4, 4, 7, 8)]
    assert seen == [0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    assert ordinals._ranges["0001"] == [[1, 8]]
    assert ordinals("0002", 1) == 0           # another lot is another namespace
