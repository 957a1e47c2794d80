"""``conciliador parse FILE``: what the agent would read from a bank file, without storing it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .contracts import BankFormat
from .errors import StatementError
from .models import StatementLine, StatementSummary
from .statements import Checked, StatementChecker, detect, unrecognised


@dataclass
class ParseReport:
    path: Path
    format: str = ""
    scores: list[tuple[str, float]] = field(default_factory=list)
    line_count: int = 0
    credit_sum: Decimal = Decimal(0)
    debit_sum: Decimal = Decimal(0)
    currencies: set[str] = field(default_factory=set)
    first_lines: list[StatementLine] = field(default_factory=list)
    statements: list[Checked] = field(default_factory=list)
    error: str = ""

    @property
    def balance_breaks(self) -> list[Checked]:
        return [c for c in self.statements if c.balance_break is not None]


def parse_file(path: Path, formats: list[BankFormat], *, keep: int = 10, strict_balances: bool = False,
               on_line: Callable[[StatementLine], None] | None = None) -> ParseReport:
    """Detect and parse ``path`` exactly as intake does, keeping counts, sums and the first lines."""
    report = ParseReport(path)
    fmt, report.scores = detect(path, formats)
    if fmt is None:
        report.error = unrecognised(path, formats)
        return report
    report.format = fmt.name
    checker = StatementChecker(strict_balances=strict_balances)
    try:
        with open(path, "rb") as fh:
            for item in fmt.parse(fh, path.name):
                if isinstance(item, StatementLine):
                    checker.add(item)
                    report.line_count += 1
                    report.currencies.add(item.currency)
                    if item.amount > 0:
                        report.credit_sum += item.amount
                    else:
                        report.debit_sum -= item.amount
                    if len(report.first_lines) < keep:
                        report.first_lines.append(item)
                    if on_line is not None:
                        on_line(item)
                elif isinstance(item, StatementSummary):
                    report.statements.append(checker.close(item))
                    report.currencies.add(item.currency)
        if report.line_count == 0 and not report.statements:
            raise StatementError("the file holds no statement and no transactions")
    except StatementError as exc:
        report.error = f"{fmt.name}: {exc}"
    return report
