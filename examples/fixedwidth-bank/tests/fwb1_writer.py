"""Writes FWB1 files for the tests: the layout's records, field by field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path


def _signed(amount: Decimal, digits: int = 16) -> str:
    cents = int((abs(amount) * 100).to_integral_value())
    return ("-" if amount < 0 else "+") + str(cents).zfill(digits)


def header(account: str, currency: str, date: dt.date, statement_id: str, opening: Decimal) -> str:
    return f"HFWB1{account:<17}{currency}{date:%Y%m%d}{statement_id:<16}{_signed(opening)}"


def detail(booking: dt.date, amount: Decimal, reference: str = "", payer_id: str = "", payer: str = "",
           remittance: str = "", value: dt.date | None = None) -> str:
    cents = int((abs(amount) * 100).to_integral_value())
    return (f"D{booking:%Y%m%d}{value.strftime('%Y%m%d') if value else ' ' * 8}{'-' if amount < 0 else '+'}"
            f"{str(cents).zfill(15)}{reference:<16}{payer_id:<15}{payer:<30}{remittance:<40}").rstrip()


def trailer(count: int, total: Decimal, closing: Decimal) -> str:
    return f"T{count:06d}{_signed(total)}{_signed(closing)}"


def write_statement(path: Path, n: int, *, account: str = "0123456789", start: Decimal = Decimal("1000000.00")) -> None:
    """A valid statement of ``n`` credits."""
    day = dt.date(2026, 11, 20)
    total = Decimal(0)
    with open(path, "w", encoding="latin-1", newline="\r\n") as fh:
        fh.write(header(account, "COP", day, "EXT-LARGE", start) + "\n")
        for i in range(n):
            amount = Decimal(100_000 + i) + Decimal("0.50")
            total += amount
            fh.write(detail(day, amount, f"REF{i:010d}", f"{900000000 + i % 97}", f"Cliente {i % 97} S.A.S.",
                            f"PAGO FE-{i}", day) + "\n")
        fh.write(trailer(n, total, start + total) + "\n")
