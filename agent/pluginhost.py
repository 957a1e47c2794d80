"""The plugin host: built-ins plus entry points, with an allowlist applied before import.

A typed wrapper around :class:`pluggy.PluginManager` (the tox model): the rest of the core calls
:meth:`PluginHost.bank_formats` and friends, never ``pm.hook`` directly.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
import structlog

from . import hookspecs
from .contracts import BankFormat, ErpConnector, ReferenceExtractor
from .errors import ConfigError

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "conciliador"

# Module names, not imports: the core never imports a plugin by name in code, and each built-in
# goes through the same registration as a third-party plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "conciliador.plugins.banks.simplecsv",
    "conciliador.plugins.flatfile",
    "conciliador.matching.extractors",
)

NOTIFICATION_HOOKS = frozenset(
    {"conciliador_statement_parsed", "conciliador_posting_done", "conciliador_exception_raised"}
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    source: str  # "built-in" or "distribution NAME"
    hooks: tuple[str, ...]
    path: str = ""


@dataclass
class PluginHost:
    """Loads plugins once per configuration and answers typed questions about them."""

    allow: list[str] | None = None
    pm: pluggy.PluginManager = field(init=False)
    infos: list[PluginInfo] = field(default_factory=list, init=False)
    skipped: list[str] = field(default_factory=list, init=False)
    errors: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------------------------
    def load(self, extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
        """Register built-ins, allowed entry points and ``extra`` (name, plugin) pairs."""
        from . import __version__

        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self._register(module, module_name.rsplit(".", 1)[-1], __version__, "built-in")
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            self._load_entry_point(ep)
        for name, plugin in extra:
            self._register(plugin, name, "", "registered in code")
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
            self.errors.append(f"plugin {ep.name} from {dist} {version} failed to load: {exc!r}")
            log.error("plugin_load_failed", plugin=ep.name, distribution=dist, error=repr(exc))
            return
        self._register(plugin, ep.name, version, f"distribution {dist}")

    def _allowed(self, dist: str, version: str) -> bool:
        if self.allow is None:
            return True
        for entry in self.allow:
            name, _, pinned = entry.partition("==")
            if _norm(name) == _norm(dist) and (not pinned or pinned.strip() == version):
                return True
        return False

    def _register(self, plugin: Any, name: str, version: str, source: str) -> None:
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
        self.infos.append(PluginInfo(name, version, source, hooks, path or ""))
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

    def reference_extractors(self) -> list[ReferenceExtractor]:
        extractors = [x for _, items in self._collect("conciliador_matching_rules") for x in items]
        for x in extractors:
            if not isinstance(x, ReferenceExtractor):
                raise ConfigError(f"A matching-rules plugin returned {x!r}, which is not a ReferenceExtractor.")
        return sorted(extractors, key=lambda x: x.name)

    def _collect(self, hook_name: str) -> list[tuple[str, list[Any]]]:
        out = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            out.append((impl.plugin_name, list(impl.function() or ())))
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


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")
