"""What every bank file goes through, whatever its format: detection, and the checks of what a
statement declares (balances, counts, control totals) against the lines it holds.

Shared by intake (which stores and archives) and ``conciliador parse`` (which only shows), so
both judge a file the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import structlog

from .contracts import HEAD_BYTES, MAYBE_BELOW, BankFormat
from .errors import StatementError
from .models import StatementLine, StatementSummary, normalise_account

log = structlog.get_logger(__name__)


def detect(path: Path, formats: list[BankFormat]) -> tuple[BankFormat | None, list[tuple[str, float]]]:
    """The format with the highest score above zero (ties broken by name), and every score.

    Each format's :meth:`~BankFormat.detect` sees the first :data:`HEAD_BYTES` bytes; a format that
    answers "maybe" (above 0 and below :data:`MAYBE_BELOW`) is then asked
    :meth:`~BankFormat.detect_file` on the whole file, whose answer replaces its score unless it is
    None. A format whose detect or detect_file raises says no, and the error is logged.
    """
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    scores: list[tuple[float, str, BankFormat]] = []
    for fmt in formats:
        try:
            score = float(fmt.detect(head, path.name))
        except Exception as exc:  # a detect() that raises is a plugin bug: that format just says no
            log.warning("detect_failed", format=fmt.name, file=path.name, error=repr(exc))
            continue
        if 0 < score < MAYBE_BELOW:
            try:
                # A stream of its own for each format: one that moves, wraps or closes it cannot
                # disturb the next.
                with open(path, "rb") as stream:
                    refined = fmt.detect_file(stream, path.name)
                if refined is not None:
                    score = float(refined)
            except Exception as exc:
                log.warning("detect_failed", format=fmt.name, file=path.name, error=repr(exc), method="detect_file")
                continue
        if score > 0:
            scores.append((min(score, 1.0), fmt.name, fmt))
    scores.sort(key=lambda s: (-s[0], s[1]))
    return (scores[0][2] if scores else None), [(n, s) for s, n, _ in scores]


def unrecognised(path: Path, formats: list[BankFormat]) -> str:
    """Why no format was chosen for ``path``: one sentence for the quarantine note and ``conciliador parse``."""
    text = "no installed bank format recognises this file"
    text += f" (none of the {len(formats)} installed formats said it is theirs)" if formats else " (none is installed)"
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        head = b""
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04") and suffix in (".xlsx", ".xlsm"):
        text += (". It is an Excel workbook: bank exports in Excel are read through bank profiles, and none of them "
                 "has this workbook's header row (docs/bank-profiles.md says how to add one)")
    elif head.startswith(b"\xd0\xcf\x11\xe0") and suffix == ".xls":
        text += ". It is an old Excel .xls workbook: open it in Excel, save it as .xlsx and drop that file instead"
    return text


@dataclass(frozen=True)
class Checked:
    """A statement's summary after its checks: the sum and count of its lines, and the gap
    (closing - opening - lines) when its balances do not add up."""

    summary: StatementSummary
    lines_total: Decimal
    line_count: int
    balance_break: Decimal | None


class StatementChecker:
    """Accumulates lines per account and currency until their statement's summary arrives."""

    def __init__(self, *, strict_balances: bool = False) -> None:
        self.strict_balances = strict_balances
        self._open: dict[tuple[str, str], list] = defaultdict(lambda: [Decimal(0), 0])

    def add(self, line: StatementLine) -> None:
        acc = self._open[(normalise_account(line.account), line.currency)]
        acc[0] += line.amount
        acc[1] += 1

    def close(self, s: StatementSummary) -> Checked:
        """Check ``s`` against the lines seen since the previous summary of its account and currency."""
        lines_total, count = self._open.pop((normalise_account(s.account), s.currency), [Decimal(0), 0])
        where = s.position or f"statement {s.statement_id or s.account}"
        if s.declared_count is not None and s.declared_count != count:
            raise StatementError(f"the file declares {s.declared_count} transactions but holds {count}",
                                 position=where, field="count")
        if s.declared_total is not None and s.declared_total != lines_total:
            raise StatementError(f"the control total is {s.declared_total} but the transactions add up to {lines_total}",
                                 position=where, field="control total")
        gap = None
        if s.opening_balance is not None and s.closing_balance is not None:
            gap = s.closing_balance - s.opening_balance - lines_total
            problem = (f"opening balance {s.opening_balance} plus the transactions ({lines_total}) does not equal "
                       f"the closing balance {s.closing_balance}: {gap} is unaccounted for")
        elif s.declared_movement is not None:
            gap = s.declared_movement - lines_total
            problem = f"the report declares a net movement of {s.declared_movement} but its lines add up to {lines_total}"
        if gap == 0:
            gap = None
        elif gap is not None and self.strict_balances:
            raise StatementError(f"{problem} (intake.strict_balances is on)", position=where, field="balance")
        return Checked(s, lines_total, count, gap)
