"""The emulator's ABAP Dictionary: the structures, tables and function interfaces it serves.

SAP generates ``/sap/bc/soap/wsdl11`` from a function module's interface in the DDIC at request
time; the emulator does the same from these declarations (see :mod:`.wsdl`). Names, types and
lengths follow SAP's:

- ``BAPI3007_2`` (customer line items): sapdatasheet.org APAREBPP_BAPI3007_2 and its vendor twin
  consolut.com BAPI3008_2; ``BAPIRETURN``/``BAPIRET2``: the BAPI return structures.
- ``RFC_READ_TABLE`` and its structures ``RFC_DB_OPT``, ``RFC_DB_FLD``, ``TAB512``.
- ``FTPOST``/``FTCLEAR``/``BLNTAB``: the tables of ``POSTING_INTERFACE_CLEARING`` (stechno.net),
  reused by the customer's remote-enabled clearing wrapper (docs/sap.md gives its interface).
- ``BAPIACHE09``/``BAPIACGL09``/``BAPIACAR09``/``BAPIACCR09``: ``BAPI_ACC_DOCUMENT_POST``.
- ``BAPI1090_1`` (``CURRENCY``, ``CURDECIMALS``, ``CURRENCY_ISO``): ``BAPI_CURRENCY_GETDECIMALS``
  (se80.co.uk BAPI1090_1; a public SOAP sample of the call's answer).
- Tables ``KNA1``, ``KNB1``, ``BKPF``, ``BSID``, ``BSAD`` with the fields the connector reads.

Only the fields the connector and the emulator use are declared; a real system has more, and the
connector ignores what it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # C char, N numc, D date, T time, P packed (DEC/CURR), K cuky, I int4, B int1
    length: int = 0
    decimals: int = 0
    text: str = ""

    @property
    def xsd_type(self) -> str:
        """The simple type name SAP's WSDL generator uses for this field."""
        if self.type == "C":
            return f"char{self.length}"
        if self.type == "N":
            return f"numeric{self.length}"
        if self.type == "D":
            return "date"
        if self.type == "T":
            return "time"
        if self.type == "K":
            return f"cuky{self.length}"
        if self.type == "P":
            return f"decimal{self.length}.{self.decimals}"
        if self.type == "I":
            return "xsd:int"
        if self.type == "B":  # INT1
            return "xsd:unsignedByte"
        raise ValueError(self.type)

    @property
    def output_length(self) -> int:
        """Characters the field takes in an RFC_READ_TABLE work area (WRITE output length)."""
        if self.type == "D":
            return 8
        if self.type == "P":
            digits = self.length
            return digits + (digits - self.decimals - 1) // 3 + (1 if self.decimals else 0) + 1
        return self.length


def C(name: str, length: int, text: str = "") -> Field:
    return Field(name, "C", length, 0, text)


def N(name: str, length: int, text: str = "") -> Field:
    return Field(name, "N", length, 0, text)


def D(name: str, text: str = "") -> Field:
    return Field(name, "D", 8, 0, text)


def P(name: str, length: int, decimals: int, text: str = "") -> Field:
    return Field(name, "P", length, decimals, text)


def K(name: str, text: str = "") -> Field:
    return Field(name, "K", 5, 0, text)


def I(name: str, text: str = "") -> Field:  # noqa: E743 - SAP's own type letter
    return Field(name, "I", 10, 0, text)


STRUCTURES: dict[str, tuple[Field, ...]] = {
    "BAPI3007_2": (
        C("COMP_CODE", 4), C("CUSTOMER", 10), C("SP_GL_IND", 1), D("CLEAR_DATE"), C("CLR_DOC_NO", 10),
        C("ALLOC_NMBR", 18), N("FISC_YEAR", 4), C("DOC_NO", 10), N("ITEM_NUM", 3), D("PSTNG_DATE"),
        D("DOC_DATE"), D("ENTRY_DATE"), K("CURRENCY"), K("LOC_CURRCY"), C("REF_DOC_NO", 16), C("DOC_TYPE", 2),
        N("FIS_PERIOD", 2), C("POST_KEY", 2), C("DB_CR_IND", 1), C("BUS_AREA", 4), C("TAX_CODE", 2),
        P("LC_AMOUNT", 23, 4), P("AMT_DOCCUR", 23, 4), P("LC_TAX", 23, 4), P("TX_DOC_CUR", 23, 4),
        C("ITEM_TEXT", 50), C("BRANCH", 10), D("BLINE_DATE"), C("PMNTTRMS", 4), P("DSCT_DAYS1", 3, 0),
        P("DSCT_DAYS2", 3, 0), P("NETTERMS", 3, 0), P("DSCT_PCT1", 5, 3), P("DSCT_PCT2", 5, 3),
        P("DISC_BASE", 23, 4), P("DSC_AMT_LC", 23, 4), P("DSC_AMT_DC", 23, 4), C("PYMT_METH", 1),
        C("PMNT_BLOCK", 1), C("FIXEDTERMS", 1), C("INV_REF", 10), N("INV_YEAR", 4), N("INV_ITEM", 3),
        C("DUNN_BLOCK", 1), C("DUNN_KEY", 1), D("LAST_DUNN"), N("DUNN_LEVEL", 1), C("DOC_STATUS", 1),
        C("NXT_DOCTYP", 1), C("REF_KEY_1", 12), C("REF_KEY_2", 12), C("REF_KEY_3", 20),
    ),
    "BAPIRETURN": (
        C("TYPE", 1), C("CODE", 5), C("MESSAGE", 220), C("LOG_NO", 20), N("LOG_MSG_NO", 6),
        C("MESSAGE_V1", 50), C("MESSAGE_V2", 50), C("MESSAGE_V3", 50), C("MESSAGE_V4", 50),
    ),
    "BAPIRET2": (
        C("TYPE", 1), C("ID", 20), N("NUMBER", 3), C("MESSAGE", 220), C("LOG_NO", 20), N("LOG_MSG_NO", 6),
        C("MESSAGE_V1", 50), C("MESSAGE_V2", 50), C("MESSAGE_V3", 50), C("MESSAGE_V4", 50),
        C("PARAMETER", 32), I("ROW"), C("FIELD", 30), C("SYSTEM", 10),
    ),
    # The customer's own structure for Z_CONCILIADOR_CUSTOMERS (docs/sap.md): KNA1/KNB1 fields.
    "ZCONCILIADOR_S_CUSTOMER": (
        C("KUNNR", 10), C("NAME1", 35), C("NAME2", 35), C("STCD1", 16), C("STCD2", 11), C("STCEG", 20),
        C("LOEVM", 1), C("SPERR", 1),
    ),
    # BAPI_CURRENCY_GETDECIMALS' export: the decimals of a currency as TCURX has them (INT1).
    "BAPI1090_1": (K("CURRENCY"), Field("CURDECIMALS", "B", 3, 0, "Number of decimal places"), K("CURRENCY_ISO")),
    "RFC_DB_OPT": (C("TEXT", 72),),
    "RFC_DB_FLD": (C("FIELDNAME", 30), N("OFFSET", 6), N("LENGTH", 6), C("TYPE", 1), C("FIELDTEXT", 60)),
    "TAB512": (C("WA", 512),),
    "FTPOST": (C("STYPE", 1), N("COUNT", 3), C("FNAM", 132), C("FVAL", 132)),
    "FTCLEAR": (
        C("AGKOA", 1), C("AGKON", 10), C("AGBUK", 4), C("XNOPS", 1), C("XFIFO", 1), C("AGUMS", 10),
        C("AVSID", 10), C("SELFD", 30), C("SELVON", 40), C("SELBIS", 40),
    ),
    "BLNTAB": (C("BUKRS", 4), C("BELNR", 10), N("GJAHR", 4)),
    "BAPIACHE09": (
        C("OBJ_TYPE", 5), C("OBJ_KEY", 20), C("OBJ_SYS", 10), C("BUS_ACT", 4), C("USERNAME", 12),
        C("HEADER_TXT", 25), C("COMP_CODE", 4), D("DOC_DATE"), D("PSTNG_DATE"), D("TRANS_DATE"),
        N("FISC_YEAR", 4), N("FIS_PERIOD", 2), C("DOC_TYPE", 2), C("REF_DOC_NO", 16), C("AC_DOC_NO", 10),
    ),
    "BAPIACGL09": (
        N("ITEMNO_ACC", 10), C("GL_ACCOUNT", 10), C("ITEM_TEXT", 50), C("REF_KEY_3", 20), C("COMP_CODE", 4),
        D("PSTNG_DATE"), D("VALUE_DATE"), C("ALLOC_NMBR", 18), C("COSTCENTER", 10),
    ),
    "BAPIACAR09": (
        N("ITEMNO_ACC", 10), C("CUSTOMER", 10), C("GL_ACCOUNT", 10), C("REF_KEY_3", 20), C("PMNTTRMS", 4),
        D("BLINE_DATE"), C("ALLOC_NMBR", 18), C("ITEM_TEXT", 50), C("COMP_CODE", 4), C("SP_GL_IND", 1),
    ),
    "BAPIACCR09": (
        N("ITEMNO_ACC", 10), C("CURR_TYPE", 2), K("CURRENCY"), C("CURRENCY_ISO", 3), P("AMT_DOCCUR", 23, 4),
        P("EXCH_RATE", 9, 5), P("AMT_BASE", 23, 4),
    ),
}


@dataclass(frozen=True)
class Param:
    name: str
    ref: str  # a structure name, or a simple type given as a Field
    optional: bool = False
    simple: Field | None = None


@dataclass(frozen=True)
class Function:
    name: str
    imports: tuple[Param, ...] = ()
    exports: tuple[Param, ...] = ()
    tables: tuple[Param, ...] = ()
    exceptions: tuple[str, ...] = ()
    text: str = ""


def simple(name: str, f: Field, optional: bool = False) -> Param:
    return Param(name, "", optional, f)


def struct(name: str, ref: str, optional: bool = False) -> Param:
    return Param(name, ref, optional)


def _open_items_function(name: str, dates: tuple[str, ...], text: str) -> Function:
    return Function(
        name,
        imports=(simple("COMPANYCODE", C("", 4)), simple("CUSTOMER", C("", 10)),
                 *(simple(d, D("")) for d in dates), simple("NOTEDITEMS", C("", 1), True),
                 *((simple("SECINDEX", C("", 1), True),) if name.endswith("OPENITEMS") else ())),
        exports=(struct("RETURN", "BAPIRETURN"),),
        tables=(struct("LINEITEMS", "BAPI3007_2", True),),
        text=text,
    )


def clearing_wrapper(name: str) -> Function:
    """The customer's remote-enabled wrapper around POSTING_INTERFACE_START/CLEARING/END (FB05),
    committing in the same call. Its interface is specified in docs/sap.md."""
    return Function(
        name,
        imports=(simple("I_AUGLV", C("", 8)), simple("I_TCODE", C("", 20)), simple("I_SGFUNCT", C("", 1), True),
                 simple("I_NO_AUTH", C("", 1), True), simple("I_TESTRUN", C("", 1), True)),
        exports=(simple("E_SUBRC", I("")),),
        tables=(struct("T_FTPOST", "FTPOST"), struct("T_FTCLEAR", "FTCLEAR", True),
                struct("T_BLNTAB", "BLNTAB", True), struct("RETURN", "BAPIRET2", True)),
        exceptions=("CLEARING_PROCEDURE_INVALID", "CLEARING_PROCEDURE_MISSING", "TABLE_T041A_EMPTY",
                    "TRANSACTION_CODE_INVALID", "AMOUNT_FORMAT_ERROR", "TOO_MANY_LINE_ITEMS",
                    "COMPANY_CODE_INVALID", "SCREEN_NOT_FOUND", "NO_AUTHORIZATION"),
        text="Post with clearing (FB05) and commit",
    )


def document_post(name: str, *, testrun: bool) -> Function:
    """``BAPI_ACC_DOCUMENT_POST``'s interface; the customer's wrapper adds ``TESTRUN``."""
    return Function(
        name,
        imports=(struct("DOCUMENTHEADER", "BAPIACHE09"), *((simple("TESTRUN", C("", 1), True),) if testrun else ())),
        exports=(simple("OBJ_TYPE", C("", 5)), simple("OBJ_KEY", C("", 20)), simple("OBJ_SYS", C("", 10))),
        tables=(struct("ACCOUNTGL", "BAPIACGL09", True), struct("ACCOUNTRECEIVABLE", "BAPIACAR09", True),
                struct("CURRENCYAMOUNT", "BAPIACCR09"), struct("RETURN", "BAPIRET2")),
        text="Accounting: General Posting",
    )


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        _open_items_function("BAPI_AR_ACC_GETOPENITEMS", ("KEYDATE",), "Customer account open items at a key date"),
        _open_items_function("BAPI_AR_ACC_GETBALANCEDITEMS", ("DATE_FROM", "DATE_TO"),
                             "Customer account clearing transactions in a given time period"),
        Function(
            "RFC_READ_TABLE",
            imports=(simple("QUERY_TABLE", C("", 30)), simple("DELIMITER", C("", 1), True),
                     simple("NO_DATA", C("", 1), True), simple("ROWSKIPS", I(""), True),
                     simple("ROWCOUNT", I(""), True)),
            tables=(struct("OPTIONS", "RFC_DB_OPT", True), struct("FIELDS", "RFC_DB_FLD", True),
                    struct("DATA", "TAB512")),
            exceptions=("TABLE_NOT_AVAILABLE", "TABLE_WITHOUT_DATA", "OPTION_NOT_VALID", "FIELD_NOT_VALID",
                        "NOT_AUTHORIZED", "DATA_BUFFER_EXCEEDED"),
            text="External access to R/3 tables via RFC",
        ),
        document_post("BAPI_ACC_DOCUMENT_POST", testrun=False),
        Function("BAPI_TRANSACTION_COMMIT", imports=(simple("WAIT", C("", 1), True),),
                 exports=(struct("RETURN", "BAPIRET2"),), text="Execute external Commit when using BAPIs"),
        # Released and remote-enabled: the decimals of a currency (TCURX; 2 when it is not listed).
        Function("BAPI_CURRENCY_GETDECIMALS", imports=(simple("CURRENCY", K("")),),
                 exports=(struct("CURRENCY_DECIMALS", "BAPI1090_1"), struct("RETURN", "BAPIRETURN")),
                 text="Decimal places of a currency"),
    )
}


# -- database tables (what RFC_READ_TABLE can read) --------------------------------------------------

TABLES: dict[str, tuple[Field, ...]] = {
    "KNA1": (C("KUNNR", 10, "Customer"), C("NAME1", 35, "Name 1"), C("NAME2", 35, "Name 2"),
             C("STCD1", 16, "Tax Number 1"), C("STCD2", 11, "Tax Number 2"), C("LAND1", 3, "Country"),
             C("ORT01", 35, "City"), C("LOEVM", 1, "Deletion flag"), C("SPERR", 1, "Posting block")),
    "KNB1": (C("KUNNR", 10, "Customer"), C("BUKRS", 4, "Company Code"), C("AKONT", 10, "Reconciliation acct"),
             C("ZTERM", 4, "Terms of payment"), C("LOEVM", 1, "Deletion flag"), C("SPERR", 1, "Posting block")),
    "BKPF": (C("BUKRS", 4, "Company Code"), C("BELNR", 10, "Document Number"), N("GJAHR", 4, "Fiscal Year"),
             C("BLART", 2, "Document type"), D("BLDAT", "Document Date"), D("BUDAT", "Posting Date"),
             N("MONAT", 2, "Period"), D("CPUDT", "Entry date"), C("USNAM", 12, "User name"),
             C("XBLNR", 16, "Reference"), C("BKTXT", 25, "Doc.Header Text"), K("WAERS", "Currency"),
             C("BSTAT", 1, "Doc.status"), C("STBLG", 10, "Reverse document"), N("STJAH", 4, "Reverse doc. FY")),
}
_OPEN_ITEM_FIELDS = (
    C("BUKRS", 4, "Company Code"), C("KUNNR", 10, "Customer"), C("UMSKZ", 1, "Special G/L ind."),
    D("AUGDT", "Clearing date"), C("AUGBL", 10, "Clearing doc."), C("ZUONR", 18, "Assignment"),
    N("GJAHR", 4, "Fiscal Year"), C("BELNR", 10, "Document Number"), N("BUZEI", 3, "Line item"),
    D("BUDAT", "Posting Date"), D("BLDAT", "Document Date"), D("CPUDT", "Entry date"), K("WAERS", "Currency"),
    C("XBLNR", 16, "Reference"), C("BLART", 2, "Document type"), N("MONAT", 2, "Period"),
    C("BSCHL", 2, "Posting Key"), C("SHKZG", 1, "Debit/Credit"), P("DMBTR", 13, 2, "Amount in LC"),
    P("WRBTR", 13, 2, "Amount"), P("WMWST", 13, 2, "Tax amount"), C("SGTXT", 50, "Text"),
    D("ZFBDT", "Baseline Date"), C("ZTERM", 4, "Payment terms"), P("ZBD1T", 3, 0, "Days 1"),
    P("ZBD2T", 3, 0, "Days 2"), P("ZBD3T", 3, 0, "Days net"), P("ZBD1P", 5, 3, "Disc.percent 1"),
    P("ZBD2P", 5, 3, "Disc.percent 2"), C("REBZG", 10, "Invoice ref."), N("REBZJ", 4, "Fiscal Year"),
    N("REBZZ", 3, "Line item"), C("REBZT", 1, "Follow-on doc.type"), C("XREF3", 20, "Reference key 3"),
    C("BSTAT", 1, "Doc.status"),
)
TABLES["BSID"] = _OPEN_ITEM_FIELDS
TABLES["BSAD"] = _OPEN_ITEM_FIELDS

# Where SAP's authorisation groups put these tables (S_TABU_DIS / DICBERCLS).
TABLE_AUTH_GROUPS = {"KNA1": "&NC&", "KNB1": "&NC&", "BKPF": "FA", "BSID": "FA", "BSAD": "FA"}


def customers_function(name: str) -> Function:
    """The customer's remote-enabled read of the company code's customers (KNB1 joined with KNA1),
    for shops that forbid RFC_READ_TABLE. Its interface is specified in docs/sap.md."""
    return Function(
        name,
        imports=(simple("COMPANYCODE", C("", 4)), simple("FROM_CUSTOMER", C("", 10), True),
                 simple("MAX_ROWS", I(""), True)),
        tables=(struct("CUSTOMERS", "ZCONCILIADOR_S_CUSTOMER", True), struct("RETURN", "BAPIRET2", True)),
        text="Customers of a company code: number, name, tax numbers, flags",
    )


def reverse_wrapper(name: str) -> Function:
    """The customer's wrapper for FBRA: reset the clearing of a payment document and reverse it
    (``FI_CLEARING_RESET`` or ``POSTING_INTERFACE_RESET_CLEAR``, then ``POSTING_INTERFACE_REVERSE_DOC``
    / ``BAPI_ACC_DOCUMENT_REV_POST``), committing in the same call."""
    return Function(
        name,
        imports=(simple("I_BUKRS", C("", 4)), simple("I_BELNR", C("", 10)), simple("I_GJAHR", N("", 4)),
                 simple("I_BUDAT", D("")), simple("I_STGRD", C("", 2), True), simple("I_XBLNR", C("", 16), True)),
        exports=(simple("E_BELNR", C("", 10)), simple("E_GJAHR", N("", 4))),
        tables=(struct("RETURN", "BAPIRET2", True),),
        text="Reset clearing and reverse (FBRA)",
    )
