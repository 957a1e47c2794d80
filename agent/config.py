"""Configuration: one TOML file, overridable by ``CONCILIADOR__SECTION__KEY`` environment variables.

:func:`load_config` is the only way the agent reads its configuration: ``run``, ``check`` and a
reload all call it, so ``check`` can never pass a file that ``run`` would refuse. Relative paths
are taken relative to the configuration file's folder.
"""

from __future__ import annotations

import contextvars
import os
import re
from decimal import Decimal
import stat
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from .errors import ConfigError
from .models import normalise_account

ENV_PREFIX = "CONCILIADOR__"
CONFIG_ENV = "CONCILIADOR_CONFIG"

_toml_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar("toml_path", default=None)


def default_config_path() -> Path:
    """Where the service looks for its configuration when ``--config`` is not given."""
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "conciliador" / "conciliador.toml"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/conciliador/conciliador.toml")
    return Path("/etc/conciliador/conciliador.toml")


def _resolve_secret(value: Any) -> Any:
    """``env:NAME`` reads an environment variable, ``file:PATH`` a file only its owner can read."""
    if isinstance(value, SecretStr) or not isinstance(value, str):
        return value
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ValueError(f"the environment variable {name} is not set")
        return os.environ[name]
    if value.startswith("file:"):
        # $CREDENTIALS_DIRECTORY (systemd LoadCredential=) and ~ are expanded.
        path = Path(os.path.expandvars(value[5:])).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise ValueError(f"cannot read the secret file {path}: {exc.strerror}") from None
        if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(
                f"the secret file {path} can be read by other users; run 'chmod 600 {path}' (as ssh requires)"
            )
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the secret file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret)]
"""A secret setting: a literal, ``env:VARIABLE`` or ``file:/path/to/file`` (mode 600; environment
variables in the path are expanded, e.g. ``file:${CREDENTIALS_DIRECTORY}/sap-password``).

Held as :class:`pydantic.SecretStr`, so it prints as ``**********`` in logs, errors and
``conciliador check``.
"""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PathsSettings(_Section):
    inbox: Path = Path("inbox")
    archive: Path = Path("archive")
    quarantine: Path = Path("quarantine")
    exceptions: Path = Path("exceptions")
    resolutions: Path = Path("resolutions")
    state: Path = Path("state")
    reports: Path = Path("reports")

    def resolved(self, base: Path) -> PathsSettings:
        return PathsSettings(**{k: (base / v).resolve() for k, v in self.model_dump().items()})

    def folders(self) -> dict[str, Path]:
        return dict(self.model_dump())


class IntakeSettings(_Section):
    stable_seconds: float = Field(2.0, ge=0, le=3600)
    bank_profiles: Path | None = None
    rescan_seconds: float = Field(60.0, gt=0, le=86400)
    max_file_mb: int = Field(512, ge=1, le=16384)
    strict_balances: bool = False


class PosterSettings(_Section):
    max_attempts: int = Field(5, ge=1, le=100)
    backoff_initial_seconds: float = Field(1.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(60.0, ge=0, le=86400)
    retry_after_seconds: float = Field(300.0, ge=0, le=86400)


class MatchingSettings(_Section):
    """See matching/config.py for what each setting does; defaults are the engine's."""

    min_reference_length: int = Field(3, ge=1, le=40)
    min_numeric_reference: int = Field(4, ge=2, le=20)
    apply_threshold: Decimal = Field(Decimal("0.9"), ge=Decimal("0.5"), le=1)
    tolerance_absolute: Decimal = Field(Decimal("0"), ge=0)
    tolerance_percent: Decimal = Field(Decimal("0"), ge=0, le=10)
    rounding_per_invoice: Decimal = Field(Decimal("1"), ge=0)
    retefuente_rates: list[Decimal] = Field(default_factory=lambda: [Decimal(r) for r in ("0.025", "0.035", "0.04", "0.06", "0.11", "0.01")])
    reteiva_rates: list[Decimal] = Field(default_factory=lambda: [Decimal("0.15")])
    reteica_rates: list[Decimal] = Field(default_factory=lambda: [Decimal(r) for r in ("0.00414", "0.00966", "0.01104")])
    withholding_unit: Decimal = Field(Decimal("1"), gt=0)
    interchangeable: Literal["suggest", "oldest_first"] = "suggest"
    unknown_invoices: Literal["suggest", "on_account"] = "suggest"
    name_cutoff: float = Field(90.0, ge=50, le=100)
    name_margin: float = Field(6.0, ge=0, le=50)
    max_candidates: int = Field(60, ge=2, le=500)
    max_combination: int = Field(5, ge=1, le=5)
    reference_layouts: list[str] = Field(default_factory=list)

    @field_validator("retefuente_rates", "reteiva_rates", "reteica_rates")
    @classmethod
    def _rates(cls, value: list[Decimal]) -> list[Decimal]:
        if any(r <= 0 or r >= 1 for r in value):
            raise ValueError("rates are fractions between 0 and 1, e.g. \"0.025\" for 2.5 %")
        return value

    @field_validator("reference_layouts")
    @classmethod
    def _layouts(cls, value: list[str]) -> list[str]:
        # The engine's own check (matching/layouts.py), so a layout IT can load is one the engine
        # takes. Numbered from 1, as the evidence finance reads names them; shown as written.
        from .matching.layouts import compile_layout

        problems = []
        for n, layout in enumerate(value, 1):
            try:
                compile_layout(layout)
            except ValueError as exc:
                problems.append(f"layout {n} '{layout}': {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class ReportSettings(_Section):
    """The KPI report the running agent writes each day into ``paths.reports``."""

    # Local time, 24-hour "HH:MM"; "" turns the daily report off. A report missed while the agent
    # was stopped is written as soon as it runs again that day.
    daily_at: str = Field("06:00", pattern=r"^(|([01]\d|2[0-3]):[0-5]\d)$")
    days: int = Field(30, ge=1, le=366)


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSettings(_Section):
    # "host:port" for a Prometheus /metrics endpoint while the agent runs as a service; "" = off.
    # Loopback by default in the example: the figures say how much money waits, which is not public.
    listen: str = Field("", pattern=r"^(|(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]*):\d{1,5})$")


class PluginsSettings(_Section):
    allow: list[str] | None = None


class CompanySettings(_Section):
    erp: str = "flatfile"
    accounts: list[str] = Field(default_factory=list)
    currency: str = Field("COP", pattern=r"^[A-Z]{3}$")
    settings: dict[str, Any] = Field(default_factory=dict, alias="erp_settings")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("accounts")
    @classmethod
    def _normalise_accounts(cls, value: list[str]) -> list[str]:
        return [normalise_account(a) for a in value]


class Settings(BaseSettings):
    """The whole configuration. ``config.example.toml`` documents each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    language: Literal["es", "en"] = "es"
    paths: PathsSettings = PathsSettings()
    intake: IntakeSettings = IntakeSettings()
    poster: PosterSettings = PosterSettings()
    matching: MatchingSettings = MatchingSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    plugins: PluginsSettings = PluginsSettings()
    report: ReportSettings = ReportSettings()
    companies: dict[str, CompanySettings] = Field(default_factory=dict)

    config_file: Path | None = Field(default=None, exclude=True)

    @field_validator("companies")
    @classmethod
    def _company_names(cls, value: dict[str, CompanySettings]) -> dict[str, CompanySettings]:
        seen: dict[str, str] = {}
        for name, company in value.items():
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"company name {name!r} may hold only letters, digits, '-' and '_'")
            for account in company.accounts:
                if account in seen:
                    raise ValueError(f"account {account} is listed under both {seen[account]!r} and {name!r}")
                seen[account] = name
        return value

    @model_validator(mode="after")
    def _one_company_without_accounts(self) -> Settings:
        catch_all = [n for n, c in self.companies.items() if not c.accounts]
        if len(catch_all) > 1:
            raise ValueError(
                f"companies {', '.join(catch_all)} list no accounts; at most one company may take "
                "the statements of accounts not listed elsewhere"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if (path := _toml_path.get()) is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def base_dir(self) -> Path:
        return self.config_file.parent if self.config_file else Path.cwd()

    @property
    def folders(self) -> PathsSettings:
        """Paths resolved against the configuration file's folder."""
        return self.paths.resolved(self.base_dir)

    def company_for_account(self, account: str) -> str | None:
        """Which company a statement account belongs to (the catch-all company if none lists it)."""
        wanted = normalise_account(account)
        catch_all = None
        for name, company in self.companies.items():
            if wanted in company.accounts:
                return name
            if not company.accounts:
                catch_all = name
        return catch_all


def load_config(path: Path | str | None = None) -> Settings:
    """Read and validate the configuration, or raise :class:`ConfigError` with a readable message."""
    config_file = Path(path) if path is not None else default_config_path()
    config_file = config_file.expanduser().resolve()
    if not config_file.is_file():
        raise ConfigError(
            f"No configuration file at {config_file}. Pass --config PATH, set {CONFIG_ENV}, or start "
            "from config.example.toml."
        )
    token = _toml_path.set(config_file)
    try:
        settings = Settings(config_file=config_file)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, config_file)) from None
    except ValueError as exc:  # TOML syntax errors arrive as tomllib.TOMLDecodeError
        raise ConfigError(f"{config_file} is not valid TOML: {exc}") from None
    finally:
        _toml_path.reset(token)
    return settings


def _explain(exc: ValidationError, config_file: Path) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"])
        lines.append(explain_error(key, err, config_file, env_key=ENV_PREFIX + "__".join(str(p) for p in err["loc"]).upper()))
    return "\n".join(lines)


def explain_error(key: str, err: Any, config_file: Path, *, env_key: str = "") -> str:
    """One sentence per invalid setting: where it came from, its value and what is allowed."""
    from_env = env_key and any(name.upper() == env_key.upper() for name in os.environ)
    where = f"environment variable {env_key}" if from_env else str(config_file)
    if not key:
        return f"The configuration in {where} is not valid: {err['msg']}."
    if err["type"] == "extra_forbidden":
        return f"Unknown setting {key} in {where}: remove it or check its spelling against config.example.toml."
    if err["type"] == "missing":
        return f"Setting {key} is required but missing from {where}."
    value = err.get("input")
    # A whole table is never echoed: it may hold secrets, and the message names the problem already.
    if isinstance(value, (dict, list)):
        return f"Setting {key} (from {where}) is not allowed: {err['msg']}."
    shown = "**********" if _looks_secret(key) else repr(_without_userinfo(value))
    allowed = err["msg"]
    if ctx := err.get("ctx"):
        if "expected" in ctx:
            allowed = f"expected {ctx['expected']}"
    return f"Setting {key} = {shown} (from {where}) is not allowed: {allowed}."


def _without_userinfo(value: Any) -> Any:
    """``https://user:password@host`` shown as ``https://****@host``: a URL can carry a password."""
    return re.sub(r"(?<=://)[^/@\s]+@", "****@", value) if isinstance(value, str) else value


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "secret", "token", "credential", "private"))
