"""The emulator's S/4HANA surface, over the same ledger as the RFC functions:

- OData V2 ``/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/A_OperationalAcctgDocItemCube``: the
  operational journal entry items as a read-only view (``$filter`` with eq/ne/and/or, ``$select``,
  ``$top``/``$skip``, ``$orderby`` by key, server-driven paging with ``__next`` at 5,000 rows, JSON
  in the V2 format with ``/Date(ms)/`` dates and decimals as strings). Property names as in the
  service's metadata (a public client proxy generated from it lists them).
- OData V2 ``/sap/opu/odata/sap/API_BUSINESS_PARTNER``: ``A_Customer``, ``A_CustomerCompany``,
  ``A_BusinessPartner`` and ``A_BusinessPartnerTaxNumber`` over KNA1/KNB1, with the same query
  options and paging; business partners numbered apart from customers (property names and keys
  as in SAP's Cloud SDK client generated from the service's metadata).
- SOAP "Journal Entry - Post (Synchronous)" (``JournalEntryCreateRequestConfirmation_In``) at
  ``/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi``: posts and answers with the document
  or a log of errors (severity 3).
- SOAP "Journal Entry - Clearing (Asynchronous)" (``JournalEntryBulkClearingRequest_In``) at
  ``/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques``: answers 202 at once and clears later,
  in the background; a message ID already processed or queued is refused as a duplicate, a failed
  one lands in :attr:`S4Surface.aif_errors` (SAP's AIF monitor) and may be sent again.

Both WSDLs are served at their endpoint with ``?wsdl`` (what SOAMANAGER offers per binding).
Injectable on the two SOAP services: ``http500``, ``timeout`` (after the work), ``lock`` (post),
``fault`` (a runtime fault instead of the work) and ``fault_after_commit`` (post: the work, then
the fault). SAP reports the clearing's outcome only in :attr:`S4Surface.aif_errors` (the AIF
monitor) or a confirmation it pushes to a receiver of its own: nothing a client can read back.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from lxml import etree

from .ledger import Item, SapMessage
from .predicates import Tokens, boolean

CUBE_SERVICE = "/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV"
CUBE = CUBE_SERVICE + "/A_OperationalAcctgDocItemCube"
POST_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
CLEAR_PATH = "/sap/bc/srt/scs_ext/sap/journalentrybulkclearingreques"
SFIN = "http://sap.com/xi/SAPSCORE/SFIN"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_DIR = Path(__file__).parent / "wsdl"
PAGE = 5000
# What the web service runtime answers when the provider dumps (an ABAP runtime error): a fault
# that says nothing of whether the work was committed. Injected with kind "fault" (before the
# work) or "fault_after_commit" (after it).
RUNTIME_FAULT = "SRT: Processing error in provider: runtime error SYSTEM_CORE_DUMPED (see ST22)"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
KEYS = ("CompanyCode", "FiscalYear", "AccountingDocument", "AccountingDocumentItem")
BP_SERVICE = "/sap/opu/odata/sap/API_BUSINESS_PARTNER"
BP_KEYS = {"A_Customer": ("Customer",), "A_CustomerCompany": ("Customer", "CompanyCode"),
           "A_BusinessPartner": ("BusinessPartner",), "A_BusinessPartnerTaxNumber": ("BusinessPartner", "BPTaxType")}


def _odate(value: dt.date | None) -> str | None:
    if value is None:
        return None
    epoch = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    return f"/Date({int(epoch * 1000)})/"


def net_due_date(i: Item) -> dt.date | None:
    if i.ZFBDT is None:
        return None
    if i.SHKZG == "H" and not i.REBZG:
        return i.ZFBDT
    days = i.ZBD3T or i.ZBD2T or i.ZBD1T
    return i.ZFBDT + dt.timedelta(days=int(days))


def cube_row(i: Item, cleared: bool) -> dict[str, Any]:
    signed = i.WRBTR if i.SHKZG == "S" else -i.WRBTR
    local = i.DMBTR if i.SHKZG == "S" else -i.DMBTR
    return {
        "CompanyCode": i.BUKRS, "FiscalYear": i.GJAHR, "AccountingDocument": i.BELNR,
        "AccountingDocumentItem": i.BUZEI, "ClearingAccountingDocument": i.AUGBL if cleared else "",
        "ClearingDate": _odate(i.AUGDT) if cleared else None, "IsCleared": cleared, "PostingKey": i.BSCHL,
        "FinancialAccountType": "D", "SpecialGLCode": i.UMSKZ, "DebitCreditCode": i.SHKZG,
        "AssignmentReference": i.ZUONR, "DocumentItemText": i.SGTXT, "Customer": i.KUNNR,
        "DueCalculationBaseDate": _odate(i.ZFBDT), "CashDiscount1Days": str(i.ZBD1T), "CashDiscount2Days": str(i.ZBD2T),
        "NetPaymentDays": str(i.ZBD3T), "CashDiscount1Percent": f"{i.ZBD1P:.3f}", "InvoiceReference": i.REBZG,
        "InvoiceReferenceFiscalYear": i.REBZJ, "InvoiceItemReference": i.REBZZ, "FollowOnDocumentType": i.REBZT,
        "PostingDate": _odate(i.BUDAT), "DocumentDate": _odate(i.BLDAT), "AccountingDocumentType": i.BLART,
        "AccountingDocumentCategory": i.BSTAT, "NetDueDate": _odate(net_due_date(i)),
        "TransactionCurrency": i.WAERS, "AmountInTransactionCurrency": f"{signed:.2f}",
        "CompanyCodeCurrency": i.HWAER, "AmountInCompanyCodeCurrency": f"{local:.2f}",
        "TaxAmount": f"{i.WMWST:.2f}", "DocumentReferenceID": i.XBLNR, "Reference3IDByBusinessPartner": i.XREF3,
    }


_TOKEN = re.compile(r"\s*('(?:[^']|'')*'|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S+)")


def odata_filter(text: str):
    """``$filter`` with eq/ne between a property and a string or boolean literal, and/or/()."""
    tokens = Tokens(_TOKEN.findall(text or ""), str.lower, lambda: ValueError(f"incomplete $filter: {text}"))

    def comparison(tokens: Tokens):
        name, op, literal = tokens.take(), tokens.take().lower(), tokens.take()
        if literal.startswith("'"):
            value: Any = literal[1:-1].replace("''", "'")
        elif literal in ("true", "false"):
            value = literal == "true"
        else:
            raise ValueError(f"literal expected in $filter: {text}")
        if op == "eq":
            return lambda r: r.get(name) == value
        if op == "ne":
            return lambda r: r.get(name) != value
        raise ValueError(f"operator {op} is not supported in $filter")

    return boolean(tokens, comparison, words=("or", "and", None),
                   unbalanced=lambda: ValueError(f"unbalanced parentheses in $filter: {text}"),
                   unexpected=lambda t: ValueError(f"unexpected {t!r} in $filter: {text}"))


class S4Surface:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.ledger = emulator.ledger
        self.aif_errors: dict[str, str] = {}
        self.processed: set[str] = set()
        self.queued: set[str] = set()
        self.clearing_delay = 0.05
        self.page_size = PAGE  # server-driven paging: rows per answer before __next
        self.partners: dict[str, str] = {}
        self.requests: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._clearing_worker, name="s4-clearing", daemon=True).start()
        emulator.get_routes[CUBE] = self.read_cube
        for entity in BP_KEYS:
            emulator.get_routes[f"{BP_SERVICE}/{entity}"] = self.read_business_partner(entity)
        emulator.get_routes[POST_PATH] = self.wsdl("JournalEntryCreateRequestConfirmation_In.wsdl", POST_PATH)
        emulator.get_routes[CLEAR_PATH] = self.wsdl("JournalEntryBulkClearingRequest_In.wsdl", CLEAR_PATH)
        emulator.post_routes[POST_PATH] = self.post_journal_entry
        emulator.post_routes[CLEAR_PATH] = self.clearing_request

    # -- OData -------------------------------------------------------------------------------------
    def read_cube(self, handler, url, query, logon) -> None:
        _, user = logon
        if "*" not in user.functions and "API_OPLACCTGDOCITEMCUBE_SRV" not in user.functions:
            body = {"error": {"code": "/IWFND/MED/170", "message": {
                "lang": "en", "value": "No service found for namespace '', name 'API_OPLACCTGDOCITEMCUBE_SRV', "
                                       "version '0001' (or no authorization S_SERVICE)"}}}
            handler._send(403, json.dumps(body).encode(), "application/json")
            return
        first = lambda name, default="": (query.get(name) or [default])[0]  # noqa: E731
        try:
            predicate = odata_filter(first("$filter"))
        except ValueError as exc:
            handler._send(400, json.dumps({"error": {"code": "SY/530", "message": {"lang": "en", "value": str(exc)}}}
                                          ).encode(), "application/json")
            return
        injection = self.emulator.take_injection("API_OPLACCTGDOCITEMCUBE_SRV")
        if injection is not None and injection.kind == "http500":
            handler._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
            return
        if injection is not None and injection.kind == "latency":
            time.sleep(injection.seconds)
        with self.ledger.lock:
            rows = [cube_row(i, i.key in self.ledger.bsad) for i in self._candidates(first("$filter"))]
        self._page(handler, query, rows, CUBE, "API_OPLACCTGDOCITEMCUBE_SRV.A_OperationalAcctgDocItemCubeType", KEYS,
                   predicate)

    def _page(self, handler, query, rows: list[dict[str, Any]], path: str, entity_type: str,
              keys: tuple[str, ...], predicate) -> None:
        """One page of ``rows`` as SAP Gateway answers it: sorted by key, filtered, ``$skip``/
        ``$top``/``$skiptoken``, ``$select``, and ``__next`` when the page (``page_size``) is cut."""
        first = lambda name, default="": (query.get(name) or [default])[0]  # noqa: E731
        rows.sort(key=lambda r: tuple(r[k] for k in keys))
        rows = [r for r in rows if predicate(r)]
        skip = int(first("$skip", "0") or 0) + int(first("$skiptoken", "0") or 0)
        top = first("$top")
        limit = min(int(top), self.page_size) if top else self.page_size
        page = rows[skip: skip + limit]
        select = [s for s in first("$select").split(",") if s]
        url = handler.server.emulator.url
        results = []
        for r in page:
            key = ",".join(f"{k}='{r[k]}'" for k in keys)
            out = {"__metadata": {"id": f"{url}{path}({key})", "uri": f"{url}{path}({key})", "type": entity_type}}
            out.update({k: v for k, v in r.items() if not select or k in select})
            results.append(out)
        d: dict[str, Any] = {"results": results}
        remaining = len(rows) - skip - len(page)
        if remaining > 0 and (not top or int(top) > len(page)):
            params = {k: v[0] for k, v in query.items() if k not in ("$skiptoken", "$skip", "$top")}
            params["$skiptoken"] = str(skip + len(page))
            if top:
                params["$top"] = str(int(top) - len(page))
            d["__next"] = f"{url}{path}?{urlencode(params)}"
        handler._send(200, json.dumps({"d": d}).encode(), "application/json; charset=utf-8")

    # -- OData API_BUSINESS_PARTNER ------------------------------------------------------------------
    def partner(self, kunnr: str) -> str:
        """The business partner of a customer: numbered apart from customers, as a system converted
        to S/4HANA without harmonised number ranges has them, so a reader must join them."""
        if kunnr not in self.partners:
            self.partners[kunnr] = f"{17100000 + len(self.partners):010d}"
        return self.partners[kunnr]

    def _bp_rows(self, entity: str) -> list[dict[str, Any]]:
        ledger = self.ledger
        with ledger.lock:
            customers = sorted(ledger.kna1.items())
            if entity == "A_Customer":
                return [{"Customer": k, "CustomerName": " ".join(p for p in (c.NAME1, c.NAME2) if p),
                         "CustomerFullName": " ".join(p for p in (c.NAME1, c.NAME2) if p),
                         "DeletionIndicator": c.LOEVM == "X", "PostingIsBlocked": c.SPERR == "X",
                         "TaxNumber1": c.STCD1, "TaxNumber2": c.STCD2} for k, c in customers]
            if entity == "A_CustomerCompany":
                return [{"Customer": k, "CompanyCode": b, "DeletionIndicator": False,
                         "PhysicalInventoryBlockInd": False,
                         "ReconciliationAccount": ledger.companies[b].recon_account} for k, b in sorted(ledger.knb1)]
            if entity == "A_BusinessPartner":
                return [{"BusinessPartner": self.partner(k), "Customer": k, "Supplier": "",
                         "BusinessPartnerCategory": "2", "BusinessPartnerFullName": c.NAME1} for k, c in customers]
            rows = []  # A_BusinessPartnerTaxNumber: category = country + the KNA1 field number (CO1 = STCD1)
            for k, c in customers:
                for n, number in ((1, c.STCD1), (2, c.STCD2)):
                    if number:
                        rows.append({"BusinessPartner": self.partner(k), "BPTaxType": f"{c.LAND1}{n}",
                                     "BPTaxNumber": number, "BPTaxLongNumber": "", "AuthorizationGroup": ""})
            return rows

    def read_business_partner(self, entity: str):
        def serve(handler, url, query, logon) -> None:
            _, user = logon
            if "*" not in user.functions and "API_BUSINESS_PARTNER" not in user.functions:
                body = {"error": {"code": "/IWFND/MED/170", "message": {
                    "lang": "en", "value": "No service found for namespace '', name 'API_BUSINESS_PARTNER', "
                                           "version '0001' (or no authorization S_SERVICE)"}}}
                handler._send(403, json.dumps(body).encode(), "application/json")
                return
            first = (query.get("$filter") or [""])[0]
            try:
                predicate = odata_filter(first)
            except ValueError as exc:
                handler._send(400, json.dumps({"error": {"code": "SY/530", "message": {"lang": "en",
                                                                                      "value": str(exc)}}}
                                              ).encode(), "application/json")
                return
            self.requests.append(entity)
            self._page(handler, query, self._bp_rows(entity), f"{BP_SERVICE}/{entity}",
                       f"API_BUSINESS_PARTNER.{entity}Type", BP_KEYS[entity], predicate)
        return serve

    def _candidates(self, text: str) -> list[Item]:
        """The items a filter can match, found through the ledger's indexes when it names a customer,
        a document or a reference (a database would use its indexes the same way)."""
        ledger = self.ledger
        customer = re.search(r"\bCustomer eq '([^']*)'", text)
        if customer:
            return [i for index in (ledger.open_by_customer, ledger.cleared_by_customer)
                    for (_, kunnr), items in index.items() if kunnr == customer.group(1) for i in items.values()]
        document = re.search(r"\bAccountingDocument eq '([^']*)'", text)
        if document:
            return [i for i in (*ledger.bsid.values(), *ledger.bsad.values()) if i.BELNR == document.group(1)]
        reference = re.search(r"\bDocumentReferenceID eq '([^']*)'", text)
        if reference:
            return [i for i in (*ledger.bsid.values(), *ledger.bsad.values()) if i.XBLNR == reference.group(1)]
        if re.search(r"\bIsCleared eq false\b", text):
            return list(ledger.bsid.values())
        return [*ledger.bsid.values(), *ledger.bsad.values()]

    # -- SOAP ----------------------------------------------------------------------------------------
    def wsdl(self, filename: str, path: str):
        def serve(handler, url, query, logon) -> None:
            text = (WSDL_DIR / filename).read_text(encoding="utf-8")
            address = f"http://{self.emulator.advertised_host}{path}"
            handler._send(200, text.replace('location="ADDRESS"', f'location="{address}"').encode())
        return serve

    def _soap_fault(self, handler, text: str, status: int = 500) -> None:
        body = (f'<soap-env:Envelope xmlns:soap-env="{SOAP}"><soap-env:Body><soap-env:Fault>'
                f"<faultcode>soap-env:Client</faultcode><faultstring>{escape(text)}</faultstring>"
                "</soap-env:Fault></soap-env:Body></soap-env:Envelope>")
        handler._send(status, body.encode())

    def _request(self, body: bytes, element: str):
        root = etree.fromstring(body, _PARSER)
        bulk = root.find(f"{{{SOAP}}}Body/{{{SFIN}}}{element}")
        if bulk is None:
            raise ValueError(f"the body holds no {element}")
        return bulk

    def _take(self, handler, body: bytes, logon, service: str, element: str):
        """What the SOAP runtime does before either service runs: the S_SERVICE check, the
        injections that stop the request there (``http500``, ``fault``), reading the body. Returns
        (name, bulk element, injection), or None when it answered already."""
        name, user = logon
        self.requests.append(service)
        if "*" not in user.functions and service not in user.functions:
            self._soap_fault(handler, f"User {name} is not authorized for service {service} "
                                      "(authorization object S_SERVICE)")
            return None
        injection = self.emulator.take_injection(service)
        if injection is not None and injection.kind == "http500":
            handler._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
            return None
        if injection is not None and injection.kind == "fault":
            self._soap_fault(handler, RUNTIME_FAULT)
            return None
        try:
            return name, self._request(body, element), injection
        except (etree.XMLSyntaxError, ValueError) as exc:
            self._soap_fault(handler, f"Request cannot be read: {exc}")
            return None

    def post_journal_entry(self, handler, url, query, body, logon) -> None:
        taken = self._take(handler, body, logon, "JournalEntryCreateRequestConfirmation_In",
                           "JournalEntryBulkCreateRequest")
        if taken is None:
            return
        name, bulk, injection = taken
        confirmations = []
        for request in bulk.findall("JournalEntryCreateRequest"):
            entry = request.find("JournalEntry")
            header = {c.tag: (c.text or "") for c in entry if c.tag not in ("Item", "DebtorItem")}
            gl = [self._line(e) for e in entry.findall("Item")]
            debtors = [self._line(e) for e in entry.findall("DebtorItem")]
            message_id = request.findtext("MessageHeader/ID") or ""
            try:
                if injection is not None and injection.kind == "lock":
                    raise SapMessage("F5", "165", debtors[0]["Debtor"] if debtors else "", header.get("CompanyCode"),
                                     "BATCH_CLEARING")
                for line in (*gl, *debtors):  # S is a debit (positive), H a credit (negative)
                    code = line.get("DebitCreditCode", "")
                    if code and line["amount"] and (code == "S") != (line["amount"] > 0):
                        raise SapMessage("F5", "172", code, line["amount"])
                bukrs, belnr, gjahr = self.ledger.post_journal_entry(header, gl, debtors, user=name)
                log = [("", "1", f"Document {belnr} was posted in company code {bukrs}")]
                doc = (belnr, bukrs, gjahr)
                severity = "1"
            except SapMessage as msg:
                log = [(f"{msg.msgid}({msg.number})", "3", msg.text)]
                doc = ("0000000000", header.get("CompanyCode", ""), "0000")
                severity = "3"
            items = "".join(f"<Item><TypeID>{escape(t)}</TypeID><SeverityCode>{s}</SeverityCode>"
                            f"<Note>{escape(n)}</Note></Item>" for t, s, n in log)
            confirmations.append(
                f"<JournalEntryCreateConfirmation><MessageHeader><ReferenceID>{escape(message_id)}</ReferenceID>"
                f"<CreationDateTime>{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}</CreationDateTime>"
                f"</MessageHeader><JournalEntryCreateConfirmation><AccountingDocument>{doc[0]}</AccountingDocument>"
                f"<CompanyCode>{doc[1]}</CompanyCode><FiscalYear>{doc[2]}</FiscalYear>"
                f"</JournalEntryCreateConfirmation><Log><MaximumSeverityCode>{severity}</MaximumSeverityCode>{items}"
                "</Log></JournalEntryCreateConfirmation>")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        answer = (f'<soap-env:Envelope xmlns:soap-env="{SOAP}"><soap-env:Header/><soap-env:Body>'
                  f'<n0:JournalEntryBulkCreateConfirmation xmlns:n0="{SFIN}"><MessageHeader>'
                  f"<CreationDateTime>{now}</CreationDateTime></MessageHeader>{''.join(confirmations)}"
                  "<Log><MaximumSeverityCode>1</MaximumSeverityCode></Log>"
                  "</n0:JournalEntryBulkCreateConfirmation></soap-env:Body></soap-env:Envelope>")
        if injection is not None and injection.kind == "timeout":
            time.sleep(injection.seconds)
        if injection is not None and injection.kind == "fault_after_commit":
            self._soap_fault(handler, RUNTIME_FAULT)  # posted and committed; the answer is lost
            return
        handler._send(200, answer.encode())

    @staticmethod
    def _line(element) -> dict[str, Any]:
        row = {c.tag: (c.text or "").strip() for c in element}
        amount = element.find("AmountInTransactionCurrency")
        row["amount"] = Decimal(amount.text.strip())
        row["currency"] = amount.get("currencyCode", "")
        return row

    def clearing_request(self, handler, url, query, body, logon) -> None:
        taken = self._take(handler, body, logon, "JournalEntryBulkClearingRequest_In", "JournalEntryBulkClearingRequest")
        if taken is None:
            return
        name, bulk, injection = taken
        for request in bulk.findall("JournalEntryClearingRequest"):
            message_id = request.findtext("MessageHeader/ID") or ""
            with self.ledger.lock:
                if message_id in self.processed or message_id in self.queued:
                    continue  # a duplicate: the same clearing is done or under way
                self.queued.add(message_id)
            entry = request.find("JournalEntry")
            header = {c.tag: (c.text or "") for c in entry if c.tag != "APARItems"}
            keys = [(a.findtext("AccountingDocument") or "", a.findtext("FiscalYear") or "",
                     a.findtext("AccountingDocumentItem") or "",
                     Decimal(a.findtext("PartialPaymentAmtInDspCrcy")) if a.findtext("PartialPaymentAmtInDspCrcy")
                     else None) for a in entry.findall("APARItems")]
            self._queue.put((message_id, header, keys, name))
        if injection is not None and injection.kind == "timeout":
            time.sleep(injection.seconds)
        handler._send(202, b"", "text/xml; charset=utf-8")

    def _clearing_worker(self) -> None:
        while True:
            message_id, header, keys, user = self._queue.get()
            time.sleep(self.clearing_delay)
            try:
                self.ledger.clear_items(header.get("CompanyCode", ""), keys,
                                        budat=dt.date.fromisoformat(header.get("PostingDate", "")), user=user,
                                        blart=header.get("AccountingDocumentType", "AB") or "AB",
                                        xblnr=header.get("ReferenceDocument", "")[:16].upper())
                with self.ledger.lock:
                    self.processed.add(message_id)
                    self.aif_errors.pop(message_id, None)
            except (SapMessage, ValueError) as exc:
                self.aif_errors[message_id] = str(exc)
            finally:
                with self.ledger.lock:
                    self.queued.discard(message_id)

    def idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued clearing ran (tests)."""
        deadline = time.monotonic() + timeout
        while (self.queued or not self._queue.empty()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queued
