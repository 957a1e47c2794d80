"""The ``conciliador-csv`` bank format: detection, parsing and the errors finance gets to read."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador import HEAD_BYTES, StatementError, StatementLine, StatementSummary
from conciliador.plugins.banks.simplecsv import SimpleCsv

DATA = Path(__file__).parent / "data" / "csv"
BANCOLOMBIA = DATA / "bancolombia_cop_2026-11.csv"
DAVIVIENDA_BOM_CRLF = DATA / "davivienda_bom_crlf.csv"
REORDERED = DATA / "export_reordered_columns.csv"

HEADER = "account,booking_date,value_date,amount,currency,bank_reference,payer_name,remittance"
GOOD_ROW = "69812345678,2026-11-21,2026-11-21,350000.00,COP,TRF9001,Ana María Ríos,FE-1010"


@pytest.fixture
def fmt() -> SimpleCsv:
    return SimpleCsv()


def parse_path(fmt: SimpleCsv, path: Path) -> list[StatementLine | StatementSummary]:
    with open(path, "rb") as fh:
        return list(fmt.parse(fh, path.name))


def head_of(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def write_statement(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "stmt.csv",
                    encoding: str = "utf-8") -> Path:
    """Four comment lines and the header, so the first data row is line 6 and the second line 7:
    the error tests can then say exactly which line the message must name."""
    lines = [
        "# conciliador-csv v1",
        "# statement_id=BC-2026-11-002",
        "# opening_balance=1000000.00",
        "# closing_balance=1350000.00",
        header,
        *rows,
    ]
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


# -- detect ------------------------------------------------------------------------------------

def test_detect_is_certain_with_the_magic_line(fmt):
    assert fmt.detect(head_of(BANCOLOMBIA), BANCOLOMBIA.name) == 1.0


def test_detect_sees_the_magic_line_behind_a_bom_and_crlf(fmt):
    head = head_of(DAVIVIENDA_BOM_CRLF)
    assert head.startswith(b"\xef\xbb\xbf") and b"\r\n" in head  # the fixture really is BOM + CRLF
    assert fmt.detect(head, DAVIVIENDA_BOM_CRLF.name) == 1.0


def test_detect_is_fairly_sure_with_only_a_header(fmt):
    assert fmt.detect(head_of(REORDERED), REORDERED.name) == 0.9


def test_detect_does_not_trust_the_file_name(fmt):
    # Banks and people rename files: a .csv name on an MT940 must not make it ours.
    assert fmt.detect(b":20:STMT\r\n:25:123\r\n", "extracto.csv") == 0.0


MT940 = (
    b"{1:F01BCOLCOBMAXXX0000000000}{2:I940BCOLCOBMXXXXN}{4:\r\n"
    b":20:STMT20261130\r\n:25:69812345678\r\n:28C:00330/001\r\n"
    b":60F:C261101COP12500000,00\r\n"
    b":61:2611021102C1500000,00NTRFTRF0001//INV\r\n:86:Pago FE-1001 Inversiones Penalosa\r\n"
    b":62F:C261130COP17016681,00\r\n-}\r\n"
)
CAMT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
    b"<GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-11-30T18:00:00</CreDtTm></GrpHdr>"
    b"<Stmt><Id>1</Id><Acct><Id><Othr><Id>69812345678</Id></Othr></Id><Ccy>COP</Ccy></Acct>"
    b'<Ntry><Amt Ccy="COP">1500000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry></Stmt>'
    b"</BkToCstmrStmt></Document>\n"
)
GARBAGE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\xff\xfe\x00\x80" * 40
LATIN1 = (
    "# conciliador-csv v1\n"
    "account,booking_date,amount,currency,payer_name\n"
    "69812345678,2026-11-02,1500000.00,COP,José Peñalosa Gómez\n"
    "69812345678,2026-11-03,250000.00,COP,Ferretería Ñandú\n"
).encode("latin-1")


@pytest.mark.parametrize("head", [MT940, CAMT, GARBAGE, b"", b"\n\n  \r\n", LATIN1],
                         ids=["mt940", "camt053", "binary", "empty", "blank-lines", "latin-1"])
def test_detect_refuses_other_files(fmt, head):
    assert fmt.detect(head, "statement.csv") == 0.0


def test_detect_refuses_latin1_whose_only_accent_is_near_the_end(fmt):
    # A short file is complete, so no multi-byte character can have been cut: the 'ñ' three bytes
    # from the end is Latin-1, not a truncated UTF-8 sequence, and the file is not ours.
    head = ("# conciliador-csv v1\n"
            "account,booking_date,amount,currency,payer_name\n"
            "69812345678,2026-11-02,1500000.00,COP,Peña\n").encode("latin-1")
    assert len(head) < HEAD_BYTES
    assert fmt.detect(head, "statement.csv") == 0.0


def test_detect_tolerates_a_utf8_character_cut_by_the_head_limit(fmt):
    # The core hands over exactly HEAD_BYTES; a two-byte 'é' straddling that edge is not an encoding error.
    prefix = b"# conciliador-csv v1\n" + HEADER.encode() + b"\n"
    row = GOOD_ROW.encode() + b"\n"
    body = prefix + row * ((HEAD_BYTES - len(prefix)) // len(row))
    body += b"x" * (HEAD_BYTES - 1 - len(body)) + "é".encode()
    head = body[:HEAD_BYTES]
    assert head.endswith(b"\xc3")  # the cut really falls inside the character
    assert fmt.detect(head, "big.csv") == 1.0


def test_detect_needs_every_required_column(fmt):
    assert fmt.detect(b"account,booking_date,amount\n123,2026-11-02,10.00\n", "s.csv") == 0.0


# -- parse -------------------------------------------------------------------------------------

def test_parse_colombian_statement_lines(fmt):
    items = parse_path(fmt, BANCOLOMBIA)
    lines = [i for i in items if isinstance(i, StatementLine)]
    assert len(lines) == 6
    first = lines[0]
    assert first.account == "69812345678"
    assert first.currency == "COP"
    assert first.booking_date == dt.date(2026, 11, 2)
    assert first.value_date == dt.date(2026, 11, 2)
    assert first.amount == Decimal("1500000.00") and isinstance(first.amount, Decimal)
    assert first.bank_reference == "TRF0001"
    assert first.payer_name == "Inversiones Peñalosa S.A.S."
    assert first.payer_id == "900123456"
    assert first.remittance == "Pago FE-1001"
    assert first.position == "line 6"
    # Quoted field with a comma inside stays one field, accents intact.
    assert lines[2].payer_name == "Distribuidora Ñandú, Ltda."
    assert lines[1].amount == Decimal("-250000.00") and not lines[1].is_credit
    assert lines[3].value_date is None  # empty optional date is absent, not an error
    assert sum(line.amount for line in lines) == Decimal("4516681.00")


def test_parse_identical_transactions_get_ordinals_and_distinct_identities(fmt):
    lines = [i for i in parse_path(fmt, BANCOLOMBIA) if isinstance(i, StatementLine)]
    twins = [line for line in lines if line.bank_reference == "PSE77"]
    assert len(twins) == 2
    assert [t.ordinal for t in twins] == [0, 1]
    assert twins[0].identity != twins[1].identity
    # Other lines are the first of their kind.
    assert all(line.ordinal == 0 for line in lines if line.bank_reference != "PSE77")


def test_parse_identity_is_stable_across_reads(fmt):
    # The same transaction seen in a second file must be recognised as the same payment.
    first = [i.identity for i in parse_path(fmt, BANCOLOMBIA) if isinstance(i, StatementLine)]
    second = [i.identity for i in parse_path(fmt, BANCOLOMBIA) if isinstance(i, StatementLine)]
    assert first == second and len(set(first)) == len(first)


def test_parse_ends_with_a_summary_of_balances_and_period(fmt):
    items = parse_path(fmt, BANCOLOMBIA)
    assert all(isinstance(i, StatementLine) for i in items[:-1])
    summary = items[-1]
    assert isinstance(summary, StatementSummary)
    assert summary.account == "69812345678"
    assert summary.currency == "COP"
    assert summary.statement_id == "BC-2026-11-001"
    assert summary.opening_balance == Decimal("12500000.00")
    assert summary.closing_balance == Decimal("17016681.00")
    assert summary.period_from == dt.date(2026, 11, 2)
    assert summary.period_to == dt.date(2026, 11, 28)
    lines_total = sum(i.amount for i in items[:-1])
    assert summary.opening_balance + lines_total == summary.closing_balance


def test_parse_bom_and_crlf(fmt):
    items = parse_path(fmt, DAVIVIENDA_BOM_CRLF)
    lines = [i for i in items if isinstance(i, StatementLine)]
    assert [line.amount for line in lines] == [Decimal("845000.00"), Decimal("-1200000.00"), Decimal("3100500.25")]
    # No BOM glued to the first column name, no '\r' glued to the last field.
    assert lines[0].account == "0550-0012-3456"
    assert lines[0].payer_name == "Ángela Rodríguez Peña"
    assert lines[0].remittance == "FE-2001, saldo noviembre"
    assert lines[2].remittance == "FE-2002"
    assert [line.position for line in lines] == ["line 5", "line 6", "line 7"]
    summary = items[-1]
    assert isinstance(summary, StatementSummary)
    assert summary.opening_balance == Decimal("-500000.00")
    assert summary.closing_balance == Decimal("2245500.25")
    assert summary.statement_id == ""


def test_parse_columns_in_another_order_without_magic(fmt):
    items = parse_path(fmt, REORDERED)
    lines = [i for i in items if isinstance(i, StatementLine)]
    assert len(lines) == 2
    assert lines[0].account == "230-145678-90"
    assert lines[0].booking_date == dt.date(2026, 10, 15)
    assert lines[0].amount == Decimal("780000.00")
    assert lines[0].payer_name == "Ferretería Gutiérrez S.A.S."
    assert lines[0].remittance == "FE 3001"
    summary = items[-1]
    assert isinstance(summary, StatementSummary)
    assert summary.opening_balance is None and summary.closing_balance is None
    assert (summary.period_from, summary.period_to) == (dt.date(2026, 10, 15), dt.date(2026, 10, 16))


def test_parse_two_accounts_give_one_summary_each(fmt, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("account,booking_date,amount,currency\n"
                    "111,2026-11-02,10.00,COP\n"
                    "222,2026-11-03,20.00,USD\n"
                    "111,2026-11-04,-5.00,COP\n", encoding="utf-8")
    summaries = [i for i in parse_path(fmt, path) if isinstance(i, StatementSummary)]
    assert {(s.account, s.currency, s.period_from, s.period_to) for s in summaries} == {
        ("111", "COP", dt.date(2026, 11, 2), dt.date(2026, 11, 4)),
        ("222", "USD", dt.date(2026, 11, 3), dt.date(2026, 11, 3)),
    }


# -- errors ------------------------------------------------------------------------------------

def parse_error(fmt: SimpleCsv, path: Path) -> StatementError:
    with pytest.raises(StatementError) as info:
        parse_path(fmt, path)
    return info.value


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ('69812345678,2026-11-22,,"1.234,56",COP,TRF9002,Luis Peña,FE-1011', "amount"),
        ("69812345678,22/11/2026,,1234.56,COP,TRF9002,Luis Peña,FE-1011", "booking_date"),
        ("69812345678,2026-11-22,2026-13-01,1234.56,COP,TRF9002,Luis Peña,FE-1011", "value_date"),
        ("69812345678,2026-11-22,,0.00,COP,TRF9002,Luis Peña,FE-1011", "amount"),
        ("69812345678,2026-11-22,,-0,COP,TRF9002,Luis Peña,FE-1011", "amount"),
        ("69812345678,2026-11-22,,1234.56,pesos,TRF9002,Luis Peña,FE-1011", "currency"),
    ],
    ids=["european-amount", "dd/mm/yyyy", "bad-value-date", "zero", "minus-zero", "currency"],
)
def test_bad_field_names_line_and_field(fmt, tmp_path, bad_row, field):
    error = parse_error(fmt, write_statement(tmp_path, GOOD_ROW, bad_row))
    assert error.position == "line 7"
    assert error.field == field
    assert "line 7" in str(error) and f"field {field}" in str(error)


def test_bad_balance_comment_names_line_and_field(fmt, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# conciliador-csv v1\n# opening_balance=1.000.000,00\n" + HEADER + "\n" + GOOD_ROW + "\n",
                    encoding="utf-8")
    error = parse_error(fmt, path)
    assert "line 2" in str(error) and "field opening_balance" in str(error)


def test_missing_required_column(fmt, tmp_path):
    header = "account,booking_date,value_date,amount,bank_reference,payer_name,remittance"
    error = parse_error(fmt, write_statement(tmp_path, "69812345678,2026-11-21,,350000.00,TRF1,Ana,FE-1",
                                             header=header))
    assert "line 5" in str(error)
    assert "currency" in str(error)


def test_unknown_column(fmt, tmp_path):
    error = parse_error(fmt, write_statement(tmp_path, GOOD_ROW + ",17016681.00", header=HEADER + ",saldo"))
    assert "line 5" in str(error)
    assert "saldo" in str(error)


@pytest.mark.parametrize("bad_row", [GOOD_ROW + ",extra", GOOD_ROW.rsplit(",", 1)[0]], ids=["too-many", "too-few"])
def test_wrong_number_of_fields(fmt, tmp_path, bad_row):
    error = parse_error(fmt, write_statement(tmp_path, GOOD_ROW, bad_row))
    assert "line 7" in str(error)
    assert "8" in error.problem  # the header's width, so the reader knows what was expected


def test_not_utf8_names_the_line(fmt, tmp_path):
    # A spreadsheet saved as Latin-1 by mistake: finance needs to know where, not just that.
    path = write_statement(tmp_path, GOOD_ROW, "69812345678,2026-11-22,,99000.00,COP,TRF9003,PLACEHOLDER,FE-1012")
    # Only line 7 is Latin-1; line 6 has UTF-8 accents of its own and must pass.
    path.write_bytes(path.read_bytes().replace(b"PLACEHOLDER", "José Peñalosa".encode("latin-1")))
    error = parse_error(fmt, path)
    assert "UTF-8" in str(error)
    assert "line 7" in str(error)


def test_header_without_transactions(fmt, tmp_path):
    error = parse_error(fmt, write_statement(tmp_path))
    assert "no transactions" in str(error)
    assert "line" in error.position


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"# conciliador-csv v1\n# statement_id=X\n"],
                         ids=["empty", "bom-only", "comments-only"])
def test_no_header(fmt, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    error = parse_error(fmt, path)
    assert "line 1" in str(error)
    assert "header" in str(error)


def test_balances_for_two_accounts_are_refused(fmt, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("# conciliador-csv v1\n# opening_balance=100.00\n# closing_balance=130.00\n"
                    "account,booking_date,amount,currency\n"
                    "111,2026-11-02,10.00,COP\n"
                    "222,2026-11-03,20.00,COP\n", encoding="utf-8")
    error = parse_error(fmt, path)
    assert "balances" in str(error)
    assert "several accounts" in str(error)


def test_unknown_comment_key_is_refused(fmt, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# conciliador-csv v1\n# saldo_inicial=100.00\n" + HEADER + "\n" + GOOD_ROW + "\n", encoding="utf-8")
    error = parse_error(fmt, path)
    assert "line 2" in str(error)


# -- streaming ---------------------------------------------------------------------------------

def test_parse_streams_a_large_file(fmt, tmp_path):
    count = 50_000
    path = tmp_path / "large.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("# conciliador-csv v1\naccount,booking_date,amount,currency,bank_reference,payer_name\n")
        for n in range(count):
            cents = (n * 7919) % 10_000_000 + 1
            sign = "-" if n % 5 == 0 else ""
            out.write(f"69812345678,2026-11-{n % 28 + 1:02d},{sign}{cents // 100}.{cents % 100:02d},COP,"
                      f"R{n},Cliente Nº {n}\n")
    expected = sum((Decimal(f"{'-' if n % 5 == 0 else ''}{((n * 7919) % 10_000_000 + 1) / Decimal(100):.2f}")
                    for n in range(count)), Decimal(0))
    size = path.stat().st_size

    started = time.perf_counter()
    with open(path, "rb") as fh:
        items = fmt.parse(fh, path.name)
        first = next(items)
        # A streaming parser has read only a buffer's worth when it hands over the first line.
        assert fh.tell() < size // 10
        lines = 1
        total = first.amount
        summary = None
        for item in items:
            if isinstance(item, StatementLine):
                lines += 1
                total += item.amount
            else:
                summary = item
    elapsed = time.perf_counter() - started

    assert lines == count
    assert total == expected
    assert summary is not None and summary.period_from == dt.date(2026, 11, 1)
    assert summary.period_to == dt.date(2026, 11, 28)
    assert elapsed < 10, f"50,000 lines took {elapsed:.1f}s"
