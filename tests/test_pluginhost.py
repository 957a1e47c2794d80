"""Tests for conciliador.pluginhost (PluginHost) and conciliador.hookspecs.

Third-party plugins are real distributions: a module plus a ``*.dist-info`` folder on sys.path,
found by importlib.metadata through the ``conciliador`` entry-point group exactly as a pip
install would be. The allowlist must act before the plugin's module is imported, because
importing runs the plugin's code; a marker file written at import time proves it did not run.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from conciliador import BankFormat, Posting, PostingKind, PostingResult, __version__, hookimpl, hookspecs
from conciliador.errors import ConfigError
from conciliador.pluginhost import ENTRY_POINT_GROUP, NOTIFICATION_HOOKS, PluginHost

DOCS_PLUGINS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"

FAKEPLUG = '''\
from pathlib import Path

from conciliador import BankFormat, hookimpl

# Importing this module is running third-party code: leave a trace the tests can look for.
with open(Path(__file__).with_name("imported.txt"), "a", encoding="utf-8") as marker:
    marker.write("{name} imported\\n")


class FakeFormat(BankFormat):
    name = "fake-format-{name}"

    def detect(self, head, filename):
        return 0.0

    def parse(self, stream, filename):
        return iter(())


@hookimpl
def conciliador_bank_formats():
    return [FakeFormat()]
'''


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Install a distribution ``name`` with module ``name`` in the ``conciliador`` group."""
    created: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(name: str = "fakeplug", version: str = "1.0", body: str | None = None) -> Path:
        module = tmp_path / f"{name}.py"
        module.write_text(body if body is not None else FAKEPLUG.format(name=name), encoding="utf-8")
        info = tmp_path / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {name}\n", encoding="utf-8")
        created.append(name)
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return module

    yield make
    # Each case must import the plugin afresh (or not at all): forget it between tests.
    for name in created:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def marker(tmp_path: Path) -> str:
    path = tmp_path / "imported.txt"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def info(host: PluginHost, name: str):
    found = [i for i in host.infos if i.name == name]
    assert found, f"{name} not loaded; loaded: {[i.name for i in host.infos]}, skipped: {host.skipped}"
    return found[0]


# -- built-ins --------------------------------------------------------------------------------


def test_builtins_load_as_plugins() -> None:
    host = PluginHost().load()

    by_name = {i.name: i for i in host.infos}
    assert {"simplecsv", "flatfile", "extractors"} <= set(by_name)
    assert by_name["simplecsv"].hooks == ("conciliador_bank_formats",)
    assert by_name["flatfile"].hooks == ("conciliador_erp_connectors",)
    assert by_name["extractors"].hooks == ("conciliador_matching_rules",)
    for name in ("simplecsv", "flatfile", "extractors"):
        assert by_name[name].source == "built-in"
        assert by_name[name].version == __version__
        assert by_name[name].path.endswith(".py")
    assert host.errors == []


def test_builtins_answer_typed_questions() -> None:
    host = PluginHost().load()
    assert "conciliador-csv" in [f.name for f in host.bank_formats()]
    assert "flatfile" in host.erp_connectors()
    assert "text-tokens" in [x.name for x in host.reference_extractors()]


def test_builtins_load_even_with_an_empty_allowlist() -> None:
    # plugins.allow restricts third-party code; the agent's own formats are always there.
    host = PluginHost(allow=[]).load()
    assert {"simplecsv", "flatfile", "extractors"} <= {i.name for i in host.infos}


# -- third-party distributions and the allowlist ----------------------------------------------


def test_distribution_loads_without_allowlist(tmp_path: Path, make_dist: Callable[..., Path]) -> None:
    module = make_dist()

    host = PluginHost(allow=None).load()

    fake = info(host, "fakeplug")
    assert fake.source == "distribution fakeplug"
    assert fake.version == "1.0"
    assert fake.hooks == ("conciliador_bank_formats",)
    assert Path(fake.path) == module
    assert marker(tmp_path) == "fakeplug imported\n"
    assert "fake-format-fakeplug" in [f.name for f in host.bank_formats()]


@pytest.mark.parametrize("allow", [[], ["other"], ["fakeplug==2.0"], ["fakeplugin"]])
def test_allowlist_acts_before_import(tmp_path: Path, make_dist: Callable[..., Path], allow: list[str]) -> None:
    make_dist()

    host = PluginHost(allow=allow).load()

    assert "fakeplug" not in {i.name for i in host.infos}
    assert marker(tmp_path) == "", "the plugin's module ran although plugins.allow excludes it"
    assert "fakeplug" not in sys.modules
    assert any(s.startswith("fakeplug (fakeplug 1.0)") for s in host.skipped), host.skipped
    assert "fake-format-fakeplug" not in [f.name for f in host.bank_formats()]


@pytest.mark.parametrize("allow", [["fakeplug==1.0"], ["fakeplug"], ["FakePlug"], ["other", " fakeplug == 1.0 "]])
def test_allowlist_admits_name_and_pinned_version(tmp_path: Path, make_dist: Callable[..., Path], allow: list[str]) -> None:
    make_dist()

    host = PluginHost(allow=allow).load()

    assert info(host, "fakeplug").version == "1.0"
    assert marker(tmp_path) == "fakeplug imported\n"
    assert host.skipped == []


def test_broken_distribution_is_reported_not_fatal(make_dist: Callable[..., Path]) -> None:
    make_dist("brokenplug", body="raise RuntimeError('broken on import')\n")

    host = PluginHost().load()

    assert "brokenplug" not in {i.name for i in host.infos}
    assert any("brokenplug" in e and "broken on import" in e for e in host.errors), host.errors
    assert "simplecsv" in {i.name for i in host.infos}


# -- plugins registered in code ---------------------------------------------------------------


class Format(BankFormat):
    description = "test format"

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]

    def detect(self, head: bytes, filename: str) -> float:
        return 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[Any]:
        return iter(())


class Formats:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def conciliador_bank_formats(self) -> list[BankFormat]:
        return [Format(n) for n in self.names]


class Misspelt:
    @hookimpl
    def conciliador_bank_format(self) -> list[BankFormat]:  # missing the final "s"
        return []


def test_misspelt_hook_is_a_config_error() -> None:
    # Without check_pending a typo would make the plugin silently do nothing.
    with pytest.raises(ConfigError, match="conciliador_bank_format"):
        PluginHost().load(extra=[("typo", Misspelt())])


def test_extra_plugin_is_listed() -> None:
    host = PluginHost().load(extra=[("mine", Formats("mine-format"))])
    mine = info(host, "mine")
    assert mine.source == "registered in code"
    assert mine.hooks == ("conciliador_bank_formats",)
    assert [f.name for f in host.bank_formats()] == sorted(f.name for f in host.bank_formats())
    assert "mine-format" in [f.name for f in host.bank_formats()]


def test_bank_format_name_clash_is_refused() -> None:
    host = PluginHost().load(extra=[("clasher", Formats("conciliador-csv"))])
    with pytest.raises(ConfigError, match="'conciliador-csv'") as exc_info:
        host.bank_formats()
    assert "clasher" in str(exc_info.value)


def test_bank_format_name_clash_names_both_plugins() -> None:
    # hookspecs.conciliador_bank_formats promises "a clash is refused at load with both plugins
    # named": the operator needs to know which two to choose between.
    host = PluginHost().load(extra=[("clasher", Formats("conciliador-csv"))])
    with pytest.raises(ConfigError) as exc_info:
        host.bank_formats()
    message = str(exc_info.value)
    assert "simplecsv" in message and "clasher" in message, message


def test_clash_within_one_plugin_is_refused() -> None:
    host = PluginHost().load(extra=[("twice", Formats("same", "same"))])
    with pytest.raises(ConfigError, match="'same'"):
        host.bank_formats()


def test_a_non_format_is_refused() -> None:
    class Wrong:
        @hookimpl
        def conciliador_bank_formats(self) -> list[Any]:
            return ["not a format"]

    host = PluginHost().load(extra=[("wrong", Wrong())])
    with pytest.raises(ConfigError, match="wrong"):
        host.bank_formats()


# -- notifications ----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def conciliador_posting_done(self, posting: Posting, result: PostingResult) -> None:
        self.calls.append((posting.key, result.document))


class Raiser:
    def __init__(self) -> None:
        self.called = False

    @hookimpl
    def conciliador_posting_done(self, posting: Posting) -> None:  # a subset of the arguments is fine
        self.called = True
        raise RuntimeError("notifier down")


def posting() -> Posting:
    return Posting(key="ABC123", company="acme", kind=PostingKind.APPLY, customer_id="C1", currency="COP",
                   amount="1500.00", value_date=dt.date(2026, 3, 2), bank_account="0123456789")


def test_notify_calls_every_implementation_when_one_raises() -> None:
    before, raiser, after = Recorder(), Raiser(), Recorder()
    host = PluginHost().load(extra=[("before", before), ("raiser", raiser), ("after", after)])

    host.notify("conciliador_posting_done", posting=posting(), result=PostingResult(key="ABC123", document="DZ-1"))

    assert raiser.called
    assert before.calls == [("ABC123", "DZ-1")]
    assert after.calls == [("ABC123", "DZ-1")]


def test_notify_refuses_register_hooks() -> None:
    host = PluginHost().load()
    with pytest.raises(ValueError, match="not a notification hook"):
        host.notify("conciliador_bank_formats")


# -- hook documentation (the datasette approach: the docs are tested) --------------------------


def hook_specs() -> dict[str, Any]:
    marker_attr = f"{hookspecs.PROJECT}_spec"
    return {name: f for name, f in vars(hookspecs).items() if callable(f) and hasattr(f, marker_attr)}


def test_hookspecs_are_the_expected_set() -> None:
    names = set(hook_specs())
    assert names == {
        "conciliador_bank_formats",
        "conciliador_bank_formats_from",
        "conciliador_erp_connectors",
        "conciliador_matching_rules",
        "conciliador_statement_parsed",
        "conciliador_posting_done",
        "conciliador_exception_raised",
    }
    assert NOTIFICATION_HOOKS <= names


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_has_a_contract_docstring(name: str) -> None:
    doc = textwrap.dedent(hook_specs()[name].__doc__ or "").strip()
    sentences = re.findall(r"[.!?](?:\s|$)", doc)
    assert len(sentences) >= 2, f"{name}: the docstring is its contract; write at least two sentences"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_is_documented_in_docs_plugins_md(name: str) -> None:
    assert DOCS_PLUGINS.is_file(), f"{DOCS_PLUGINS} is missing: plugin authors need every hook documented"
    assert name in DOCS_PLUGINS.read_text(encoding="utf-8"), f"{name} is not documented in {DOCS_PLUGINS}"
