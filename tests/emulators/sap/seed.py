"""Ready-made emulator contents and connector settings for tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from typing import Any

from conciliador import Customer, OpenItem
from conciliador.testing import STANDARD_SEED, SeedData

from . import BANK_GL, PASSWORD, USER, SapEmulator
from .ledger import Item

BUKRS = "1000"
INVOICE_DAY = dt.date(2026, 10, 1)


def settings(emu: SapEmulator, **overrides: Any) -> dict[str, Any]:
    """The ``erp_settings`` table pointing the connector at ``emu``, as in conciliador.toml."""
    base = {
        "base_url": emu.url, "client": emu.client, "user": USER, "password": PASSWORD,
        "company_code": BUKRS, "timeout_seconds": 5,
        # The emulator's injected timeouts commit before the late answer: look up at once.
        "in_doubt_seconds": 0,
        # The emulator speaks plain HTTP unless it was given a certificate (the connector refuses
        # http:// otherwise: basic logon would send the password in clear).
        "allow_http": emu.url.startswith("http://"),
        "gl_accounts": {"bank": BANK_GL, "retefuente": "13551505", "reteiva": "13551705", "reteica": "13551805",
                        "discount": "53050505", "write_off": "53959505"},
    }
    base.update(overrides)
    return base


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def residual(emu: SapEmulator, invoice: Item, paid: Decimal, day: dt.date) -> Item:
    """Pay ``invoice`` in part the way the connector does (FB05 with a residual item)."""
    ledger = emu.ledger
    rest = invoice.WRBTR - paid
    day_text = day.strftime("%Y%m%d")
    ftpost = [{"STYPE": "K", "COUNT": "001", "FNAM": k, "FVAL": v} for k, v in {
        "BKPF-BUKRS": invoice.BUKRS, "BKPF-BLDAT": day_text, "BKPF-BUDAT": day_text, "BKPF-BLART": "DZ",
        "BKPF-WAERS": invoice.WAERS, "BKPF-XBLNR": "SEEDPARTIAL0001", "BKPF-BKTXT": "abono"}.items()]
    for count, line in enumerate([
        {"RF05A-NEWBS": "40", "RF05A-NEWKO": BANK_GL, "BSEG-WRBTR": str(paid)},
        {"RF05A-NEWBS": "06", "RF05A-NEWKO": invoice.KUNNR, "BSEG-WRBTR": str(rest), "BSEG-ZUONR": invoice.XBLNR,
         "BSEG-REBZG": invoice.BELNR, "BSEG-REBZJ": invoice.GJAHR, "BSEG-REBZZ": invoice.BUZEI, "BSEG-REBZT": "V",
         "BSEG-ZFBDT": invoice.ZFBDT.strftime("%Y%m%d"), "BSEG-ZBD3T": str(invoice.ZBD3T)},
    ], start=1):
        ftpost += [{"STYPE": "P", "COUNT": f"{count:03d}", "FNAM": k, "FVAL": v} for k, v in line.items()]
    ftclear = [{"AGKOA": "D", "AGKON": invoice.KUNNR, "AGBUK": invoice.BUKRS, "XNOPS": "X", "SELFD": "BELNR",
                "SELVON": f"{invoice.BELNR}{invoice.GJAHR}{invoice.BUZEI}"}]
    bukrs, belnr, gjahr = ledger.clear(ftpost, ftclear, user="SEED", auglv="EINGZAHL")
    return ledger.bsid[(bukrs, gjahr, belnr, "002")]


def standard(emu: SapEmulator) -> SeedData:
    """The conformance kit's standard seed as SAP holds it: customers 1000-1002 (NIT in STCD1),
    invoices in COP and USD, one paid in part (a residual item of a payment)."""
    emu.company_code(BUKRS)
    ids = {}
    for n, c in enumerate(STANDARD_SEED.customers):
        kunnr = emu.ledger.add_customer(str(1000 + n), c.name, stcd1=c.tax_id, company_codes=(BUKRS,))
        ids[c.id] = kunnr
    items = []
    for n, oi in enumerate(STANDARD_SEED.open_items):
        invoice = emu.ledger.post_invoice(BUKRS, ids[oi.customer_id], oi.original_amount, oi.currency,
                                          xblnr=oi.reference, bldat=oi.document_date or INVOICE_DAY,
                                          budat=INVOICE_DAY, days_net=30)
        document = f"{invoice.BELNR}/{invoice.GJAHR}/{invoice.BUZEI}"
        due = (oi.document_date or INVOICE_DAY) + dt.timedelta(days=30)
        if oi.open_amount != oi.original_amount:
            residual(emu, invoice, oi.original_amount - oi.open_amount, INVOICE_DAY + dt.timedelta(days=10))
        items.append(OpenItem(document=document, customer_id=ids[oi.customer_id].lstrip("0"), reference=oi.reference,
                              currency=oi.currency, open_amount=oi.open_amount, original_amount=oi.open_amount,
                              document_date=oi.document_date or INVOICE_DAY, due_date=due))
    customers = [Customer(id=ids[c.id].lstrip("0"), name=c.name, tax_id=c.tax_id) for c in STANDARD_SEED.customers]
    return SeedData(customers=customers, open_items=items)


def invoices(emu: SapEmulator, customers: int, per_customer: int, *, start: int = 1) -> list[Item]:
    """A book of ``customers`` x ``per_customer`` COP invoices (references FE-<n>)."""
    if BUKRS not in emu.ledger.companies:
        emu.company_code(BUKRS)
    out = []
    n = start
    for c in range(customers):
        kunnr = emu.ledger.add_customer(str(200000 + c), f"Cliente {c} S.A.S.", stcd1=f"9{c:08d}",
                                        company_codes=(BUKRS,))
        for _ in range(per_customer):
            out.append(emu.ledger.post_invoice(BUKRS, kunnr, Decimal(100_000 + 1_000 * (n % 500)) + Decimal("0.50"),
                                               "COP", xblnr=f"FE-{n}", bldat=INVOICE_DAY, days_net=30))
            n += 1
    return out
