"""SAP S/4HANA mode (backend = "s4_odata") against the emulator over HTTP: open items from the
OData cube, payments in two steps (Journal Entry - Post, then the asynchronous clearing), the
conformance kit, and the agent resuming at the clearing step after a crash or a timeout between
the two steps, without a second journal entry."""

from __future__ import annotations

import datetime as dt
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conciliador import Application, Posting, PostingKind, RetryableError
from conciliador.config import Settings
from conciliador.daemon import Agent
from conciliador.plugins.sap import SapErp
from conciliador.store import Database
from conciliador.testing import ErpConformance, ErpTestSystem, SeedData
from conftest import cli
from emulators.sap import SapEmulator, seed

ACCOUNT = "0123-456789-01"
DAY = dt.date(2026, 11, 20)


def s4_settings(emu: SapEmulator, **extra: Any) -> dict[str, Any]:
    extra["s4"] = {"clearing_wait_seconds": 5, **extra.get("s4", {})}
    return seed.settings(emu, backend="s4_odata", **extra)


class S4TestSystem(ErpTestSystem):
    connector_class = SapErp

    def __init__(self, emulator: SapEmulator) -> None:
        self.emu = emulator

    def seed(self) -> SeedData:
        return seed.standard(self.emu)

    def settings(self) -> dict[str, Any]:
        return s4_settings(self.emu)

    def unreachable_settings(self) -> dict[str, Any]:
        return s4_settings(self.emu, base_url=f"http://127.0.0.1:{seed.closed_port()}")

    def closed_period(self, posting):
        return posting.model_copy(update={"value_date": posting.value_date.replace(year=2019)})


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        yield emulator


class TestSapS4Conformance(ErpConformance):
    @pytest.fixture
    def erp_system(self, emu: SapEmulator) -> S4TestSystem:
        return S4TestSystem(emu)


class TestSapS4BusinessPartnerConformance(ErpConformance):
    """The same checks with customers from API_BUSINESS_PARTNER (``customer_read = "odata"``)."""

    @pytest.fixture
    def erp_system(self, emu: SapEmulator) -> S4TestSystem:
        system = S4TestSystem(emu)
        system.settings = lambda: s4_settings(emu, customer_read="odata")  # type: ignore[method-assign]
        return system


def _book(emu: SapEmulator):
    emu.company_code(seed.BUKRS)
    kunnr = emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456", company_codes=("1000",))
    invoice = emu.ledger.post_invoice("1000", kunnr, Decimal("1785000.00"), "COP", xblnr="FE-9101",
                                      bldat=dt.date(2026, 10, 1), days_net=30)
    return invoice


def test_two_steps_and_partial_payments(emu):
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu)), company="acme")
    doc = f"{invoice.BELNR}/{invoice.GJAHR}/001"
    [item] = erp.open_items()
    assert (item.document, item.reference, item.open_amount, item.due_date) == \
        (doc, "FE-9101", Decimal("1785000.00"), dt.date(2026, 10, 31))

    def pay(key: str, amount: str) -> Posting:
        return Posting(key=key, company="acme", kind=PostingKind.APPLY, customer_id="1000", currency="COP",
                       amount=Decimal(amount), value_date=DAY, bank_account=ACCOUNT,
                       applications=(Application(document=doc, reference="FE-9101", amount=Decimal(amount),
                                                 currency="COP"),))

    first = pay("S4PART1", "785000.00")
    assert erp.posting_steps(first) == ("post", "clear")
    posted = erp.post_step(first, "post", {})
    assert erp.find_step(first, "clear", {"post": posted}) is None
    erp.post_step(first, "clear", {"post": posted})
    # Paid in part: the payment line is cleared against a partial payment that refers to the invoice.
    [partial] = [i for i in emu.ledger.bsid.values() if i.REBZT == "Z"]
    assert (partial.REBZG, partial.WRBTR, partial.SHKZG) == (invoice.BELNR, Decimal("785000.00"), "H")
    [item] = erp.open_items()
    assert (item.document, item.open_amount, item.original_amount) == \
        (doc, Decimal("1000000.00"), Decimal("1785000.00"))

    rest = pay("S4PART2", "1000000.00")
    result = erp.post(rest)
    assert emu.s4.idle()
    assert list(erp.open_items()) == []
    # The invoice, its partial payment and the last payment line, cleared together.
    augbl = emu.cleared_item("1000", invoice.BELNR, invoice.GJAHR).AUGBL
    together = [i for i in emu.ledger.bsad.values() if i.AUGBL == augbl and i.BELNR != augbl]
    assert sorted((i.SHKZG, i.REBZT, i.WRBTR) for i in together) == [
        ("H", "", Decimal("1000000.00")), ("H", "Z", Decimal("785000.00")), ("S", "", Decimal("1785000.00"))]
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 2
    assert erp.find_step(rest, "clear", {"post": erp.find_step(rest, "post", {})}).document == result.document


def test_a_credit_memo_netted_in_a_payment_is_cleared_with_a_debit_line(emu):
    # Paid 1,785,000 - 85,000: the payer nets a credit memo. Its debtor line must be a debit (S);
    # a credit code on a positive amount is refused, as the journal entry API checks the pair.
    invoice = _book(emu)
    credit = emu.ledger.post_invoice("1000", "0000001000", Decimal("-85000.00"), "COP", xblnr="NC-77",
                                     bldat=dt.date(2026, 10, 5), blart="DG")
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu)), company="acme")
    apps = (Application(document=f"{invoice.BELNR}/{invoice.GJAHR}/001", reference="FE-9101",
                        amount=Decimal("1785000.00"), currency="COP"),
            Application(document=f"{credit.BELNR}/{credit.GJAHR}/001", reference="NC-77",
                        amount=Decimal("-85000.00"), currency="COP"))
    posting = Posting(key="S4NETCM", company="acme", kind=PostingKind.APPLY, customer_id="1000", currency="COP",
                      amount=Decimal("1700000.00"), value_date=DAY, bank_account=ACCOUNT, applications=apps)
    erp.post(posting)
    assert emu.s4.idle() and list(erp.open_items()) == []


def _agent_settings(tmp_path: Path, emu: SapEmulator, **extra: Any) -> Settings:
    return Settings(config_file=tmp_path / "conciliador.toml", intake={"stable_seconds": 0},
                    poster={"max_attempts": 3, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05},
                    companies={"acme": {"erp": "sap", "accounts": [ACCOUNT], "currency": "COP",
                                        "erp_settings": s4_settings(emu, **extra)}})


def _statement(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "extracto.csv").write_text(
        "# conciliador-csv v1\naccount,booking_date,amount,currency,bank_reference,payer_name,remittance\n"
        f"{ACCOUNT},{DAY.isoformat()},1785000.00,COP,REF0001,INVERSIONES PENALOSA,PAGO FE-9101\n", encoding="utf-8")


def test_timeout_on_the_clearing_resumes_at_the_clearing(tmp_path, emu):
    invoice = _book(emu)
    settings = _agent_settings(tmp_path, emu, timeout_seconds=0.5)
    emu.inject("JournalEntryBulkClearingRequest_In", "timeout", seconds=1.5)
    agent = Agent(settings)
    try:
        _statement(agent.rt.folders["inbox"])
        summary = agent.run_once()
    finally:
        agent.close()
    assert (summary.posted, summary.failed, summary.pending) == (1, 0, 0), summary
    assert emu.cleared_item("1000", invoice.BELNR, invoice.GJAHR) is not None
    assert emu.s4.requests.count("JournalEntryCreateRequestConfirmation_In") == 1
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 1
    db = Database.open(settings.folders.state)
    try:
        steps = db.conn.execute("SELECT step FROM outbox_steps ORDER BY done_at").fetchall()
        recovered = db.conn.execute("SELECT json_extract(detail, '$.step') FROM audit WHERE "
                                    "json_extract(detail, '$.recovered_by_find_posting')").fetchall()
    finally:
        db.close()
    assert [s[0] for s in steps] == ["post", "clear"] and [r[0] for r in recovered] == ["clear"]


@pytest.mark.slow
@pytest.mark.parametrize("crash, recovered_step", [(1, "post"), (2, "clear")])
def test_crash_between_the_steps_resumes_where_it_stopped(tmp_path, emu, crash, recovered_step):
    """SIGKILL right after SAP answered a step, before the agent recorded it: the next run looks the
    step up, records it, and goes on (or stops) without sending it again."""
    invoice = _book(emu)
    root = tmp_path / "ws"
    for sub in ("inbox", "archive", "quarantine", "exceptions", "resolutions", "state"):
        (root / sub).mkdir(parents=True)
    config = root / "config.toml"
    gl = seed.settings(emu)["gl_accounts"]
    config.write_text(f"""
[intake]
stable_seconds = 0

[poster]
backoff_initial_seconds = 0.05
backoff_max_seconds = 0.2

[companies.acme]
erp = "sap"
accounts = ["{ACCOUNT}"]

[companies.acme.erp_settings]
backend = "s4_odata"
base_url = "{emu.url}"
client = "{emu.client}"
user = "CONCILIADOR"
password = "env:CONCILIADOR_TEST_SAP_PASSWORD"
company_code = "1000"
timeout_seconds = 5
gl_accounts = {{ bank = "{gl['bank']}" }}
""", encoding="utf-8")
    _statement(root / "inbox")
    env = {"CONCILIADOR_TEST_SAP_PASSWORD": seed.settings(emu)["password"]}
    killed = cli("run", "--once", "--config", str(config), env={**env, "CONCILIADOR_CRASH_AT": f"poster.after_post:{crash}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    posts_before = emu.s4.requests.count("JournalEntryCreateRequestConfirmation_In")
    clears_before = emu.s4.requests.count("JournalEntryBulkClearingRequest_In")
    assert (posts_before, clears_before) == (1, crash - 1)

    again = cli("run", "--once", "--config", str(config), env=env)
    assert again.returncode == 0, again.stderr
    assert emu.s4.idle()
    assert emu.s4.requests.count("JournalEntryCreateRequestConfirmation_In") == 1  # never posted twice
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 1
    assert emu.cleared_item("1000", invoice.BELNR, invoice.GJAHR) is not None
    db = Database.open(root / "state")
    try:
        [(state, document)] = db.conn.execute("SELECT state, erp_document FROM outbox").fetchall()
        recovered = db.conn.execute("SELECT json_extract(detail, '$.step') FROM audit WHERE "
                                    "json_extract(detail, '$.recovered_by_find_posting')").fetchall()
    finally:
        db.close()
    assert state == "posted" and [r[0] for r in recovered] == [recovered_step]
    payments = [d for d in emu.documents_with_reference("1000", _key(root)) if emu.ledger.bkpf[("1000", *d)].BLART == "DZ"]
    assert payments == [tuple(document.split("/"))]


def _key(root: Path) -> str:
    db = Database.open(root / "state")
    try:
        return db.conn.execute("SELECT key FROM outbox").fetchone()[0]
    finally:
        db.close()


def test_s4_clearing_that_never_shows_is_retried_not_lost(emu):
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu, s4={"clearing_wait_seconds": 0.3})), company="acme")
    emu.s4.clearing_delay = 1.0
    posting = Posting(key="S4SLOW", company="acme", kind=PostingKind.APPLY, customer_id="1000", currency="COP",
                      amount=Decimal("1785000.00"), value_date=DAY, bank_account=ACCOUNT,
                      applications=(Application(document=f"{invoice.BELNR}/{invoice.GJAHR}/001",
                                                amount=Decimal("1785000.00"), currency="COP"),))
    done = {"post": erp.post_step(posting, "post", {})}
    with pytest.raises(RetryableError, match="AIF"):
        erp.post_step(posting, "clear", done)
    assert erp.find_step(posting, "clear", done) is None  # not yet: the agent will look again
    assert emu.s4.idle()
    assert erp.find_step(posting, "clear", done).document == done["post"].document
