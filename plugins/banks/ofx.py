"""``ofx``: Open Financial Exchange statements (OFX 1.x SGML, OFX 2.x XML, and Quicken's QFX).

Sources: OFX Banking Specification 1.0.2 / 1.6 and OFX 2.1.1 (sections 11.4 bank statement,
13.9 credit card statement, 3.1 dates, 3.2 headers, 5.2 currency), and the traps listed in
``shared/reference/bank-formats.md`` section 4, found in public sample files.

What is read::

    BANKMSGSRSV1/STMTTRNRS/STMTRS            bank account statement
    CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS  credit card statement
      CURDEF                                 statement currency
      BANKACCTFROM/ACCTID, CCACCTFROM/ACCTID the account
      BANKTRANLIST DTSTART DTEND             the period
        STMTTRN TRNTYPE DTPOSTED DTUSER DTAVAIL TRNAMT FITID NAME|PAYEE/NAME MEMO CHECKNUM REFNUM
                CURRENCY/CURSYM  BANKACCTTO|CCACCTTO/ACCTID
      LEDGERBAL BALAMT DTASOF                the closing (ledger) balance

OFX gives no opening balance, so each statement's summary carries only the closing balance the
file states. Several statements per file are read in order; each yields its lines then its summary.

Two readers feed one builder (:class:`_Builder`) with start/end events:

* well-formed OFX 2.x XML goes through lxml's pull parser with
  :func:`~conciliador.formats.secure_xml_parser_options` (no DTD, no entities, no network); a
  DOCTYPE is refused outright.
* OFX 1.x SGML (leaf elements without end tags), files with no header at all, and files that put
  an XML header over an SGML body go through :func:`_sgml_events`, a small streaming tokenizer
  that closes leaf elements itself and never expands anything but the five XML entities and
  character references.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from lxml import etree

from conciliador import BankFormat, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, parse_amount, secure_xml_parser_options

CHUNK = 1 << 16
MAX_TAG = 1 << 20   # a tag, comment or CDATA section longer than this is garbage
SNIFF = 1 << 13

# Aggregates (elements with children) the builder knows; any other container is transparent:
# its leaves belong to the nearest known aggregate above it.
STATEMENTS = {"STMTRS", "CCSTMTRS"}
RESPONSES = {"STMTTRNRS", "CCSTMTTRNRS", "SONRS"}
KNOWN_AGGREGATES = STATEMENTS | RESPONSES | {
    "OFX", "SIGNONMSGSRSV1", "BANKMSGSRSV1", "CREDITCARDMSGSRSV1", "STATUS", "FI",
    "BANKACCTFROM", "CCACCTFROM", "BANKTRANLIST", "STMTTRN", "LEDGERBAL", "AVAILBAL", "PAYEE",
    "BANKACCTTO", "CCACCTTO", "CURRENCY", "ORIGCURRENCY", "BALLIST", "BAL", "INVSTMTMSGSRSV1",
    "INVSTMTTRNRS", "INVSTMTRS", "INVTRANLIST", "INVBANKTRAN", "STMTENDTRNRS", "STMTENDRS",
    "CCSTMTENDTRNRS", "CCSTMTENDRS", "IMAGEDATA",
}
# Leaf elements (spec "elements"): in SGML their end tag is optional, so an empty one followed by
# another tag is still a leaf. Unknown tags are leaves when they hold text.
KNOWN_LEAVES = {
    "CODE", "SEVERITY", "MESSAGE", "DTSERVER", "LANGUAGE", "DTPROFUP", "DTACCTUP", "ORG", "FID",
    "SESSCOOKIE", "TRNUID", "CLTCOOKIE", "CURDEF", "BANKID", "BRANCHID", "ACCTID", "ACCTTYPE",
    "ACCTKEY", "DTSTART", "DTEND", "TRNTYPE", "DTPOSTED", "DTUSER", "DTAVAIL", "TRNAMT", "FITID",
    "CORRECTFITID", "CORRECTACTION", "SRVRTID", "CHECKNUM", "REFNUM", "SIC", "PAYEEID", "NAME",
    "EXTDNAME", "MEMO", "CURRATE", "CURSYM", "BALAMT", "DTASOF", "MKTGINFO", "INV401KSOURCE",
    "ADDR1", "ADDR2", "ADDR3", "CITY", "STATE", "POSTALCODE", "COUNTRY", "PHONE", "INTU.BID",
    "INTU.USERID", "DESC", "BALTYPE", "VALUE", "SUBACCTFUND",
}

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:[.:]\d{1,6})?)?)?)?\s*(?:\[[^\]]*\])?", re.ASCII)
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


class Ofx(BankFormat):
    name = "ofx"
    description = "OFX / QFX bank and credit card statements (1.x SGML and 2.x XML)"

    def detect(self, head: bytes, filename: str) -> float:
        text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
        upper = text[:SNIFF].upper()
        if upper.startswith("OFXHEADER:") or re.search(r"<\?OFX\s[^>]*OFXHEADER", upper):
            return 1.0
        if "<OFX>" in upper:
            return 0.9
        if any(t in upper for t in ("<STMTTRNRS>", "<CCSTMTTRNRS>", "<BANKMSGSRSV1>", "<CREDITCARDMSGSRSV1>")):
            return 0.7
        return 0.0

    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        head = stream.read(SNIFF)
        header = _Header.read(head)
        builder = _Builder()
        if header.xml and not header.sgml_body:
            xml = _XmlReader(head, stream, builder)
            try:
                yield from xml.events()
            except _NotXml as exc:
                # Not well-formed before anything was yielded: an SGML body (or SGML habits such as
                # a bare "&") under an XML header that the sniff of the head missed. Read it again
                # as SGML, from the head still in memory or by seeking back; otherwise refuse it.
                if builder.emitted or (xml.read_more and not stream.seekable()):
                    raise StatementError(exc.problem, position=exc.position, field="XML") from None
                if xml.read_more:
                    stream.seek(0)
                    head = stream.read(SNIFF)
                builder = _Builder()
                yield from _sgml_events(head, stream, header.encoding, builder, fallback=header.fallback)
        else:
            yield from _sgml_events(head, stream, header.encoding, builder, fallback=header.fallback)
        yield from builder.finish()


class _NotXml(StatementError):
    """lxml found the file not well-formed."""


# -- header -------------------------------------------------------------------------------

class _Header:
    """What the file says about itself before ``<OFX>`` (spec 2.2 / 3.2 headers)."""

    def __init__(self) -> None:
        self.xml = False          # <?xml ...?> or <?OFX ...?> present
        self.sgml_body = False    # leaf elements without end tags after an XML header
        self.encoding = "utf-8"   # for the SGML reader

    @property
    def fallback(self) -> bool:
        # UTF-8 (declared or assumed) that turns out not to be UTF-8 is read as Windows-1252: files
        # with no header come from Windows tools, and files that say UTF-8 but hold Windows-1252
        # bytes are common.
        return self.encoding == "utf-8"

    @classmethod
    def read(cls, head: bytes) -> _Header:
        h = cls()
        text = head.decode("latin-1")
        if text.startswith("\xef\xbb\xbf"):
            text = text[3:]
        lt = text.find("<")
        prolog = text if lt < 0 else text[:lt]
        fields, lines = {}, {}
        for m in re.finditer(r"([A-Za-z]+)\s*:\s*([^\s<]*)", prolog):
            fields.setdefault(m.group(1).upper(), m.group(2))
            lines.setdefault(m.group(1).upper(), f"line {prolog.count(chr(10), 0, m.start()) + 1}")
        if "OFXHEADER" in fields:
            if fields["OFXHEADER"] != "100":
                raise StatementError(f"OFXHEADER:{fields['OFXHEADER']} is not a known OFX header version (100 for "
                                     f"OFX 1.x, or the XML <?OFX OFXHEADER=\"200\"?> of OFX 2.x)",
                                     position=lines["OFXHEADER"], field="OFXHEADER")
            version = fields.get("VERSION", "")
            if not re.fullmatch(r"1\d\d", version):
                raise StatementError(f"VERSION:{version or '(missing)'} is not an OFX 1.x version (102, 103, 151, "
                                     f"160)", position=lines.get("VERSION", lines["OFXHEADER"]), field="VERSION")
            h.encoding = _charset(fields.get("ENCODING", ""), fields.get("CHARSET", ""),
                                  lines.get("ENCODING", lines["OFXHEADER"]))
            return h
        pi = re.search(r"<\?OFX\s([^>]*)\?>", text, re.I)
        pi_line = f"line {text.count(chr(10), 0, pi.start()) + 1}" if pi else ""
        decl = re.match(r"\s*<\?xml\s([^>]*)\?>", text[lt:] if lt >= 0 else "", re.I)
        if pi or decl:
            h.xml = True
            if pi:
                attrs = dict((k.upper(), v) for k, v in re.findall(r"(\w+)\s*=\s*[\"']([^\"']*)[\"']", pi.group(1)))
                if attrs.get("OFXHEADER", "200") != "200":
                    raise StatementError(f"OFXHEADER=\"{attrs['OFXHEADER']}\" is not a known OFX header version",
                                         position=pi_line, field="OFXHEADER")
                version = attrs.get("VERSION", "")
                if not re.fullmatch(r"2\d\d", version):
                    raise StatementError(f"VERSION=\"{version or '(missing)'}\" is not an OFX 2.x version (200 to "
                                         f"220)", position=pi_line, field="VERSION")
            enc = re.search(r"encoding\s*=\s*[\"']([^\"']+)[\"']", decl.group(1)) if decl else None
            if enc:
                h.encoding = _charset(enc.group(1), "", f"line {text.count(chr(10), 0, lt) + 1}")
            # An XML header over an SGML body (seen: ANZ): a leaf with text followed by a tag
            # other than its own end tag.
            h.sgml_body = any(m.group(2).strip() for m in _UNCLOSED.finditer(text, max(lt, 0)))
        return h


_UNCLOSED = re.compile(r"<([A-Za-z][\w.]*)>([^<]*)<(?!/\1\s*>)")


def _charset(encoding: str, charset: str, position: str) -> str:
    """Python codec for OFX 1.x ENCODING/CHARSET (or an XML encoding name)."""
    enc, cs = encoding.strip().upper(), charset.strip().upper()
    if enc in ("UTF-8", "UTF8", "UNICODE"):
        return "utf-8"
    if cs in ("1252", "WINDOWS-1252", "CP1252"):
        return "cp1252"
    if cs in ("ISO-8859-1", "8859-1", "ISO8859-1", "LATIN-1", "LATIN1"):
        return "latin-1"
    if enc in ("USASCII", "US-ASCII", "ASCII"):
        return "cp1252"  # a superset of ASCII: banks that say ASCII still send accented names
    if enc:
        try:
            info = codecs.lookup(enc)
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            info = None
        # Only byte-per-character text encodings: the header itself was read as one (a file
        # that says UTF-16 here is not UTF-16), and "base64" or "zlib" are no character sets.
        if info is None or not getattr(info, "_is_text_encoding", True) or info.name.startswith(("utf-16", "utf-32")):
            raise StatementError(f"unknown character encoding {encoding!r}", position=position,
                                 field="ENCODING")
        return info.name
    return "cp1252"


# -- readers -------------------------------------------------------------------------------

class _XmlReader:
    """OFX 2.x through lxml's pull parser, fed chunk by chunk; records whether it read beyond the
    head (after which an SGML re-read needs a seekable stream)."""

    def __init__(self, head: bytes, stream: IO[bytes], builder: _Builder) -> None:
        # Blank lines before "<?xml" are seen; XML forbids them, so they are skipped (and counted,
        # to keep line numbers true).
        body = head.lstrip(b" \t\r\n")
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:].lstrip(b" \t\r\n")
        self.offset = head[: len(head) - len(body)].count(b"\n")
        self.head, self.stream, self.b = body, stream, builder
        self.read_more = False

    def events(self) -> Iterator[StatementLine | StatementSummary]:
        parser = etree.XMLPullParser(events=("start", "end"), **secure_xml_parser_options())
        b, first, chunk = self.b, True, self.head
        while True:
            error = None
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
            except etree.XMLSyntaxError as exc:
                error = exc  # the events before it are still read below
            for event, elem in parser.read_events():
                if b.done:
                    break
                line = (elem.sourceline or 0) + self.offset
                if first:
                    first = False
                    if elem.getroottree().docinfo.doctype:
                        raise StatementError("the file declares a DOCTYPE; OFX files have none, and DTDs and "
                                             "entities are refused", position=f"line {line}", field="DOCTYPE")
                if not isinstance(elem.tag, str):
                    continue
                tag = elem.tag.rsplit("}", 1)[-1].upper()
                if event == "start":
                    b.start(tag, line)
                else:
                    b.end(tag, (elem.text or "") if len(elem) == 0 else "", line)
                    if tag in _FREED:
                        # Free what was read: memory stays flat however many transactions.
                        elem.clear()
                        parent = elem.getparent()
                        if parent is not None:
                            while elem.getprevious() is not None:
                                del parent[0]
                if b.out:
                    yield from b.drain()
            if b.done:
                return  # whatever follows </OFX> (padding, NULs) is not read
            if error is not None:
                raise _NotXml(f"not well-formed XML: {error.msg}", position=f"line {error.lineno + self.offset}")
            if not chunk:
                return
            chunk = self.stream.read(CHUNK)
            self.read_more = self.read_more or bool(chunk)


_FREED = frozenset({"STMTTRN", "STMTRS", "CCSTMTRS", "STMTTRNRS", "CCSTMTTRNRS"})


_TOKEN = re.compile(
    r"<(?:(/?)\s*([A-Za-z][\w.:-]*)[^<>]*?(/?)>"   # 1 slash, 2 tag, 3 self-closing
    r"|!\[CDATA\[(.*?)\]\]>"                         # 4 CDATA
    r"|!--.*?-->"                                    # comment
    r"|\?.*?\?>"                                     # processing instruction
    r"|!([A-Za-z]+))",                               # 5 DOCTYPE, ENTITY ...
    re.S)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape(text: str) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1)
        if name in _NAMED:
            return _NAMED[name]
        try:
            return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
        except (ValueError, OverflowError):
            return m.group(0)
    return _ENTITY.sub(one, text) if "&" in text else text


def _decoded(head: bytes, stream: IO[bytes], encoding: str, fallback: bool) -> Iterator[tuple[str, bool]]:
    """Decoded text chunks, and whether it is the last. ``fallback``: UTF-8 until a byte sequence is
    not UTF-8, then Windows-1252 from that byte on."""
    dec = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
    line = 1
    raw = head
    while True:
        final = not raw
        try:
            text = dec.decode(raw, final=final)
        except UnicodeDecodeError as exc:
            if not fallback:
                raise StatementError(f"byte {exc.object[exc.start]:#04x} is not valid {encoding} text (the character "
                                     f"set the file declares)", position=f"line {line}") from None
            # exc.object is what the decoder held (its buffer, this chunk, no BOM): UTF-8 up to the
            # bad byte, Windows-1252 from it.
            data = exc.object
            good = data[:exc.start].decode("utf-8")
            fallback = False
            dec = codecs.getincrementaldecoder("cp1252")()
            try:
                text = good + dec.decode(data[exc.start:], final=final)
            except UnicodeDecodeError as exc2:
                raise StatementError(f"byte {exc2.object[exc2.start]:#04x} is not Windows-1252 text",
                                     position=f"line {line + good.count(chr(10))}") from None
        yield text, final
        line += text.count("\n")
        if final:
            return
        raw = stream.read(CHUNK)


def _sgml_events(head: bytes, stream: IO[bytes], encoding: str, b: _Builder, *,
                 fallback: bool | None = None) -> Iterator[StatementLine | StatementSummary]:
    """Tokenize SGML (or XML) OFX incrementally and feed ``b``.

    Leaf elements may lack end tags (OFX 1.x): an element with text is closed by the next tag; a
    known leaf is closed by the next tag even when empty. An end tag closes every open leaf above
    its element; an aggregate must be closed by its own end tag.
    """
    if fallback is None:
        fallback = encoding == "utf-8"
    stack: list[list] = []   # [tag, text parts, has children, line]
    buf = ""
    line = 1

    def close_top() -> None:
        tag, parts, children, at = stack.pop()
        b.end(tag, "" if children else _unescape("".join(parts)), at)

    for text, final in _decoded(head, stream, encoding, fallback):
        buf += text
        pos = 0
        n = len(buf)
        while pos < n:
            lt = buf.find("<", pos)
            if lt < 0:
                lt = n
            if lt > pos:
                if stack and not stack[-1][2]:
                    stack[-1][1].append(buf[pos:lt])
                line += buf.count("\n", pos, lt)
                pos = lt
                if pos >= n:
                    break
            m = _TOKEN.match(buf, pos)
            if m is None:
                nxt = buf[pos + 1:pos + 2]
                if nxt and not (nxt.isalpha() or nxt in "/!?"):
                    # "<" that starts no tag ("a < b" in a MEMO): SGML text
                    if stack and not stack[-1][2]:
                        stack[-1][1].append("<")
                    pos += 1
                    continue
                if not final and n - pos < MAX_TAG:
                    break  # the rest of the tag (or CDATA, comment) is in the next chunk
                raise StatementError(f"malformed tag {buf[pos:pos + 30]!r}", position=f"line {line}")
            end = m.end()
            slash, tag, selfclose, cdata, bang = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
            if bang:
                raise StatementError(f"<!{bang} is refused: OFX files have no DOCTYPE, DTD or entity declarations",
                                     position=f"line {line}", field=bang.upper())
            if tag:
                tag = tag.upper()
                if slash:
                    # Close leaves left open (SGML) up to the element this end tag closes.
                    if any(e[0] == tag for e in stack):
                        while stack[-1][0] != tag:
                            top = stack[-1]
                            if top[0] in KNOWN_AGGREGATES:
                                raise StatementError(f"</{tag}> closes <{tag}> while <{top[0]}> (line {top[3]}) is "
                                                     f"still open: its end tag is missing",
                                                     position=f"line {line}", field=top[0])
                            close_top()
                        close_top()
                    elif tag in KNOWN_AGGREGATES:
                        raise StatementError(f"</{tag}> without a matching <{tag}>", position=f"line {line}",
                                             field=tag)
                    # else: the end tag of a leaf already closed by the tag after it; nothing to do
                else:
                    if stack:
                        top = stack[-1]
                        if not top[2] and (top[0] in KNOWN_LEAVES or "".join(top[1]).strip()):
                            close_top()
                    if stack:
                        stack[-1][2] = True
                    b.start(tag, line)
                    stack.append([tag, [], False, line])
                    if selfclose:
                        close_top()
            elif cdata is not None:
                if stack and not stack[-1][2]:
                    # CDATA is literal: escape "&" so _unescape leaves it as written
                    stack[-1][1].append(cdata.replace("&", "&amp;"))
            line += buf.count("\n", pos, end)
            pos = end
            if b.out:
                yield from b.drain()
            if b.done:
                return  # whatever follows </OFX> (padding, NULs) is not read
        buf = buf[pos:]
        if final:
            break
    if buf.strip():
        raise StatementError(f"the file ends inside a tag: {buf.strip()[:30]!r}", position=f"line {line}")
    while stack:
        if stack[-1][0] in KNOWN_AGGREGATES or stack[-1][2]:
            raise StatementError(f"the file is truncated: <{stack[-1][0]}> (line {stack[-1][3]}) is never closed",
                                 position=f"line {line}", field=stack[-1][0])
        close_top()
    if b.out:
        yield from b.drain()


# -- builder -------------------------------------------------------------------------------

def _date(text: str, pos: str, field: str) -> dt.date:
    """OFX date: ``YYYYMMDD[HHMMSS[.XXX]][[gmt offset[:tz name]]]`` (spec 3.2.8.2); the calendar
    date as written, in the time zone the file gives."""
    text = text.strip()
    m = _DATE.fullmatch(text)
    if not m:
        raise StatementError(f"{text!r} is not an OFX date (YYYYMMDD[HHMMSS[.XXX]][[-5:EST]])", position=pos,
                             field=field)
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise StatementError(f"{text!r} is not a valid date", position=pos, field=field) from None


def _amount(text: str, pos: str, field: str) -> Decimal:
    """Signed amount; the decimal mark is "." (spec) or "," (seen); no thousands separators."""
    text = text.strip()
    if not text:
        raise StatementError("the amount is empty", position=pos, field=field)
    if "," in text and "." in text:
        raise StatementError(f"{text!r} has thousands separators; OFX amounts are plain decimals such as -1250.00",
                             position=pos, field=field)
    return parse_amount(text, decimal_mark="," if "," in text else ".", position=pos, field=field)


class _Statement:
    def __init__(self, tag: str, index: int, line: int) -> None:
        self.tag = tag
        self.index = index
        self.line = line
        self.curdef: str | None = None
        self.account: str | None = None
        self.dtstart = ""
        self.dtend = ""
        self.ledger: dict[str, str] = {}
        self.lines = 0
        self.currencies: set[str] = set()
        self.pending: list[tuple[dict[str, str], dict[str, str], int, int]] = []

    @property
    def path(self) -> str:
        return f"{self.tag}[{self.index}]"

    @property
    def statement_id(self) -> str:
        period = f"{self.dtstart[:8]}-{self.dtend[:8]}" if self.dtstart or self.dtend else ""
        return f"{self.account}/{period}" if period else (self.account or "")


class _Builder:
    """Turns start/end events into lines and summaries. ``out`` holds what is ready to yield."""

    def __init__(self) -> None:
        self.out: list[StatementLine | StatementSummary] = []
        self.ordinals = Ordinals()
        # Per open element: (tag, owner) where owner is the nearest known aggregate.
        self.stack: list[tuple[str, str]] = []
        self.children: list[int] = []
        self.stmt: _Statement | None = None
        self.statements = 0
        self.trn: dict[str, str] | None = None
        self.trn_sub: dict[str, str] = {}
        self.trn_line = 0
        self.trn_index = 0
        self.status: dict[str, str] = {}
        self.response: list[str] = []   # open STMTTRNRS / CCSTMTTRNRS / SONRS
        self.bank_messages: list[str] = []
        self.done = False               # the root element (OFX) has ended
        self.emitted = 0                # items handed out by drain()

    def drain(self) -> list:
        out, self.out = self.out, []
        self.emitted += len(out)
        return out

    def start(self, tag: str, line: int) -> None:
        if self.children:
            self.children[-1] += 1
        owner = tag if tag in KNOWN_AGGREGATES else (self.stack[-1][1] if self.stack else "")
        self.stack.append((tag, owner))
        self.children.append(0)
        if tag in STATEMENTS:
            if self.stmt is not None:
                raise StatementError(f"<{tag}> inside <{self.stmt.tag}> (line {self.stmt.line}): its end tag is "
                                     f"missing", position=f"line {line}", field=tag)
            self.statements += 1
            self.stmt = _Statement(tag, self.statements, line)
            self.trn_index = 0
        elif tag == "STMTTRN" and self.stmt is not None:
            if self.trn is not None:
                raise StatementError(f"<STMTTRN> inside <STMTTRN> (line {self.trn_line}): its end tag is missing",
                                     position=f"line {line}", field="STMTTRN")
            self.trn, self.trn_sub, self.trn_line = {}, {}, line
            self.trn_index += 1
        elif tag in RESPONSES:
            self.response.append(tag)
        elif tag == "STATUS":
            self.status = {}
        elif tag == "LEDGERBAL" and self.stmt is not None:
            self.stmt.ledger = {}

    def end(self, tag: str, text: str, line: int) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise StatementError(f"</{tag}> does not close the open element", position=f"line {line}", field=tag)
        self.stack.pop()
        children = self.children.pop()
        if not self.stack and tag == "OFX":
            self.done = True
        parent = self.stack[-1][1] if self.stack else ""
        if children == 0 and tag not in KNOWN_AGGREGATES:
            self._leaf(parent, tag, text.strip(), line)
            return
        if tag == "STATUS" and parent in RESPONSES:
            # the sign-on's or a statement request's answer (other message sets are not read)
            self._status(line)
        elif tag == "STMTTRN" and self.trn is not None:
            self._transaction()
        elif tag in STATEMENTS and self.stmt is not None:
            self._summary(line)
        elif tag in RESPONSES and self.response:
            self.response.pop()

    def _leaf(self, owner: str, tag: str, value: str, line: int) -> None:
        s = self.stmt
        if owner == "STATUS":
            self.status.setdefault(tag, value)
        elif s is None:
            return
        elif owner == "STMTTRN" and self.trn is not None:
            self.trn.setdefault(tag, value)
        elif owner in ("PAYEE", "BANKACCTTO", "CCACCTTO", "CURRENCY", "ORIGCURRENCY") and self.trn is not None:
            self.trn_sub.setdefault(f"{owner}/{tag}", value)
        elif owner in STATEMENTS and tag == "CURDEF":
            s.curdef = value
        elif owner in ("BANKACCTFROM", "CCACCTFROM") and tag == "ACCTID":
            s.account = value
        elif owner == "BANKTRANLIST" and tag in ("DTSTART", "DTEND"):
            if value:
                _date(value, f"line {line} ({s.path}/BANKTRANLIST)", tag)
            setattr(s, tag.lower(), value)
        elif owner == "LEDGERBAL":
            s.ledger[tag] = value
            s.ledger.setdefault("line", str(line))

    def _status(self, line: int) -> None:
        code = self.status.get("CODE", "")
        severity = self.status.get("SEVERITY", "").upper()
        message = self.status.get("MESSAGE", "")
        where = self.response[-1] if self.response else "OFX"
        if code in ("", "0") and severity != "ERROR":
            return
        said = f"code {code}" + (f" ({message})" if message else "") if code else (message or "no code")
        if severity == "ERROR" or (not severity and code not in ("", "0")):
            if where == "SONRS":
                problem = f"the bank refused the sign-on: {said}"
            else:
                problem = f"the bank answered with an error instead of a statement: {said}"
            raise StatementError(problem, position=f"line {line} ({where}/STATUS)", field="STATUS")
        self.bank_messages.append(said)

    def _transaction(self) -> None:
        s, t, sub = self.stmt, self.trn, self.trn_sub
        self.trn = None
        assert s is not None and t is not None
        currency = sub.get("CURRENCY/CURSYM") or s.curdef
        if s.account is None or s.curdef is None:
            # CURDEF and the account come before BANKTRANLIST (spec); a file that puts them after is
            # kept until the statement ends.
            s.pending.append((t, sub, self.trn_line, self.trn_index))
            return
        self.out.append(self._line(s, t, sub, currency or "", self.trn_line, self.trn_index))

    def _line(self, s: _Statement, t: dict[str, str], sub: dict[str, str], currency: str, line: int,
              index: int) -> StatementLine:
        pos = f"line {line} ({s.path}/STMTTRN[{index}])"
        if not currency:
            raise StatementError("no currency: CURDEF is empty and the transaction names none", position=pos,
                                 field="CURDEF")
        currency = currency.upper()
        if not _CURRENCY_CODE.fullmatch(currency):
            raise StatementError(f"{currency!r} is not an ISO 4217 currency code", position=pos, field="CURDEF")
        if not s.account:
            raise StatementError("the statement has no account (BANKACCTFROM/ACCTID or CCACCTFROM/ACCTID)",
                                 position=pos, field="ACCTID")
        if "DTPOSTED" not in t:
            raise StatementError("the transaction has no DTPOSTED (posting date)", position=pos, field="DTPOSTED")
        if not t["DTPOSTED"]:
            raise StatementError("the transaction's DTPOSTED (posting date) is empty", position=pos,
                                 field="DTPOSTED")
        booking = _date(t["DTPOSTED"], pos, "DTPOSTED")
        # value_date: DTAVAIL (funds available) when given, else DTUSER (when the payer acted).
        value = None
        for name in ("DTAVAIL", "DTUSER"):
            if t.get(name):
                value = _date(t[name], pos, name)
                break
        if "TRNAMT" not in t:
            raise StatementError("the transaction has no TRNAMT (amount)", position=pos, field="TRNAMT")
        amount = _amount(t["TRNAMT"], pos, "TRNAMT")
        fitid = t.get("FITID", "")
        memo, check = t.get("MEMO", ""), t.get("CHECKNUM", "")
        # The check number joins the text unless it is all zeros (no check) or already in the memo.
        remittance = f"{memo} {check}".strip() if check.strip("0") and check not in memo else memo
        s.lines += 1
        s.currencies.add(currency)
        return StatementLine(
            account=s.account,
            currency=currency,
            booking_date=booking,
            value_date=value,
            amount=amount,
            bank_reference=fitid,
            end_to_end_id=t.get("REFNUM", ""),
            payer_name=t.get("NAME") or sub.get("PAYEE/NAME", ""),
            payer_account=sub.get("BANKACCTTO/ACCTID") or sub.get("CCACCTTO/ACCTID", ""),
            remittance=remittance,
            transaction_code=t.get("TRNTYPE", ""),
            statement_id=s.statement_id,
            ordinal=self.ordinals(s.account, booking, fitid, amount),
            position=pos,
        )

    def _summary(self, line: int) -> None:
        s = self.stmt
        assert s is not None
        self.stmt = None
        pos = f"line {s.line} ({s.path})"
        if not s.account:
            raise StatementError("the statement has no account (BANKACCTFROM/ACCTID or CCACCTFROM/ACCTID)",
                                 position=pos, field="ACCTID")
        for t, sub, tline, index in s.pending:
            self.out.append(self._line(s, t, sub, sub.get("CURRENCY/CURSYM") or s.curdef or "", tline, index))
        s.pending = []
        currency = (s.curdef or "").upper()
        if not currency:
            if len(s.currencies) != 1:
                raise StatementError("no currency: CURDEF is empty" + (
                    " and the transactions name several" if s.currencies else ""), position=pos, field="CURDEF")
            currency = next(iter(s.currencies))
        if not _CURRENCY_CODE.fullmatch(currency):
            raise StatementError(f"{currency!r} is not an ISO 4217 currency code", position=pos, field="CURDEF")
        closing = None
        ledger = s.ledger
        lpos = f"line {ledger.get('line', s.line)} ({s.path}/LEDGERBAL)"
        if ledger.get("BALAMT"):
            closing = _amount(ledger["BALAMT"], lpos, "BALAMT")
            if ledger.get("DTASOF"):
                _date(ledger["DTASOF"], lpos, "DTASOF")
        elif ledger.get("DTASOF"):
            # An all-empty LEDGERBAL is a bank that writes every tag (CBA); a balance dated but
            # without an amount is broken.
            raise StatementError("LEDGERBAL has an as-of date but its BALAMT is empty", position=lpos,
                                 field="BALAMT")
        self.out.append(StatementSummary(
            account=s.account,
            currency=currency,
            statement_id=s.statement_id,
            period_from=_date(s.dtstart, pos, "DTSTART") if s.dtstart else None,
            period_to=_date(s.dtend, pos, "DTEND") if s.dtend else None,
            closing_balance=closing,
            position=pos,
        ))

    def finish(self) -> Iterator[StatementLine | StatementSummary]:
        if self.statements == 0:
            said = "; the bank said: " + "; ".join(self.bank_messages) if self.bank_messages else ""
            raise StatementError("the file holds no bank or credit card statement (STMTRS or CCSTMTRS)" + said,
                                 position="OFX")
        yield from self.drain()


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return [Ofx()]
