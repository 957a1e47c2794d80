"""The plugin API is versioned: a plugin declares the API it targets (CONCILIADOR_PLUGIN_API) and one
this conciliador cannot honour is refused at load, with a sentence naming the plugin, the declared
and the provided versions, never a traceback; the agent runs on without it. A plugin whose
register hook raises is left out the same way."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conciliador import PLUGIN_API_VERSION, __version__
from conciliador.pluginhost import ENTRY_POINT_GROUP, PluginHost, api_compatible
from conftest import cli, make_workspace

PLUGIN = '''\
from conciliador import BankFormat, hookimpl
{declaration}

class Format(BankFormat):
    name = "format-of-{name}"
    description = "test"

    def detect(self, head, filename):
        return 0.0

    def parse(self, stream, filename):
        return iter(())


@hookimpl
def conciliador_bank_formats():
    {body}
'''


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """An installed distribution NAME 1.0 whose module NAME is in the ``conciliador`` group."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    created: list[str] = []

    def make(name: str, api: object = None, body: str = "return [Format()]") -> Path:
        declaration = "" if api is None else f"CONCILIADOR_PLUGIN_API = {api!r}"
        (site / f"{name}.py").write_text(PLUGIN.format(declaration=declaration, name=name, body=body), encoding="utf-8")
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {name}\n", encoding="utf-8")
        created.append(name)
        importlib.invalidate_caches()
        return site

    yield make
    for name in created:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


@pytest.mark.parametrize(("declared", "ok"), [
    ("1", True), ("1.0", True), (1, True), (">=1,<3", True), (">=1.0", True), ("==1.0", True),
    ("2", False), ("1.1", False), ("0", False), ("<1", False), (">=2", False), ("!=1.0", False),
])
def test_declarations_against_api_1_0(declared: object, ok: bool) -> None:
    assert api_compatible(declared, "1.0") is ok


@pytest.mark.parametrize("declared", ["banana", "1.x", ">=1,,<2", "~1", True, 1.0, ["1"]])
def test_invalid_declarations_are_refused(declared: object) -> None:
    with pytest.raises(ValueError, match="CONCILIADOR_PLUGIN_API"):
        api_compatible(declared, "1.0")


def test_minor_versions_are_compatible_upwards() -> None:
    assert api_compatible("1.2", "1.3") and not api_compatible("1.4", "1.3") and not api_compatible("1", "2.0")


def test_compatible_plugin_loads_and_records_its_api(make_plugin) -> None:
    make_plugin("goodplug", "1")
    host = PluginHost().load()
    [info] = [i for i in host.infos if i.name == "goodplug"]
    assert info.api == "1"
    assert "format-of-goodplug" in [f.name for f in host.bank_formats()]
    assert host.errors == [] and host.warnings == []


def test_builtins_carry_the_core_api() -> None:
    host = PluginHost().load()
    assert {i.api for i in host.infos if i.source == "built-in"} == {PLUGIN_API_VERSION}


def test_incompatible_plugin_is_refused_with_a_sentence(make_plugin) -> None:
    make_plugin("futureplug", "2")

    host = PluginHost().load()

    assert "futureplug" not in {i.name for i in host.infos}
    assert "format-of-futureplug" not in [f.name for f in host.bank_formats()]
    [error] = host.errors
    assert error.startswith("Plugin futureplug (distribution futureplug 1.0) was not loaded")
    assert "plugin API '2'" in error and f"provides plugin API {PLUGIN_API_VERSION}" in error
    assert f"conciliador {__version__}" in error


def test_invalid_declaration_is_refused(make_plugin) -> None:
    make_plugin("oddplug", "next")
    host = PluginHost().load()
    assert "oddplug" not in {i.name for i in host.infos}
    assert any("oddplug" in e and "'next'" in e for e in host.errors), host.errors


def test_undeclared_plugin_loads_with_a_warning(make_plugin) -> None:
    make_plugin("oldplug")
    host = PluginHost().load()
    [info] = [i for i in host.infos if i.name == "oldplug"]
    assert info.api == ""
    [warning] = host.warnings
    assert "oldplug" in warning and 'CONCILIADOR_PLUGIN_API = "1"' in warning


def test_plugin_built_for_a_newer_core_gets_a_hint(make_plugin) -> None:
    site = make_plugin("newplug", "1")
    (site / "newplug.py").write_text("from conciliador.someday import Thing\n", encoding="utf-8")
    host = PluginHost().load()
    assert any("newplug" in e and "another plugin API" in e for e in host.errors), host.errors


def test_register_hook_that_raises_is_left_out(make_plugin) -> None:
    make_plugin("crashplug", "1", body="raise RuntimeError('license server unreachable')")
    host = PluginHost().load()
    names = [f.name for f in host.bank_formats()]
    assert "conciliador-csv" in names  # the others still count
    [error] = host.errors
    assert "crashplug" in error and "conciliador_bank_formats" in error and "license server unreachable" in error
    host.bank_formats()
    assert len(host.errors) == 1  # reported once, however often it is asked


def test_plugins_list_and_check_report_a_refused_plugin(make_plugin, tmp_path: Path) -> None:
    site = make_plugin("futureplug", ">=2,<3")
    env = {"PYTHONPATH": str(site)}

    listed = cli("plugins", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "futureplug" in listed.stderr and "'>=2,<3'" in listed.stderr and "Traceback" not in listed.stderr

    ws = make_workspace(tmp_path / "ws", invoices=1)
    checked = cli("check", "--config", str(ws.config), env=env)
    assert checked.returncode == 1 and "futureplug" in checked.stdout and "Traceback" not in checked.stderr


def test_agent_runs_on_without_the_refused_plugin(make_plugin, tmp_path: Path) -> None:
    site = make_plugin("futureplug", "2")
    ws = make_workspace(tmp_path / "ws", invoices=2)
    (ws.inbox / "e.csv").write_bytes(ws.statement("s", [(f"PAGO {r}", t) for _, r, _, t in ws.invoices]))

    result = cli("run", "--once", "--config", str(ws.config), env={"PYTHONPATH": str(site)})

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "plugin_refused" in result.stdout + result.stderr
    assert ws.query("SELECT status FROM files") == [("archived",)]
