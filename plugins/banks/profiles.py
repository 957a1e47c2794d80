"""Bank CSV and XLSX exports described by TOML profiles (docs/bank-profiles.md).

Every bank portal exports statements its own way: title rows above the header, Spanish column
names, ``1.234.567,89``, separate debit and credit columns, CP1252 text. Instead of one module
per export, a *profile* (one TOML file, no code) says where things are, and each profile becomes
one :class:`BankFormat` named ``profile:<name>``, detected by content (its header cells and title
texts).

The shipped profiles (``csv_profiles/*.toml``) follow public descriptions of real exports, of
varying weight, which each file's header comment cites and grades: Bancolombia's "Descargar
movimientos" (XLSX, and its CSV re-save from Excel), Davivienda's "Movimientos" and "Reporte"
workbooks, Banco de Bogotá's movements workbook and, on the weakest evidence, BBVA Colombia's.
One is still a design with nothing observed behind it (Bancolombia Sucursal Virtual Empresas CSV,
from /work/shared/reference/bank-formats.md section 6). None has been checked against a real file
here, so each is marked ``confirmed = false``. Users add their own with :func:`load_profiles` (a
folder of TOML files, validated: a bad key raises :class:`conciliador.ConfigError` naming the file,
key and value).

Detection: a CSV's title and header rows are in its first 8 KiB. An XLSX's usually are not (Excel
keeps cell texts in sharedStrings.xml, near the end of the zip), so :meth:`ProfileFormat.detect`
answers "maybe" for an XLSX it cannot read there, and :meth:`ProfileFormat.detect_file` then reads
the first ``detect.search_rows`` rows of the profile's sheet (after the zip checks below, with the
shared-string table read only as far as those rows need) and scores them like a CSV's.

Reading: CSV is decoded with the profile's encoding (a UTF-8 BOM always wins: it cannot be
anything else), line by line; XLSX through openpyxl in read-only mode (rows streamed) after the
archive's declared uncompressed size is checked (refused above 200 MB: a zip bomb is not a
statement). Amounts go through :func:`conciliador.formats.parse_amount` with the profile's
decimal mark and thousands separator, never through float; XLSX numbers (stored as binary
doubles by Excel) are taken from their shortest decimal representation and only float noise
beyond ``decimals`` places is dropped (``1234.5600000000002`` is 1234.56; ``1234.567`` with 2
decimals is refused, not rounded).

Summaries: one per account and currency, after the lines, with the period of the dates seen and,
when the profile has a balance column, the opening balance (first row's balance minus its amount)
and the closing balance (last row's balance), in the row order the profile declares or infers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import fnmatch
import html
import io
import itertools
import math
import re
import struct
import tempfile
import tomllib
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conciliador import HEAD_BYTES, BankFormat, ConfigError, StatementError, StatementLine, StatementSummary, hookimpl
from conciliador.formats import Ordinals, parse_amount, parse_date

__all__ = ["Profile", "ProfileFormat", "load_profile", "load_profiles", "SHIPPED_PROFILES"]

SHIPPED_PROFILES = Path(__file__).parent / "csv_profiles"
MAX_XLSX_UNCOMPRESSED = 200 * 2**20
"""An XLSX whose members declare more than this uncompressed is refused before it is opened."""
MAX_XLSX_MEMBERS = 10_000
MAX_LINE = 2**20
"""A CSV line longer than this (1 MiB) is not a statement row."""

# -- the profile model --------------------------------------------------------------------------

ColumnRef = Annotated[int, Field(strict=True, ge=1)] | Annotated[str, Field(min_length=1)]
"""A column: its header text (compared without case, accents or extra spaces) or its 1-based position."""


class _Strict(BaseModel):
    # strict: TOML has real booleans and integers; "yes" for true or "3" for 3 is a mistake to report.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DetectSpec(_Strict):
    header_cells: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Texts that must all be cells of the header row.")
    title_contains: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Texts that must all appear in the rows above the header.")
    search_rows: int = Field(30, ge=1, le=500, description="How many leading rows may hold the title and header.")
    filename_pattern: str = Field("", description="Glob on the file name; raises the quick guess for an XLSX whose "
                                              "first 8 KiB do not show its text (the rows read next decide).")


class Columns(_Strict):
    date: ColumnRef
    value_date: ColumnRef | None = None
    description: ColumnRef | None = None
    reference: ColumnRef | None = None
    bank_reference: ColumnRef | None = None
    amount: ColumnRef | None = None
    debit: ColumnRef | None = None
    credit: ColumnRef | None = None
    balance: ColumnRef | None = None
    payer: ColumnRef | None = None
    payer_id: ColumnRef | None = None
    payer_account: ColumnRef | None = None
    transaction_code: ColumnRef | None = None
    currency: ColumnRef | None = None
    remittance: list[ColumnRef] = Field(default_factory=list)


class SignSpec(_Strict):
    column: ColumnRef
    debit: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    credit: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


class AccountSpec(_Strict):
    value: str = ""
    title_pattern: str = ""
    column: ColumnRef | None = None
    filename_pattern: str = ""
    sheet_pattern: str = Field("", description="XLSX: a regular expression with one group around the account "
                                            "number, searched in the name of the sheet read.")


class IgnoreSpec(_Strict):
    rows_starting_with: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    rows_without_amount: bool = False
    stop_at_blank_row: bool = False


class Profile(_Strict):
    """One bank export layout, as written in its TOML file (docs/bank-profiles.md lists every key)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,47}$")
    bank: str = Field(min_length=1)
    description: str = ""
    confirmed: bool = False
    file_type: Literal["csv", "xlsx"]
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = "utf-8-sig"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    sheet: str = ""
    header: bool = True
    skip_rows: int | None = Field(None, ge=0, le=500)
    date_format: str = "%d/%m/%Y"
    value_date_format: str = ""
    decimal_mark: Literal[",", "."] = ","
    thousands: Literal["", ".", ",", " ", "'"] = "."
    decimals: int = Field(2, ge=0, le=6)
    currency: str = Field("COP", pattern=r"^[A-Z]{3}$")
    order: Literal["auto", "oldest_first", "newest_first"] = "auto"
    detect: DetectSpec = Field(default_factory=DetectSpec)
    columns: Columns
    sign: SignSpec | None = None
    account: AccountSpec
    ignore: IgnoreSpec = Field(default_factory=IgnoreSpec)


def _config_error(source: str, key: str, value: Any, problem: str) -> ConfigError:
    return ConfigError(f"bank profile {source}: {key} = {value!r}: {problem}")


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = model.model_fields.get(str(part))
        if fld is None:
            return []
        ann = fld.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _check(profile: Profile, source: str) -> None:
    """What one key alone cannot say: combinations, patterns, formats."""
    cols = profile.columns
    err = lambda key, value, problem: _config_error(source, key, value, problem)  # noqa: E731
    if profile.decimal_mark == profile.thousands:
        raise err("thousands", profile.thousands, "the thousands separator cannot be the decimal mark")
    if cols.amount is None and cols.debit is None and cols.credit is None:
        raise err("columns", "(no amount)", "give columns.amount, or columns.debit and/or columns.credit")
    if cols.amount is not None and (cols.debit is not None or cols.credit is not None):
        raise err("columns.amount", cols.amount, "give either columns.amount or columns.debit/credit, not both")
    if profile.sign is not None and cols.amount is None:
        raise err("sign.column", profile.sign.column, "a sign column needs columns.amount")
    if profile.file_type == "csv" and profile.delimiter == profile.quotechar:
        raise err("quotechar", profile.quotechar, "the quote character cannot be the delimiter")
    if profile.sheet and profile.file_type != "xlsx":
        raise err("sheet", profile.sheet, "only an xlsx profile has sheets")
    acc = profile.account
    sources = [k for k, v in (("account.value", acc.value), ("account.title_pattern", acc.title_pattern),
                              ("account.column", acc.column), ("account.filename_pattern", acc.filename_pattern),
                              ("account.sheet_pattern", acc.sheet_pattern))
               if v not in ("", None)]
    if len(sources) != 1:
        raise err("account", acc.model_dump(exclude_defaults=True),
                  "give exactly one of account.value, account.title_pattern, account.column, account.filename_pattern, "
                  "account.sheet_pattern")
    if acc.sheet_pattern and profile.file_type != "xlsx":
        raise err("account.sheet_pattern", acc.sheet_pattern, "only an xlsx profile has sheets")
    for key, pattern, where in (("account.title_pattern", acc.title_pattern, "number"),
                                ("account.filename_pattern", acc.filename_pattern, "number in the file name"),
                                ("account.sheet_pattern", acc.sheet_pattern, "number in the sheet's name")):
        if not pattern:
            continue
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise err(key, pattern, f"not a regular expression: {exc}") from None
        if groups != 1:
            raise err(key, pattern, f"needs exactly one group (...) around the account {where}")
    if profile.account.title_pattern:
        if not profile.header and profile.skip_rows is None:
            raise err("account.title_pattern", profile.account.title_pattern,
                      "without a header row, give skip_rows: the title rows are the rows skipped")
    for key in ("date_format", "value_date_format"):
        fmt = getattr(profile, key)
        if not fmt:
            continue
        sample = dt.date(2026, 12, 31)
        try:
            ok = dt.datetime.strptime(sample.strftime(fmt), fmt).date() == sample
        except ValueError:
            ok = False
        if not ok or not any(d in fmt for d in ("%d", "%j")):
            raise err(key, fmt, "not a date format with day, month and year, such as %d/%m/%Y")
    refs = {f"columns.{k}": v for k, v in cols.model_dump().items() if k != "remittance" and v is not None}
    refs.update({f"columns.remittance[{i}]": v for i, v in enumerate(cols.remittance)})
    if profile.sign:
        refs["sign.column"] = profile.sign.column
    if profile.account.column is not None:
        refs["account.column"] = profile.account.column
    if not profile.header:
        for key, ref in refs.items():
            if not isinstance(ref, int):
                raise err(key, ref, "without a header row (header = false), columns are given by position: 1, 2 ...")
    if profile.header and profile.skip_rows is None and not profile.detect.header_cells:
        raise err("detect.header_cells", [], "give the header's cell texts (or skip_rows) so the header row can be found")
    if not profile.detect.header_cells and not profile.detect.title_contains:
        raise err("detect", {}, "give detect.header_cells or detect.title_contains: a profile must be recognisable")
    if profile.skip_rows is not None and profile.skip_rows >= profile.detect.search_rows:
        raise err("skip_rows", profile.skip_rows, f"must be below detect.search_rows ({profile.detect.search_rows})")
    if profile.sign:
        overlap = {_norm(v) for v in profile.sign.debit} & {_norm(v) for v in profile.sign.credit}
        if overlap:
            raise err("sign.credit", profile.sign.credit, f"{sorted(overlap)} also listed in sign.debit")


def load_profile(path: Path) -> Profile:
    """Read and validate one profile file; :class:`ConfigError` names the file, key and value."""
    path = Path(path)
    source = str(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"bank profile {source}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"bank profile {source}: byte {exc.start + 1} is not UTF-8; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"bank profile {source}: not valid TOML: {exc}") from None
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
        # Unions report their branches ("columns.date.int"): name the key the user wrote.
        for suffix in (".int", ".str", ".constrained-int", ".constrained-str", ".function-after[...]"):
            key = key.removesuffix(suffix)
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(Profile, loc))
            problem = f"unknown key (allowed here: {allowed})"
        elif first["type"] == "missing":
            problem = "required key is missing"
        elif first["type"] == "string_pattern_mismatch" and key == "name":
            problem = "a name is lower-case letters, digits, '-', '_' or '.' (at most 48), e.g. 'mybank-empresas'"
        else:
            problem = first["msg"]
            if key.startswith("columns.") or key in ("sign.column", "account.column"):
                problem += " (a column is its header text, or its position 1, 2 ...)"
        value = first.get("input") if first["type"] != "missing" else "(missing)"
        raise _config_error(source, key, value, problem) from None
    _check(profile, source)
    return profile


def load_profiles(folder: Path) -> list[BankFormat]:
    """One :class:`ProfileFormat` per ``*.toml`` in ``folder`` (sorted by file name).

    Raises :class:`ConfigError` for a missing folder, a bad profile (file, key and value named)
    or two profiles with the same name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"bank profile folder {folder} does not exist or is not a folder")
    formats: list[BankFormat] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        profile = load_profile(path)
        if profile.name in seen:
            raise _config_error(str(path), "name", profile.name, f"already the name of {seen[profile.name]}")
        seen[profile.name] = path
        formats.append(ProfileFormat(profile, source=path))
    return formats


# -- text helpers -----------------------------------------------------------------------------------

def _norm(text: str) -> str:
    """Header and title texts compared without case, accents, repeated spaces or a trailing colon."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split()).strip(" :.")


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, dt.datetime):
        return cell.strftime("%Y-%m-%d %H:%M:%S") if cell.time() != dt.time() else cell.date().isoformat()
    return str(cell).replace("\xa0", " ").strip()


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_EXAMPLE_NUMBERS = ("12345678901", "123456789", "1234567890", "123456789012", "1234567890123456")
"""Account numbers tried, in this order, for the example in a refusal (the first the profile's pattern reads)."""

_TAG_TEXT = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>")
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def _zip_head_texts(head: bytes) -> tuple[bool, list[str]]:
    """From the first bytes of an XLSX: whether it is one, and the cell texts readable there.

    The central directory is at the end of a ZIP, out of reach; but members start with local
    headers, and a deflate stream can be inflated from its beginning. openpyxl and many server
    exporters write inline strings in the sheet, so the title and header rows are often within
    the first 8 KiB; Excel puts them in sharedStrings.xml, usually further on.
    """
    is_xlsx, texts, pos = False, [], 0
    while pos + _LOCAL_HEADER.size <= len(head):
        sig, _ver, flags, method, _t, _d, _crc, csize, _usize, nlen, xlen = _LOCAL_HEADER.unpack_from(head, pos)
        if sig != b"PK\x03\x04" or flags & 1:  # not a local header, or encrypted
            break
        name = head[pos + 30:pos + 30 + nlen].decode("cp437", "replace")
        if name.startswith("xl/") or name == "[Content_Types].xml":
            is_xlsx = True
        start = pos + 30 + nlen + xlen
        sized = bool(csize) and not flags & 8
        data = head[start:start + csize] if sized else head[start:]
        nxt: int | None = start + csize if sized else None
        if method == 8:
            inflater = zlib.decompressobj(-15)
            try:
                out = inflater.decompress(data, 1 << 20)
            except zlib.error:
                break
            if nxt is None and inflater.eof:  # sizes follow the data in a descriptor
                end = start + len(data) - len(inflater.unused_data)
                nxt = end + (16 if head[end:end + 4] == b"PK\x07\x08" else 12)
        elif method == 0:
            out = data
        else:
            break
        if name.startswith("xl/") and ("sharedStrings" in name or "worksheets/" in name):
            texts += [html.unescape(t) for t in _TAG_TEXT.findall(out.decode("utf-8", "ignore"))]
        if nxt is None:
            break
        pos = nxt
    return is_xlsx, texts


class _Prefixed(io.RawIOBase):
    """A binary stream with some already-read bytes put back in front."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


@dataclass
class _Group:
    """What the summary of one account and currency needs: no list of lines."""

    first_row: int
    first_date: dt.date
    last_date: dt.date
    count: int = 0
    first: tuple[Decimal | None, Decimal, dt.date] | None = None
    last: tuple[Decimal | None, Decimal, dt.date] | None = None
    # The order the running balance shows, from the first pair of consecutive rows that tells
    # (a movement and its reversal, +X then -X, fit both orders: the next pair decides).
    order: str | None = None
    last_row: int = 0
    all_balances: bool = True


def _checked_zip(stream: IO[bytes]) -> None:
    """Refuse, before openpyxl opens it, a workbook that is no zip, would expand too far, or is encrypted.
    Reads the zip's central directory only."""
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise StatementError(f"not an XLSX workbook ({exc})", position="file") from None
    declared = sum(m.file_size for m in members)
    if declared > MAX_XLSX_UNCOMPRESSED or len(members) > MAX_XLSX_MEMBERS:
        raise StatementError(f"the workbook would expand to {declared / 2**20:.0f} MB in {len(members)} parts "
                             f"(limit {MAX_XLSX_UNCOMPRESSED // 2**20} MB): refused as a possible zip bomb",
                             position="file")
    if any(m.flag_bits & 1 for m in members):
        raise StatementError("the workbook is encrypted (password-protected); export it without a password",
                             position="file")


class _LazyStrings:
    """A workbook's shared-string table, read from its part only as far as the highest index asked
    for: detection needs the strings of a few rows, not the whole table of a large export."""

    #: Excel numbers strings in order of first use, so a header's are among the first. A leading
    #: row that points this far into the table is no bank export's: detection gives up rather
    #: than read a table that may run to hundreds of thousands of strings.
    LIMIT = 50_000

    def __init__(self, archive: zipfile.ZipFile, part: str) -> None:
        self._archive, self._part = archive, part
        self._strings: list[str] = []
        self._events: Iterator[tuple[str, Any]] | None = None
        self._source: IO[bytes] | None = None

    def __getitem__(self, index: int) -> str:
        from openpyxl.cell.text import Text
        from openpyxl.xml.constants import SHEET_MAIN_NS
        from openpyxl.xml.functions import iterparse  # defusedxml's when installed, as openpyxl's own reader

        if index < 0:
            raise IndexError(index)
        if index >= self.LIMIT:
            raise ValueError(f"a leading cell uses shared string {index}: past the {self.LIMIT} read for detection")
        tag = f"{{{SHEET_MAIN_NS}}}si"
        if self._events is None:
            self._source = self._archive.open(self._part)
            self._events = iterparse(self._source)
        while len(self._strings) <= index:
            try:
                _event, node = next(self._events)
            except StopIteration:
                raise IndexError(index) from None
            if node.tag == tag:
                # What openpyxl.reader.strings.read_string_table does with each item.
                self._strings.append(Text.from_tree(node).content.replace("x005F_", ""))
                node.clear()
        return self._strings[index]

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


def _open_workbook_lazily(stream: IO[bytes]) -> tuple[Any, Callable[[], None]]:
    """openpyxl's read-only workbook, with the shared-string table read lazily (:class:`_LazyStrings`),
    and what closes both."""
    from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader

    strings: list[_LazyStrings] = []

    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            # openpyxl sizes a sheet from its <dimension>, and without one parses it up to
            # </sheetData>: the whole sheet, for a look at its first rows. The size is not needed
            # (what reset_dimensions() leaves).
            self._max_row = self._max_column = None

    class Reader(ExcelReader):
        def read_strings(self) -> None:
            part = self.package.find(SHARED_STRINGS)
            if part is not None:
                strings.append(_LazyStrings(self.archive, part.PartName[1:]))
                self.shared_strings = strings[0]

        def read_worksheets(self) -> None:
            # The read-only branch of ExcelReader.read_worksheets, with unsized sheets (and no
            # chartsheets: no rows to read).
            for sheet, rel in self.parser.find_sheets():
                if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                    continue
                ws = UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)

    reader = Reader(stream, read_only=True, data_only=True, keep_links=False)

    def close() -> None:
        for table in strings:
            table.close()
        reader.archive.close()

    try:
        reader.read()
    except BaseException:
        close()
        raise
    return reader.wb, close


# -- the format ---------------------------------------------------------------------------------------

class ProfileFormat(BankFormat):
    """One profile as a bank format named ``profile:<name>``."""

    name = "profile"

    def __init__(self, profile: Profile, *, source: Path | None = None) -> None:
        self.profile = profile
        self.source = source
        self.name = f"profile:{profile.name}"
        note = "" if profile.confirmed else " (unconfirmed layout: to be checked against a real export)"
        self.description = (profile.description or f"{profile.bank} {profile.file_type.upper()} export") + note
        self._header_cells = [_norm(c) for c in profile.detect.header_cells]
        self._titles = [_norm(c) for c in profile.detect.title_contains]
        self._ignore = [_norm(c) for c in profile.ignore.rows_starting_with]
        self._sign_debit = {_norm(v) for v in profile.sign.debit} if profile.sign else set()
        self._sign_credit = {_norm(v) for v in profile.sign.credit} if profile.sign else set()
        self._title_re = re.compile(profile.account.title_pattern) if profile.account.title_pattern else None
        self._filename_re = re.compile(profile.account.filename_pattern) if profile.account.filename_pattern else None
        self._sheet_re = re.compile(profile.account.sheet_pattern) if profile.account.sheet_pattern else None

    # -- detect ----------------------------------------------------------------------------------
    def detect(self, head: bytes, filename: str) -> float:
        try:
            if self.profile.file_type == "xlsx":
                return self._detect_xlsx(head, filename)
            return self._detect_csv(head)
        except Exception:  # detect never raises: garbage is simply not ours
            return 0.0

    def _detect_csv(self, head: bytes) -> float:
        if head.startswith(b"PK\x03\x04") or b"\x00" in head or not head.strip():
            return 0.0
        if head.startswith(codecs.BOM_UTF8):
            text = head[3:].decode("utf-8", "replace")
        else:
            text = head.decode(self.profile.encoding, "replace")
        lines = text.splitlines()
        if len(head) >= HEAD_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut by the 8 KiB limit
        rows: list[list[str]] = []
        reader = csv.reader(lines[: self.profile.detect.search_rows], delimiter=self.profile.delimiter,
                            quotechar=self.profile.quotechar)
        try:
            rows = [[_text(c) for c in row] for row in reader]
        except csv.Error:
            return 0.0
        return self._score(rows, cut=False)

    def _detect_xlsx(self, head: bytes, filename: str) -> float:
        if not head.startswith(b"PK\x03\x04"):
            return 0.0
        is_xlsx, texts = _zip_head_texts(head)
        if not is_xlsx:
            return 0.0
        if texts:
            score = self._score([texts], cut=True)
            if score:
                return score
        hinted = bool(self.profile.detect.filename_pattern) and fnmatch.fnmatch(
            filename.lower(), self.profile.detect.filename_pattern.lower())
        if texts and not hinted:
            # Text was readable and did not match: another export (or its header lies further on).
            return 0.05
        # Nothing readable in the first 8 KiB (Excel keeps text in sharedStrings.xml): only a guess,
        # which detect_file() replaces by reading the leading rows.
        return 0.3 if hinted else 0.2

    def detect_file(self, stream: IO[bytes], filename: str) -> float | None:
        """For an XLSX profile: score the first ``detect.search_rows`` rows of the profile's sheet
        like a CSV's (header and title 0.95, header 0.85, title only 0.7, else 0.0).

        Bounded: the zip checks read the central directory; openpyxl, read-only, then reads the
        workbook's small parts and streams the sheet, stopping after those rows, and the
        shared-string table is read only up to the highest string those rows use. A workbook the
        zip checks refuse (too large, encrypted) or openpyxl cannot open keeps its quick score
        (None), so that parse() refuses it with the precise reason.
        """
        if self.profile.file_type != "xlsx":
            return None
        try:
            rows = self._xlsx_head_rows(stream)
        except Exception:  # detect never raises: a workbook that cannot be read is left to parse()
            return None
        if rows is None:
            return 0.0  # no such sheet: not this export
        try:
            return self._score(rows, cut=False)
        except Exception:
            return 0.0

    def _xlsx_head_rows(self, stream: IO[bytes]) -> list[list[str]] | None:
        """The texts of the leading rows of the profile's sheet, or None if the workbook has no such sheet."""
        _checked_zip(stream)
        stream.seek(0)
        book, close = _open_workbook_lazily(stream)
        try:
            if self.profile.sheet:
                if self.profile.sheet not in book.sheetnames:
                    return None
                sheet = book[self.profile.sheet]
            else:
                sheet = book.worksheets[0]
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()
            leading = itertools.islice(sheet.iter_rows(values_only=True), self.profile.detect.search_rows)
            return [[_text(c) for c in row] for row in leading]
        finally:
            close()

    def _score(self, rows: list[list[str]], *, cut: bool) -> float:
        """``rows`` are the leading rows (or, for XLSX, all texts seen as one row when ``cut``)."""
        titles_text = ""
        if self._header_cells:
            found = None
            for i, row in enumerate(rows):
                cells = {_norm(c) for c in row if c}
                if all(h in cells for h in self._header_cells):
                    found = i
                    break
            if found is None:
                return 0.0
            titles_text = " ".join(_norm(" ".join(r)) for r in rows[:found]) if not cut else \
                _norm(" ".join(rows[0]))
        else:
            titles_text = _norm(" ".join(" ".join(r) for r in rows))
        if self._titles:
            if not all(t in titles_text for t in self._titles):
                return 0.0
            return 0.95 if self._header_cells else 0.7
        return 0.85

    # -- parse -----------------------------------------------------------------------------------
    def parse(self, stream: IO[bytes], filename: str) -> Iterator[StatementLine | StatementSummary]:
        p = self.profile
        sheet_name: list[str] = []  # the name of the sheet read, once the workbook is open
        rows = self._xlsx_rows(stream, sheet_name) if p.file_type == "xlsx" else self._csv_rows(stream)
        where = self._where
        titles: list[str] = []
        header: list[str] = []
        header_row = 0
        limit = p.detect.search_rows
        if p.header:
            for n, cells in rows:
                texts = [_text(c) for c in cells]
                if p.skip_rows is not None:
                    is_header = n == p.skip_rows + 1
                else:
                    normed = {_norm(t) for t in texts if t}
                    is_header = all(h in normed for h in self._header_cells)
                if is_header:
                    header, header_row = texts, n
                    break
                titles.append(" ".join(t for t in texts if t))
                if n >= limit:
                    raise StatementError(
                        f"no header row with the cells {', '.join(p.detect.header_cells)} in the first {limit} rows: "
                        f"this is not a {p.bank} export as profile {p.name!r} describes it", position=where(n))
            if not header_row:
                raise StatementError(
                    f"no header row with the cells {', '.join(p.detect.header_cells)} before the end of the file: "
                    f"this is not a {p.bank} export as profile {p.name!r} describes it", position=where(len(titles)))
        else:
            header_row = p.skip_rows or 0
            for _n, cells in itertools.islice(rows, header_row):
                titles.append(" ".join(t for t in (_text(c) for c in cells) if t))
            if self._titles:
                joined = _norm(" ".join(titles))
                missing = [t for t, nt in zip(p.detect.title_contains, self._titles) if nt not in joined]
                if missing:
                    raise StatementError(f"the title rows lack {', '.join(missing)}: this is not a {p.bank} export as "
                                         f"profile {p.name!r} describes it", position=where(1))
        columns = self._map_columns(header, header_row)
        labels = {key: self._label(idx, header) for key, idx in columns.items() if isinstance(idx, int)}
        labels.update({key: "; ".join(self._label(i, header) for i in idx) for key, idx in columns.items()
                       if isinstance(idx, list)})

        fixed_account = p.account.value
        if self._title_re is not None:
            fixed_account = ""
            for title in titles:
                match = self._title_re.search(title)
                if match and match.group(1).strip():
                    fixed_account = match.group(1).strip()
                    break
            if not fixed_account:
                raise StatementError(f"no title row matches account.title_pattern {p.account.title_pattern!r}, so "
                                     "the account is unknown; set account.value in the profile if the export does not "
                                     "name it", position=where(1) if titles else where(header_row), field="account")
        if self._filename_re is not None:
            fixed_account = self._account_from_filename(filename)
        if self._sheet_re is not None:
            fixed_account = self._account_from_sheet(sheet_name[0] if sheet_name else "")

        ordinals = Ordinals()
        groups: dict[tuple[str, str], _Group] = {}
        seen_data = False
        normed_header = [_norm(h) for h in header]
        for n, cells in rows:
            texts = [_text(c) for c in cells]
            if not any(texts):
                if p.ignore.stop_at_blank_row and seen_data:
                    break
                continue
            first = _norm(next(t for t in texts if t))
            if any(first.startswith(prefix) for prefix in self._ignore):
                continue
            if header and [_norm(t) for t in texts[:len(normed_header)]] == normed_header:
                continue  # the header repeated on each page of a long export
            line = self._line(cells, n, columns, labels, fixed_account, ordinals)
            if line is None:
                continue
            seen_data = True
            line, balance = line
            self._track(groups, line, balance, n)
            yield line
        if not groups:
            raise StatementError(f"the export holds no transactions (profile {p.name!r})",
                                 position=where(header_row or 1))
        for (account, currency), g in groups.items():
            opening, closing = self._balances(g)
            yield StatementSummary(account=account, currency=currency, period_from=g.first_date, period_to=g.last_date,
                                   opening_balance=opening, closing_balance=closing,
                                   position=f"{where(g.first_row)} to {g.last_row}")

    def _account_from_filename(self, filename: str) -> str:
        name = Path(filename).name
        match = self._filename_re.search(name) if self._filename_re is not None else None
        if match and match.group(1).strip():
            return match.group(1).strip()
        stem, suffix = Path(name).stem or "movimientos", Path(name).suffix or f".{self.profile.file_type}"
        # An example that this profile's own pattern reads, when one of these shapes fits it.
        candidates = (f"{stem}{sep}{digits}{suffix}" for digits in _EXAMPLE_NUMBERS for sep in (" ", "_", "-"))
        example = next((c for c in candidates if self._filename_re is not None and self._filename_re.search(c)), "")
        hint = f", for example {example!r}" if example else ""
        raise StatementError(
            f"the file {name!r} does not say which account it belongs to: this {self.profile.bank} export does not "
            f"print the account number, so it is read from the file name. Rename the file to include the account "
            f"number{hint}")

    def _account_from_sheet(self, sheet: str) -> str:
        match = self._sheet_re.search(sheet) if self._sheet_re is not None else None
        if match and match.group(1).strip():
            return match.group(1).strip()
        # An example that this profile's own pattern reads, built from the sheet's present name.
        candidates = (f"{sheet}{sep}{digits}" for digits in _EXAMPLE_NUMBERS for sep in ("", " "))
        example = next((c for c in candidates if self._sheet_re is not None and self._sheet_re.search(c)), "")
        hint = (f"Rename the sheet to include the account number, for example {example!r}" if example else
                "Give the sheet back the name the bank gave it, which carries the account number")
        raise StatementError(
            f"the sheet {sheet!r} does not say which account it belongs to: this {self.profile.bank} export names its "
            f"sheet after the account number, so it is read from the sheet's name. {hint}")

    def _where(self, n: int) -> str:
        if self.profile.file_type == "xlsx":
            return f"sheet {self.profile.sheet!r} row {n}" if self.profile.sheet else f"row {n}"
        return f"row {n}"

    @staticmethod
    def _label(index: int, header: list[str]) -> str:
        name = header[index] if index < len(header) and header[index] else ""
        return f"{name} (column {_letter(index)})" if name else f"column {_letter(index)}"

    def _map_columns(self, header: list[str], header_row: int) -> dict[str, int | list[int]]:
        p = self.profile
        normed = [_norm(h) for h in header]
        refs: dict[str, Any] = {k: v for k, v in p.columns.model_dump().items() if v not in (None, [])}
        if p.sign:
            refs["sign"] = p.sign.column
        if p.account.column is not None:
            refs["account"] = p.account.column

        def find(key: str, ref: Any) -> int:
            if isinstance(ref, int):
                if header and ref > len(header):
                    raise StatementError(f"column {ref} ({key}) does not exist: the header has {len(header)} columns",
                                         position=self._where(header_row), field=key)
                return ref - 1
            target = _norm(ref)
            if target in normed:
                return normed.index(target)
            raise StatementError(f"the header has no column {ref!r} ({key} in profile {p.name!r}); its columns are: "
                                 f"{', '.join(h for h in header if h)}", position=self._where(header_row), field=key)

        out: dict[str, int | list[int]] = {}
        for key, ref in refs.items():
            out[key] = [find(f"remittance[{i}]", r) for i, r in enumerate(ref)] if key == "remittance" else find(key, ref)
        return out

    def _line(self, cells: list[Any], n: int, columns: dict[str, Any], labels: dict[str, str], fixed_account: str,
              ordinals: Ordinals) -> tuple[StatementLine, Decimal | None] | None:
        p = self.profile
        pos = self._where(n)

        def cell(key: str) -> Any:
            idx = columns.get(key)
            if idx is None or idx >= len(cells):
                return None
            value = cells[idx]
            return None if isinstance(value, str) and not value.strip() else value

        def text(key: str) -> str:
            return _text(cell(key))

        no_amount = all(cell(k) is None for k in ("amount", "debit", "credit"))
        if cell("date") is None:
            if no_amount:
                return None  # a second description line, a note: no date and no money
            raise StatementError("the row has an amount but no date", position=pos, field=labels["date"])
        booking = self._date(cell("date"), p.date_format, pos, labels["date"])
        value_date = None
        if cell("value_date") is not None:
            value_date = self._date(cell("value_date"), p.value_date_format or p.date_format, pos, labels["value_date"])

        hint = "; if such rows are not transactions, set ignore.rows_without_amount in the profile"
        if "amount" in columns:
            amount = self._amount(cell("amount"), pos, labels["amount"]) or None
            amount_field = labels["amount"]
        else:
            debit = self._amount(cell("debit"), pos, labels["debit"]) if "debit" in columns else None
            credit = self._amount(cell("credit"), pos, labels["credit"]) if "credit" in columns else None
            debit, credit = debit or None, credit or None  # 0,00 in the unused column is the same as empty
            amount_field = " / ".join(labels[k] for k in ("debit", "credit") if k in labels)
            if debit is not None and credit is not None:
                raise StatementError(f"the row has both a debit ({debit}) and a credit ({credit})", position=pos,
                                     field=amount_field)
            # A debit column holds money out whatever sign the bank prints; a credit is money in.
            amount = -abs(debit) if debit is not None else credit
        if amount is None:
            if p.ignore.rows_without_amount:
                # "Saldo anterior" and the like: a balance, not a transaction. Nothing is lost unseen: a
                # real transaction missing its amount breaks the running balance the summary carries.
                return None
            raise StatementError(f"the row has no amount (empty or zero){hint}", position=pos, field=amount_field)
        if p.sign:
            mark = _norm(text("sign"))
            if mark in self._sign_debit:
                amount = -abs(amount)
            elif mark in self._sign_credit:
                amount = abs(amount)
            else:
                raise StatementError(f"{text('sign')!r} is neither a debit ({', '.join(p.sign.debit)}) nor a credit "
                                     f"({', '.join(p.sign.credit)})", position=pos, field=labels["sign"])
        balance = self._amount(cell("balance"), pos, labels["balance"]) if "balance" in columns else None

        account = fixed_account or text("account")
        if not account:
            raise StatementError("the account is empty", position=pos, field=labels.get("account", "account"))
        currency = text("currency").upper() or p.currency
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise StatementError(f"{currency!r} is not an ISO 4217 currency code", position=pos,
                                 field=labels.get("currency", "currency"))
        reference = text("reference")
        parts = [text("description"), reference] + [_text(cells[i]) if i < len(cells) else ""
                                                    for i in columns.get("remittance", [])]
        remittance = " ".join(dict.fromkeys(part for part in parts if part))
        bank_reference = text("bank_reference")
        try:
            line = StatementLine(
                account=account, currency=currency, booking_date=booking, value_date=value_date, amount=amount,
                bank_reference=bank_reference, end_to_end_id=reference, payer_name=text("payer"),
                payer_account=text("payer_account"), payer_id=text("payer_id"), remittance=remittance,
                transaction_code=text("transaction_code"),
                ordinal=ordinals(account, booking, bank_reference, amount), position=pos)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise StatementError(f"{first['msg']} (got {first.get('input')!r})", position=pos,
                                 field=".".join(str(x) for x in first["loc"])) from None
        return line, balance

    @staticmethod
    def _date(value: Any, fmt: str, pos: str, label: str) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            return parse_date(value, fmt, position=pos, field=label)
        raise StatementError(f"{value!r} is a number, not a date (expected {fmt} or a date cell)", position=pos,
                             field=label)

    def _amount(self, value: Any, pos: str, label: str) -> Decimal | None:
        p = self.profile
        if value is None:
            return None
        if isinstance(value, bool):
            raise StatementError(f"{value!r} is not an amount", position=pos, field=label)
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            return self._from_float(value, pos, label)
        if isinstance(value, (dt.date, dt.datetime, dt.time)):
            raise StatementError(f"{_text(value)!r} is a date, not an amount", position=pos, field=label)
        text = str(value).replace("\xa0", " ").strip()
        if not text:
            return None
        negative = False
        if text.startswith("(") and text.endswith(")"):  # accounting style (1.234,00)
            negative, text = True, text[1:-1].strip()
        if text.endswith("-"):  # trailing minus, as ERP and mainframe reports print it
            negative, text = not negative, text[:-1].strip()
        for _ in range(2):  # "-$ 1.234,00" and "$ -1.234,00"
            if text[:1] in "+-":
                negative, text = (not negative if text[0] == "-" else negative), text[1:].strip()
            for symbol in ("COP", "USD", "$"):
                if text.startswith(symbol):
                    text = text[len(symbol):].strip()
        if p.thousands and p.thousands in text.partition(p.decimal_mark)[2]:
            # parse_amount drops thousands separators everywhere, so "1,000.00" read with decimal
            # comma would become 1.00000: refuse a separator after the decimal mark instead.
            raise StatementError(f"{value!r} is not an amount written as 1{p.thousands}234{p.decimal_mark}56 (the "
                                 f"profile's number format)", position=pos, field=label)
        amount = parse_amount(text, decimal_mark=p.decimal_mark, thousands=p.thousands, position=pos, field=label)
        return -amount if negative else amount

    def _from_float(self, value: float, pos: str, label: str) -> Decimal:
        """An XLSX number: Excel stores a binary double; its shortest decimal form is what the bank
        wrote, up to float noise far beyond the currency's decimals."""
        try:
            exact = Decimal(repr(value))
        except InvalidOperation:
            raise StatementError(f"{value!r} is not an amount", position=pos, field=label) from None
        if not exact.is_finite():
            raise StatementError(f"{value!r} is not an amount", position=pos, field=label)
        places = Decimal(1).scaleb(-self.profile.decimals)
        rounded = exact.quantize(places)
        if exact == rounded or exact.as_tuple().exponent >= -self.profile.decimals:
            return exact
        # Noise is a few units in the last place of the double (math.ulp): 1.9e-9 already at ten
        # million, so an absolute bound refused every sum-of-floats balance of a business account.
        # A difference of large operands (a balance minus a large debit) carries their noise, many
        # ulps of a small result: also accept what lies far below the profile's last decimal.
        if abs(value - float(rounded)) <= max(4 * math.ulp(value), 10.0 ** -(self.profile.decimals + 4)):
            return rounded
        raise StatementError(f"{exact} has more than {self.profile.decimals} decimals (decimals in the profile); "
                             "it is not rounded silently", position=pos, field=label)

    @staticmethod
    def _track(groups: dict[tuple[str, str], _Group], line: StatementLine, balance: Decimal | None, n: int) -> None:
        key = (line.account, line.currency)
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group(first_row=n, first_date=line.booking_date, last_date=line.booking_date)
        g.count += 1
        g.first_date = min(g.first_date, line.booking_date)
        g.last_date = max(g.last_date, line.booking_date)
        entry = (balance, line.amount, line.booking_date)
        if g.first is None:
            g.first = entry
        elif g.order is None and balance is not None and g.last is not None and g.last[0] is not None:
            (b0, a0, _), (b1, a1) = g.last, (balance, line.amount)
            ascending, descending = b1 == b0 + a1, b0 == b1 + a0
            if ascending != descending:
                g.order = "oldest_first" if ascending else "newest_first"
        g.last, g.last_row = entry, n
        g.all_balances = g.all_balances and balance is not None

    def _balances(self, g: _Group) -> tuple[Decimal | None, Decimal | None]:
        if not g.all_balances or g.last is None:
            return None, None
        assert g.first is not None
        (b0, a0, d0), last = g.first, g.last
        order = self.profile.order
        if order == "auto":
            # the running balance when some pair of rows told, else the dates, else oldest first
            order = g.order or ("newest_first" if d0 > last[2] else "oldest_first")
        if order == "newest_first":
            return last[0] - last[1], b0
        return b0 - a0, last[0]

    # -- readers ---------------------------------------------------------------------------------
    def _csv_rows(self, stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
        p = self.profile
        start = stream.read(3)
        encoding = "utf-8-sig" if start.startswith(codecs.BOM_UTF8) else p.encoding
        text = io.TextIOWrapper(io.BufferedReader(_Prefixed(start, stream)), encoding=encoding, newline="")
        n = 0

        def lines() -> Iterator[str]:
            while True:
                line = text.readline(MAX_LINE)
                if not line:
                    return
                if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
                    raise StatementError(f"a line longer than {MAX_LINE} characters: this is not a statement export",
                                         position=f"row {n + 1}")
                yield line

        reader = csv.reader(lines(), delimiter=p.delimiter, quotechar=p.quotechar, strict=True)
        try:
            for row in reader:
                n += 1
                if n == 1 and len(row) == 1 and row[0].strip().lower().startswith("sep="):
                    continue  # Excel's "sep=;" hint line
                yield n, row
        except UnicodeDecodeError as exc:
            raise StatementError(f"the file is not {encoding} text (byte 0x{exc.object[exc.start]:02x}); check the "
                                 "profile's encoding", position=f"row {n + 1}") from None
        except csv.Error as exc:
            raise StatementError(f"malformed CSV: {exc}", position=f"row {n + 1}") from None

    def _xlsx_rows(self, stream: IO[bytes], sheet_name: list[str] | None = None) -> Iterator[tuple[int, list[Any]]]:
        """The rows of the profile's sheet (or the first); the sheet's name is appended to ``sheet_name``."""
        import openpyxl  # only XLSX profiles pay for it

        spool = None
        if not (hasattr(stream, "seekable") and stream.seekable()):
            spool = tempfile.SpooledTemporaryFile(max_size=16 * 2**20)
            while chunk := stream.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            stream = spool  # type: ignore[assignment]
        try:
            _checked_zip(stream)
            stream.seek(0)
            try:
                book = openpyxl.load_workbook(stream, read_only=True, data_only=True, keep_links=False)
            except Exception as exc:  # openpyxl raises many kinds on a bad workbook
                raise StatementError(f"the workbook cannot be read: {exc}", position="file") from None
            try:
                if self.profile.sheet:
                    if self.profile.sheet not in book.sheetnames:
                        raise StatementError(f"the workbook has no sheet {self.profile.sheet!r}; its sheets are "
                                             f"{', '.join(book.sheetnames)}", position="file", field="sheet")
                    sheet = book[self.profile.sheet]
                else:
                    sheet = book.worksheets[0]
                if sheet_name is not None:
                    sheet_name.append(sheet.title)
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()  # some writers declare a wrong <dimension>; read every cell
                rows = sheet.iter_rows(values_only=True)
                n = 0
                while True:
                    try:
                        row = next(rows)
                    except StopIteration:
                        break
                    except Exception as exc:
                        raise StatementError(f"the sheet cannot be read: {exc}", position=self._where(n + 1)) from None
                    n += 1
                    yield n, list(row)
            finally:
                book.close()
        finally:
            if spool is not None:
                spool.close()


@hookimpl
def conciliador_bank_formats() -> list[BankFormat]:
    return load_profiles(SHIPPED_PROFILES)


@hookimpl
def conciliador_bank_formats_from(folder: Path) -> list[BankFormat]:
    """The user's own profiles: every ``*.toml`` in ``intake.bank_profiles``."""
    return load_profiles(folder)
