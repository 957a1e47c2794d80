"""Shared fixtures: a workspace with a flat-file ERP, statements, and the agent as a real process."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

# The conformance kit, opted into as any connector package does (tests/test_sdk_conformance_builtins.py).
pytest_plugins = ["conciliador.testing"]

ACCOUNT = "0123-456789-01"
DAY = dt.date(2026, 11, 20)


@dataclass
class Workspace:
    root: Path
    invoices: list[tuple[str, str, str, Decimal]] = field(default_factory=list)  # document, reference, customer, total

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def db_path(self) -> Path:
        return self.root / "state" / "conciliador.db"

    def query(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def postings(self) -> list[dict[str, str]]:
        path = self.root / "erp" / "postings.csv"
        if not path.exists():
            return []
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def archived(self) -> list[Path]:
        return sorted(p for p in (self.root / "archive").rglob("*") if p.is_file())

    def quarantined(self) -> list[Path]:
        # The reason note is written through a hidden temporary file first (fsutil.write_atomic), so a
        # poll can catch ``.name.reason.txt.tmp`` before the file itself has moved in.
        return sorted(p for p in (self.root / "quarantine").glob("*")
                      if not p.name.endswith(".reason.txt") and not p.name.startswith("."))

    def statement(self, name: str, payments: list[tuple[str, Decimal]], *, start: int = 1,
                  extra_rows: list[list[str]] | None = None) -> bytes:
        """A conciliador-csv statement: one credit per (text, amount), plus raw extra rows."""
        lines = ["# conciliador-csv v1", "account,booking_date,amount,currency,bank_reference,payer_name,remittance"]
        for i, (text, amount) in enumerate(payments, start=start):
            lines.append(f"{ACCOUNT},{DAY.isoformat()},{amount},COP,REF{i:06d},Cliente {i},{text}")
        for row in extra_rows or []:
            lines.append(",".join(row))
        return ("\n".join(lines) + "\n").encode()


def make_workspace(root: Path, *, invoices: int = 20, stable_seconds: float = 0.3, extra_config: str = "") -> Workspace:
    ws = Workspace(root)
    erp = root / "erp"
    erp.mkdir(parents=True)
    with open(erp / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "tax_id"])
        for c in range(1, 11):
            w.writerow([f"C{c:03d}", f"Cliente {c} S.A.S.", f"90000000{c:02d}"])
    with open(erp / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount"])
        for n in range(1, invoices + 1):
            total = Decimal(100_000 + 1_000 * n)
            doc, ref, cust = f"18{n:08d}", f"FE-{n}", f"C{(n % 10) + 1:03d}"
            ws.invoices.append((doc, ref, cust, total))
            w.writerow([doc, cust, ref, "COP", total, total])
    ws.config.write_text(
        f"""
[intake]
stable_seconds = {stable_seconds}
rescan_seconds = 30

[poster]
backoff_initial_seconds = 0.05
backoff_max_seconds = 0.2
retry_after_seconds = 1

[logging]
level = "info"
format = "json"

[companies.acme]
erp = "flatfile"
accounts = ["{ACCOUNT}"]

[companies.acme.erp_settings]
folder = "erp"
{extra_config}
""",
        encoding="utf-8",
    )
    for sub in ("inbox", "archive", "quarantine", "exceptions", "resolutions", "state"):
        (root / sub).mkdir(exist_ok=True)
    return ws


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


def cli(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed command line as a user would, in a child process."""
    return subprocess.run([sys.executable, "-m", "conciliador", *args], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=120, **kwargs)


class Daemon:
    """``conciliador run`` as a child process, its JSON log in a file."""

    def __init__(self, ws: Workspace, env: dict[str, str] | None = None, *, may_exit: bool = False) -> None:
        self.ws = ws
        self.log_path = ws.root / f"daemon-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "conciliador", "run", "--config", str(ws.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        wait_for(lambda: "agent_started" in self.output() or self.proc.poll() is not None, 30, "the agent to start")
        # A daemon told to crash (CONCILIADOR_CRASH_AT) may be gone before this process looks again.
        assert self.proc.poll() is None or (may_exit and "agent_started" in self.output()), self.output()

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.log.close()
        return code


@pytest.fixture
def daemon_factory() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(ws: Workspace, env: dict[str, str] | None = None, *, may_exit: bool = False) -> Daemon:
        d = Daemon(ws, env, may_exit=may_exit)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.stop(signal.SIGKILL)


T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
