"""Reading the customers three ways (``customer_read``) against the SAP emulator over HTTP:
``RFC_READ_TABLE`` (KNB1 + KNA1), the customer's ``Z_CONCILIADOR_CUSTOMERS`` for shops that
forbid RFC_READ_TABLE, and S/4HANA's ``API_BUSINESS_PARTNER``. Each gives the same customers with
the same tax ids; paging holds beyond one page; a missing function, service or authority is a
PermanentError that says what to ask the SAP team for, and ``check()`` reports it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from conciliador import PermanentError
from conciliador.plugins.sap import SapErp
from emulators.sap import CUSTOMERS_FUNCTION, SapEmulator, ddic, seed

MODES = {"rfc_read_table": {}, "function": {"customer_read": "function"},
         "odata": {"customer_read": "odata", "backend": "s4_odata"}}


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        emulator.company_code(seed.BUKRS)
        emulator.company_code("2000")
        add = emulator.ledger.add_customer
        add("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456-7", company_codes=("1000",))
        add("1001", "Distribuidora de Alimentos del", name2="Caribe Colombiano Ltda.",
            stcd1="800987654-1", stcd2="CO800987654", company_codes=("1000", "2000"))
        # Flagged for deletion and blocked: still listed, it may still pay its open items.
        add("1002", "Comercializadora Cerrada S.A.", stcd1="901555222-3", loevm="X", sperr="X",
            company_codes=("1000",))
        add("1003", "Sin NIT registrado", company_codes=("1000",))
        add("2001", "Solo en otra sociedad S.A.", stcd1="830111222-4", company_codes=("2000",))
        yield emulator


def connect(emu: SapEmulator, mode: str = "rfc_read_table", **overrides) -> SapErp:
    values = seed.settings(emu, **{**MODES[mode], **overrides})
    return SapErp(SapErp.Settings.model_validate(values, context={"base_dir": Path.cwd()}), company="acme")


def read(emu: SapEmulator, mode: str, **overrides) -> list[tuple[str, str, str]]:
    erp = connect(emu, mode, **overrides)
    try:
        return sorted((c.id, c.name, c.tax_id) for c in erp.customers())
    finally:
        erp.close()


EXPECTED = [
    ("1000", "Inversiones Peñalosa S.A.S.", "900123456-7"),
    ("1001", "Distribuidora de Alimentos del Caribe Colombiano Ltda.", "800987654-1"),
    ("1002", "Comercializadora Cerrada S.A.", "901555222-3"),
    ("1003", "Sin NIT registrado", ""),
]


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_reads_the_company_codes_customers_with_their_nit(emu, mode):
    assert read(emu, mode) == EXPECTED


def test_odata_joins_business_partners_numbered_apart_from_customers(emu):
    assert read(emu, "odata") == EXPECTED
    # The emulator numbers business partners apart: the tax numbers were found through the join.
    assert emu.s4.partners and all(bp != kunnr for kunnr, bp in emu.s4.partners.items())
    assert {"A_CustomerCompany", "A_Customer", "A_BusinessPartner", "A_BusinessPartnerTaxNumber"} <= set(emu.s4.requests)


def test_the_configured_tax_field_is_read(emu):
    second = [(i, n, "CO800987654" if i == "1001" else "") for i, n, _ in EXPECTED]
    assert read(emu, "rfc_read_table", tax_id_field="STCD2") == second
    assert read(emu, "function", tax_id_field="STCD2") == second
    assert read(emu, "odata", s4={"tax_number_type": "CO2"}) == second


def test_function_pages_by_customer_number(emu):
    for n in range(250):
        emu.ledger.add_customer(str(5000 + n), f"Cliente {n}", stcd1=f"9{n:08d}", company_codes=("1000",))
    emu.calls.clear()
    customers = read(emu, "function", page_size=100)
    assert len(customers) == 254 and len({c[0] for c in customers}) == 254
    assert ("5249", "Cliente 249", "900000249") in customers
    assert emu.calls.count(CUSTOMERS_FUNCTION) == 3  # 100 + 100 + 54


def test_odata_pages_with_top_skip_and_next(emu):
    for n in range(250):
        emu.ledger.add_customer(str(5000 + n), f"Cliente {n}", stcd1=f"9{n:08d}", company_codes=("1000",))
    emu.s4.page_size = 40  # Gateway cuts each $top=100 page in three answers linked by __next
    customers = read(emu, "odata", page_size=100)
    assert len(customers) == 254 and len({c[0] for c in customers}) == 254
    assert ("5249", "Cliente 249", "900000249") in customers
    assert emu.s4.requests.count("A_CustomerCompany") == 8  # $skip 0 and 100: 40+40+20; $skip 200: 40+14


def test_a_function_that_ignores_from_customer_is_stopped(emu):
    for n in range(150):
        emu.ledger.add_customer(str(5000 + n), f"Cliente {n}", company_codes=("1000",))
    broken = "Z_CUSTOMERS_NO_PAGING"
    emu.register(ddic.customers_function(broken),
                 lambda params, ctx: emu.functions.customers({**params, "FROM_CUSTOMER": ""}, ctx))
    with pytest.raises(PermanentError, match=f"{broken} returned customer 0000001000 after FROM_CUSTOMER"):
        read(emu, "function", customer_function=broken, page_size=100)


def test_without_rfc_read_table_the_function_mode_still_reads_customers_and_open_items(emu):
    emu.ledger.post_invoice("1000", "1000", Decimal("100000.00"), "COP", xblnr="FE-9", bldat=dt.date(2026, 10, 1))
    user = emu.users["CONCILIADOR"]
    user.functions = {CUSTOMERS_FUNCTION, "BAPI_AR_ACC_GETOPENITEMS"}  # S_RFC without RFC_READ_TABLE
    user.tables = set()  # and no S_TABU_DIS at all
    with pytest.raises(PermanentError, match='set customer_read = "function"'):
        read(emu, "rfc_read_table")
    erp = connect(emu, "function")
    assert [c[0] for c in sorted((c.id, c.name) for c in erp.customers())] == ["1000", "1001", "1002", "1003"]
    assert [i.reference for i in erp.open_items()] == ["FE-9"]


def test_missing_function_is_permanent_and_check_names_it(emu):
    erp = connect(emu, "function", customer_function="Z_CONCILIADOR_CLIENTES")
    with pytest.raises(PermanentError) as caught:
        list(erp.customers())
    assert "no remote-enabled function Z_CONCILIADOR_CLIENTES" in str(caught.value)
    assert "Ask the SAP team to create it as docs/sap.md describes" in str(caught.value)
    failed = [r for r in erp.check() if not r.ok]
    assert [r.name for r in failed] == ["SAP customers of company code 1000 (Z_CONCILIADOR_CLIENTES)"]
    assert "Z_CONCILIADOR_CLIENTES" in failed[0].detail and "docs/sap.md" in failed[0].detail


def test_no_s_rfc_for_the_function_names_the_authorisation(emu):
    emu.users["CONCILIADOR"].functions = {"RFC_READ_TABLE", "BAPI_AR_ACC_GETOPENITEMS"}
    erp = connect(emu, "function")
    with pytest.raises(PermanentError, match=f"may not call {CUSTOMERS_FUNCTION} .authorisation object S_RFC.. Ask "
                                             f"the SAP security team to add {CUSTOMERS_FUNCTION}"):
        list(erp.customers())
    assert any(not r.ok and "S_RFC" in r.detail for r in erp.check())


def test_no_authority_for_the_company_code_comes_back_in_return(emu):
    emu.users["CONCILIADOR"].company_codes = {"2000"}
    with pytest.raises(PermanentError, match=r"No authorization to display debtor data in company code 1000 \(F2 501\)"):
        read(emu, "function")


def test_odata_service_not_active_or_not_authorised(emu):
    emu.users["CONCILIADOR"].functions = {"API_OPLACCTGDOCITEMCUBE_SRV"}
    erp = connect(emu, "odata")
    with pytest.raises(PermanentError) as caught:
        list(erp.customers())
    text = str(caught.value)
    assert "API_BUSINESS_PARTNER/A_CustomerCompany (HTTP 403" in text
    assert "/IWFND/MAINT_SERVICE" in text and "S_SERVICE" in text
    failed = [r for r in erp.check() if not r.ok]
    assert failed and all("API_BUSINESS_PARTNER" in r.name for r in failed)


def test_odata_needs_the_s4_backend(emu):
    with pytest.raises(ValidationError, match='customer_read = "odata" reads API_BUSINESS_PARTNER'):
        SapErp.Settings.model_validate(seed.settings(emu, customer_read="odata"))
    with pytest.raises(ValidationError, match="not a function module name"):
        SapErp.Settings.model_validate(seed.settings(emu, customer_read="function", customer_function="z customers"))
