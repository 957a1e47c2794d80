"""Shared by the report tests: a store built row by row with known answers, readers for the HTML
report's tables and measurements, a PNG decoder, and headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import os
import random
import re
import shutil
import struct
import subprocess
import time
import zlib
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conciliador.models import OpenItem, StatementLine
from conciliador.report import Period
from conciliador.store import Database

PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture(autouse=True)
def bogota_days(monkeypatch):
    """The report counts finance's days in the machine's local time, and the fixtures place
    instants at 13:00-20:00 UTC: east of UTC+4 some fall on the next day. The tests are written for
    the product's home, Bogotá (UTC-5, no daylight saving), whatever zone the machine is in."""
    monkeypatch.setenv("TZ", "America/Bogota")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def at(day: str, hour: int = 12) -> str:
    """A UTC instant; noon keeps its local day the same in every timezone from UTC-11 to UTC+11."""
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").isoformat(timespec="microseconds")


class Store:
    def __init__(self, folder: Path) -> None:
        self.db = Database.open(folder)
        self.conn = self.db.conn
        self._n = 0

    def file(self, received_at: str) -> int:
        self._n += 1
        return self.conn.execute(
            "INSERT INTO files(sha256, original_name, size, received_at, status, format, stored_path) "
            "VALUES (?, ?, 1, ?, 'archived', 'conciliador-csv', ?)",
            (f"{self._n:064d}", f"f{self._n}.csv", received_at, f"/x/f{self._n}.csv")).lastrowid

    def line(self, file_id: int, company: str | None, account: str, day: str, amount: str, *, payer: str = "",
             payer_account: str = "", currency: str = "COP", status: str = "decided") -> int:
        self._n += 1
        line = StatementLine(account=account, currency=currency, booking_date=dt.date.fromisoformat(day),
                             amount=amount, bank_reference=f"R{self._n}", payer_name=payer,
                             payer_account=payer_account)
        return self.conn.execute(
            "INSERT INTO statement_lines(identity, file_id, company, account, currency, booking_date, amount, status, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line.identity, file_id, company, account.replace("-", ""), currency, day, amount, status,
             line.model_dump_json())).lastrowid

    def decide(self, line_id: int, kind: str, created_at: str, company: str = "acme") -> int:
        """A new current decision for the line; the one before it (if any) is superseded."""
        with self.db.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # the old row points at the new one before it exists
            decision = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM decisions").fetchone()[0]
            conn.execute("UPDATE decisions SET superseded_by = ? WHERE line_id = ? AND superseded_by IS NULL",
                         (decision, line_id))
            conn.execute("INSERT INTO decisions(id, line_id, company, kind, score, reason, data, created_at) "
                         "VALUES (?, ?, ?, ?, '1', '', '{}', ?)", (decision, line_id, company, kind, created_at))
        return decision

    def post(self, line_id: int, decision_id: int, state: str, updated_at: str, kind: str = "apply") -> None:
        self._n += 1
        self.conn.execute(
            "INSERT INTO outbox(key, company, line_id, decision_id, state, payload, created_at, updated_at) "
            "VALUES (?, 'acme', ?, ?, ?, ?, ?, ?)",
            (f"K{self._n:06d}", line_id, decision_id, state, json.dumps({"kind": kind}), updated_at, updated_at))

    def snapshot(self, company: str, taken_at: str, items: list[OpenItem]) -> None:
        sid = self.conn.execute("INSERT INTO snapshots(company, taken_at, customers, open_items) VALUES (?, ?, 0, ?)",
                                (company, taken_at, len(items))).lastrowid
        self.conn.executemany(
            "INSERT INTO snapshot_items(snapshot_id, document, customer_id, open_amount, data) VALUES (?, ?, ?, ?, ?)",
            [(sid, i.document, i.customer_id, str(i.open_amount), i.model_dump_json()) for i in items])


def item(document: str, open_amount: str, *, original: str | None = None, doc_date: str | None = None,
         due: str | None = None, currency: str = "COP") -> OpenItem:
    return OpenItem(document=document, customer_id="C1", currency=currency, open_amount=open_amount,
                    original_amount=original or open_amount,
                    document_date=dt.date.fromisoformat(doc_date) if doc_date else None,
                    due_date=dt.date.fromisoformat(due) if due else None)


ACME = "0123-456789-01"


def build(folder: Path) -> Store:
    s = Store(folder)
    f1, f2 = s.file(at("2026-11-02", 13)), s.file(at("2026-11-03"))
    f3, f4 = s.file(at("2026-11-10", 14)), s.file(at("2026-11-05"))
    old = s.file(at("2026-10-20"))
    # L1: applied by the engine, posted 2 h after the statement arrived.
    l1 = s.line(f1, "acme", ACME, "2026-11-02", "1000", payer="Cliente Uno")
    s.post(l1, s.decide(l1, "apply", at("2026-11-02", 14)), "posted", at("2026-11-02", 15))
    # L2: suggested; finance resolved it three days later (a second decision), posted 71 h after arrival.
    l2 = s.line(f1, "acme", ACME, "2026-11-02", "2000", payer="Cliente Dos")
    s.decide(l2, "suggest", at("2026-11-02", 14))
    s.post(l2, s.decide(l2, "apply", at("2026-11-05")), "posted", at("2026-11-05"))
    # L3: the engine applied it but the ERP refused: not automatic, still unapplied (27 days at 30/11).
    l3 = s.line(f2, "acme", ACME, "2026-11-03", "500", payer="=CMD|' /C calc'!A0")
    s.post(l3, s.decide(l3, "apply", at("2026-11-03")), "failed", at("2026-11-03"))
    # L4 a bank charge and L5 an internal transfer: not customer payments.
    s.decide(s.line(f2, "acme", ACME, "2026-11-03", "-8500"), "ignore", at("2026-11-03"))
    s.decide(s.line(f2, "acme", ACME, "2026-11-03", "300", payer="ACME TESORERIA"), "ignore", at("2026-11-03"))
    # L6: no match; the same payer as L8 (spelt with other spaces and case).
    s.decide(s.line(f2, "acme", ACME, "2026-11-03", "700", payer="Juan Pérez"), "unmatched", at("2026-11-03"))
    # L7: company beta, applied 6 h after arrival.
    l7 = s.line(f3, "beta", "999", "2026-11-10", "4000", payer="Beta Cliente")
    s.post(l7, s.decide(l7, "apply", at("2026-11-10", 15), company="beta"), "posted", at("2026-11-10", 20))
    # L8: booked before the period, still waiting (41 days): in the backlog, not in the period's counts.
    s.decide(s.line(old, "acme", ACME, "2026-10-20", "900", payer="JUAN  PÉREZ"), "unmatched", at("2026-10-20"))
    # L12: booked in October, applied by the engine on 2 November: applied for November's report,
    # still waiting at the end of October's.
    l12 = s.line(old, "acme", ACME, "2026-10-25", "1200", payer="Cliente Doce")
    s.post(l12, s.decide(l12, "apply", at("2026-11-02")), "posted", at("2026-11-02"))
    # L9: not decided yet (the ERP could not be read); L10: an account no company claims.
    s.line(f4, "acme", ACME, "2026-11-04", "100", payer_account="0550-1", status="new")
    s.line(f4, None, "555", "2026-11-04", "250", payer="Otro", status="no_company")
    # L11: applied by the engine (6 h), then reversed by finance: automatic, but unapplied again.
    l11 = s.line(f4, "acme", ACME, "2026-11-05", "1500", payer="Cliente Once")
    d11 = s.decide(l11, "apply", at("2026-11-05", 13))
    s.post(l11, d11, "posted", at("2026-11-05", 18))
    s.post(l11, d11, "posted", at("2026-11-06"), kind="reversal")

    # acme's receivables: opening reading on 31/10 (3000), closing reading on 29/11.
    s.snapshot("acme", at("2026-10-31"), [item("I1", "1000", doc_date="2026-09-15", due="2026-10-15"),
                                          item("I2", "2000", doc_date="2026-10-11", due="2026-11-10")])
    s.snapshot("acme", at("2026-11-15"), [item("I2", "2000", doc_date="2026-10-11", due="2026-11-10"),
                                          item("I3", "5000", doc_date="2026-11-05", due="2026-12-05")])
    s.snapshot("acme", at("2026-11-29"), [
        item("I2", "2000", doc_date="2026-10-11", due="2026-11-10"),              # 19 days: 1-30
        item("I3", "3000", original="5000", doc_date="2026-11-05", due="2026-12-05"),  # current
        item("I4", "1000", doc_date="2026-11-20", due="2026-12-20"),              # current
        item("I5", "700", doc_date="2026-05-01", due="2026-05-31"),               # 182 days: 180+
        item("I6", "400", doc_date="2026-08-01", due="2026-08-31"),               # 90 days: 61-90
        item("I7", "100"),                                                        # no due date: current
        item("I8", "-200", doc_date="2026-11-25", due="2026-11-25"),              # credit note, 4 days: 1-30
        item("I9", "600", doc_date="2026-09-01", due="2026-09-30"),               # 60 days: 31-60
        item("I10", "800", doc_date="2026-06-15", due="2026-07-15"),              # 137 days: 91-180
        item("U1", "50.00", doc_date="2026-10-01", due="2026-11-01", currency="USD"),  # 28 days: 1-30
    ])
    # Read after the period: its invoice dated in the period must not count as a sale.
    s.snapshot("acme", at("2026-12-02"), [item("I11", "9999", doc_date="2026-11-28", due="2026-12-28")])
    # beta has one reading only: it stands for both the opening and the closing.
    s.snapshot("beta", at("2026-11-20"), [item("J1", "4000", doc_date="2026-11-01", due="2026-12-01"),
                                          item("J2", "1000", doc_date="2026-10-01", due="2026-11-01")])
    return s


# -- a larger store, made by the real agent ------------------------------------------------------------
AGENT_COMPANIES = {"acme": ("0123-456789-01", 24), "beta": ("0550-998877-00", 16)}
UNKNOWN_PAYERS = ("CONSORCIO VIAL ORIENTE 2026", "JUAN CARLOS PEREZ GOMEZ", "INVERSIONES LA COLINA SAS",
                  '=HYPERLINK("http://example.invalid","clic")', "+57 300 555 0101")


def agent_workspace(root: Path, *, today: dt.date, days: int = 21, seed: int = 8) -> tuple[Path, list[Path]]:
    """A workspace with two companies on flat-file ERPs (invoices with document and due dates over the
    last nine months) and one statement per company and weekday of the last ``days`` days: exact
    payments, payments net of withholding, payers nobody knows (one named like a formula), bank
    charges. Returns the configuration and the statements, oldest first, for the agent to take."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    config = ['language = "es"', "[report]", 'daily_at = ""', "[logging]", 'level = "warning"']
    statements: list[Path] = []
    for company, (account, customers) in AGENT_COMPANIES.items():
        config += [f"[companies.{company}]", 'erp = "flatfile"', f'accounts = ["{account}"]',
                   f"[companies.{company}.erp_settings]", f'folder = "erp-{company}"']
        invoices = _agent_erp(root / f"erp-{company}", company, customers, today, rng)
        open_ = sorted(invoices, key=lambda i: i["document_date"])
        for back in range(days, 0, -1):
            day = today - dt.timedelta(days=back)
            if day.weekday() >= 5:
                continue
            rows = []
            for _ in range(rng.randint(4, 9)):
                roll = rng.random()
                payable = [i for i in open_ if i["document_date"] < day]
                if roll < 0.72 and payable:
                    inv = payable.pop(rng.randrange(len(payable)))
                    open_.remove(inv)
                    rows.append((inv["name"], inv["total"], f"PAGO FACTURA {inv['reference']}"))
                elif roll < 0.82 and payable:
                    inv = payable.pop(rng.randrange(len(payable)))
                    open_.remove(inv)
                    net = inv["total"] - (inv["base"] * Decimal("0.025")).quantize(Decimal(1))
                    rows.append((inv["name"], net, f"ABONO {inv['reference']} MENOS RETENCION"))
                else:
                    rows.append((rng.choice(UNKNOWN_PAYERS), Decimal(rng.randrange(200_000, 9_000_000, 1000)),
                                 "TRANSFERENCIA"))
            rows.append(("", Decimal("-8500"), "COMISION TRANSFERENCIA ACH"))
            path = root / "statements" / f"{day:%Y%m%d}-{company}.csv"
            path.parent.mkdir(exist_ok=True)
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                fh.write("# conciliador-csv v1\n")
                w.writerow(["account", "booking_date", "amount", "currency", "bank_reference", "payer_name", "remittance"])
                for i, (payer, amount, remittance) in enumerate(rows, start=1):
                    w.writerow([account, day.isoformat(), f"{amount:.2f}", "COP", f"{day:%y%m%d}{company[0]}{i:03d}",
                                payer, remittance])
            statements.append(path)
    (root / "config.toml").write_text("\n".join(config) + "\n", encoding="utf-8")
    statements.sort(key=lambda p: p.name)
    return root / "config.toml", statements


def _agent_erp(folder: Path, company: str, customers: int, today: dt.date, rng: random.Random) -> list[dict]:
    folder.mkdir(parents=True)
    invoices, number = [], 10001 if company == "acme" else 50001
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "tax_id"])
        for c in range(1, customers + 1):
            name = f"{company.upper()} Cliente {c:02d} S.A.S."
            w.writerow([f"C{c:03d}", name, f"9{c:08d}"])
            for _ in range(rng.randint(4, 9)):
                base = Decimal(rng.randrange(300_000, 15_000_000, 100))
                issued = today - dt.timedelta(days=rng.randint(1, 270))
                invoices.append({"document": f"18{number:08d}", "reference": f"FE-{number}", "customer": f"C{c:03d}",
                                 "name": name, "base": base, "total": base + (base * Decimal("0.19")).quantize(Decimal(1)),
                                 "document_date": issued, "due": issued + dt.timedelta(days=30)})
                number += 1
    with open(folder / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount",
                    "document_date", "due_date", "tax_base"])
        for i in invoices:
            w.writerow([i["document"], i["customer"], i["reference"], "COP", i["total"], i["total"],
                        i["document_date"].isoformat(), i["due"].isoformat(), i["base"]])
    return invoices


def run_agent(config: Path, statements: list[Path]) -> None:
    """The real agent, in this process: each statement dropped into the inbox and processed as
    ``conciliador run --once`` would, one run (and one ERP reading) per statement."""
    from conciliador import logs
    from conciliador.daemon import load_agent

    logs.configure("warning")
    agent = load_agent(config)
    try:
        for path in statements:
            (agent.rt.folders["inbox"] / path.name).write_bytes(path.read_bytes())
            summary = agent.run_once()
            assert summary.pending == 0 and summary.undecided == 0, path.name
    finally:
        agent.close()


# -- reading what the report wrote ---------------------------------------------------------------------
class HtmlFigures(HTMLParser):
    """The ``data-value`` of every cell of every figures table, by table, and the headline tiles."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.tiles: list[dict[str, str]] = []
        self._table: dict | None = None
        self._row: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs) -> None:
        a = dict(attrs)
        if tag == "table" and "data-table" in a:
            self._table = self.tables[a["data-table"]] = {"sheet": a.get("data-sheet"), "rows": []}
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._row.append(a.get("data-value", ""))
        elif tag == "div" and "data-kpi" in a:
            self.tiles.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            if self._row:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


# -- headless Chromium ---------------------------------------------------------------------------------
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio")

# Appended to a test copy of the report: measures every chart once the page is laid out and writes
# the result into the page, where --dump-dom returns it.
MEASURE = """<script>
(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    const view = svg.viewBox.baseVal;
    const bars = [...svg.querySelectorAll('rect.bar')].map(r => r.getBBox());
    return {id: svg.id, width: box.width, height: box.height, bars: bars.length,
            drawn: bars.filter(b => b.width > 0 && b.height > 0).length,
            inside: bars.every(b => b.x >= 0 && b.y >= 0 && b.x + b.width <= view.width + 0.5
                                    && b.y + b.height <= view.height + 0.5)};
  });
  const pre = document.createElement('pre');
  pre.id = 'measured';
  const overflowing = [...document.querySelectorAll('table.figures')]
    .filter(t => t.offsetWidth > t.parentElement.clientWidth + 1).map(t => t.dataset.table);
  pre.textContent = JSON.stringify({charts, overflowing, scrollWidth: document.documentElement.scrollWidth,
                                    images: document.images.length, scripts: document.scripts.length});
  document.body.appendChild(pre);
})();
</script>"""


def chromium() -> str | None:
    if explicit := os.environ.get("CONCILIADOR_CHROMIUM"):
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def require_chromium() -> str:
    """The browser, or a skip that says why; in CI (CI=true) a missing browser is a failure."""
    found = chromium()
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail("headless Chromium is required in CI: `make test` installs Debian's chromium package "
                    "(or set CONCILIADOR_CHROMIUM to a Chrome/Chromium binary)")
    pytest.skip("headless Chromium is not installed: `apt-get install chromium` (what `make test` does) or set "
                "CONCILIADOR_CHROMIUM; with CI=true this is a failure, not a skip")


def run_chromium(binary: str, profile: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=120)


def measure(binary: str, report: Path, work: Path) -> dict:
    copy = work / "measured.html"
    copy.write_text(report.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    result = run_chromium(binary, work / "profile", copy.as_uri(), "--window-size=1280,2000", "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, re.S)
    assert found, f"Chromium returned no measurements (exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def artifacts() -> Path:
    """Where tests leave files for people to look at: $CONCILIADOR_TEST_ARTIFACTS, else test-artifacts/
    at the repository's root (ignored by git)."""
    folder = Path(os.environ.get("CONCILIADOR_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB(A) PNG (what Chromium
    writes), with zlib only: enough to count colours, no imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data[pos + 8:pos + 8 + length])
        elif kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG layout {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + (((line[i - bpp] if i >= bpp else 0) + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a, b = (line[i - bpp] if i >= bpp else 0), prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def assert_workbook_matches_html(workbook_path: Path, page: str) -> HtmlFigures:
    """Every figures table of the page is a sheet of the workbook with the same values, cell by cell,
    and no cell of the workbook is a formula or starts like one."""
    import openpyxl

    figures = HtmlFigures(page)
    wb = openpyxl.load_workbook(workbook_path)
    assert sorted(wb.sheetnames) == sorted(t["sheet"] for t in figures.tables.values())
    for name, table in figures.tables.items():
        ws = wb[table["sheet"]]
        assert ws.freeze_panes == "A2", name
        rows = list(ws.iter_rows(min_row=2))
        assert len(rows) == len(table["rows"]), name
        for r, (shown, cells) in enumerate(zip(table["rows"], rows, strict=True), start=2):
            assert len(shown) == len(cells), (name, r)
            for raw, cell in zip(shown, cells, strict=True):
                assert _same(raw, cell), f"sheet {table['sheet']!r} {cell.coordinate}: {cell.value!r} != page {raw!r}"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_TRIGGERS), f"{ws.title}!{cell.coordinate}: {cell.value!r}"
    return figures


def _same(raw: str, cell) -> bool:
    value = cell.value
    if raw == "":
        return value is None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() == raw and cell.number_format in ("dd/mm/yyyy", "yyyy-mm-dd")
    if isinstance(value, (int, float)):
        number = Decimal(str(value))
        if cell.number_format == "0.0%":
            number *= 100
        return number == Decimal(raw)
    return value == raw or (raw.startswith(FORMULA_TRIGGERS) and value == "'" + raw)
