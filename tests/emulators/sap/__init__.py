"""An SAP ECC / S/4HANA emulator on 127.0.0.1, spoken to over real HTTP.

``SapEmulator().start()`` serves:

- ``GET  /sap/bc/soap/wsdl11?services=F1,F2&sap-client=100``: WSDL in SAP's RFC style;
- ``POST /sap/bc/soap/rfc?sap-client=100``: SOAP 1.1 calls of ``BAPI_AR_ACC_GETOPENITEMS``,
  ``BAPI_AR_ACC_GETBALANCEDITEMS``, ``RFC_READ_TABLE`` (KNA1, KNB1, BKPF, BSID, BSAD),
  ``BAPI_ACC_DOCUMENT_POST``, ``BAPI_TRANSACTION_COMMIT``, ``BAPI_CURRENCY_GETDECIMALS`` (the
  ledger's TCURX, configurable per emulator) and the customer's functions (clearing
  around ``POSTING_INTERFACE_CLEARING``, document post with commit, reset-and-reverse, the
  customer read ``Z_CONCILIADOR_CUSTOMERS``), under configurable names;
- the S/4HANA surface (OData ``API_OPLACCTGDOCITEMCUBE_SRV`` and ``API_BUSINESS_PARTNER``, SOAP
  Journal Entry post and clearing),
  see :mod:`.s4`.

Test code drives it through :attr:`ledger` (seed data, close periods, inspect BSID/BSAD) and
:meth:`inject` (latency, HTTP 500, timeouts after commit, locks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import ddic
from .functions import Functions
from .ledger import Item, Ledger, SapMessage, alpha
from .server import Injection, User, start_server

__all__ = ["SapEmulator", "Item", "Ledger", "SapMessage", "alpha", "User"]

CLEARING_WRAPPER = "Z_CONCILIADOR_CLEARING"
DOCUMENT_POST_WRAPPER = "Z_CONCILIADOR_ACC_DOC_POST"
REVERSE_WRAPPER = "Z_CONCILIADOR_RESET_REVERSE"
CUSTOMERS_FUNCTION = "Z_CONCILIADOR_CUSTOMERS"
USER, PASSWORD = "CONCILIADOR", "Clave.Segura-2026"
BANK_GL = "0011100505"  # PUC 111005 bancos, cuenta corriente
GL_ACCOUNTS = {
    BANK_GL, "0013551505", "0013551705", "0013551805",  # bank; retefuente, reteIVA, reteICA receivable (PUC 1355)
    "0053052005", "0053050505", "0053959505",  # bank charges, discounts granted, write-offs
}


class SapEmulator:
    def __init__(self, *, client: str = "100", sid: str = "CON", tls: tuple[str, str] | None = None,
                 currency_decimals: dict[str, int] | None = None) -> None:
        """``tls``: (certificate chain PEM, key PEM) to serve HTTPS, as the ICM does on port 443xx.
        ``currency_decimals``: TCURX entries over the emulator's own (``{"COP": 0}`` as SAP delivers
        COP, SAP note 137626; the emulator keeps 2 unless told)."""
        self.client, self.sid, self.tls = client, sid, tls
        self.ledger = Ledger(client)
        self.ledger.decimals.update(currency_decimals or {})
        self.functions = Functions(self.ledger)
        self.users: dict[str, User] = {USER: User(PASSWORD)}
        self.calls: list[str] = []
        self.injections: list[Injection] = []
        self.interfaces: dict[str, ddic.Function] = {}
        self.handlers: dict[str, Any] = {}
        self.get_routes: dict[str, Any] = {}
        self.post_routes: dict[str, Any] = {}
        self.server = None
        self.advertised_host = "sapecc.internal.example:8000"  # SAP often names its own internal host
        f = self.functions
        self.register(ddic.FUNCTIONS["BAPI_AR_ACC_GETOPENITEMS"], f.open_items)
        self.register(ddic.FUNCTIONS["BAPI_AR_ACC_GETBALANCEDITEMS"], f.balanced_items)
        self.register(ddic.FUNCTIONS["RFC_READ_TABLE"], f.read_table)
        self.register(ddic.FUNCTIONS["BAPI_ACC_DOCUMENT_POST"], lambda p, c: f.document_post(p, c, commit_inside=False))
        self.register(ddic.FUNCTIONS["BAPI_TRANSACTION_COMMIT"], f.commit)
        self.register(ddic.FUNCTIONS["BAPI_CURRENCY_GETDECIMALS"], f.currency_decimals)
        self.add_clearing_wrapper(CLEARING_WRAPPER)
        self.add_document_post_wrapper(DOCUMENT_POST_WRAPPER)
        self.register(ddic.reverse_wrapper(REVERSE_WRAPPER), f.reverse)
        self.add_customers_function(CUSTOMERS_FUNCTION)
        from .s4 import S4Surface  # the S/4HANA OData and SOAP services share the ledger

        self.s4 = S4Surface(self)

    # -- set-up ----------------------------------------------------------------------------------
    def register(self, interface: ddic.Function, handler: Any) -> None:
        self.interfaces[interface.name] = interface
        self.handlers[interface.name] = handler

    def add_clearing_wrapper(self, name: str) -> None:
        self.register(ddic.clearing_wrapper(name), self.functions.clearing)

    def add_document_post_wrapper(self, name: str) -> None:
        self.register(ddic.document_post(name, testrun=True),
                      lambda p, c: self.functions.document_post(p, c, commit_inside=True))

    def add_customers_function(self, name: str) -> None:
        self.register(ddic.customers_function(name), self.functions.customers)

    def company_code(self, bukrs: str = "1000", *, currency: str = "COP", open_from: dt.date = dt.date(2020, 1, 1)):
        return self.ledger.add_company(bukrs, currency=currency, open_from=open_from, gl_accounts=set(GL_ACCOUNTS))

    def inject(self, function: str, kind: str, *, times: int = 1, seconds: float = 0.0) -> None:
        """Make the next ``times`` calls of ``function`` ("*" for any) misbehave: ``latency``
        (sleep, then work), ``http500`` (ICM error, no work), ``timeout`` (work and commit, then
        answer after ``seconds``) or ``lock`` (RETURN: the account is locked by another user)."""
        self.injections.append(Injection(function, kind, times, seconds))

    def take_injection(self, function: str) -> Injection | None:
        for inj in self.injections:
            if inj.times > 0 and inj.function in (function, "*"):
                inj.times -= 1
                return inj
        return None

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> "SapEmulator":
        self.server, self.thread = start_server(self)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> "SapEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests look at ------------------------------------------------------------------------
    def open_item(self, bukrs: str, belnr: str, gjahr: str, buzei: str = "001") -> Item | None:
        return self.ledger.bsid.get((bukrs, gjahr, alpha(belnr), buzei))

    def cleared_item(self, bukrs: str, belnr: str, gjahr: str, buzei: str = "001") -> Item | None:
        return self.ledger.bsad.get((bukrs, gjahr, alpha(belnr), buzei))

    def documents_with_reference(self, bukrs: str, xblnr: str) -> list[tuple[str, str]]:
        return sorted((h.BELNR, h.GJAHR) for h in self.ledger.bkpf.values() if h.BUKRS == bukrs and h.XBLNR == xblnr)

