"""``conciliador plugins new erp|bank NAME`` makes a package that installs with pip, is found
through its entry point, declares its plugin API, and passes the conformance kit as generated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conciliador.scaffold import ScaffoldError, create
from conftest import cli


def install(package: Path, site: Path) -> dict[str, str]:
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                             str(package)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return {"PYTHONPATH": str(site)}


@pytest.mark.parametrize(("kind", "name", "module", "hook"), [
    ("bank", "banco-andino", "conciliador_banco_andino", "conciliador_bank_formats"),
    ("erp", "siesa", "conciliador_siesa", "conciliador_erp_connectors"),
])
def test_new_package_installs_and_passes_the_kit(tmp_path: Path, kind: str, name: str, module: str, hook: str) -> None:
    made = cli("plugins", "new", kind, name, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    package = tmp_path / f"conciliador-{name}"
    assert str(package) in made.stdout and "pip install -e '.[test]'" in made.stdout

    project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == f"conciliador-{name}"
    assert project["entry-points"]["conciliador"] == {name: f"{module}.plugin"}
    assert (package / "tests" / "conftest.py").read_text().count('pytest_plugins = ["conciliador.testing"]') == 1
    assert "{{" not in "".join(p.read_text(encoding="utf-8") for p in package.rglob("*") if p.is_file())

    env = install(package, tmp_path / "site")
    listed = cli("plugins", "list", "--json", env=env)
    [plugin] = [p for p in json.loads(listed.stdout) if p["name"] == name]
    assert plugin["source"] == f"distribution conciliador-{name}" and plugin["hooks"] == [hook]
    assert plugin["api"] == "1"

    report = tmp_path / "report.json"
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--conciliador-report",
                            str(report)], cwd=package, capture_output=True, text=True, timeout=600,
                           env={**os.environ, **env})
    assert tests.returncode == 0, tests.stdout + tests.stderr
    [suite] = json.loads(report.read_text())
    assert {c["outcome"] for c in suite["checks"].values()} == {"passed"}, suite  # nothing exempt, nothing failed


def test_new_erp_package_is_usable_in_the_agent_configuration(tmp_path: Path) -> None:
    """The generated connector's settings are what an operator writes in conciliador.toml."""
    package = create("erp", "siesa", tmp_path / "pkg")
    env = install(package, tmp_path / "site")
    config = tmp_path / "conciliador.toml"
    config.write_text('[companies.acme]\nerp = "siesa"\n[companies.acme.erp_settings]\n'
                      'url = "http://127.0.0.1:9"\nuser = "u"\npassword = "env:SIESA_PASSWORD"\n', encoding="utf-8")
    checked = cli("check", "--config", str(config), env={**env, "SIESA_PASSWORD": "s3cret"})
    assert "acme: siesa reachable" in checked.stdout and checked.returncode == 1  # nothing listens on port 9
    assert "s3cret" not in checked.stdout + checked.stderr
    typo = config.read_text().replace("user =", "usr =")
    config.write_text(typo, encoding="utf-8")
    refused = cli("check", "--config", str(config), env={**env, "SIESA_PASSWORD": "s3cret"})
    assert refused.returncode != 0 and "companies.acme.erp_settings.usr" in refused.stdout


@pytest.mark.parametrize(("kind", "name", "problem"), [
    ("crm", "x1", "must be one of bank, erp"),
    ("bank", "Banco Andino", "cannot be a plugin name"),
    ("bank", "1bank", "cannot be a plugin name"),
    ("erp", "sap--b1", "cannot be a plugin name"),
])
def test_bad_kind_or_name_is_refused(tmp_path: Path, kind: str, name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        create(kind, name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_with_content_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "conciliador-mine").mkdir()
    (tmp_path / "conciliador-mine" / "precious.py").write_text("keep me")
    result = cli("plugins", "new", "bank", "mine", cwd=tmp_path)
    assert result.returncode == 1 and "already exists" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "conciliador-mine" / "precious.py").read_text() == "keep me"
    assert sorted(p.name for p in (tmp_path / "conciliador-mine").iterdir()) == ["precious.py"]


def test_templates_ship_in_the_wheel(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(root)],
                   check=True, capture_output=True, timeout=600)
    import zipfile

    [wheel] = wheels.glob("conciliador-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(str(p.relative_to(root / "agent")) for p in (root / "agent" / "scaffold_templates").rglob("*.tmpl"))
    assert templates and all(f"conciliador/{t}" in names for t in templates)
    assert "conciliador/testing.py" in names
