"""SWIFT MT940 (customer statement) and MT942 (interim transaction report).

Sources: SWIFT Standards MT, Category 9 (MT940 and MT942 field specifications); the German
DFÜ-Abkommen Anlage 3 (ZKA/DK "MT940 Belegung des Feldes 86" with ``?NN`` sub-fields and SEPA
keys); the Dutch banks' SEPA MT940 structured ``:86:`` (Rabobank, ING, ABN AMRO format guides);
and /work/shared/reference/bank-formats.md section 2, which lists what real files do.

What is read
============

A file holds one or more messages ("statements"). A message is closed by a line starting with
``-`` (``-``, ``-}``, ``-}{5:...}``, ING's ``-XXX``), by the next ``:20:``, or by the end of the
file. Anything outside a field is skipped: SWIFT envelopes ``{1:...}{2:...}{3:...}{4:``, bank
header lines (ABN AMRO ``ABNANL2A`` / ``940``, ING ``0000 01INGBNL2AXXXX...``), SOH/ETX control
bytes, and stray bytes before the first tag. In SWIFT FIN a content line may not start with
``:`` or ``-`` (``CrLf:`` starts a field, ``CrLf-`` ends the text block), which is what makes
a line-by-line reader safe.

Fields used (others, e.g. :21:, :64:, :65:, and non-SWIFT ones such as :NS:, are skipped):

* ``:20:`` reference, ``:28C:``/``:28:`` statement number[/sequence] -> ``statement_id``.
* ``:25:`` account (IBAN, ``BLZ/account``, ``IBAN CCY``; a trailing `` CCY`` is dropped).
* ``:60F:``/``:60M:`` opening and ``:62F:``/``:62M:`` closing balance ``1!a6!n3!a15d``: C/D mark,
  YYMMDD, currency, amount with decimal comma (``0,`` and ``0`` both occur).
* ``:61:`` ``6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`` then an optional line ``[34x]`` (see _parse_61).
* ``:86:`` information to the account owner: up to 6 lines of 65, free text or one of the
  structured dialects (German ``GVC?00?20..``, Dutch ``/EREF/../REMI/..``), see _info.
* MT942 only: ``:34F:`` floor limit(s), ``:13D:`` (older ``:13:``) date-time, ``:90D:``/``:90C:``
  number and sum of debit/credit entries, which this parser checks against the ``:61:`` lines.

One StatementSummary follows each message: MT940 with opening/closing balances (the core checks
60F + lines = 62F and records a break; this module never raises for one), MT942 without balances
(with the net movement :90C: - :90D: declare, which the core compares with the lines).
"""

from __future__ import annotations

import calendar
import codecs
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import IO

from pydantic import ValidationError

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, parse_amount

# A physical line longer than this is not MT94x (SWIFT lines are at most 65 characters; banks'
# own exports stay well under 1 KB). Reading with a limit keeps memory bounded on a file that has
# no line breaks at all.
MAX_LINE_BYTES = 64 * 1024
# One field (a :86: of 6 x 65, a multi-line :25:) is small; Rabobank repeats :86: per :61:, still
# a few hundred characters. A field beyond this is garbage, not a statement.
MAX_FIELD_CHARS = 64 * 1024

# CP1252 through its table directly: str.decode("cp1252") costs a codec lookup per line.
_CP1252 = codecs.lookup("cp1252").decode

_TAG = re.compile(r":(\d{2,3}[A-Z]?|[A-Z]{2,4}):")
_STRIP = "\x00\x01\x02\x03\x04\x1a\ufeff"  # SOH/ETX (mBank), NUL, SUB, a BOM left in a line

# Balance 1!a6!n3!a15d (60F/60M/62F/62M/64/65): mark, date, currency, amount.
_BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})(.*)")
# :61: up to the transaction type. Value date 6!n; entry date [4!n] or, at Citi, four spaces;
# mark C, D, RC, RD (and EC/ED, expected, in MT942); funds code [1!a] (CR, DR, RCR, CN, CF, DD);
# amount 15d with decimal comma (also "9," and "500" without comma); type 1!a3!c (N/S/F + code,
# but "MCI0" and "S   " occur in the wild, so any letter + 3 characters).
_LINE61 = re.compile(r"(\d{6})(\d{4}| {1,4})?(RC|RD|EC|ED|C|D)([A-Z]?)(\d+(?:,\d*)?)([A-Z][A-Z0-9 ]{3})(.*)")
_SIGN = {"C": 1, "D": -1, "RC": -1, "RD": 1, "EC": 1, "ED": -1}  # RC = reversal of credit = debit
# Customer references that say "none" or only point at :86: (ING/Rabobank EREF, PREF; betterplace KREF+).
_NO_REFERENCE = frozenset({"", "NONREF", "NOREF", "NOTPROVIDED", "EREF", "PREF", "MARF", "KREF+", "EREF+"})
_TRCD = re.compile(r"/TRCD/([^/]*)/?")  # ING: the supplementary details carry the bank's transaction code
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_FLOOR = re.compile(r"([A-Z]{3})([CD]?)(.*)")
_COUNT_SUM = re.compile(r"(\d{1,5})([A-Z]{3})(.*)")
_DATETIME13 = re.compile(r"(\d{6})(\d{4})([+-]\d{4})?")

# German DFÜ-Abkommen Anlage 3: "GVC" (3 digits) then the separator, normally "?" (Triodos: ">").
_GERMAN = re.compile(r"(\d{3})([?>])\d\d")
_PURPOSE_SET = frozenset(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))
_first = itemgetter(0)
_SEPA_KEYS = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|COAM|OAMT|PURP)\+")
# Dutch SEPA :86: (Rabobank, ING, ABN AMRO, Triodos, ASN): /TAG/value/TAG/value ... Sub-tags of
# ORDP/BENM/ULTD/ULTC (NAME, ID, ADDR) are read as tags too; CNTP is positional IBAN/BIC/NAME/CITY.
_NL_TAGS = ("EREF|REMI|NAME|ORDP|BENM|CNTP|MARF|CSID|RTRN|TRCD|TRTP|IREF|ISDT|PURP|ULTC|ULTD|ULTB|"
            "ID|ADDR|BUSP|IBAN|BIC|SVCL|PREF|KREF|OCMT|CHGS|EXCH|ORIG|ACCW")
_NL_TAG = re.compile(r"/(" + _NL_TAGS + r")/")
_NL_PARTIES = ("ORDP", "BENM", "ULTD", "ULTC", "ULTB", "CNTP")


class _Mt94x(BankFormat):
    """Both message types share one reader: a file detected as MT940 may carry an MT942 message
    and the other way round; each message is judged by the fields it has."""

    message_type = ""

    def detect(self, head: bytes, filename: str) -> float:
        try:
            return _score(head, self.message_type)
        except Exception:  # detect must never raise; anything unexpected means "not mine"
            return 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        return _Reader(stream).items()


class Mt940(_Mt94x):
    name = "mt940"
    description = "SWIFT MT940 customer statement (SWIFT envelopes, ABN AMRO, ING, German ?-fields ...)"
    message_type = "940"


class Mt942(_Mt94x):
    name = "mt942"
    description = "SWIFT MT942 interim transaction report (:34F:, :13D:, :90D:/:90C: checked)"
    message_type = "942"


# --------------------------------------------------------------------------------------------
# Detection


_HEAD_TAG = re.compile(r"(?m)(?:^|\{4:)[\x00-\x08\x0b\x0c\x0e-\x1f ]*:(20|25|28C?|60[FM]|61|62[FM]|34F|13D?|90[DC]):")
_HEAD_ENVELOPE = re.compile(r"\{2:[IO](94[02])")


def _score(head: bytes, message_type: str) -> float:
    text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    tags = set(_HEAD_TAG.findall(text))
    envelope = set(_HEAD_ENVELOPE.findall(text))
    has940 = bool(tags & {"60F", "60M", "62F", "62M"})
    has942 = bool(tags & {"34F", "13D", "13", "90D", "90C"})
    core = "20" in tags and "25" in tags
    if message_type == "940":
        if "940" in envelope:
            return 1.0
        if core and has940:
            return 0.95
        if core and (has942 or "942" in envelope):
            return 0.4
        if core or (has940 and ("61" in tags or "25" in tags)):
            return 0.6
        return 0.0
    if "942" in envelope and "940" not in envelope:
        return 1.0
    if core and has942:
        return 0.5 if has940 else 0.96
    return 0.0


# --------------------------------------------------------------------------------------------
# Reading fields


def _fields(stream: IO[bytes]) -> Iterator[tuple[str, list[str] | None, int]]:
    """Yield ``(tag, content lines, line number)`` per field and ``("-", None, n)`` per message end.

    Decodes each line as UTF-8 until one is not, then as CP1252 (Latin-1 for the five bytes CP1252
    leaves undefined) for the rest of the file: German and Hungarian banks write Latin-1/CP1252,
    Dutch and Polish ones increasingly UTF-8, and a file is one or the other.
    """
    readline = stream.readline
    utf8 = True
    tag: str | None = None
    lines: list[str] = []
    start = size = number = 0
    while True:
        raw = readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise StatementError(f"a line longer than {MAX_LINE_BYTES} bytes: this is not an MT940/MT942 file",
                                 position=f"line {number}")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if utf8:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                utf8 = False
        if not utf8:
            try:
                text = _CP1252(raw)[0]
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
        text = text.rstrip("\r\n").strip(_STRIP)
        if not text:
            if tag is not None:
                lines.append("")  # blank lines inside a :86: (ASN, SNS) keep their place
            continue
        first = text[0]
        if first == "{":
            # SWIFT envelope {1:..}{2:..}{3:..}{4: (block 4 may continue on the same line) or the
            # trailer {5:..}: either way the previous field is over.
            if tag is not None:
                yield tag, lines, start
                tag = None
            cut = text.find("{4:")
            if cut < 0:
                continue
            text = text[cut + 3:].lstrip()
            if not text:
                continue
            first = text[0]
        if first == ":":
            m = _TAG.match(text)
            if m:
                if tag is not None:
                    yield tag, lines, start
                tag, lines, start = m.group(1), [text[m.end():]], number
                size = len(text)
                continue
        elif first == "-":
            if tag is not None:
                yield tag, lines, start
                tag = None
            yield "-", None, number
            continue
        if tag is None:
            continue  # bank header lines, stray bytes before the first tag, text after "-"
        size += len(text)
        if size > MAX_FIELD_CHARS:
            raise StatementError(f"field :{tag}: runs over {MAX_FIELD_CHARS} characters: the file is not a valid "
                                 "statement", position=f"line {start}", field=f":{tag}:")
        lines.append(text)
    if tag is not None:
        yield tag, lines, start


# --------------------------------------------------------------------------------------------
# Values


_DATES6: dict[str, dt.date] = {}


@lru_cache(maxsize=4096)
def _day(year: int, mm: int, dd: int) -> dt.date | None:
    if not (1 <= mm <= 12 and 1 <= dd <= 31):
        return None
    # Real files carry impossible days such as 30 February (bank-formats.md section 2; truth.json
    # self-provided/february_30: "must be tolerated"): the day is moved back to the month's last
    # day, the nearest real date. A month outside 1-12 or a day outside 1-31 is refused.
    return dt.date(year, mm, min(dd, calendar.monthrange(year, mm)[1]))


def _date6(text: str, pos: str, field: str) -> dt.date:
    day = _DATES6.get(text)  # a statement repeats a few dates; this runs once or twice per line
    if day is not None:
        return day
    if len(text) == 6 and text.isdigit():
        yy = int(text[0:2])
        # Two-digit years: 00-68 -> 20xx, 69-99 -> 19xx (the POSIX/strptime %y rule).
        day = _day(yy + (2000 if yy < 69 else 1900), int(text[2:4]), int(text[4:6]))
    if day is None:
        raise StatementError(f"{text!r} is not a date as YYMMDD", position=pos, field=field)
    if len(_DATES6) > 4096:
        _DATES6.clear()
    _DATES6[text] = day
    return day


@lru_cache(maxsize=4096)
def _entry_date(mmdd: str, value: dt.date) -> dt.date | None:
    """The entry date MMDD takes the year that puts it nearest the value date, so a value date of
    31 December booked on 0102 is 2 January of the next year, and the other way round."""
    best = None
    for year in (value.year, value.year + 1, value.year - 1):
        day = _day(year, int(mmdd[:2]), int(mmdd[2:]))
        if day is None:
            return None
        if best is None or abs((day - value).days) < abs((best - value).days):
            best = day
    return best


def _amount(text: str, pos: str, field: str) -> Decimal:
    text = text.strip()
    whole, comma, fraction = text.partition(",")
    if whole.isascii() and whole.isdigit() and (fraction.isdigit() and fraction.isascii() or not fraction):
        # what nearly every amount looks like ("1234,56", "9,", "500"), read as parse_amount would
        return Decimal(f"{whole}.{fraction or '0'}") if comma else Decimal(whole)
    if not text or not text[0].isdigit():
        raise StatementError(f"{text!r} is not an amount (digits with a decimal comma)", position=pos, field=field)
    return parse_amount(text, decimal_mark=",", position=pos, field=field)


def _balance(lines: list[str], pos: str, field: str) -> tuple[Decimal, dt.date, str]:
    text = lines[0].strip()
    m = _BALANCE.fullmatch(text)
    if not m:
        raise StatementError(f"{text!r} is not a balance as C|D, YYMMDD, currency, amount", position=pos, field=field)
    mark, day, currency, amount = m.groups()
    value = _amount(amount, pos, field)
    return (-value if mark == "D" else value), _date6(day, pos, field), currency


def _is_iban(text: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 alphanumerics; mod 97 of the rearranged
    number is 1."""
    if not _IBAN.fullmatch(text):
        return False
    return int("".join(str(int(c, 36)) for c in text[4:] + text[:4])) % 97 == 1


def _clean(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# :86: information to the account owner


class _Info:
    __slots__ = ("payer_name", "payer_account", "end_to_end_id", "remittance", "code")

    def __init__(self) -> None:
        self.payer_name = self.payer_account = self.end_to_end_id = self.code = ""
        self.remittance: list[str] = []


def _info(lines: list[str], pos: str) -> _Info:
    info = _Info()
    if not lines:
        return info
    # Structured dialects are hard-wrapped at 65 characters with no regard to words or
    # sub-field codes ("?2" + newline + "2MTLG"), so their lines join without a separator.
    joined = "".join(lines)
    m = _GERMAN.match(joined)
    if m:
        _german(joined, m.group(1), m.group(2), info, pos)
    elif joined.startswith("/") and _NL_TAG.match(joined):
        _dutch(joined, info)
    else:
        info.remittance.append(_clean(" ".join(lines)))
    return info


def _german(text: str, gvc: str, sep: str, info: _Info, pos: str) -> None:
    """DFÜ-Abkommen Anlage 3: GVC, then sub-fields sep+NN: 00 posting text, 10 primanota, 20-29
    and 60-63 purpose (SEPA keys EREF+ KREF+ MREF+ CRED+ SVWZ+ ABWA+ ...), 30 BLZ/BIC, 31
    account/IBAN, 32-33 payer name, 34 text key supplement."""
    fields: dict[str, str] = {}
    purpose: list[tuple[str, str]] = []  # (code, text) of the purpose sub-fields, in file order
    for chunk in text[4:].split(sep):
        code, value = chunk[:2], chunk[2:]
        if code in _PURPOSE_SET:
            purpose.append((code, value))
        elif code in fields:
            fields[code] += value
        elif len(code) == 2 and code.isdigit():
            fields[code] = value
        else:
            raise StatementError(f"the {sep}-sub-fields are broken: {sep!r} followed by {chunk[:10]!r} instead of a "
                                 "two-digit field code", position=pos, field=":86:")
    info.code = gvc
    # the purpose in sub-field order (20..29, 60..63); a stable sort keeps a repeated code's parts in file order
    purpose.sort(key=_first)
    parts = _SEPA_KEYS.split("".join([part for _, part in purpose]))
    keys = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}  # the last of a repeated key counts
    info.remittance += [_clean(parts[0]), _clean(keys.get("SVWZ", "")), _clean(keys.get("KREF", ""))]
    eref = _clean(keys.get("EREF", ""))
    info.end_to_end_id = "" if eref.upper() == "NOTPROVIDED" else eref
    info.payer_account = _clean(fields.get("31", ""))
    info.payer_name = _clean(fields.get("32", "") + fields.get("33", "")) or _clean(keys.get("ABWA", ""))


def _dutch(text: str, info: _Info) -> None:
    """Dutch SEPA :86: /TAG/value... (EREF end-to-end id, REMI remittance (USTD// free or
    STRD/CUR/ structured), ORDP//NAME/ or BENM//NAME/ the counterparty, CNTP/IBAN/BIC/NAME/CITY/,
    MARF mandate, CSID creditor id, RTRN return reason)."""
    parts = _NL_TAG.split(text)  # "", tag, value, tag, value ... (the text starts with a tag)
    names: dict[str | None, str] = {}
    party: str | None = None
    for i in range(1, len(parts), 2):
        tag, value = parts[i], parts[i + 1]
        if tag in _NL_PARTIES:
            party = tag
        if tag == "CNTP":
            cntp = value.strip("/").split("/")
            info.payer_account = info.payer_account or cntp[0].strip()
            if len(cntp) > 2 and cntp[2].strip():
                names.setdefault("CNTP", _clean(cntp[2]))
        elif tag == "NAME":
            names.setdefault(party, _clean(value.strip("/")))
        elif tag == "IBAN":
            info.payer_account = info.payer_account or value.strip("/ ")
        elif tag == "EREF":
            eref = _clean(value.strip("/"))
            info.end_to_end_id = "" if eref.upper() == "NOTPROVIDED" else eref
        elif tag == "REMI":
            remi = value.strip("/")
            for prefix in ("USTD//", "USTD/", "STRD/CUR/", "STRD/ISO/", "STRD//"):
                if remi.startswith(prefix):
                    remi = remi[len(prefix):]
                    break
            info.remittance.append(_clean(remi.strip("/")))
        elif tag == "RTRN":
            info.remittance.append(_clean("RTRN " + value.strip("/")))
    for party in ("CNTP", "ORDP", "BENM", None, "ULTD", "ULTC", "ULTB"):
        if names.get(party):
            info.payer_name = names[party]
            break


# --------------------------------------------------------------------------------------------
# Statements


class _Statement:
    __slots__ = ("ref", "seq", "account", "currency", "start", "opening", "opening_date", "done", "mt942",
                 "floor_seen", "report_date", "n_debit", "s_debit", "n_credit", "s_credit", "first", "last",
                 "declared")

    def __init__(self, ref: str, start: int) -> None:
        self.ref, self.start = ref, start
        self.seq = self.account = self.currency = ""
        self.opening: Decimal | None = None
        self.opening_date: dt.date | None = None
        self.report_date: dt.date | None = None
        self.first: dt.date | None = None
        self.last: dt.date | None = None
        self.done = self.mt942 = self.floor_seen = False
        self.n_debit = self.n_credit = 0
        self.s_debit = Decimal(0)
        self.s_credit = Decimal(0)
        self.declared: dict[str, tuple[int, Decimal, str, int]] = {}  # "D"/"C" -> count, sum, currency, line

    @property
    def statement_id(self) -> str:
        return f"{self.ref}/{self.seq}" if self.ref and self.seq else (self.ref or self.seq)


class _Pending:
    """A :61: waiting for its :86: field(s)."""

    __slots__ = ("stmt", "pos", "value_date", "booking_date", "amount", "code", "reference", "bank_reference",
                 "details", "info")

    def __init__(self, stmt: _Statement, pos: int) -> None:
        self.stmt, self.pos = stmt, pos
        self.info: list[str] = []


class _Reader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.ordinals = Ordinals()

    def items(self) -> Iterator[StatementLine | StatementSummary]:
        stmt: _Statement | None = None
        previous: _Statement | None = None  # the last statement, for :61: lines after its end
        pending: _Pending | None = None
        info_size = 0
        for tag, lines, start in _fields(self.stream):
            if tag == "86":
                if pending is not None:
                    info_size += sum(map(len, lines))
                    if info_size > MAX_FIELD_CHARS:
                        raise StatementError("the :86: fields of one transaction are too long",
                                             position=f"line {start}", field=":86:")
                    pending.info += [line for line in lines if line.strip()]
                continue  # a :86: outside a transaction (after :60F: or :62F:) describes the statement
            if tag not in _HANDLED:
                continue  # :21:, :64:, :65:, :NS:, Rabobank's :940: ... carry nothing we need
            if pending is not None:
                yield self._line(pending)
                pending = None
            if tag == "-" or tag == "20":
                if stmt is not None:
                    yield from self._close(stmt)
                    previous, stmt = stmt, None
                if tag == "20":
                    stmt = _Statement(_clean(" ".join(lines)), start)
                continue
            if tag == "61":
                owner = stmt if stmt is not None else previous
                if owner is None or (not owner.done and not (owner.currency and owner.account)):
                    raise StatementError("a :61: transaction before the account (:25:) and opening balance "
                                         "(:60F:, or :34F: in an MT942) of its statement", position=f"line {start}",
                                         field=":61:")
                # A :61: after its statement's closing balance or after the "-" that ended it belongs
                # to no statement of its own (truth.json self-provided/multiline): it is kept, with
                # the account and currency of the statement before it, and no summary of its own.
                pending = self._parse_61(lines, owner, start)
                info_size = 0
                if not owner.done:
                    self._count(owner, pending)
                continue
            pos = f"line {start}"
            if stmt is not None and stmt.done:
                if tag in ("90D", "90C"):  # an MT942 that also has balances: its totals follow 62F
                    self._declare(stmt, tag, lines, pos, start)
                    continue
                if tag in ("62F", "62M"):
                    raise StatementError("a second closing balance in one statement", position=pos,
                                         field=f":{tag}:")
                yield from self._close(stmt)
                previous, stmt = stmt, None
            if stmt is None:
                stmt = _Statement("", start)  # a message without :20: (tolerated)
            if tag == "25":
                if stmt.account:
                    raise StatementError("a second :25: account in one statement (a field is missing or misplaced)",
                                         position=pos, field=":25:")
                stmt.account = _clean(" ".join(lines))
            elif tag in ("28C", "28"):
                stmt.seq = _clean(" ".join(lines))
            elif tag in ("60F", "60M"):
                if stmt.opening is not None or stmt.n_debit or stmt.n_credit:
                    raise StatementError("an opening balance after the statement's opening balance or transactions",
                                         position=pos, field=f":{tag}:")
                stmt.opening, stmt.opening_date, currency = _balance(lines, pos, f":{tag}:")
                self._currency(stmt, currency, pos, f":{tag}:")
            elif tag in ("62F", "62M"):
                if stmt.opening is None:
                    raise StatementError("a closing balance in a statement without opening balance :60F:/:60M:",
                                         position=pos, field=f":{tag}:")
                closing, closing_date, currency = _balance(lines, pos, f":{tag}:")
                if currency != stmt.currency:
                    raise StatementError(f"the closing balance is in {currency} but the opening balance in "
                                         f"{stmt.currency}", position=pos, field=f":{tag}:")
                yield self._summary(stmt, opening_balance=stmt.opening, closing_balance=closing,
                                    period_from=stmt.opening_date, period_to=closing_date)
                stmt.done = True
            elif tag == "34F":
                m = _FLOOR.fullmatch(lines[0].strip())
                if not m:
                    raise StatementError(f"{lines[0]!r} is not a floor limit as currency, [D|C], amount",
                                         position=pos, field=":34F:")
                _amount(m.group(3), pos, ":34F:")
                stmt.mt942 = True
                self._currency(stmt, m.group(1), pos, ":34F:")
            elif tag in ("13D", "13"):
                m = _DATETIME13.fullmatch(lines[0].strip())
                if not m:
                    raise StatementError(f"{lines[0]!r} is not a date-time as YYMMDDhhmm[+hhmm]", position=pos,
                                         field=f":{tag}:")
                stmt.mt942 = True
                stmt.report_date = _date6(m.group(1), pos, f":{tag}:")
            elif tag in ("90D", "90C"):
                self._declare(stmt, tag, lines, pos, start)
        if pending is not None:
            yield self._line(pending)
        if stmt is not None:
            yield from self._close(stmt)

    # -- statement bookkeeping ---------------------------------------------------------------

    @staticmethod
    def _currency(stmt: _Statement, currency: str, pos: str, field: str) -> None:
        if stmt.currency and stmt.currency != currency:
            raise StatementError(f"currency {currency} differs from the statement's {stmt.currency}", position=pos,
                                 field=field)
        stmt.currency = currency
        # "IBAN CCY" in :25: (bank-formats.md section 2; ING writes "NL69INGB0123456789EUR"): the
        # currency is not part of the account. Without a space it is cut only when what remains is
        # an IBAN with valid check digits, so "1291.99.348EUR" (Rabobank's old layout) stays whole.
        account = stmt.account
        if account.endswith(currency) and len(account) > 3:
            head = account[:-3]
            if head.endswith((" ", "/")) or _is_iban(head):
                stmt.account = head.rstrip(" /")

    @staticmethod
    def _declare(stmt: _Statement, tag: str, lines: list[str], pos: str, start: int) -> None:
        m = _COUNT_SUM.fullmatch(lines[0].strip())
        if not m:
            raise StatementError(f"{lines[0]!r} is not a number and sum of entries as count, currency, amount",
                                 position=pos, field=f":{tag}:")
        stmt.mt942 = True
        stmt.declared[tag[2]] = (int(m.group(1)), _amount(m.group(3), pos, f":{tag}:"), m.group(2), start)

    @staticmethod
    def _count(stmt: _Statement, p: _Pending) -> None:
        if p.amount < 0:
            stmt.n_debit += 1
            stmt.s_debit -= p.amount
        else:
            stmt.n_credit += 1
            stmt.s_credit += p.amount
        if stmt.first is None or p.booking_date < stmt.first:
            stmt.first = p.booking_date
        if stmt.last is None or p.booking_date > stmt.last:
            stmt.last = p.booking_date

    def _close(self, stmt: _Statement) -> Iterator[StatementSummary]:
        where = f"line {stmt.start}"
        self._check_declared(stmt)
        if stmt.done:
            return
        if stmt.opening is not None:
            raise StatementError("the statement ends without its closing balance :62F:/:62M: (is the file "
                                 "truncated?)", position=where, field=":62F:")
        if not stmt.mt942:
            if not (stmt.account or stmt.n_debit or stmt.n_credit):
                return  # a lone :20: or header fragment with nothing in it
            raise StatementError("the statement has no opening balance :60F:/:60M: (and is no MT942)",
                                 position=where, field=":60F:")
        if not stmt.account:
            raise StatementError("the statement has no account :25:", position=where, field=":25:")
        if not stmt.currency:
            raise StatementError("the MT942 report has no currency (:34F: floor limit missing)", position=where,
                                 field=":34F:")
        movement = None
        if stmt.declared:
            credits = stmt.declared["C"][1] if "C" in stmt.declared else stmt.s_credit
            debits = stmt.declared["D"][1] if "D" in stmt.declared else stmt.s_debit
            movement = credits - debits
        stmt.done = True
        yield self._summary(stmt, period_from=stmt.first, period_to=stmt.report_date or stmt.last,
                            declared_movement=movement)

    @staticmethod
    def _check_declared(stmt: _Statement) -> None:
        """MT942 :90D:/:90C: number and sum of debit/credit entries (SWIFT MT942 fields 90D/90C)
        must match the :61: lines of the report."""
        for mark, name, n, s in (("D", "debit", stmt.n_debit, stmt.s_debit),
                                 ("C", "credit", stmt.n_credit, stmt.s_credit)):
            if mark not in stmt.declared:
                continue
            count, total, currency, line = stmt.declared[mark]
            if currency != stmt.currency:
                raise StatementError(f"the {name} total is in {currency} but the report in {stmt.currency}",
                                     position=f"line {line}", field=f":90{mark}:")
            # A count or sum that differs is recorded as a break of the report (the core logs it and
            # shows it to finance; intake.strict_balances refuses it), as for balances: interim
            # reports are known to disagree with themselves (reference/bank-formats.md section 2).

    def _summary(self, stmt: _Statement, **values) -> StatementSummary:
        if not stmt.account:
            raise StatementError("the statement has no account :25:", position=f"line {stmt.start}", field=":25:")
        return StatementSummary(account=stmt.account, currency=stmt.currency, statement_id=stmt.statement_id,
                                position=f"line {stmt.start}", **{k: v for k, v in values.items() if v is not None})

    # -- transactions ------------------------------------------------------------------------

    @staticmethod
    def _parse_61(lines: list[str], stmt: _Statement, start: int) -> _Pending:
        text = lines[0].rstrip()
        m = _LINE61.fullmatch(text)
        if m is None:
            _explain_61(text, f"line {start}")
        value_s, entry_s, mark, _funds, amount_s, code, rest = m.groups()
        p = _Pending(stmt, start)
        p.value_date = _DATES6.get(value_s) or _date6(value_s, f"line {start}", ":61: value date")
        if entry_s and entry_s[0] != " ":
            p.booking_date = _entry_date(entry_s, p.value_date)
            if p.booking_date is None:
                raise StatementError(f"{entry_s!r} is not an entry date as MMDD", position=f"line {start}",
                                     field=":61: entry date")
        else:
            p.booking_date = p.value_date  # no entry date (or Citi's four spaces): booked on the value date
        amount = _amount(amount_s, f"line {start}", ":61: amount")
        p.amount = -amount if _SIGN[mark] < 0 else amount
        p.code = code.strip()
        reference, _, bank_reference = rest.partition("//")
        p.reference, p.bank_reference = reference.strip(), bank_reference.strip()
        # [34x] supplementary details on the next line(s) (Rabobank: counter-account; ASN: name).
        p.details = _clean(" ".join(lines[1:])) if len(lines) > 1 else ""
        return p

    def _line(self, p: _Pending) -> StatementLine:
        stmt = p.stmt
        pos = f"line {p.pos}"
        info = _info(p.info, pos)
        remittance = info.remittance
        if p.reference.upper() not in _NO_REFERENCE and not any(p.reference in r for r in remittance):
            remittance.append(p.reference)
        payer_account = info.payer_account
        code = f"{p.code}/{info.code}" if info.code else p.code
        if p.details:
            trcd = _TRCD.fullmatch(p.details)
            if trcd:
                code = f"{p.code}/{trcd.group(1)}"
            elif not payer_account and _IBAN.fullmatch(p.details):
                payer_account = p.details  # Rabobank: the counter-account
            else:
                remittance.append(p.details)
        try:
            return StatementLine(
                account=stmt.account, currency=stmt.currency, booking_date=p.booking_date, value_date=p.value_date,
                amount=p.amount, bank_reference=p.bank_reference, end_to_end_id=info.end_to_end_id,
                payer_name=info.payer_name, payer_account=payer_account,
                remittance=" ".join(filter(None, remittance)), transaction_code=code,
                statement_id=stmt.statement_id, position=pos,
                ordinal=self.ordinals(stmt.account, p.booking_date, p.bank_reference, p.amount))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise StatementError(f"{err['msg']} (got {err.get('input')!r})", position=pos,
                                 field=".".join(str(x) for x in err["loc"])) from None


_HANDLED = frozenset({"-", "20", "25", "28C", "28", "60F", "60M", "61", "62F", "62M", "34F", "13D", "13",
                      "90D", "90C"})


def _explain_61(text: str, pos: str) -> None:
    """Raise the most precise error for a :61: the grammar refused."""
    field = ":61:"
    if not re.match(r"\d{6}", text):
        raise StatementError(f"{text!r} does not start with the value date YYMMDD", position=pos, field=field)
    _date6(text[:6], pos, ":61: value date")
    m = re.match(r"\d{6}(\d{4}| {1,4})?(RC|RD|EC|ED|C|D)([A-Z]?)", text)
    if not m:
        raise StatementError(f"{text!r} lacks the debit/credit mark (C, D, RC or RD) after the dates",
                             position=pos, field=":61: mark")
    tail = text[m.end():]
    amount = re.match(r"[0-9,.\-+ ]*", tail).group(0)
    if not re.fullmatch(r"\d+(,\d*)?", amount):
        raise StatementError(f"{amount!r} is not an amount (digits with a decimal comma)", position=pos,
                             field=":61: amount")
    raise StatementError(f"{tail[len(amount):]!r} does not start with a transaction type (N, S or F and a "
                         "three-character code)", position=pos, field=":61: transaction type")


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [Mt940(), Mt942()]
