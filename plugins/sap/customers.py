"""The customers of the company code (number, name, tax id), read the way the SAP team allows
(``customer_read``):

- ``rfc_read_table``: KNB1 (who is in the company code) and KNA1 (name, tax id) with
  ``RFC_READ_TABLE``. SAP does not release that function for customer use (note 382318) and many
  security teams forbid it, or ``S_TABU_DIS`` for the customer tables (group ``&NC&``).
- ``function``: the customer's remote-enabled ``Z_CONCILIADOR_CUSTOMERS`` (docs/sap.md gives its
  interface), one call per ``page_size`` customers, paged by customer number (``FROM_CUSTOMER``),
  which stays stable while customers are created, unlike ``ROWSKIPS``.
- ``odata`` (S/4HANA): ``API_BUSINESS_PARTNER``: ``A_CustomerCompany`` (KNB1), ``A_Customer``
  (name), ``A_BusinessPartner`` (which business partner is which customer: the numbers differ
  unless the number ranges were harmonised) and ``A_BusinessPartnerTaxNumber`` of the configured
  category (``CO1``, Colombia's NIT, replicated to KNA1-STCD1).

Customers flagged for deletion or blocked for posting are kept, in every mode: such a customer
may still have open items and still pay them, and a payment recognised by its NIT goes to finance
with SAP's own refusal, not as one from an unknown payer. The ``function`` and ``odata`` modes
log how many there are.

No standard BAPI serves instead: ``BAPI_CUSTOMER_GETLIST`` returns names and addresses but no tax
number, so the tax number would take one detail call per customer (docs/sap.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from conciliador import PermanentError

from .errors import raise_for_return
from .normalise import alpha_in, alpha_out
from .odata import ServiceRefused, entities
from .rfc import FunctionMissing

if TYPE_CHECKING:
    from .ecc import EccBackend

log = structlog.get_logger(__name__)

READ_TABLE = "RFC_READ_TABLE"


@dataclass(frozen=True)
class CustomerRecord:
    kunnr: str  # internal form, with SAP's leading zeros
    name: str
    tax_id: str
    deleted: bool = False
    blocked: bool = False


Probe = tuple[str, Callable[[], Any], Callable[[Any], str]]


def name_of(*parts: str | None) -> str:
    """NAME1 and NAME2 as one name: long Colombian company names continue in NAME2."""
    return " ".join(p.strip() for p in parts if p and p.strip())


class TableRead:
    """KNB1 + KNA1 through RFC_READ_TABLE."""

    def __init__(self, backend: EccBackend) -> None:
        self.backend = backend
        self.settings = backend.settings

    def _read(self, table: str, fields: list[str], where: str, action: str) -> Iterator[dict[str, str]]:
        try:
            yield from self.backend.read_table(table, fields, where, action=action)
        except PermanentError as exc:
            # The usual refusal of a security team: say which way round it is.
            raise PermanentError(f"{exc}. If RFC_READ_TABLE or table {table} may not be read, set customer_read = "
                                 '"function" and have the SAP team create Z_CONCILIADOR_CUSTOMERS (docs/sap.md)',
                                 erp_message=exc.erp_message) from None

    def numbers(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self._read("KNB1", ["KUNNR"], f"BUKRS = '{self.settings.company_code}'",
                              "list the customers of the company code"):
            seen[row["KUNNR"].strip()] = None
        return list(seen)

    def records(self) -> Iterator[CustomerRecord]:
        ours = set(self.numbers())
        tax = self.settings.tax_id_field
        done: set[str] = set()
        for row in self._read("KNA1", ["KUNNR", "NAME1", "NAME2", tax], "", "read customer names and tax ids"):
            kunnr = row["KUNNR"].strip()
            if kunnr in ours and kunnr not in done:
                done.add(kunnr)
                yield CustomerRecord(kunnr, name_of(row["NAME1"], row["NAME2"]), row[tax].strip())

    def probes(self) -> list[Probe]:
        s = self.settings
        return [
            (f"SAP customers of company code {s.company_code} (RFC_READ_TABLE KNB1)", self.numbers,
             lambda c: f"{len(c)} customers"),
            (f"SAP customer names and tax ids (RFC_READ_TABLE KNA1-{s.tax_id_field})",
             lambda: list(self._read("KNA1", ["KUNNR", "NAME1", s.tax_id_field], "KUNNR = '0000000000'",
                                     "check KNA1")), lambda _: "readable"),
        ]


class FunctionRead:
    """The customer's ``Z_CONCILIADOR_CUSTOMERS``: the company code's customers in KUNNR order."""

    def __init__(self, backend: EccBackend) -> None:
        self.backend = backend
        self.settings = backend.settings
        self.function = backend.settings.customer_function

    def _page(self, after: str, rows: int, action: str) -> list[Any]:
        s = self.settings
        try:
            result = self.backend.rfc.call(self.function, action, COMPANYCODE=s.company_code, FROM_CUSTOMER=after,
                                           MAX_ROWS=rows, CUSTOMERS={"item": []}, RETURN={"item": []})
        except FunctionMissing:
            raise PermanentError(
                f"SAP has no remote-enabled function {self.function}, which customer_read = \"function\" reads "
                f"the customers with. Ask the SAP team to create it as docs/sap.md describes (or correct "
                f"customer_function)") from None
        except PermanentError as exc:
            if "RFC_AUTHORIZATION_FAILURE" in (exc.erp_message or ""):
                raise PermanentError(
                    f"SAP: user {s.user} may not call {self.function} (authorisation object S_RFC). Ask the SAP "
                    f"security team to add {self.function} to the user's role: {exc.erp_message}",
                    erp_message=exc.erp_message) from None
            raise
        raise_for_return(list(result.RETURN.item) if result.RETURN is not None else [], action=action)
        return list(result.CUSTOMERS.item) if result.CUSTOMERS is not None else []

    def records(self) -> Iterator[CustomerRecord]:
        page, after = self.settings.page_size, ""
        tax = self.settings.tax_id_field
        flagged = 0
        while True:
            rows = self._page(after, page, "read the customers of the company code")
            for row in rows:
                kunnr = (row["KUNNR"] or "").strip()
                if kunnr <= after:
                    # Paging relies on the order; a function that ignores FROM_CUSTOMER would loop for ever.
                    raise PermanentError(
                        f"SAP's {self.function} returned customer {kunnr} after FROM_CUSTOMER {after!r}: it must "
                        "return the customers with a greater number, in ascending order (docs/sap.md)")
                after = kunnr
                record = CustomerRecord(kunnr, name_of(row["NAME1"], row["NAME2"]), (row[tax] or "").strip(),
                                        deleted=(row["LOEVM"] or "").strip() == "X",
                                        blocked=(row["SPERR"] or "").strip() == "X")
                flagged += record.deleted or record.blocked
                yield record
            if len(rows) < page:
                break
        if flagged:
            log.info("sap_customers_flagged", count=flagged, function=self.function,
                     reason="kept: they may still pay their open items")

    def numbers(self) -> list[str]:
        return [r.kunnr for r in self.records()]

    def probes(self) -> list[Probe]:
        return [(f"SAP customers of company code {self.settings.company_code} ({self.function})",
                 lambda: self._page("", 1, "check the customer function"),
                 lambda rows: f"readable, first customer {alpha_out(rows[0]['KUNNR'].strip())}" if rows
                 else "readable, no customers")]


class ODataRead:
    """S/4HANA's ``API_BUSINESS_PARTNER``."""

    def __init__(self, backend: EccBackend) -> None:
        self.backend = backend
        self.settings = backend.settings
        self.service = backend.settings.s4.business_partner_service
        self.service_name = self.service.rstrip("/").rsplit("/", 1)[-1]

    def _rows(self, entity: str, params: dict[str, str], action: str) -> Iterator[dict[str, Any]]:
        try:
            yield from entities(self.backend.rfc, f"{self.service}/{entity}", params, action=action,
                                page_size=self.settings.page_size)
        except ServiceRefused as exc:
            raise PermanentError(
                f"SAP refused OData {self.service_name}/{entity} (HTTP {exc.status}: {exc.error}). Ask the SAP "
                f"team to activate the service {self.service_name} (transaction /IWFND/MAINT_SERVICE) and to grant "
                f"user {self.settings.user} S_SERVICE for it, with F_KNA1_BUK/F_KNA1_GEN display for company code "
                f"{self.settings.company_code}", erp_message=exc.error) from None

    def _company(self) -> dict[str, dict[str, Any]]:
        params = {"$filter": f"CompanyCode eq '{self.settings.company_code}'",
                  "$select": "Customer,DeletionIndicator,PhysicalInventoryBlockInd", "$orderby": "Customer"}
        return {alpha_in(r["Customer"]): r for r in self._rows("A_CustomerCompany", params,
                                                               "list the customers of the company code")}

    def numbers(self) -> list[str]:
        return list(self._company())

    def records(self) -> Iterator[CustomerRecord]:
        ours = self._company()
        names = {}
        for row in self._rows("A_Customer", {"$select": "Customer,CustomerName,DeletionIndicator,PostingIsBlocked",
                                             "$orderby": "Customer"}, "read customer names"):
            kunnr = alpha_in(row["Customer"])
            if kunnr in ours:
                names[kunnr] = row
        partner_of = {}
        for row in self._rows("A_BusinessPartner", {"$filter": "Customer ne ''", "$select": "BusinessPartner,Customer",
                                                    "$orderby": "BusinessPartner"},
                              "match business partners to customers"):
            partner_of[alpha_in(row["Customer"])] = row["BusinessPartner"]
        category = self.settings.s4.tax_number_type
        taxes = {}
        for row in self._rows("A_BusinessPartnerTaxNumber",
                              {"$filter": f"BPTaxType eq '{category}'",
                               "$select": "BusinessPartner,BPTaxType,BPTaxNumber,BPTaxLongNumber",
                               "$orderby": "BusinessPartner"}, f"read the tax numbers of category {category}"):
            taxes[row["BusinessPartner"]] = (row.get("BPTaxNumber") or row.get("BPTaxLongNumber") or "").strip()
        flagged = 0
        for kunnr, company in ours.items():
            general = names.get(kunnr, {})
            record = CustomerRecord(
                kunnr, name_of(general.get("CustomerName")), taxes.get(partner_of.get(kunnr, ""), ""),
                deleted=bool(company.get("DeletionIndicator") or general.get("DeletionIndicator")),
                blocked=bool(company.get("PhysicalInventoryBlockInd") or general.get("PostingIsBlocked")))
            flagged += record.deleted or record.blocked
            yield record
        if flagged:
            log.info("sap_customers_flagged", count=flagged, service=self.service_name,
                     reason="kept: they may still pay their open items")

    def probes(self) -> list[Probe]:
        s = self.settings
        category = s.s4.tax_number_type
        return [
            (f"SAP customers of company code {s.company_code} (OData {self.service_name}/A_CustomerCompany)",
             self.numbers, lambda c: f"{len(c)} customers"),
            (f"SAP tax numbers of category {category} (OData {self.service_name}/A_BusinessPartnerTaxNumber)",
             lambda: sum(1 for r in self.records() if r.tax_id), lambda n: f"{n} customers with a tax number"),
        ]


def reader(backend: EccBackend) -> TableRead | FunctionRead | ODataRead:
    mode = backend.settings.customer_read
    if mode == "function":
        return FunctionRead(backend)
    if mode == "odata":
        return ODataRead(backend)
    return TableRead(backend)
