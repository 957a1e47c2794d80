"""Tests for conciliador.config: the TOML file, CONCILIADOR__* overrides, error messages, secrets.

Every test writes a real TOML file in tmp_path and goes through load_config, the one entry point
that ``run``, ``check`` and reload share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from conciliador.config import (
    CONFIG_ENV,
    ENV_PREFIX,
    Secret,
    Settings,
    default_config_path,
    explain_error,
    load_config,
)
from conciliador.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CONCILIADOR__* variable left in the developer's shell would silently change what the
    # file says; every test starts from an environment without them.
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX) or name == CONFIG_ENV:
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "conciliador.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- loading and defaults ---------------------------------------------------------------------


def test_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, 'language = "en"\n'))

    assert isinstance(settings, Settings)
    assert settings.language == "en"
    assert settings.intake.stable_seconds == 2.0
    assert settings.poster.max_attempts == 5
    assert settings.logging.level == "info"
    assert settings.plugins.allow is None
    assert settings.companies == {}
    assert settings.config_file == (tmp_path / "conciliador.toml").resolve()


def test_empty_file_is_a_valid_configuration(tmp_path: Path) -> None:
    # Every key has a default, so an empty file must load (language defaults to Spanish).
    assert load_config(write(tmp_path, "")).language == "es"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    path = write(config_dir, '[paths]\ninbox = "in"\narchive = "../data/archive"\nstate = "/var/lib/x"\n')
    # Run from somewhere else: the service's working directory must not matter.
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    folders = load_config(path).folders

    assert folders.inbox == (config_dir / "in").resolve()
    assert folders.archive == (tmp_path / "data" / "archive").resolve()
    assert folders.state == Path("/var/lib/x").resolve()
    # Keys not in the file keep their default name, still under the config folder.
    assert folders.quarantine == (config_dir / "quarantine").resolve()
    assert set(folders.folders()) == {"inbox", "archive", "quarantine", "exceptions", "resolutions", "state", "reports"}


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "")
    monkeypatch.chdir(tmp_path)
    settings = load_config("conciliador.toml")
    assert settings.config_file == (tmp_path / "conciliador.toml").resolve()
    assert settings.folders.inbox == (tmp_path / "inbox").resolve()


def test_env_var_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[intake]\nstable_seconds = 3\nmax_file_mb = 10\n")
    monkeypatch.setenv("CONCILIADOR__INTAKE__STABLE_SECONDS", "7")

    settings = load_config(path)

    assert settings.intake.stable_seconds == 7.0
    assert settings.intake.max_file_mb == 10  # the rest of the section still comes from the file


def test_default_config_path_follows_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'language = "en"\n')
    monkeypatch.setenv(CONFIG_ENV, str(path))

    assert default_config_path() == path
    assert load_config().language == "en"  # no argument: load_config uses default_config_path()


@pytest.mark.skipif(sys.platform != "linux", reason="the default location is platform specific")
def test_default_config_path_on_linux() -> None:
    assert default_config_path() == Path("/etc/conciliador/conciliador.toml")


# -- error messages ---------------------------------------------------------------------------


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_invalid_number_names_key_value_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[intake]\nstable_seconds = "abc"\n')
    message = load_error(path)
    assert "intake.stable_seconds" in message
    assert "'abc'" in message
    assert str(path.resolve()) in message


def test_out_of_range_value_is_refused(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "[poster]\nmax_attempts = 0\n"))
    assert "poster.max_attempts" in message and "0" in message


def test_invalid_language_lists_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, 'language = "fr"\n')
    message = load_error(path)
    assert "language" in message and "'fr'" in message
    assert "'es'" in message and "'en'" in message
    assert str(path.resolve()) in message


@pytest.mark.parametrize(
    ("text", "key"),
    [("[intake]\nstable_secnds = 3\n", "intake.stable_secnds"), ("colour = 1\n", "colour")],
)
def test_unknown_key_is_refused_by_name(tmp_path: Path, text: str, key: str) -> None:
    # A misspelt key must stop the agent instead of being silently ignored.
    path = write(tmp_path, text)
    message = load_error(path)
    assert f"Unknown setting {key}" in message
    assert str(path.resolve()) in message


def test_invalid_env_value_names_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[intake]\nstable_seconds = 3\n")
    monkeypatch.setenv("CONCILIADOR__INTAKE__STABLE_SECONDS", "abc")

    message = load_error(path)

    assert "intake.stable_seconds" in message and "'abc'" in message
    assert "environment variable CONCILIADOR__INTAKE__STABLE_SECONDS" in message
    # The file holds a valid 3; pointing finance at it would send them to the wrong place.
    assert str(path.resolve()) not in message


def test_invalid_lowercase_env_value_names_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings are case-insensitive, so pydantic-settings reads a lower-case variable too; the
    # message must then still say the value came from the environment, not from the file.
    path = write(tmp_path, "")
    monkeypatch.setenv("conciliador__intake__stable_seconds", "abc")

    message = load_error(path)

    assert "'abc'" in message
    assert "environment variable" in message
    assert str(path.resolve()) not in message


def test_explain_error_formats_one_sentence(tmp_path: Path) -> None:
    err = {"type": "greater_than_equal", "loc": ("poster", "max_attempts"), "msg": "Input should be >= 1",
           "input": 0, "ctx": {"ge": 1}}
    text = explain_error("poster.max_attempts", err, tmp_path / "c.toml")
    assert text == f"Setting poster.max_attempts = 0 (from {tmp_path / 'c.toml'}) is not allowed: Input should be >= 1."


def test_explain_error_masks_secret_keys(tmp_path: Path) -> None:
    err = {"type": "string_too_short", "loc": ("password",), "msg": "too short", "input": "hunter2"}
    text = explain_error("companies.acme.erp_settings.password", err, tmp_path / "c.toml")
    assert "hunter2" not in text
    assert "**********" in text


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "conciliador.toml"
    message = load_error(path)
    assert str(path) in message
    assert CONFIG_ENV in message  # tells the operator how to point at another file


def test_directory_instead_of_file_is_refused(tmp_path: Path) -> None:
    assert str(tmp_path) in load_error(tmp_path)


def test_invalid_toml_syntax_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[intake\nstable_seconds = 3\n")
    message = load_error(path)
    assert "not valid TOML" in message
    assert str(path.resolve()) in message
    assert "line 1" in message  # the parser's position survives, so the operator can find it


# -- companies --------------------------------------------------------------------------------


COMPANIES = """\
[companies.acme]
accounts = ["0123-456789-01", "9999"]

[companies.beta]
erp = "flatfile"
accounts = ["5555 6666"]
currency = "USD"

[companies.rest]
"""


def test_two_companies_with_the_same_account_are_refused(tmp_path: Path) -> None:
    # The same account written two ways is still the same account.
    path = write(tmp_path, '[companies.a]\naccounts = ["12-34"]\n[companies.b]\naccounts = ["1234"]\n')
    message = load_error(path)
    assert "1234" in message
    assert "'a'" in message and "'b'" in message


def test_config_errors_never_show_connector_secrets(tmp_path: Path) -> None:
    # A company-level error must not echo the whole [companies] table: its erp_settings may hold
    # a literal password, and ConfigError messages go to logs and to ``conciliador check``.
    path = write(
        tmp_path,
        '[companies.a]\naccounts = ["1234"]\n[companies.a.erp_settings]\npassword = "hunter2"\n'
        '[companies.b]\naccounts = ["12-34"]\n',
    )
    message = load_error(path)
    assert "listed under both" in message
    assert "hunter2" not in message


def test_two_catch_all_companies_are_refused_without_leaking(tmp_path: Path) -> None:
    path = write(tmp_path, '[companies.a]\n[companies.a.erp_settings]\npassword = "hunter2"\n[companies.b]\n')
    message = load_error(path)
    assert "at most one company" in message
    assert "hunter2" not in message


def test_company_name_must_be_simple(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, '[companies."acme corp"]\n'))
    assert "acme corp" in message


def test_company_for_account_normalises_and_falls_back(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, COMPANIES))

    assert settings.companies["acme"].accounts == ["12345678901", "9999"]  # leading zeros are not significant
    assert settings.company_for_account("0123-456789-01") == "acme"
    assert settings.company_for_account(" 0123 456789 01 ") == "acme"
    assert settings.company_for_account("012345678901") == "acme"
    assert settings.company_for_account("5555-6666") == "beta"
    assert settings.company_for_account("7777") == "rest"  # not listed anywhere: the catch-all


def test_company_for_account_without_catch_all_is_none(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, '[companies.acme]\naccounts = ["1"]\n'))
    assert settings.company_for_account("2") is None


def test_company_defaults_and_erp_settings_alias(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, '[companies.acme]\n[companies.acme.erp_settings]\nfolder = "erp"\n'))
    company = settings.companies["acme"]
    assert company.erp == "flatfile"
    assert company.currency == "COP"
    assert company.settings == {"folder": "erp"}


# -- Secret -----------------------------------------------------------------------------------


class S(BaseModel):
    password: Secret


def test_secret_literal_is_hidden_in_repr_and_str() -> None:
    s = S(password="hunter2")
    assert s.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in repr(s.password)


def test_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_PASSWORD_TEST", "s3cret")
    s = S(password="env:ERP_PASSWORD_TEST")
    assert s.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_secret_from_missing_env_var_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERP_PASSWORD_TEST", raising=False)
    with pytest.raises(ValidationError, match="environment variable ERP_PASSWORD_TEST is not set"):
        S(password="env:ERP_PASSWORD_TEST")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_secret_from_private_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret\n", encoding="utf-8")  # editors add a newline; it is not part of it
    path.chmod(0o600)
    assert S(password=f"file:{path}").password.get_secret_value() == "s3cret"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_secret_file_path_expands_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # systemd's LoadCredential= puts secrets under $CREDENTIALS_DIRECTORY.
    (tmp_path / "sap-password").write_text("s3cret", encoding="utf-8")
    (tmp_path / "sap-password").chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert S(password="file:${CREDENTIALS_DIRECTORY}/sap-password").password.get_secret_value() == "s3cret"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_secret_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "pw"
    path.write_text("s3cret", encoding="utf-8")
    path.chmod(mode)
    with pytest.raises(ValidationError) as info:
        S(password=f"file:{path}")
    message = str(info.value)
    assert f"chmod 600 {path}" in message
    assert "s3cret" not in message


def test_secret_file_missing_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(ValidationError, match="cannot read the secret file"):
        S(password=f"file:{path}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_secret_file_that_cannot_be_read_is_a_validation_error(tmp_path: Path) -> None:
    # A private path that is not a readable file (here a folder with mode 700) must be reported
    # like any other bad setting, not escape as a raw OSError that build_runtime does not catch.
    folder = tmp_path / "pw"
    folder.mkdir()
    folder.chmod(0o700)
    with pytest.raises(ValidationError, match="secret file"):
        S(password=f"file:{folder}")
