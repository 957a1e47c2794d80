"""Every hook a conciliador plugin may implement. Each docstring is that hook's contract.

A plugin is a module (or object) with functions decorated by :data:`conciliador.hookimpl` and
named like the specs below. Third-party plugins are found through the entry-point group
``conciliador``::

    # pyproject.toml of your package
    [project.entry-points.conciliador]
    mybank = "conciliador_mybank.plugin"

The *register* hooks (``conciliador_bank_formats``, ``conciliador_erp_connectors``,
``conciliador_matching_rules``) are called once at start-up and after a reload; what they
return is used for the life of that configuration. The *notification* hooks
(``conciliador_statement_parsed``, ``conciliador_posting_done``,
``conciliador_exception_raised``) are called after the fact, one implementation at a time: an
exception in one is logged and the others still run; nothing a notifier does can stop or undo
the pipeline. Notifiers run on the daemon's worker thread, so keep them quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from .contracts import BankFormat, ErpConnector, ReferenceExtractor
    from .models import Decision, Posting, PostingResult, StatementLine, StatementSummary

PROJECT = "conciliador"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def conciliador_bank_formats() -> list[BankFormat]:
    """Return the bank statement formats this plugin reads, as :class:`BankFormat` instances.

    Called once per configuration load. For every file in the inbox, the core calls each
    format's ``detect(head, filename)`` (and, for a "maybe" below 0.5, ``detect_file(stream,
    filename)``) and parses with the highest score above zero; ties are broken by format name so
    detection is deterministic. Names must be unique across plugins; a clash is refused at load
    with both plugins named.
    """


@hookspec
def conciliador_bank_formats_from(folder: Path) -> list[BankFormat]:
    """Return bank formats described by data files in ``folder``, for plugins whose formats are
    data rather than code (the built-in bank-export profiles read ``*.toml`` there).

    ``folder`` is the ``intake.bank_profiles`` setting, resolved against the configuration file;
    the hook is not called when the setting is absent. Called once per configuration load, like
    ``conciliador_bank_formats``, and the formats join those. Raise
    :class:`~conciliador.errors.ConfigError` naming the file, key and value for a file that cannot
    be used: start-up (or a reload) stops with that message. Ignore files that are not yours.

    Added in plugin API 1.1: a plugin implementing it declares ``CONCILIADOR_PLUGIN_API = "1.1"``.
    """


@hookspec
def conciliador_erp_connectors() -> list[type[ErpConnector]]:
    """Return ERP connector *classes* (subclasses of :class:`ErpConnector`).

    The core instantiates one per company whose config says ``erp = "<name>"``, with the
    company's ``[companies.NAME.erp_settings]`` table validated by the class's ``Settings`` model. A
    settings error names the company, key and value, and stops start-up (or keeps the previous
    configuration on reload).
    """


@hookspec
def conciliador_matching_rules() -> list[ReferenceExtractor]:
    """Return extra matching rules: today, :class:`ReferenceExtractor` instances.

    Each extractor gets every incoming statement line and returns strings that may be invoice
    references (a bank's collection code, a customer-specific pattern). The engine looks them up
    among the open items' references and document numbers, exactly as it does for the built-in
    extractor. Must be pure and fast: no I/O, no ERP calls, deterministic output.
    """


@hookspec
def conciliador_statement_parsed(
    filename: str, fmt: str, lines: int, summaries: list[StatementSummary], archived_to: str
) -> None:
    """Notification: a bank file was accepted, its lines stored and the file archived.

    ``fmt`` is the bank format's name, ``lines`` how many statement lines were new, ``summaries``
    what the file declared about each statement in it. Return value is ignored.
    """


@hookspec
def conciliador_posting_done(posting: Posting, result: PostingResult) -> None:
    """Notification: the ERP confirmed ``posting`` with the document in ``result``.

    Called once per posting key, after the store has recorded it as posted (also when the
    document was found by ``find_posting`` after a lost response). Return value is ignored.
    """


@hookspec
def conciliador_exception_raised(line: StatementLine, decision: Decision, company: str) -> None:
    """Notification: a statement line was handed to finance (a suggestion or no match).

    Called once per line and decision, after the decision was stored. Return value is ignored.
    """
