"""Helpers every bank-format plugin needs, so each format does not write its own.

Public for third-party plugins too: ``from conciliador.formats import Ordinals, parse_amount``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from decimal import Decimal

from .errors import StatementError

__all__ = ["Ordinals", "parse_amount", "parse_date", "secure_xml_parser_options"]

_DIGITS = re.compile(r"\d+")
#: Keys of one account's current day that :class:`Ordinals` keeps in memory (some 3 MiB)
#: before it moves them to disk.
MEMORY_KEYS = 1 << 15


_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


class Ordinals:
    """Gives transactions that share account, booking date, bank reference and amount within one
    file the ordinals 0, 1, 2 ... in order, so two identical real transactions keep two identities
    and the same file read again gives the same ones.

    Only the current booking date's keys are kept per account (files come in date order, which is
    what banks send); if a file's dates go backwards for an account, that account switches to
    keeping every key, which is always correct, only larger. The ordinals must be exact (an
    intraday camt.052 and the end-of-day camt.053 must give a transaction the same identity), so
    every key of the day is remembered: up to ``memory_keys`` of them in a dict (an 8-byte digest
    each, some 100 bytes with the dict's own cost), beyond that in a private temporary SQLite
    database, which holds a bounded page cache in memory and the rest on disk. A busy account's
    one-day statement thus parses in bounded memory, at some 4 µs more per line past the limit.
    """

    def __init__(self, memory_keys: int = MEMORY_KEYS) -> None:
        self._day: dict[str, dt.date] = {}
        self._seen: dict[str, dict[bytes, int]] = {}  # normalised account -> digest -> times seen
        self._keep_all: set[str] = set()
        self._accounts: dict[str, str] = {}  # account as written -> normalised
        self._memory_keys = memory_keys
        self._disk: sqlite3.Connection | None = None
        self._on_disk: set[str] = set()  # accounts whose keys moved to the database

    def __call__(self, account: str, booking_date: dt.date, bank_reference: str, amount: Decimal) -> int:
        acct = self._accounts.get(account)
        if acct is None:
            acct = self._normalise(account)
        if booking_date != self._day.get(acct):
            self._change_day(acct, booking_date)
        # An 8-byte digest instead of the tuple: a statement of one busy day keeps every entry of
        # that day. blake2b, not hash(): Python randomises string hashes per process, and
        # ordinals must come out the same in every run.
        key = hashlib.blake2b(f"{booking_date.isoformat()}\x1f{bank_reference.strip()}\x1f{amount.normalize()}"
                              .encode(), digest_size=8).digest()
        if acct in self._on_disk:
            return self._count_on_disk(acct, key)
        seen = self._seen[acct]
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        if len(seen) > self._memory_keys:
            self._move_to_disk(acct)
        return ordinal

    def _normalise(self, account: str) -> str:
        if len(self._accounts) > 1024:  # a file has a handful of accounts; anything else is not worth caching
            self._accounts.clear()
        acct = self._accounts[account] = "".join(account.split()).replace("-", "").upper()
        return acct

    def _change_day(self, acct: str, booking_date: dt.date) -> None:
        current = self._day.get(acct)
        if current is None:
            self._seen[acct] = {}
        elif acct not in self._keep_all:
            if booking_date > current:
                self._seen[acct].clear()
                if acct in self._on_disk:
                    self._on_disk.discard(acct)
                    assert self._disk is not None
                    self._disk.execute("DELETE FROM seen WHERE account = ?", (acct,))
            else:
                self._keep_all.add(acct)
        self._day[acct] = max(booking_date, current or booking_date)

    def _move_to_disk(self, acct: str) -> None:
        if self._disk is None:
            # "": a private temporary database, deleted when the connection closes. No journal and
            # one open transaction: nothing in it outlives this object.
            self._disk = sqlite3.connect("", isolation_level=None)
            self._disk.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048;"
                "CREATE TABLE seen (account TEXT, key BLOB, n INTEGER NOT NULL, PRIMARY KEY (account, key))"
                " WITHOUT ROWID; BEGIN")
        seen = self._seen[acct]
        self._disk.executemany("INSERT INTO seen VALUES (?, ?, ?)", ((acct, k, n) for k, n in seen.items()))
        seen.clear()
        self._on_disk.add(acct)

    def _count_on_disk(self, acct: str, key: bytes) -> int:
        assert self._disk is not None
        if _RETURNING:  # one statement for lookup and increment
            return self._disk.execute("INSERT INTO seen VALUES (?, ?, 1) ON CONFLICT (account, key) DO UPDATE "
                                      "SET n = n + 1 RETURNING n - 1", (acct, key)).fetchone()[0]
        # RETURNING needs SQLite 3.35; some platforms Python links against (RHEL 9: 3.34) are older.
        # The database is private to this object: lookup then upsert cannot race.
        row = self._disk.execute("SELECT n FROM seen WHERE account = ? AND key = ?", (acct, key)).fetchone()
        self._disk.execute("INSERT INTO seen VALUES (?, ?, 1) ON CONFLICT (account, key) DO UPDATE SET n = n + 1",
                           (acct, key))
        return row[0] if row else 0


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
