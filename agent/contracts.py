"""The classes a plugin implements: bank formats, ERP connectors and reference extractors.

Plugins hand instances (bank formats, extractors) or classes (connectors) to the core through the
hooks in :mod:`conciliador.hookspecs`. Everything a plugin needs is importable from
``conciliador`` itself.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, ClassVar

from pydantic import BaseModel, ConfigDict

from .errors import PermanentError
from .models import CheckResult, Customer, OpenItem, Posting, PostingResult, StatementLine, StatementSummary

__all__ = ["BankFormat", "ErpConnector", "ConnectorSettings", "ReferenceExtractor", "ParsedItem"]

ParsedItem = StatementLine | StatementSummary

HEAD_BYTES = 8192
"""How many leading bytes of a file :meth:`BankFormat.detect` receives."""

MAYBE_BELOW = 0.5
"""A :meth:`BankFormat.detect` score above 0.0 and below this is a "maybe": the core then asks
:meth:`BankFormat.detect_file` for a better one."""


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

    def detect_file(self, stream: IO[bytes], filename: str) -> float | None:
        """Optionally look further into a file than :meth:`detect` can, and return a better score.

        The core calls it only when :meth:`detect` answered "maybe", a score above 0.0 and below
        :data:`MAYBE_BELOW` (0.5): a container whose telling part lies beyond the first
        :data:`HEAD_BYTES` bytes, such as an XLSX, whose cell texts Excel keeps near the end of the
        zip. ``stream`` is the whole file, binary and seekable, at position 0; leave it open. The
        number returned (0.0 to 1.0) replaces the :meth:`detect` score; ``None`` keeps it. The
        default returns ``None``: a format that needs no second look does not override this.

        Keep the work bounded whatever the file's size: read what locates the part you need (a
        zip's central directory) and a few records, never the whole file; the core calls it while
        choosing a format, for every format that said "maybe". Must not raise: an exception is
        logged and counts as "not mine" (0.0), like one from :meth:`detect`.

        Added in plugin API 1.3: a plugin overriding it declares ``CONCILIADOR_PLUGIN_API = "1.3"``.
        """
        return None

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
    #: Seconds the ERP may go on working on a request after the connector stopped waiting for
    #: its answer (a timeout, a dropped connection). The poster looks such a posting up with
    #: :meth:`find_step` only once this long has passed since it was sent, so the lookup does not
    #: find nothing while the ERP is still making it, and send it a second time. 0 for an ERP that
    #: ends a request when its client goes; a connector may set it from its settings in
    #: ``__init__``. Added in plugin API 1.3.
    in_doubt_seconds: float = 0.0

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

    # -- postings in several calls ----------------------------------------------------------------
    # Some ERPs post a payment in steps (S/4HANA: a journal entry, then the clearing of the invoices
    # against it). The core keeps each finished step in its outbox, so after a crash or a lost
    # answer it resumes at the step whose outcome is unknown and never repeats a finished one.
    # A connector whose ERP posts in one call overrides none of these.

    def posting_steps(self, posting: Posting) -> tuple[str, ...]:
        """Names of the ERP calls that make ``posting``, in order. Default: ``("post",)``, one call
        to :meth:`post`. The names are stored with the outbox row; keep them stable across releases."""
        return ("post",)

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        """Make one step's call. ``done`` holds the results of the earlier steps, by name (the
        journal entry a clearing step clears, for example). The last step's result is the
        posting's result. Default: :meth:`post` for the single step ``"post"``.

        :meth:`post` must still make the whole posting in one call (the conformance kit calls it).
        """
        if step != "post":
            raise PermanentError(f"{type(self).__name__} declares no posting step {step!r}")
        return self.post(posting)

    def find_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult | None:
        """What ``step`` left in the ERP for ``posting.key``, or None if it left nothing. Called
        before a step whose outcome is unknown is sent again; for a reversal (one step named
        ``"reverse"``) too. Default: :meth:`find_posting`."""
        return self.find_posting(posting.key)

    def reverse(self, posting: Posting) -> PostingResult:
        """Reverse the document ``posting.reverses`` (a posting of kind ``reversal``; its other
        fields repeat the original posting), carrying ``posting.key`` in the reversal document so
        :meth:`find_posting` finds it. The items the original cleared must be open again. For a
        posting made in steps, ``reverses`` is its last step's document: undo the earlier steps'
        documents too (an ERP links them: S/4HANA's clearing names the journal entry it cleared).

        Default: refuse with :class:`~conciliador.errors.PermanentError`, so the request reaches
        finance, who reverse it in the ERP by hand.
        """
        raise PermanentError(
            f"The {self.name} connector cannot reverse documents; reverse {posting.reverses} in the ERP by hand.")

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
