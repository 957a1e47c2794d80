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
#: Bits of the Bloom filter over the keys on disk (1 MiB, allocated only when keys spill).
BLOOM_BITS = 1 << 23


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
    one-day statement thus parses in bounded memory.

    Once keys are on disk, most lines still carry a key never seen before, and asking the database
    about each one cost some 5 µs a line (a fifth of camt's whole budget). So new keys collect in
    the dict again and go to disk ``memory_keys`` at a time, and a fixed-size Bloom filter of what
    is on disk (``bloom_bits``, 1 MiB) says which keys cannot be there: only its positives, true
    repeats and a few false ones (0.1 % at 100,000 keys on disk, 3 % at 800,000), cost a
    database lookup.
    """

    def __init__(self, memory_keys: int = MEMORY_KEYS, bloom_bits: int = BLOOM_BITS) -> None:
        self._day: dict[str, dt.date] = {}
        self._seen: dict[str, dict[bytes, int]] = {}  # normalised account -> digest -> times seen
        self._keep_all: set[str] = set()
        self._accounts: dict[str, str] = {}  # account as written -> normalised
        self._memory_keys = memory_keys
        self._disk: sqlite3.Connection | None = None
        self._on_disk: set[str] = set()  # accounts whose keys moved to the database
        self._bloom_bits = bloom_bits
        self._bloom: bytearray | None = None  # allocated at the first spill
        self._salt: dict[str, int] = {}  # per account, so one filter serves every account on disk
        self._tables: dict[str, str] = {}  # account -> its table in the database

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
        seen = self._seen[acct]
        ordinal = seen.get(key)
        if ordinal is not None:
            seen[key] = ordinal + 1
            return ordinal
        if acct in self._on_disk:
            if self._bloom_check(acct, key):
                return self._count_on_disk(acct, key)
        seen[key] = 1
        if len(seen) > self._memory_keys:
            self._move_to_disk(acct)
        return 0

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
                    self._disk.execute(f"DELETE FROM {self._tables[acct]}")
            else:
                self._keep_all.add(acct)
        self._day[acct] = max(booking_date, current or booking_date)

    def _bloom_check(self, acct: str, key: bytes) -> bool:
        """Whether ``key`` may be on disk for ``acct`` (never a false "no"); notes it as on disk.

        Two bits per key, taken from the two halves of the (already random) digest: some 0.1 %
        false positives at 100,000 keys, 3 % at 800,000, and each one only costs a lookup."""
        bloom, m = self._bloom, self._bloom_bits
        assert bloom is not None
        x = int.from_bytes(key, "little") ^ self._salt[acct]
        b1, b2 = (x & 0xFFFFFFFF) % m, (x >> 32) % m
        i1, i2, m1, m2 = b1 >> 3, b2 >> 3, 1 << (b1 & 7), 1 << (b2 & 7)
        present = bool(bloom[i1] & m1 and bloom[i2] & m2)
        bloom[i1] |= m1
        bloom[i2] |= m2
        return present

    def _move_to_disk(self, acct: str) -> None:
        """Send the dict's keys for ``acct`` to the database (the first spill, then every time the
        dict fills up again with new keys) and note them in the filter."""
        if self._disk is None:
            # "": a private temporary database, deleted when the connection closes. No journal and
            # one open transaction: nothing in it outlives this object.
            self._disk = sqlite3.connect("", isolation_level=None)
            self._disk.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048; BEGIN")
            self._bloom = bytearray((self._bloom_bits + 7) // 8)
        if acct not in self._tables:
            # A table per account, keyed by the digest as a 64-bit integer: SQLite's rowid B-tree,
            # its fastest, and a new day empties one table without a WHERE.
            table = self._tables[acct] = f"seen{len(self._tables)}"
            self._disk.execute(f"CREATE TABLE {table} (key INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        if acct not in self._salt:
            self._salt[acct] = int.from_bytes(hashlib.blake2b(acct.encode(), digest_size=8).digest(), "little")
        seen = self._seen[acct]
        if acct not in self._on_disk:  # later spills hold only keys the filter has already noted
            for k in seen:
                self._bloom_check(acct, k)
        # A key is in the dict only while it is not on disk: a plain insert, which fails loudly
        # rather than miscounting should that ever not hold. (Sorting the batch first cost more
        # than it saved.)
        self._disk.executemany(f"INSERT INTO {self._tables[acct]} VALUES (?, ?)",
                               ((int.from_bytes(k, "little", signed=True), n) for k, n in seen.items()))
        seen.clear()
        self._on_disk.add(acct)

    def _count_on_disk(self, acct: str, key: bytes) -> int:
        assert self._disk is not None
        table, number = self._tables[acct], int.from_bytes(key, "little", signed=True)
        if _RETURNING:  # one statement for lookup and increment
            return self._disk.execute(f"INSERT INTO {table} VALUES (?, 1) ON CONFLICT (key) DO UPDATE "
                                      "SET n = n + 1 RETURNING n - 1", (number,)).fetchone()[0]
        # RETURNING needs SQLite 3.35; some platforms Python links against (RHEL 9: 3.34) are older.
        # The database is private to this object: lookup then upsert cannot race.
        row = self._disk.execute(f"SELECT n FROM {table} WHERE key = ?", (number,)).fetchone()
        self._disk.execute(f"INSERT INTO {table} VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1", (number,))
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
