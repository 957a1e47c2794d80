"""SAP S/4HANA: open items from OData, payments in two steps (post, then clear), each one
recorded by the agent's outbox so a crash between them resumes at the clearing.

- Reading: ``API_OPLACCTGDOCITEMCUBE_SRV/A_OperationalAcctgDocItemCube`` filtered to the company
  code's customer items not yet cleared, page by page (``__next``). SAP notes the cube "is not
  designed to extract large data volumes": schedule reads accordingly. Customers come from
  ``API_BUSINESS_PARTNER`` (``customer_read = "odata"``), or from KNB1/KNA1 like ECC (S/4 keeps
  them in step with the business partners), see :mod:`.customers`.
- Step ``post``: "Journal Entry - Post (Synchronous)" (``JournalEntryCreateRequestConfirmation_In``):
  the bank line, one G/L line per withholding, discount or write-off, and per applied invoice a
  customer credit line that refers to the invoice (``InvoiceReference``: a partial payment in SAP's
  terms, follow-on type ``Z``), plus what stays on account. ``DocumentReferenceID`` (XBLNR) is the
  posting key.
- Step ``clear``: "Journal Entry - Clearing (Asynchronous)" (``JournalEntryBulkClearingRequest_In``)
  clears every invoice of the payment whose payments now add up to it, with the payment lines that
  refer to it; an invoice paid in part keeps its partial payments linked until the last one.
  The API clears only (no bank line, no residual items: SAP's guidelines for the API), and it
  answers later: the connector waits up to ``s4.clearing_wait_seconds`` for the clearing to show in
  OData, else leaves the step to be looked up again. ``MessageHeader/ID`` (key + "CLR") lets SAP
  refuse a duplicate while the first one is under way.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import requests
import structlog
import zeep
import zeep.exceptions

from conciliador import CheckResult, OpenItem, PermanentError, Posting, PostingKind, PostingResult, RetryableError

from .currency import GET_DECIMALS
from .ecc import EccBackend, run_probe
from .errors import LOCK_WORDING
from .odata import entities
from .normalise import SapItem, alpha_in, alpha_out, document_id, number, to_sap_item, unapplied_payment

log = structlog.get_logger(__name__)

CUBE_FIELDS = (
    "CompanyCode", "FiscalYear", "AccountingDocument", "AccountingDocumentItem", "Customer", "SpecialGLCode",
    "DebitCreditCode", "AmountInTransactionCurrency", "TransactionCurrency", "DocumentReferenceID",
    "AssignmentReference", "PostingDate", "DocumentDate", "DueCalculationBaseDate", "NetPaymentDays",
    "CashDiscount1Days", "CashDiscount2Days", "CashDiscount1Percent", "InvoiceReference",
    "InvoiceReferenceFiscalYear", "InvoiceItemReference", "FollowOnDocumentType", "AccountingDocumentType",
    "AccountingDocumentCategory", "TaxAmount", "IsCleared", "ClearingAccountingDocument",
    "Reference3IDByBusinessPartner",
)
_ODATA_DATE = re.compile(r"/Date\((-?\d+)\)/")
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$")
# SOAP faults SAP's web service runtime raises before the service runs: the user may not call it,
# or the message cannot be read. Nothing was posted and the same message meets the same fault.
PRE_COMMIT_FAULTS = re.compile(r"RFC_AUTHORIZATION_FAILURE|S_SERVICE|not authori[sz]ed|no authori[sz]ation|"
                               r"cannot be read|de-?seriali[sz]ation|ST_MATCH_FAIL|CX_ST_|schema", re.IGNORECASE)
UNKNOWN_FAULT_ATTEMPTS = 3  # sends of one posting step answered with an unexplained fault, then finance


def stamped(detail: str) -> str:
    """A step's detail with the time the agent learned of the document (the clearing's give-up clock)."""
    return f"{detail}, {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def stamp_of(detail: str) -> dt.datetime | None:
    match = _STAMP.search(detail or "")
    return dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) if match else None


def odata_date(value: Any) -> dt.date | None:
    match = _ODATA_DATE.fullmatch(value or "")
    if not match:
        return None
    return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.UTC).date()


def as_bapi(row: Mapping[str, Any]) -> dict[str, Any]:
    """A cube row under BAPI3007_2's names, so one normalisation serves ECC and S/4HANA."""
    return {
        "DOC_NO": row["AccountingDocument"], "FISC_YEAR": row["FiscalYear"], "ITEM_NUM": row["AccountingDocumentItem"],
        "CUSTOMER": row["Customer"], "SP_GL_IND": row["SpecialGLCode"], "DB_CR_IND": row["DebitCreditCode"],
        "AMT_DOCCUR": abs(number(row["AmountInTransactionCurrency"])), "CURRENCY": row["TransactionCurrency"],
        "REF_DOC_NO": row["DocumentReferenceID"], "ALLOC_NMBR": row["AssignmentReference"],
        "DOC_DATE": odata_date(row["DocumentDate"]), "BLINE_DATE": odata_date(row["DueCalculationBaseDate"]),
        "NETTERMS": row["NetPaymentDays"], "DSCT_DAYS1": row["CashDiscount1Days"],
        "DSCT_DAYS2": row["CashDiscount2Days"], "DSCT_PCT1": row["CashDiscount1Percent"],
        "INV_REF": row["InvoiceReference"], "INV_YEAR": row["InvoiceReferenceFiscalYear"],
        "INV_ITEM": row["InvoiceItemReference"], "NXT_DOCTYP": row["FollowOnDocumentType"],
        "DOC_TYPE": row["AccountingDocumentType"], "DOC_STATUS": row["AccountingDocumentCategory"],
        "TX_DOC_CUR": row["TaxAmount"], "REF_KEY_3": row.get("Reference3IDByBusinessPartner") or "",
        "CLEARED": bool(row.get("IsCleared")),
    }


class S4Backend(EccBackend):
    def __init__(self, settings, company: str) -> None:  # noqa: ANN001 - SapSettings, as EccBackend
        super().__init__(settings, company)
        self.clearing_sends: dict[str, tuple[int, dt.datetime]] = {}  # key -> (requests sent, first send)
        self.unknown_faults: dict[tuple[str, str], list[str]] = {}  # (key, operation) -> unexplained faults

    # == reading ======================================================================================
    def odata(self, filter_: str, *, action: str, select: Iterable[str] = CUBE_FIELDS) -> Iterator[dict[str, Any]]:
        params = {"$filter": filter_, "$select": ",".join(select),
                  "$orderby": "CompanyCode,FiscalYear,AccountingDocument,AccountingDocumentItem"}
        return entities(self.rfc, f"{self.settings.s4.open_items_service}/A_OperationalAcctgDocItemCube", params,
                        action=action)

    def s4_rows(self, filter_: str, *, action: str) -> list[dict[str, Any]]:
        return [as_bapi(r) for r in self.odata(filter_, action=action)]

    def normalise(self, rows: Iterable[Mapping[str, Any]]) -> list[SapItem]:
        """As for ECC, and partial payments (credit lines referring to an invoice, follow-on type
        ``Z``) are netted into the invoice they pay: it stays one document, open for the rest."""
        rows = list(rows)
        items = {}
        partials: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        decimals = self.currencies.of_rows({(r["CURRENCY"] or "").strip() for r in rows})
        for row in rows:
            item = to_sap_item(row, decimals)
            if (row["NXT_DOCTYP"] or "") == "Z" and row["INV_REF"]:
                root = (row["INV_REF"], row["INV_YEAR"], str(row["INV_ITEM"]).zfill(3))
                partials[root] += item.item.open_amount
                continue
            items[(item.belnr, item.gjahr, item.buzei)] = (row, item)
        kept = []
        for root, amount in partials.items():
            if root in items:
                row, item = items[root]
                items[root] = (row, SapItem(item.item.model_copy(update={"open_amount": item.item.open_amount + amount}),
                                            *_rest(item)))
        allowed = set(self.settings.special_gl_indicators)
        for row, item in items.values():
            if (row["SP_GL_IND"] or "") and row["SP_GL_IND"] not in allowed:
                continue
            if (row["DOC_STATUS"] or "") == "S":
                continue
            if unapplied_payment(row, self.payment_types):
                continue  # money received, not applied: nothing to pay against (a residual item is kept)
            kept.append(item)
        return kept

    def open_items(self) -> Iterator[OpenItem]:
        rows = self.s4_rows(f"CompanyCode eq '{self.settings.company_code}' and FinancialAccountType eq 'D' and "
                            "IsCleared eq false", action="read the open items of the company code")
        for item in self.normalise(rows):
            yield item.item

    def customer_rows(self, kunnr: str, *, action: str) -> list[dict[str, Any]]:
        return self.s4_rows(f"CompanyCode eq '{self.settings.company_code}' and Customer eq '{kunnr}' and "
                            "FinancialAccountType eq 'D' and IsCleared eq false", action=action)

    def customer_items(self, kunnr: str, *, action: str) -> list[SapItem]:
        return self.normalise(self.customer_rows(kunnr, action=action))

    # == finding ==========================================================================================
    def find_posting(self, key: str) -> PostingResult | None:
        # The clearing document carries the key too (ReferenceDocument): the journal entry is the
        # one of the payment document type.
        rows = list(self.odata(f"CompanyCode eq '{self.settings.company_code}' and DocumentReferenceID eq '{key}' "
                               f"and AccountingDocumentType eq '{self.settings.document_type}'",
                               action=f"look for the document with reference {key}",
                               select=("AccountingDocument", "FiscalYear", "AccountingDocumentItem")))
        if not rows:
            return None
        row = rows[0]
        return PostingResult(key=key, document=document_id(row["AccountingDocument"], row["FiscalYear"]),
                             detail=stamped("journal entry"))

    def find_for(self, posting: Posting, rows: list[Any] | None = None) -> PostingResult | None:
        return self.find_posting(posting.key)

    # == posting in two steps =================================================================================
    def posting_steps(self, posting: Posting) -> tuple[str, ...]:
        return ("post", "clear") if posting.applications else ("post",)

    def post(self, posting: Posting) -> PostingResult:
        done: dict[str, PostingResult] = {}
        for step in self.posting_steps(posting):
            done[step] = self.find_step(posting, step, done) or self.post_step(posting, step, done)
        return done[self.posting_steps(posting)[-1]]

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        if step == "post":
            existing = self.find_posting(posting.key)
            if existing is not None:
                return existing.model_copy(update={"detail": stamped("already posted with this key")})
            return self._journal_entry(posting)
        if step == "clear":
            return self._clear_invoices(posting, done["post"])
        raise PermanentError(f"SAP S/4HANA connector has no posting step {step!r}")

    def _soap(self, path: str) -> Any:
        proxy = self.rfc.proxies.get(path)
        if proxy is None:
            url = f"{self.settings.base_url}{path}"
            self.rfc.guard_logon()
            try:
                client = zeep.Client(f"{url}?wsdl", transport=self.rfc.transport, settings=self.rfc.zeep_settings)
            except requests.HTTPError as exc:
                response = exc.response
                raise self.rfc.http_error(response.status_code if response is not None else 0,
                                           response.content if response is not None else b"",
                                           f"the WSDL of {path}") from None
            except requests.RequestException as exc:
                raise self.rfc.transport_error(exc, f"the WSDL of {path}") from None
            proxy = client.create_service(next(iter(client.wsdl.bindings)), url)
            self.rfc.proxies[path] = proxy
        return proxy

    def _call(self, path: str, operation: str, action: str, *, key: str, standing: str = "", **params: Any) -> Any:
        """Send one posting message. A SOAP fault the runtime raises before the service runs (no
        authority, a message it cannot read) is final. Any other fault leaves the outcome unknown:
        retryable, so the agent looks the step up before sending again; after
        ``UNKNOWN_FAULT_ATTEMPTS`` such faults in a row, each followed by a lookup that found
        nothing, the same fault is SAP's answer and goes to finance. ``standing`` says what the
        posting already left in SAP, for that message."""
        proxy = self._soap(path)
        faults = self.unknown_faults.get((key, operation), [])
        if len(faults) >= UNKNOWN_FAULT_ATTEMPTS:
            text = faults[-1]
            raise PermanentError(
                f"{standing}SAP answered {operation} ({action}) with a SOAP fault {len(faults)} times, and the "
                f"agent found nothing posted after each: {text}. Ask the SAP team what the fault means "
                "(SRT_UTIL, the error log of the web service runtime)", erp_message=None)
        try:
            result = getattr(proxy, operation)(**params)
        except zeep.exceptions.Fault as fault:
            text = fault.message or ""
            if isinstance(fault.detail, (bytes, str)) or not text:
                raise self.rfc.http_error(500, fault.detail or text, f"{operation} ({action})") from None
            if PRE_COMMIT_FAULTS.search(text):
                raise PermanentError(f"{standing}SAP's {operation} refused to {action}: {text}",
                                     erp_message=text) from None
            self.unknown_faults[(key, operation)] = [*faults, text]
            raise RetryableError(f"SAP answered {operation} ({action}) with a SOAP fault that does not say whether "
                                 f"it was done: {text}; the agent looks it up before sending again",
                                 erp_message=text) from None
        except zeep.exceptions.TransportError as exc:
            raise self.rfc.http_error(exc.status_code, exc.content, f"{operation} ({action})") from None
        except requests.RequestException as exc:
            raise self.rfc.transport_error(exc, f"{operation} ({action})") from None
        except (zeep.exceptions.Error, ValueError) as exc:
            raise RetryableError(f"SAP's answer to {operation} ({action}) could not be read: {exc}") from None
        self.unknown_faults.pop((key, operation), None)
        return result

    def _journal_entry(self, posting: Posting) -> PostingResult:
        s = self.settings
        cur = posting.currency
        kunnr = alpha_in(posting.customer_id)
        items = self._items_for(posting, self.customer_items(kunnr, action=f"read the open items of customer "
                                                                            f"{posting.customer_id}"))

        def amount(value: Decimal, what: str) -> dict[str, Any]:
            return {"_value_1": Decimal(self.lines.amount(value, cur, what)), "currencyCode": cur}

        gl = [{"GLAccount": self.lines.bank_gl(posting), "AmountInTransactionCurrency": amount(posting.amount, "the payment"),
               "DebitCreditCode": "S", "AssignmentReference": posting.key, "ValueDate": posting.value_date,
               "DocumentItemText": " ".join(p for p in (posting.bank_reference, posting.text) if p)[:50]}]
        debtors = []
        for app, item in self.lines.applied(posting, items):
            label = app.reference or app.document
            for d in self.lines.deductions(app):
                gl.append({"GLAccount": self.lines.gl_for(d.kind, posting), "DebitCreditCode": "S" if d.amount > 0 else "H",
                           "AmountInTransactionCurrency": amount(d.amount, f"the {d.kind} of {label}"),
                           "AssignmentReference": label[:18], "DocumentItemText": d.text[:50]})
            # Reference key 3 names the invoice the line pays: the clearing step pairs them by it.
            # A credit memo the payment nets is cleared with a debit: the code follows the sign.
            debtors.append({"Debtor": alpha_in(item.item.customer_id), "DebitCreditCode": "H" if app.cleared > 0 else "S",
                            "AmountInTransactionCurrency": amount(-app.cleared, f"the payment of {label}"),
                            "AssignmentReference": (item.item.reference or item.assignment)[:18],
                            "DocumentItemText": f"Pago {label}"[:50],
                            "Reference3IDByBusinessPartner": app.document})
        on_account = self.lines.on_account(posting)
        if on_account:
            debtors.append({"Debtor": kunnr, "DebitCreditCode": "H" if on_account > 0 else "S",
                            "AmountInTransactionCurrency": amount(-on_account, "the amount on account"),
                            "AssignmentReference": posting.key,
                            "DocumentItemText": f"Pago a cuenta {posting.bank_reference}"[:50]})
        for n, line in enumerate(gl + debtors, start=1):
            line["ReferenceDocumentItem"] = str(n)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        action = f"post payment {posting.key}"
        result = self._call(
            s.s4.journal_entry_post_path, "JournalEntryCreateRequestConfirmation_In", action, key=posting.key,
            MessageHeader={"ID": posting.key, "CreationDateTime": now},
            JournalEntryCreateRequest=[{
                "MessageHeader": {"ID": posting.key, "CreationDateTime": now},
                "JournalEntry": {
                    "OriginalReferenceDocumentType": "BKPFF", "BusinessTransactionType": "RFBU",
                    "AccountingDocumentType": s.document_type, "DocumentReferenceID": posting.key,
                    "DocumentHeaderText": (posting.text or "conciliador")[:25], "CreatedByUser": s.user,
                    "CompanyCode": s.company_code, "DocumentDate": posting.value_date,
                    "PostingDate": posting.value_date, "Item": gl, "DebtorItem": debtors}}])
        [confirmation] = result.JournalEntryCreateConfirmation
        logged = list(confirmation.Log.Item or []) if confirmation.Log is not None else []
        errors = [i for i in logged if (i.SeverityCode or "") in ("3", "4")]
        if errors or (confirmation.Log is not None and (confirmation.Log.MaximumSeverityCode or "") in ("3", "4")):
            erp_message = "; ".join(f"{i.Note} ({i.TypeID})" if i.TypeID else i.Note for i in errors) or "error"
            if any(LOCK_WORDING.search(i.Note or "") for i in errors):
                raise RetryableError(f"SAP: {action} waits for a lock: {erp_message}", erp_message=erp_message)
            raise PermanentError(f"SAP refused to {action}: {erp_message}", erp_message=erp_message)
        entry = confirmation.JournalEntryCreateConfirmation
        belnr = (entry.AccountingDocument or "").strip()
        if not belnr or set(belnr) == {"0"}:
            raise RetryableError(f"SAP confirmed {action} without a document number")
        return PostingResult(key=posting.key, document=document_id(belnr, entry.FiscalYear),
                             detail=stamped("Journal Entry - Post"))

    def _payment_lines(self, posting: Posting, payment: PostingResult) -> tuple[list[dict[str, Any]], list[str]]:
        """The payment's customer lines that pay an invoice (reference key 3 names it), and the
        applications none of them names: the journal entry has one such line per application, so a
        missing one means SAP does not return the field (or lost it), and nothing can be paired."""
        belnr, gjahr = payment.document.split("/")
        rows = self.s4_rows(f"CompanyCode eq '{self.settings.company_code}' and AccountingDocument eq '{belnr}' and "
                            f"FiscalYear eq '{gjahr}' and FinancialAccountType eq 'D'",
                            action=f"read the lines of payment {payment.document}")
        lines = [r for r in rows if r["REF_KEY_3"]]
        missing = Counter(a.document for a in posting.applications) - Counter(r["REF_KEY_3"] for r in lines)
        return lines, sorted(missing.elements())

    def find_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult | None:
        if step == "post" or posting.kind is PostingKind.REVERSAL:
            return self.find_posting(posting.key)
        payment = done["post"]
        lines, missing = self._payment_lines(posting, payment)
        # Cleared only when every application's line shows cleared. With lines missing nothing can
        # be confirmed: None, and the clearing step itself says why it cannot clear.
        if missing or not lines or not all(line["CLEARED"] for line in lines):
            return None
        return PostingResult(key=posting.key, document=payment.document, detail="cleared")

    def _clear_invoices(self, posting: Posting, payment: PostingResult) -> PostingResult:
        """Clear each invoice against the payment line that pays it: in full (with the partial
        payments made before) when they add up, else as a partial payment that stays linked."""
        s = self.settings
        lines, missing = self._payment_lines(posting, payment)
        if missing:
            raise PermanentError(
                f"SAP S/4HANA: journal entry {payment.document} is posted, but SAP returns no customer line of it "
                f"naming {', '.join(missing)} in Reference3IDByBusinessPartner "
                f"({len(posting.applications) - len(missing)} of {len(posting.applications)} found), so the connector "
                "cannot tell which line pays which invoice "
                "and clears none. The payment stays on the customer's account: clear the invoices against it in SAP "
                "(app 'Clear Incoming Payments', F-32). Ask the SAP team whether the OData service "
                "API_OPLACCTGDOCITEMCUBE_SRV of this release returns Reference3IDByBusinessPartner")
        pending = [line for line in lines if not line["CLEARED"]]
        if not pending:
            return PostingResult(key=posting.key, document=payment.document, detail="cleared")
        apar: list[dict[str, Any]] = []
        open_rows: dict[str, list[dict[str, Any]]] = {}
        for line in pending:
            customer = line["CUSTOMER"]
            if customer not in open_rows:
                open_rows[customer] = self.customer_rows(customer, action=f"read the open items of customer "
                                                                          f"{alpha_out(customer)}")
            document = line["REF_KEY_3"]
            root = tuple(document.split("/"))
            group = [r for r in open_rows[customer] if _key(r) == root or _invoice_of(r) == root]
            invoice = [r for r in group if _key(r) == root]
            if not invoice:
                raise PermanentError(f"SAP: invoice {document} is no longer open, so payment {payment.document} "
                                     f"cannot clear it; the amount stays on customer {alpha_out(customer)}'s account "
                                     "in SAP for finance to apply")
            paid = _signed(line)
            owed = sum((_signed(r) for r in group), Decimal(0))
            if owed + paid == 0:
                apar += [_apar(r, s.company_code) for r in group]
            elif owed * paid < 0 and abs(paid) < abs(owed):
                apar.append({**_apar(invoice[0], s.company_code),
                             "PartialPaymentAmtInDspCrcy": {"_value_1": abs(paid), "currencyCode": posting.currency}})
            else:
                raise PermanentError(f"SAP: payment {payment.document} pays {abs(paid)} {posting.currency} on invoice "
                                     f"{document}, which is open for {owed} {posting.currency}")
            apar.append(_apar(line, s.company_code))
        for n, item in enumerate(apar, start=1):
            item["ReferenceDocumentItem"] = str(n)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        message_id = f"{posting.key}CLR"
        action = f"clear the invoices paid by {posting.key}"
        self._give_up_clearing(posting, payment, message_id, pending)
        standing = f"SAP S/4HANA: journal entry {payment.document} is posted; the clearing of its invoices is not. "
        self._call(s.s4.journal_entry_clearing_path, "JournalEntryBulkClearingRequest_In", action, key=posting.key,
                   standing=standing, MessageHeader={"ID": message_id, "CreationDateTime": now},
                   JournalEntryClearingRequest=[{
                       "MessageHeader": {"ID": message_id, "CreationDateTime": now},
                       "JournalEntry": {
                           "CompanyCode": s.company_code, "AccountingDocumentType": "AB",
                           "DocumentDate": posting.value_date, "PostingDate": posting.value_date,
                           "CurrencyCode": posting.currency, "DocumentHeaderText": (posting.text or "conciliador")[:25],
                           "ReferenceDocument": posting.key, "CreatedByUser": s.user, "APARItems": apar}}])
        # Counted once SAP took the request: one that never reached it (the SOAP runtime down, the
        # connection refused) is not a clearing SAP refused.
        sent, first = self.clearing_sends.get(posting.key, (0, dt.datetime.now(dt.UTC)))
        self.clearing_sends[posting.key] = (sent + 1, first)
        # Asynchronous: SAP took the request; wait for the clearing to show.
        deadline = time.monotonic() + s.s4.clearing_wait_seconds
        while True:
            found = self.find_step(posting, "clear", {"post": payment})
            if found is not None:
                return found.model_copy(update={"detail": f"cleared (JournalEntryBulkClearingRequest {message_id})"})
            if time.monotonic() >= deadline:
                raise RetryableError(
                    f"SAP accepted the clearing {message_id} but it has not shown after {s.s4.clearing_wait_seconds:g} s; "
                    "it is looked for again before anything is re-sent. If it failed, its reason is in SAP's AIF "
                    "monitor (/AIF/ERR)")
            time.sleep(min(0.2, max(s.s4.clearing_wait_seconds / 20, 0.02)))

    def _give_up_clearing(self, posting: Posting, payment: PostingResult, message_id: str,
                          pending: list[dict[str, Any]]) -> None:
        """Refuse to send another clearing request when enough went unanswered: SAP reports a clearing it refused
        only in its AIF monitor (or a confirmation pushed to a receiver of its own), nothing a
        client can ask. Each request so far was followed by a lookup that did not find the lines
        cleared; after ``s4.clearing_attempts`` of them, and ``s4.clearing_give_up_seconds`` after
        the journal entry, the next is refused and the posting goes to finance, the journal entry
        standing. The count lives as long as the connector (a restart sends a few more: harmless,
        SAP drops a message ID it already cleared); the clock starts at the journal entry, which
        the agent keeps with the first step."""
        s4 = self.settings.s4
        now = dt.datetime.now(dt.UTC)
        sent, first = self.clearing_sends.get(posting.key, (0, now))
        since = stamp_of(payment.detail) or first
        waited = (now - since).total_seconds()
        if sent >= s4.clearing_attempts and waited >= s4.clearing_give_up_seconds:
            invoices = ", ".join(sorted({line["REF_KEY_3"] for line in pending}))
            customers = ", ".join(sorted({alpha_out(line["CUSTOMER"]) for line in pending}))
            raise PermanentError(
                f"SAP S/4HANA: journal entry {payment.document} is posted (payment {posting.key}), but the clearing "
                f"of {invoices} did not happen: SAP took clearing request {message_id} {sent} times and never showed "
                f"the invoices cleared ({waited / 60:.0f} min since the journal entry). SAP keeps its reason in the "
                f"AIF monitor (/AIF/ERR, message {message_id}), for instance a posting period closed after the journal "
                f"entry (F5 201). The money stays on customer {customers}'s account in SAP: clear the invoices "
                "against it there (app 'Clear Incoming Payments', F-32), or fix the cause and restart the message in "
                "/AIF/ERR. The agent does not send this clearing again")

    # == check ================================================================================================
    def check(self) -> list[CheckResult]:
        s = self.settings
        results: list[CheckResult] = []

        def probe(name: str, call, detail) -> Any:
            return run_probe(results, name, call, detail)

        first = probe(f"SAP OData {s.s4.open_items_service} as {s.user} (client {s.client})",
                      lambda: next(iter(self.odata(f"CompanyCode eq '{s.company_code}' and AccountingDocument eq '0'",
                                                   action="check the open items service")), None),
                      lambda _: "readable")
        if first is None and results and not results[-1].ok:
            return results
        for name, call, detail in self.customer_reader.probes():
            probe(name, call, detail)
        results.append(self._decimals_check())
        probe("SAP Journal Entry - Post (JournalEntryCreateRequestConfirmation_In)",
              lambda: self._soap(s.s4.journal_entry_post_path), lambda _: "WSDL loaded")
        probe("SAP Journal Entry - Clearing (JournalEntryBulkClearingRequest_In)",
              lambda: self._soap(s.s4.journal_entry_clearing_path), lambda _: "WSDL loaded")
        return results

    def _decimals_check(self) -> CheckResult:
        """The decimals of the company code's currency. S/4HANA's APIs take and give external
        amounts, so without them the connector only skips its own check of a posting's decimals."""
        currency = self.settings.local_currency
        self.currencies.known.pop(currency, None)
        self.currencies.unavailable = None
        decimals = self.currencies.get(currency)
        name = f"SAP currency decimals ({GET_DECIMALS})"
        if decimals is None:
            why = self.currencies.unavailable or "SAP did not answer"
            return CheckResult(name=name, ok=True,
                               detail=f"{currency}: unknown ({why}); amounts go as they are and SAP checks their decimals")
        source = "TCURX" if self.currencies.source.get(currency) == "SAP" else "currency_decimals setting"
        return CheckResult(name=name, ok=True, detail=f"{currency}: {decimals} decimals ({source})")

    def reverse(self, posting: Posting) -> PostingResult:
        raise PermanentError(f"SAP S/4HANA: reversing {posting.reverses} is not done by this connector (the SOAP "
                             "APIs it uses cannot reset a clearing); reset and reverse it with the app "
                             "'Reset Cleared Items' (FBRA) and tell the agent it is done")


def _key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (row["DOC_NO"], str(row["FISC_YEAR"]), str(row["ITEM_NUM"]).zfill(3))


def _invoice_of(row: Mapping[str, Any]) -> tuple[str, str, str] | None:
    if (row["NXT_DOCTYP"] or "") != "Z" or not row["INV_REF"]:
        return None
    return (row["INV_REF"], str(row["INV_YEAR"]), str(row["INV_ITEM"]).zfill(3))


def _signed(row: Mapping[str, Any]) -> Decimal:
    return number(row["AMT_DOCCUR"]) * (1 if row["DB_CR_IND"] == "S" else -1)


def _apar(row: Mapping[str, Any], company_code: str) -> dict[str, Any]:
    return {"CompanyCode": company_code, "AccountType": "D", "APARAccount": row["CUSTOMER"],
            "FiscalYear": row["FISC_YEAR"], "AccountingDocument": row["DOC_NO"],
            "AccountingDocumentItem": row["ITEM_NUM"]}


def _rest(item: SapItem) -> tuple:
    return (item.belnr, item.gjahr, item.buzei, item.root, item.assignment, item.baseline, item.net_days, item.xblnr)

