"""The classes a plugin implements: bank formats, ERP connectors and reference extractors.

Plugins hand instances (bank formats, extractors) or classes (connectors) to the core through the
hooks in :mod:`conciliador.hookspecs`. Everything a plugin needs is importable from
``conciliador`` itself.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import IO, ClassVar

from pydantic import BaseModel, ConfigDict

from .models import CheckResult, Customer, OpenItem, Posting, PostingResult, StatementLine, StatementSummary

__all__ = ["BankFormat", "ErpConnector", "ConnectorSettings", "ReferenceExtractor", "ParsedItem"]

ParsedItem = StatementLine | StatementSummary

HEAD_BYTES = 8192
"""How many leading bytes of a file :meth:`BankFormat.detect` receives."""


class BankFormat(abc.ABC):
    """A family of bank statement files (camt.053, MT940, a bank's CSV export ...).

    One instance serves every file; keep no per-file state on it.
    """

    #: Short unique name, shown in logs and in ``conciliador plugins list``.
    name: ClassVar[str]
    #: One line for humans: what files this reads.
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def detect(self, head: bytes, filename: str) -> float:
        """Return how sure you are that a file is yours, from 0.0 (not mine) to 1.0 (certainly).

        ``head`` is the first :data:`HEAD_BYTES` bytes. Decide by content; the file name is a
        hint at most (banks and people rename files). Must not raise on garbage: return 0.0.
        """

    @abc.abstractmethod
    def parse(self, stream: IO[bytes], filename: str) -> Iterator[ParsedItem]:
        """Stream the file's transactions.

        Yield each :class:`StatementLine` as it is read, and a :class:`StatementSummary` after
        the last line of each statement in the file (balances, declared counts and totals), so the
        core can check them. Read incrementally: files can be hundreds of megabytes.

        Raise :class:`~conciliador.errors.StatementError` with the position and field on bad
        input; the core quarantines the whole file and keeps none of its lines.
        """


class ConnectorSettings(BaseModel):
    """Base for a connector's own settings (its ``[companies.NAME.erp_settings]`` table).

    Unknown keys are refused, so a misspelt setting fails at start instead of being ignored.
    """

    model_config = ConfigDict(extra="forbid")


class ErpConnector(abc.ABC):
    """A link to one company's ERP. The core builds one instance per configured company.

    Methods may be called from the daemon's worker thread only; an instance is never shared
    between threads. Raise :class:`~conciliador.errors.RetryableError` for failures that may
    pass (timeouts, locks, connection refused) and :class:`~conciliador.errors.PermanentError`
    for the ones that will not (closed period, unknown customer).
    """

    #: Name used in config (``erp = "NAME"``) and in ``conciliador plugins list``.
    name: ClassVar[str]
    #: Pydantic model of this connector's settings.
    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, settings: ConnectorSettings, *, company: str) -> None:
        self.settings = settings
        self.company = company

    @abc.abstractmethod
    def check(self) -> Iterable[CheckResult]:
        """Verify reachability, credentials and permissions without changing anything."""

    @abc.abstractmethod
    def customers(self) -> Iterable[Customer]:
        """Every customer of the company (id, name, tax id)."""

    @abc.abstractmethod
    def open_items(self, since: dt.datetime | None = None) -> Iterable[OpenItem]:
        """Open receivables, with open amounts as of now.

        ``since`` is a hint for ERPs that can read changes incrementally; a connector that cannot
        returns everything.
        """

    @abc.abstractmethod
    def post(self, posting: Posting) -> PostingResult:
        """Create the ERP document(s) for ``posting``, carrying ``posting.key`` in a reference field.

        Must not be assumed idempotent by the core: the core calls :meth:`find_posting` before any
        re-send whose outcome is unknown.
        """

    @abc.abstractmethod
    def find_posting(self, key: str) -> PostingResult | None:
        """Return the document that carries ``key``, or None if the ERP has none."""

    @abc.abstractmethod
    def post_einvoice_status(self, document: str, cufe: str, status: str, at: dt.datetime) -> None:
        """Record a DIAN e-invoice status (``accepted``, ``rejected``, ``tacit_acceptance`` ...)."""

    def close(self) -> None:
        """Release connections. Called once when the daemon stops or reloads."""


class ReferenceExtractor(abc.ABC):
    """Finds candidate invoice references in a statement line (a matching rule plugin).

    The engine looks each returned string up in its index of open items' references and
    document numbers (after normalising case and separators).
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def extract(self, line: StatementLine) -> Iterable[str]:
        """Return the strings in ``line`` that may be invoice references. Pure: no I/O."""
