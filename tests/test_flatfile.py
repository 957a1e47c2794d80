"""The flatfile ERP: an ERP made of CSV files, whose state must survive restarts and power cuts."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from conciliador import (
    Application,
    Customer,
    OpenItem,
    PermanentError,
    Posting,
    PostingKind,
    PostingResult,
)
from conciliador.plugins.flatfile import POSTING_HEADER, FlatFileErp, FlatFileSettings

CUSTOMERS = (
    "customer_id,name,tax_id\n"
    "C001,Inversiones Peñalosa S.A.S.,900123456-7\n"
    "C002,\"Distribuidora Ñandú, Ltda.\",800987654-1\n"
    "C003,José Martínez Gómez,79555111\n"
)
OPEN_ITEMS = (
    "document,customer_id,reference,currency,original_amount,open_amount,document_date,due_date,tax_base,vat,cufe\n"
    "DOC-5001,C001,FE-1001,COP,1785000.00,1785000.00,2026-10-01,2026-10-31,1500000.00,285000.00,cufe5001\n"
    "DOC-5002,C002,FE-1002,COP,2380000.00,2380000.00,2026-10-05,2026-11-04,,,\n"
    "DOC-5003,C003,FE-1003,COP,900001.00,450000.50,2026-10-07,,,,\n"
)


def make_erp_folder(base: Path, customers: str = CUSTOMERS, open_items: str = OPEN_ITEMS) -> Path:
    folder = base / "erp"
    folder.mkdir()
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "open_items.csv").write_text(open_items, encoding="utf-8")
    return folder


def connector(folder: Path) -> FlatFileErp:
    return FlatFileErp(FlatFileSettings(folder=folder), company="acme")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_erp_folder(tmp_path)


@pytest.fixture
def erp(folder: Path) -> FlatFileErp:
    return connector(folder)


def payment(key: str = "K7Q2M4X9A1B3C5D6", *applications: tuple[str, str], amount: str | None = None,
            customer: str = "C001") -> Posting:
    apps = tuple(Application(document=doc, amount=value, currency="COP") for doc, value in applications)
    total = amount if amount is not None else str(sum((Decimal(v) for _, v in applications), Decimal(0)))
    return Posting(
        key=key, company="acme", kind=PostingKind.APPLY if apps else PostingKind.ON_ACCOUNT, customer_id=customer,
        currency="COP", amount=total, value_date=dt.date(2026, 11, 2), bank_account="69812345678",
        bank_reference="TRF0001", applications=apps, text="Pago FE-1001",
    )


def open_amounts(erp: FlatFileErp) -> dict[str, Decimal]:
    return {item.document: item.open_amount for item in erp.open_items()}


def read_postings(folder: Path) -> list[dict[str, str]]:
    with open(folder / "postings.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == POSTING_HEADER
        rows = list(reader)
    # Every row complete: a short row would leave None in its last columns.
    assert all(None not in row.values() and len(row) == len(POSTING_HEADER) for row in rows)
    return rows


# -- settings ----------------------------------------------------------------------------------

def test_relative_folder_resolves_against_the_config_directory(tmp_path):
    settings = FlatFileSettings.model_validate({"folder": "erp"}, context={"base_dir": tmp_path})
    assert settings.folder == (tmp_path / "erp").resolve()
    assert settings.folder.is_absolute()


def test_absolute_folder_is_kept(tmp_path):
    settings = FlatFileSettings.model_validate({"folder": str(tmp_path / "x")}, context={"base_dir": "/elsewhere"})
    assert settings.folder == tmp_path / "x"


def test_misspelt_setting_is_refused():
    with pytest.raises(ValidationError):
        FlatFileSettings.model_validate({"foldr": "erp"})


def test_connector_built_from_relative_settings_reads_the_folder(tmp_path):
    make_erp_folder(tmp_path)
    settings = FlatFileSettings.model_validate({"folder": "erp"}, context={"base_dir": tmp_path})
    erp = FlatFileErp(settings, company="acme")
    assert [c.id for c in erp.customers()] == ["C001", "C002", "C003"]


# -- check -------------------------------------------------------------------------------------

def test_check_passes_on_a_complete_folder(erp):
    results = list(erp.check())
    assert {r.name for r in results} == {"flatfile customers.csv", "flatfile open_items.csv", "flatfile postings.csv"}
    assert all(r.ok for r in results), results


def test_check_passes_on_files_saved_by_excel_with_bom_and_crlf(tmp_path):
    folder = tmp_path / "erp"
    folder.mkdir()
    (folder / "customers.csv").write_bytes(b"\xef\xbb\xbf" + CUSTOMERS.replace("\n", "\r\n").encode())
    (folder / "open_items.csv").write_bytes(b"\xef\xbb\xbf" + OPEN_ITEMS.replace("\n", "\r\n").encode())
    erp = connector(folder)
    assert all(r.ok for r in erp.check())
    assert [c.tax_id for c in erp.customers()] == ["900123456-7", "800987654-1", "79555111"]
    assert open_amounts(erp)["DOC-5002"] == Decimal("2380000.00")


def test_check_reports_a_missing_column(tmp_path):
    folder = make_erp_folder(tmp_path, open_items=OPEN_ITEMS.replace(",open_amount,", ",saldo,", 1))
    results = {r.name: r for r in connector(folder).check()}
    bad = results["flatfile open_items.csv"]
    assert bad.ok is False
    assert "open_amount" in bad.detail and "open_items.csv" in bad.detail
    assert results["flatfile customers.csv"].ok is True


def test_check_reports_an_absent_file(folder):
    (folder / "customers.csv").unlink()
    results = {r.name: r for r in connector(folder).check()}
    bad = results["flatfile customers.csv"]
    assert bad.ok is False
    assert "customers.csv" in bad.detail and "cannot read" in bad.detail


def test_check_reports_an_absent_folder(tmp_path):
    results = list(connector(tmp_path / "nowhere").check())
    assert results and not any(r.ok for r in results)


# -- reading -----------------------------------------------------------------------------------

def test_customers(erp):
    customers = list(erp.customers())
    assert all(isinstance(c, Customer) for c in customers)
    assert customers[1] == Customer(id="C002", name="Distribuidora Ñandú, Ltda.", tax_id="800987654-1", company="acme")


def test_open_items_have_decimal_amounts_and_dates(erp):
    items = {item.document: item for item in erp.open_items()}
    assert set(items) == {"DOC-5001", "DOC-5002", "DOC-5003"}
    first = items["DOC-5001"]
    assert isinstance(first, OpenItem)
    assert first.open_amount == Decimal("1785000.00") and isinstance(first.open_amount, Decimal)
    assert first.tax_base == Decimal("1500000.00") and first.vat == Decimal("285000.00")
    assert first.due_date == dt.date(2026, 10, 31)
    assert first.cufe == "cufe5001"
    assert items["DOC-5002"].tax_base is None
    assert items["DOC-5003"].open_amount == Decimal("450000.50")
    assert items["DOC-5003"].original_amount == Decimal("900001.00")


@pytest.mark.parametrize("bad", ['"1.234,56"', "abc", "NaN", "1.5E+07", ""],
                         ids=["european", "text", "nan", "scientific", "empty"])
def test_bad_amount_in_open_items_names_line_and_field(tmp_path, bad):
    items = OPEN_ITEMS.replace("DOC-5002,C002,FE-1002,COP,2380000.00,2380000.00",
                               f"DOC-5002,C002,FE-1002,COP,2380000.00,{bad}")
    erp = connector(make_erp_folder(tmp_path, open_items=items))
    with pytest.raises(PermanentError) as info:
        list(erp.open_items())
    assert "line 3" in str(info.value)
    assert "open_amount" in str(info.value)


def test_bad_currency_in_open_items_names_line_and_field(tmp_path):
    items = OPEN_ITEMS.replace("DOC-5003,C003,FE-1003,COP", "DOC-5003,C003,FE-1003,pesos")
    erp = connector(make_erp_folder(tmp_path, open_items=items))
    with pytest.raises(PermanentError) as info:
        list(erp.open_items())
    assert "line 4" in str(info.value) and "currency" in str(info.value)


# -- posting -----------------------------------------------------------------------------------

def test_post_appends_rows_with_the_key_and_settles_the_invoice(erp, folder):
    result = erp.post(payment("K7Q2M4X9A1B3C5D6", ("DOC-5001", "1785000.00")))
    assert isinstance(result, PostingResult)
    assert result.key == "K7Q2M4X9A1B3C5D6"
    assert result.document.startswith("PAY-")
    rows = read_postings(folder)
    assert len(rows) == 1
    assert rows[0]["key"] == "K7Q2M4X9A1B3C5D6"
    assert rows[0]["document"] == result.document
    assert rows[0]["applied_document"] == "DOC-5001"
    assert Decimal(rows[0]["applied_amount"]) == Decimal("1785000.00")
    assert "DOC-5001" not in open_amounts(erp)


def test_partial_payment_reduces_the_open_amount(erp):
    erp.post(payment("PARTIAL000000001", ("DOC-5002", "380000.00")))
    assert open_amounts(erp)["DOC-5002"] == Decimal("2000000.00")
    erp.post(payment("PARTIAL000000002", ("DOC-5002", "2000000.00")))
    assert "DOC-5002" not in open_amounts(erp)


def test_one_payment_for_two_invoices(erp, folder):
    result = erp.post(payment("TWOINVOICES00001", ("DOC-5001", "1785000.00"), ("DOC-5003", "450000.50")))
    rows = read_postings(folder)
    assert [r["applied_document"] for r in rows] == ["DOC-5001", "DOC-5003"]
    assert {r["document"] for r in rows} == {result.document}
    assert set(open_amounts(erp)) == {"DOC-5002"}


def test_payment_on_account_has_no_applied_document(erp, folder):
    erp.post(payment("ONACCOUNT0000001", amount="125000.00"))
    rows = read_postings(folder)
    assert rows[0]["kind"] == "on_account" and rows[0]["applied_document"] == ""
    assert len(open_amounts(erp)) == 3


def test_document_numbers_are_unique(erp):
    documents = [erp.post(payment(f"KEY{n:013d}", ("DOC-5002", "1.00"))).document for n in range(5)]
    assert len(set(documents)) == 5


def test_find_posting_after_restart(folder):
    document = connector(folder).post(payment("RESTART000000001", ("DOC-5001", "1785000.00"))).document
    fresh = connector(folder)  # a new process: nothing but the files remembers the posting
    found = fresh.find_posting("RESTART000000001")
    assert found is not None
    assert found.key == "RESTART000000001" and found.document == document
    assert fresh.find_posting("NEVERPOSTED00001") is None


def test_find_posting_before_any_posting(erp, folder):
    assert not (folder / "postings.csv").exists()
    assert erp.find_posting("K7Q2M4X9A1B3C5D6") is None


TORN_KEY = "TORNROW000000002"


def torn_row(amount_prefix: str = "150") -> bytes:
    """A posting row cut by a power cut mid-write: the key made it to disk, the rest did not."""
    return (f"{TORN_KEY},PAY-000002,2026-11-02T15:04:05+00:00,apply,C002,COP,2380000.00,2026-11-02,"
            f"69812345678,TRF0003,DOC-5002,{amount_prefix}").encode()


def test_torn_last_row_is_cut_at_the_next_post(erp, folder):
    erp.post(payment("FIRST00000000001", ("DOC-5001", "1785000.00")))
    with open(folder / "postings.csv", "ab") as fh:
        fh.write(torn_row())
    after = connector(folder).post(payment("AFTERCUT00000003", ("DOC-5003", "450000.50")))
    content = (folder / "postings.csv").read_bytes()
    assert content.endswith(b"\n")
    assert TORN_KEY.encode() not in content
    rows = read_postings(folder)
    assert [r["key"] for r in rows] == ["FIRST00000000001", "AFTERCUT00000003"]
    assert rows[1]["document"] == after.document
    # The torn posting never happened: its invoice is still fully open.
    assert open_amounts(connector(folder)) == {"DOC-5002": Decimal("2380000.00")}


def test_torn_header_is_cut_at_the_first_post(folder):
    (folder / "postings.csv").write_bytes(b"key,document,pos")
    connector(folder).post(payment("FIRST00000000001", ("DOC-5001", "1785000.00")))
    assert [r["key"] for r in read_postings(folder)] == ["FIRST00000000001"]


def test_torn_row_is_not_reported_as_posted(erp, folder):
    # After a power cut the poster asks find_posting(key) before re-sending. The torn row will be
    # cut off at the next append, so reporting it as posted would lose the payment for good.
    erp.post(payment("FIRST00000000001", ("DOC-5001", "1785000.00")))
    with open(folder / "postings.csv", "ab") as fh:
        fh.write(torn_row())
    assert connector(folder).find_posting(TORN_KEY) is None


def test_torn_row_does_not_reduce_open_items(erp, folder):
    erp.post(payment("FIRST00000000001", ("DOC-5001", "1785000.00")))
    with open(folder / "postings.csv", "ab") as fh:
        fh.write(torn_row("150"))  # 150 of 2380000.00
    assert open_amounts(connector(folder))["DOC-5002"] == Decimal("2380000.00")


def test_post_einvoice_status_appends(erp, folder):
    at = dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    erp.post_einvoice_status("DOC-5001", "cufe5001", "accepted", at)
    connector(folder).post_einvoice_status("DOC-5002", "cufe5002", "tacit_acceptance", at + dt.timedelta(days=3))
    with open(folder / "einvoice_status.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [
        {"document": "DOC-5001", "cufe": "cufe5001", "status": "accepted", "at": "2026-11-03T09:30:00-05:00"},
        {"document": "DOC-5002", "cufe": "cufe5002", "status": "tacit_acceptance", "at": "2026-11-06T09:30:00-05:00"},
    ]
    # Status updates are not payments.
    assert not (folder / "postings.csv").exists()
