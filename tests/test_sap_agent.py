"""The agent with a company on SAP (erp = "sap"), end to end against the SAP emulator over HTTP:
a statement comes in, its lines are matched, and SAP shows the invoices cleared (BSID -> BSAD with
the payment as clearing document), a partial payment's residual item, withholdings on their G/L
account; a timeout after SAP committed is recovered without a second document; a closed period
reaches finance's exceptions file with SAP's own message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador.config import Settings
from conciliador.daemon import Agent, RunSummary
from conciliador.store import Database
from emulators.sap import SapEmulator, seed

ACCOUNT = "0123-456789-01"
DAY = dt.date(2026, 11, 20)


@pytest.fixture
def emu():
    with SapEmulator() as emulator:
        emulator.company_code(seed.BUKRS)
        yield emulator


def _settings(tmp_path: Path, emu: SapEmulator, **erp: object) -> Settings:
    return Settings(
        config_file=tmp_path / "conciliador.toml",
        intake={"stable_seconds": 0},
        poster={"max_attempts": 3, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05},
        companies={"acme": {"erp": "sap", "accounts": [ACCOUNT], "currency": "COP",
                            "erp_settings": seed.settings(emu, **erp)}},
    )


def _run(settings: Settings, rows: list[tuple[str, Decimal, str]]) -> RunSummary:
    lines = ["# conciliador-csv v1", "account,booking_date,amount,currency,bank_reference,payer_name,remittance"]
    lines += [f"{ACCOUNT},{DAY.isoformat()},{amount},COP,{ref},{payer},{text}" for ref, amount, payer, text in
              [(f"REF{n:04d}", amount, payer, text) for n, (text, amount, payer) in enumerate(rows, start=1)]]
    agent = Agent(settings)
    try:
        (agent.rt.folders["inbox"] / "extracto.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return agent.run_once()
    finally:
        agent.close()


def _outbox(settings: Settings) -> list[tuple[str, str, str]]:
    db = Database.open(settings.folders.state)
    try:
        return [tuple(r) for r in db.conn.execute("SELECT key, state, erp_document FROM outbox ORDER BY key")]
    finally:
        db.close()


def test_statement_to_cleared_items(tmp_path, emu):
    ledger = emu.ledger
    first = ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456", company_codes=("1000",))
    second = ledger.add_customer("1001", "Distribuidora Ñandú Ltda.", stcd1="800987654", company_codes=("1000",))
    full = ledger.post_invoice("1000", first, Decimal("1785000.00"), "COP", xblnr="FE-5001", bldat=dt.date(2026, 10, 1))
    part = ledger.post_invoice("1000", second, Decimal("2380000.00"), "COP", xblnr="FE-5002",
                               bldat=dt.date(2026, 10, 5))
    # 1,000,000 base + 19 % IVA; the payer withholds 2.5 % retefuente on the base.
    taxed = ledger.post_invoice("1000", first, Decimal("1190000.00"), "COP", xblnr="FE-5003",
                                bldat=dt.date(2026, 10, 8), tax=Decimal("190000.00"))
    settings = _settings(tmp_path, emu)

    summary = _run(settings, [("PAGO FACTURA FE-5001", Decimal("1785000.00"), "INVERSIONES PENALOSA"),
                              ("ABONO FE-5002", Decimal("1000000.00"), "DISTRIBUIDORA NANDU"),
                              ("PAGO FE-5003 MENOS RETEFUENTE", Decimal("1165000.00"), "INVERSIONES PENALOSA")])

    assert (summary.posted, summary.failed, summary.pending) == (3, 0, 0), summary
    outbox = _outbox(settings)
    assert all(state == "posted" for _, state, _ in outbox)
    for key, _, document in outbox:
        belnr, gjahr = document.split("/")
        assert emu.documents_with_reference("1000", key) == [(belnr, gjahr)]  # one document per key
    # Paid in full: the invoice moved from BSID to BSAD, cleared by the payment document.
    assert emu.open_item("1000", full.BELNR, full.GJAHR) is None
    cleared = emu.cleared_item("1000", full.BELNR, full.GJAHR)
    assert cleared is not None and cleared.AUGDT == DAY and (cleared.AUGBL, cleared.GJAHR) in \
        [tuple(d.split("/")) for _, _, d in outbox]
    # Paid in part: cleared too, and a residual item for the rest refers to it and keeps its number.
    assert emu.cleared_item("1000", part.BELNR, part.GJAHR).AUGBL
    [rest] = [i for i in ledger.bsid.values() if i.REBZG == part.BELNR]
    assert (rest.WRBTR, rest.SHKZG, rest.BSCHL, rest.KUNNR, rest.ZUONR, rest.REBZT) == \
        (Decimal("1380000.00"), "S", "06", second, "FE-5002", "V")
    # The withholding went to its G/L account; the bank line carries the cash.
    [payment] = [d for k, _, d in outbox if emu.cleared_item("1000", taxed.BELNR, taxed.GJAHR).AUGBL in d]
    lines = [g for g in ledger.gl_lines if f"{g.BELNR}/{g.GJAHR}" == payment]
    assert sorted((g.HKONT, g.SHKZG, g.WRBTR) for g in lines) == [
        ("0011100505", "S", Decimal("1165000.00")), ("0013551505", "S", Decimal("25000.00"))]

    # What the agent now reads back: the residual as the same invoice, open for the rest.
    from conciliador.plugins.sap import SapErp

    connector = SapErp(SapErp.Settings.model_validate(seed.settings(emu)), company="acme")
    try:
        items = {i.document: i for i in connector.open_items()}
    finally:
        connector.close()
    assert set(items) == {f"{part.BELNR}/{part.GJAHR}/001"}
    assert (items[f"{part.BELNR}/{part.GJAHR}/001"].open_amount, items[f"{part.BELNR}/{part.GJAHR}/001"].reference) == \
        (Decimal("1380000.00"), "FE-5002")


def test_timeout_after_sap_committed_is_not_posted_twice(tmp_path, emu):
    kunnr = emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
    invoice = emu.ledger.post_invoice("1000", kunnr, Decimal("1785000.00"), "COP", xblnr="FE-6001",
                                      bldat=dt.date(2026, 10, 1))
    settings = _settings(tmp_path, emu, timeout_seconds=0.5)
    # SAP posts and commits, then answers after the connector stopped waiting.
    emu.inject("Z_CONCILIADOR_CLEARING", "timeout", seconds=1.5)

    summary = _run(settings, [("PAGO FE-6001", Decimal("1785000.00"), "INVERSIONES PENALOSA")])

    assert (summary.posted, summary.failed, summary.pending) == (1, 0, 0), summary
    [(key, state, document)] = _outbox(settings)
    assert emu.documents_with_reference("1000", key) == [tuple(document.split("/"))]
    assert emu.calls.count("Z_CONCILIADOR_CLEARING") == 1  # found by its key, never sent again
    assert emu.cleared_item("1000", invoice.BELNR, invoice.GJAHR).AUGBL == document.split("/")[0]
    db = Database.open(settings.folders.state)
    try:
        recovered = db.conn.execute("SELECT count(*) FROM audit WHERE event = 'posted' AND "
                                    "json_extract(detail, '$.recovered_by_find_posting')").fetchone()[0]
    finally:
        db.close()
    assert recovered == 1


def test_closed_period_reaches_finance_with_sap_message(tmp_path, emu):
    kunnr = emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
    invoice = emu.ledger.post_invoice("1000", kunnr, Decimal("1785000.00"), "COP", xblnr="FE-7001",
                                      bldat=dt.date(2026, 10, 1))
    emu.ledger.companies["1000"].closed.add((DAY.year, DAY.month))  # OB52: November closed
    settings = _settings(tmp_path, emu)

    summary = _run(settings, [("PAGO FE-7001", Decimal("1785000.00"), "INVERSIONES PENALOSA")])

    assert (summary.posted, summary.failed) == (0, 1), summary
    assert emu.open_item("1000", invoice.BELNR, invoice.GJAHR) is not None  # nothing moved
    [csv] = [p for p in summary.exception_files if p.suffix == ".csv"]
    text = csv.read_text(encoding="utf-8-sig")
    assert "Posting period 011 2026 is not open (F5 201)" in text
    assert "FE-7001" in text


def test_sap_down_defers_postings(tmp_path, emu):
    kunnr = emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", company_codes=("1000",))
    emu.ledger.post_invoice("1000", kunnr, Decimal("1785000.00"), "COP", xblnr="FE-8001", bldat=dt.date(2026, 10, 1))
    settings = _settings(tmp_path, emu)
    emu.inject("Z_CONCILIADOR_CLEARING", "http500", times=3)

    summary = _run(settings, [("PAGO FE-8001", Decimal("1785000.00"), "INVERSIONES PENALOSA")])

    assert (summary.posted, summary.failed, summary.pending) == (0, 0, 1), summary
    db = Database.open(settings.folders.state)
    try:
        [(state, error)] = db.conn.execute("SELECT state, last_error FROM outbox").fetchall()
    finally:
        db.close()
    assert state == "in_flight" and "HTTP 500" in error
    assert emu.documents_with_reference("1000", _outbox(settings)[0][0]) == []


def test_a_posting_sap_is_still_making_is_not_sent_twice(tmp_path, emu):
    """SAP works on a payment on account for 1.2 s; the connector gives up after 0.4 s. Looked up
    at once, the document would not be there yet and the payment would be sent again: two
    documents, as nothing else (no item to clear) stops the second. With in_doubt_seconds the
    lookup waits until SAP is done: one document, found by its key."""
    import time

    kunnr = emu.ledger.add_customer("1000", "Inversiones Peñalosa S.A.S.", stcd1="900123456", company_codes=("1000",))
    emu.ledger.post_invoice("1000", kunnr, Decimal("1785000.00"), "COP", xblnr="FE-8001", bldat=dt.date(2026, 10, 1))
    settings = _settings(tmp_path, emu, timeout_seconds=0.4, in_doubt_seconds=2.0)
    settings.matching.unknown_invoices = "on_account"
    emu.inject("Z_CONCILIADOR_ACC_DOC_POST", "latency", seconds=1.2)
    lines = ["# conciliador-csv v1", "account,booking_date,amount,currency,bank_reference,payer_name,payer_id,remittance",
             f"{ACCOUNT},{DAY.isoformat()},500000.00,COP,REF0001,INVERSIONES PENALOSA,900123456,ANTICIPO PEDIDO 77"]
    agent = Agent(settings)
    try:
        (agent.rt.folders["inbox"] / "extracto.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        first = agent.run_once()
        assert (first.posted, first.failed, first.deferred) == (0, 0, 1), first
        [(key, state, _)] = _outbox(settings)
        assert state == "in_flight"
        [(due,)] = agent.rt.db.conn.execute("SELECT next_attempt_at FROM outbox").fetchall()
        time.sleep(max(0.0, (dt.datetime.fromisoformat(due) - dt.datetime.now(dt.UTC)).total_seconds() + 0.05))
        second = agent.run_once()
    finally:
        agent.close()
    assert second.posted == 1, second
    [(_, state, document)] = _outbox(settings)
    assert state == "posted"
    assert emu.documents_with_reference("1000", key) == [tuple(document.split("/"))]
    assert emu.calls.count("Z_CONCILIADOR_ACC_DOC_POST") == 1
