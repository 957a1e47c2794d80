"""Everything a configuration turns into: plugins, formats, connectors, folders, the store.

:func:`build_runtime` is shared by ``run``, ``check`` and reload, so what ``check`` accepts is
exactly what ``run`` starts with.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .config import Settings, explain_error
from .contracts import BankFormat, ErpConnector, ReferenceExtractor
from .errors import ConfigError
from .pluginhost import PluginHost
from .store import Database


@dataclass
class Runtime:
    settings: Settings
    host: PluginHost
    formats: list[BankFormat]
    extractors: list[ReferenceExtractor]
    connectors: dict[str, ErpConnector]
    db: Database | None = None
    folders: dict[str, Path] = field(default_factory=dict)

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        if self.db is not None:
            self.db.close()


def build_runtime(settings: Settings, *, open_store: bool = True, host: PluginHost | None = None) -> Runtime:
    """Load plugins, build one connector per company and, with ``open_store``, create folders and
    open (and migrate) the state store. Raises :class:`ConfigError` on anything unusable."""
    host = host or PluginHost(allow=settings.plugins.allow).load()
    classes = host.erp_connectors()
    connectors: dict[str, ErpConnector] = {}
    for name, company in settings.companies.items():
        cls = classes.get(company.erp)
        if cls is None:
            refused = "".join(f" {e}." for e in host.errors)
            raise ConfigError(
                f"Setting companies.{name}.erp = {company.erp!r} names no installed ERP connector; "
                f"installed: {', '.join(sorted(classes)) or 'none'}.{refused}"
            )
        try:
            conn_settings = cls.Settings.model_validate(company.settings, context={"base_dir": settings.base_dir})
        except ValidationError as exc:
            raise ConfigError("\n".join(
                explain_error(f"companies.{name}.erp_settings." + ".".join(map(str, e["loc"])), e, settings.config_file)
                for e in exc.errors(include_url=False)
            )) from None
        try:
            connectors[name] = cls(conn_settings, company=name)
        except Exception as exc:  # a connector that cannot even be built is a start-up error, in words
            raise ConfigError(f"The ERP connector {company.erp!r} of company {name!r} could not start: {exc}") from exc
    runtime = Runtime(settings, host, _formats(settings, host), host.reference_extractors(), connectors,
                      folders=settings.folders.folders())
    if open_store:
        for path in runtime.folders.values():
            path.mkdir(parents=True, exist_ok=True)
        runtime.db = Database.open(runtime.folders["state"])
    return runtime


def _formats(settings: Settings, host: PluginHost) -> list[BankFormat]:
    """The plugins' bank formats plus the user's bank-export profiles (intake.bank_profiles)."""
    formats = host.bank_formats()
    folder = settings.intake.bank_profiles
    if folder is None:
        return formats
    folder = folder if folder.is_absolute() else settings.base_dir / folder
    if not folder.is_dir():
        raise ConfigError(f"Setting intake.bank_profiles = {str(folder)!r} is not a folder; create it or remove the setting.")
    taken = {f.name for f in formats}
    for fmt in host.bank_formats_from(folder):
        if fmt.name in taken:
            raise ConfigError(f"The bank profile {fmt.name!r} in {folder} has the name of an installed format; "
                              "rename it (its 'name' key).")
        formats.append(fmt)
    return formats


def folder_problem(path: Path) -> str | None:
    """Why the agent could not use ``path`` as a working folder, or None if it can.

    Writability is probed by creating a file, because permission bits lie (ACLs, read-only
    mounts, network shares, root).
    """
    if path.exists():
        if not path.is_dir():
            return f"{path} exists but is not a folder"
        try:
            fd, probe = tempfile.mkstemp(dir=path, prefix=".conciliador-probe-")
        except OSError as exc:
            return f"cannot write in {path}: {exc.strerror}"
        os.close(fd)
        os.unlink(probe)
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    problem = folder_problem(parent)
    return f"{path} does not exist and cannot be created: {problem}" if problem else None
