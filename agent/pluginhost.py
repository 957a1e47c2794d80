"""The plugin host: built-ins plus entry points, with an allowlist applied before import.

A typed wrapper around :class:`pluggy.PluginManager` (the tox model): the rest of the core calls
:meth:`PluginHost.bank_formats` and friends, never ``pm.hook`` directly.

Plugin API versions
-------------------
The plugin API (the hooks in :mod:`conciliador.hookspecs`, the classes in
:mod:`conciliador.contracts`, the models and errors they exchange) carries a version,
:data:`PLUGIN_API_VERSION`, ``MAJOR.MINOR``. MINOR grows when something is added in a compatible
way (a new hook, a new optional field); MAJOR grows when something a plugin relies on is removed or
changed. A plugin module declares the API it was written for::

    CONCILIADOR_PLUGIN_API = "1"          # any 1.x
    CONCILIADOR_PLUGIN_API = "1.2"        # 1.2 or a later 1.x (it uses something added in 1.2)
    CONCILIADOR_PLUGIN_API = ">=1,<3"     # a range, when it is known to work with 1.x and 2.x

A plugin whose declaration this conciliador does not satisfy is refused at load: it is not
imported further, not registered, and :attr:`PluginHost.errors` holds one sentence naming the
plugin, the version it declares and the version this conciliador provides. The agent never meets
it mid-run. A third-party plugin that declares nothing is taken as written for API 1 (the first
versioned API) and a warning is logged; built-in plugins ship with the core and always match.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import structlog

from . import hookspecs
from .contracts import BankFormat, ErpConnector, ReferenceExtractor
from .errors import ConfigError

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "conciliador"

PLUGIN_API_VERSION = "1.3"  # 1.1 added conciliador_bank_formats_from; 1.2 posting steps and reverse(); 1.3 detect_file(), ErpConnector.in_doubt_seconds
"""The plugin API this conciliador provides, ``MAJOR.MINOR`` (see the module docstring)."""

API_ATTRIBUTE = "CONCILIADOR_PLUGIN_API"
"""The module attribute in which a plugin declares the plugin API it targets."""

_PLAIN_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$")
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+)(?:\.(\d+))?\s*$")

# Module names, not imports: the core never imports a plugin by name in code, and each built-in
# goes through the same registration as a third-party plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "conciliador.plugins.banks.simplecsv",
    "conciliador.plugins.banks.camt",
    "conciliador.plugins.banks.mt940",
    "conciliador.plugins.banks.bai2",
    "conciliador.plugins.banks.ofx",
    "conciliador.plugins.banks.asobancaria",
    "conciliador.plugins.banks.profiles",
    "conciliador.plugins.flatfile",
    "conciliador.plugins.sap",
    "conciliador.matching.extractors",
)

NOTIFICATION_HOOKS = frozenset(
    {"conciliador_statement_parsed", "conciliador_posting_done", "conciliador_exception_raised"}
)


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def api_compatible(declared: object, provided: str = PLUGIN_API_VERSION) -> bool:
    """Whether a plugin declaring ``declared`` (see the module docstring) works with ``provided``.

    Raises :class:`ValueError` with a sentence when ``declared`` is not a valid declaration.
    """
    if isinstance(declared, bool) or not isinstance(declared, (str, int)):
        raise ValueError(f"{API_ATTRIBUTE} must be a string such as \"1\", \"1.2\" or \">=1,<3\", not {declared!r}")
    text = str(declared)
    have = _version_tuple(provided)
    if plain := _PLAIN_VERSION.match(text):
        major, minor = int(plain.group(1)), int(plain.group(2) or 0)
        return have[0] == major and have[1] >= minor
    clauses = text.split(",")
    results = []
    for clause in clauses:
        m = _CLAUSE.match(clause)
        if m is None:
            raise ValueError(f"{API_ATTRIBUTE} = {text!r} is not a version (\"1\", \"1.2\") or a range "
                             f"(\">=1,<3\"): cannot read {clause.strip()!r}")
        op, want = m.group(1), (int(m.group(2)), int(m.group(3) or 0))
        results.append({">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want,
                        "==": have == want, "!=": have != want}[op])
    return all(results)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    source: str  # "built-in", "distribution NAME" or "registered in code"
    hooks: tuple[str, ...]
    path: str = ""
    api: str = ""  # the plugin API it declares; PLUGIN_API_VERSION for built-ins, "" when undeclared


@dataclass
class PluginHost:
    """Loads plugins once per configuration and answers typed questions about them."""

    allow: list[str] | None = None
    pm: pluggy.PluginManager = field(init=False)
    infos: list[PluginInfo] = field(default_factory=list, init=False)
    skipped: list[str] = field(default_factory=list, init=False)
    errors: list[str] = field(default_factory=list, init=False)
    warnings: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------------------------
    def load(self, extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
        """Register built-ins, allowed entry points and ``extra`` (name, plugin) pairs."""
        from . import __version__

        for module_name in DEFAULT_PLUGINS:
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # one broken built-in must not take the others down with it
                self.errors.append(f"built-in plugin {module_name} failed to load: {exc!r}")
                log.error("plugin_load_failed", plugin=module_name, source="built-in", error=repr(exc))
                continue
            self._register(module, module_name.rsplit(".", 1)[-1], __version__, "built-in", PLUGIN_API_VERSION)
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            self._load_entry_point(ep)
        for name, plugin in extra:
            api = self._api_of(plugin, name, "", "registered in code", warn=False)
            if api is not None:
                self._register(plugin, name, "", "registered in code", api)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"A plugin implements a hook that does not exist: {exc}") from exc
        return self

    def _load_entry_point(self, ep: md.EntryPoint) -> None:
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        # The allowlist must act before ep.load(): importing a plugin runs its code.
        if not self._allowed(dist, version):
            self.skipped.append(f"{ep.name} ({dist} {version}): not in plugins.allow")
            log.info("plugin_skipped", plugin=ep.name, distribution=dist, version=version)
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the agent down with it
            hint = ""
            if isinstance(exc, ImportError) and (exc.name or "").startswith("conciliador"):
                hint = (f" It may have been written for another plugin API than this conciliador's "
                        f"{PLUGIN_API_VERSION}.")
            self.errors.append(f"plugin {ep.name} from {dist} {version} failed to load: {exc!r}.{hint}")
            log.error("plugin_load_failed", plugin=ep.name, distribution=dist, error=repr(exc))
            return
        api = self._api_of(plugin, ep.name, version, f"distribution {dist}", warn=True)
        if api is not None:
            self._register(plugin, ep.name, version, f"distribution {dist}", api)

    def _api_of(self, plugin: Any, name: str, version: str, source: str, *, warn: bool) -> str | None:
        """The plugin API ``plugin`` declares ("" if none), or None when it is refused."""
        from . import __version__

        declared = getattr(plugin, API_ATTRIBUTE, None)
        who = f"Plugin {name} ({source}{' ' + version if version else ''})"
        if declared is None:
            if warn:
                message = (f"{who} does not declare {API_ATTRIBUTE}; it is taken as written for plugin API 1. "
                           f"Its vendor should add {API_ATTRIBUTE} = \"1\" to the plugin module.")
                self.warnings.append(message)
                log.warning("plugin_api_undeclared", plugin=name, source=source, version=version)
            return ""
        try:
            ok = api_compatible(declared)
        except ValueError as exc:
            self._refuse(name, source, version, f"{who} was not loaded: {exc}.")
            return None
        if not ok:
            self._refuse(name, source, version,
                         f"{who} was not loaded: it declares plugin API {declared!r} ({API_ATTRIBUTE}), but this "
                         f"conciliador {__version__} provides plugin API {PLUGIN_API_VERSION}. Install a release "
                         f"of the plugin written for plugin API {PLUGIN_API_VERSION.split('.')[0]}, or a "
                         f"conciliador whose plugin API it supports.")
            return None
        return str(declared)

    def _refuse(self, name: str, source: str, version: str, message: str) -> None:
        self.errors.append(message)
        log.error("plugin_refused", plugin=name, source=source, version=version, reason=message)

    def _allowed(self, dist: str, version: str) -> bool:
        if self.allow is None:
            return True
        for entry in self.allow:
            name, _, pinned = entry.partition("==")
            if _norm(name) == _norm(dist) and (not pinned or pinned.strip() == version):
                return True
        return False

    def _register(self, plugin: Any, name: str, version: str, source: str, api: str = "") -> None:
        if self.pm.is_registered(plugin) or self.pm.get_plugin(name) is not None:
            return
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self.errors.append(f"plugin {name} ({source}) is invalid: {exc}")
            log.error("plugin_invalid", plugin=name, source=source, error=str(exc))
            return
        hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or ()))
        path = getattr(plugin, "__file__", "") if isinstance(plugin, ModuleType) else ""
        self.infos.append(PluginInfo(name, version, source, hooks, path or "", api))
        log.debug("plugin_loaded", plugin=name, version=version, source=source, path=path)

    # -- typed calls -----------------------------------------------------------------------
    def bank_formats(self) -> list[BankFormat]:
        formats: dict[str, BankFormat] = {}
        owners: dict[str, str] = {}
        for plugin_name, items in self._collect("conciliador_bank_formats"):
            for fmt in items:
                if not isinstance(fmt, BankFormat):
                    raise ConfigError(f"Plugin {plugin_name} returned {fmt!r}, which is not a BankFormat.")
                if fmt.name in formats:
                    raise ConfigError(
                        f"Plugins {owners[fmt.name]} and {plugin_name} both define the bank format "
                        f"{fmt.name!r}. Uninstall one, or leave it out of plugins.allow."
                    )
                formats[fmt.name] = fmt
                owners[fmt.name] = plugin_name
        return [formats[k] for k in sorted(formats)]

    def erp_connectors(self) -> dict[str, type[ErpConnector]]:
        connectors: dict[str, type[ErpConnector]] = {}
        owners: dict[str, str] = {}
        for plugin_name, items in self._collect("conciliador_erp_connectors"):
            for cls in items:
                if not (isinstance(cls, type) and issubclass(cls, ErpConnector)):
                    raise ConfigError(f"Plugin {plugin_name} returned {cls!r}, which is not an ErpConnector class.")
                if cls.name in connectors:
                    raise ConfigError(f"Plugins {owners[cls.name]} and {plugin_name} both define the ERP connector "
                                      f"{cls.name!r}. Uninstall one, or leave it out of plugins.allow.")
                connectors[cls.name] = cls
                owners[cls.name] = plugin_name
        return connectors

    def bank_formats_from(self, folder: Path) -> list[BankFormat]:
        """Formats that plugins read from the data files in ``folder`` (bank-export profiles)."""
        formats = []
        for impl in self.pm.hook.conciliador_bank_formats_from.get_hookimpls():
            try:
                found = list(impl.function(folder=folder) or ())
            except ConfigError:
                raise  # the contract: a file that cannot be used, named by the plugin
            except Exception as exc:
                raise ConfigError(f"Plugin {impl.plugin_name} failed reading the bank formats in {folder}: {exc!r}") from exc
            for fmt in found:
                if not isinstance(fmt, BankFormat):
                    raise ConfigError(f"Plugin {impl.plugin_name} returned {fmt!r}, which is not a BankFormat.")
                formats.append(fmt)
        return formats

    def reference_extractors(self) -> list[ReferenceExtractor]:
        extractors = []
        for plugin_name, items in self._collect("conciliador_matching_rules"):
            for x in items:
                if not isinstance(x, ReferenceExtractor):
                    raise ConfigError(f"A matching-rules plugin returned {x!r}, which is not a ReferenceExtractor.")
                extractors.append(_IsolatedExtractor(x, plugin_name))
        return sorted(extractors, key=lambda x: x.name)

    def providers(self, hook_name: str) -> dict[str, str]:
        """Name of each bank format, connector or extractor a register hook returns -> plugin name."""
        return {getattr(item, "name", repr(item)): plugin for plugin, items in self._collect(hook_name) for item in items}

    def _collect(self, hook_name: str) -> list[tuple[str, list[Any]]]:
        """Each implementation of a register hook, called on its own: one that raises is left out,
        with a sentence in :attr:`errors`, and the others still count."""
        out = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                out.append((impl.plugin_name, list(impl.function() or ())))
            except Exception as exc:
                message = (f"plugin {impl.plugin_name} failed in {hook_name}: {exc!r}; what it provides "
                           f"is not available. Report it to the plugin's vendor.")
                if message not in self.errors:
                    self.errors.append(message)
                    log.error("plugin_hook_failed", plugin=impl.plugin_name, hook=hook_name, error=repr(exc))
        return out

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call each implementation of a notification hook on its own, so one failure skips none."""
        if hook_name not in NOTIFICATION_HOOKS:
            raise ValueError(f"{hook_name} is not a notification hook")
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                log.warning("notifier_failed", hook=hook_name, plugin=impl.plugin_name, error=repr(exc))


class _IsolatedExtractor(ReferenceExtractor):
    """A plugin's extractor, as the engine gets it: one that raises finds nothing in that line (the
    line goes to finance unless another rule matches it) instead of stopping its company's
    matching round after round. The first failure is logged with its traceback, later ones counted."""

    def __init__(self, inner: ReferenceExtractor, plugin: str) -> None:
        self.inner, self.plugin, self.failures = inner, plugin, 0
        self.name = inner.name  # type: ignore[misc]

    def extract(self, line):  # type: ignore[override]
        try:
            return list(self.inner.extract(line))
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.exception("matching_rule_failed", rule=self.name, plugin=self.plugin, line=line.position)
            return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")
