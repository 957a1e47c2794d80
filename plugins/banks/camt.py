"""ISO 20022 bank-to-customer cash management: camt.053 (end-of-day statement), camt.052
(intraday account report) and camt.054 (debit/credit notification), every version.

Sources: the ISO 20022 message definition reports and XSDs of camt.052/053/054 .001.01 to
.001.13 (iso20022.org, "Bank-to-Customer Cash Management"), the Swiss Payment Standards and
German DFÜ-Abkommen Anlage 3 implementation guides, and the public files summarised in
``shared/reference/bank-formats.md`` section 1. What this module does with each part:

Messages and versions
    ``Document/BkToCstmrStmt/Stmt`` (053), ``BkToCstmrAcctRpt/Rpt`` (052),
    ``BkToCstmrDbtCdtNtfctn/Ntfctn`` (054); version .001.01 names the message element with a
    ``V01`` suffix. The namespace ``urn:iso:std:iso:20022:tech:xsd:camt.05x.001.NN`` picks the
    format; any NN is read, because the element names used here did not change from .02 to .13
    (the two drifts that matter are handled: ``Sts`` became ``Sts/Cd`` in .08, party names moved
    to ``Dbtr/Pty/Nm`` in .08). Files without a namespace are recognised by their message element.
    A namespace of another message (pain.001, camt.056 ...) is refused. Several statements per
    file are read; envelopes around the Document (a business application header) are tolerated.

Lines
    One :class:`StatementLine` per ``TxDtls``; an ``Ntry`` without ``TxDtls`` (a plain booking or
    a batch with only ``Btch``) is one line. Amounts are unsigned in the file; ``CdtDbtInd``
    gives the sign (DBIT negative). An entry with one ``TxDtls`` takes the *booked* ``Ntry/Amt``
    (public files have single TxDtls whose own amount is in another currency or zero, see
    truth.json). An entry with several ``TxDtls`` splits into their own amounts (``TxDtls/Amt``,
    .02+ ``AmtDtls/TxAmt/Amt`` or ``AmtDtls/CntrValAmt/Amt``, whichever is in the entry's
    currency) when those add up to the booked amount; otherwise the split cannot be known, and
    the first line carries the whole booked amount, the others 0, all marked ``UNSPLIT`` in
    ``transaction_code``, so the lines still add up to what the bank booked.

``transaction_code``
    Space-separated tokens: ``Domn/Fmly/SubFmly`` (``PMNT/RCDT/ESCT``), the proprietary code
    (``Prtry/Cd``, e.g. German GVC ``XXXX+000+0000+000``), then flags: ``RVSL`` (``RvslInd``
    true: a reversal; its direction is already in ``CdtDbtInd``), ``RTRN=AC06`` (return reason
    ``RtrInf/Rsn/Cd``), ``PDNG``/``INFO``/``FUTR`` (entry status other than booked),
    ``CHRG=CHF0.31`` (charges ``Chrgs``) and ``UNSPLIT`` (see above).

Pending entries (``Sts`` PDNG, INFO, FUTR)
    Kept as lines, flagged in ``transaction_code``: intraday camt.052 reports consist mostly of
    them and finance wants to see money announced before it is booked (the public camt.052
    samples count them, truth.json). They are not part of the booked balances, so when the
    statement has an opening *and* a closing booked balance, its pending lines are held back and
    yielded after that statement's summary, under a second summary without balances
    (statement id suffixed `` PDNG``); the booked balance check then covers booked entries only.

References and parties
    ``bank_reference``: ``Ntry/AcctSvcrRef``; for a split batch the transaction's own
    ``TxDtls/Refs/AcctSvcrRef`` first; then ``NtryRef``, ``Refs/TxId``, ``Refs/UETR``,
    ``Refs/InstrId``. ``end_to_end_id``: ``Refs/EndToEndId`` (``NOTPROVIDED`` dropped).
    ``payer_*`` is the counterparty: the debtor (``RltdPties/Dbtr/Nm``, .08+ ``Dbtr/Pty/Nm``,
    else ``UltmtDbtr``) on credits, the creditor on debits (a reversal keeps the parties of the
    payment it reverses, so its direction is turned back for this); account ``DbtrAcct/Id/IBAN`` or
    ``Othr/Id``; id ``Id/OrgId/Othr/Id`` or ``PrvtId/Othr/Id`` (a NIT when a Colombian bank
    fills it). ``remittance`` joins ``Ustrd``, ``Strd/CdtrRefInf/Ref``, ``Strd/RfrdDocInf/Nb``,
    ``AddtlRmtInf``, ``AddtlTxInf`` and ``AddtlNtryInf``.

Balances and summaries
    Opening ``OPBD`` (``PRCD``, the previous closing, when there is no OPBD), closing ``CLBD``;
    unsigned amount with its own ``CdtDbtInd``; ``Tp/CdOrPrtry/Cd`` (.02+) or ``Tp/Cd`` (.01).
    Interim (ITBD), available (OPAV, CLAV, FWAV, ITAV) and INFO balances are not used: they
    do not bracket the entries. A :class:`StatementSummary` is yielded per Stmt/Rpt/Ntfctn (one
    per currency when entries come in several; balances go to the statement's currency: ``Acct/
    Ccy``, else the entries'). camt.054 has no balances. ``TxsSummry`` (number of entries, sum,
    net, credit and debit totals) is checked here, against all entries or the booked ones.

Dates
    ``Dt`` or ``DtTm`` wherever either is allowed; a ``DtTm`` (fractional seconds of any length,
    ``Z`` or an offset) gives the date as written, i.e. the bank's local date, not UTC. An entry
    without ``BookgDt`` (pending entries, some camt.054) takes ``ValDt``, else the statement's
    ``FrToDt/ToDtTm``, else its ``CreDtTm``, else the group header's.

Safety and size
    lxml >= 6.1 ``iterparse`` with :func:`secure_xml_parser_options`; any DOCTYPE is refused
    before parsing (billion laughs, XXE), and again through lxml's docinfo for encodings the byte
    scan cannot read. Only Stmt/Ntry/TxDtls events reach Python; each TxDtls, Ntry and Stmt is
    cleared when read and its earlier siblings deleted, so memory does not grow with the file.
    Within one entry, up to :data:`SPLIT_BUFFER` transactions are held to decide the split;
    bigger batches stream, must add up to the booked amount, and their lines do not carry
    ``AddtlNtryInf`` (it comes after the transactions in the file). The identity table of
    :class:`~conciliador.formats.Ordinals` holds one day's keys, and past a bounded number moves
    them to disk.
    An encoding other than the declared one, a truncated file, a bad amount, date, code or a
    missing mandatory element raise :class:`StatementError` with an XPath-like position
    (``Stmt[2]/Ntry[15]/Amt``) and, where lxml knows it, the line.

Speed
    When the optional C extension ``conciliador._camtscan`` (agent/_camtscan.c, built by
    setup.py; a failed compile leaves it out) is importable and the stream can seek, a file is
    first read by it: CPython's own expat driven from C, keeping only the fields above and
    handing back one tuple per entry, some 2.5 times as fast as lxml (bench/parse_camt.py). It
    models the shapes real files have; on anything else (Chrgs, a repeated field, a comment or a
    foreign namespace inside the message, a batch over :data:`SPLIT_BUFFER`, an encoding expat
    lacks) and on every error, the file is read again by lxml, which gives the same items (the
    ones already yielded are skipped) and words the refusal. tests/test_bank_camt_fast.py
    compares both readers over every camt file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, ClassVar

import structlog
from lxml import etree

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, secure_xml_parser_options

try:  # the optional C reader (agent/_camtscan.c); without it lxml reads every file
    from conciliador import _camtscan
except ImportError:  # pragma: no cover - depends on the build
    _camtscan = None

__all__ = ["Camt052", "Camt053", "Camt054", "SPLIT_BUFFER"]

log = structlog.get_logger(__name__)

#: Transactions of one entry held in memory to decide how it splits; beyond, they stream.
SPLIT_BUFFER = 5000
#: How far into a file the DOCTYPE scan looks for the first element.
PROLOG_LIMIT = 1 << 20

# message element -> (format kind, statement element)
_MESSAGES = {
    "BkToCstmrStmt": ("053", "Stmt"), "BkToCstmrStmtV01": ("053", "Stmt"),
    "BkToCstmrAcctRpt": ("052", "Rpt"), "BkToCstmrAcctRptV01": ("052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("054", "Ntfctn"), "BkToCstmrDbtCdtNtfctnV01": ("054", "Ntfctn"),
}
_NS_DECL = re.compile(r"""xmlns(?::[\w.-]+)?\s*=\s*["'][^"']*?camt\.(05[234])\.001\.(\d{2})["']""")
_CAMT_NS = re.compile(r"camt\.(\d{3})\.001\.(\d{2})")
_ROOT = re.compile(r"<(?:[\w.-]+:)?(BkToCstmrStmt|BkToCstmrAcctRpt|BkToCstmrDbtCdtNtfctn)(?:V01)?[\s>/]")
_ROOT_KIND = {"BkToCstmrStmt": "053", "BkToCstmrAcctRpt": "052", "BkToCstmrDbtCdtNtfctn": "054"}
# ActiveOrHistoricCurrencyAndAmount: unsigned, '.' as decimal mark (the XSD allows 0-5
# decimals; more are kept exactly rather than refused, nothing is ever rounded).
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")
_CCY = re.compile(r"[A-Z]{3}")
# ISODate / ISODateTime (xs:date, xs:dateTime): optional time with any fraction, optional zone.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
# What may follow the date in _DATE, with the hour, minute and second ranges it checks (ASCII
# digits; anything else takes the full path)
_TIME = re.compile(r"(?:T(?:[01][0-9]|2[0-4]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?")
_BOOKED = "BOOK"
_DATES: dict[str, dt.date] = {}  # parsed date texts: a statement repeats the same few
_CURRENCIES: set[str] = set()  # Ccy attributes already checked
_ZERO = Decimal(0)
_NONE3 = ("", "", "")


# -- bytes before the parser -------------------------------------------------------------------

def _head_text(head: bytes) -> str:
    """The head as text for markup scans: UTF-16 by its BOM (or zero bytes), else Latin-1,
    which keeps every ASCII tag and attribute whatever the real 8-bit encoding is."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", errors="ignore")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="ignore")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="ignore")
    return head.decode("latin-1")


def _strip_comments(text: str) -> str:
    return re.sub(r"<!--.*?(?:-->|$)", "", text, flags=re.DOTALL)


def _strip_markup(text: str) -> str:
    """Prolog text without comments and processing instructions, so ``<`` + letter is an element."""
    return re.sub(r"<\?.*?(?:\?>|$)", "", _strip_comments(text), flags=re.DOTALL)


class _Prolog:
    """File-like wrapper that refuses a DOCTYPE before lxml sees it and drops stray bytes (a
    UTF-8 BOM, blank lines, garbage) before the first ``<`` of an 8-bit file, which libxml2
    would otherwise reject ("XML declaration allowed only at the start")."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        head = b""
        while True:
            chunk = stream.read(65536)
            head += chunk
            prolog = _strip_markup(_head_text(head))
            root = re.search(r"<[A-Za-z_]", prolog)
            if root or not chunk or len(head) > PROLOG_LIMIT:
                break
        if re.search(r"<!(?:DOCTYPE|ENTITY)", prolog[: root.start()] if root else prolog, re.IGNORECASE):
            raise StatementError("the file declares a DOCTYPE; bank XML must not carry one (entity expansion and "
                                 "external files are a security risk), so it is refused", position="prolog",
                                 field="DOCTYPE")
        if not head.strip():
            raise StatementError("the file is empty", position="byte 1")
        if head[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" not in head[:2]:
            start = head.find(b"<")
            head = head[start:] if start > 0 else head
        self._buffer = head
        self.eof = False
        self.lines = 1  # line number of the last byte handed to the parser (8-bit and UTF-8 files)

    def read(self, size: int = -1) -> bytes:
        if self._buffer:
            if size is None or size < 0:
                data, self._buffer = self._buffer + self._stream.read(), b""
            else:
                data, self._buffer = self._buffer[:size], self._buffer[size:]
        else:
            data = self._stream.read(size)
        if not data:
            self.eof = True
        self.lines += data.count(b"\n")
        return data

    def raw(self) -> tuple[bytes, IO[bytes]]:
        """The bytes read ahead and the stream after them, for a reader that needs no line count."""
        head, self._buffer = self._buffer, b""
        return head, self._stream

    def truncated(self, exc: etree.XMLSyntaxError) -> bool:
        """Did the parser fail because the bytes ran out (rather than on a bad byte inside)?"""
        text = str(exc)
        if any(s in text for s in ("Premature end", "end of data", "not closed", "EndTag: '</' not found")):
            return True
        return self.eof and (getattr(exc, "lineno", 0) or 0) >= self.lines


# -- what is read ------------------------------------------------------------------------------

class _Tx:
    """What one TxDtls contributes to its line."""

    __slots__ = ("index", "position", "e2e", "acct_ref", "tx_id", "uetr", "instr_id", "amounts", "sign", "code",
                 "charges", "debtor", "creditor", "remittance", "reason")

    def __init__(self, index: int, position: str) -> None:
        self.index = index
        self.position = position  # Stmt[i]/Ntry[j]/TxDtls[k], the line's position too
        self.e2e = self.acct_ref = self.tx_id = self.uetr = self.instr_id = ""
        self.amounts: list[tuple[Decimal, str]] = []  # (amount, currency) candidates, best first
        self.sign = 0
        self.code = self.charges = self.reason = ""
        self.debtor = self.creditor = _NONE3  # (name, account, id)
        self.remittance: list[str] = []

    def amount_in(self, currency: str) -> Decimal | None:
        for amount, ccy in self.amounts:
            if ccy == currency:
                return amount
        return None


class _Entry:
    __slots__ = ("position", "amount", "currency", "sign", "reversal", "status", "booking", "value", "acct_ref",
                 "ntry_ref", "code", "code_el", "charges", "info", "flags")

    def __init__(self, position: str) -> None:
        self.position = position
        self.amount = _ZERO
        self.currency = ""
        self.sign = 0
        self.reversal = False
        self.status = _BOOKED
        self.booking: dt.date | None = None
        self.value: dt.date | None = None
        self.acct_ref = self.ntry_ref = self.code = self.charges = self.info = ""
        self.code_el = None  # BkTxCd, read only when no TxDtls has its own
        self.flags = ""


class _Statement:
    """The header of one Stmt/Rpt/Ntfctn and what its entries added up to."""

    def __init__(self, position: str) -> None:
        self.position = position
        self.header_read = False
        self.id = self.account = self.currency = ""
        self.balances: list[tuple[str, Decimal, str]] = []  # (code, signed amount, currency)
        self.period: tuple[dt.date | None, dt.date | None] = (None, None)
        self.created: dt.date | None = None
        self.controls: list[tuple[str, Decimal | int, str]] = []  # TxsSummry (what, value, position)
        self.first: dt.date | None = None
        self.last: dt.date | None = None
        self.currencies: dict[str, None] = {}  # ordered set of line currencies
        # for TxsSummry: [count, sum, net, credit count, credit sum, debit count, debit sum]
        self.all = [0, _ZERO, _ZERO, 0, _ZERO, 0, _ZERO]
        self.booked = [0, _ZERO, _ZERO, 0, _ZERO, 0, _ZERO]
        self.pending: list[StatementLine] | None = None

    @property
    def has_balance_pair(self) -> bool:
        codes = {b[0] for b in self.balances}
        return "CLBD" in codes and bool(codes & {"OPBD", "PRCD"})


# -- values ------------------------------------------------------------------------------------

def _where(el) -> str:
    return f" (line {el.sourceline} of the file)" if getattr(el, "sourceline", None) else ""


def _amount(el, parent: str, suffix: str = "Amt") -> tuple[Decimal, str]:
    """An ``ActiveOrHistoricCurrencyAndAmount``: unsigned decimal text and a ``Ccy`` attribute.
    The position (``parent/suffix``) is only built for an error: this runs twice per line."""
    raw = (el.text or "").strip()
    if not _AMOUNT.fullmatch(raw):
        raise StatementError(f"{raw!r} is not an amount: camt amounts are unsigned decimals with '.' such as 1234.50, "
                             f"the sign is in CdtDbtInd{_where(el)}", position=f"{parent}/{suffix}", field="Amt")
    ccy = el.get("Ccy") or ""
    if ccy not in _CURRENCIES:
        if len(ccy) != 3 or not _CCY.fullmatch(ccy):
            raise StatementError(f"the currency attribute Ccy is {ccy!r}, not an ISO 4217 code{_where(el)}",
                                 position=f"{parent}/{suffix}", field="Ccy")
        _CURRENCIES.add(ccy)  # at most 26**3 well-formed codes
    return Decimal(raw), ccy


def _sign(el, parent: str) -> int:
    """``CdtDbtInd`` of the element at ``parent``: +1 for CRDT, -1 for DBIT."""
    raw = (el.text or "").strip() if el is not None else ""
    if raw == "CRDT":
        return 1
    if raw == "DBIT":
        return -1
    if el is None:
        raise StatementError("the mandatory CdtDbtInd (CRDT or DBIT) is missing", position=f"{parent}/CdtDbtInd",
                             field="CdtDbtInd")
    raise StatementError(f"CdtDbtInd is {raw!r}; it must be CRDT or DBIT{_where(el)}", position=f"{parent}/CdtDbtInd",
                         field="CdtDbtInd")


def _known_date(raw: str) -> dt.date | None:
    """The date of ``raw`` if that text, or its date part followed by a valid time, was read
    before. Date-times differ entry by entry, their dates do not, so most need no full parse."""
    value = _DATES.get(raw)
    if value is None:
        text = raw.strip()
        value = _DATES.get(text[:10])
        if value is not None and not _TIME.fullmatch(text, 10):
            return None
    return value


def _iso_date(raw: str, parent: str, field: str) -> dt.date:
    """``ISODate`` or ``ISODateTime`` of element ``field`` under ``parent``; a date-time gives its
    date as written (see module docs)."""
    value = _known_date(raw)
    if value is not None:
        return value
    text = raw.strip()
    m = _DATE.fullmatch(text)
    try:
        if not m:
            raise ValueError
        if m.group(4) is not None and (int(m.group(4)) > 24 or int(m.group(5)) > 59 or int(m.group(6)) > 60):
            raise ValueError
        # The date as written: a DtTm with an offset is the bank's local time, and its local
        # date is the booking day the bank means (converting to UTC would move late bookings).
        value = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.end(3) == 10:
            _DATES[text[:10]] = value
    except ValueError:
        raise StatementError(f"{raw.strip()!r} is not a valid ISO date (YYYY-MM-DD) or date-time "
                             f"(YYYY-MM-DDThh:mm:ss[.fff][Z|+hh:mm])", position=f"{parent}/{field}",
                             field=field) from None
    if len(_DATES) > 4096:
        _DATES.clear()
    _DATES[raw] = value
    return value


class _Names:
    """The file's tag names in Clark notation (``{namespace}Ntry``), built once per file, and
    the readers that use them."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.cut = len(ns) + 2 if ns else 0
        q = self.q
        for name in ("Ntry", "TxDtls", "NtryDtls", "Nm", "Cd", "Id", "Pty", "Prtry", "Domn", "Fmly", "Ccy", "Tp",
                     "CdOrPrtry", "Amt", "CdtDbtInd", "GrpHdr", "CreDtTm", "Rcrd", "TtlChrgsAndTaxAmt", "AddtlNtryInf",
                     "Dt", "DtTm"):
            setattr(self, name, q(name))
        self.entry_names = {q(n): n for n in ("Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef",
                                              "NtryRef", "BkTxCd", "Chrgs", "AddtlNtryInf")}
        self.read_tx = _tx_reader(self)

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def local(self, el) -> str:
        tag = el.tag
        if not isinstance(tag, str):  # comment or processing instruction
            return ""
        return tag[self.cut:] if self.cut else tag.rpartition("}")[2]

    @staticmethod
    def text(el) -> str:
        return (el.text or "").strip() if el is not None else ""

    def date(self, el, parent: str, field: str) -> dt.date | None:
        """A date choice ``field`` under ``parent`` (``BookgDt``, ``ValDt``, ``Bal/Dt``): its ``Dt``
        or ``DtTm`` child."""
        if el is None:
            return None
        for child in el:
            tag = child.tag
            if tag == self.Dt or tag == self.DtTm:
                raw = child.text or ""
                value = _known_date(raw)  # most are: then no position string is built
                return value if value is not None else _iso_date(raw, f"{parent}/{field}", self.local(child))
        raise StatementError("the date has neither Dt nor DtTm", position=f"{parent}/{field}", field=self.local(el))

    def account(self, acct) -> str:
        """``Id/IBAN``, ``Id/Othr/Id`` (.02+), ``Id/PrtryAcct/Id``, ``BBAN`` or ``UPIC`` (.01)."""
        ident = acct.find(self.Id) if acct is not None else None
        if ident is None:
            return ""
        for child in ident:
            name = self.local(child)
            if name in ("IBAN", "BBAN", "UPIC"):
                return self.text(child)
            if name in ("Othr", "PrtryAcct"):
                return self.text(child.find(self.Id))
        return ""

    def bank_code(self, el) -> str:
        """``Domn/Cd`` + ``Fmly/Cd`` + ``Fmly/SubFmlyCd`` as ``PMNT/RCDT/ESCT``, then ``Prtry/Cd``."""
        domain = proprietary = ""
        for child in el:
            tag = child.tag
            if tag == self.Domn:
                codes = []
                for part in child:
                    if part.tag == self.Fmly:
                        codes += [(x.text or "").strip() for x in part]  # Cd, SubFmlyCd
                    else:
                        codes.append((part.text or "").strip())
                domain = "/".join(c for c in codes if c)
            elif tag == self.Prtry:
                proprietary = self.text(child.find(self.Cd)).replace(" ", "_")
        return f"{domain} {proprietary}" if domain and proprietary else domain or proprietary

    def charges(self, el, position: str) -> str:
        """``Chrgs``: ``TtlChrgsAndTaxAmt`` when given, else the sum of ``Rcrd/Amt`` (.03+) or of
        ``Amt`` (.02, where Chrgs itself repeats). Zero charges say nothing."""
        total = el.find(self.TtlChrgsAndTaxAmt)
        if total is not None:
            amount, ccy = _amount(total, position, "TtlChrgsAndTaxAmt")
            return f"CHRG={ccy}{amount}" if amount else ""
        found: dict[str, Decimal] = {}
        for i, rec in enumerate([el, *el.findall(self.Rcrd)]):
            amt = rec.find(self.Amt)
            if amt is not None:
                amount, ccy = _amount(amt, f"{position}/Rcrd[{i}]" if i else position)
                found[ccy] = found.get(ccy, _ZERO) + amount
        return " ".join(f"CHRG={ccy}{amount}" for ccy, amount in found.items() if amount)

    # -- statement header ----------------------------------------------------------------------
    def read_header(self, stmt_el, st: _Statement, statement: str) -> None:
        """Id, Acct, Bal, FrToDt, CreDtTm, TxsSummry: the children before the first Ntry."""
        st.header_read = True
        pos = st.position
        bal_index = 0
        for child in stmt_el:
            name = self.local(child)
            if name == "Id":
                st.id = self.text(child)
            elif name == "Acct":
                st.account = self.account(child)
                st.currency = self.text(child.find(self.Ccy))
            elif name == "Bal":
                bal_index += 1
                self.read_balance(child, st, f"{pos}/Bal[{bal_index}]")
            elif name == "FrToDt":
                period = []
                for part in ("FrDtTm", "ToDtTm"):
                    value = child.find(self.q(part))
                    period.append(_iso_date(value.text or "", f"{pos}/FrToDt", part) if value is not None else None)
                st.period = (period[0], period[1])
            elif name == "CreDtTm":
                st.created = _iso_date(child.text or "", pos, "CreDtTm")
            elif name == "TxsSummry":
                self.read_summary(child, st, f"{pos}/TxsSummry")
            elif name == "Ntry":
                break
        if not st.id:
            raise StatementError(f"the mandatory {statement}/Id is missing", position=f"{pos}/Id", field="Id")
        if not st.account:
            raise StatementError("the account is missing: expected Acct/Id/IBAN or Acct/Id/Othr/Id",
                                 position=f"{pos}/Acct/Id", field="Acct")
        if st.currency and not _CCY.fullmatch(st.currency):
            raise StatementError(f"the account currency is {st.currency!r}, not an ISO 4217 code",
                                 position=f"{pos}/Acct/Ccy", field="Ccy")

    def read_balance(self, bal, st: _Statement, pos: str) -> None:
        tp = bal.find(self.Tp)
        code = ""
        if tp is not None:
            choice = tp.find(self.CdOrPrtry)  # .02+: Tp/CdOrPrtry/Cd; .01: Tp/Cd
            code = self.text((choice if choice is not None else tp).find(self.Cd))
        amt = bal.find(self.Amt)
        if amt is None:
            raise StatementError("the balance has no Amt", position=f"{pos}/Amt", field="Amt")
        amount, ccy = _amount(amt, pos)
        sign = _sign(bal.find(self.CdtDbtInd), pos)
        self.date(bal.find(self.Dt), pos, "Dt")  # validated; the statement period comes from elsewhere
        st.balances.append((code, amount * sign, ccy))

    def read_summary(self, summ, st: _Statement, pos: str) -> None:
        """``TxsSummry``: kept as (what, value) and checked once the entries are read."""
        for part in ("TtlNtries", "TtlCdtNtries", "TtlDbtNtries"):
            el = summ.find(self.q(part))
            if el is None:
                continue
            nb = self.text(el.find(self.q("NbOfNtries")))
            if nb:
                if not nb.isdigit():
                    raise StatementError(f"NbOfNtries is {nb!r}, not a number", position=f"{pos}/{part}/NbOfNtries",
                                         field="NbOfNtries")
                st.controls.append((f"{part}/NbOfNtries", int(nb), f"{pos}/{part}/NbOfNtries"))
            total = self.text(el.find(self.q("Sum")))
            if total:
                if not _AMOUNT.fullmatch(total):
                    raise StatementError(f"{total!r} is not an amount", position=f"{pos}/{part}/Sum", field="Sum")
                st.controls.append((f"{part}/Sum", Decimal(total), f"{pos}/{part}/Sum"))
            if part == "TtlNtries":
                # .02: TtlNetNtryAmt + CdtDbtInd beside it; .03+: TtlNetNtry/Amt + TtlNetNtry/CdtDbtInd
                net_el = el.find(self.q("TtlNetNtry"))
                holder = net_el if net_el is not None else el
                net = self.text(holder.find(self.Amt if net_el is not None else self.q("TtlNetNtryAmt")))
                if net:
                    if not _AMOUNT.fullmatch(net):
                        raise StatementError(f"{net!r} is not an amount", position=f"{pos}/TtlNtries/TtlNetNtry",
                                             field="TtlNetNtry")
                    ind = holder.find(self.CdtDbtInd)
                    sign = _sign(ind, f"{pos}/TtlNtries") if ind is not None else 1
                    st.controls.append(("TtlNtries/TtlNetNtry", Decimal(net) * sign, f"{pos}/TtlNtries/TtlNetNtry"))

    # -- entries -------------------------------------------------------------------------------
    def read_entry(self, ntry, st: _Statement, pos: str, group_created: dt.date | None) -> _Entry:
        """The entry's own fields (they precede NtryDtls, so they are complete at its first TxDtls)."""
        e = _Entry(pos)
        amt_el = sign_el = None
        names = self.entry_names
        for child in ntry:
            name = names.get(child.tag)
            if name is None:
                continue
            if name == "Amt":
                amt_el = child
            elif name == "CdtDbtInd":
                sign_el = child
            elif name == "BookgDt":
                e.booking = self.date(child, pos, "BookgDt")
            elif name == "ValDt":
                e.value = self.date(child, pos, "ValDt")
            elif name == "Sts":
                # up to .07 <Sts>BOOK</Sts>; .08+ <Sts><Cd>BOOK</Cd></Sts> (or <Prtry>)
                status = (child.text or "").strip()
                if not status and len(child):
                    status = (child[0].text or "").strip()
                e.status = status.upper() or _BOOKED
            elif name == "AcctSvcrRef":
                e.acct_ref = (child.text or "").strip()
            elif name == "NtryRef":
                e.ntry_ref = (child.text or "").strip()
            elif name == "RvslInd":
                e.reversal = (child.text or "").strip().lower() in ("true", "1")
            elif name == "BkTxCd":
                e.code_el = child
            elif name == "Chrgs":
                e.charges = " ".join(filter(None, (e.charges, self.charges(child, f"{pos}/Chrgs"))))
            elif name == "AddtlNtryInf":
                e.info = (child.text or "").strip()
        if amt_el is None:
            raise StatementError("the mandatory entry amount Ntry/Amt is missing", position=f"{pos}/Amt", field="Amt")
        e.amount, e.currency = _amount(amt_el, pos)
        e.sign = _sign(sign_el, pos)
        if e.booking is None:
            # BookgDt is optional (pending entries, notifications): the value date, else the
            # statement period's end, else its creation date, else the message's.
            e.booking = e.value or st.period[1] or st.created or group_created
            if e.booking is None:
                raise StatementError("the entry has no booking date (BookgDt) and nothing to take one from "
                                     "(ValDt, FrToDt, CreDtTm)", position=f"{pos}/BookgDt", field="BookgDt")
        flags = []
        if e.reversal:
            flags.append("RVSL")
        if e.status != _BOOKED:
            flags.append(e.status)
        e.flags = " ".join(flags)
        return e


def _tx_reader(names: _Names):
    """Build the reader of one ``TxDtls`` for the file's namespace.

    It walks down the known structure (TxDtls children, then Refs, AmtDtls, RltdPties, RmtInf
    ...) comparing tags bound here once, and skips the subtrees it does not use (RltdAgts,
    postal addresses, tax ...). It is the hot path: it runs once per transaction.
    """
    q = names.q
    AMT, CDI, CD, NM, ID, PTY, PRTRY = q("Amt"), q("CdtDbtInd"), q("Cd"), q("Nm"), q("Id"), q("Pty"), q("Prtry")
    OTHR, PRTRYACCT, ORGID, PRVTID = q("Othr"), q("PrtryAcct"), q("OrgId"), q("PrvtId")
    USTRD, STRD, CDTRREF, RFRD, NB, ARI, RSN = (q("Ustrd"), q("Strd"), q("CdtrRefInf"), q("RfrdDocInf"), q("Nb"),
                                                q("AddtlRmtInf"), q("Rsn"))
    REF = {q("Ref"), q("CdtrRef")}  # CdtrRefInf/Ref, .01: CdtrRefInf/CdtrRef
    (REFS, T_AMT, T_CDI, AMTDTLS, BKTX, CHRGS, PARTIES, RMTINF, RTRINF, ADDTL) = range(10)
    TOP = {q("Refs"): REFS, AMT: T_AMT, CDI: T_CDI, q("AmtDtls"): AMTDTLS, q("BkTxCd"): BKTX, q("Chrgs"): CHRGS,
           q("RltdPties"): PARTIES, q("RmtInf"): RMTINF, q("RtrInf"): RTRINF, q("AddtlTxInf"): ADDTL}
    # Refs children -> slot in (EndToEndId, AcctSvcrRef, TxId, UETR, InstrId)
    REF_SLOT = {q("EndToEndId"): 0, q("AcctSvcrRef"): 1, q("TxId"): 2, q("UETR"): 3, q("InstrId"): 4}
    AMT_KIND = {q("TxAmt"): "TxAmt", q("CntrValAmt"): "CntrValAmt", q("InstdAmt"): "InstdAmt"}
    PARTY = {q("Dbtr"): 0, q("UltmtDbtr"): 1, q("Cdtr"): 2, q("UltmtCdtr"): 3}
    ACCT = {q("DbtrAcct"): 0, q("CdtrAcct"): 1}
    ACCT_LEAF = {q("IBAN"), q("BBAN"), q("UPIC")}
    top = TOP.get
    bank_code, charges = names.bank_code, names.charges

    def account(acct) -> str:
        for ident in acct:
            if ident.tag == ID:
                for child in ident:
                    tag = child.tag
                    if tag in ACCT_LEAF:
                        return (child.text or "").strip()
                    if tag == OTHR or tag == PRTRYACCT:
                        for leaf in child:
                            if leaf.tag == ID:
                                return (leaf.text or "").strip()
        return ""

    def party(el) -> tuple[str, str]:
        """Name and id: ``Nm`` and ``Id/OrgId|PrvtId/Othr/Id``, under ``Pty`` from .08 on."""
        name = ident = ""
        for child in el:
            tag = child.tag
            if tag == NM:
                name = name or (child.text or "").strip()
            elif tag == PTY:
                return party(child)
            elif tag == ID:
                for kind in child:
                    if kind.tag == ORGID or kind.tag == PRVTID:
                        for othr in kind:
                            if othr.tag == OTHR and not ident:
                                for leaf in othr:
                                    if leaf.tag == ID:
                                        ident = (leaf.text or "").strip()
                                        break
        return name, ident

    def read_tx(tx, index: int, pos: str) -> _Tx:
        t = _Tx(index, pos)
        amounts = []
        for child in tx:
            c = top(child.tag)
            if c is None:
                continue
            if c == REFS:
                refs = [t.e2e, t.acct_ref, t.tx_id, t.uetr, t.instr_id]
                for ref in child:
                    slot = REF_SLOT.get(ref.tag)
                    if slot is not None and not refs[slot]:  # the first one given counts
                        refs[slot] = (ref.text or "").strip()
                t.e2e, t.acct_ref, t.tx_id, t.uetr, t.instr_id = refs
            elif c == T_AMT:
                amounts.insert(0, (child, "Amt"))
            elif c == T_CDI:
                raw = child.text
                t.sign = 1 if raw == "CRDT" else -1 if raw == "DBIT" else _sign(child, pos)
            elif c == AMTDTLS:
                for kind in child:
                    name = AMT_KIND.get(kind.tag)
                    if name is not None:
                        for amt in kind:
                            if amt.tag == AMT:
                                amounts.append((amt, f"AmtDtls/{name}/Amt"))
                                break
            elif c == BKTX:
                t.code = bank_code(child)
            elif c == PARTIES:
                parties = [("", ""), ("", ""), ("", ""), ("", "")]
                accounts = ["", ""]
                for role in child:
                    tag = role.tag
                    k = PARTY.get(tag)
                    if k is not None:
                        parties[k] = party(role)
                    else:
                        k = ACCT.get(tag)
                        if k is not None:
                            accounts[k] = account(role)
                (dn, di), (un, ui), (cn, ci), (vn, vi) = parties
                if dn or un or di or ui or accounts[0]:
                    t.debtor = (dn or un, accounts[0], di or ui)
                if cn or vn or ci or vi or accounts[1]:
                    t.creditor = (cn or vn, accounts[1], ci or vi)
            elif c == RMTINF:
                remittance = t.remittance
                for part in child:
                    tag = part.tag
                    if tag == USTRD:
                        remittance.append((part.text or "").strip())
                    elif tag == STRD:
                        for info in part:
                            itag = info.tag
                            if itag == CDTRREF:
                                for leaf in info:
                                    if leaf.tag in REF:
                                        remittance.append((leaf.text or "").strip())
                            elif itag == RFRD:
                                for leaf in info:
                                    if leaf.tag == NB:
                                        remittance.append((leaf.text or "").strip())
                            elif itag == ARI:
                                remittance.append((info.text or "").strip())
            elif c == RTRINF:
                for rsn in child:
                    if rsn.tag == RSN:
                        for leaf in rsn:  # Cd or Prtry
                            if leaf.tag == CD or leaf.tag == PRTRY:
                                t.reason = (leaf.text or "").strip()
                                break
            elif c == ADDTL:
                t.remittance.append((child.text or "").strip())
            elif c == CHRGS:
                t.charges = " ".join(filter(None, (t.charges, charges(child, f"{pos}/Chrgs"))))
        if amounts:
            t.amounts = [_amount(el, pos, suffix) for el, suffix in amounts]
        return t

    return read_tx


def _forget(el) -> None:
    """Free a processed element and everything before it under the same parent."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


# -- the formats ---------------------------------------------------------------------------------

class _CamtFormat(BankFormat):
    kind: ClassVar[str]
    statement: ClassVar[str]

    def detect(self, head: bytes, filename: str) -> float:
        try:
            text = _head_text(head)
            m = _NS_DECL.search(text)
            if m:
                return 1.0 if m.group(1) == self.kind else 0.0
            m = _ROOT.search(text)
            if not m or _ROOT_KIND[m.group(1)] != self.kind:
                return 0.0
            if re.search(r"xmlns\s*=", text[: text.find(">", m.start()) + 1]):
                return 0.6  # a default namespace that is not ISO's camt one: parse() says which
            return 0.9  # no namespace at all: the message element decides
        except Exception:
            return 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        start = _tell(stream) if _camtscan is not None else None
        source = _Prolog(stream)
        done = 0
        if start is not None:
            # The C reader models the shapes real files have; on anything else, and on every
            # error (whose wording is lxml's), the file is read again with lxml, which yields the
            # same items, so the ones already given are skipped.
            fast = _FastReader(self, source)
            try:
                yield from fast.run()
                return
            except (_camtscan.Unsupported, StatementError, _Fallback) as exc:
                done = fast.yielded
                log.debug("camt_fast_reader_fallback", file=filename, reason=str(exc), items=done)
            stream.seek(start)
            source = _Prolog(stream)
        items = self._parse_lxml(source)
        for _ in range(done):
            next(items)
        yield from items

    def _parse_lxml(self, source: _Prolog) -> Iterator[StatementLine | StatementSummary]:
        tags = [f"{{*}}{m}" for m, (kind, _) in _MESSAGES.items() if kind == self.kind]
        tags += [f"{{*}}{self.statement}", "{*}Ntry", "{*}TxDtls"]
        # Only these elements reach Python. remove_blank_text: indentation is not data in camt
        # (no mixed content), and without it libxml2 builds a third more nodes.
        context = etree.iterparse(source, events=("start", "end"), tag=tags, remove_blank_text=True,
                                  **secure_xml_parser_options())
        where = [""]  # the element being read, for syntax errors
        try:
            yield from _FileReader(self, context, where).run()
        except etree.XMLSyntaxError as exc:
            if source.truncated(exc):
                problem = "the XML ends before its elements are closed: the file is truncated"
            elif "UTF-8" in str(exc) or "encoding" in str(exc).lower():
                problem = ("the bytes do not match the encoding the file declares (a file saved as Latin-1 or "
                           "CP1252 must say so in <?xml ... encoding=\"ISO-8859-1\"?>)")
            else:
                problem = "the XML is malformed"
            line = f" at line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            raise StatementError(f"{problem}{line} ({exc.msg})", position=where[0] or "document") from None


class _FileReader:
    """The state of one file being parsed."""

    def __init__(self, fmt: _CamtFormat, context, where: list[str]) -> None:
        self.fmt = fmt
        self.context = context
        self.where = where
        self.ordinals = Ordinals()
        self.group_created: dt.date | None = None
        self.names: _Names | None = None

    def run(self) -> Iterator[StatementLine | StatementSummary]:
        fmt, where = self.fmt, self.where
        message = stmt_el = ntry_el = None
        st: _Statement | None = None
        entry: _Entry | None = None
        names: _Names | None = None
        txs: list[_Tx] = []
        streamed = [0, _ZERO]  # lines already yielded from the current entry, and their sum
        ntry_index = tx_index = stmt_index = 0
        NTRY = TX = STMT = ""
        for event, el in self.context:
            tag = el.tag
            if message is None:
                # The first event is the message element, unless a Stmt/Ntry/TxDtls comes
                # outside one (refused).
                if el.getroottree().docinfo.doctype:
                    raise StatementError("the file declares a DOCTYPE; bank XML must not carry one, so it is refused",
                                         position="prolog", field="DOCTYPE")
                name = tag.rpartition("}")[2]
                if name not in _MESSAGES:
                    raise StatementError(f"<{name}> found outside a {fmt.name} message element", position=name)
                ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
                self._check_namespace(ns)
                names = self.names = _Names(ns)
                NTRY, TX, STMT = names.Ntry, names.TxDtls, names.q(fmt.statement)
                message = el
                continue
            assert names is not None
            if event == "end":
                if tag == TX:
                    if ntry_el is None:
                        continue
                    assert st is not None
                    tx_index += 1
                    if entry is None:
                        entry = names.read_entry(ntry_el, st, where[0], self.group_created)
                    txs.append(names.read_tx(el, tx_index, f"{where[0]}/TxDtls[{tx_index}]"))
                    if tx_index > 1:
                        # a batch: free each transaction as it is read (a lone one goes with its entry)
                        _forget(el)
                    if len(txs) >= SPLIT_BUFFER:
                        yield from self._stream_batch(st, entry, txs, streamed)
                        txs = []
                elif el is ntry_el:
                    assert st is not None
                    if entry is None:
                        entry = names.read_entry(el, st, where[0], self.group_created)
                    else:  # AddtlNtryInf follows NtryDtls, so it was not there yet
                        for child in reversed(el):
                            if child.tag == names.AddtlNtryInf:
                                entry.info = (child.text or "").strip()
                            elif child.tag == names.NtryDtls:
                                break
                    lines = self._entry_lines(st, entry, txs, streamed)
                    _forget(el)
                    yield from lines
                    ntry_el, entry, txs = None, None, []
                    where[0] = st.position
                elif el is stmt_el:
                    assert st is not None
                    if not st.header_read:
                        names.read_header(stmt_el, st, fmt.statement)
                    _check_controls(st)
                    yield from self._summaries(st)
                    _forget(el)
                    st = stmt_el = None
                    where[0] = ""
            elif tag == NTRY:
                if st is None or el.getparent() is not stmt_el:
                    continue
                if not st.header_read:
                    names.read_header(stmt_el, st, fmt.statement)
                    st.pending = [] if st.has_balance_pair else None
                ntry_index += 1
                tx_index = 0
                ntry_el, entry, txs, streamed = el, None, [], [0, _ZERO]
                where[0] = f"{st.position}/Ntry[{ntry_index}]"
            elif tag == STMT and el.getparent() is message:
                if stmt_index == 0:
                    self._read_group_header(message)
                stmt_index += 1
                ntry_index = 0
                stmt_el = el
                st = _Statement(f"{fmt.statement}[{stmt_index}]")
                where[0] = st.position
        if message is None:
            root = self.context.root
            what = (f"<{etree.QName(root).localname}> in namespace {etree.QName(root).namespace!r}"
                    if root is not None else "no element")
            raise StatementError(f"this is not a {fmt.name} message: found {what}", position="Document")
        if stmt_index == 0:
            raise StatementError(f"the {fmt.name} message holds no {fmt.statement} element", position=fmt.statement)

    def _check_namespace(self, ns: str) -> None:
        kind = self.fmt.kind
        if not ns:
            return
        m = _CAMT_NS.search(ns)
        if not m:
            raise StatementError(f"the namespace {ns!r} is not an ISO 20022 camt.{kind} namespace "
                                 f"(urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.NN)", position="Document",
                                 field="xmlns")
        if m.group(1) != kind:
            raise StatementError(f"the namespace says camt.{m.group(1)} but the message element is camt.{kind}'s",
                                 position="Document", field="xmlns")

    def _read_group_header(self, message) -> None:
        assert self.names is not None
        hdr = message.find(self.names.GrpHdr)
        created = hdr.find(self.names.CreDtTm) if hdr is not None else None
        if created is not None:
            self.group_created = _iso_date(created.text or "", "GrpHdr", "CreDtTm")

    # -- the lines of one entry ------------------------------------------------------------------
    def _entry_lines(self, st: _Statement, e: _Entry, txs: list[_Tx], streamed: list) -> list[StatementLine]:
        """The lines of one entry to yield now (pending ones are held back in ``st.pending``); a
        list rather than a generator, which costs more to set up for the single line most entries
        have."""
        total = e.amount if e.sign > 0 else -e.amount
        _count(st, e)
        if streamed[0]:
            # a batch too big to hold streamed with its own amounts, which must add up
            lines = self._stream_batch(st, e, txs, streamed)
            if streamed[1] != total:
                raise StatementError(f"the {streamed[0]} transactions of this entry add up to {streamed[1]} but the "
                                     f"entry books {total} {e.currency}", position=e.position, field="Amt")
            return lines
        if len(txs) <= 1:
            # the booked amount is what moved the account (public files have single TxDtls whose
            # own amount is in another currency, or zero; truth.json)
            lines = [self._line(st, e, txs[0] if txs else None, total, False, False)]
        else:
            amounts = _split(e, txs)
            if amounts is not None:
                lines = [self._line(st, e, t, amount, True, False) for t, amount in zip(txs, amounts)]
            else:
                lines = [self._line(st, e, t, total if i == 0 else _ZERO, True, True) for i, t in enumerate(txs)]
        if st.pending is None or e.status == _BOOKED:
            return lines
        st.pending += lines
        return []

    def _stream_batch(self, st: _Statement, e: _Entry, txs: list[_Tx], streamed: list) -> list[StatementLine]:
        lines = []
        for t in txs:
            amount = t.amount_in(e.currency)
            if amount is None:
                raise StatementError(f"in an entry of more than {SPLIT_BUFFER} transactions each needs its own amount "
                                     f"in {e.currency} (TxDtls/Amt or AmtDtls/TxAmt/Amt)",
                                     position=t.position, field="Amt")
            if (t.sign or e.sign) < 0:
                amount = -amount
            streamed[0] += 1
            streamed[1] += amount
            lines.append(self._line(st, e, t, amount, True, False))
        if st.pending is None or e.status == _BOOKED:
            return lines
        st.pending += lines
        return []

    def _line(self, st: _Statement, e: _Entry, t: _Tx | None, amount: Decimal, split: bool,
              unsplit: bool) -> StatementLine:
        assert e.booking is not None and self.names is not None
        code = charges = reason = ""
        remittance: list[str] = []
        debtor = creditor = _NONE3
        if t is None:
            bank_ref = e.acct_ref or e.ntry_ref
            e2e = ""
            position = e.position
        else:
            # The bank's id for the line: the entry's AcctSvcrRef, except that a split batch's
            # transactions are better named by their own; then the other references.
            if split:
                bank_ref = t.acct_ref or e.acct_ref or e.ntry_ref or t.tx_id or t.uetr or t.instr_id
            else:
                bank_ref = e.acct_ref or t.acct_ref or e.ntry_ref or t.tx_id or t.uetr or t.instr_id
            e2e = "" if t.e2e.upper() == "NOTPROVIDED" else t.e2e
            code, charges, reason = t.code, t.charges, t.reason
            remittance = t.remittance
            debtor, creditor = t.debtor, t.creditor
            position = t.position
        if not code and e.code_el is not None:
            e.code = self.names.bank_code(e.code_el)
            e.code_el = None
        code = code or e.code
        # The counterparty: the debtor of money in, the creditor of money out. A reversal keeps
        # the parties of the original transaction, so its direction is turned back for this.
        direction = (amount > 0) if amount else (e.sign > 0)
        if e.reversal:
            direction = not direction
        name, account, ident = debtor if direction else creditor
        flags = " ".join(f for f in (code, e.flags, f"RTRN={reason}" if reason else "", charges or e.charges,
                                     "UNSPLIT" if unsplit else "") if f)
        if e.info:
            remittance = [*remittance, e.info]
        if len(remittance) > 1:
            remittance = list(dict.fromkeys(r for r in remittance if r))
        booking = e.booking
        if st.first is None or booking < st.first:
            st.first = booking
        if st.last is None or booking > st.last:
            st.last = booking
        st.currencies.setdefault(e.currency, None)
        return StatementLine(
            account=st.account, currency=e.currency, booking_date=booking, value_date=e.value, amount=amount,
            bank_reference=bank_ref, end_to_end_id=e2e, payer_name=name, payer_account=account, payer_id=ident,
            remittance=" ".join(remittance), transaction_code=flags, statement_id=st.id,
            ordinal=self.ordinals(st.account, booking, bank_ref, amount), position=position)

    def _summaries(self, st: _Statement) -> Iterator[StatementLine | StatementSummary]:
        opening = closing = None
        currency = st.currency or next(iter(st.currencies), "") or next((b[2] for b in st.balances), "")
        if self.fmt.kind != "054":
            opening = _balance(st, ("OPBD", "PRCD"), currency)
            closing = _balance(st, ("CLBD",), currency)
        period_from = st.period[0] or st.first
        period_to = st.period[1] or st.last
        currencies = list(st.currencies)
        if currency and currency not in st.currencies:
            currencies.insert(0, currency)
        for ccy in currencies:
            main = ccy == currency
            yield StatementSummary(
                account=st.account, currency=ccy, statement_id=st.id, period_from=period_from, period_to=period_to,
                opening_balance=opening if main else None, closing_balance=closing if main else None,
                position=st.position)
        if st.pending:
            pending_ccys: dict[str, None] = {}
            for line in st.pending:
                pending_ccys.setdefault(line.currency, None)
                yield line
            for ccy in pending_ccys:
                yield StatementSummary(account=st.account, currency=ccy, statement_id=f"{st.id} PDNG",
                                       period_from=period_from, period_to=period_to, position=st.position)


def _split(e: _Entry, txs: list[_Tx]) -> list[Decimal] | None:
    """Each transaction's signed amount in the entry's currency, if all have one and they add up
    to the booked amount; else None (the split cannot be known)."""
    amounts = []
    for t in txs:
        amount = t.amount_in(e.currency)
        if amount is None:
            return None
        amounts.append(-amount if (t.sign or e.sign) < 0 else amount)
    return amounts if sum(amounts) == (e.amount if e.sign > 0 else -e.amount) else None


def _count(st: _Statement, e: _Entry) -> None:
    for acc in (st.all, st.booked) if e.status == _BOOKED else (st.all,):
        acc[0] += 1
        acc[1] += e.amount
        if e.sign > 0:
            acc[2] += e.amount
            acc[3] += 1
            acc[4] += e.amount
        else:
            acc[2] -= e.amount
            acc[5] += 1
            acc[6] += e.amount


_CONTROL_INDEX = {"TtlNtries/NbOfNtries": 0, "TtlNtries/Sum": 1, "TtlNtries/TtlNetNtry": 2,
                  "TtlCdtNtries/NbOfNtries": 3, "TtlCdtNtries/Sum": 4, "TtlDbtNtries/NbOfNtries": 5,
                  "TtlDbtNtries/Sum": 6}


def _check_controls(st: _Statement) -> None:
    """``TxsSummry`` against the entries, counted over all of them or, as some banks count, the
    booked ones only; either passing is accepted."""
    for counted in (st.all, st.booked):
        if all(counted[_CONTROL_INDEX[what]] == value for what, value, _ in st.controls):
            return
    what, value, pos = next(c for c in st.controls if st.all[_CONTROL_INDEX[c[0]]] != c[1])
    raise StatementError(f"TxsSummry declares {what} = {value} but the entries give {st.all[_CONTROL_INDEX[what]]}",
                         position=pos, field=what.rpartition("/")[2])


def _balance(st: _Statement, codes: tuple[str, ...], currency: str) -> Decimal | None:
    """The first balance of the first code present, preferring the statement's currency. A
    balance in another currency is still used (public files carry such synthetic balances): the
    core then reports the break instead of this parser hiding it."""
    for code in codes:
        found = [b for b in st.balances if b[0] == code]
        if found:
            same = [b for b in found if b[2] == currency]
            return (same or found)[0][1]
    return None


class _Fallback(Exception):
    """The C reader met something it leaves to lxml."""


def _tell(stream: IO[bytes]) -> int | None:
    """Where the stream starts, if it can be read again from there (for the fallback)."""
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


class _Node:
    """An element of a statement header as the C reader hands it back, with the part of the
    lxml element API that :meth:`_Names.read_header` uses."""

    __slots__ = ("tag", "text", "attrib", "children")
    sourceline = None

    def __init__(self, tag: str, text: str | None, attrib: dict, children: list[_Node]) -> None:
        self.tag, self.text, self.attrib, self.children = tag, text, attrib, children

    def __iter__(self):
        return iter(self.children)

    def __len__(self) -> int:
        return len(self.children)

    def __getitem__(self, i: int) -> _Node:
        return self.children[i]

    def __reversed__(self):
        return reversed(self.children)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.attrib.get(key, default)


def _nodes(raw: list, q) -> list[_Node]:
    return [_Node(q(local), text, attrib, _nodes(kids, q)) for local, text, attrib, kids in raw]


# What the C reader takes as it is; anything else is left to lxml, whose judgement (and wording)
# is the reference: a plain XML 1.x declaration, and ISO's camt namespaces spelt exactly.
_DECLARATION = re.compile(rb"""<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(?:\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?"""
                          rb"""(?:\s+standalone\s*=\s*(["'])(?:yes|no)\3)?\s*\?>""")
_STRICT_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.[0-9]{2}")


def _fast_amount(raw: Decimal | str | None, ccy: str | None) -> tuple[Decimal, str]:
    """An amount as the C reader gives it: a Decimal when its text was plain digits, else the
    text, checked here as :func:`_amount` does."""
    if type(raw) is Decimal and ccy in _CURRENCIES:
        return raw, ccy
    if ccy not in _CURRENCIES:
        if not ccy or len(ccy) != 3 or not _CCY.fullmatch(ccy):
            raise _Fallback("currency")
        _CURRENCIES.add(ccy)
    if type(raw) is Decimal:
        return raw, ccy
    if raw is None or not _AMOUNT.fullmatch(raw):
        raise _Fallback("amount")
    return Decimal(raw), ccy


class _FastReader(_FileReader):
    """The same reading as :class:`_FileReader` over the records of ``_camtscan.Scanner``: the
    statement header goes through the same code (as :class:`_Node` trees), entries arrive as
    tuples of ready strings."""

    def __init__(self, fmt: _CamtFormat, source: _Prolog) -> None:
        super().__init__(fmt, None, [""])
        self.source = source
        self.yielded = 0  # items handed out, which the lxml reader skips if it takes over

    def _tally(self, booked: bool, amount: Decimal, sign: int) -> None:
        """_count's sums for one entry, into the booked or the pending half that run() adds to
        st.booked and st.all when the statement ends."""
        acc = self.counts[0] if booked else self.counts[1]
        acc[0] += 1
        acc[1] += amount
        if sign > 0:
            acc[2] += amount
            acc[3] += 1
            acc[4] += amount
        else:
            acc[2] -= amount
            acc[5] += 1
            acc[6] += amount

    def run(self) -> Iterator[StatementLine | StatementSummary]:
        fmt = self.fmt
        messages = [m for m, (kind, _) in _MESSAGES.items() if kind == fmt.kind]
        scanner = _camtscan.Scanner(messages[0], messages[1], fmt.statement, SPLIT_BUFFER)
        head, stream = self.source.raw()
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if start.startswith(b"<?xml") and not _DECLARATION.match(start):
            # expat accepts declarations libxml2 refuses (version="Z.0" ...): lxml decides.
            raise _Fallback("an XML declaration lxml should judge")
        read = stream.read
        names: _Names | None = None
        st: _Statement | None = None
        stmt_index = ntry_index = 0
        entry = self._entry
        while True:
            chunk = head or read(1 << 18)
            head = b""
            for rec in scanner.feed(chunk, not chunk):
                kind = rec[0]
                if kind == 2:
                    ntry_index += 1
                    lines = entry(st, rec, ntry_index)
                    self.yielded += len(lines)
                    yield from lines
                elif kind == 1:
                    stmt_index += 1
                    ntry_index = 0
                    if stmt_index == 1 and rec[2] is not None:
                        self.group_created = _iso_date(rec[2], "GrpHdr", "CreDtTm")
                    st = _Statement(f"{fmt.statement}[{stmt_index}]")
                    self.counts = ([0, _ZERO, _ZERO, 0, _ZERO, 0, _ZERO], [0, _ZERO, _ZERO, 0, _ZERO, 0, _ZERO])
                    names.read_header(_Node("", None, {}, _nodes(rec[1], names.q)), st, fmt.statement)
                    st.pending = [] if st.has_balance_pair else None
                elif kind == 3:
                    booked, pending = self.counts
                    st.booked = [a + b for a, b in zip(st.booked, booked)]
                    st.all = [a + b + c for a, b, c in zip(st.all, booked, pending)]
                    _check_controls(st)
                    items = list(self._summaries(st))
                    self.yielded += len(items)
                    yield from items
                    st = None
                else:
                    if rec[1] and not _STRICT_NS.fullmatch(rec[1]):
                        # libxml2 refuses namespace URIs expat takes (spaces, stray bytes): lxml decides.
                        raise _Fallback("a namespace lxml should judge")
                    self._check_namespace(rec[1])
                    names = self.names = _Names(rec[1])
            if not chunk:
                break
        if names is None or stmt_index == 0:
            raise _Fallback("no message or no statement")

    def _entry(self, st: _Statement, rec: tuple, ntry_index: int) -> list[StatementLine]:
        """The lines of one entry: :meth:`_FileReader._entry_lines` for a batch, the same steps
        written out for an entry of one line (most are), which spares two objects per line."""
        (_, amt, ccy, cdi, rvsl, sts, sts1, bookg, val, acct_ref, ntry_ref, info, code, _, _, _, raw_txs) = rec
        pos = st.position + "/Ntry[" + str(ntry_index)
        if type(amt) is Decimal and ccy in _CURRENCIES:
            amount, currency = amt, ccy
        else:
            amount, currency = _fast_amount(amt, ccy)
        sign = 1 if cdi == "CRDT" else -1 if cdi == "DBIT" else 0
        if not sign:
            raise _Fallback("CdtDbtInd")
        booking = value = None
        if bookg is not None:
            booking = _known_date(bookg) or _iso_date(bookg, pos + "]", "BookgDt")
        if val is not None:
            value = _known_date(val) or _iso_date(val, pos + "]", "ValDt")
        status = ((sts or sts1 or "").upper() or _BOOKED) if sts is not None else _BOOKED
        reversal = bool(rvsl) and rvsl.lower() in ("true", "1")
        if booking is None:
            booking = value or st.period[1] or st.created or self.group_created
            if booking is None:
                raise _Fallback("no booking date")
        booked = status == _BOOKED
        if reversal:
            flags = "RVSL" if booked else f"RVSL {status}"
        else:
            flags = "" if booked else status
        if len(raw_txs) > 1:
            return self._batch(st, raw_txs, pos + "]", amount, currency, sign, booking, value, status, reversal, flags,
                               acct_ref, ntry_ref, info, code)
        total = amount if sign > 0 else -amount
        self._tally(booked, amount, sign)
        if raw_txs:
            (e2e, t_ref, tx_id, uetr, instr, t_amt, t_ccy, t_cdi, t_code, _, _, _, dn, di, un, ui, cn, ci, vn, vi,
             dacct, cacct, reason, amtdtls, remittance) = raw_txs[0]
            if t_amt is not None and (type(t_amt) is not Decimal or t_ccy not in _CURRENCIES):
                _fast_amount(t_amt, t_ccy)
            for a, c in amtdtls:
                _fast_amount(a, c)
            if t_cdi is not None and t_cdi != "CRDT" and t_cdi != "DBIT":
                raise _Fallback("TxDtls/CdtDbtInd")
            bank_ref = acct_ref or t_ref or ntry_ref or tx_id or uetr or instr
            if e2e.upper() == "NOTPROVIDED":
                e2e = ""
            code = t_code or code
            position = pos + "]/TxDtls[1]"
            direction = (total > 0) if total else (sign > 0)
            if reversal:
                direction = not direction
            if direction:
                party = (dn or un, dacct, di or ui) if dn or un or di or ui or dacct else _NONE3
            else:
                party = (cn or vn, cacct, ci or vi) if cn or vn or ci or vi or cacct else _NONE3
            if flags or reason:
                tags = " ".join(f for f in (code, flags, f"RTRN={reason}" if reason else "") if f)
            else:
                tags = code
        else:
            bank_ref = acct_ref or ntry_ref
            e2e = ""
            position = pos + "]"
            party = _NONE3
            remittance = []
            tags = f"{code} {flags}" if code and flags else code or flags
        if info:
            remittance = [*remittance, info]
        if len(remittance) > 1:
            if len(remittance) == 3:  # the usual Ustrd, reference and AddtlNtryInf: mostly all kept
                a, b, c = remittance
                if not (a and b and c and a != b and a != c and b != c):
                    remittance = list(dict.fromkeys(filter(None, remittance)))
            else:
                remittance = list(dict.fromkeys(filter(None, remittance)))
        if st.first is None or booking < st.first:
            st.first = booking
        if st.last is None or booking > st.last:
            st.last = booking
        st.currencies.setdefault(currency, None)
        line = StatementLine(
            account=st.account, currency=currency, booking_date=booking, value_date=value, amount=total,
            bank_reference=bank_ref, end_to_end_id=e2e, payer_name=party[0], payer_account=party[1],
            payer_id=party[2], remittance=" ".join(remittance), transaction_code=tags, statement_id=st.id,
            ordinal=self.ordinals(st.account, booking, bank_ref, total), position=position)
        if st.pending is None or booked:
            return [line]
        st.pending.append(line)
        return []

    def _batch(self, st: _Statement, raw_txs: list, pos: str, amount: Decimal, currency: str, sign: int,
               booking: dt.date, value: dt.date | None, status: str, reversal: bool, flags: str, acct_ref: str,
               ntry_ref: str, info: str, code: str) -> list[StatementLine]:
        """A batch: when every transaction has its amount in the entry's currency and they add
        up (the split of :func:`_split`), its lines are made here; otherwise by _entry_lines."""
        split = []
        for raw in raw_txs:
            t_amt, t_ccy, t_cdi, amtdtls = raw[5], raw[6], raw[7], raw[23]
            if t_cdi is not None and t_cdi != "CRDT" and t_cdi != "DBIT":
                raise _Fallback("TxDtls/CdtDbtInd")
            found = None
            if t_amt is not None:
                found = _fast_amount(t_amt, t_ccy)
                found = found[0] if found[1] == currency else None
            for a, c in amtdtls:
                a, c = _fast_amount(a, c)
                if found is None and c == currency:
                    found = a
            if split is not None:
                if found is None:
                    split = None
                else:
                    t_sign = 1 if t_cdi == "CRDT" else -1 if t_cdi == "DBIT" else 0
                    split.append(-found if (t_sign or sign) < 0 else found)
        total = amount if sign > 0 else -amount
        if split is None or sum(split) != total:
            return self._batch_lines(st, raw_txs, pos, amount, currency, sign, booking, value, status, reversal,
                                     flags, acct_ref, ntry_ref, info, code)
        booked = status == _BOOKED
        self._tally(booked, amount, sign)
        lines = []
        account = st.account
        entry_code = code
        for k, (raw, line_amount) in enumerate(zip(raw_txs, split), 1):
            (e2e, t_ref, tx_id, uetr, instr, _, _, _, t_code, _, _, _, dn, di, un, ui, cn, ci, vn, vi,
             dacct, cacct, reason, _, remittance) = raw
            # a split batch's transactions are named by their own AcctSvcrRef first (_line)
            bank_ref = t_ref or acct_ref or ntry_ref or tx_id or uetr or instr
            if e2e.upper() == "NOTPROVIDED":
                e2e = ""
            line_code = t_code or entry_code
            direction = (line_amount > 0) if line_amount else (sign > 0)
            if reversal:
                direction = not direction
            if direction:
                party = (dn or un, dacct, di or ui) if dn or un or di or ui or dacct else _NONE3
            else:
                party = (cn or vn, cacct, ci or vi) if cn or vn or ci or vi or cacct else _NONE3
            tags = " ".join(f for f in (line_code, flags, f"RTRN={reason}" if reason else "") if f)
            if info:
                remittance = [*remittance, info]
            if len(remittance) > 1:
                remittance = list(dict.fromkeys(filter(None, remittance)))
            if st.first is None or booking < st.first:
                st.first = booking
            if st.last is None or booking > st.last:
                st.last = booking
            st.currencies.setdefault(currency, None)
            lines.append(StatementLine(
                account=account, currency=currency, booking_date=booking, value_date=value, amount=line_amount,
                bank_reference=bank_ref, end_to_end_id=e2e, payer_name=party[0], payer_account=party[1],
                payer_id=party[2], remittance=" ".join(remittance), transaction_code=tags, statement_id=st.id,
                ordinal=self.ordinals(account, booking, bank_ref, line_amount), position=f"{pos}/TxDtls[{k}]"))
        if st.pending is None or booked:
            return lines
        st.pending += lines
        return []

    def _batch_lines(self, st: _Statement, raw_txs: list, pos: str, amount: Decimal, currency: str, sign: int,
                     booking: dt.date, value: dt.date | None, status: str, reversal: bool, flags: str, acct_ref: str,
                     ntry_ref: str, info: str, code: str) -> list[StatementLine]:
        e = _Entry(pos)
        e.amount, e.currency, e.sign, e.booking, e.value, e.status, e.reversal, e.flags = (
            amount, currency, sign, booking, value, status, reversal, flags)
        e.acct_ref, e.ntry_ref, e.info, e.code = acct_ref, ntry_ref, info, code
        txs = []
        for k, raw in enumerate(raw_txs, 1):
            (e2e, t_ref, tx_id, uetr, instr, t_amt, t_ccy, t_cdi, t_code, _, _, _, dn, di, un, ui, cn, ci, vn, vi,
             dacct, cacct, reason, amtdtls, remittance) = raw
            t = _Tx(k, f"{pos}/TxDtls[{k}]")
            t.e2e, t.acct_ref, t.tx_id, t.uetr, t.instr_id = e2e, t_ref, tx_id, uetr, instr
            if t_amt is not None:
                t.amounts = [_fast_amount(t_amt, t_ccy)]
            if amtdtls:
                t.amounts += [_fast_amount(a, c) for a, c in amtdtls]
            if t_cdi is not None:
                t.sign = 1 if t_cdi == "CRDT" else -1 if t_cdi == "DBIT" else 0
                if not t.sign:
                    raise _Fallback("TxDtls/CdtDbtInd")
            t.code = t_code
            t.reason = reason
            if dn or un or di or ui or dacct:
                t.debtor = (dn or un, dacct, di or ui)
            if cn or vn or ci or vi or cacct:
                t.creditor = (cn or vn, cacct, ci or vi)
            t.remittance = remittance
            txs.append(t)
        return self._entry_lines(st, e, txs, [0, _ZERO])


class Camt053(_CamtFormat):
    name = "camt.053"
    description = "ISO 20022 camt.053 bank-to-customer statement (end of day), versions .001.01 to .001.13"
    kind = "053"
    statement = "Stmt"


class Camt052(_CamtFormat):
    name = "camt.052"
    description = "ISO 20022 camt.052 bank-to-customer account report (intraday), versions .001.01 to .001.13"
    kind = "052"
    statement = "Rpt"


class Camt054(_CamtFormat):
    name = "camt.054"
    description = "ISO 20022 camt.054 debit/credit notification, versions .001.01 to .001.13"
    kind = "054"
    statement = "Ntfctn"


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [Camt053(), Camt052(), Camt054()]
