"""``sap``: SAP ECC and S/4HANA, over SOAP (``/sap/bc/soap/rfc``, zeep) and, for S/4HANA, OData.

One conciliador company is one SAP company code (``BUKRS``). Two back ends, chosen with
``backend``:

- ``ecc_soap`` (ECC, and S/4HANA on premise with the same RFC functions): customers from KNB1/KNA1
  with ``RFC_READ_TABLE``, or through the customer's ``Z_CONCILIADOR_CUSTOMERS`` where that is
  forbidden (``customer_read = "function"``); open items with ``BAPI_AR_ACC_GETOPENITEMS`` per customer, or the whole
  company code from BSID in pages (``open_items_read = "bulk"``); applied payments posted with
  clearing (FB05) through the customer's wrapper around ``POSTING_INTERFACE_CLEARING``, payments on
  account through ``BAPI_ACC_DOCUMENT_POST`` in the customer's committing wrapper.
- ``s4_odata``: open items from ``API_OPLACCTGDOCITEMCUBE_SRV``, customers from
  ``API_BUSINESS_PARTNER`` with ``customer_read = "odata"``; an applied payment in two steps,
  "Journal Entry - Post" then ``JournalEntryBulkClearingRequest_In``, each recorded by the agent so a
  crash between them resumes at the clearing.

The posting key travels in ``XBLNR`` (16 characters, upper case) and ``ZUONR``; ``find_posting``
looks it up before anything is sent again. docs/sap.md is the guide for IT and the SAP team.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping

from conciliador import (
    CheckResult,
    Customer,
    ErpConnector,
    OpenItem,
    Posting,
    PostingResult,
    hookimpl,
)

from .settings import SapSettings

CONCILIADOR_PLUGIN_API = "1"

__all__ = ["SapErp", "SapSettings"]


class SapErp(ErpConnector):
    name = "sap"
    Settings = SapSettings

    settings: SapSettings

    def __init__(self, settings: SapSettings, *, company: str) -> None:
        super().__init__(settings, company=company)
        self.in_doubt_seconds = settings.in_doubt_seconds
        # zeep and the back ends load only when a company uses SAP, not each time the agent starts.
        if settings.backend == "s4_odata":
            from .s4 import S4Backend

            self.backend = S4Backend(settings, company)
        else:
            from .ecc import EccBackend

            self.backend = EccBackend(settings, company)

    def check(self) -> Iterable[CheckResult]:
        return self.backend.check()

    def customers(self) -> Iterator[Customer]:
        return self.backend.customers()

    def open_items(self, since: dt.datetime | None = None) -> Iterator[OpenItem]:
        # Neither the BAPI nor BSID can say what changed since a time (a clearing removes items
        # without a trace in BSID): every read is complete.
        return self.backend.open_items()

    def post(self, posting: Posting) -> PostingResult:
        return self.backend.post(posting)

    def find_posting(self, key: str) -> PostingResult | None:
        return self.backend.find_posting(key)

    # Multi-step postings (plugin API with posting steps): S/4HANA posts, then clears.
    def posting_steps(self, posting: Posting) -> tuple[str, ...]:
        return self.backend.posting_steps(posting)

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        return self.backend.post_step(posting, step, done)

    def find_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult | None:
        return self.backend.find_step(posting, step, done)

    def reverse(self, posting: Posting) -> PostingResult:
        return self.backend.reverse(posting)

    def post_einvoice_status(self, document: str, cufe: str, status: str, at: dt.datetime) -> None:
        # SAP keeps DIAN's status in the e-document cockpit (EDOCUMENT) or a customer table, which no
        # standard RFC function writes; the agent's store and reports keep it instead.
        self.backend.log_einvoice_status(document, cufe, status, at)

    def close(self) -> None:
        self.backend.close()


@hookimpl
def conciliador_erp_connectors() -> list[type[ErpConnector]]:
    return [SapErp]
