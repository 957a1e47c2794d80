"""Helpers every bank-format plugin needs, so each format does not write its own.

Public for third-party plugins too: ``from conciliador.formats import Ordinals, parse_amount``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from decimal import Decimal

from .errors import StatementError

__all__ = ["Ordinals", "parse_amount", "parse_date", "secure_xml_parser_options"]

_DIGITS = re.compile(r"\d+")


class Ordinals:
    """Gives transactions that share account, booking date, bank reference and amount within one
    file the ordinals 0, 1, 2 ... in order, so two identical real transactions keep two identities
    and the same file read again gives the same ones.

    Memory stays bounded for files in date order (what banks send): per account only the current
    booking date's counts are kept. If a file's dates go backwards for an account, that account
    switches to keeping every count, which is always correct, only larger.
    """

    def __init__(self) -> None:
        self._day: dict[str, dt.date] = {}
        self._seen: dict[str, Counter[int]] = {}
        self._keep_all: set[str] = set()

    def __call__(self, account: str, booking_date: dt.date, bank_reference: str, amount: Decimal) -> int:
        acct = "".join(account.split()).replace("-", "").upper()
        seen = self._seen.setdefault(acct, Counter())
        current = self._day.get(acct)
        if current is not None and booking_date != current and acct not in self._keep_all:
            if booking_date > current:
                seen.clear()
            else:
                self._keep_all.add(acct)
        self._day[acct] = max(booking_date, current or booking_date)
        # An 8-byte digest instead of the tuple: a statement of one busy day keeps every entry of
        # that day here. blake2b, not hash(): Python randomises string hashes per process, and
        # ordinals must come out the same in every run.
        key = int.from_bytes(hashlib.blake2b(
            f"{booking_date.isoformat()}\x1f{bank_reference.strip()}\x1f{amount.normalize()}".encode(), digest_size=8
        ).digest(), "big")
        ordinal = seen[key]
        seen[key] += 1
        return ordinal


def parse_amount(text: str, *, decimal_mark: str = ".", thousands: str = "", implied_decimals: int | None = None,
                 position: str = "", field: str = "amount") -> Decimal:
    """Parse an amount written as text, exactly.

    ``decimal_mark`` is ``.`` or ``,``; ``thousands`` the group separator allowed (``""`` for
    none, ``.``, ``,``, ``" "`` or ``"'"``); ``implied_decimals`` for fixed-width formats whose
    amounts are digits only (Asobancaria, BAI2: ``123456`` with 2 implied decimals is 1234.56).
    A leading ``-`` or ``+`` is kept. Anything else raises :class:`StatementError` naming
    ``position`` and ``field``.
    """
    raw = text
    text = text.strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:].strip()
    if implied_decimals is not None:
        if not _DIGITS.fullmatch(text):
            raise StatementError(f"{raw!r} is not an amount of digits only", position=position, field=field)
        value = Decimal(text).scaleb(-implied_decimals)
        return -value if sign else value
    whole, mark, fraction = text.partition(decimal_mark)
    if thousands:
        # Separators belong in the whole part only, in groups of three: "1,000.00" read with
        # decimal mark "," is refused, never taken as 1.00000.
        groups = whole.split(thousands)
        if len(groups) > 1 and (not (1 <= len(groups[0]) <= 3) or any(len(g) != 3 for g in groups[1:])):
            raise StatementError(f"{raw!r} has misplaced thousands separators", position=position, field=field)
        whole = "".join(groups)
    if not whole and mark:
        whole = "0"
    if not _DIGITS.fullmatch(whole) or (fraction and not _DIGITS.fullmatch(fraction)):
        raise StatementError(f"{raw!r} is not an amount (decimal mark {decimal_mark!r})", position=position, field=field)
    return Decimal(f"{sign}{whole}.{fraction or '0'}") if mark else Decimal(f"{sign}{whole}")


def parse_date(text: str, fmt: str, *, position: str = "", field: str = "date") -> dt.date:
    """``datetime.strptime`` with an error that names the position and field."""
    try:
        return dt.datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        raise StatementError(f"{text!r} is not a valid date as {fmt}", position=position, field=field) from None


def secure_xml_parser_options() -> dict:
    """Keyword arguments for every lxml parser or iterparse reading bank XML: no entities, no
    network, no DTD (CVE-2026-41066: iterparse resolved entities by default before lxml 6.1)."""
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
