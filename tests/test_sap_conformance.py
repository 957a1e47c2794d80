"""The SAP connector passes the conformance kit every ERP connector passes, against the SAP
emulator over HTTP: a fresh emulator per check, seeded with the kit's standard seed as SAP holds it."""

from __future__ import annotations

from typing import Any

import pytest

from conciliador.plugins.sap import SapErp
from conciliador.testing import ErpConformance, ErpTestSystem, SeedData
from emulators.sap import SapEmulator, seed


class SapTestSystem(ErpTestSystem):
    connector_class = SapErp

    def __init__(self, emulator: SapEmulator) -> None:
        self.emu = emulator

    def seed(self) -> SeedData:
        return seed.standard(self.emu)

    def settings(self) -> dict[str, Any]:
        return seed.settings(self.emu)

    def unreachable_settings(self) -> dict[str, Any]:
        return seed.settings(self.emu, base_url=f"http://127.0.0.1:{seed.closed_port()}")

    def closed_period(self, posting):
        # The emulator's company code 1000 is open from 2020-01-01 (posting periods, OB52).
        return posting.model_copy(update={"value_date": posting.value_date.replace(year=2019)})


@pytest.fixture
def sap_emulator():
    with SapEmulator() as emu:
        yield emu


class TestSapConformance(ErpConformance):
    @pytest.fixture
    def erp_system(self, sap_emulator: SapEmulator) -> SapTestSystem:
        return SapTestSystem(sap_emulator)


class TestSapBulkConformance(ErpConformance):
    """The same checks with open items read from BSID in pages (``open_items_read = "bulk"``)."""

    @pytest.fixture
    def erp_system(self, sap_emulator: SapEmulator) -> SapTestSystem:
        system = SapTestSystem(sap_emulator)
        system.settings = lambda: seed.settings(sap_emulator, open_items_read="bulk", page_size=100)  # type: ignore[method-assign]
        return system


class TestSapFunctionCustomersConformance(ErpConformance):
    """The same checks with customers read by the customer's Z_CONCILIADOR_CUSTOMERS
    (``customer_read = "function"``), the way shops that forbid RFC_READ_TABLE run."""

    @pytest.fixture
    def erp_system(self, sap_emulator: SapEmulator) -> SapTestSystem:
        system = SapTestSystem(sap_emulator)
        system.settings = lambda: seed.settings(sap_emulator, customer_read="function", page_size=100)  # type: ignore[method-assign]
        return system
