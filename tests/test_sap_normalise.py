"""What SAP's line items become: ALPHA numbers, signs from DB_CR_IND, due dates from the baseline
and terms, discount terms, references and assignments, residual items, left-out lines; and the
same items read in bulk from BSID with RFC_READ_TABLE (user's decimal notation, TCURX shift, with
the decimals read from SAP: COP at 0 as SAP delivers it, or at 2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador import PermanentError
from conciliador.plugins.sap import SapErp
from conciliador.plugins.sap.normalise import alpha_in, alpha_out, due_date, reference, sap_date, written_number
from emulators.sap import SapEmulator, seed

BASE = dt.date(2026, 10, 1)


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        emulator.company_code(seed.BUKRS)
        emulator.company_code("2000")
        ledger = emulator.ledger
        ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456-7", company_codes=("1000",))
        ledger.add_customer("C-EXPORT", "Andes Trading Inc.", stcd2="US123456789", company_codes=("1000",))
        ledger.add_customer("1099", "Cliente de otra sociedad", company_codes=("2000",))
        yield emulator


def read(emu: SapEmulator, **overrides) -> dict[str, object]:
    erp = SapErp(SapErp.Settings.model_validate(seed.settings(emu, **overrides), context={"base_dir": Path.cwd()}),
                 company="acme")
    try:
        return {i.document: i for i in erp.open_items()}
    finally:
        erp.close()


def test_pure_conversions():
    assert (alpha_in("1000"), alpha_in(" c001 "), alpha_in("0000001000")) == ("0000001000", "C001", "0000001000")
    assert (alpha_out("0000001000"), alpha_out("C001"), alpha_out("0000000000")) == ("1000", "C001", "0")
    assert (reference("000012345"), reference("FE-00012"), reference(None)) == ("12345", "FE-00012", "")
    assert (sap_date("0000-00-00"), sap_date("20261001"), sap_date("2026-10-01")) == (None, BASE, BASE)
    assert written_number("1,234,567.89-", 2) == Decimal("-1234567.89")
    assert written_number("1.234.567,89 ", 2) == Decimal("1234567.89")
    assert written_number("  1 234 567,89", 2) == Decimal("1234567.89")
    assert written_number("2,000 ", 3) == Decimal("2.000") and written_number(" 30 ", 0) == Decimal(30)
    with pytest.raises(ValueError):
        written_number("12x", 2)
    # SAP's net due date: the last period of the terms that is set.
    assert due_date(BASE, Decimal(30), Decimal(0), Decimal(0), credit=False, invoice_reference="") == dt.date(2026, 10, 31)
    assert due_date(BASE, Decimal(0), Decimal(20), Decimal(10), credit=False, invoice_reference="") == dt.date(2026, 10, 21)
    assert due_date(BASE, Decimal(30), Decimal(0), Decimal(0), credit=True, invoice_reference="") == BASE
    assert due_date(BASE, Decimal(30), Decimal(0), Decimal(0), credit=True, invoice_reference="1800000001") == \
        dt.date(2026, 10, 31)


def test_items_from_the_bapi(emu):
    ledger = emu.ledger
    plain = ledger.post_invoice("1000", "1000", Decimal("1190000.00"), "COP", xblnr="FE-1001", bldat=BASE,
                                days_net=30, tax=Decimal("190000.00"), days_discount=10, discount_pct=Decimal("2"))
    numeric = ledger.post_invoice("1000", "1000", Decimal("50000.00"), "COP", xblnr="000012345", bldat=BASE,
                                  belnr="90001")
    assigned = ledger.post_invoice("1000", "1000", Decimal("70000.00"), "COP", xblnr="", zuonr="PEDIDO-77", bldat=BASE)
    ordered = ledger.post_invoice("1000", "1000", Decimal("60000.00"), "COP", xblnr="FE-1002", zuonr="4500123",
                                  bldat=BASE)
    credit = ledger.post_invoice("1000", "1000", Decimal("-30000.00"), "COP", xblnr="NC-55", bldat=BASE, blart="DG")
    dollars = ledger.post_invoice("1000", "C-EXPORT", Decimal("12500.10"), "USD", xblnr="EXP-7", bldat=BASE)
    down = ledger.post_invoice("1000", "1000", Decimal("99.00"), "COP", xblnr="ANT-1", bldat=BASE)
    down.UMSKZ = "A"  # a down payment request (special G/L)
    noted = ledger.post_invoice("1000", "1000", Decimal("88.00"), "COP", xblnr="NOTA-1", bldat=BASE)
    noted.BSTAT = "S"

    items = read(emu)

    doc = lambda i: f"{i.BELNR}/{i.GJAHR}/{i.BUZEI}"  # noqa: E731
    assert set(items) == {doc(i) for i in (plain, numeric, assigned, ordered, credit, dollars)}
    first = items[doc(plain)]
    assert (first.customer_id, first.reference, first.currency, first.open_amount, first.original_amount) == \
        ("1000", "FE-1001", "COP", Decimal("1190000.00"), Decimal("1190000.00"))
    assert (first.document_date, first.due_date) == (BASE, dt.date(2026, 10, 31))
    assert (first.discount_rate, first.discount_until) == (Decimal("0.02"), dt.date(2026, 10, 11))
    assert (first.tax_base, first.vat) == (Decimal("1000000.00"), Decimal("190000.00"))
    assert items["0000090001/2026/001"].reference == "12345"  # padded in SAP, as people write it
    assert (items[doc(assigned)].reference, items[doc(assigned)].assignment) == ("PEDIDO-77", "")  # stands in for XBLNR
    assert (items[doc(ordered)].reference, items[doc(ordered)].assignment) == ("FE-1002", "4500123")  # both matched
    assert (items[doc(credit)].open_amount, items[doc(credit)].due_date) == (Decimal("-30000.00"), BASE)
    assert (items[doc(dollars)].customer_id, items[doc(dollars)].currency, items[doc(dollars)].open_amount) == \
        ("C-EXPORT", "USD", Decimal("12500.10"))
    assert doc(down) in read(emu, special_gl_indicators=["A"])


def test_customers_with_the_configured_tax_field(emu):
    erp = SapErp(SapErp.Settings.model_validate(seed.settings(emu)), company="acme")
    assert [(c.id, c.name, c.tax_id) for c in erp.customers()] == [
        ("1000", "Inversiones Peñalosa S.A.S.", "900123456-7"), ("C-EXPORT", "Andes Trading Inc.", "")]
    erp = SapErp(SapErp.Settings.model_validate(seed.settings(emu, tax_id_field="STCD2")), company="acme")
    assert {c.id: c.tax_id for c in erp.customers()}["C-EXPORT"] == "US123456789"


@pytest.mark.parametrize("notation", [" ", "X", "Y"])
def test_bulk_reading_gives_the_same_items(emu, notation):
    ledger = emu.ledger
    ledger.decimals["JPY"] = 0
    for n in range(7):
        ledger.post_invoice("1000", "1000", Decimal(f"{1234567 + n}.89"), "COP", xblnr=f"FE-{n}", bldat=BASE,
                            days_net=30 + n, days_discount=5, discount_pct=Decimal("1.5"))
    ledger.post_invoice("1000", "C-EXPORT", Decimal("-4500.25"), "USD", xblnr="NC-9", bldat=BASE)
    yen = ledger.post_invoice("1000", "C-EXPORT", Decimal("150000"), "JPY", xblnr="JP-1", bldat=BASE)
    seed.residual(emu, ledger.bsid[("1000", "2026", "1800000001", "001")], Decimal("234567.89"), dt.date(2026, 10, 20))
    emu.users["CONCILIADOR"].decimal_notation = notation

    per_customer = read(emu)
    bulk = read(emu, open_items_read="bulk", page_size=100)

    assert bulk == per_customer and len(bulk) == 9
    assert bulk[f"{yen.BELNR}/{yen.GJAHR}/001"].open_amount == Decimal("150000")  # 1500.00 inside SAP (TCURX)
    assert bulk["1800000001/2026/001"].open_amount == Decimal("1000000.00")  # the residual, as its invoice


@pytest.mark.parametrize("cop_decimals", [0, 2])
def test_cop_amounts_are_right_whatever_tcurx_gives_cop(cop_decimals):
    # SAP delivers COP without decimals (TCURX, SAP note 137626); some systems keep two. The BAPI
    # gives external amounts either way, RFC_READ_TABLE the internal ones: both must read the same.
    with SapEmulator(currency_decimals={"COP": cop_decimals}) as emu:
        emu.company_code(seed.BUKRS)
        emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
        plain = emu.ledger.post_invoice("1000", "1000", Decimal("1190000"), "COP", xblnr="FE-1", bldat=BASE,
                                        tax=Decimal("190000"))
        seed.residual(emu, emu.ledger.post_invoice("1000", "1000", Decimal("500000"), "COP", xblnr="FE-2", bldat=BASE),
                      Decimal("200000"), dt.date(2026, 10, 20))

        per_customer = read(emu)
        bulk = read(emu, open_items_read="bulk")

        assert bulk == per_customer
        assert sorted((i.reference, i.open_amount, i.vat) for i in bulk.values()) == [
            ("FE-1", Decimal("1190000"), Decimal("190000")), ("FE-2", Decimal("300000"), None)]
        assert bulk[f"{plain.BELNR}/{plain.GJAHR}/001"].open_amount.as_tuple().exponent == -cop_decimals
        assert "BAPI_CURRENCY_GETDECIMALS" in emu.calls
        erp = SapErp(SapErp.Settings.model_validate(seed.settings(emu)), company="acme")
        [line] = [r for r in erp.check() if r.name.startswith("SAP currency decimals")]
        assert (line.ok, line.detail) == (True, f"COP: {cop_decimals} decimals (TCURX)")


def test_without_the_decimals_bapi_the_setting_stands_in(emu):
    emu.ledger.decimals["COP"] = 0
    emu.ledger.post_invoice("1000", "1000", Decimal("1190000"), "COP", xblnr="FE-1", bldat=BASE)
    emu.users["CONCILIADOR"].functions = {"RFC_READ_TABLE", "BAPI_AR_ACC_GETOPENITEMS"}  # no S_RFC for the BAPI
    # Per customer the BAPI's external amounts need no decimals; bulk reading cannot do without.
    assert [i.open_amount for i in read(emu).values()] == [Decimal("1190000")]
    with pytest.raises(PermanentError, match=r"decimals of currency COP are unknown.*add BAPI_CURRENCY_GETDECIMALS "
                                             r"to the user's S_RFC.*currency_decimals = \{ COP = N \}"):
        read(emu, open_items_read="bulk")
    assert [i.open_amount for i in read(emu, open_items_read="bulk", currency_decimals={"COP": 0}).values()] == \
        [Decimal("1190000")]
    erp = SapErp(SapErp.Settings.model_validate(seed.settings(emu, currency_decimals={"cop": 0})), company="acme")
    [line] = [r for r in erp.check() if r.name.startswith("SAP currency decimals")]
    assert line.ok and line.detail.startswith("COP: 0 decimals from the currency_decimals setting; SAP could not be")
