"""OFX / QFX (plugins/banks/ofx.py) on realistic files of each dialect (tests/data/banks/ofx/:
1.x SGML, 2.x XML, an XML header over an SGML body, no header, empty tags, bank and card in one
QFX) and on broken ones; the conformance kit runs over the same folder (each file beside its
``.expected.json`` or ``.error.json``). The real-world ofxparse corpus is run by
tests/test_corpus.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador import StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.plugins.banks.ofx import Ofx
from conciliador.pluginhost import PluginHost
from conciliador.testing import BankFormatCase, BankFormatConformance, load_samples

DATA = Path(__file__).parent / "data" / "banks" / "ofx"
ROOT = Path(__file__).resolve().parents[1]
OFX = Ofx()


def _bench():
    spec = importlib.util.spec_from_file_location("bench_parse_ofx", ROOT / "bench" / "parse_ofx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


def items(data: bytes | str | Path, *, seekable: bool = True) -> list:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode()
    return list(OFX.parse((io.BytesIO if seekable else _Unseekable)(data), "test.ofx"))


def split(found: list) -> tuple[list[StatementLine], list[StatementSummary]]:
    return ([i for i in found if isinstance(i, StatementLine)], [i for i in found if isinstance(i, StatementSummary)])


def refused(data: bytes | str | Path, **kw) -> StatementError:
    with pytest.raises(StatementError) as info:
        items(data, **kw)
    assert info.value.position
    return info.value


XML_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
            '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n')


def xml_statement(transactions: int, *, tail: str = "</OFX>\n") -> str:
    """An OFX 2.1.1 file of one statement; each transaction is 100.00 on 2026-01-DD."""
    trn = "".join(f"<STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>202601{1 + i % 28:02d}</DTPOSTED>"
                  f"<TRNAMT>100.00</TRNAMT><FITID>F{i:06d}</FITID><NAME>CLIENTE {i}</NAME></STMTTRN>\n"
                  for i in range(transactions))
    return (XML_HEAD + "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO"
            "</SEVERITY></STATUS><STMTRS><CURDEF>USD</CURDEF><BANKACCTFROM><BANKID>1</BANKID><ACCTID>900</ACCTID>"
            "<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><DTSTART>20260101</DTSTART><DTEND>20260131"
            f"</DTEND>\n{trn}</BANKTRANLIST><LEDGERBAL><BALAMT>{100 * transactions}.00</BALAMT><DTASOF>20260131"
            "</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1>" + tail)


class TestOfxConformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return BankFormatCase(format=OFX, samples=load_samples(DATA), make_large=BENCH.generate, claims=("ofx",))


# -- detection ---------------------------------------------------------------------------------

def test_detect_by_content():
    assert OFX.detect((DATA / "v102_sgml_checking.ofx").read_bytes()[:8192], "x.txt") == 1.0
    assert OFX.detect((DATA / "v211_xml_two_accounts.ofx").read_bytes()[:8192], "x.txt") == 1.0
    assert OFX.detect((DATA / "no_header_decimal_comma.ofx").read_bytes()[:8192], "x.txt") == 0.9
    assert OFX.detect(b"\n\n<ofx>\n", "x.qfx") == 0.9
    assert OFX.detect(b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
                      "x.ofx") == 0.0
    assert OFX.detect(b"01,BANKID,CUSTID,260114,0800,1,80,,2/", "x.ofx") == 0.0


# -- dialects ------------------------------------------------------------------------------------

def test_sgml_102_checking():
    lines, summaries = split(items(DATA / "v102_sgml_checking.ofx"))
    assert len(lines) == 4 and len(summaries) == 1
    first = lines[0]
    assert (first.account, first.currency, first.amount, first.booking_date, first.value_date) == (
        "000123456789", "USD", Decimal("1250.00"), dt.date(2026, 1, 5), dt.date(2026, 1, 4))  # DTUSER
    assert first.payer_name == "ALMACÉN PEÑA & HIJOS"  # CHARSET:1252, "&" as written in SGML
    assert (first.bank_reference, first.transaction_code) == ("202601050001", "CREDIT")
    assert first.remittance == "PAGO FACTURA FE-1001 Y FE-1002"
    assert lines[1].remittance == "CHEQUE 1043"  # the check number is already in the memo
    xfer = lines[2]
    assert (xfer.amount, xfer.end_to_end_id, xfer.payer_name, xfer.payer_account) == (
        Decimal("2000"), "E2E-20260110-77", "NORTHWIND TRADERS INC", "4455667788")  # REFNUM, PAYEE, BANKACCTTO
    assert xfer.remittance == "TRANSFER & SETTLEMENT FE-1003"  # &amp; unescaped
    assert lines[3].remittance == ""  # empty, unclosed MEMO
    s = summaries[0]
    assert (s.account, s.currency, s.opening_balance, s.closing_balance) == (
        "000123456789", "USD", None, Decimal("17585.50"))  # OFX has no opening balance
    assert (s.period_from, s.period_to, s.statement_id) == (
        dt.date(2026, 1, 1), dt.date(2026, 1, 31), "000123456789/20260101-20260131")


def test_xml_211_two_statements():
    lines, summaries = split(items(DATA / "v211_xml_two_accounts.ofx"))
    assert [ln.account for ln in lines] == ["0011-2233-44"] * 3 + ["0011-2233-55"]
    assert lines[0].payer_name == "GRUPO ÉXITO S.A. <NIT 890900608>"  # CDATA
    assert lines[0].remittance == "CONSIGNACION FE-2001 & FE-2002"
    assert lines[0].value_date == dt.date(2026, 1, 16)  # DTAVAIL
    assert (lines[2].currency, lines[2].amount) == ("USD", Decimal("250.00"))  # CURRENCY/CURSYM in a COP statement
    assert [(s.account, s.currency, s.closing_balance) for s in summaries] == [
        ("0011-2233-44", "COP", Decimal("51234567.89")), ("0011-2233-55", "USD", Decimal("950.42"))]


def test_qfx_with_bank_and_card_statements():
    lines, summaries = split(items(DATA / "qfx_bank_and_card.qfx"))
    assert [s.account for s in summaries] == ["777000111", "4111111111111111"]
    assert [ln.ordinal for ln in lines[:2]] == [0, 1]  # two identical deposits are both real
    assert lines[0].identity != lines[1].identity
    card = lines[2]
    assert (card.amount, card.value_date, card.position) == (
        Decimal("-42.10"), dt.date(2026, 1, 3), "line 19 (CCSTMTRS[2]/STMTTRN[1])")
    assert summaries[1].closing_balance == Decimal("-1042.10")


def test_xml_header_over_sgml_body():
    lines, summaries = split(items(DATA / "xml_header_sgml_body.ofx"))
    assert [ln.amount for ln in lines] == [Decimal("-5.50"), Decimal("-120.00")]
    assert lines[0].remittance == "CAFÉ KIOSK SYDNEY" and summaries[0].currency == "AUD"


def test_no_header_and_decimal_comma():
    lines, summaries = split(items(DATA / "no_header_decimal_comma.ofx"))
    assert [ln.amount for ln in lines] == [Decimal("-12.50"), Decimal("1500.00")]
    assert lines[0].payer_name == "Panadería Núñez"
    assert summaries[0].closing_balance == Decimal("2487.50")


def test_empty_tags():
    lines, summaries = split(items(DATA / "empty_tags.ofx"))
    assert [(ln.currency, ln.amount, ln.bank_reference, ln.payer_name) for ln in lines] == [
        ("AUD", Decimal("12.34"), "", ""), ("AUD", Decimal("-2.00"), "", "")]
    assert [ln.ordinal for ln in lines] == [0, 0]
    # CURDEF empty: the currency the transactions name; LEDGERBAL all empty: no balance.
    assert (summaries[0].currency, summaries[0].closing_balance) == ("AUD", None)


def test_agent_reads_every_dialect(formats):
    for name in ("v102_sgml_checking.ofx", "v211_xml_two_accounts.ofx", "qfx_bank_and_card.qfx",
                 "xml_header_sgml_body.ofx", "no_header_decimal_comma.ofx", "empty_tags.ofx"):
        report = parse_file(DATA / name, formats)
        assert report.format == "ofx" and report.error == "", (name, report.error)


def test_headerless_windows_1252_bytes():
    text = (DATA / "no_header_decimal_comma.ofx").read_bytes().replace("Panadería Núñez".encode(),
                                                                         "Panadería Núñez".encode("cp1252"))
    lines, _ = split(items(text, seekable=False))
    assert lines[0].payer_name == "Panadería Núñez"


def test_blank_lines_before_the_xml_declaration_and_padding_after_the_end():
    lines, _ = split(items("\r\n\r\n" + xml_statement(2, tail="</OFX>\r\n\x00\x00\x00 trailing junk <x")))
    assert len(lines) == 2 and lines[0].position == "line 6 (STMTRS[1]/STMTTRN[1])"
    sgml = (DATA / "v102_sgml_checking.ofx").read_bytes() + b"\x00\x00<garbage"
    assert len(split(items(sgml))[0]) == 4


def test_sgml_habits_under_an_xml_header_are_read_again_as_sgml():
    """lxml refuses a bare "&" or an unclosed leaf the sniff of the head did not see; nothing was
    yielded yet, so the file is read again as SGML: from the head still in memory (even from a
    stream that cannot seek), or by seeking back."""
    bare_amp = xml_statement(2).replace("<NAME>CLIENTE 0</NAME>", "<NAME>AT&T</NAME>")
    lines, _ = split(items(bare_amp, seekable=False))
    assert [ln.payer_name for ln in lines] == ["AT&T", "CLIENTE 1"]
    late = xml_statement(2).replace("<CURDEF>USD</CURDEF>", "<CURDEF>USD</CURDEF>" + " " * 9000).replace(
        "<TRNTYPE>CREDIT</TRNTYPE>", "<TRNTYPE>CREDIT", 1)
    lines, _ = split(items(late))
    assert [ln.transaction_code for ln in lines] == ["CREDIT", "CREDIT"]
    exc = refused(late, seekable=False)
    assert exc.field == "XML" and "mismatch" in exc.problem


def test_statement_that_names_its_account_after_its_transactions():
    text = xml_statement(2)
    block = "<CURDEF>USD</CURDEF><BANKACCTFROM><BANKID>1</BANKID><ACCTID>900</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE>" \
            "</BANKACCTFROM>"
    text = text.replace(block, "").replace("</BANKTRANLIST>", "</BANKTRANLIST>" + block)
    lines, summaries = split(items(text))
    assert [ln.account for ln in lines] == ["900", "900"] and summaries[0].closing_balance == Decimal("200.00")


# -- refused -------------------------------------------------------------------------------------

def test_error_response_is_refused_with_the_banks_message(formats):
    report = parse_file(DATA / "error_response.ofx", formats)
    assert report.format == "ofx"
    assert "code 2000 (Error general del servidor, intente mas tarde)" in report.error


def test_xml_broken_after_the_first_statement_is_refused():
    text = xml_statement(300).replace("<NAME>CLIENTE 250</NAME>", "<NAME>CLIENTE 250</NOMBRE>")
    exc = refused(text)
    assert exc.field == "XML" and "not well-formed XML" in exc.problem and exc.position == "line 254"


def test_doctype_refused_in_sgml_too():
    exc = refused('<!DOCTYPE OFX [<!ENTITY x "boom">]>\n<OFX><BANKMSGSRSV1></BANKMSGSRSV1></OFX>')
    assert exc.field == "DOCTYPE"


@pytest.mark.parametrize("text,fragment", [
    (XML_HEAD + "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS></SONRS>"
     "</SIGNONMSGSRSV1></OFX>", "holds no bank or credit card statement"),
    (XML_HEAD + "<OFX><BANKMSGSRSV1><STMTTRNRS><STATUS><CODE>2003</CODE><SEVERITY>WARN</SEVERITY><MESSAGE>"
     "Account not found</MESSAGE></STATUS></STMTTRNRS></BANKMSGSRSV1></OFX>", "the bank said: code 2003 (Account"),
    (xml_statement(1).replace("<CURDEF>USD</CURDEF>", "<CURDEF></CURDEF>"), "no currency"),
    (xml_statement(1).replace("<CURDEF>USD</CURDEF>", "<CURDEF>DOLAR</CURDEF>"), "not an ISO 4217"),
    (xml_statement(1).replace("<ACCTID>900</ACCTID>", ""), "has no account"),
    (xml_statement(1).replace("<TRNAMT>100.00</TRNAMT>", ""), "has no TRNAMT"),
    (xml_statement(1).replace("<TRNAMT>100.00</TRNAMT>", "<TRNAMT></TRNAMT>"), "the amount is empty"),
    (xml_statement(1).replace("<DTPOSTED>20260101</DTPOSTED>", "<DTPOSTED>01/01/2026</DTPOSTED>"),
     "is not an OFX date"),
    (xml_statement(1).replace("<DTSTART>20260101</DTSTART>", "<DTSTART>2026-01-01</DTSTART>"), "is not an OFX date"),
    (xml_statement(1).replace("</BANKTRANLIST>", ""), "not well-formed XML"),
    (xml_statement(1).replace('OFXHEADER="200" VERSION="211"', 'OFXHEADER="200" VERSION="300"'),
     "is not an OFX 2.x version"),
    ("OFXHEADER:200\nDATA:OFXSGML\nVERSION:102\n\n<OFX></OFX>", "not a known OFX header version"),
    ("OFXHEADER:100\nVERSION:102\nENCODING:EBCDIC-XX\n\n<OFX></OFX>", "unknown character encoding"),
    (b"OFXHEADER:100\nVERSION:102\nCHARSET:1252\n\n<OFX><BANKMSGSRSV1>\x81</BANKMSGSRSV1></OFX>",
     "is not valid cp1252 text"),
    ((DATA / "v102_sgml_checking.ofx").read_bytes().replace(b"</BANKTRANLIST>", b"</STMTRS>"), "end tag is missing"),
])
def test_broken_files_are_refused(text, fragment):
    exc = refused(text)
    assert fragment in str(exc), exc


# -- scale ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["sgml", "xml"])
def test_a_file_of_100000_transactions_parses(tmp_path, dialect):
    path = tmp_path / f"big-{dialect}.ofx"
    BENCH.generate(path, 100_000, dialect)
    count = 0
    statements = 0
    with open(path, "rb") as fh:
        for item in OFX.parse(fh, path.name):
            if isinstance(item, StatementLine):
                count += 1
            else:
                statements += 1
    assert count == 100_000 and statements == 10
