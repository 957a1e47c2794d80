"""examples/fixedwidth-bank, an external plugin package, installed with pip from its own directory
(into a folder of its own put on PYTHONPATH, so the rest of the suite keeps a plain environment):
discovered through its entry point, listed by ``conciliador plugins list``, processing a file end
to end, and passing its own conformance tests."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import ACCOUNT, cli, make_workspace

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fixedwidth-bank"

sys.path.insert(0, str(EXAMPLE / "tests"))
from fwb1_writer import detail, header, trailer  # noqa: E402

sys.path.remove(str(EXAMPLE / "tests"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed by pip, as an operator would install it beside the agent."""
    work = tmp_path_factory.mktemp("example")
    # pip builds in the source tree; build from a copy so the repository stays clean.
    source = shutil.copytree(EXAMPLE, work / "src", ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = work / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                             str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return target


def env_with(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}


def test_listed_by_plugins_list(site: Path) -> None:
    result = cli("plugins", "list", "--json", env=env_with(site))
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["fixedwidth"] == {
        "name": "fixedwidth", "version": "0.1.0", "source": "distribution conciliador-fixedwidth-bank",
        "hooks": ["conciliador_bank_formats"], "path": str(site / "conciliador_fixedwidth" / "plugin.py"), "api": "1",
    }
    assert plugins["simplecsv"]["api"] == plugins["flatfile"]["api"] != ""
    table = cli("plugins", "list", env=env_with(site))
    assert "fixedwidth" in table.stdout and "conciliador-fixedwidth-bank" in table.stdout


def test_processes_a_file_end_to_end(site: Path, tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", invoices=3)
    day = dt.date(2026, 11, 20)
    records = [header(ACCOUNT, "COP", day, "FWB-E2E", Decimal("0"))]
    for n, (_, reference, customer, total) in enumerate(ws.invoices, start=1):
        payer = f"Cliente {int(customer[1:])} S.A.S."  # as make_workspace names customer C00n
        records.append(detail(day, total, f"TRF{n:04d}", "", payer, f"PAGO {reference}", day))
    total = sum((t for *_, t in ws.invoices), Decimal(0))
    records.append(trailer(len(ws.invoices), total, total))
    (ws.inbox / "extracto.fwb").write_bytes(("\r\n".join(records) + "\r\n").encode("latin-1"))

    result = cli("run", "--once", "--config", str(ws.config), env=env_with(site))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert ws.query("SELECT format, status FROM files") == [("fwb1", "archived")]
    postings = ws.postings()
    assert sorted(p["applied_document"] for p in postings) == sorted(doc for doc, *_ in ws.invoices)
    assert ws.quarantined() == []


def test_parse_shows_what_it_reads(site: Path) -> None:
    result = cli("parse", str(EXAMPLE / "tests" / "samples" / "extracto-noviembre.fwb"), env=env_with(site))
    assert result.returncode == 0, result.stderr
    assert "format: fwb1" in result.stdout and "lines 4" in result.stdout


def test_example_passes_its_own_conformance_tests(site: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--conciliador-report",
         str(tmp_path / "report.json"), str(EXAMPLE)],
        capture_output=True, text=True, timeout=600, cwd=EXAMPLE, env={**os.environ, **env_with(site)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conciliador conformance" in result.stdout
    [suite] = json.loads((tmp_path / "report.json").read_text())
    assert suite["suite"] == "TestFixedWidthConformance" and suite["kind"] == "bank format"
    assert {c["outcome"] for c in suite["checks"].values()} == {"passed"}
    assert "test_streams_large_files" in suite["checks"] and "test_discoverable_through_entry_point" in suite["checks"]
