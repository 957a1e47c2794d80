"""``conciliador demo``: a workspace with a generated ERP and bank statement, processed end to end.

The data is a small Colombian company's receivables: customers with valid NITs, invoices with
19 % IVA, and one day's statement mixing clean payments, payments net of withholding (retención
en la fuente), payments without a reference, a payment for two invoices and bank charges. The
same seed gives the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from stdnum.co import nit

from .errors import ConciliadorError

MARKER = ".conciliador-demo"
ACCOUNT = "0123-456789-01"
NAMES = [
    "Distribuidora Andina S.A.S.", "Ferretería El Tornillo Ltda", "Comercializadora Caribe S.A.",
    "Alimentos del Valle S.A.S.", "Transportes Sabana Ltda", "Droguería La Salud S.A.S.",
    "Constructora Altos de Oriente S.A.", "Papelería Nacional S.A.S.", "Textiles Medellín S.A.",
    "Agroinsumos del Llano S.A.S.", "Tecnología Pacífico S.A.S.", "Café Montaña Ltda",
    "Lácteos La Pradera S.A.", "Servicios Industriales Bolívar S.A.S.", "Autopartes Santander Ltda",
    "Clínica Dental Sonrisa S.A.S.", "Hotel Mirador del Río S.A.", "Plásticos del Norte S.A.S.",
    "Inversiones Guadalupe & Cía S. en C.", "Editorial Macondo S.A.S.",
]


@dataclass
class Invoice:
    document: str
    reference: str
    customer: str
    customer_name: str
    tax_id: str
    base: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.base + self.vat


def create_workspace(folder: Path, *, seed: int = 2026, force: bool = False, today: dt.date | None = None) -> Path:
    """Write config, ERP files and a statement in the inbox; returns the config file's path."""
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise ConciliadorError(f"{folder} exists and is not a demo workspace; choose another --dir.")
        if not force:
            raise ConciliadorError(f"{folder} already holds a demo; pass --force to start it again.")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("created by conciliador demo; safe to delete\n")
    rng = random.Random(seed)
    today = today or dt.date.today()
    invoices = _invoices(rng, today)
    _write_erp(folder / "erp", invoices, today)
    for sub in ("inbox", "archive", "quarantine", "exceptions", "resolutions", "state"):
        (folder / sub).mkdir()
    statement = _statement(rng, invoices, today - dt.timedelta(days=1))
    (folder / "inbox" / f"extracto-{today - dt.timedelta(days=1):%Y%m%d}.csv").write_text(statement, encoding="utf-8")
    config = folder / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def _invoices(rng: random.Random, today: dt.date) -> list[Invoice]:
    invoices = []
    number = 10001
    for i, name in enumerate(NAMES):
        body = str(rng.randint(800_000_000, 901_999_999))
        tax_id = f"{body}-{nit.calc_check_digit(body)}"
        for _ in range(rng.randint(2, 4)):
            base = Decimal(rng.randrange(300_000, 25_000_000, 100))
            vat = (base * Decimal("0.19")).quantize(Decimal(1))
            invoices.append(Invoice(f"18{number:08d}", f"FE-{number}", f"C{i + 1:04d}", name, tax_id, base, vat))
            number += 1
    return invoices


def _write_erp(folder: Path, invoices: list[Invoice], today: dt.date) -> None:
    folder.mkdir(parents=True)
    customers = {inv.customer: (inv.customer_name, inv.tax_id) for inv in invoices}
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "tax_id"])
        w.writerows([cid, name, tax] for cid, (name, tax) in customers.items())
    with open(folder / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount",
                    "tax_base", "vat", "document_date", "due_date"])
        for n, inv in enumerate(invoices):
            # Issued 5 to 154 days ago on 30-day terms, so the KPI report has ageing, DSO and CEI to show.
            issued = today - dt.timedelta(days=5 + (n * 37) % 150)
            w.writerow([inv.document, inv.customer, inv.reference, "COP", inv.total, inv.total, inv.base, inv.vat,
                        issued.isoformat(), (issued + dt.timedelta(days=30)).isoformat()])


def _statement(rng: random.Random, invoices: list[Invoice], day: dt.date) -> str:
    pool = invoices[:]
    rng.shuffle(pool)
    rows: list[tuple[str, Decimal, str, str]] = []  # payer, amount, text, bank reference

    def take() -> Invoice:
        return pool.pop()

    styles = ["PAGO FACTURA {ref}", "CANCELA {ref} NIT {nit}", "ABONO FV {ref_nodash}", "PAGO {ref_space}",
              "TRANSF {ref} {name}"]
    for n in range(26):
        inv = take()
        text = styles[n % len(styles)].format(ref=inv.reference, nit=inv.tax_id, name=inv.customer_name.upper()[:20],
                                              ref_nodash=inv.reference.replace("-", ""),
                                              ref_space=inv.reference.replace("-", " "))
        rows.append((inv.customer_name, inv.total, text, ""))
    for _ in range(4):  # net of 2.5 % retención en la fuente on the base: finance must confirm
        inv = take()
        net = inv.total - (inv.base * Decimal("0.025")).quantize(Decimal(1))
        rows.append((inv.customer_name, net, f"PAGO {inv.reference} MENOS RETEFUENTE", ""))
    for _ in range(3):  # no reference at all
        inv = take()
        rows.append((inv.customer_name, inv.total, f"TRANSFERENCIA DE {inv.customer_name.upper()[:30]}", ""))
    first, second = take(), take()
    rows.append((first.customer_name, first.total + second.total, f"PAGO {first.reference} Y {second.reference}", ""))
    typo = take()
    rows.append((typo.customer_name, typo.total, "PAGO FACTURA " + typo.reference.replace("0", "O", 1), ""))
    # What no engine should place by itself: payers outside the customer base, and a known
    # customer paying an amount that none of its invoices explains.
    rows += [("CONSORCIO VIAL ORIENTE 2026", Decimal("4350000"), "TRANSFERENCIA", ""),
             ("JUAN CARLOS PEREZ GOMEZ", Decimal("780000"), "CONSIGNACION", "")]
    known = take()
    rows.append((known.customer_name, Decimal("1234567"), f"ABONO CUENTA NIT {known.tax_id}", ""))
    rows += [("", Decimal("-8500"), "COMISION TRANSFERENCIA ACH", ""),
             ("", Decimal("-1619"), "IVA COMISION", ""),
             ("", Decimal("-48600"), "GMF 4X1000", "")]
    rng.shuffle(rows)

    buffer = io.StringIO()
    opening = Decimal("250000000.00")
    closing = opening + sum((amount for _, amount, _, _ in rows), Decimal(0))
    buffer.write(f"# conciliador-csv v1\n# statement_id=EXT-{day:%Y%m%d}\n"
                 f"# opening_balance={opening}\n# closing_balance={closing:.2f}\n")
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(["account", "booking_date", "value_date", "amount", "currency", "bank_reference", "payer_name",
                "remittance"])
    for i, (payer, amount, text, _) in enumerate(rows, start=1):
        w.writerow([ACCOUNT, day.isoformat(), day.isoformat(), f"{amount:.2f}", "COP",
                    f"{day:%y%m%d}{i:05d}", payer, text])
    return buffer.getvalue()


def run_demo(config_path: Path, console) -> None:
    """Process the demo workspace once and show what happened."""
    from rich.table import Table

    from . import logs
    from .daemon import load_agent

    agent = load_agent(config_path)
    logs.configure(agent.settings.logging.level, "console")
    try:
        summary = agent.run_once()
        rows = agent.rt.db.conn.execute(
            "SELECT o.key, o.erp_document, o.payload FROM outbox o WHERE o.state = 'posted' ORDER BY o.created_at"
        ).fetchall()
    finally:
        agent.close()
    from .models import Posting

    table = Table(title="Pagos aplicados en el ERP (flatfile)")
    for column in ("llave", "documento ERP", "cliente", "factura", "valor"):
        table.add_column(column, justify="right" if column == "valor" else "left")
    for key, document, payload in rows:
        posting = Posting.model_validate_json(payload)
        for app in posting.applications:
            table.add_row(key, document, posting.customer_id, app.reference or app.document, f"{app.amount:,.0f} {app.currency}".replace(",", "."))
    console.print(table)
    decided = summary.reconcile.decided
    console.print(
        f"Líneas del extracto: {sum(decided.values())}  ·  aplicadas: {decided.get('apply', 0)}  ·  "
        f"sugerencias: {decided.get('suggest', 0)}  ·  sin coincidencia: {decided.get('unmatched', 0)}  ·  "
        f"no son pagos: {decided.get('ignore', 0)}"
    )
    folder = config_path.parent
    console.print(f"ERP postings: {folder / 'erp' / 'postings.csv'}")
    for path in summary.exception_files:
        console.print(f"Exceptions for finance: {path}")
    console.print(f"Explore the workspace in {folder}; run it as a service with: conciliador run --config {config_path}")


CONFIG = f"""\
# conciliador demo workspace: every path is relative to this file. See config.example.toml.
language = "es"

[intake]
stable_seconds = 0.5

[logging]
level = "warning"

[companies.demo]
erp = "flatfile"
accounts = ["{ACCOUNT}"]
currency = "COP"

[companies.demo.erp_settings]
folder = "erp"
"""
