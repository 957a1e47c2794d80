"""docs/plugin-reference.md is generated from the code (python -m conciliador.docgen) and must be
current; every hook, contract method and conformance check carries the docstring it is documented
by (the datasette approach: an undocumented hook fails the build)."""

from __future__ import annotations

import inspect
import re

import pytest

from conciliador import contracts, docgen, testing

REFERENCE = docgen.REFERENCE.read_text(encoding="utf-8") if docgen.REFERENCE.exists() else ""


def test_reference_is_current() -> None:
    assert REFERENCE, f"{docgen.REFERENCE} is missing: run python -m conciliador.docgen"
    assert REFERENCE == docgen.render(), (
        f"{docgen.REFERENCE} is stale: a hookspec, contract, model or kit docstring changed. "
        "Run python -m conciliador.docgen and commit the result.")


def test_check_mode_reports_staleness(monkeypatch, tmp_path) -> None:
    stale = tmp_path / "plugin-reference.md"
    stale.write_text(REFERENCE.replace("Plugin API", "Plugin APl", 1), encoding="utf-8")
    monkeypatch.setattr(docgen, "REFERENCE", stale)
    assert docgen.main(["--check"]) == 1
    stale.write_text(docgen.render(), encoding="utf-8")
    assert docgen.main(["--check"]) == 0


@pytest.mark.parametrize("name", list(docgen.hook_specs()))
def test_every_hook_has_a_heading_with_its_signature_and_contract(name: str) -> None:
    func = docgen.hook_specs()[name]
    doc = inspect.cleandoc(func.__doc__ or "")
    assert len(re.findall(r"[.!?](?:\s|$)", doc)) >= 2, f"{name}: its docstring is its contract; say when it is " \
                                                        "called, what it gets and returns, what errors mean"
    heading = f"### `{docgen.hook_signature(name, func)}`"
    assert heading in REFERENCE, f"{heading} is not in {docgen.REFERENCE}"


@pytest.mark.parametrize("cls", [getattr(contracts, n) for n in docgen.CONTRACTS], ids=docgen.CONTRACTS)
def test_every_contract_method_is_documented(cls) -> None:
    assert inspect.getdoc(cls)
    for name, method in vars(cls).items():
        if inspect.isfunction(method) and getattr(method, "__isabstractmethod__", False):
            assert method.__doc__, f"{cls.__name__}.{name} has no docstring"
            assert f"`{cls.__name__}.{name}(" in REFERENCE


@pytest.mark.parametrize("suite", [testing.ErpConformance, testing.BankFormatConformance])
def test_every_conformance_check_states_its_rule(suite) -> None:
    checks = {n: f for n, f in vars(suite).items() if n.startswith("test_")}
    assert checks
    for name, check in checks.items():
        assert check.__doc__ and check.__doc__.strip().endswith("."), f"{suite.__name__}.{name}: state the rule"
        assert f"| `{name}` |" in REFERENCE


def test_reference_embeds_working_examples() -> None:
    assert docgen.EXAMPLE_BANK.read_text(encoding="utf-8").strip() in REFERENCE
    assert "class Myerp(ErpConnector):" in REFERENCE and 'CONCILIADOR_PLUGIN_API = "1"' in REFERENCE
