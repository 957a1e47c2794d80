"""``conciliador-csv``: a plain, documented CSV statement layout (docs/csv-statement.md).

It is what the demo generates and what a treasury can produce from any spreadsheet when its bank
offers nothing better. Bank-specific CSV and XLSX exports are read by profile-driven formats.

Layout: UTF-8 (a BOM is accepted), comma-separated, RFC 4180 quoting. Optional ``# key=value``
lines before the header describe the statement (``statement_id``, ``opening_balance``,
``closing_balance``). Then a header row naming the columns, in any order:

=================  ========  ==================================================
column             required  content
=================  ========  ==================================================
account            yes       the statement's account number
booking_date       yes       ``YYYY-MM-DD``
amount             yes       signed plain decimal, ``.`` as decimal mark: ``-1500.00``
currency           yes       ISO 4217, e.g. ``COP``
value_date                   ``YYYY-MM-DD``
bank_reference               the bank's reference for the entry
payer_name, payer_account, payer_id, remittance, transaction_code
=================  ========  ==================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from pydantic import ValidationError

from conciliador import HEAD_BYTES, BankFormat, StatementError, StatementLine, StatementSummary, hookimpl

REQUIRED = ("account", "booking_date", "amount", "currency")
OPTIONAL = ("value_date", "bank_reference", "end_to_end_id", "payer_name", "payer_account", "payer_id",
            "remittance", "transaction_code")
META_KEYS = ("statement_id", "opening_balance", "closing_balance")
MAGIC = "# conciliador-csv"
_AMOUNT = re.compile(r"[+-]?\d+(\.\d+)?")


class SimpleCsv(BankFormat):
    name = "conciliador-csv"
    description = "conciliador's own CSV statement layout (docs/csv-statement.md)"

    def detect(self, head: bytes, filename: str) -> float:
        try:
            text = head.decode("utf-8-sig", errors="strict")
        except UnicodeDecodeError as exc:
            # A full head may cut a multi-byte character at its end; any other decode error means
            # the file is not UTF-8.
            if exc.reason != "unexpected end of data" or len(head) < HEAD_BYTES:
                return 0.0
            text = head[: exc.start].decode("utf-8-sig")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return 0.0
        if lines[0].lower().startswith(MAGIC):
            return 1.0
        header = next((ln for ln in lines if not ln.startswith("#")), "")
        columns = {c.strip().strip('"').lower() for c in header.split(",")}
        return 0.9 if set(REQUIRED) <= columns else 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        meta: dict[str, str] = {}
        reader = csv.reader(_decoded_lines(stream), strict=True)
        header: list[str] | None = None
        ordinals: Counter[tuple[str, dt.date, str, Decimal]] = Counter()
        totals: dict[tuple[str, str], list] = {}
        try:
            for row in reader:
                pos = f"line {reader.line_num}"
                if not row or not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    if row[0].lstrip().startswith("#"):
                        _read_meta(",".join(row), meta, pos)
                        continue
                    header = [c.strip().lower() for c in row]
                    missing = [c for c in REQUIRED if c not in header]
                    if missing:
                        raise StatementError(f"the header lacks the column(s) {', '.join(missing)}", position=pos)
                    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
                    if unknown:
                        raise StatementError(f"unknown column(s) {', '.join(unknown)}", position=pos)
                    continue
                if len(row) != len(header):
                    raise StatementError(f"{len(row)} fields where the header has {len(header)}", position=pos)
                fields = dict(zip(header, (cell.strip() for cell in row)))
                line = _line(fields, pos, ordinals, meta.get("statement_id", ""))
                acc = totals.setdefault((line.account, line.currency), [Decimal(0), 0, line.booking_date, line.booking_date])
                acc[0] += line.amount
                acc[1] += 1
                acc[2] = min(acc[2], line.booking_date)
                acc[3] = max(acc[3], line.booking_date)
                yield line
        except csv.Error as exc:
            raise StatementError(f"malformed CSV: {exc}", position=f"line {reader.line_num}") from None
        if header is None:
            raise StatementError("no header row: the file is empty or holds only comments", position="line 1")
        if not totals:
            raise StatementError("the file has a header but no transactions", position=f"line {reader.line_num}")
        if len(totals) > 1 and ("opening_balance" in meta or "closing_balance" in meta):
            raise StatementError("balances are given but the file holds several accounts or currencies",
                                 position="header comments")
        for (account, currency), (_, count, first, last) in totals.items():
            yield StatementSummary(
                account=account,
                currency=currency,
                statement_id=meta.get("statement_id", ""),
                period_from=first,
                period_to=last,
                opening_balance=meta.get("opening_balance"),
                closing_balance=meta.get("closing_balance"),
                declared_count=None,
                position="header comments",
            )


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """Decode line by line, so a byte that is not UTF-8 is reported on its own line."""
    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise StatementError(f"byte {exc.start + 1} is not UTF-8 text; save the file as UTF-8",
                                 position=f"line {number}") from None


def _read_meta(text: str, meta: dict[str, str], pos: str) -> None:
    body = text.lstrip()[1:].strip()
    if not body or body.lower().startswith(MAGIC[2:]):
        return
    key, sep, value = body.partition("=")
    key, value = key.strip().lower(), value.strip()
    if not sep or key not in META_KEYS:
        raise StatementError(f"comment lines before the header must be key=value with key one of {', '.join(META_KEYS)}",
                             position=pos)
    if key.endswith("_balance") and not _AMOUNT.fullmatch(value):
        raise StatementError(f"{value!r} is not a plain decimal amount", position=pos, field=key)
    meta[key] = value


def _line(fields: dict[str, str], pos: str, ordinals: Counter, statement_id: str) -> StatementLine:
    for name in ("booking_date", "value_date"):
        if fields.get(name):
            try:
                fields[name] = dt.date.fromisoformat(fields[name])
            except ValueError:
                raise StatementError(f"{fields[name]!r} is not a date as YYYY-MM-DD", position=pos, field=name) from None
        else:
            fields.pop(name, None)
    if not _AMOUNT.fullmatch(fields["amount"]):
        raise StatementError(f"{fields['amount']!r} is not a plain decimal amount such as -1500.00",
                             position=pos, field="amount")
    amount = Decimal(fields["amount"])
    if amount == 0:
        raise StatementError("a transaction of zero", position=pos, field="amount")
    identity = (fields["account"], fields.get("booking_date"), fields.get("bank_reference", ""), amount)
    ordinal = ordinals[identity]
    ordinals[identity] += 1
    try:
        return StatementLine(**{k: v for k, v in fields.items() if v != ""}, ordinal=ordinal, position=pos,
                             statement_id=statement_id)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"])
        raise StatementError(f"{err['msg']} (got {err.get('input')!r})", position=pos, field=field) from None


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [SimpleCsv()]
