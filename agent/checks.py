"""``conciliador check``: the same load-and-validate path as ``run``, plus each connector's check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .config import load_config
from .errors import ConciliadorError
from .models import CheckResult
from .runtime import build_runtime, folder_problem
from .store import DB_FILENAME, SCHEMA_VERSION


def run_checks(config_path: Path | str | None) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        settings = load_config(config_path)
    except ConciliadorError as exc:
        return [CheckResult(name="configuration", ok=False, detail=str(exc))]
    results.append(CheckResult(name="configuration", ok=True, detail=str(settings.config_file)))
    if not settings.companies:
        results.append(CheckResult(name="companies", ok=False,
                                   detail="no [companies.NAME] table: the agent would have no ERP to post to"))
    try:
        runtime = build_runtime(settings, open_store=False)
    except ConciliadorError as exc:
        return results + [CheckResult(name="plugins and connectors", ok=False, detail=str(exc))]
    for problem in runtime.host.errors:
        results.append(CheckResult(name="plugins", ok=False, detail=problem))
    loaded = ", ".join(f"{i.name} {i.version}".strip() for i in runtime.host.infos)
    results.append(CheckResult(name="plugins", ok=True, detail=f"{loaded}; formats: {', '.join(f.name for f in runtime.formats)}"))

    for name, path in runtime.folders.items():
        problem = folder_problem(path)
        detail = str(path) if path.exists() else f"{path} (created at start)"
        results.append(CheckResult(name=f"folder {name}", ok=problem is None, detail=problem or detail))
    results.append(_store_check(runtime.folders["state"] / DB_FILENAME))

    for company, connector in runtime.connectors.items():
        try:
            for r in connector.check():
                results.append(r.model_copy(update={"name": f"{company}: {r.name}"}))
        except Exception as exc:
            results.append(CheckResult(name=f"{company}: {connector.name}", ok=False, detail=f"check failed: {exc}"))
        finally:
            connector.close()
    return results


def _store_check(path: Path) -> CheckResult:
    if not path.exists():
        return CheckResult(name="state store", ok=True, detail=f"{path} (created at start)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
            integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return CheckResult(name="state store", ok=False, detail=f"cannot read {path}: {exc}")
    if integrity != "ok":
        return CheckResult(name="state store", ok=False, detail=f"{path} is damaged: {integrity}")
    if version > SCHEMA_VERSION:
        return CheckResult(name="state store", ok=False,
                           detail=f"{path} is at schema {version}, newer than this version understands ({SCHEMA_VERSION})")
    return CheckResult(name="state store", ok=True, detail=f"{path} (schema {version} of {SCHEMA_VERSION})")
