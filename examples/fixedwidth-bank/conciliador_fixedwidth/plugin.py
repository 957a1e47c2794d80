"""The FWB1 fixed-width statement layout: one header, one record per transaction, one trailer.

Text in Latin-1 (ISO-8859-1), one record per line (LF or CRLF), positions 1-based:

====== ===========  =============================================================
record positions    field
====== ===========  =============================================================
H      1            ``H``
       2-5          ``FWB1`` (the layout's magic)
       6-22         account number, left-aligned, space-padded
       23-25        currency, ISO 4217
       26-33        statement date ``YYYYMMDD``
       34-49        statement id
       50-66        opening balance: sign ``+``/``-`` and 16 digits, 2 implied decimals
D      1            ``D``
       2-9          booking date ``YYYYMMDD``
       10-17        value date ``YYYYMMDD`` or spaces
       18           sign ``+`` (credit, money in) or ``-``
       19-33        amount, 15 digits, 2 implied decimals
       34-49        bank reference
       50-64        payer's tax id (NIT)
       65-94        payer's name
       95-134       remittance text
T      1            ``T``
       2-7          number of D records
       8-24         sum of the D amounts: sign and 16 digits, 2 implied decimals
       25-41        closing balance: sign and 16 digits, 2 implied decimals
====== ===========  =============================================================

Trailing spaces may be trimmed by the bank's software, so a record may be shorter than its last
field's end; a record longer than its layout is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from pydantic import ValidationError

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, parse_amount, parse_date

# The plugin API this plugin is written for; conciliador refuses it at load if it cannot honour it.
CONCILIADOR_PLUGIN_API = "1"

MAGIC = b"HFWB1"
LENGTHS = {"H": 66, "D": 134, "T": 41}


def _signed(record: str, start: int, end: int, position: str, field: str):
    text = record[start - 1:end]
    if text[:1] not in "+-" or not text[1:].isdigit():
        raise StatementError(f"{text!r} is not a sign and {end - start} digits", position=position, field=field)
    return parse_amount(text, implied_decimals=2, position=position, field=field)


class FixedWidth(BankFormat):
    name = "fwb1"
    description = "FWB1 fixed-width statement layout (example plugin)"

    def detect(self, head: bytes, filename: str) -> float:
        return 1.0 if head.lstrip(b"\xef\xbb\xbf").startswith(MAGIC) else 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        header: dict | None = None
        ordinals = Ordinals()
        count, total = 0, 0
        number = 0
        for number, raw in enumerate(stream, start=1):
            position = f"line {number}"
            record = raw.decode("latin-1").rstrip("\r\n")
            if number == 1:
                record = record.removeprefix("\u00ef\u00bb\u00bf")  # a UTF-8 BOM read as Latin-1
            if not record.strip():
                continue
            kind = record[0]
            if kind not in LENGTHS:
                raise StatementError(f"unknown record type {kind!r}; expected H, D or T", position=position,
                                     field="record type")
            if len(record) > LENGTHS[kind]:
                raise StatementError(f"a {kind} record is {LENGTHS[kind]} characters long, this one {len(record)}",
                                     position=position, field="record length")
            if kind == "H":
                if header is not None:
                    raise StatementError("a second header before the trailer", position=position, field="record type")
                if record[1:5] != "FWB1":
                    raise StatementError(f"{record[1:5]!r} is not the FWB1 magic", position=position, field="magic")
                header = {
                    "account": record[5:22].strip(),
                    "currency": record[22:25],
                    "date": parse_date(record[25:33], "%Y%m%d", position=position, field="statement date"),
                    "statement_id": record[33:49].strip(),
                    "opening": _signed(record, 50, 66, position, "opening balance"),
                    "position": position,
                }
                if not header["account"]:
                    raise StatementError("the account number is empty", position=position, field="account")
                count, total = 0, 0
                continue
            if header is None:
                raise StatementError(f"a {kind} record before the header", position=position, field="record type")
            if kind == "D":
                sign = record[17:18]
                if sign not in ("+", "-"):
                    raise StatementError(f"{sign!r} is not a sign (+ or -)", position=position, field="sign")
                amount = parse_amount(sign + record[18:33], implied_decimals=2, position=position, field="amount")
                if amount == 0:
                    raise StatementError("a transaction of zero", position=position, field="amount")
                booking = parse_date(record[1:9], "%Y%m%d", position=position, field="booking date")
                value = record[9:17].strip()
                reference = record[33:49].strip()
                try:
                    line = StatementLine(
                        account=header["account"], currency=header["currency"], booking_date=booking,
                        value_date=parse_date(value, "%Y%m%d", position=position, field="value date") if value else None,
                        amount=amount, bank_reference=reference, payer_id=record[49:64].strip(),
                        payer_name=record[64:94].strip(), remittance=record[94:134].strip(),
                        statement_id=header["statement_id"], position=position,
                        ordinal=ordinals(header["account"], booking, reference, amount),
                    )
                except ValidationError as exc:  # a currency that is not ISO 4217, and the like
                    err = exc.errors(include_url=False)[0]
                    raise StatementError(f"{err['msg']} (got {err.get('input')!r})", position=position,
                                         field=".".join(map(str, err["loc"]))) from None
                count += 1
                total += amount
                yield line
            else:  # T
                declared = record[1:7]
                if not declared.isdigit():
                    raise StatementError(f"{declared!r} is not a count", position=position, field="count")
                yield StatementSummary(
                    account=header["account"], currency=header["currency"], statement_id=header["statement_id"],
                    period_to=header["date"], opening_balance=header["opening"],
                    closing_balance=_signed(record, 25, 41, position, "closing balance"),
                    declared_count=int(declared), declared_total=_signed(record, 8, 24, position, "total"),
                    position=position,
                )
                header = None
        if header is not None:
            raise StatementError("the file ends without a trailer (T record): it may be cut short",
                                 position=f"line {number + 1}", field="record type")
        if number == 0:
            raise StatementError("the file is empty", position="line 1")


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [FixedWidth()]
