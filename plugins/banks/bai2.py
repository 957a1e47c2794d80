"""``bai2``: BAI Cash Management Balance Reporting Specifications, Version 2 (BAI2).

Sources: BAI, *Cash Management Balance Reporting Specifications Version 2, Technical Reference
Manual* (10/2005), cited below as "spec"; the type-code ranges of its Appendix A as catalogued by
moov-io/bai2 (``pkg/bai2/type_codes*.go``); and the traps listed in
``shared/reference/bank-formats.md`` section 3, found in public sample files.

Structure (spec, "File structure")::

    01 file header      sender, receiver, creation date YYMMDD, time HHMM, file id,
                        physical record length, block size, version number (2)
    02 group header     receiver, originator, group status, as-of date YYMMDD, as-of time,
                        currency, as-of date modifier
    03 account          account number, currency, then repeating
                        type code, amount, item count, funds type [+ funds fields]
    16 detail           type code, amount, funds type [+ funds fields], bank reference,
                        customer reference, text
    88 continuation     continues the record before it
    49 account trailer  control total, number of records
    98 group trailer    control total, number of accounts, number of records
    99 file trailer     control total, number of groups, number of records

What real files do that the spec does not say (all handled here, see :func:`_records`):
records end at the newline without ``/``; several records share one physical line
(``.../ 16,...``); a record (a long 16 text) goes on over a plain new line without ``88``; 16
text holds commas and ``/``; ``88:`` is written with a colon; an ``88`` splits a summary between
its type code and its amount (the fields simply continue, as in moov-io's reader).

One statement per 03 account: its lines, then a :class:`StatementSummary` with the 010 opening
ledger and 015 closing ledger as balances (when the 03 reports them) and the group's as-of date as
period. The control totals and record counts of 49/98/99 are verified here (see
:class:`_Group` for the rule applied when the trailers contradict each other).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import IO

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, parse_amount

log = logging.getLogger(__name__)

RECORD_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")

# A record starts with its two-digit code and a comma at the start of a physical line (leading
# blanks tolerated). "88:" (colon) is seen in moov-io sample5; no other code is seen with a colon.
_START = re.compile(r"[ \t]*([0-9][0-9])([,:])")
# Inside 16 text a "/" is text (spec: the text field runs to the end of the record), so in text a
# record ends only at a "/" followed by blanks and the start of a known record, or at the end of
# the line. Blanks are required so "AB/GS/01,..." in a reference does not split the record.
_TEXT_END = re.compile(r"/\s+(?=(?:0[123]|16|49|9[89]),|88[,:])")

# ISO 4217 minor units that are not 2 (the spec's amounts carry "implied decimals" by currency).
_EXPONENT = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# Spec, 02 record: a blank group currency means USD; a blank 03 currency means the group's.
DEFAULT_CURRENCY = "USD"

# Funds type (spec, "Funds Type"): how many fields follow the funds type code.
#   Z unknown, 0 immediate, 1 one-day, 2 two-or-more-day availability: none;
#   S: immediate, one-day, two-or-more-day amounts (3); V: value date YYMMDD, time HHMM (2);
#   D: number of distributions n, then n pairs of (days, amount).
_FUNDS_FIXED = {"": 0, "Z": 0, "0": 0, "1": 0, "2": 0, "S": 3, "V": 2}

_CURRENCY = re.compile(r"[A-Z]{3}")
_INT = re.compile(r"[+-]?[0-9]+")
_CODE = re.compile(r"[0-9]{3}")
_YYMMDD = re.compile(r"[0-9]{6}")
_DIGITS = re.compile(r"[0-9]+")

# Keyed addenda some banks put in 88 continuations of a 16 ("EREF: ...", "DBNM: ..."; seen in the
# Goldman Sachs file of moov-io sample4/5): end-to-end reference, and debtor / creditor name and
# account. The counterparty of a credit is the debtor, of a debit the creditor.
_ADDENDUM = re.compile(r"^\s*([A-Z]{4}):\s*(.*?)\s*$")


def _direction(code: int) -> int:
    """+1 credit, -1 debit, 0 non-monetary, for a 16 type code (spec Appendix A ranges)."""
    if 100 <= code <= 399 or 720 <= code <= 728 or 920 <= code <= 959:
        return 1  # credits; 720-728 loan payments applied (2001 lending codes); 920-959 custom credits
    if 400 <= code <= 699 or code == 760 or 960 <= code <= 999:
        return -1  # debits; 760 loan disbursement; 960-999 custom debits
    if code == 890:
        return 0  # "contains non-monetary information": no money moves
    raise ValueError(code)


class Bai2(BankFormat):
    name = "bai2"
    description = "BAI2 cash management balance reporting files (01/02/03/16/49/98/99 records)"

    def detect(self, head: bytes, filename: str) -> float:
        text = head.decode("latin-1")  # decodes any byte
        if text.startswith("\xef\xbb\xbf"):
            text = text[3:]
        # 01, sender, receiver, creation date YYMMDD, creation time (blanks around fields are seen)
        if not re.match(r"\s*01,([^,/\r\n]*,){2}[ \t]*\d{6}[ \t]*,[ \t]*\d{0,4}[ \t]*,", text):
            return 0.0
        # A group header right after the file header (same line or the next) makes it certain.
        return 1.0 if re.search(r"(?:^|[\n/])\s*02,", text) else 0.6

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        return _Parser().run(_records(stream))


# -- physical lines -> logical records -------------------------------------------------------

@dataclass
class _Record:
    code: str
    line: int                  # physical line where the record starts
    parts: list[str] = field(default_factory=list)
    count: int = 1             # records as the trailers count them: the record and its 88s
    terminated: bool = False   # its last piece ended with "/"

    @property
    def body(self) -> str:
        return "".join(self.parts)


# Markers inside a logical record's body: where an 88 continued it (a field separator: the 88's
# first field follows the record's last field) and where a plain new line continued it (nothing in
# the fixed fields, a blank in text).
_CONT88 = "\x00"
_CONTLINE = "\x01"


def _decode(raw: bytes, number: int) -> str:
    # The spec's character set is ASCII; text fields in the wild are UTF-8 or Windows-1252.
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _records(stream: IO[bytes]) -> Iterator[_Record]:
    """Logical records (the record plus its 88 continuations) from the physical lines."""
    cur: _Record | None = None
    number = 0
    for number, raw in enumerate(stream, start=1):
        line = _decode(raw, number).rstrip("\r\n")
        if _CONT88 in line or _CONTLINE in line:
            # NUL padding (mainframe transfers) and other control bytes are no BAI2 characters;
            # blanks, so they cannot pass for the markers below.
            line = line.replace(_CONT88, " ").replace(_CONTLINE, " ")
        if not line.strip():
            continue
        rest = line
        if not _START.match(line):
            # A plain line that does not start a record continues the open one (sample3 wraps a 16
            # text this way). After a "/" nothing is open: the line is garbage.
            if cur is None or cur.terminated:
                raise StatementError(f"the line does not start with a record type (two digits and a comma): "
                                     f"{line.strip()[:40]!r}", position=f"line {number}")
            cur.parts.append(_CONTLINE)
            rest = _take(cur, line)
        while rest:
            m = _START.match(rest)
            if not m:
                raise StatementError(f"unexpected text after the end of a record: {rest.strip()[:40]!r}",
                                     position=f"line {number}")
            code, sep = m.group(1), m.group(2)
            if code not in RECORD_CODES:
                raise StatementError(f"unknown record type {code!r} (BAI2 has 01, 02, 03, 16, 49, 88, 98, 99)",
                                     position=f"line {number}", field="record type")
            if sep == ":" and code != "88":
                raise StatementError(f"record type {code} must be followed by a comma", position=f"line {number}")
            body = rest[m.end():]
            if code == "88":
                if cur is None:
                    raise StatementError("an 88 continuation record with no record before it to continue",
                                         position=f"line {number}", field="record type")
                cur.parts.append(_CONT88)
                cur.count += 1
            else:
                if cur is not None:
                    yield cur
                cur = _Record(code, number)
            rest = _take(cur, body)
    if cur is not None:
        yield cur


def _take(rec: _Record, text: str) -> str:
    """Append to ``rec`` the part of ``text`` that belongs to it; return what follows its end."""
    if rec.code == "16":
        m = _TEXT_END.search(text)
        if m:
            rec.parts.append(text[: m.start()])
            rec.terminated = True
            return text[m.end():]
        stripped = text.rstrip()
        rec.terminated = stripped.endswith("/")
        rec.parts.append(stripped[:-1] if rec.terminated else text)
        return ""
    cut = text.find("/")
    if cut < 0:
        rec.parts.append(text)
        rec.terminated = False
        return ""
    rec.parts.append(text[:cut])
    rec.terminated = True
    return text[cut + 1:].strip()


# -- logical records -> lines and summaries -------------------------------------------------

def _fields(rec: _Record) -> list[str]:
    """Fields of a record without free text: 88 pieces continue the field list."""
    return [f.strip() for f in rec.body.replace(_CONTLINE, "").replace(_CONT88, ",").split(",")]


class _Cursor:
    """Takes a 16 record's fixed fields one by one; the text is whatever remains."""

    _SEP = re.compile(r"[,\x00]")

    def __init__(self, body: str) -> None:
        self.body = body
        self.pos = 0

    def next(self) -> str:
        if self.pos > len(self.body):
            return ""  # "/" ended the record early: the remaining fields are defaulted (spec)
        m = self._SEP.search(self.body, self.pos)
        end = m.start() if m else len(self.body)
        value = self.body[self.pos:end].replace(_CONTLINE, "").strip()
        self.pos = end + 1
        return value

    def text(self) -> str:
        if self.pos > len(self.body):
            return ""
        text = self.body[self.pos:].replace(_CONT88, " ").replace(_CONTLINE, " ")
        return " ".join(text.split())


def _int(text: str, pos: str, field: str, *, blank: int | None = 0) -> int | None:
    """A control value as written (an integer, sign allowed); ``blank`` for an empty field."""
    text = text.strip()
    if not text:
        return blank
    if not _INT.fullmatch(text):
        raise StatementError(f"{text!r} is not a whole number", position=pos, field=field)
    return int(text)


@lru_cache(maxsize=256)
def _yymmdd(text: str) -> dt.date | None:
    if not _YYMMDD.fullmatch(text):
        return None
    try:
        return dt.date(2000 + int(text[:2]) if int(text[:2]) < 69 else 1900 + int(text[:2]), int(text[2:4]),
                       int(text[4:]))  # the %y pivot of strptime: 69-99 are 1969-1999
    except ValueError:
        return None


def _date(text: str, pos: str, field: str) -> dt.date:
    value = _yymmdd(text)
    if value is None:
        raise StatementError(f"{text!r} is not a date as YYMMDD", position=pos, field=field)
    return value


def _currency(text: str, default: str, pos: str) -> str:
    if not text:
        return default
    if not _CURRENCY.fullmatch(text):
        raise StatementError(f"{text!r} is not an ISO 4217 currency code", position=pos, field="currency")
    return text


def _funds(take, funds: str, pos: str) -> str | None:
    """Consume the funds-type fields after ``funds``; return the value date (V) if any."""
    funds = funds.upper()
    if funds == "D":
        raw = take()
        n = _int(raw, pos, "funds distribution count")
        if n is None or n < 0 or n > 99:
            raise StatementError(f"{raw!r} is not a number of distributions", position=pos, field="funds type D")
        for _ in range(n):
            _int(take(), pos, "funds distribution days")
            _int(take(), pos, "funds distribution amount")
        return None
    if funds not in _FUNDS_FIXED:
        raise StatementError(f"unknown funds type {funds!r} (Z, 0, 1, 2, S, V or D)", position=pos,
                             field="funds type")
    values = [take() for _ in range(_FUNDS_FIXED[funds])]
    if funds == "S":
        for v in values:
            _int(v, pos, "funds availability amount")
    if funds == "V":
        return values[0] or None
    return None


@dataclass
class _Account:
    number: str
    currency: str
    line: int
    statement_id: str
    opening: Decimal | None = None
    closing: Decimal | None = None
    summary_total: int = 0      # 03/88 summary amounts as written
    detail_total: int = 0       # 16 amounts as written
    records: int = 0            # 03 + 16 + 88 + 49


@dataclass
class _Group:
    """One 02..98 group and what its trailers must agree with.

    Control rule (spec: 49 = the account's amounts, 98 = the sum of its 49s, 99 = the sum of the
    98s; counts include the level's header, trailer and 88s):

    * The 99 must agree with the 98s it closes (total, groups, records = their records + 2).
    * A group must hold at least the accounts its 98 declares: fewer means accounts were lost.
    * When a group's trailers agree with one another (98 total = sum of its 49 totals, accounts
      = accounts present, records = sum of the 49 counts + 2), every 49 must agree with the
      records it closes: a mismatch there is a lost, duplicated or altered record, and the file
      is refused naming that 49.
    * When they do not agree with one another, the trailers were written for another version of
      the group and cannot tell a damaged record from a stale trailer, so its 49 checks are not
      applied (a warning is logged). This is moov-io sample4/5 (truth.json: "parse"): an account
      and 85 (sample5: 90) 88 records were added after the trailers were written, so the 98 still
      says 4 accounts and 16 records where 5 accounts and 114 (122) records are present, and two
      49s disagree with their records in count and total. Those lines still meet the core's
      balance check (010 + lines = 015), which reports the break in that file's account 104108339.
      Damage to the records alone (a lost, repeated or altered 16 or 88) leaves the trailers
      agreeing with one another and is refused by the rule above; losing a whole account is
      refused by the account count.
    """

    line: int
    originator: str
    as_of: dt.date
    currency: str
    records: int = 0
    accounts: int = 0
    declared_49_total: int | None = 0   # None once a 49 total is blank
    declared_49_records: int | None = 0
    mismatches: list[StatementError] = field(default_factory=list)


class _Parser:
    def __init__(self) -> None:
        self.ordinals = Ordinals()
        self.file_open = False
        self.file_records = 0
        self.file_groups = 0
        self.declared_98_total: int | None = 0
        self.declared_98_records: int | None = 0
        self.group: _Group | None = None
        self.account: _Account | None = None
        self.statement_ids: dict[str, int] = {}
        self.last_line = 0
        self.seen_file = False

    def run(self, records: Iterator[_Record]) -> Iterator[StatementLine | StatementSummary]:
        for rec in records:
            self.last_line = rec.line
            pos = f"line {rec.line}"
            if not self.file_open:
                if rec.code != "01":
                    raise StatementError(f"the file must start with a 01 file header, not a {rec.code} record",
                                         position=pos, field="record type")
                self._file_header(rec, pos)
                continue
            self.file_records += rec.count
            if self.group is not None:
                self.group.records += rec.count
            if self.account is not None:
                self.account.records += rec.count
            code = rec.code
            if code == "02":
                self._group_header(rec, pos)
            elif code == "03":
                self._account_header(rec, pos)
            elif code == "16":
                line = self._detail(rec, pos)
                if line is not None:
                    yield line
            elif code == "49":
                yield self._account_trailer(rec, pos)
            elif code == "98":
                self._group_trailer(rec, pos)
            elif code == "99":
                self._file_trailer(rec, pos)
            else:  # a second 01 before the 99
                raise StatementError("a 01 file header inside a file: the 99 file trailer is missing before it",
                                     position=pos, field="record type")
        if not self.seen_file:
            raise StatementError("the file is empty: no 01 file header", position="line 1")
        if self.file_open:
            open_level = ("account " + self.account.number + " (its 49 trailer)" if self.account
                          else "a group (its 98 trailer)" if self.group else "the file (its 99 trailer)")
            raise StatementError(f"the file is truncated: it ends inside {open_level}",
                                 position=f"line {self.last_line}")

    # -- headers ---------------------------------------------------------------------------
    def _file_header(self, rec: _Record, pos: str) -> None:
        f = _fields(rec)
        f += [""] * (8 - len(f))
        _date(f[2], pos, "file creation date")
        if f[7] != "2":
            raise StatementError(f"version {f[7] or '(blank)'!r}: only BAI version 2 files are read "
                                 f"(BTRS version 3 is a different layout)", position=pos, field="version number")
        self.file_open = self.seen_file = True
        self.file_records = rec.count
        self.file_groups = 0
        self.declared_98_total = 0
        self.declared_98_records = 0

    def _group_header(self, rec: _Record, pos: str) -> None:
        if self.group is not None:
            raise StatementError("a 02 group header before the 98 trailer of the previous group",
                                 position=pos, field="record type")
        f = _fields(rec)
        f += [""] * (7 - len(f))
        if f[2] == "2":
            # Group status 2 = deletion of a group sent before: its entries must not be booked.
            raise StatementError("group status 2 (deletion of a previously sent group) cannot be taken as a "
                                 "statement", position=pos, field="group status")
        as_of = _date(f[3], pos, "as-of date")
        self.group = _Group(rec.line, f[1], as_of, _currency(f[5], DEFAULT_CURRENCY, pos), records=rec.count)
        self.file_groups += 1

    def _account_header(self, rec: _Record, pos: str) -> None:
        g = self.group
        if g is None:
            raise StatementError("a 03 account record outside a group (no 02 group header)", position=pos,
                                 field="record type")
        if self.account is not None:
            raise StatementError(f"a 03 account record before the 49 trailer of account {self.account.number}",
                                 position=pos, field="record type")
        f = _fields(rec)
        f += [""] * (2 - len(f))
        number = f[0]
        if not number:
            raise StatementError("the 03 record has no account number", position=pos, field="account number")
        currency = _currency(f[1], g.currency, pos)
        exp = _EXPONENT.get(currency, 2)
        sid = f"{g.originator}/{g.as_of:%y%m%d}/{number}"
        seen = self.statement_ids.get(sid, 0)
        self.statement_ids[sid] = seen + 1
        if seen:
            sid = f"{sid}#{seen + 1}"
        acc = _Account(number, currency, rec.line, sid, records=rec.count)
        g.accounts += 1
        fields = iter(f[2:])
        remaining = len(f) - 2

        def take() -> str:
            nonlocal remaining
            remaining -= 1
            return next(fields, "")

        while remaining > 0:
            if not any(f[len(f) - remaining:]):
                break  # trailing empty fields ("...,,/")
            code, amount, count, funds = take(), take(), take(), take()
            _funds(take, funds, pos)
            if not code:
                if amount:
                    raise StatementError(f"summary amount {amount!r} without a type code", position=pos,
                                         field="type code")
                continue
            if not _CODE.fullmatch(code):
                raise StatementError(f"{code!r} is not a three-digit type code", position=pos, field="type code")
            _int(count, pos, f"item count of {code}")
            acc.summary_total += _int(amount, pos, f"amount of {code}") or 0
            if code in ("010", "015") and amount:
                value = parse_amount(amount, implied_decimals=exp, position=pos, field=f"amount of {code}")
                if code == "010":
                    acc.opening = value
                else:
                    acc.closing = value
        self.account = acc

    # -- details ---------------------------------------------------------------------------
    def _detail(self, rec: _Record, pos: str) -> StatementLine | None:
        acc, g = self.account, self.group
        if acc is None or g is None:
            raise StatementError("a 16 detail record outside an account (no 03 record before it)",
                                 position=pos, field="record type")
        body = rec.body
        parts = body.split(",", 3)
        funds = parts[2].strip().upper() if len(parts) > 2 else ""
        if _CONT88 in body or _CONTLINE in body or funds not in _FUNDS_FIXED:
            # 88 or wrapped pieces, or a D distribution: field by field
            cur = _Cursor(body)
            code, amount_text, funds = cur.next(), cur.next(), cur.next()
            value_date_text = _funds(cur.next, funds, pos)
            bank_ref, customer_ref = cur.next(), cur.next()
            text = cur.text()
        else:  # the common case, one piece: plain splits
            parts += [""] * (4 - len(parts))
            code, amount_text = parts[0].strip(), parts[1].strip()
            extra = _FUNDS_FIXED[funds]
            rest = parts[3].split(",", extra + 2)
            rest += [""] * (extra + 3 - len(rest))
            value_date_text = rest[0].strip() or None if funds == "V" else None
            if funds == "S":
                for v in rest[:3]:
                    _int(v, pos, "funds availability amount")
            bank_ref, customer_ref = rest[extra].strip(), rest[extra + 1].strip()
            text = " ".join(rest[extra + 2].split())
        if not _CODE.fullmatch(code):
            raise StatementError(f"{code!r} is not a three-digit type code", position=pos, field="type code")
        try:
            direction = _direction(int(code))
        except ValueError:
            raise StatementError(f"type code {code} is not a credit (100-399) or debit (400-699) detail code",
                                 position=pos, field="type code") from None
        if not amount_text:
            raise StatementError(f"the 16 record (type {code}) has no amount", position=pos, field="amount")
        if not _DIGITS.fullmatch(amount_text):
            # Spec: detail amounts are unsigned; the type code gives the direction.
            raise StatementError(f"{amount_text!r} is not an unsigned amount of digits", position=pos,
                                 field="amount")
        acc.detail_total += int(amount_text)
        if direction == 0:
            return None
        value_date = _date(value_date_text, pos, "value date") if value_date_text else None
        amount = parse_amount(amount_text, implied_decimals=_EXPONENT.get(acc.currency, 2), position=pos) * direction
        addenda = _addenda(rec)
        if direction > 0:
            payer_name, payer_account = addenda.get("DBNM", ""), addenda.get("DACT", "")
        else:
            payer_name, payer_account = addenda.get("CRNM", ""), addenda.get("CACT", "")
        return StatementLine(
            account=acc.number,
            currency=acc.currency,
            booking_date=g.as_of,
            value_date=value_date,
            amount=amount,
            bank_reference=bank_ref,
            end_to_end_id=customer_ref or addenda.get("EREF", ""),
            payer_name=payer_name,
            payer_account=payer_account,
            remittance=text,
            transaction_code=code,
            statement_id=acc.statement_id,
            ordinal=self.ordinals(acc.number, g.as_of, bank_ref, amount),
            position=pos,
        )

    # -- trailers --------------------------------------------------------------------------
    def _account_trailer(self, rec: _Record, pos: str) -> StatementSummary:
        acc, g = self.account, self.group
        if acc is None or g is None:
            raise StatementError("a 49 account trailer without its 03 account record", position=pos,
                                 field="record type")
        f = _fields(rec) + ["", ""]
        total = _int(f[0], pos, "49 control total", blank=None)
        count = _int(f[1], pos, "49 number of records", blank=None)
        computed = acc.summary_total + acc.detail_total
        if total is not None and total != computed:
            g.mismatches.append(StatementError(
                f"the 49 trailer of account {acc.number} declares a control total of {total}, but its summary "
                f"amounts ({acc.summary_total}) and detail amounts ({acc.detail_total}) add up to {computed}",
                position=pos, field="49 control total"))
        if count is not None and count != acc.records:
            g.mismatches.append(StatementError(
                f"the 49 trailer of account {acc.number} declares {count} records, but the account holds "
                f"{acc.records} (03, 16, 88 and 49 records)", position=pos, field="49 number of records"))
        g.declared_49_total = None if total is None or g.declared_49_total is None else g.declared_49_total + total
        g.declared_49_records = (None if count is None or g.declared_49_records is None
                                 else g.declared_49_records + count)
        self.account = None
        return StatementSummary(
            account=acc.number,
            currency=acc.currency,
            statement_id=acc.statement_id,
            period_from=g.as_of,
            period_to=g.as_of,
            opening_balance=acc.opening,
            closing_balance=acc.closing,
            position=f"line {acc.line}",
        )

    def _group_trailer(self, rec: _Record, pos: str) -> None:
        g = self.group
        if g is None or self.account is not None:
            what = f"the 49 trailer of account {self.account.number}" if self.account else "its 02 group header"
            raise StatementError(f"a 98 group trailer without {what}", position=pos, field="record type")
        f = _fields(rec) + ["", "", ""]
        total = _int(f[0], pos, "98 control total", blank=None)
        accounts = _int(f[1], pos, "98 number of accounts", blank=None)
        records = _int(f[2], pos, "98 number of records", blank=None)
        if accounts is not None and g.accounts < accounts:
            raise StatementError(f"the 98 group trailer declares {accounts} accounts but the group holds "
                                 f"{g.accounts}: accounts are missing", position=pos, field="98 number of accounts")
        consistent = (
            (total is None or g.declared_49_total is None or total == g.declared_49_total)
            and (accounts is None or accounts == g.accounts)
            and (records is None or g.declared_49_records is None or records == g.declared_49_records + 2)
        )
        if consistent:
            if g.mismatches:
                raise g.mismatches[0]
            if records is not None and records != g.records:
                raise StatementError(f"the 98 group trailer declares {records} records but the group holds "
                                     f"{g.records}", position=pos, field="98 number of records")
        else:
            log.warning(
                "bai2: the trailers of the group at line %d contradict one another (98: total %s, %s accounts, %s "
                "records; its 49s: total %s, %d accounts, %s records); its account controls are not applied",
                g.line, total, accounts, records, g.declared_49_total, g.accounts,
                None if g.declared_49_records is None else g.declared_49_records + 2)
        self.declared_98_total = (None if total is None or self.declared_98_total is None
                                  else self.declared_98_total + total)
        self.declared_98_records = (None if records is None or self.declared_98_records is None
                                    else self.declared_98_records + records)
        self.group = None

    def _file_trailer(self, rec: _Record, pos: str) -> None:
        if self.group is not None:
            raise StatementError("a 99 file trailer before the 98 trailer of the last group", position=pos,
                                 field="record type")
        f = _fields(rec) + ["", "", ""]
        total = _int(f[0], pos, "99 control total", blank=None)
        groups = _int(f[1], pos, "99 number of groups", blank=None)
        records = _int(f[2], pos, "99 number of records", blank=None)
        if total is not None and self.declared_98_total is not None and total != self.declared_98_total:
            raise StatementError(f"the 99 file trailer declares a control total of {total}, but the 98 group "
                                 f"trailers add up to {self.declared_98_total}", position=pos,
                                 field="99 control total")
        if groups is not None and groups != self.file_groups:
            raise StatementError(f"the 99 file trailer declares {groups} groups but the file holds "
                                 f"{self.file_groups}", position=pos, field="99 number of groups")
        if records is not None and self.declared_98_records is not None and records != self.declared_98_records + 2:
            raise StatementError(f"the 99 file trailer declares {records} records, but the 98 group trailers "
                                 f"count {self.declared_98_records} plus the 01 and 99 records",
                                 position=pos, field="99 number of records")
        self.file_open = False


def _addenda(rec: _Record) -> dict[str, str]:
    """``KEY: value`` pieces of a 16's 88 continuations (first occurrence of each key)."""
    found: dict[str, str] = {}
    if _CONT88 not in rec.body:
        return found
    for piece in rec.body.split(_CONT88)[1:]:
        m = _ADDENDUM.match(piece.replace(_CONTLINE, " "))
        if m and m.group(2):
            found.setdefault(m.group(1), m.group(2))
    return found


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [Bai2()]
