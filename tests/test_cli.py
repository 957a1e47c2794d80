"""The command line as IT uses it: check, plugins list, version, demo, and installation as a wheel."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Workspace, cli, make_workspace

ROOT = Path(__file__).resolve().parent.parent


def test_check_passes_on_a_good_workspace(workspace: Workspace):
    result = cli("check", "--config", str(workspace.config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout
    for name in ("configuration", "folder inbox", "state store", "acme: flatfile open_items.csv"):
        assert name in result.stdout


def test_check_names_key_value_and_rule_of_a_bad_setting(workspace: Workspace):
    text = workspace.config.read_text().replace("stable_seconds = 0.3", 'stable_seconds = "soon"')
    workspace.config.write_text(text)
    result = cli("check", "--config", str(workspace.config))
    assert result.returncode == 78
    out = " ".join((result.stdout + result.stderr).split())
    assert "intake.stable_seconds" in out and "'soon'" in out and "valid number" in out
    assert "Traceback" not in out


def test_run_refuses_a_bad_setting_from_the_environment(workspace: Workspace):
    result = cli("run", "--once", "--config", str(workspace.config), env={"CONCILIADOR__LANGUAGE": "fr"})
    assert result.returncode == 78
    err = " ".join(result.stderr.split())
    assert "language" in err and "CONCILIADOR__LANGUAGE" in err and "'es' or 'en'" in err


def test_check_refuses_an_unknown_connector_setting(workspace: Workspace):
    workspace.config.write_text(workspace.config.read_text() + 'colour = "blue"\n')
    result = cli("check", "--config", str(workspace.config))
    assert result.returncode == 1
    assert "companies.acme.erp_settings.colour" in " ".join(result.stdout.split())


@contextlib.contextmanager
def _unwritable(folder: Path):
    """Make ``folder`` unwritable even for root (CI runs as root, which ignores mode bits)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:  # needs CAP_LINUX_IMMUTABLE and ext4/xfs: not in every container or tmpfs
        pytest.skip(f"root cannot make {folder} unwritable here: chattr said {made.stderr.strip()!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_check_fails_on_an_unwritable_inbox(workspace: Workspace):
    with _unwritable(workspace.inbox):
        result = cli("check", "--config", str(workspace.config))
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "FAIL" in out and "folder inbox" in out and f"cannot write in {workspace.inbox}" in out


def test_check_reports_a_missing_erp_file(workspace: Workspace):
    (workspace.root / "erp" / "customers.csv").unlink()
    result = cli("check", "--config", str(workspace.config))
    assert result.returncode == 1
    assert "customers.csv" in result.stdout and "FAIL" in result.stdout


def test_missing_config_file_is_a_sentence(tmp_path):
    result = cli("check", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 78
    assert "No configuration file at" in result.stdout + result.stderr


def test_plugins_list_shows_builtins_and_hooks():
    result = cli("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["flatfile"]["source"] == "built-in"
    assert plugins["flatfile"]["hooks"] == ["conciliador_erp_connectors"]
    assert plugins["simplecsv"]["hooks"] == ["conciliador_bank_formats"]
    table = cli("plugins", "list")
    assert "conciliador_matching_rules" in table.stdout


def test_version():
    result = cli("version")
    assert result.returncode == 0 and result.stdout.startswith("conciliador ")


def test_demo_posts_payments_and_writes_exceptions(tmp_path):
    folder = tmp_path / "demo"
    result = cli("demo", "--dir", str(folder))
    assert result.returncode == 0, result.stderr
    with open(folder / "erp" / "postings.csv", newline="", encoding="utf-8") as fh:
        postings = list(csv.DictReader(fh))
    # 35 payments applied: 26 quoting their invoice, 4 net of retención en la fuente, 1 for two
    # invoices (two rows), 3 recognised by the payer's name, 1 with a mistyped number.
    assert len(postings) == 36 and len({p["key"] for p in postings}) == 35
    assert sum(1 for p in postings if p["withheld"] not in ("0", "0.00")) == 4
    [exceptions] = (folder / "exceptions").glob("excepciones-*-demo.csv")
    rows = list(csv.reader(exceptions.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:4] == ["id_linea", "fecha", "cuenta", "valor"] and len(rows) == 1 + 3
    assert {r[5] for r in rows[1:]} >= {"CONSORCIO VIAL ORIENTE 2026", "JUAN CARLOS PEREZ GOMEZ"}
    assert "Pagos aplicados" in result.stdout and str(exceptions) in result.stdout

    again = cli("demo", "--dir", str(folder))
    assert again.returncode == 1 and "--force" in again.stderr
    assert cli("demo", "--dir", str(folder), "--force").returncode == 0

    other = tmp_path / "mine"
    other.mkdir()
    (other / "precious.txt").write_text("do not delete")
    refused = cli("demo", "--dir", str(other), "--force")
    assert refused.returncode == 1 and (other / "precious.txt").exists()


def test_exceptions_file_never_holds_a_formula(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    payload = [["0123-456789-01", "2026-11-20", "5000.00", "COP", "X1", "=HYPERLINK(\"http://x\")", "@SUM(A1)"],
               ["0123-456789-01", "2026-11-20", "6000.00", "COP", "X2", "+57 300", "-1+1"]]
    (ws.inbox / "f.csv").write_bytes(ws.statement("s", [], extra_rows=payload))
    assert cli("run", "--once", "--config", str(ws.config)).returncode == 0
    [path] = (ws.root / "exceptions").glob("*.csv")
    for row in csv.reader(path.read_text(encoding="utf-8-sig").splitlines()):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.slow
def test_installed_wheel_runs_the_demo(tmp_path):
    """The wheel carries every package and the migrations, so a non-editable install works."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = wheels.glob("conciliador-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import conciliador.store, conciliador.plugins.flatfile as f; "
                            "print(conciliador.store.__file__, f.__file__)"],
                           env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
    assert all(p.startswith(str(site)) for p in where.stdout.split())
    demo = subprocess.run([sys.executable, "-m", "conciliador", "demo", "--dir", str(tmp_path / "demo")],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "demo" / "erp" / "postings.csv").exists()
