"""Errors that cross the boundary between plugins and the core.

Each carries a sentence a person can act on. Plugins raise these; the core decides what happens
next (quarantine a file, retry a posting, hand an item to finance).
"""

from __future__ import annotations


class ConciliadorError(Exception):
    """Base class of every error the core knows how to report."""


class ConfigError(ConciliadorError):
    """The configuration cannot be used; the message names the key, the value and what is allowed."""


class StatementError(ConciliadorError):
    """A bank file cannot be accepted.

    ``position`` says where (``line 12``, ``record 3``, an XPath) and ``field`` which field, so the
    quarantine reason points finance or the bank at the exact spot.
    """

    def __init__(self, problem: str, *, position: str = "", field: str = "") -> None:
        self.problem = problem
        self.position = position
        self.field = field
        where = ", ".join(p for p in (position, f"field {field}" if field else "") if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class ConnectorError(ConciliadorError):
    """An ERP call failed. ``retryable`` says whether sending again later may succeed."""

    retryable = False

    def __init__(self, message: str, *, erp_message: str = "") -> None:
        self.erp_message = erp_message
        super().__init__(message)


class RetryableError(ConnectorError):
    """Timeouts, locks, 5xx, a connection refused: the poster retries with backoff.

    The outcome of the call may be unknown (a timeout after the ERP committed), so the poster
    always asks ``find_posting(key)`` before sending again.
    """

    retryable = True


class PermanentError(ConnectorError):
    """Closed period, missing authority, unknown customer: retrying will not help; finance decides."""
