"""``conciliador plugins new erp|bank NAME``: a ready-to-install plugin package.

The package works as generated: its entry point registers the plugin, it declares the plugin API
it targets, and its tests run the conformance kit against an example implementation (for an ERP,
a small JSON API and an emulator of it), so the vendor starts green and replaces the example with
their ERP's or bank's logic. Templates are package data in ``conciliador/scaffold_templates``:
``common/`` for every kind, then ``bank/`` or ``erp/``; ``__module__`` in a path becomes the
module's name and ``{{placeholders}}`` in a file are filled in; the ``.tmpl`` suffix is dropped.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import ConciliadorError
from .pluginhost import PLUGIN_API_VERSION

KINDS = {"bank": "bank format", "erp": "ERP connector"}
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


class ScaffoldError(ConciliadorError):
    """The package cannot be created; the message says why and what to do."""


def placeholders(kind: str, name: str) -> dict[str, str]:
    from . import __version__

    module = "conciliador_" + name.replace("-", "_")
    base = re.match(r"\d+(\.\d+)*", __version__)
    readme = resources.files("conciliador").joinpath("scaffold_templates", kind, "readme.md.tmpl").read_text("utf-8")
    values = {
        "kind": kind,
        "kind_text": KINDS[kind],
        "name": name,
        "dist": f"conciliador-{name}",
        "module": module,
        "class_name": "".join(part.capitalize() for part in name.split("-")),
        "api": PLUGIN_API_VERSION.split(".")[0],
        "conciliador_version": base.group(0) if base and __version__ != "0.0.0+unknown" else "0.1",
    }
    values["readme_kind"] = _fill(readme.rstrip("\n"), values)
    return values


def create(kind: str, name: str, directory: Path | None = None) -> Path:
    """Write the package for a ``kind`` ("bank" or "erp") plugin called ``name`` into ``directory``
    (default ``./conciliador-NAME``) and return that folder. Refuses a folder that is not empty."""
    if kind not in KINDS:
        raise ScaffoldError(f"The kind of plugin must be one of {', '.join(KINDS)}, not {kind!r}.")
    if not _NAME.match(name):
        raise ScaffoldError(f"{name!r} cannot be a plugin name: use lower-case letters, digits and single hyphens, "
                            "starting with a letter (e.g. 'banco-andino' or 'siesa').")
    target = Path(directory) if directory is not None else Path.cwd() / f"conciliador-{name}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty folder; choose another with --dir.")
    values = placeholders(kind, name)
    root = resources.files("conciliador").joinpath("scaffold_templates")
    files: dict[Path, str] = {}
    for part in ("common", kind):
        for source, relative in _walk(root.joinpath(part), Path()):
            if relative.name == "readme.md.tmpl":
                continue
            out = Path(*(values["module"] if p == "__module__" else p for p in relative.parts))
            files[_place(kind, out, values)] = _fill(source.read_text("utf-8"), values)
    for relative, text in sorted(files.items()):
        path = target / relative.with_name(relative.name.removesuffix(".tmpl"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def _place(kind: str, path: Path, values: dict[str, str]) -> Path:
    """Where a common template goes: the package's ``__init__``, tests' conftest, the root."""
    if path.name == "__init__.py.tmpl":
        return Path(values["module"]) / path.name
    if path.name == "conftest.py.tmpl":
        return Path("tests") / path.name
    return path


def _walk(node: Traversable, prefix: Path):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, prefix / child.name)
        elif child.name.endswith(".tmpl"):
            yield child, prefix / child.name


def _fill(text: str, values: dict[str, str]) -> str:
    def sub(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise ScaffoldError(f"template placeholder {{{{{key}}}}} is unknown")  # a bug in the templates
        return values[key]

    return re.sub(r"\{\{(\w+)\}\}", sub, text)


def next_steps(kind: str, target: Path) -> str:
    return (f"Created the {KINDS[kind]} package in {target}.\n"
            f"Next:\n  cd {target}\n  pip install -e '.[test]'\n  pytest\n"
            "Then replace the example logic in the plugin module (its docstring says what to change).")
