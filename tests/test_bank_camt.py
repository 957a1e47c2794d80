"""camt.052 / camt.053 / camt.054 (plugins/banks/camt.py).

Data: tests/data/banks/camt/ (hand-written files per version and message, each beside its
``.expected.json``; broken ones in broken/ beside their ``.error.json``), plus files built here
for every version .001.01 to .001.13 and, for size, by bench/parse_camt.py's generator. The
conformance kit runs over the same files; the public corpus is run by tests/test_corpus.py.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from decimal import Decimal
from pathlib import Path

import lxml
import pytest
from lxml import etree

from conciliador import StatementError, StatementLine, StatementSummary
from conciliador.parsereport import parse_file
from conciliador.plugins.banks import camt
from conciliador.plugins.banks.camt import Camt052, Camt053, Camt054
from conciliador.pluginhost import PluginHost
from conciliador.testing import BankFormatCase, BankFormatConformance, load_samples

DATA = Path(__file__).parent / "data" / "banks" / "camt"
BROKEN = DATA / "broken"
ROOT = Path(__file__).resolve().parents[1]
FORMATS = {"053": Camt053(), "052": Camt052(), "054": Camt054()}


def read(path: Path | bytes, fmt=None) -> tuple[list[StatementLine], list[StatementSummary]]:
    data = path if isinstance(path, bytes) else path.read_bytes()
    fmt = fmt or Camt053()
    items = list(fmt.parse(io.BytesIO(data), "x.xml"))
    return ([i for i in items if isinstance(i, StatementLine)], [i for i in items if isinstance(i, StatementSummary)])


def refused(path: Path | bytes, fmt=None) -> StatementError:
    with pytest.raises(StatementError) as info:
        read(path, fmt)
    return info.value


def _bench():
    spec = importlib.util.spec_from_file_location("parse_camt_bench", ROOT / "bench" / "parse_camt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def _case(kind: str) -> BankFormatCase:
    good = [s for s in load_samples(DATA) if s.path.name.startswith(f"camt{kind}")]
    # broken/camt052_* and camt054_* are the other messages' own; the rest are camt.053 files,
    # of which the DOCTYPE ones are refused by every format
    bad = [s for s in load_samples(BROKEN) if s.path.name.startswith(f"camt{kind}_")
           or (kind == "053" and not s.path.name.startswith("camt05")) or s.path.name == "xxe.xml"]
    return BankFormatCase(format=FORMATS[kind], samples=good + bad,
                          make_large=lambda path, n: BENCH.generate(path, n, kind=kind), claims=(
                              ("camt.053",) if kind == "053" else ()))


class TestCamt053Conformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return _case("053")


class TestCamt052Conformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return _case("052")


class TestCamt054Conformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return _case("054")


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


# -- registration and detection ------------------------------------------------------------------

def test_registered_under_their_names(formats):
    names = {f.name for f in formats}
    assert {"camt.052", "camt.053", "camt.054"} <= names


def test_lxml_is_recent_enough():
    # iterparse resolved entities by default before 6.1 (CVE-2026-41066)
    assert tuple(int(x) for x in lxml.__version__.split(".")[:2]) >= (6, 1)


@pytest.mark.parametrize("name, kind", [
    ("camt053_v02_statement.xml", "053"), ("camt053_v04_batch.xml", "053"), ("camt053_v06_multi_latin1.xml", "053"),
    ("camt053_v08_dates_decimals.xml", "053"), ("camt053_v10_pending.xml", "053"),
    ("camt052_v08_intraday.xml", "052"), ("camt052_v02_report.xml", "052"),
    ("camt054_v04_notification.xml", "054"), ("camt054_v08_debit.xml", "054"),
])
def test_detect_by_namespace(name, kind):
    head = (DATA / name).read_bytes()[:8192]
    for k, fmt in FORMATS.items():
        assert fmt.detect(head, "renamed.txt") == (1.0 if k == kind else 0.0)


def test_detect_without_namespace_by_message_element():
    head = (DATA / "camt053_v01_no_namespace.xml").read_bytes()
    assert Camt053().detect(head, "") == 0.9
    assert Camt052().detect(head, "") == Camt054().detect(head, "") == 0.0


@pytest.mark.parametrize("head", [b"", b"\x00\xff" * 100, b"garbage <not xml", b":20:STARTUMS\r\n:25:123",
                                  (BROKEN / "pain001.xml").read_bytes(), "ñandú".encode("latin-1"),
                                  b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.056.001.08">'])
def test_detect_says_no_to_other_content(head):
    for fmt in FORMATS.values():
        assert fmt.detect(head, "statement.xml") == 0.0


def test_detect_by_content_through_the_core(formats, tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes((DATA / "camt054_v08_debit.xml").read_bytes())
    assert parse_file(path, formats).format == "camt.054"


# -- camt.053 ------------------------------------------------------------------------------------

def test_v02_statement_lines_and_balances():
    lines, summaries = read(DATA / "camt053_v02_statement.xml")
    assert [line.amount for line in lines] == [Decimal("1504050.00"), Decimal("-250000.00"), Decimal("-175000.00"),
                                                Decimal("-5000.00")]
    pay = lines[0]
    assert pay.account == "CO12BANK0000012345678901" and pay.currency == "COP"
    assert pay.booking_date == pay.value_date == dt.date(2026, 11, 20)
    assert pay.bank_reference == "BNK-20261120-000001"  # Ntry/AcctSvcrRef before TxDtls/Refs/AcctSvcrRef
    assert pay.end_to_end_id == "PAGO-FE-1001"
    assert (pay.payer_name, pay.payer_account, pay.payer_id) == ("DISTRIBUIDORA ANDINA S.A.S.", "00123456789",
                                                                 "900123456")
    assert pay.remittance == "PAGO FACTURAS FE-1001 Y FE-1002 FE-1001 RF18539007547034 ABONO TRANSFERENCIA ACH"
    assert pay.transaction_code == "PMNT/RCDT/ESCT NTRF+166"
    assert pay.statement_id == "STMT-2026-324" and pay.position == "Stmt[1]/Ntry[1]/TxDtls[1]"
    # an entry without TxDtls is one line
    assert lines[1].position == "Stmt[1]/Ntry[2]" and lines[1].remittance == "DEBITO AUTOMATICO SERVICIOS PUBLICOS"
    # the reversal: direction from CdtDbtInd, marked, return reason kept, payer of the original payment
    rvsl = lines[2]
    assert rvsl.amount == Decimal("-175000.00")
    assert rvsl.transaction_code == "PMNT/RCDT/RRTN RVSL RTRN=AC06"
    assert rvsl.payer_name == "COMERCIALIZADORA DEL CARIBE LTDA" and rvsl.value_date == dt.date(2026, 11, 18)
    assert lines[3].transaction_code == "ACMT/MDOP/CHRG CHRG=COP5000.00"
    (summary,) = summaries
    assert summary.opening_balance == Decimal("1000000.00") and summary.closing_balance == Decimal("2074050.00")
    assert summary.opening_balance + sum(line.amount for line in lines) == summary.closing_balance
    assert (summary.period_from, summary.period_to) == (dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    assert summary.account == pay.account and summary.statement_id == "STMT-2026-324"


def test_v04_batches_split_per_transaction():
    lines, (summary,) = read(DATA / "camt053_v04_batch.xml")
    assert len(lines) == 7
    assert [line.amount for line in lines[:3]] == [Decimal("1000000.00"), Decimal("300000.00"), Decimal("200000.00")]
    assert [line.bank_reference for line in lines[:3]] == ["LOTE-778-1", "LOTE-778-2", "LOTE-778-3"]
    assert [line.payer_name for line in lines[:3]] == ["CLIENTE A", "CLIENTE B", "CLIENTE C"]
    assert [line.position for line in lines[:3]] == [f"Stmt[1]/Ntry[1]/TxDtls[{i}]" for i in (1, 2, 3)]
    # amounts from AmtDtls/TxAmt (the instructed USD amount is not the booked one)
    assert [line.amount for line in lines[3:5]] == [Decimal("1000000.00"), Decimal("1100000.00")]
    assert lines[3].bank_reference == lines[4].bank_reference == "LOTE-779"
    assert lines[3].ordinal == lines[4].ordinal == 0  # different amounts: different identities anyway
    # no per-transaction amounts: the booked total stays on the first line, marked
    assert [line.amount for line in lines[5:]] == [Decimal("-1000.00"), Decimal(0)]
    assert all(line.transaction_code.endswith("UNSPLIT") for line in lines[5:])
    assert [line.payer_name for line in lines[5:]] == ["PROVEEDOR UNO", "PROVEEDOR DOS"]
    # PRCD is the opening when there is no OPBD; no Acct/Ccy: currency from the entries
    assert summary.currency == "COP" and summary.opening_balance == Decimal("-500.00")
    assert summary.opening_balance + sum(line.amount for line in lines) == summary.closing_balance
    assert summary.account == "0550-0123-4567"


def test_v06_multi_statement_latin1(formats):
    lines, summaries = read(DATA / "camt053_v06_multi_latin1.xml")
    assert [(s.statement_id, s.account, s.currency) for s in summaries] == [
        ("COP-324", "CO12BANK0000012345678901", "COP"), ("USD-324", "USD-7788", "USD")]
    assert lines[0].payer_name == "PANADERÍA LA ESPAÑOLA" and "año" in lines[0].remittance
    assert lines[1].amount == Decimal("-99.99") and lines[1].position == "Stmt[2]/Ntry[1]"
    report = parse_file(DATA / "camt053_v06_multi_latin1.xml", formats)
    assert not report.error and len(report.statements) == 2 and not report.balance_breaks


def test_v08_dates_and_decimals_exact():
    lines, (summary,) = read(DATA / "camt053_v08_dates_decimals.xml")
    first, second = lines
    # DtTm with nanoseconds and an offset gives the date as written, not UTC (would be the 21st)
    assert first.booking_date == dt.date(2026, 11, 20) and first.value_date == dt.date(2026, 11, 21)
    assert second.value_date == dt.date(2026, 11, 20)  # Dt with a zone
    assert str(first.amount) == "0.12345" and str(second.amount) == "-10.500"
    assert summary.opening_balance == Decimal("10") and str(summary.closing_balance) == "-0.37655"
    assert summary.opening_balance + first.amount + second.amount == summary.closing_balance
    # .08 names: Sts/Cd, Dbtr/Pty/Nm; NOTPROVIDED is no end-to-end id; UETR is a reference of last resort
    assert first.payer_name == "Müller GmbH" and first.payer_id == "DE123456789"
    assert first.end_to_end_id == "" and first.bank_reference == "V08-1"
    assert first.remittance == "INV 77 second line"
    # on a debit the counterparty is the creditor
    assert (second.payer_name, second.payer_account, second.payer_id) == ("PROVEEDOR SAS", "987654321", "CC-1020304050")


def test_v10_pending_entry_kept_outside_the_booked_balances(formats):
    lines, summaries = read(DATA / "camt053_v10_pending.xml")
    assert [line.bank_reference for line in lines] == ["B-1", "B-2", "P-1"]
    pending = lines[2]
    assert pending.transaction_code == "PDNG" and pending.amount == Decimal("9999.00")
    assert pending.booking_date == dt.date(2026, 11, 23)  # no BookgDt: the value date
    booked, held = summaries
    assert booked.closing_balance == Decimal("1500.00") and held.statement_id == "V10-STMT PDNG"
    assert held.opening_balance is None
    report = parse_file(DATA / "camt053_v10_pending.xml", formats)
    assert not report.error and report.line_count == 3 and not report.balance_breaks


def test_v01_without_namespace():
    lines, (summary,) = read(DATA / "camt053_v01_no_namespace.xml")
    (line,) = lines
    assert line.account == "1234-567890" and line.currency == "CHF" and line.amount == Decimal("50.00")
    assert line.payer_account == "9988-77" and line.remittance == "210000000003139471430009017"
    assert (summary.opening_balance, summary.closing_balance) == (Decimal("200.00"), Decimal("250.00"))


def test_single_txdtls_takes_the_booked_amount():
    """truth.json: a single TxDtls whose own amount disagrees (other currency, zero) does not
    replace what the entry booked."""
    xml = _statement("04", _entry("DBIT", "200000", ccy="SEK", txs=[_tx("4.1", "CRDT", ccy="USD")]), kind="053")
    (line,), _ = read(xml)
    assert line.amount == Decimal("-200000") and line.currency == "SEK"


def test_batch_in_another_currency_is_unsplit():
    xml = _statement("08", _entry("DBIT", "200000", ccy="SEK", txs=[_tx("3.1", "CRDT", ccy="CHF"),
                                                                     _tx("3.2", "CRDT", ccy="CHF")]), kind="054")
    lines, _ = read(xml, Camt054())
    assert [line.amount for line in lines] == [Decimal("-200000"), Decimal(0)]
    assert all("UNSPLIT" in line.transaction_code for line in lines)


def test_identical_entries_get_ordinals():
    entry = _entry("CRDT", "10.00", ref="SAME")
    lines, _ = read(_statement("02", entry + entry, kind="053"))
    assert [line.ordinal for line in lines] == [0, 1]
    assert lines[0].identity != lines[1].identity
    again, _ = read(_statement("02", entry + entry, kind="053"))
    assert [line.identity for line in again] == [line.identity for line in lines]


def test_stray_bytes_and_bom_before_the_xml_declaration():
    data = b"\xef\xbb\xbf\r\n  " + (DATA / "camt053_v02_statement.xml").read_bytes()
    lines, _ = read(data)
    assert len(lines) == 4


def test_utf16_file():
    text = (DATA / "camt053_v02_statement.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"',
                                                                                     'encoding="UTF-16"')
    lines, _ = read(text.encode("utf-16"))
    assert len(lines) == 4 and Camt053().detect(text.encode("utf-16"), "") == 1.0


# -- camt.052 / camt.054 ---------------------------------------------------------------------------

def test_camt052_intraday_pending_entries(formats):
    lines, (summary,) = read(DATA / "camt052_v08_intraday.xml", Camt052())
    assert [line.amount for line in lines] == [Decimal("400000.00"), Decimal("120000.00"), Decimal("-80000.00")]
    assert lines[0].transaction_code == "" and lines[0].payer_name == "TIENDA EL SOL"
    assert [line.transaction_code for line in lines[1:]] == ["PDNG", "PDNG"]
    assert lines[1].booking_date == dt.date(2026, 11, 21)  # value date
    assert lines[2].booking_date == dt.date(2026, 11, 20)  # FrToDt/ToDtTm
    # ITBD/ITAV do not bracket the entries: no opening/closing, no false break
    assert summary.opening_balance is None and summary.closing_balance is None
    assert lines[0].position == "Rpt[1]/Ntry[1]/TxDtls[1]" and summary.position == "Rpt[1]"
    report = parse_file(DATA / "camt052_v08_intraday.xml", formats)
    assert report.format == "camt.052" and report.line_count == 3 and not report.balance_breaks


def test_camt052_report_with_booked_balances():
    lines, (summary,) = read(DATA / "camt052_v02_report.xml", Camt052())
    assert summary.opening_balance + sum(line.amount for line in lines) == summary.closing_balance


def test_camt054_notifications_have_no_balances():
    lines, summaries = read(DATA / "camt054_v04_notification.xml", Camt054())
    assert [line.amount for line in lines] == [Decimal("500.00"), Decimal("250.25"), Decimal("99.75")]
    assert [line.remittance for line in lines[:2]] == ["FE-5001", "FE-5002"]
    assert [line.bank_reference for line in lines] == ["N4-E1-1", "N4-E1-2", "N4-E2"]
    assert [s.statement_id for s in summaries] == ["N4-1", "N4-2"]
    assert all(s.opening_balance is None and s.closing_balance is None and s.currency == "COP" for s in summaries)
    assert lines[0].position == "Ntfctn[1]/Ntry[1]/TxDtls[1]"


def test_camt054_debit_with_charges():
    (line,), _ = read(DATA / "camt054_v08_debit.xml", Camt054())
    assert line.amount == Decimal("-1003500.00") and line.booking_date == dt.date(2026, 11, 20)
    assert line.transaction_code == "PMNT/ICDT/DMCT CHRG=COP3500.00"
    assert (line.payer_name, line.payer_account) == ("PROVEEDOR LOGISTICO SAS", "CO44BANK0000044444444444")


# -- every version -------------------------------------------------------------------------------

MESSAGES = {"053": ("BkToCstmrStmt", "Stmt"), "052": ("BkToCstmrAcctRpt", "Rpt"),
            "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def _tx(amount: str | None, sign: str | None = None, *, ccy: str = "COP", version: str = "04", name: str = "",
        ref: str = "") -> str:
    amt = ""
    if amount is not None:
        amt = (f'<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>' if version >= "04"
               else f'<AmtDtls><TxAmt><Amt Ccy="{ccy}">{amount}</Amt></TxAmt></AmtDtls>')
    party = ""
    if name:
        party = (f"<RltdPties><Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr></RltdPties>" if version >= "08"
                 else f"<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties>")
    refs = f"<Refs><EndToEndId>{ref}</EndToEndId></Refs>" if ref else ""
    return f"<TxDtls>{refs}{amt}{party}<RmtInf><Ustrd>FE-{ref or 1}</Ustrd></RmtInf></TxDtls>"


def _entry(sign: str, amount: str, *, ccy: str = "COP", txs: list[str] | None = None, version: str = "04",
           ref: str = "E", status: str = "BOOK", booking: str = "<Dt>2026-11-20</Dt>") -> str:
    sts = f"<Sts><Cd>{status}</Cd></Sts>" if version >= "08" else f"<Sts>{status}</Sts>"
    details = f"<NtryDtls>{''.join(txs)}</NtryDtls>" if txs else ""
    return (f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>{sts}<BookgDt>{booking}</BookgDt>'
            f"<AcctSvcrRef>{ref}</AcctSvcrRef>{details}</Ntry>")


def _statement(version: str, entries: str, *, kind: str = "053", balances: tuple[str, str] | None = None,
               namespace: bool = True) -> bytes:
    message, stmt = MESSAGES[kind]
    if version == "01":
        message += "V01"
    xmlns = f' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.{version}"' if namespace else ""
    acct = ("<Acct><Id><PrtryAcct><Id>0550-1</Id></PrtryAcct></Id></Acct>" if version == "01"
            else "<Acct><Id><IBAN>CO12BANK0000012345678901</IBAN></Id><Ccy>COP</Ccy></Acct>")
    bals = ""
    for code, amount in zip(("OPBD", "CLBD"), balances or ()):
        tp = f"<Tp><Cd>{code}</Cd></Tp>" if version == "01" else f"<Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        sign = "DBIT" if amount.startswith("-") else "CRDT"
        bals += (f'<Bal>{tp}<Amt Ccy="COP">{amount.lstrip("-")}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
                 f"<Dt><Dt>2026-11-20</Dt></Dt></Bal>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document{xmlns}><{message}><GrpHdr><MsgId>M</MsgId>'
            f"<CreDtTm>2026-11-20T10:00:00</CreDtTm></GrpHdr><{stmt}><Id>S-{kind}-{version}</Id>{acct}{bals}"
            f"{entries}</{stmt}></{message}></Document>").encode()


VERSIONS = [f"{v:02d}" for v in range(1, 14)]


@pytest.mark.parametrize("kind", ["053", "052", "054"])
@pytest.mark.parametrize("version", VERSIONS)
def test_every_version(kind, version, formats, tmp_path):
    entries = (_entry("CRDT", "1500.50", version=version, ref="E1",
                      txs=[_tx("1000.25", "CRDT", version=version, name="PAGADOR A", ref="A"),
                           _tx("500.25", "CRDT", version=version, name="PAGADOR B", ref="B")])
               + _entry("DBIT", "0.5", version=version, ref="E2"))
    balances = None if kind == "054" else ("100.00", "1600.00")
    data = _statement(version, entries, kind=kind, balances=balances)
    path = tmp_path / f"camt{kind}-{version}.xml"
    path.write_bytes(data)
    report = parse_file(path, formats)
    assert report.format == f"camt.{kind}" and not report.error, report.error
    assert report.line_count == 3 and report.credit_sum == Decimal("1500.50") and report.debit_sum == Decimal("0.5")
    assert not report.balance_breaks
    lines, (summary,) = read(data, FORMATS[kind])
    assert [line.payer_name for line in lines[:2]] == ["PAGADOR A", "PAGADOR B"]
    assert [line.end_to_end_id for line in lines[:2]] == ["A", "B"]
    if kind != "054":
        assert (summary.opening_balance, summary.closing_balance) == (Decimal("100.00"), Decimal("1600.00"))
    # the same content without a namespace
    bare = _statement(version, entries, kind=kind, balances=balances, namespace=False)
    assert FORMATS[kind].detect(bare, "") == 0.9
    assert [line.amount for line in read(bare, FORMATS[kind])[0]] == [line.amount for line in lines]


def test_balance_break_is_reported_not_raised(formats, tmp_path):
    path = tmp_path / "break.xml"
    path.write_bytes(_statement("08", _entry("CRDT", "10.00", version="08"), balances=("100.00", "111.00")))
    report = parse_file(path, formats)
    assert not report.error and [str(c.balance_break) for c in report.balance_breaks] == ["1.00"]


# -- errors ---------------------------------------------------------------------------------------

def test_truncated():
    err = refused(BROKEN / "truncated.xml")
    assert "truncated" in err.problem and err.position == "Stmt[1]"


def test_truncated_inside_an_entry():
    data = (DATA / "camt053_v02_statement.xml").read_bytes()
    err = refused(data[: data.index(b"<NtryRef>3</NtryRef>") + 30])
    assert "truncated" in err.problem and err.position == "Stmt[1]/Ntry[3]"


def test_bad_amount():
    err = refused(BROKEN / "bad_amount.xml")
    assert (err.position, err.field) == ("Stmt[1]/Ntry[2]/Amt", "Amt") and "'250.000,00' is not an amount" in err.problem


@pytest.mark.parametrize("text", ["-5.00", "1e3", "", "12.", "1 000.00"])
def test_amount_forms_refused(text):
    err = refused(_statement("02", _entry("CRDT", "1.00") + _entry("CRDT", text)))
    assert err.position == "Stmt[1]/Ntry[2]/Amt"


def test_bad_amount_in_a_transaction():
    xml = _statement("04", _entry("CRDT", "3.00", txs=[_tx("1.00", "CRDT"), _tx("2,00", "CRDT")]))
    err = refused(xml)
    assert err.position == "Stmt[1]/Ntry[1]/TxDtls[2]/Amt"


def test_bad_currency_code():
    err = refused(_statement("02", _entry("CRDT", "1.00", ccy="pesos")))
    assert err.field == "Ccy"


def test_bad_date():
    err = refused(BROKEN / "bad_date.xml")
    assert (err.position, err.field) == ("Stmt[1]/Ntry[3]/BookgDt/Dt", "Dt") and "2026-02-30" in err.problem


@pytest.mark.parametrize("booking", ["<DtTm>2026-11-20 10:00:00</DtTm>", "<DtTm>2026-11-20T25:00:00</DtTm>",
                                     "<Dt>20261120</Dt>", "<Dt/>"])
def test_date_forms_refused(booking):
    err = refused(_statement("08", _entry("CRDT", "1.00", version="08", booking=booking)))
    assert err.position.startswith("Stmt[1]/Ntry[1]/BookgDt/")


def test_missing_mandatory_elements():
    assert refused(BROKEN / "missing_cdtdbtind.xml").position == "Stmt[1]/Ntry[2]/CdtDbtInd"
    assert refused(BROKEN / "missing_account.xml").field == "Acct"
    no_amount = _statement("02", "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-11-20</Dt></BookgDt></Ntry>")
    assert refused(no_amount).position == "Stmt[1]/Ntry[1]/Amt"
    no_id = _statement("02", _entry("CRDT", "1.00")).replace(b"<Id>S-053-02</Id>", b"")
    assert refused(no_id).position == "Stmt[1]/Id"


def test_txssummry_checked():
    err = refused(BROKEN / "txssummry_mismatch.xml")
    assert err.position == "Stmt[1]/TxsSummry/TtlNtries/NbOfNtries" and "5" in err.problem


def test_no_statement_and_other_messages():
    assert "holds no Stmt" in refused(BROKEN / "no_statement.xml").problem
    err = refused(BROKEN / "pain001.xml")
    assert "not a camt.053 message" in err.problem and "pain.001" in err.problem
    # a camt namespace of another message type under the right element
    other = _statement("08", _entry("CRDT", "1.00")).replace(b"camt.053.001.08", b"camt.052.001.08")
    assert "camt.052" in refused(other).problem
    wrong_ns = _statement("08", _entry("CRDT", "1.00")).replace(b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
                                                               b"urn:example:statements")
    assert Camt053().detect(wrong_ns, "") == 0.6
    assert refused(wrong_ns).field == "xmlns"


def test_garbage_and_empty_files():
    assert refused(b"").position == "byte 1"
    assert "malformed" in refused(b"<Document><BkToCstmrStmt><Stmt></Document>").problem
    assert refused(b"\x00\x01\x02 not xml at all").problem


@pytest.mark.parametrize("name", ["billion_laughs.xml", "xxe.xml"])
def test_doctype_refused(name):
    err = refused(BROKEN / name)
    assert err.field == "DOCTYPE" and "DOCTYPE" in err.problem


def test_xxe_does_not_read_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    xml = (BROKEN / "xxe.xml").read_text().replace("file:///etc/passwd", secret.as_uri())
    for data in (xml.encode(), xml.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")):
        err = refused(data)
        assert err.field == "DOCTYPE" and "TOP-SECRET" not in str(err)


def test_doctype_hidden_from_the_byte_scan_is_refused_by_lxml(monkeypatch):
    """Even if the prolog scan missed it (it did not look far enough), lxml's docinfo says so."""
    monkeypatch.setattr(camt, "_strip_markup", lambda text: "<Document>")
    err = refused(BROKEN / "billion_laughs.xml")
    assert err.field == "DOCTYPE"


# -- size ------------------------------------------------------------------------------------------

def test_generated_file_reconciles(formats, tmp_path):
    path = BENCH.generate(tmp_path / "gen.xml", 3000)
    report = parse_file(path, formats)
    assert report.format == "camt.053" and not report.error and report.line_count == 3000
    assert len(report.statements) == 1 and not report.balance_breaks


def test_elements_are_freed_while_streaming(monkeypatch, tmp_path):
    """The tree holds what libxml2 parsed ahead of the events (one read chunk), never the file."""
    monkeypatch.setattr(camt, "_camtscan", None)  # this test is about the lxml reader's tree
    path = BENCH.generate(tmp_path / "gen.xml", 2000)
    seen = []
    real = etree.iterparse

    class Spy:
        def __init__(self, *args, **kwargs):
            self.context = real(*args, **kwargs)
            self.root = None

        def __iter__(self):
            for event, el in self.context:
                seen.append(el)
                yield event, el
            self.root = self.context.root

    monkeypatch.setattr(camt.etree, "iterparse", Spy)
    biggest = lines = 0
    with open(path, "rb") as fh:
        for item in Camt053().parse(fh, "gen.xml"):
            lines += isinstance(item, StatementLine)
            if lines % 97 == 1:
                biggest = max(biggest, sum(1 for _ in seen[-1].getroottree().getroot().iter()))
            del seen[:-1]
    in_file = sum(1 for _ in etree.parse(str(path)).iter())
    assert lines == 2000 and in_file > 80_000 and 0 < biggest < 3000


def test_huge_batch_streams(monkeypatch):
    monkeypatch.setattr(camt, "SPLIT_BUFFER", 4)
    txs = [_tx(f"{i}.00", "CRDT", ref=f"T{i}") for i in range(1, 11)]
    lines, _ = read(_statement("04", _entry("CRDT", "55.00", txs=txs)))
    assert [line.amount for line in lines] == [Decimal(f"{i}.00") for i in range(1, 11)]
    bad = _statement("04", _entry("CRDT", "56.00", txs=txs))
    assert "add up to 55.00" in refused(bad).problem


# -- robustness --------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SAMPLE = (DATA / "camt053_v02_statement.xml").read_bytes()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.integers(0, 40), st.binary(max_size=20))
def test_mangled_files_only_ever_raise_statement_errors(at, cut, junk):
    data = SAMPLE[:at] + junk + SAMPLE[at + cut:]
    for fmt in FORMATS.values():
        assert 0.0 <= fmt.detect(data[:8192], "x") <= 1.0
    try:
        read(data)
    except StatementError as exc:
        assert exc.problem


def test_prefixed_namespace_and_envelope():
    plain = (DATA / "camt053_v02_statement.xml").read_text(encoding="utf-8")
    body = plain[plain.index("<Document"):]
    prefixed = re_prefix(body)
    lines, (summary,) = read(('<?xml version="1.0" encoding="UTF-8"?>' + prefixed).encode())
    assert len(lines) == 4 and summary.closing_balance == Decimal("2074050.00")
    enveloped = ('<?xml version="1.0" encoding="UTF-8"?><BizMsgEnvlp>'
                 '<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02"><BizMsgIdr>B1</BizMsgIdr>'
                 '<MsgDefIdr>camt.053.001.02</MsgDefIdr></AppHdr>' + body + "</BizMsgEnvlp>")
    assert Camt053().detect(enveloped.encode(), "") == 1.0
    lines, _ = read(enveloped.encode())
    assert [line.position for line in lines][-1] == "Stmt[1]/Ntry[4]"


def re_prefix(xml: str) -> str:
    """The same document with the camt namespace bound to the prefix ns2 on every element."""
    import re

    xml = xml.replace('xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"',
                      'xmlns:ns2="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"')
    xml = re.sub(r"<!--.*?-->", "", xml, flags=re.DOTALL)
    return re.sub(r"<(/?)([A-Za-z])", r"<\1ns2:\2", xml)
