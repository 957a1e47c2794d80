"""The SAP connector against the emulator over HTTP: the FB05 document it builds (bank,
withholding, discount, write-off, residual and on-account lines), how SAP's refusals and troubles
map to errors, ``check()``, the key lookup, reversal, and TLS with a CA bundle."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from conciliador import Application, PermanentError, Posting, PostingKind, RetryableError, Withholding
from conciliador.plugins.sap import SapErp
from emulators.sap import SapEmulator, seed

DAY = dt.date(2026, 11, 20)


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        emulator.company_code(seed.BUKRS)
        emulator.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456", company_codes=("1000",))
        emulator.ledger.add_customer("1001", "Distribuidora Ñandú Ltda.", stcd1="800987654", company_codes=("1000",))
        yield emulator


def connect(emu: SapEmulator, **overrides) -> SapErp:
    return SapErp(SapErp.Settings.model_validate(seed.settings(emu, **overrides), context={"base_dir": Path.cwd()}),
                  company="acme")


@pytest.fixture
def erp(emu):
    connector = connect(emu)
    yield connector
    connector.close()


def invoice(emu: SapEmulator, amount: str, ref: str, customer: str = "1000", **kw):
    return emu.ledger.post_invoice("1000", customer, Decimal(amount), kw.pop("currency", "COP"), xblnr=ref,
                                   bldat=dt.date(2026, 10, 1), **kw)


def posting(key: str, amount: str, *apps: Application, customer: str = "1000", on_account: str = "0",
            value_date: dt.date = DAY, **kw) -> Posting:
    return Posting(key=key, company="acme", kind=PostingKind.APPLY if apps else PostingKind.ON_ACCOUNT,
                   customer_id=customer, currency=kw.pop("currency", "COP"), amount=Decimal(amount),
                   value_date=value_date, bank_account="0123-456789-01", bank_reference="REF1", applications=apps,
                   on_account=Decimal(on_account), text="Pago cliente", **kw)


def doc(item) -> str:
    return f"{item.BELNR}/{item.GJAHR}/{item.BUZEI}"


def lines_of(emu: SapEmulator, document: str) -> list[tuple[str, str, str, Decimal]]:
    return sorted((g.HKONT, g.BSCHL, g.SHKZG, g.WRBTR) for g in emu.ledger.gl_lines
                  if f"{g.BELNR}/{g.GJAHR}" == document)


# -- the payment document ---------------------------------------------------------------------------


def test_withholdings_discount_and_write_off_go_to_their_accounts(emu, erp):
    a = invoice(emu, "1190000.00", "FE-1", tax=Decimal("190000.00"))
    b = invoice(emu, "500000.00", "FE-2")
    apps = (
        Application(document=doc(a), reference="FE-1", amount=Decimal("1126840.00"), currency="COP",
                    withholdings=(Withholding(kind="retefuente", rate=Decimal("0.025"), base=Decimal("1000000"),
                                              amount=Decimal("25000")),
                                  Withholding(kind="reteiva", rate=Decimal("0.15"), base=Decimal("190000"),
                                              amount=Decimal("28500")),
                                  Withholding(kind="reteica", rate=Decimal("0.00966"), base=Decimal("1000000"),
                                              amount=Decimal("9660")))),
        Application(document=doc(b), reference="FE-2", amount=Decimal("489950.00"), currency="COP",
                    discount=Decimal("10000.00"), write_off=Decimal("50.00")),
    )
    result = erp.post(posting("K1", "1616790.00", *apps))

    assert emu.open_item("1000", a.BELNR, a.GJAHR) is None and emu.open_item("1000", b.BELNR, b.GJAHR) is None
    assert {emu.cleared_item("1000", i.BELNR, i.GJAHR).AUGBL for i in (a, b)} == {result.document.split("/")[0]}
    assert lines_of(emu, result.document) == [
        ("0011100505", "40", "S", Decimal("1616790.00")),  # bank
        ("0013551505", "40", "S", Decimal("25000.00")),  # retefuente
        ("0013551705", "40", "S", Decimal("28500.00")),  # reteIVA
        ("0013551805", "40", "S", Decimal("9660.00")),  # reteICA
        ("0053050505", "40", "S", Decimal("10000.00")),  # discount
        ("0053959505", "40", "S", Decimal("50.00")),  # write-off
    ]
    header = emu.ledger.bkpf[("1000", *result.document.split("/"))]
    assert (header.XBLNR, header.BLART, header.BUDAT, header.BLDAT) == ("K1", "DZ", DAY, DAY)
    bank = next(g for g in emu.ledger.gl_lines if f"{g.BELNR}/{g.GJAHR}" == result.document and g.HKONT == "0011100505")
    assert (bank.ZUONR, bank.VALUT) == ("K1", DAY)


def test_overpayment_in_tolerance_and_rest_on_account(emu, erp):
    a = invoice(emu, "100000.00", "FE-3")
    # 30 over the invoice is written off as income (posting key 50); 5,000 more stays on account.
    app = Application(document=doc(a), reference="FE-3", amount=Decimal("100030.00"), currency="COP",
                      write_off=Decimal("-30.00"))
    result = erp.post(posting("K2", "105030.00", app, on_account="5000.00"))
    assert ("0053959505", "50", "H", Decimal("30.00")) in lines_of(emu, result.document)
    [credit] = [i for i in emu.ledger.bsid.values() if i.XBLNR == "K2"]
    assert (credit.BSCHL, credit.SHKZG, credit.WRBTR, credit.ZUONR) == ("15", "H", Decimal("5000.00"), "K2")
    # Money received but not applied is not something to match payments against.
    assert doc(credit) not in {i.document for i in erp.open_items()}
    assert erp.find_posting("K2").document == result.document


def test_partial_payments_keep_the_invoice_identity(emu, erp):
    a = invoice(emu, "1000000.00", "FE-4", days_net=45)
    for key, paid in (("K3", "300000.00"), ("K4", "200000.00")):
        erp.post(posting(key, paid, Application(document=doc(a), reference="FE-4", amount=Decimal(paid),
                                                 currency="COP")))
    [rest] = [i for i in erp.open_items() if i.document == doc(a)]
    assert (rest.open_amount, rest.reference, rest.due_date) == (Decimal("500000.00"), "FE-4", dt.date(2026, 11, 15))
    [residual] = [i for i in emu.ledger.bsid.values() if i.KUNNR == a.KUNNR]
    assert (residual.REBZG, residual.REBZJ, residual.REBZZ, residual.XBLNR) == (a.BELNR, a.GJAHR, "001", "K4")


def test_the_rest_of_a_credit_memo_used_in_part_stays_open_as_the_credit_memo(emu, erp):
    # FB05 leaves the unused 60,000 as a credit residual (posting key 16, REBZT V) in the payment
    # document, type DZ: it is the credit memo's rest, not money received, and the agent must see it.
    a = invoice(emu, "500000.00", "FE-30")
    cm = invoice(emu, "-100000.00", "NC-30", blart="DG")
    erp.post(posting("KCM1", "460000.00",
                     Application(document=doc(a), reference="FE-30", amount=Decimal("500000.00"), currency="COP"),
                     Application(document=doc(cm), reference="NC-30", amount=Decimal("-40000.00"), currency="COP")))
    [rest] = [i for i in emu.ledger.bsid.values() if i.REBZG == cm.BELNR]
    assert (rest.BSCHL, rest.SHKZG, rest.BLART, rest.REBZT, rest.WRBTR) == ("16", "H", "DZ", "V", Decimal("60000.00"))
    [item] = erp.open_items()
    assert (item.document, item.reference, item.open_amount, item.due_date) == \
        (doc(cm), "NC-30", Decimal("-60000.00"), dt.date(2026, 10, 1))  # due when the credit memo was
    assert [(i.document, i.open_amount) for i in connect(emu, open_items_read="bulk").open_items()] == \
        [(doc(cm), Decimal("-60000.00"))]
    # ... and the next payment can use it up.
    b = invoice(emu, "200000.00", "FE-31")
    erp.post(posting("KCM2", "140000.00",
                     Application(document=doc(b), reference="FE-31", amount=Decimal("200000.00"), currency="COP"),
                     Application(document=doc(cm), reference="NC-30", amount=Decimal("-60000.00"), currency="COP")))
    assert list(erp.open_items()) == [] and emu.open_item("1000", rest.BELNR, rest.GJAHR, rest.BUZEI) is None


@pytest.mark.parametrize("cop_decimals", [0, 2])
def test_amounts_go_to_sap_in_external_format_whatever_tcurx_gives_cop(cop_decimals):
    with SapEmulator(currency_decimals={"COP": cop_decimals}) as emu:
        emu.company_code(seed.BUKRS)
        emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
        erp = connect(emu)
        a = invoice(emu, "1190000", "FE-50")
        paid = erp.post(posting("KDEC1", "1000000", Application(document=doc(a), amount=Decimal("1000000"),
                                                                 currency="COP")))
        [rest] = [i for i in emu.ledger.bsid.values() if i.REBZG == a.BELNR]
        assert rest.WRBTR == Decimal("190000")
        assert ("0011100505", "40", "S", Decimal("1000000")) in lines_of(emu, paid.document)
        erp.post(posting("KDEC2", "250000"))
        [on_account] = [i for i in emu.ledger.bsid.values() if i.XBLNR == "KDEC2"]
        assert on_account.WRBTR == Decimal("250000")
        for mode in ("per_customer", "bulk"):
            assert [(i.document, i.open_amount) for i in connect(emu, open_items_read=mode).open_items()] == \
                [(doc(a), Decimal("190000"))]
        cents = posting("KDEC3", "100.50")
        if cop_decimals == 0:  # refused in words before SAP sees it
            with pytest.raises(PermanentError, match=r"the payment 100.50 COP has more decimals than SAP keeps for "
                                                     r"COP \(0\)"):
                erp.post(cents)
            assert emu.documents_with_reference("1000", "KDEC3") == []
        else:
            erp.post(cents)
            assert [i.WRBTR for i in emu.ledger.bsid.values() if i.XBLNR == "KDEC3"] == [Decimal("100.50")]


def test_payment_on_account_uses_the_committing_wrapper(emu, erp):
    result = erp.post(posting("K5", "250000.00"))
    [credit] = [i for i in emu.ledger.bsid.values() if i.XBLNR == "K5"]
    assert (credit.ZUONR, credit.SHKZG, credit.WRBTR) == ("K5", "H", Decimal("250000.00"))
    assert result.document == f"{credit.BELNR}/{credit.GJAHR}"
    assert emu.calls[-1] == "Z_CONCILIADOR_ACC_DOC_POST"


def test_the_bapi_cannot_be_named_directly(emu):
    with pytest.raises(ValidationError, match="commits nothing"):
        SapErp.Settings.model_validate(seed.settings(emu, document_post_function="BAPI_ACC_DOCUMENT_POST"))


def test_credentials_in_the_url_are_refused_without_echoing_them(emu):
    from conciliador.config import explain_error

    with pytest.raises(ValidationError, match="must not carry a user or password") as refused:
        SapErp.Settings.model_validate(seed.settings(emu, base_url="https://CONCILIADOR:s3cr3t@sap.example.com:44300"))
    said = explain_error("companies.acme.erp_settings.base_url", refused.value.errors()[0], Path("conciliador.toml"))
    assert "s3cr3t" not in said and "'https://****@sap.example.com:44300'" in said


def test_plain_http_is_refused_unless_allowed(emu):
    settings = seed.settings(emu, base_url="http://sap.example.com:8000", allow_http=False)
    with pytest.raises(ValidationError, match="plain HTTP: SAP's logon would send the password in clear"):
        SapErp.Settings.model_validate(settings)
    assert SapErp.Settings.model_validate({**settings, "allow_http": True}).base_url == "http://sap.example.com:8000"
    assert not SapErp.Settings.model_validate({**settings, "base_url": "https://sap.example.com:44300"}).allow_http


def test_arithmetic_is_checked_before_sap_sees_it(emu, erp):
    a = invoice(emu, "100000.00", "FE-6")
    app = Application(document=doc(a), amount=Decimal("100000.00"), currency="COP")
    with pytest.raises(PermanentError, match="does not equal what it applies"):
        erp.post(posting("K6", "90000.00", app))
    too_much = Application(document=doc(a), amount=Decimal("100001.00"), currency="COP")
    with pytest.raises(PermanentError, match="open for 100000.00 COP"):
        erp.post(posting("K7", "100001.00", too_much))
    assert "Z_CONCILIADOR_CLEARING" not in emu.calls


def test_missing_gl_account_waits_for_it(emu):
    a = invoice(emu, "100000.00", "FE-8")
    erp = connect(emu, gl_accounts={"bank": "11100505"})
    app = Application(document=doc(a), amount=Decimal("97500.00"), currency="COP",
                      withholdings=(Withholding(kind="retefuente", rate=Decimal("0.025"), base=Decimal("100000"),
                                                amount=Decimal("2500")),))
    with pytest.raises(RetryableError, match="gl_accounts.retefuente"):
        erp.post(posting("K8", "97500.00", app))


def test_bank_account_mapping(emu):
    a = invoice(emu, "100000.00", "FE-9")
    erp = connect(emu, gl_accounts={"bank": "11100505", "bank_by_account": {"0123 456789-01": "11100510"}})
    emu.ledger.companies["1000"].gl_accounts.add("0011100510")
    result = erp.post(posting("K9", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                              currency="COP")))
    assert lines_of(emu, result.document) == [("0011100510", "40", "S", Decimal("100000.00"))]


# -- errors ----------------------------------------------------------------------------------------


def test_closed_period_is_final_with_sap_message(emu, erp):
    a = invoice(emu, "100000.00", "FE-10")
    with pytest.raises(PermanentError) as info:
        erp.post(posting("K10", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                          currency="COP"), value_date=dt.date(2019, 12, 31)))
    assert info.value.erp_message == "Posting period 012 2019 is not open (F5 201)"
    assert emu.open_item("1000", a.BELNR, a.GJAHR) is not None


def test_missing_rfc_authority_is_final(emu):
    emu.users["CONCILIADOR"].functions = {"RFC_READ_TABLE", "BAPI_AR_ACC_GETOPENITEMS", "BAPI_AR_ACC_GETBALANCEDITEMS"}
    a = invoice(emu, "100000.00", "FE-11")
    erp = connect(emu)
    with pytest.raises(PermanentError, match="S_RFC") as info:
        erp.post(posting("K11", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                          currency="COP")))
    assert "has no RFC authorization for function module Z_CONCILIADOR_CLEARING" in info.value.erp_message


def test_missing_company_code_authority_is_final(emu):
    emu.users["CONCILIADOR"].company_codes = {"2000"}
    erp = connect(emu)
    with pytest.raises(PermanentError, match="F_BKPF_BUK"):
        list(erp.open_items())


def test_unknown_customer_is_final_with_sap_message(emu, erp):
    with pytest.raises(PermanentError) as info:
        erp.post(posting("K12", "1000.00", customer="4711"))
    assert info.value.erp_message == "Account 0000004711 does not exist in company code 1000 (F5 150)"


def test_lock_held_by_someone_else_is_retryable(emu, erp):
    a = invoice(emu, "100000.00", "FE-13")
    emu.inject("Z_CONCILIADOR_CLEARING", "lock")
    with pytest.raises(RetryableError, match="locked by user BATCH_CLEARING"):
        erp.post(posting("K13", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                          currency="COP")))
    assert erp.post(posting("K13", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                             currency="COP"))).document


def test_account_locked_in_sap_is_retryable(emu, erp):
    a = invoice(emu, "100000.00", "FE-14")
    emu.ledger.locked_accounts[("1000", a.KUNNR)] = "MGARCIA"  # someone has it open in FB05
    with pytest.raises(RetryableError, match="locked by user MGARCIA"):
        erp.post(posting("K14", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"),
                                                          currency="COP")))


def test_http_500_and_slow_answers(emu, erp):
    emu.inject("BAPI_AR_ACC_GETOPENITEMS", "http500")
    with pytest.raises(RetryableError, match="HTTP 500"):
        list(erp.open_items())
    emu.inject("BAPI_AR_ACC_GETOPENITEMS", "latency", seconds=0.3)  # within the 5 s timeout
    assert list(erp.open_items()) == []


def test_timeout_after_commit_then_found_by_key(emu):
    a = invoice(emu, "100000.00", "FE-15")
    erp = connect(emu, timeout_seconds=0.3)
    emu.inject("Z_CONCILIADOR_CLEARING", "timeout", seconds=1.0)
    p = posting("K15", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"), currency="COP"))
    with pytest.raises(RetryableError, match="may have made it"):
        erp.post(p)
    by_key = erp.find_posting("K15")
    by_customer = erp.find_step(p, "post", {})
    assert by_key is not None and by_customer is not None and by_key.document == by_customer.document
    # Sending again answers with the document SAP already holds, and posts nothing.
    assert erp.post(p).document == by_key.document
    assert emu.documents_with_reference("1000", "K15") == [tuple(by_key.document.split("/"))]


@pytest.mark.parametrize("paid", ["300000.00", "1000000.00"])  # part of the branch's invoice, then all of it
def test_timeout_paying_another_customers_invoice_is_found_not_resent(emu, paid):
    # The head office (1000) pays its branch's (1001) invoice; SAP commits, the answer is lost.
    # FB05 books the payment's customer lines on the branch, so the payer's items show nothing.
    a = invoice(emu, "1000000.00", "FE-9", customer="1001")
    erp = connect(emu, timeout_seconds=0.3)
    emu.inject("Z_CONCILIADOR_CLEARING", "timeout", seconds=1.0)
    p = posting("KBRANCH1", paid, Application(document=doc(a), reference="FE-9", amount=Decimal(paid), currency="COP"))
    with pytest.raises(RetryableError):
        erp.post(p)
    found = erp.find_step(p, "post", {})
    [made] = emu.documents_with_reference("1000", "KBRANCH1")
    assert found is not None and found.document == "/".join(made)
    assert erp.post(p).document == found.document  # sent again anyway: answered, nothing posted
    assert emu.documents_with_reference("1000", "KBRANCH1") == [made]


def test_clearing_stopped_on_a_screen_is_a_final_refusal_not_an_endless_retry(emu, erp):
    a = invoice(emu, "100000.00", "FE-16")
    emu.inject("Z_CONCILIADOR_CLEARING", "screen")
    p = posting("K16", "100000.00", Application(document=doc(a), amount=Decimal("100000.00"), currency="COP"))
    with pytest.raises(PermanentError, match="No batch input data for screen SAPMF05A 0710"):
        erp.post(p)
    assert emu.documents_with_reference("1000", "K16") == [] and erp.find_posting("K16") is None


def test_wrong_password_pauses_instead_of_locking_the_user(emu):
    erp = connect(emu, password="wrong")
    for _ in range(8):
        with pytest.raises(RetryableError):
            list(erp.customers())
    user = emu.users["CONCILIADOR"]
    assert user.failed_logons == 1 and not user.locked
    with pytest.raises(RetryableError, match="not trying again"):
        erp.find_posting("K16")


def test_wrong_client_is_a_logon_failure(emu):
    erp = connect(emu, client="200")
    with pytest.raises(RetryableError, match="client 200"):
        list(erp.customers())


# -- check, lookups, reversal -------------------------------------------------------------------


def test_check_passes_against_a_complete_system(emu, erp):
    invoice(emu, "100000.00", "FE-17")
    results = list(erp.check())
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert {r.name.split(" (")[0] for r in results} >= {
        "SAP clearing wrapper Z_CONCILIADOR_CLEARING", "SAP document post wrapper Z_CONCILIADOR_ACC_DOC_POST"}
    assert not emu.ledger.bkpf or all(h.XBLNR != "CONCILIADORCHECK" for h in emu.ledger.bkpf.values())


def test_check_names_what_is_missing(emu):
    bad = {r.name: r.detail for r in connect(emu, clearing_function="Z_FB05_WRAPPER").check() if not r.ok}
    assert list(bad) == ["SAP clearing wrapper Z_FB05_WRAPPER (test run)"]
    assert "no remote-enabled function Z_FB05_WRAPPER" in bad["SAP clearing wrapper Z_FB05_WRAPPER (test run)"]
    erp = connect(emu, gl_accounts={"bank": "11100505", "discount": "99999999"})
    bad = {r.name: r.detail for r in erp.check() if not r.ok}
    assert bad == {"SAP clearing wrapper Z_CONCILIADOR_CLEARING (test run)":
                   "G/L account 0099999999 is not defined in company code 1000 (F5 151)"}
    emu.users["CONCILIADOR"].tables = {"KNB1", "KNA1"}
    bad = {r.name: r.detail for r in connect(emu).check() if not r.ok}
    assert list(bad) == ["SAP document lookup by reference (RFC_READ_TABLE BKPF)"]
    assert "S_TABU_DIS" in bad["SAP document lookup by reference (RFC_READ_TABLE BKPF)"]


def test_reversal_reopens_what_the_payment_cleared(emu, erp):
    a = invoice(emu, "1000000.00", "FE-18")
    paid = erp.post(posting("K18", "400000.00", Application(document=doc(a), amount=Decimal("400000.00"),
                                                             currency="COP")))
    reversal = posting("K18R", "400000.00", Application(document=doc(a), amount=Decimal("400000.00"),
                                                        currency="COP"))
    reversal = reversal.model_copy(update={"kind": PostingKind.REVERSAL, "reverses": paid.document})
    result = erp.reverse(reversal)
    [item] = [i for i in erp.open_items() if i.document == doc(a)]
    assert item.open_amount == Decimal("1000000.00") and emu.open_item("1000", a.BELNR, a.GJAHR) is not None
    assert erp.find_posting("K18R").document == result.document
    assert "reversed by" in erp.find_posting("K18").detail
    with pytest.raises(PermanentError, match="already reversed"):
        erp.reverse(reversal.model_copy(update={"key": "K18S"}))


def test_lost_reversal_answer_is_found_through_the_customer_bapis_without_rfc_read_table(emu):
    # The security team allows no RFC_READ_TABLE (customers come from the Z function): after a
    # reversal's answer is lost, the agent asks find_posting(key) (or find_step with the posting),
    # which must not depend on BKPF.
    emu.users["CONCILIADOR"].functions = {
        "BAPI_AR_ACC_GETOPENITEMS", "BAPI_AR_ACC_GETBALANCEDITEMS", "Z_CONCILIADOR_CLEARING",
        "Z_CONCILIADOR_ACC_DOC_POST", "Z_CONCILIADOR_RESET_REVERSE", "Z_CONCILIADOR_CUSTOMERS"}
    erp = connect(emu, customer_read="function", timeout_seconds=0.3)
    a = invoice(emu, "100000.00", "FE-40")
    b = invoice(emu, "80000.00", "FE-41")
    app_a = Application(document=doc(a), amount=Decimal("100000.00"), currency="COP")
    app_b = Application(document=doc(b), amount=Decimal("30000.00"), currency="COP")
    paid = erp.post(posting("KREV1", "100000.00", app_a))
    partly = erp.post(posting("KREV2", "30000.00", app_b))
    reversal = posting("KREV1R", "100000.00", app_a).model_copy(
        update={"kind": PostingKind.REVERSAL, "reverses": paid.document})
    emu.inject("Z_CONCILIADOR_RESET_REVERSE", "timeout", seconds=1.0)
    with pytest.raises(RetryableError):
        erp.reverse(reversal)
    [(belnr, gjahr)] = emu.documents_with_reference("1000", "KREV1R")
    assert erp.find_posting("KREV1R").document == f"{belnr}/{gjahr}"
    # A new run (the agent restarted) knows nothing of the reversal: given the posting, the lookup
    # still goes through the customer's account.
    fresh = connect(emu, customer_read="function")
    assert fresh.find_step(reversal, "reverse", {}).document == f"{belnr}/{gjahr}"
    # A reversal not made is "not there", as conclusively: the payment's lines are on the account.
    not_made = posting("KREV2R", "30000.00", app_b).model_copy(
        update={"kind": PostingKind.REVERSAL, "reverses": partly.document})
    assert fresh.find_step(not_made, "reverse", {}) is None
    assert "RFC_READ_TABLE" not in emu.calls


# -- TLS -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Conciliador Test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "sap.key", "-out", "sap.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "sap.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "sap.pem",
        "-days", "2", "-extfile", "san.ext")
    return {"ca": folder / "ca.pem", "cert": folder / "sap.pem", "key": folder / "sap.key"}


def test_https_with_the_ca_bundle(certificates):
    with SapEmulator(tls=(str(certificates["cert"]), str(certificates["key"]))) as emu:
        emu.company_code("1000")
        emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456", company_codes=("1000",))
        trusted = connect(emu, ca_bundle=str(certificates["ca"]))
        assert [c.name for c in trusted.customers()] == ["Inversiones Peñalosa S.A.S."]
        untrusted = connect(emu)
        with pytest.raises(RetryableError, match="ca_bundle"):
            list(untrusted.customers())


def test_the_sap_example_in_config_example_is_valid(monkeypatch, tmp_path):
    import tomllib

    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text(encoding="utf-8")
    block = text[text.index("# [companies.andina]"):]
    data = tomllib.loads("\n".join(line[2:] if line.startswith("# ") else "" for line in block.splitlines()))
    monkeypatch.setenv("CONCILIADOR_SAP_PASSWORD", "from the environment")
    (tmp_path / "sap-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    company = data["companies"]["andina"]
    settings = SapErp.Settings.model_validate(company["erp_settings"], context={"base_dir": tmp_path})
    assert company["erp"] == SapErp.name
    assert settings.password.get_secret_value() == "from the environment"
    assert settings.gl_accounts.bank_by_account == {"98765432100": "0011100510"}
    assert settings.ca_bundle == tmp_path / "sap-ca.pem"


def test_decimals_are_asked_again_after_sap_refused_for_a_while(monkeypatch):
    """A 403/404 can be an ICM restart as well as a missing authorisation: the connector stops
    asking at every read, but asks again after a while, and does not keep the setting's value
    as if SAP had said it."""
    from types import SimpleNamespace

    from conciliador.plugins.sap import currency
    from conciliador.plugins.sap.rfc import IcfRefused

    class Rfc:
        down = True
        calls = 0

        def call(self, function, action, **params):
            self.calls += 1
            if self.down:
                raise IcfRefused("SAP answered HTTP 404 for /sap/bc/soap/rfc (ICM restarting)")
            return SimpleNamespace(RETURN=None, CURRENCY_DECIMALS=SimpleNamespace(CURDECIMALS="0"))

    now = [1000.0]
    monkeypatch.setattr(currency.time, "monotonic", lambda: now[0])
    rfc = Rfc()
    decimals = currency.CurrencyDecimals(rfc, SimpleNamespace(currency_decimals={"COP": 2}))
    assert decimals.read("COP") == 2 and decimals.source["COP"] == "setting"
    rfc.down = False
    assert decimals.read("COP") == 2 and rfc.calls == 1  # not asked at every read
    now[0] += currency.ASK_AGAIN_SECONDS
    assert decimals.read("COP") == 0 and decimals.source["COP"] == "SAP" and rfc.calls == 2
    assert decimals.unavailable is None
