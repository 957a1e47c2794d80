"""A payment seen first in the intraday report (camt.052) and again in the end-of-day statement
(camt.053) is one payment: same identity, decided and posted once."""

from __future__ import annotations

from decimal import Decimal

from conftest import ACCOUNT, cli, make_workspace

ENTRY = """
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="COP">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-11-20</Dt></BookgDt>
        <ValDt><Dt>2026-11-20</Dt></ValDt>
        <AcctSvcrRef>BCO-20261120-000042</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>E2E-77</EndToEndId></Refs>
          <RltdPties><Dbtr><Pty><Nm>Cliente 1 S.A.S.</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>PAGO FACTURA {reference}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>"""


def _document(kind: str, amount: str, reference: str) -> bytes:
    root, block = {"052": ("BkToCstmrAcctRpt", "Rpt"), "053": ("BkToCstmrStmt", "Stmt")}[kind]
    balances = "" if kind == "052" else f"""
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="COP">1000000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="COP">{Decimal("1000000.00") + Decimal(amount)}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.08">
  <{root}>
    <GrpHdr><MsgId>MSG-{kind}</MsgId><CreDtTm>2026-11-20T18:00:00</CreDtTm></GrpHdr>
    <{block}>
      <Id>{kind}-1</Id>
      <CreDtTm>2026-11-20T18:00:00</CreDtTm>
      <Acct><Id><Othr><Id>{ACCOUNT}</Id></Othr></Id><Ccy>COP</Ccy></Acct>{balances}{ENTRY.format(amount=amount, reference=reference)}
    </{block}>
  </{root}>
</Document>
""".encode()


def test_intraday_then_end_of_day_is_one_payment(tmp_path):
    from conciliador.parsereport import parse_file
    from conciliador.pluginhost import PluginHost

    ws = make_workspace(tmp_path / "ws")
    _, reference, _, total = ws.invoices[0]
    amount = f"{total:.2f}"
    intraday, final = tmp_path / "intradia.xml", tmp_path / "extracto.xml"
    intraday.write_bytes(_document("052", amount, reference))
    final.write_bytes(_document("053", amount, reference))

    formats = PluginHost().load().bank_formats()
    seen = []
    for path in (intraday, final):
        report = parse_file(path, formats, on_line=seen.append)
        assert report.error == "" and report.format == ("camt.053" if path == final else "camt.052")
    assert len(seen) == 2 and seen[0].identity == seen[1].identity

    for path in (intraday, final):
        (ws.inbox / path.name).write_bytes(path.read_bytes())
        assert cli("run", "--once", "--config", str(ws.config)).returncode == 0
    assert ws.query("SELECT count(*), max(seen) FROM statement_lines")[0] == (1, 2)
    assert len(ws.postings()) == 1 and ws.query("SELECT count(*) FROM decisions")[0][0] == 1
    assert ws.query("SELECT count(*) FROM files WHERE status = 'archived'")[0][0] == 2
