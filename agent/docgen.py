"""Generates docs/plugin-reference.md from the code a plugin author relies on: the hookspecs'
docstrings, the contract classes, the errors, the public models' field descriptions, the plugin
API version rules and the conformance kit's checks. The examples in it are the example package's
real source and the ERP scaffold's, both tested.

    python -m conciliador.docgen           # rewrite docs/plugin-reference.md
    python -m conciliador.docgen --check   # exit 1 when the committed file is stale

tests/test_sdk_docs.py fails when the committed reference differs from what this renders, or when
a hook, contract method or conformance check has no docstring.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import contracts, errors, hookspecs, models, pluginhost

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "plugin-reference.md"
EXAMPLE_BANK = ROOT / "examples" / "fixedwidth-bank" / "conciliador_fixedwidth" / "plugin.py"

CONTRACTS = ("BankFormat", "ErpConnector", "ConnectorSettings", "ReferenceExtractor")
ERRORS = ("ConciliadorError", "StatementError", "ConnectorError", "RetryableError", "PermanentError", "ConfigError")
IF_IT_RAISES = {
    "register": ("the plugin's contribution is left out (the others still count), and the error is listed by "
                 "`conciliador check` and `conciliador plugins list`; a company whose connector it was stops "
                 "start-up with a configuration error."),
    "notification": "the error is logged and the other implementations still run; the pipeline is not affected.",
}


def hook_specs() -> dict[str, Any]:
    """Every hookspec, in the order of hookspecs.py."""
    marker = f"{hookspecs.PROJECT}_spec"
    found = {name: f for name, f in vars(hookspecs).items() if callable(f) and hasattr(f, marker)}
    return dict(sorted(found.items(), key=lambda kv: kv[1].__code__.co_firstlineno))


def hook_signature(name: str, func: Any) -> str:
    sig = inspect.signature(func)
    params = ", ".join(p.name for p in sig.parameters.values())
    return f"{name}({params})"


def _typed_signature(func: Any, skip_self: bool = False) -> str:
    sig = inspect.signature(func)
    params = []
    for p in sig.parameters.values():
        if skip_self and p.name == "self":
            continue
        text = p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {_clean(p.annotation)}"
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not any(x.startswith("*") for x in params):
            params.append("*")
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    ret = "" if sig.return_annotation is inspect.Signature.empty else f" -> {_clean(sig.return_annotation)}"
    return f"({', '.join(params)}){ret}"


def _type_text(annotation: Any) -> str:
    """A type as a person writes it: ``Decimal | None``, ``tuple[Application, ...]``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_text(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        return f"{name}[{', '.join(_type_text(a) for a in args)}]"
    if annotation is Ellipsis:
        return "..."
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", None) or _clean(annotation)


def _clean(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or repr(annotation)
    if not isinstance(annotation, str) and typing.get_origin(annotation) is not None:
        text = repr(annotation)
    text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
    text = re.sub(r"\b(?:typing|datetime|decimal|collections\.abc|conciliador\.[\w.]+|pydantic\.[\w.]+)\.", "", text)
    return text.replace("NoneType", "None")


def _doc(obj: Any) -> str:
    return _md(inspect.cleandoc(obj.__doc__ or "").strip())


def _md(text: str) -> str:
    """The reST of docstrings as Markdown: roles and literals as code, ``::`` blocks indented."""
    text = re.sub(r":\w+:`~[\w.]*?(\w+)`", r"`\1`", text)
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return re.sub(r"::$", ":", text, flags=re.M)


def _attribute_comments(cls: type) -> list[tuple[str, str]]:
    """``#:`` comments on class attributes, as Sphinx reads them."""
    out, pending = [], []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
        elif pending and (m := re.match(r"(\w+)\s*:", stripped)):
            out.append((m.group(1), " ".join(pending)))
            pending = []
        else:
            pending = []
    return out


def _section_of(docstring: str, title: str) -> str:
    """The text under a reST heading ``title`` (underlined with dashes) in a module docstring."""
    match = re.search(rf"^{re.escape(title)}\n-+\n(.*?)(?=^\S.*\n-+\n|\Z)", docstring, re.S | re.M)
    return match.group(1).strip() if match else ""


def render_hooks() -> list[str]:
    out = ["## Hooks", "", _doc(hookspecs).split("\n\n", 1)[1], ""]
    for name, func in hook_specs().items():
        kind = "notification" if name in pluginhost.NOTIFICATION_HOOKS else "register"
        out += [f"### `{hook_signature(name, func)}`", "",
                f"*{kind.capitalize()} hook.* Full signature: `{name}{_typed_signature(func)}`", "", _doc(func), ""]
        if not re.search(r"\bRaise\b", _doc(func)):  # a hook whose contract says what raising means keeps it
            out += [f"**If it raises:** {IF_IT_RAISES[kind]}", ""]
    return out


def render_contracts() -> list[str]:
    out = ["## Classes a plugin implements", "", _doc(contracts), ""]
    for name in CONTRACTS:
        cls = getattr(contracts, name)
        out += [f"### `{name}`", "", _doc(cls), ""]
        attributes = _attribute_comments(cls)
        if attributes:
            out += ["| attribute | meaning |", "|---|---|"]
            out += [f"| `{attr}` | {text} |" for attr, text in attributes]
            out.append("")
        for method_name, method in cls.__dict__.items():
            if method_name.startswith("_") and method_name != "__init__" or not inspect.isfunction(method):
                continue
            required = " *(required)*" if getattr(method, "__isabstractmethod__", False) else ""
            doc = _doc(method) or "Called by the core as described in the class."
            out += [f"#### `{name}.{method_name}{_typed_signature(method, skip_self=True)}`{required}", "", doc, ""]
    return out


def render_errors() -> list[str]:
    out = ["## Errors", "", _doc(errors), ""]
    for name in ERRORS:
        cls = getattr(errors, name)
        base = cls.__bases__[0].__name__
        out += [f"### `{name}` ({base})", "", _doc(cls), ""]
    return out


def _field_rows(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for field_name, info in model.model_fields.items():
        if info.is_required():
            default = "required"
        elif info.default_factory is not None:
            default = f"`{info.default_factory()!r}`"
        elif info.default is PydanticUndefined:
            default = ""
        else:
            default = f"`{info.default!r}`"
        constraints = [str(m) for m in info.metadata if not hasattr(m, "func")]
        description = (info.description or "").replace("|", "\\|")
        if constraints:
            description = (description + " " if description else "") + f"({', '.join(constraints)})"
        type_text = _type_text(info.annotation).replace("|", "\\|")  # a bare | would end the table cell
        rows.append(f"| `{field_name}` | `{type_text}` | {default} | {description} |")
    return rows


def render_models() -> list[str]:
    out = ["## Models", "", _doc(models), ""]
    for name in models.__all__:
        obj = getattr(models, name)
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            out += [f"### `{name}`", "", _doc(obj), "", *_field_rows(obj), ""]
        elif isinstance(obj, type) and issubclass(obj, str):
            out += [f"### `{name}`", "", _doc(obj) or "One of:", "", ", ".join(f"`{m.value}`" for m in obj), ""]
    return out


def render_kit() -> list[str]:
    from . import testing

    out = ["## The conformance kit (`conciliador.testing`)", "", _doc(testing), ""]
    for cls in (testing.ErpTestSystem, testing.SeedData, testing.LostResponse, testing.BankFormatCase,
                testing.BankSample, testing.BadSample):
        out += [f"### `{cls.__name__}`", "", _doc(cls), ""]
        if cls is testing.ErpTestSystem:
            for attr, text in _attribute_comments(cls):
                out.append(f"- `{attr}`: {text}")
            out.append("")
            for method_name, method in cls.__dict__.items():
                if not method_name.startswith("_") and inspect.isfunction(method):
                    required = " *(required)*" if getattr(method, "__isabstractmethod__", False) else ""
                    out += [f"- `{method_name}{_typed_signature(method, skip_self=True)}`{required}: "
                            + " ".join(_doc(method).split()), ""]
    out += ["### `load_samples(folder)`", "", _doc(testing.load_samples), ""]
    out += ["### Foreign samples", "",
            "`FOREIGN_SAMPLES`, which a bank format must score 0.0 unless `BankFormatCase.claims` names them: "
            + ", ".join(f"`{n}`" for n in testing.FOREIGN_SAMPLES) + ".", ""]
    for suite in (testing.ErpConformance, testing.BankFormatConformance):
        out += [f"### Checks of `{suite.__name__}`", "", _doc(suite), "", "| check | rule |", "|---|---|"]
        for name, test in suite.__dict__.items():
            if name.startswith("test_"):
                out.append(f"| `{name}` | {' '.join(_doc(test).split())} |")
        out.append("")
    return out


def render_examples() -> list[str]:
    from .scaffold import _fill, placeholders

    root = Path(__file__).parent / "scaffold_templates" / "erp" / "__module__"
    values = placeholders("erp", "myerp")
    erp = _fill((root / "plugin.py.tmpl").read_text(encoding="utf-8"), values)
    client = _fill((root / "client.py.tmpl").read_text(encoding="utf-8"), values)
    return [
        "## Complete examples", "",
        "### A bank format", "",
        "`examples/fixedwidth-bank/conciliador_fixedwidth/plugin.py`, the example package (installed and "
        "tested in CI, with its conformance tests in `examples/fixedwidth-bank/tests`):", "",
        "```python", EXAMPLE_BANK.read_text(encoding="utf-8").rstrip(), "```", "",
        "### An ERP connector", "",
        "What `conciliador plugins new erp myerp` generates (with `tests/emulator.py` and "
        "`tests/test_conformance.py`, which run the kit against it): the connector,", "",
        "```python", erp.rstrip(), "```", "",
        "and the ERP API client it maps from:", "",
        "```python", client.rstrip(), "```", "",
    ]


def render() -> str:
    lines = [
        "# Plugin reference",
        "",
        "<!-- Generated by `python -m conciliador.docgen` from agent/hookspecs.py, contracts.py, errors.py, "
        "models.py, pluginhost.py and testing.py. Do not edit: change the docstrings and regenerate. -->",
        "",
        f"Plugin API **{pluginhost.PLUGIN_API_VERSION}**. The guide is [plugins.md](plugins.md); this page is "
        "the reference.",
        "",
        "## Plugin API versions",
        "",
        _md(_section_of(pluginhost.__doc__ or "", "Plugin API versions")),
        "",
        *render_hooks(),
        *render_contracts(),
        *render_errors(),
        *render_models(),
        *render_kit(),
    ]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip()
    return text + "\n\n" + "\n".join(render_examples()).rstrip() + "\n"  # the examples' source verbatim


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        if not REFERENCE.exists() or REFERENCE.read_text(encoding="utf-8") != text:
            print(f"{REFERENCE} is stale: run python -m conciliador.docgen", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m conciliador.docgen [--check]", file=sys.stderr)
        return 2
    REFERENCE.write_text(text, encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
