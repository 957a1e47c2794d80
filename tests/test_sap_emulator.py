"""The SAP emulator behaves as SAP does where the connector depends on it: the WSDL's shape, the
message shapes, ICF logon, sessions (a commit in another call commits nothing), open items at a
key date, duplicate reference detection off unless switched on, and TCURX: the decimals of a
currency from BAPI_CURRENCY_GETDECIMALS, external amounts in and out of every posting path, the
internal value only in RFC_READ_TABLE."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests
import zeep
from lxml import etree
from zeep.transports import Transport

from emulators.sap import PASSWORD, USER, SapEmulator, seed
from emulators.sap.ledger import SapMessage

NS = "urn:sap-com:document:sap:rfc:functions"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        emulator.company_code(seed.BUKRS)
        emulator.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
        yield emulator


def session() -> requests.Session:
    s = requests.Session()
    s.auth = (USER, PASSWORD)
    s.params = {"sap-client": "100"}
    return s


def service(emu: SapEmulator, function: str):
    client = zeep.Client(f"{emu.url}/sap/bc/soap/wsdl11?services={function}", transport=Transport(session=session()))
    return getattr(client.create_service(next(iter(client.wsdl.bindings)), f"{emu.url}/sap/bc/soap/rfc"), function)


def test_wsdl_in_sap_rfc_style(emu):
    response = session().get(f"{emu.url}/sap/bc/soap/wsdl11", params={"services": "BAPI_AR_ACC_GETOPENITEMS"})
    root = etree.fromstring(response.content)
    xsd = {"xsd": "http://www.w3.org/2001/XMLSchema", "wsdl": "http://schemas.xmlsoap.org/wsdl/"}
    assert root.get("targetNamespace") == NS
    names = root.xpath("//xsd:schema/xsd:element/@name", namespaces=xsd)
    assert names == ["BAPI_AR_ACC_GETOPENITEMS", "BAPI_AR_ACC_GETOPENITEMS.Response"]
    [table] = root.xpath("//xsd:complexType[@name='TABLE_OF_BAPI3007_2']//xsd:element", namespaces=xsd)
    assert (table.get("name"), table.get("type"), table.get("maxOccurs")) == ("item", "tns:BAPI3007_2", "unbounded")
    assert root.xpath("//xsd:simpleType[@name='date']//xsd:pattern/@value", namespaces=xsd) == [r"\d\d\d\d-\d\d-\d\d"]
    missing = session().get(f"{emu.url}/sap/bc/soap/wsdl11", params={"services": "Z_NOT_THERE"})
    assert missing.status_code == 500 and "Z_NOT_THERE does not exist" in missing.text


def test_answer_shape_unsigned_amounts_and_initial_dates(emu):
    emu.ledger.post_invoice("1000", "1000", Decimal("-30000.00"), "COP", xblnr="NC-1", bldat=dt.date(2026, 10, 1))
    body = (f'<soap-env:Envelope xmlns:soap-env="{SOAP}"><soap-env:Body><urn:BAPI_AR_ACC_GETOPENITEMS xmlns:urn="{NS}">'
            "<COMPANYCODE>1000</COMPANYCODE><CUSTOMER>0000001000</CUSTOMER><KEYDATE>2026-11-20</KEYDATE>"
            "</urn:BAPI_AR_ACC_GETOPENITEMS></soap-env:Body></soap-env:Envelope>")
    response = session().post(f"{emu.url}/sap/bc/soap/rfc", data=body, headers={"Content-Type": "text/xml"})
    root = etree.fromstring(response.content)
    [answer] = root.find(f"{{{SOAP}}}Body")
    assert answer.tag == f"{{{NS}}}BAPI_AR_ACC_GETOPENITEMS.Response"
    [item] = answer.find("LINEITEMS").findall("item")
    assert (item.findtext("AMT_DOCCUR"), item.findtext("DB_CR_IND"), item.findtext("CLEAR_DATE")) == \
        ("30000.0000", "H", "0000-00-00")
    assert answer.find("RETURN").findtext("TYPE") == ""


def test_logon_and_lock_after_five_failures(emu):
    bad = requests.get(f"{emu.url}/sap/bc/soap/wsdl11", params={"services": "RFC_READ_TABLE", "sap-client": "100"},
                       auth=(USER, "nope"))
    assert bad.status_code == 401 and 'realm="SAP NetWeaver Application Server [CON/100]"' in \
        bad.headers["WWW-Authenticate"]
    for _ in range(4):
        requests.get(f"{emu.url}/sap/bc/soap/wsdl11", params={"services": "RFC_READ_TABLE"}, auth=(USER, "nope"))
    locked = session().get(f"{emu.url}/sap/bc/soap/wsdl11", params={"services": "RFC_READ_TABLE"})
    assert locked.status_code == 401 and "locked" in locked.text


def test_missing_rfc_authority_is_a_soap_fault(emu):
    emu.users["CONCILIADOR"].functions = {"RFC_READ_TABLE"}
    with pytest.raises(zeep.exceptions.Fault) as info:
        service(emu, "BAPI_AR_ACC_GETOPENITEMS")(COMPANYCODE="1000", CUSTOMER="0000001000", KEYDATE="2026-11-20")
    assert info.value.message == "RFC_AUTHORIZATION_FAILURE"


def test_bapi_commit_in_another_call_commits_nothing(emu):
    post = service(emu, "BAPI_ACC_DOCUMENT_POST")
    result = post(DOCUMENTHEADER={"BUS_ACT": "RFBU", "USERNAME": USER, "COMP_CODE": "1000", "DOC_DATE": "2026-11-20",
                                  "PSTNG_DATE": "2026-11-20", "DOC_TYPE": "DZ", "REF_DOC_NO": "LOSTDOC"},
                  ACCOUNTGL={"item": [{"ITEMNO_ACC": "1", "GL_ACCOUNT": "11100505"}]},
                  ACCOUNTRECEIVABLE={"item": [{"ITEMNO_ACC": "2", "CUSTOMER": "1000"}]},
                  CURRENCYAMOUNT={"item": [{"ITEMNO_ACC": "1", "CURRENCY": "COP", "AMT_DOCCUR": "100.00"},
                                           {"ITEMNO_ACC": "2", "CURRENCY": "COP", "AMT_DOCCUR": "-100.00"}]},
                  RETURN={"item": []})
    assert result.RETURN.item[0].ID == "RW" and result.RETURN.item[0].NUMBER == "605" and result.OBJ_KEY
    service(emu, "BAPI_TRANSACTION_COMMIT")(WAIT="X")
    assert emu.documents_with_reference("1000", "LOSTDOC") == []


def test_open_at_key_date_and_duplicate_reference_check(emu):
    ledger = emu.ledger
    invoice = ledger.post_invoice("1000", "1000", Decimal("500.00"), "COP", xblnr="FE-1", bldat=dt.date(2026, 10, 1))
    seed.residual(emu, invoice, Decimal("200.00"), dt.date(2026, 10, 20))
    before = ledger.open_items("1000", invoice.KUNNR, dt.date(2026, 10, 15))
    after = ledger.open_items("1000", invoice.KUNNR, dt.date(2026, 10, 25))
    assert [(i.BELNR, i.WRBTR) for i in before] == [(invoice.BELNR, Decimal("500.00"))]  # cleared later: open then
    assert [i.WRBTR for i in after] == [Decimal("300.00")]
    # The same reference twice is accepted, as SAP does for customer documents ...
    seed.residual(emu, ledger.bsid[after[0].key], Decimal("100.00"), dt.date(2026, 10, 21))
    # ... unless the duplicate check is switched on.
    ledger.duplicate_reference_check = True
    with pytest.raises(SapMessage, match="already been entered"):
        seed.residual(emu, next(iter(ledger.bsid.values())), Decimal("50.00"), dt.date(2026, 10, 22))


def test_currency_decimals_and_external_amounts():
    with SapEmulator(currency_decimals={"COP": 0}) as emu:
        emu.company_code(seed.BUKRS)
        emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
        body = (f'<soap-env:Envelope xmlns:soap-env="{SOAP}"><soap-env:Body><urn:BAPI_CURRENCY_GETDECIMALS xmlns:urn='
                f'"{NS}"><CURRENCY>COP</CURRENCY></urn:BAPI_CURRENCY_GETDECIMALS></soap-env:Body></soap-env:Envelope>')
        root = etree.fromstring(session().post(f"{emu.url}/sap/bc/soap/rfc", data=body,
                                               headers={"Content-Type": "text/xml"}).content)
        [answer] = root.iter(f"{{{NS}}}BAPI_CURRENCY_GETDECIMALS.Response")
        assert [(c.tag, c.text) for c in answer.find("CURRENCY_DECIMALS")] == [
            ("CURRENCY", "COP"), ("CURDECIMALS", "0"), ("CURRENCY_ISO", "COP")]
        assert answer.findtext("RETURN/TYPE") in ("", None)
        unknown = service(emu, "BAPI_CURRENCY_GETDECIMALS")(CURRENCY="XXX")
        assert (unknown.RETURN.TYPE, unknown.RETURN.MESSAGE) == ("E", "Currency XXX is not defined")
        # FB05 through the wrapper: FVAL is external; more decimals than COP has cannot be converted.
        invoice = emu.ledger.post_invoice("1000", "1000", Decimal("1190000"), "COP", xblnr="FE-1",
                                          bldat=dt.date(2026, 10, 1))
        header = {"BKPF-BUKRS": "1000", "BKPF-BLDAT": "20261120", "BKPF-BUDAT": "20261120", "BKPF-BLART": "DZ",
                  "BKPF-WAERS": "COP", "BKPF-XBLNR": "K1"}

        def clearing(amount: str):
            ftpost = [{"STYPE": "K", "COUNT": "001", "FNAM": k, "FVAL": v} for k, v in header.items()]
            ftpost += [{"STYPE": "P", "COUNT": "001", "FNAM": k, "FVAL": v} for k, v in
                       {"RF05A-NEWBS": "40", "RF05A-NEWKO": "11100505", "BSEG-WRBTR": amount}.items()]
            ftclear = [{"AGKOA": "D", "AGKON": "0000001000", "AGBUK": "1000", "XNOPS": "X", "SELFD": "BELNR",
                        "SELVON": f"{invoice.BELNR}2026001"}]
            return service(emu, "Z_CONCILIADOR_CLEARING")(I_AUGLV="EINGZAHL", I_TCODE="FB05",
                                                          T_FTPOST={"item": ftpost}, T_FTCLEAR={"item": ftclear})

        refused = clearing("1190000.50")
        assert refused.RETURN.item[0].MESSAGE == \
            "Amount 1190000.50 has more decimal places than currency COP allows (0)"
        assert clearing("1190000").T_BLNTAB.item and emu.cleared_item("1000", invoice.BELNR, invoice.GJAHR)
        # Only RFC_READ_TABLE shows the internal value: 1,190,000 COP is 11,900.00 inside SAP.
        read = service(emu, "RFC_READ_TABLE")(QUERY_TABLE="BSAD", FIELDS={"item": [{"FIELDNAME": "WRBTR"}]},
                                              OPTIONS={"item": [{"TEXT": f"BELNR = '{invoice.BELNR}'"}]})
        assert [row.WA.strip() for row in read.DATA.item] == ["11,900.00"]
