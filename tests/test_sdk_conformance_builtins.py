"""The built-in plugins pass the conformance kit, used exactly as a vendor uses it (tests/conftest.py
opts in with ``pytest_plugins = ["conciliador.testing"]``): the flat-file ERP against a fresh
folder seeded with the kit's standard seed, and the conciliador-csv format against the samples in
tests/data/sdk/conciliador-csv."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from conciliador.plugins.banks.simplecsv import SimpleCsv
from conciliador.plugins.flatfile import FlatFileErp
from conciliador.testing import (
    STANDARD_SEED,
    BankFormatCase,
    BankFormatConformance,
    ErpConformance,
    ErpTestSystem,
    SeedData,
    load_samples,
)

SAMPLES = Path(__file__).parent / "data" / "sdk" / "conciliador-csv"


class FlatFileTestSystem(ErpTestSystem):
    """A fresh flat-file ERP folder holding the kit's standard seed."""

    connector_class = FlatFileErp
    cannot_provoke = {"closed_period": "the flat-file ERP keeps no accounting periods"}

    def __init__(self, root: Path) -> None:
        self.folder = root / "erp"

    def seed(self) -> SeedData:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "customers.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["customer_id", "name", "tax_id"])
            w.writerows([c.id, c.name, c.tax_id] for c in STANDARD_SEED.customers)
        with open(self.folder / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount"])
            w.writerows([i.document, i.customer_id, i.reference, i.currency, i.original_amount, i.open_amount]
                        for i in STANDARD_SEED.open_items)
        for leftover in ("postings.csv", "einvoice_status.csv"):
            (self.folder / leftover).unlink(missing_ok=True)
        return STANDARD_SEED

    def settings(self) -> dict[str, Any]:
        return {"folder": str(self.folder)}

    def unreachable_settings(self) -> dict[str, Any]:
        return {"folder": str(self.folder.parent / "share-not-mounted")}


class TestFlatFileConformance(ErpConformance):
    @pytest.fixture
    def erp_system(self, tmp_path: Path) -> FlatFileTestSystem:
        return FlatFileTestSystem(tmp_path)


def write_large(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# conciliador-csv v1\naccount,booking_date,amount,currency,bank_reference,payer_name,remittance\n")
        for i in range(n):
            fh.write(f"0123-456789-01,2026-11-20,{1000 + i}.50,COP,REF{i:08d},Cliente {i % 97},PAGO FE-{i}\n")


class TestSimpleCsvConformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return BankFormatCase(format=SimpleCsv(), samples=load_samples(SAMPLES), make_large=write_large,
                              claims=("conciliador-csv",))
