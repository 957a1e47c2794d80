"""config.example.toml documents every setting, with its default, and loads as it is."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel

from conciliador.config import Settings, load_config
from conciliador.plugins.flatfile import FlatFileSettings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = field.alias or name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


def _commented_out(text: str) -> set[str]:
    """Settings shown commented out (optional ones without a default), as section.key."""
    found, section = set(), ""
    for line in text.splitlines():
        if line.startswith("[") and line.rstrip().endswith("]"):
            section = line.strip("[] \n")
        elif line.startswith("# ") and "=" in line:
            key = line[2:].split("=")[0].strip()
            if key and " " not in key:
                found.add(f"{section}.{key}" if section else key)
    return found


def test_every_setting_is_in_the_example():
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    present = set()
    for section, values in data.items():
        if isinstance(values, dict) and section != "companies":
            present |= {f"{section}.{k}" for k in values}
        elif section != "companies":
            present.add(section)
    present |= _commented_out(text)
    expected = _keys(Settings) - {"companies"}
    assert expected <= present, f"missing from config.example.toml: {sorted(expected - present)}"
    company = next(iter(data["companies"].values()))
    assert set(company) >= {"erp", "accounts", "currency", "erp_settings"}
    assert set(company["erp_settings"]) == set(FlatFileSettings.model_fields)


def test_example_defaults_are_the_real_defaults():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = Settings().model_dump(mode="json")
    for section in ("paths", "intake", "poster", "matching", "logging"):
        # Optional settings without a default (None) are shown commented out.
        assert data[section] == {k: v for k, v in defaults[section].items() if v is not None}, section
    assert data["language"] == defaults["language"]


def test_example_loads(tmp_path):
    config = tmp_path / "conciliador.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_config(config)
    assert settings.folders.inbox == tmp_path / "inbox"
    assert settings.company_for_account("0123 456789 01") == "demo"
