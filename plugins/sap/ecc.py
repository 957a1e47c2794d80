"""SAP ECC (and S/4HANA on-premise through the same RFC functions): reads with the AR BAPIs and
``RFC_READ_TABLE``, posts with the customer's wrappers, all over ``/sap/bc/soap/rfc``.

Posting an applied payment is FB05 ("post with clearing", incoming payment ``EINGZAHL``) through
the customer's remote-enabled wrapper around ``POSTING_INTERFACE_CLEARING`` (docs/sap.md gives its
interface). The payment document gets:

- header: ``BKPF-BUKRS``, ``BLDAT``/``BUDAT`` (the value date), ``BLART`` (``DZ``), ``WAERS`` and
  ``BKPF-XBLNR`` = the posting key, so ``find_posting`` finds the document by its reference;
- a bank line, posting key 40 to the house bank G/L (``BSEG-ZUONR`` = the key, ``BSEG-VALUT``);
- per withholding, discount and write-off a line to its configured G/L (40, or 50 for a negative
  write-off);
- per partially paid item a residual item (posting key 06) for the rest, referring to the invoice
  (``BSEG-REBZG``/``REBZJ``/``REBZZ``, ``REBZT`` = ``V``) and keeping its assignment, baseline date and
  net days, so it stays the same invoice for the agent and for dunning;
- what is left on account: a customer line with posting key 15 (``BSEG-ZUONR`` = the key);
- the items to clear, selected by document number (``BELNR`` + ``GJAHR`` + ``BUZEI``).

FB05 balances the document against the cleared items; the connector checks the same arithmetic
before sending, so a mismatch is explained in words rather than as ``F5 702``.

A payment on account goes through ``BAPI_ACC_DOCUMENT_POST``, called by the customer's wrapper
that commits in the same session (``REF_DOC_NO`` and ``ALLOC_NMBR`` = the key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import structlog

from conciliador import (
    CheckResult,
    Customer,
    OpenItem,
    PermanentError,
    Posting,
    PostingKind,
    PostingResult,
    RetryableError,
)

from .currency import GET_DECIMALS, CurrencyDecimals
from .customers import reader as customer_reader
from .errors import message_text, raise_for_return, errors_in
from .normalise import (
    BSID_FIELDS,
    SapItem,
    alpha_in,
    alpha_out,
    bsid_row,
    document_id,
    open_items,
    parse_work_areas,
)
from .lines import PaymentLines
from .rfc import RfcClient
from .settings import SapSettings

log = structlog.get_logger(__name__)

GET_OPEN = "BAPI_AR_ACC_GETOPENITEMS"
GET_BALANCED = "BAPI_AR_ACC_GETBALANCEDITEMS"
READ_TABLE = "RFC_READ_TABLE"
ALL_OPEN = dt.date(9999, 12, 31)  # key date: everything open now, whatever its posting date
UNKNOWN = object()  # a lookup that could not tell whether SAP holds the document


def run_probe(results: list[CheckResult], name: str, call, detail) -> Any:
    """One ``check()`` line: the call's value when SAP answered, None (and a failed line) when not."""
    try:
        value = call()
    except (RetryableError, PermanentError) as exc:
        results.append(CheckResult(name=name, ok=False, detail=str(exc)))
        return None
    results.append(CheckResult(name=name, ok=True, detail=detail(value)))
    return value


class EccBackend:
    def __init__(self, settings: SapSettings, company: str) -> None:
        self.settings = settings
        self.company = company
        self.rfc = RfcClient(settings)
        self.currencies = CurrencyDecimals(self.rfc, settings)
        self.lines = PaymentLines(settings, company, self.currencies)
        self.customer_reader = customer_reader(self)
        self.reversals: dict[str, Posting] = {}  # reversal key -> the reversal asked for in this run

    def close(self) -> None:
        self.rfc.close()

    @property
    def payment_types(self) -> set[str]:
        return {self.settings.document_type, self.settings.on_account_document_type}

    # == reading ======================================================================================
    def read_table(self, table: str, fields: Iterable[str], where: str, *, action: str) -> Iterator[dict[str, str]]:
        """Rows of an SAP table through RFC_READ_TABLE, page by page (ROWSKIPS/ROWCOUNT), cut at
        the offsets SAP reports. SAP does not promise an order without one, so callers drop
        repeated keys."""
        fields = list(fields)
        options = [{"TEXT": line} for line in _where_lines(where)]
        page = self.settings.page_size
        skip = 0
        while True:
            result = self.rfc.call(READ_TABLE, action, QUERY_TABLE=table, ROWSKIPS=skip, ROWCOUNT=page,
                                   OPTIONS={"item": options}, FIELDS={"item": [{"FIELDNAME": f} for f in fields]},
                                   DATA={"item": []})
            layout = list(result.FIELDS.item) if result.FIELDS is not None else []
            data = list(result.DATA.item) if result.DATA is not None else []
            yield from parse_work_areas(layout, data)
            if len(data) < page:
                return
            skip += page

    def customer_numbers(self) -> list[str]:
        return self.customer_reader.numbers()

    def customers(self) -> Iterator[Customer]:
        for record in self.customer_reader.records():
            yield Customer(id=alpha_out(record.kunnr), name=record.name or alpha_out(record.kunnr),
                           tax_id=record.tax_id, company=self.company)

    def open_rows(self, kunnr: str, *, action: str) -> list[Any]:
        """The customer's lines open now, as BAPI_AR_ACC_GETOPENITEMS returns them."""
        result = self.rfc.call(GET_OPEN, action, COMPANYCODE=self.settings.company_code, CUSTOMER=kunnr,
                               KEYDATE=ALL_OPEN.isoformat())
        raise_for_return(result.RETURN, action=action)
        return list(result.LINEITEMS.item) if result.LINEITEMS is not None else []

    def normalise(self, rows: Iterable[Any]) -> list[SapItem]:
        rows = list(rows)
        decimals = self.currencies.of_rows({(r["CURRENCY"] or "").strip() for r in rows})
        return open_items(rows, decimals, self.settings.special_gl_indicators, self.payment_types)

    def customer_items(self, kunnr: str, *, action: str) -> list[SapItem]:
        return self.normalise(self.open_rows(kunnr, action=action))

    def open_items(self) -> Iterator[OpenItem]:
        if self.settings.open_items_read == "bulk":
            yield from self._bulk_open_items()
            return
        for kunnr in self.customer_numbers():
            for item in self.customer_items(kunnr, action=f"read the open items of customer {alpha_out(kunnr)}"):
                yield item.item

    def _bulk_open_items(self) -> Iterator[OpenItem]:
        """All open items of the company code from BSID in pages: one call per page instead of one
        per customer. Needs S_TABU_DIS for table group FA."""
        seen: set[tuple[str, str, str]] = set()
        rows = []
        for fields in self.read_table("BSID", BSID_FIELDS, f"BUKRS = '{self.settings.company_code}'",
                                      action="read the open items of the company code"):
            key = (fields["BELNR"].strip(), fields["GJAHR"].strip(), fields["BUZEI"].strip())
            if key in seen:
                continue
            seen.add(key)
            try:
                rows.append(bsid_row(fields, self.currencies.read))
            except ValueError as exc:
                raise PermanentError(f"SAP table BSID, document {key[0]}/{key[1]}/{key[2]}: {exc}") from None
        for item in self.normalise(rows):
            yield item.item

    # == finding a posting by its key =====================================================================
    def find_posting(self, key: str) -> PostingResult | None:
        """The document whose reference (XBLNR) is ``key``. A reversal this connector was asked to
        make is looked for on the customer's account first (customer BAPIs, no table read); any
        other key in BKPF, the one place to look without the customer."""
        reversal = self.reversals.get(key)
        if reversal is not None:
            found = self.find_reversal(reversal)
            if found is not UNKNOWN:
                return found  # type: ignore[return-value]
        return self.find_in_bkpf(key)

    def find_reversal(self, posting: Posting) -> PostingResult | None | object:
        """The reversal ``posting.key`` of document ``posting.reverses``, through the payer's account:
        FBRA resets the clearing and posts a reversal whose customer lines (reference = the
        reversal's key) clear the payment's own customer lines on the reversal date. So the payer's
        open and cleared items since the payment's value date show the reversal if it was made, and
        show the payment's lines either way. If they do not show the payment at all (it was on other
        customers' accounts: a head office paying for its branches), the answer is :data:`UNKNOWN`.
        Needs only ``BAPI_AR_ACC_GETOPENITEMS`` and ``BAPI_AR_ACC_GETBALANCEDITEMS``, for shops
        where ``RFC_READ_TABLE`` is not allowed."""
        kunnr = alpha_in(posting.customer_id)
        action = f"look for the reversal with reference {posting.key}"
        rows = self.open_rows(kunnr, action=action)
        today = dt.date.today()
        result = self.rfc.call(GET_BALANCED, action, COMPANYCODE=self.settings.company_code, CUSTOMER=kunnr,
                               DATE_FROM=min(posting.value_date, today).isoformat(),
                               DATE_TO=max(posting.value_date, today).isoformat())
        raise_for_return(result.RETURN, action=action)
        rows += list(result.LINEITEMS.item) if result.LINEITEMS is not None else []
        for row in rows:
            if (row["REF_DOC_NO"] or "").strip() == posting.key:
                return PostingResult(key=posting.key, document=document_id(row["DOC_NO"].strip(), row["FISC_YEAR"]),
                                     detail=f"reverses {posting.reverses}")
        belnr, _, gjahr = posting.reverses.partition("/")
        if any((row["DOC_NO"] or "").strip() == belnr and str(row["FISC_YEAR"]).strip() == gjahr for row in rows):
            return None  # the payment's lines are there and no reversal cleared them
        return UNKNOWN

    def find_in_bkpf(self, key: str) -> PostingResult | None:
        """The document whose reference (BKPF-XBLNR) is ``key``, read from BKPF (indexed by company
        code and reference) with RFC_READ_TABLE."""
        found = []
        for row in self.read_table("BKPF", ["BELNR", "GJAHR", "BSTAT", "STBLG", "BUDAT"],
                                   f"BUKRS = '{self.settings.company_code}' AND XBLNR = '{key}'",
                                   action=f"look for the document with reference {key}"):
            if row["BSTAT"].strip() in ("", "L", "U"):  # posted documents; not noted, parked or sample ones
                found.append(row)
        if not found:
            return None
        found.sort(key=lambda r: (bool(r["STBLG"].strip()), r["GJAHR"], r["BELNR"]))
        row = found[0]
        detail = f"BKPF {self.settings.company_code} {row['BELNR'].strip()} {row['GJAHR'].strip()}"
        if row["STBLG"].strip():
            detail += f", reversed by {row['STBLG'].strip()}"
        return PostingResult(key=key, document=document_id(row["BELNR"].strip(), row["GJAHR"].strip()), detail=detail)

    def find_for(self, posting: Posting, rows: list[Any] | None = None) -> PostingResult | None:
        """The document carrying ``posting.key`` among the customer's open items (a residual or an
        amount on account), then among the items cleared on the posting date (a full clearing)."""
        kunnr = alpha_in(posting.customer_id)
        if rows is None:
            rows = self.open_rows(kunnr, action=f"look for the payment with reference {posting.key}")
        for row in rows:
            if (row["REF_DOC_NO"] or "").strip() == posting.key or (row["ALLOC_NMBR"] or "").strip() == posting.key:
                return PostingResult(key=posting.key, document=document_id(row["DOC_NO"].strip(), row["FISC_YEAR"]),
                                     detail="open item")
        today = dt.date.today()
        result = self.rfc.call(GET_BALANCED, f"look for the payment with reference {posting.key}",
                               COMPANYCODE=self.settings.company_code, CUSTOMER=kunnr,
                               DATE_FROM=min(posting.value_date, today).isoformat(),
                               DATE_TO=max(posting.value_date, today).isoformat())
        raise_for_return(result.RETURN, action=f"look for the payment with reference {posting.key}")
        for row in (result.LINEITEMS.item if result.LINEITEMS is not None else []):
            if (row["REF_DOC_NO"] or "").strip() == posting.key or (row["ALLOC_NMBR"] or "").strip() == posting.key:
                return PostingResult(key=posting.key, document=document_id(row["DOC_NO"].strip(), row["FISC_YEAR"]),
                                     detail=f"cleared on {row['CLEAR_DATE']}")
        # A payment that clears another customer's invoice (a head office paying for a branch) puts
        # its customer lines on that customer's account, none on the payer's: only BKPF can say
        # whether it was made. Its errors propagate: "could not ask" must never read as "not there".
        own = {i.item.document for i in self.normalise(rows)}
        if any(a.document not in own for a in posting.applications):
            return self.find_in_bkpf(posting.key)
        return None

    # == posting ========================================================================================
    def posting_steps(self, posting: Posting) -> tuple[str, ...]:
        return ("post",)  # FB05 posts and clears in one document, committed by the wrapper

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        return self.post(posting)

    def find_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult | None:
        if posting.kind is PostingKind.REVERSAL:
            found = self.find_reversal(posting)
            return self.find_in_bkpf(posting.key) if found is UNKNOWN else found  # type: ignore[return-value]
        return self.find_for(posting)

    def log_einvoice_status(self, document: str, cufe: str, status: str, at: dt.datetime) -> None:
        log.info("sap_einvoice_status_not_written", document=document, cufe=cufe, status=status, at=at.isoformat(),
                 reason="no standard RFC function records DIAN status in SAP; the agent's store keeps it")

    def post(self, posting: Posting) -> PostingResult:
        kunnr = alpha_in(posting.customer_id)
        rows = self.open_rows(kunnr, action=f"read the open items of customer {posting.customer_id} "
                                            f"before posting {posting.key}")
        existing = self.find_for(posting, rows)
        if existing is not None:
            # Someone (a restored state store, a second agent) sends a key SAP already holds.
            log.warning("sap_key_already_posted", key=posting.key, document=existing.document)
            return existing.model_copy(update={"detail": "already posted with this key"})
        if posting.applications:
            return self._clear(posting, kunnr, self._items_for(posting, self.normalise(rows)))
        return self._on_account(posting, kunnr)

    def _items_for(self, posting: Posting, items: list[SapItem]) -> list[SapItem]:
        """The payer's open items, plus those of other customers the payment is applied to (a head
        office paying for its branches: FB05 clears several accounts in one document). Their owner
        is looked up in BSID by document number, or by the invoice a residual item refers to."""
        known = {i.item.document for i in items}
        missing = [a.document for a in posting.applications if a.document not in known]
        if not missing:
            return items
        clauses = []
        for document in missing:
            parts = document.split("/")
            if len(parts) == 3 and parts[1].isdigit():
                clauses.append(f"( BELNR = '{parts[0]}' AND GJAHR = '{parts[1]}' ) OR "
                               f"( REBZG = '{parts[0]}' AND REBZJ = '{parts[1]}' )")
        if not clauses:
            return items
        try:
            owners = {row["KUNNR"].strip() for row in self.read_table(
                "BSID", ["KUNNR"], f"BUKRS = '{self.settings.company_code}' AND ( {' OR '.join(clauses)} )",
                action=f"find the customers of documents {', '.join(missing)}")}
        except PermanentError as exc:
            log.warning("sap_document_owner_unknown", documents=missing, error=str(exc))
            return items
        payer = alpha_in(posting.customer_id)
        for owner in sorted(owners - {payer}):
            items = items + self.customer_items(owner, action=f"read the open items of customer {alpha_out(owner)}")
        return items

    def clearing_lines(self, posting: Posting, kunnr: str, items: list[SapItem]) -> tuple[list[dict], list[dict]]:
        """T_FTPOST and T_FTCLEAR for ``posting`` against the customer's open ``items``."""
        s, lines_ = self.settings, self.lines
        cur = posting.currency
        day = posting.value_date.strftime("%Y%m%d")
        header = {"BKPF-BUKRS": s.company_code, "BKPF-BLDAT": day, "BKPF-BUDAT": day, "BKPF-BLART": s.document_type,
                  "BKPF-WAERS": cur, "BKPF-XBLNR": posting.key, "BKPF-BKTXT": (posting.text or "conciliador")[:25]}
        lines: list[dict[str, str]] = [{
            "RF05A-NEWBS": "40", "RF05A-NEWKO": lines_.bank_gl(posting),
            "BSEG-WRBTR": lines_.amount(posting.amount, cur, "the payment"), "BSEG-VALUT": day,
            "BSEG-ZUONR": posting.key, "BSEG-SGTXT": " ".join(p for p in (posting.bank_reference, posting.text) if p)[:50],
        }]
        clear: list[dict[str, str]] = []
        for app, item in lines_.applied(posting, items):
            label = app.reference or app.document
            for d in lines_.deductions(app):
                lines.append({"RF05A-NEWBS": "40" if d.amount > 0 else "50", "RF05A-NEWKO": lines_.gl_for(d.kind, posting),
                              "BSEG-WRBTR": lines_.amount(abs(d.amount), cur, f"the {d.kind} of {label}"),
                              "BSEG-ZUONR": label[:18], "BSEG-SGTXT": d.text[:50]})
            owner = alpha_in(item.item.customer_id)
            residual = item.item.open_amount - app.cleared
            if residual:
                belnr, gjahr, buzei = item.root
                line = {"RF05A-NEWBS": "06" if residual > 0 else "16", "RF05A-NEWKO": owner,
                        "BSEG-WRBTR": lines_.amount(abs(residual), cur, f"the rest of {label}"),
                        # The assignment carries the invoice number the customer quotes: the residual's
                        # own reference (BKPF-XBLNR) is the payment's key.
                        "BSEG-ZUONR": (item.item.reference or item.assignment)[:18],
                        "BSEG-SGTXT": f"Saldo {label}"[:50],
                        "BSEG-REBZG": belnr, "BSEG-REBZJ": gjahr, "BSEG-REBZZ": buzei, "BSEG-REBZT": "V"}
                if item.baseline is not None:
                    line["BSEG-ZFBDT"] = item.baseline.strftime("%Y%m%d")
                    line["BSEG-ZBD3T"] = str(item.net_days)
                lines.append(line)
            clear.append({"AGKOA": "D", "AGKON": owner, "AGBUK": s.company_code, "XNOPS": "X",
                          "SELFD": "BELNR", "SELVON": item.selection})
        if posting.on_account:
            lines.append({"RF05A-NEWBS": "15" if posting.on_account > 0 else "05", "RF05A-NEWKO": kunnr,
                          "BSEG-WRBTR": lines_.amount(abs(posting.on_account), cur, "the amount on account"),
                          "BSEG-ZUONR": posting.key, "BSEG-SGTXT": f"Pago a cuenta {posting.bank_reference}"[:50]})
        ftpost = [{"STYPE": "K", "COUNT": "001", "FNAM": k, "FVAL": v} for k, v in header.items()]
        for n, line in enumerate(lines, start=1):
            ftpost += [{"STYPE": "P", "COUNT": f"{n:03d}", "FNAM": k, "FVAL": v} for k, v in line.items()]
        return ftpost, clear

    def _clear(self, posting: Posting, kunnr: str, items: list[SapItem]) -> PostingResult:
        ftpost, ftclear = self.clearing_lines(posting, kunnr, items)
        action = f"post payment {posting.key} with clearing"
        result = self.rfc.call(self.settings.clearing_function, action, I_AUGLV="EINGZAHL", I_TCODE="FB05",
                               I_SGFUNCT="C", T_FTPOST={"item": ftpost}, T_FTCLEAR={"item": ftclear},
                               T_BLNTAB={"item": []}, RETURN={"item": []})
        returned = list(result.RETURN.item) if result.RETURN is not None else []
        raise_for_return(returned, action=action)
        documents = list(result.T_BLNTAB.item) if result.T_BLNTAB is not None else []
        if not documents:
            detail = "; ".join(message_text(r) for r in returned) or f"E_SUBRC {result.E_SUBRC}"
            subrc = str(result.E_SUBRC or "").strip()
            if subrc not in ("", "0"):
                # FB05 stopped on a screen it had no data for (00 344 and the like): nothing was
                # posted, and sending the same data again would stop at the same screen.
                raise PermanentError(f"SAP's {self.settings.clearing_function} stopped without posting "
                                     f"{posting.key} (E_SUBRC {subrc}): {detail}", erp_message=detail)
            # The wrapper answered without a document: its outcome is unknown, find_posting decides.
            raise RetryableError(f"SAP's {self.settings.clearing_function} returned no document for {posting.key}: "
                                 f"{detail}")
        doc = documents[0]
        return PostingResult(key=posting.key, document=document_id(doc["BELNR"].strip(), doc["GJAHR"]),
                             detail=f"FB05 in company code {doc['BUKRS']}")

    def _on_account(self, posting: Posting, kunnr: str) -> PostingResult:
        s = self.settings
        cur = posting.currency
        day = posting.value_date.isoformat()
        amount = self.lines.amount(posting.amount, cur, "the payment")
        text = " ".join(p for p in (posting.bank_reference, posting.text) if p)[:50]
        action = f"post payment {posting.key} on account"
        result = self.rfc.call(
            s.document_post_function, action,
            DOCUMENTHEADER={"BUS_ACT": "RFBU", "USERNAME": s.user, "HEADER_TXT": (posting.text or "conciliador")[:25],
                            "COMP_CODE": s.company_code, "DOC_DATE": day, "PSTNG_DATE": day,
                            "DOC_TYPE": s.on_account_document_type, "REF_DOC_NO": posting.key},
            ACCOUNTGL={"item": [{"ITEMNO_ACC": "0000000001", "GL_ACCOUNT": self.lines.bank_gl(posting), "ITEM_TEXT": text,
                                 "COMP_CODE": s.company_code, "VALUE_DATE": day, "ALLOC_NMBR": posting.key}]},
            ACCOUNTRECEIVABLE={"item": [{"ITEMNO_ACC": "0000000002", "CUSTOMER": kunnr, "ALLOC_NMBR": posting.key,
                                         "ITEM_TEXT": f"Pago a cuenta {text}"[:50], "COMP_CODE": s.company_code}]},
            CURRENCYAMOUNT={"item": [{"ITEMNO_ACC": "0000000001", "CURRENCY": cur, "AMT_DOCCUR": amount},
                                     {"ITEMNO_ACC": "0000000002", "CURRENCY": cur, "AMT_DOCCUR": f"-{amount}"}]},
            RETURN={"item": []})
        returned = list(result.RETURN.item) if result.RETURN is not None else []
        raise_for_return(returned, action=action)
        obj_key = (result.OBJ_KEY or "").strip()
        if len(obj_key) < 18 or obj_key.startswith("$"):
            raise RetryableError(f"SAP's {s.document_post_function} returned no document number for {posting.key} "
                                 f"(OBJ_KEY {obj_key!r})")
        return PostingResult(key=posting.key, document=document_id(obj_key[:10], obj_key[14:18]),
                             detail=f"BAPI_ACC_DOCUMENT_POST {result.OBJ_TYPE} {obj_key}")

    # == reversal (FBRA) ================================================================================
    def reverse(self, posting: Posting) -> PostingResult:
        """Reset the clearing the payment document made and reverse it, through the customer's
        wrapper (FBRA: ``FI_CLEARING_RESET`` or ``POSTING_INTERFACE_RESET_CLEAR``, then
        ``POSTING_INTERFACE_REVERSE_DOC``), committing in the same call. The reversal carries the
        reversal's own key in XBLNR; it posts today, in the reason code's terms "02" when the
        original's period is another one (SAP's reason 01 reverses in the same period)."""
        # Remembered so that find_posting(key), all the agent asks after a lost answer, can look
        # on the customer's account instead of in BKPF.
        self.reversals[posting.key] = posting
        parts = posting.reverses.split("/")
        if len(parts) != 2 or not parts[1].isdigit():
            raise PermanentError(f"SAP: {posting.reverses!r} is not a document this connector posted "
                                 "(expected BELNR/GJAHR, e.g. 1400000012/2026)")
        today = dt.date.today()
        same_period = (posting.value_date.year, posting.value_date.month) == (today.year, today.month)
        action = f"reverse document {posting.reverses}"
        result = self.rfc.call(self.settings.reverse_function, action, I_BUKRS=self.settings.company_code,
                               I_BELNR=parts[0], I_GJAHR=parts[1], I_BUDAT=today.isoformat(),
                               I_STGRD="01" if same_period else "02", I_XBLNR=posting.key, RETURN={"item": []})
        raise_for_return(list(result.RETURN.item) if result.RETURN is not None else [], action=action)
        belnr = (result.E_BELNR or "").strip()
        if not belnr:
            raise RetryableError(f"SAP's {self.settings.reverse_function} returned no reversal document for "
                                 f"{posting.reverses}")
        return PostingResult(key=posting.key, document=document_id(belnr, str(result.E_GJAHR)),
                             detail=f"reverses {posting.reverses}")

    # == check ================================================================================================
    def check(self) -> list[CheckResult]:
        s = self.settings
        results: list[CheckResult] = []

        def probe(name: str, call, detail) -> Any:
            return run_probe(results, name, call, detail)

        logon = probe(f"SAP logon {s.base_url} client {s.client} user {s.user}", lambda: self.rfc.service(READ_TABLE),
                      lambda _: "WSDL of RFC_READ_TABLE loaded from /sap/bc/soap/wsdl11")
        if logon is None:
            return results  # every other call would fail the same way
        probe(*self.currencies_probe())
        readable = all([probe(name, call, detail) is not None for name, call, detail in self.customer_reader.probes()])
        first = next(iter(self.customer_reader.records()), None) if readable else None
        if first is not None:
            probe(f"SAP open items ({GET_OPEN})", lambda: self.customer_items(first.kunnr, action="check"),
                  lambda items: f"customer {alpha_out(first.kunnr)}: {len(items)} open items")
        if s.open_items_read == "bulk":
            probe("SAP open items of the company code (RFC_READ_TABLE BSID)",
                  lambda: list(self.read_table("BSID", ["BELNR"], f"BUKRS = '{s.company_code}' AND BELNR = '0'",
                                               action="check BSID")), lambda _: "readable")
        probe("SAP document lookup by reference (RFC_READ_TABLE BKPF)", lambda: self.find_in_bkpf("CONCILIADORCHECK"),
              lambda found: "readable" if found is None else f"a document already carries the test reference: "
                                                              f"{found.document}")
        results += self._check_posting()
        return results

    def currencies_probe(self) -> tuple[str, Any, Any]:
        """check(): the decimals SAP keeps for the company code's currency, asked afresh."""
        currency = self.settings.local_currency
        self.currencies.known.pop(currency, None)
        self.currencies.unavailable = None

        def detail(decimals: int) -> str:
            if self.currencies.source.get(currency) == "SAP":
                return f"{currency}: {decimals} decimals (TCURX)"
            return (f"{currency}: {decimals} decimals from the currency_decimals setting; SAP could not be asked: "
                    f"{self.currencies.unavailable}")

        return (f"SAP currency decimals ({GET_DECIMALS})", lambda: self.currencies.read(currency), detail)

    def _check_posting(self) -> list[CheckResult]:
        """Both wrappers in test mode: the user may call them, may post in the company code, the
        period of today is open and every configured G/L account exists (SKB1). Nothing is posted."""
        s = self.settings
        gl = s.gl_accounts
        accounts = {"bank": gl.bank, **{f"bank for {a}": g for a, g in gl.bank_by_account.items()},
                    **{k: getattr(gl, k) for k in ("retefuente", "reteiva", "reteica", "discount", "write_off")
                       if getattr(gl, k)}}
        today = dt.date.today().strftime("%Y%m%d")
        currency = s.local_currency
        one = self.lines.amount(Decimal(1), currency, "the test amount")
        ftpost = [{"STYPE": "K", "COUNT": "001", "FNAM": k, "FVAL": v} for k, v in {
            "BKPF-BUKRS": s.company_code, "BKPF-BLDAT": today, "BKPF-BUDAT": today, "BKPF-BLART": s.document_type,
            "BKPF-WAERS": currency, "BKPF-XBLNR": "CONCILIADORCHECK", "BKPF-BKTXT": "conciliador check"}.items()]
        n = 0
        for account in accounts.values():
            for key in ("40", "50"):
                n += 1
                ftpost += [{"STYPE": "P", "COUNT": f"{n:03d}", "FNAM": f, "FVAL": v} for f, v in
                           {"RF05A-NEWBS": key, "RF05A-NEWKO": account, "BSEG-WRBTR": one}.items()]
        out = []
        name = f"SAP clearing wrapper {s.clearing_function} (test run)"
        try:
            result = self.rfc.call(s.clearing_function, "check the clearing wrapper", I_AUGLV="EINGZAHL",
                                   I_TCODE="FB05", I_TESTRUN="X", T_FTPOST={"item": ftpost},
                                   T_FTCLEAR={"item": []}, T_BLNTAB={"item": []}, RETURN={"item": []})
            errors = errors_in(result.RETURN.item if result.RETURN is not None else [])
            out.append(CheckResult(name=name, ok=not errors, detail="; ".join(message_text(e) for e in errors) or
                                   f"G/L accounts {', '.join(f'{k} {v}' for k, v in accounts.items())} accepted"))
        except (RetryableError, PermanentError) as exc:
            out.append(CheckResult(name=name, ok=False, detail=str(exc)))
        name = f"SAP document post wrapper {s.document_post_function} (test run)"
        day = dt.date.today().isoformat()
        try:
            result = self.rfc.call(
                s.document_post_function, "check the document post wrapper", TESTRUN="X",
                DOCUMENTHEADER={"BUS_ACT": "RFBU", "USERNAME": s.user, "HEADER_TXT": "conciliador check",
                                "COMP_CODE": s.company_code, "DOC_DATE": day, "PSTNG_DATE": day,
                                "DOC_TYPE": s.on_account_document_type, "REF_DOC_NO": "CONCILIADORCHECK"},
                ACCOUNTGL={"item": [{"ITEMNO_ACC": "0000000001", "GL_ACCOUNT": gl.bank, "COMP_CODE": s.company_code},
                                    {"ITEMNO_ACC": "0000000002", "GL_ACCOUNT": gl.bank, "COMP_CODE": s.company_code}]},
                ACCOUNTRECEIVABLE={"item": []},
                CURRENCYAMOUNT={"item": [{"ITEMNO_ACC": "0000000001", "CURRENCY": currency, "AMT_DOCCUR": one},
                                         {"ITEMNO_ACC": "0000000002", "CURRENCY": currency, "AMT_DOCCUR": f"-{one}"}]},
                RETURN={"item": []})
            errors = errors_in(result.RETURN.item if result.RETURN is not None else [])
            out.append(CheckResult(name=name, ok=not errors,
                                   detail="; ".join(message_text(e) for e in errors) or "accepted"))
        except (RetryableError, PermanentError) as exc:
            out.append(CheckResult(name=name, ok=False, detail=str(exc)))
        return out


def _where_lines(where: str) -> list[str]:
    """An Open SQL condition cut into RFC_READ_TABLE's 72-character OPTIONS lines, at blanks."""
    lines, current = [], ""
    for word in where.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) > 72 and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines
