"""SAP S/4HANA mode (backend = "s4_odata") against the emulator over HTTP: open items from the
OData cube, payments in two steps (Journal Entry - Post, then the asynchronous clearing), the
conformance kit, and the agent resuming at the clearing step after a crash or a timeout between
the two steps, without a second journal entry; a clearing SAP refuses, or cannot be paired,
reaching finance rather than being sent for ever or reported done; SOAP faults that leave the
outcome unknown; COP at 0 decimals."""

from __future__ import annotations

import datetime as dt
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conciliador import Application, PermanentError, Posting, PostingKind, RetryableError
from conciliador.config import Settings
from conciliador.daemon import Agent
from conciliador.plugins.sap import SapErp
from conciliador.store import Database
from conciliador.testing import ErpConformance, ErpTestSystem, SeedData
from conftest import cli
import emulators.sap.s4 as s4_emulator
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
allow_http = true
client = "{emu.client}"
user = "CONCILIADOR"
password = "env:CONCILIADOR_TEST_SAP_PASSWORD"
company_code = "1000"
timeout_seconds = 5
in_doubt_seconds = 0
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


def _pay(invoice, key: str, amount: str = "1785000.00") -> Posting:
    return Posting(key=key, company="acme", kind=PostingKind.APPLY, customer_id="1000", currency="COP",
                   amount=Decimal(amount), value_date=DAY, bank_account=ACCOUNT,
                   applications=(Application(document=f"{invoice.BELNR}/{invoice.GJAHR}/001", reference="FE-9101",
                                             amount=Decimal(amount), currency="COP"),))


def test_a_clearing_sap_refuses_goes_to_finance_instead_of_being_sent_for_ever(emu):
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu, s4={
        "clearing_wait_seconds": 0.3, "clearing_attempts": 2, "clearing_give_up_seconds": 0})), company="acme")
    posting = _pay(invoice, "S4CLOSE")
    done = {"post": erp.post_step(posting, "post", {})}
    emu.ledger.companies["1000"].closed.add((DAY.year, DAY.month))  # month-end close between the two steps
    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(erp.find_step(posting, "clear", done) or erp.post_step(posting, "clear", done))
        except (RetryableError, PermanentError) as exc:
            outcomes.append(exc)
    assert [type(o).__name__ for o in outcomes] == ["RetryableError", "RetryableError", "PermanentError",
                                                    "PermanentError"]
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 2  # never a third
    assert "Posting period 011 2026 is not open" in emu.s4.aif_errors["S4CLOSECLR"]  # where SAP says why
    said = str(outcomes[-1])
    assert f"journal entry {done['post'].document} is posted" in said and "clearing of" in said
    assert "/AIF/ERR, message S4CLOSECLR" in said and "F-32" in said
    assert emu.open_item("1000", invoice.BELNR, invoice.GJAHR) is not None


def test_clearing_requests_that_never_reached_sap_do_not_count(emu):
    """The clearing service down for a while (HTTP 500 from the ICM, nothing taken) is not SAP
    refusing the clearing: those requests do not count towards clearing_attempts."""
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu, s4={
        "clearing_wait_seconds": 0.1, "clearing_attempts": 1, "clearing_give_up_seconds": 0})), company="acme")
    posting = _pay(invoice, "S4DOWN")
    done = {"post": erp.post_step(posting, "post", {})}
    emu.inject("JournalEntryBulkClearingRequest_In", "http500", times=3)
    for _ in range(3):
        with pytest.raises(RetryableError):
            erp.post_step(posting, "clear", done)
    result = erp.post_step(posting, "clear", done)  # the service is back: cleared, not given up
    assert result.detail.startswith("cleared") and emu.open_item("1000", invoice.BELNR, invoice.GJAHR) is None


def test_the_clearing_bound_counts_from_the_journal_entry(emu):
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu, s4={
        "clearing_wait_seconds": 0.1, "clearing_attempts": 1, "clearing_give_up_seconds": 3600})), company="acme")
    posting = _pay(invoice, "S4AGE")
    done = {"post": erp.post_step(posting, "post", {})}
    emu.ledger.companies["1000"].closed.add((DAY.year, DAY.month))
    for _ in range(2):  # sent twice already, but the journal entry is minutes old: still retried
        with pytest.raises(RetryableError):
            erp.post_step(posting, "clear", done)
    # The agent kept the journal entry from two hours ago (its detail carries the time).
    old = done["post"].model_copy(update={"detail": "Journal Entry - Post, 2020-01-01T00:00:00Z"})
    with pytest.raises(PermanentError, match="did not happen"):
        erp.post_step(posting, "clear", {"post": old})


def test_a_refused_clearing_reaches_the_exceptions_file(tmp_path, emu, monkeypatch):
    invoice = _book(emu)
    posted = emu.ledger.post_journal_entry

    def then_close(*args, **kwargs):  # the period closes right after the journal entry posts
        result = posted(*args, **kwargs)
        emu.ledger.companies["1000"].closed.add((DAY.year, DAY.month))
        return result

    monkeypatch.setattr(emu.ledger, "post_journal_entry", then_close)
    settings = _agent_settings(tmp_path, emu, s4={"clearing_wait_seconds": 0.2, "clearing_attempts": 2,
                                                  "clearing_give_up_seconds": 0})
    agent = Agent(settings)
    try:
        _statement(agent.rt.folders["inbox"])
        summary = agent.run_once()
    finally:
        agent.close()
    assert (summary.posted, summary.failed, summary.pending) == (0, 1, 0), summary
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 2
    [csv] = [p for p in summary.exception_files if p.suffix == ".csv"]
    text = csv.read_text(encoding="utf-8-sig")
    assert "is posted (payment" in text and "the clearing of" in text and "did not happen" in text
    assert emu.open_item("1000", invoice.BELNR, invoice.GJAHR) is not None


def test_a_payment_whose_lines_cannot_be_paired_is_not_reported_cleared(emu, monkeypatch):
    # SAP's cube of this release does not return Reference3IDByBusinessPartner: nothing pairs the
    # journal entry's lines with the invoices, so nothing may be reported cleared.
    row = s4_emulator.cube_row
    monkeypatch.setattr(s4_emulator, "cube_row", lambda i, c: {**row(i, c), "Reference3IDByBusinessPartner": ""})
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu)), company="acme")
    posting = _pay(invoice, "S4REF3")
    done = {"post": erp.post_step(posting, "post", {})}
    assert erp.find_step(posting, "clear", done) is None
    with pytest.raises(PermanentError, match=rf"journal entry {done['post'].document} is posted, but SAP returns no "
                                             r"customer line of it naming .* \(0 of 1 found\)"):
        erp.post_step(posting, "clear", done)
    assert emu.s4.requests.count("JournalEntryBulkClearingRequest_In") == 0
    assert emu.open_item("1000", invoice.BELNR, invoice.GJAHR) is not None


def test_soap_faults_final_only_when_sap_refused_before_posting(emu):
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu)), company="acme")
    # A runtime fault after SAP committed: retryable; the lookup finds the journal entry, no second one.
    posting = _pay(invoice, "S4FAULT1")
    emu.inject("JournalEntryCreateRequestConfirmation_In", "fault_after_commit")
    with pytest.raises(RetryableError, match="does not say whether it was done: SRT: Processing error"):
        erp.post_step(posting, "post", {})
    found = erp.find_step(posting, "post", {})
    assert found is not None and len(emu.documents_with_reference("1000", "S4FAULT1")) == 1
    # The same fault every time, nothing posted: after three, the fourth attempt is not sent.
    again = _pay(invoice, "S4FAULT2")
    emu.inject("JournalEntryCreateRequestConfirmation_In", "fault", times=10)
    for _ in range(3):
        with pytest.raises(RetryableError):
            erp.find_step(again, "post", {}) or erp.post_step(again, "post", {})
    sent = emu.s4.requests.count("JournalEntryCreateRequestConfirmation_In")
    with pytest.raises(PermanentError, match="with a SOAP fault 3 times, and the agent found nothing posted"):
        erp.find_step(again, "post", {}) or erp.post_step(again, "post", {})
    assert emu.s4.requests.count("JournalEntryCreateRequestConfirmation_In") == sent
    # Refused by the runtime before the service ran (no S_SERVICE): final at once.
    emu.injections.clear()
    emu.users["CONCILIADOR"].functions = {"API_OPLACCTGDOCITEMCUBE_SRV", "RFC_READ_TABLE"}
    with pytest.raises(PermanentError, match="S_SERVICE"):
        erp.post_step(_pay(invoice, "S4FAULT3"), "post", {})


def test_cop_without_decimals_reads_and_posts(emu):
    emu.ledger.decimals["COP"] = 0  # TCURX as SAP delivers COP
    invoice = _book(emu)
    erp = SapErp(SapErp.Settings.model_validate(s4_settings(emu)), company="acme")
    [item] = erp.open_items()
    assert item.open_amount == Decimal("1785000")
    with pytest.raises(PermanentError, match=r"more decimals than SAP keeps for COP \(0\)"):
        erp.post(_pay(invoice, "S4CENTS", "1785000.50"))
    erp.post(_pay(invoice, "S4COP0", "1785000"))
    assert emu.s4.idle() and list(erp.open_items()) == []
