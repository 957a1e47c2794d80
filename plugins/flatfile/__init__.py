"""``flatfile``: an ERP made of CSV files in one folder; the embedded default and the demo's ERP.

It behaves like a small ERP so the whole flow runs without one:

- ``customers.csv``: ``customer_id,name,tax_id``
- ``open_items.csv``: ``document,customer_id,reference,currency,original_amount,open_amount``
  and optionally ``document_date,due_date,tax_base,vat,cufe,assignment`` (dates ``YYYY-MM-DD``, amounts plain
  decimals with ``.``)
- ``postings.csv`` (written by the agent): one row per applied item of each payment document
  (cash in ``applied_amount``; ``withheld``, ``discount`` and ``write_off`` clear the rest of the
  item), plus a row without ``applied_document`` for what stays on the customer's account; the
  idempotency key is in ``key``, like SAP's ``XBLNR``. A reversal repeats the rows of the document
  it reverses with the signs turned and that document in ``reverses``. Open amounts read back through
  :meth:`FlatFileErp.open_items` are net of what was posted, so a paid invoice is no longer open.
  Like an ERP, it refuses (:class:`PermanentError`) a payment for a customer it does not know or
  applied to a document it does not hold, and a second posting with a key it already
  holds gets the first document back instead of a second payment.
- ``einvoice_status.csv`` (written by the agent): DIAN status updates.

Rows are appended with one ``write`` and an ``fsync``; a torn last row left by a power cut is cut
off before the next append, as a database would roll back an unfinished transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
import re
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError, ValidationInfo, field_validator

from conciliador import (
    CheckResult,
    ConnectorSettings,
    Customer,
    ErpConnector,
    OpenItem,
    PermanentError,
    Posting,
    PostingKind,
    PostingResult,
    RetryableError,
    hookimpl,
)

try:
    import fcntl
except ImportError:  # Windows: one agent per folder is the rule there
    fcntl = None

CUSTOMER_COLUMNS = ("customer_id", "name", "tax_id")
ITEM_COLUMNS = ("document", "customer_id", "reference", "currency", "original_amount", "open_amount")
ITEM_OPTIONAL = ("document_date", "due_date", "tax_base", "vat", "cufe", "assignment")
POSTING_COLUMNS = ("key", "document", "posted_at", "kind", "customer_id", "currency", "amount",
                   "value_date", "bank_account", "bank_reference", "applied_document", "applied_amount",
                   "withheld", "discount", "write_off")
# ``reverses`` came with reversals; files written before it still read (the column is optional).
POSTING_HEADER = POSTING_COLUMNS + ("reverses",)
STATUS_COLUMNS = ("document", "cufe", "status", "at")
NOT_EMPTY = frozenset({"customer_id", "name", "document", "currency", "original_amount", "open_amount", "key"})
_PLAIN_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")


class FlatFileSettings(ConnectorSettings):
    folder: Path = Path("erp")
    document_prefix: str = "PAY-"

    @field_validator("folder")
    @classmethod
    def _relative_to_config(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        return (Path(base) / value).resolve() if base and not value.is_absolute() else value


class FlatFileErp(ErpConnector):
    name = "flatfile"
    Settings = FlatFileSettings

    settings: FlatFileSettings

    @property
    def folder(self) -> Path:
        return self.settings.folder

    # -- reading ---------------------------------------------------------------------------
    def check(self) -> Iterable[CheckResult]:
        results = []
        for filename, columns in (("customers.csv", CUSTOMER_COLUMNS), ("open_items.csv", ITEM_COLUMNS)):
            path = self.folder / filename
            try:
                header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig").split("\n", 1)[0])), [])
            except OSError as exc:
                results.append(CheckResult(name=f"flatfile {filename}", ok=False, detail=f"cannot read {path}: {exc.strerror}"))
                continue
            missing = [c for c in columns if c not in header]
            results.append(CheckResult(
                name=f"flatfile {filename}", ok=not missing,
                detail=f"{path} lacks column(s) {', '.join(missing)}" if missing else str(path)))
        writable = os.access(self.folder, os.W_OK) and self.folder.is_dir()
        results.append(CheckResult(name="flatfile postings.csv", ok=writable,
                                   detail=str(self.folder / "postings.csv") if writable else f"cannot write in {self.folder}"))
        return results

    def customers(self) -> Iterator[Customer]:
        for pos, row in self._rows("customers.csv", CUSTOMER_COLUMNS):
            yield self._model(Customer, pos, id=row["customer_id"], name=row["name"], tax_id=row.get("tax_id", ""),
                              company=self.company)

    def open_items(self, since: dt.datetime | None = None) -> Iterator[OpenItem]:
        applied: dict[str, Decimal] = defaultdict(Decimal)
        for _, row in self._posting_rows():
            if row["applied_document"]:
                applied[row["applied_document"]] += sum(
                    (Decimal(row[c]) for c in ("applied_amount", "withheld", "discount", "write_off")), Decimal(0))
        for pos, row in self._rows("open_items.csv", ITEM_COLUMNS):
            fields = {k: v for k, v in row.items() if k in ITEM_COLUMNS + ITEM_OPTIONAL and v != ""}
            for money in ("original_amount", "open_amount", "tax_base", "vat"):
                if money in fields:
                    fields[money] = _decimal(fields[money], f"open_items.csv {pos}", money)
            fields["open_amount"] -= applied.get(fields["document"], Decimal(0))
            if fields["open_amount"] == 0:
                continue
            yield self._model(OpenItem, pos, **fields)

    def _rows(self, filename: str, required: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
        """Rows of ``filename`` as dicts; ``required`` columns must exist, and those in
        :data:`NOT_EMPTY` must hold a value."""
        path = self.folder / filename
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RetryableError(f"flatfile ERP: cannot open {path}: {exc.strerror}") from exc
        # Bytes after the last newline are a row whose write was interrupted: it never happened.
        data = data[: data.rfind(b"\n") + 1]
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise PermanentError(f"flatfile ERP: {path} lacks the column(s) {', '.join(missing)}")
        for row in reader:
            fields = {k: (v or "").strip() for k, v in row.items() if k}
            empty = [c for c in required if c in NOT_EMPTY and not fields.get(c)]
            if empty:
                raise PermanentError(f"flatfile ERP: {filename} line {reader.line_num} field {empty[0]} is empty")
            yield f"line {reader.line_num}", fields

    def _model(self, model, pos: str, **fields):
        try:
            return model(**fields)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise PermanentError(
                f"flatfile ERP: {pos} field {'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})"
            ) from None

    # -- posting ---------------------------------------------------------------------------
    def _posting_rows(self) -> Iterator[tuple[str, dict[str, str]]]:
        if (self.folder / "postings.csv").exists():
            yield from self._rows("postings.csv", POSTING_COLUMNS)

    def find_posting(self, key: str) -> PostingResult | None:
        if not self.folder.is_dir():
            # "None" would tell the core the payment was never made; an unmounted share says nothing.
            raise RetryableError(f"flatfile ERP: the folder {self.folder} cannot be reached")
        for _, row in self._posting_rows():
            if row["key"] == key:
                return PostingResult(key=key, document=row["document"], detail=f"posted at {row['posted_at']}")
        return None

    def _validate(self, posting: Posting) -> None:
        """Refuse what an ERP would refuse: an unknown customer or document."""
        if posting.customer_id not in self._ids("customers.csv", CUSTOMER_COLUMNS, "customer_id"):
            raise PermanentError(f"flatfile ERP: customer {posting.customer_id} is not in customers.csv")
        documents = self._ids("open_items.csv", ITEM_COLUMNS, "document")
        for application in posting.applications:
            if application.document not in documents:
                raise PermanentError(f"flatfile ERP: document {application.document} is not in open_items.csv")

    def _ids(self, filename: str, columns: tuple[str, ...], column: str) -> frozenset[str]:
        """The values of ``column`` in ``filename``, read again only when the file changed."""
        try:
            st = (self.folder / filename).stat()
        except OSError as exc:
            raise RetryableError(f"flatfile ERP: cannot open {self.folder / filename}: {exc.strerror}") from exc
        cache = self.__dict__.setdefault("_id_cache", {})
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if cache.get(filename, (None,))[0] != stamp:
            cache[filename] = (stamp, frozenset(row[column] for _, row in self._rows(filename, columns)))
        return cache[filename][1]

    def post(self, posting: Posting) -> PostingResult:
        if posting.kind is PostingKind.REVERSAL:
            return self.reverse(posting)
        self._validate(posting)
        with _locked_append(self.folder / "postings.csv", POSTING_HEADER) as (fh, existing_rows):
            # A key already there is a payment already made: answer with its document, post nothing.
            # The core asks find_posting before re-sending, but a state store restored from a backup
            # would send again postings it believes pending.
            if (already := _posted_with_key(fh.content, posting.key)) is not None:
                return already
            document = f"{self.settings.document_prefix}{existing_rows + 1:06d}"
            common = self._common(posting, document, posting.amount)
            rows = [common + [a.document, str(a.amount), str(sum((w.amount for w in a.withholdings), Decimal(0))),
                              str(a.discount), str(a.write_off), ""] for a in posting.applications]
            if posting.on_account or not rows:
                rows.append(common + ["", str(posting.on_account), "0", "0", "0", ""])
            _append(fh, rows)
        return PostingResult(key=posting.key, document=document)

    def reverse(self, posting: Posting) -> PostingResult:
        """Write the reversed document's rows again with their signs turned, so what it cleared is open again."""
        with _locked_append(self.folder / "postings.csv", POSTING_HEADER) as (fh, existing_rows):
            if (already := _posted_with_key(fh.content, posting.key)) is not None:
                return already
            rows = list(csv.DictReader(io.StringIO(fh.content.decode("utf-8-sig"))))
            original = [r for r in rows if r.get("document") == posting.reverses]
            if not original:
                raise PermanentError(f"flatfile ERP: document {posting.reverses} is not in postings.csv; nothing to reverse")
            if original[0]["kind"] == PostingKind.REVERSAL.value:
                raise PermanentError(f"flatfile ERP: document {posting.reverses} is itself a reversal")
            earlier = next((r["document"] for r in rows if r.get("reverses") == posting.reverses), None)
            if earlier:
                raise PermanentError(f"flatfile ERP: document {posting.reverses} was already reversed by {earlier}")
            document = f"{self.settings.document_prefix}{existing_rows + 1:06d}"
            common = self._common(posting, document, -Decimal(original[0]["amount"]))
            _append(fh, [common + [r["applied_document"], *(str(-Decimal(r[c])) for c in
                                                             ("applied_amount", "withheld", "discount", "write_off")),
                                   posting.reverses] for r in original])
        return PostingResult(key=posting.key, document=document, detail=f"reverses {posting.reverses}")

    @staticmethod
    def _common(posting: Posting, document: str, amount: Decimal) -> list[str]:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return [posting.key, document, now, posting.kind.value, posting.customer_id, posting.currency,
                str(amount), posting.value_date.isoformat(), posting.bank_account, posting.bank_reference]

    def post_einvoice_status(self, document: str, cufe: str, status: str, at: dt.datetime) -> None:
        with _locked_append(self.folder / "einvoice_status.csv", STATUS_COLUMNS) as (fh, _):
            _append(fh, [[document, cufe, status, at.isoformat()]])


def _posted_with_key(content: bytes, key: str) -> PostingResult | None:
    at = content.find(b"\n" + key.encode() + b",")
    if at < 0:
        return None
    document = content[at + 1:].split(b"\n", 1)[0].split(b",")[1].decode()
    return PostingResult(key=key, document=document, detail="already posted with this key")


def _append(fh, rows: list[list[str]]) -> None:
    """One write and an fsync: the rows of a document land together or, torn, are cut next time."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    fh.write(buffer.getvalue().encode("utf-8"))
    fh.flush()
    os.fsync(fh.fileno())


class _locked_append:
    """Open ``path`` for appending under an exclusive lock, writing the header if new and cutting
    a torn last row (no trailing newline) left by an interrupted write. Yields the handle and the
    number of complete data rows already there."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path, self.columns = path, columns

    def __enter__(self):
        try:
            self.fh = open(self.path, "a+b")
        except OSError as exc:
            raise RetryableError(f"flatfile ERP: cannot write {self.path}: {exc.strerror}") from exc
        if fcntl is not None:
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        content = self.fh.read()
        if content and not content.endswith(b"\n"):
            content = content[: content.rfind(b"\n") + 1]
            self.fh.truncate(len(content))
        if not content:
            self.fh.write((",".join(self.columns) + "\n").encode())
            content = b"header\n"
        rows = content.count(b"\n") - 1
        self.fh.content = content  # what the file held, for callers that look for a row
        return self.fh, rows

    def __exit__(self, *exc) -> None:
        self.fh.close()  # closing releases the flock


def _decimal(text: str, pos: str, field: str) -> Decimal:
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise PermanentError(f"flatfile ERP: {pos} field {field}: {text!r} is not a plain decimal amount such as 1500.00")
    return Decimal(text)


@hookimpl
def conciliador_erp_connectors() -> list[type[ErpConnector]]:
    return [FlatFileErp]
