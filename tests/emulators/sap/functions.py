"""The RFC-enabled functions the emulator serves, over the ledger.

Each takes the decoded request parameters and returns the response parameters (exports and
tables), as SAP's SOAP runtime would marshal them. ABAP exceptions are raised as
:class:`AbapException` (a SOAP fault); ABAP messages end up in ``RETURN``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .ddic import TABLE_AUTH_GROUPS, TABLES, Field
from .ledger import Item, Ledger, SapMessage, alpha
from .predicates import Tokens, boolean


class AbapException(Exception):
    """A classic exception of the function module (``RAISE TABLE_NOT_AVAILABLE``): a SOAP fault."""

    def __init__(self, name: str, text: str = "") -> None:
        self.name, self.text = name, text
        super().__init__(name)


@dataclass
class Context:
    """Who calls, and what the session may do."""

    user: str
    functions: set[str]
    company_codes: set[str]
    tables: set[str]
    decimal_notation: str = "X"  # USR01-DCPFM: ' ' 1.234.567,89 / 'X' 1,234,567.89 / 'Y' 1 234 567,89
    pending: list[Callable[[], None]] = field(default_factory=list)  # this session's update tasks


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else "0000-00-00"


def lineitem(i: Item) -> dict[str, str]:
    """A BSID/BSAD row as a BAPI3007_2 line: amounts unsigned in external format, D/C in DB_CR_IND."""
    return {
        "COMP_CODE": i.BUKRS, "CUSTOMER": i.KUNNR, "SP_GL_IND": i.UMSKZ, "CLEAR_DATE": _d(i.AUGDT),
        "CLR_DOC_NO": i.AUGBL, "ALLOC_NMBR": i.ZUONR, "FISC_YEAR": i.GJAHR, "DOC_NO": i.BELNR,
        "ITEM_NUM": i.BUZEI, "PSTNG_DATE": _d(i.BUDAT), "DOC_DATE": _d(i.BLDAT), "ENTRY_DATE": _d(i.CPUDT),
        "CURRENCY": i.WAERS, "LOC_CURRCY": i.HWAER, "REF_DOC_NO": i.XBLNR, "DOC_TYPE": i.BLART,
        "FIS_PERIOD": i.MONAT, "POST_KEY": i.BSCHL, "DB_CR_IND": i.SHKZG, "BUS_AREA": "", "TAX_CODE": "",
        "LC_AMOUNT": f"{i.DMBTR:.4f}", "AMT_DOCCUR": f"{i.WRBTR:.4f}", "LC_TAX": "0.0000",
        "TX_DOC_CUR": f"{i.WMWST:.4f}", "ITEM_TEXT": i.SGTXT, "BRANCH": "", "BLINE_DATE": _d(i.ZFBDT),
        "PMNTTRMS": i.ZTERM, "DSCT_DAYS1": str(i.ZBD1T), "DSCT_DAYS2": str(i.ZBD2T), "NETTERMS": str(i.ZBD3T),
        "DSCT_PCT1": f"{i.ZBD1P:.3f}", "DSCT_PCT2": f"{i.ZBD2P:.3f}", "DISC_BASE": f"{i.WRBTR:.4f}",
        "DSC_AMT_LC": "0.0000", "DSC_AMT_DC": "0.0000", "PYMT_METH": "", "PMNT_BLOCK": "", "FIXEDTERMS": "",
        "INV_REF": i.REBZG, "INV_YEAR": i.REBZJ or "0000", "INV_ITEM": i.REBZZ or "000", "DUNN_BLOCK": "",
        "DUNN_KEY": "", "LAST_DUNN": "0000-00-00", "DUNN_LEVEL": "0", "DOC_STATUS": i.BSTAT, "NXT_DOCTYP": i.REBZT,
        "REF_KEY_1": "", "REF_KEY_2": "", "REF_KEY_3": i.XREF3,
    }


def bapireturn(msg: SapMessage | None) -> dict[str, str]:
    if msg is None:
        return {"TYPE": "", "CODE": "", "MESSAGE": "", "LOG_NO": "", "LOG_MSG_NO": "000000", "MESSAGE_V1": "",
                "MESSAGE_V2": "", "MESSAGE_V3": "", "MESSAGE_V4": ""}
    return {"TYPE": msg.type, "CODE": f"{msg.msgid}{msg.number}", "MESSAGE": msg.text, "LOG_NO": "",
            "LOG_MSG_NO": "000000", **{f"MESSAGE_V{n}": v for n, v in enumerate(msg.values[:4], start=1)}}


def bapiret2(msg: SapMessage, **extra: str) -> dict[str, str]:
    return {"TYPE": msg.type, "ID": msg.msgid, "NUMBER": msg.number, "MESSAGE": msg.text, "LOG_NO": "",
            "LOG_MSG_NO": "000000", **{f"MESSAGE_V{n}": v for n, v in enumerate(msg.values[:4], start=1)},
            "PARAMETER": extra.get("PARAMETER", ""), "ROW": extra.get("ROW", "0"), "FIELD": extra.get("FIELD", ""),
            "SYSTEM": "CONCLNT100"}


def _date_param(params: dict[str, Any], name: str) -> dt.date:
    value = params.get(name) or ""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        # The SOAP runtime refuses a value it cannot convert before the function runs.
        raise AbapException("CONVERSION_ERROR", f"Parameter {name}: {value!r} is not a date YYYY-MM-DD") from None


class Functions:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- reads -------------------------------------------------------------------------------------
    def open_items(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        bukrs, kunnr = params.get("COMPANYCODE", ""), alpha(params.get("CUSTOMER", ""))
        keydate = _date_param(params, "KEYDATE")
        try:
            self._check_account(bukrs, kunnr, ctx)
        except SapMessage as msg:
            return {"RETURN": bapireturn(msg), "LINEITEMS": []}
        return {"RETURN": bapireturn(None),
                "LINEITEMS": [lineitem(i) for i in self.ledger.open_items(bukrs, kunnr, keydate)]}

    def balanced_items(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        bukrs, kunnr = params.get("COMPANYCODE", ""), alpha(params.get("CUSTOMER", ""))
        date_from, date_to = _date_param(params, "DATE_FROM"), _date_param(params, "DATE_TO")
        try:
            self._check_account(bukrs, kunnr, ctx)
        except SapMessage as msg:
            return {"RETURN": bapireturn(msg), "LINEITEMS": []}
        return {"RETURN": bapireturn(None),
                "LINEITEMS": [lineitem(i) for i in self.ledger.balanced_items(bukrs, kunnr, date_from, date_to)]}

    def _check_account(self, bukrs: str, kunnr: str, ctx: Context) -> None:
        self.ledger.company(bukrs)
        if "*" not in ctx.company_codes and bukrs not in ctx.company_codes:
            raise SapMessage("FS", "152", bukrs)
        if (kunnr, bukrs) not in self.ledger.knb1:
            raise SapMessage("F5", "150", kunnr, bukrs)

    def customers(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Z_CONCILIADOR_CUSTOMERS: KNB1 of the company code joined with KNA1, in KUNNR order,
        those after FROM_CUSTOMER, at most MAX_ROWS; F_KNA1_BUK checked per company code."""
        bukrs = params.get("COMPANYCODE") or ""
        after = alpha(params.get("FROM_CUSTOMER") or "") if params.get("FROM_CUSTOMER") else ""
        limit = int(params.get("MAX_ROWS") or 0)
        if bukrs not in self.ledger.companies:
            return {"CUSTOMERS": [], "RETURN": [bapiret2(SapMessage("F5", "156", bukrs))]}
        if "*" not in ctx.company_codes and bukrs not in ctx.company_codes:
            return {"CUSTOMERS": [], "RETURN": [bapiret2(SapMessage("F2", "501", bukrs))]}
        rows = []
        with self.ledger.lock:
            for kunnr in sorted(k for k, b in self.ledger.knb1 if b == bukrs and k > after):
                c = self.ledger.kna1[kunnr]
                rows.append({"KUNNR": kunnr, "NAME1": c.NAME1, "NAME2": c.NAME2, "STCD1": c.STCD1, "STCD2": c.STCD2,
                             "STCEG": "", "LOEVM": c.LOEVM, "SPERR": c.SPERR})
                if limit and len(rows) >= limit:
                    break
        return {"CUSTOMERS": rows, "RETURN": []}

    def currency_decimals(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """BAPI_CURRENCY_GETDECIMALS: the decimals of a currency (TCURX; 2 when a known currency is
        not listed there); an unknown currency is an error in RETURN."""
        currency = (params.get("CURRENCY") or "").strip().upper()
        decimals = self.ledger.decimals.get(currency)
        if decimals is None:
            return {"CURRENCY_DECIMALS": {}, "RETURN": bapireturn(SapMessage("F5", "157", currency))}
        return {"CURRENCY_DECIMALS": {"CURRENCY": currency, "CURDECIMALS": str(decimals), "CURRENCY_ISO": currency},
                "RETURN": bapireturn(None)}

    # -- RFC_READ_TABLE ------------------------------------------------------------------------------
    def read_table(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        table = (params.get("QUERY_TABLE") or "").upper()
        if table not in TABLES:
            raise AbapException("TABLE_NOT_AVAILABLE", f"Table {table} is not available")
        if "*" not in ctx.tables and table not in ctx.tables:
            raise AbapException("NOT_AUTHORIZED", f"No authorization for table {table} "
                                                  f"(S_TABU_DIS, group {TABLE_AUTH_GROUPS[table]})")
        columns = TABLES[table]
        wanted = [(f.get("FIELDNAME") or "").upper() for f in params.get("FIELDS") or []]
        by_name = {c.name: c for c in columns}
        for name in wanted:
            if name not in by_name:
                raise AbapException("FIELD_NOT_VALID", f"Field {name} is not in table {table}")
        selected = [by_name[n] for n in wanted] or list(columns)
        where = " ".join((o.get("TEXT") or "") for o in params.get("OPTIONS") or [])
        predicate = _where(where, by_name)
        delimiter = params.get("DELIMITER") or ""
        skip = int(params.get("ROWSKIPS") or 0)
        count = int(params.get("ROWCOUNT") or 0)
        out_fields, offset = [], 0
        for f in selected:
            out_fields.append({"FIELDNAME": f.name, "OFFSET": f"{offset:06d}", "LENGTH": f"{f.output_length:06d}",
                               "TYPE": f.type if f.type != "K" else "C", "FIELDTEXT": f.text})
            offset += f.output_length + len(delimiter)
        if offset - len(delimiter) > 512:
            raise AbapException("DATA_BUFFER_EXCEEDED", "The selected fields do not fit into 512 characters")
        data = []
        if params.get("NO_DATA") != "X":
            with self.ledger.lock:
                rows = self._rows(table)
                matched = 0
                for row in rows:
                    if not predicate(row):
                        continue
                    matched += 1
                    if matched <= skip:
                        continue
                    data.append({"WA": delimiter.join(_write(f, row.get(f.name), ctx.decimal_notation,
                                                             self._decimals_of(f, row))
                                                      for f in selected).rstrip()})
                    if count and len(data) >= count:
                        break
        return {"OPTIONS": params.get("OPTIONS") or [], "FIELDS": out_fields, "DATA": data}

    def _decimals_of(self, f: Field, row: dict[str, Any]) -> int:
        """TCURX decimals of the currency an amount column refers to: DMBTR the local currency
        (HWAER), WRBTR and WMWST the document currency (WAERS)."""
        currency = row.get("HWAER" if f.name == "DMBTR" else "WAERS") or ""
        return self.ledger.decimals.get(currency, 2)

    def _rows(self, table: str):
        ledger = self.ledger
        if table == "KNA1":
            return (vars(c) for _, c in sorted(ledger.kna1.items()))
        if table == "KNB1":
            return ({"KUNNR": k, "BUKRS": b, "AKONT": ledger.companies[b].recon_account, "ZTERM": "", "LOEVM": "",
                     "SPERR": ""} for k, b in sorted(ledger.knb1))
        if table == "BKPF":
            return (vars(h) for _, h in sorted(ledger.bkpf.items()))
        source = ledger.bsid if table == "BSID" else ledger.bsad
        return ({s: getattr(i, s) for s in Item.__slots__} for _, i in sorted(source.items()))

    # -- posting -----------------------------------------------------------------------------------------
    def clearing(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        testrun = params.get("I_TESTRUN") == "X"
        try:
            bukrs, belnr, gjahr = self.ledger.clear(
                params.get("T_FTPOST") or [], params.get("T_FTCLEAR") or [], user=ctx.user,
                auglv=(params.get("I_AUGLV") or "").strip(), testrun=testrun, authorized=ctx.company_codes)
        except SapMessage as msg:
            return {"E_SUBRC": "4", "T_FTPOST": params.get("T_FTPOST") or [], "T_FTCLEAR": params.get("T_FTCLEAR") or [],
                    "T_BLNTAB": [], "RETURN": [bapiret2(msg)]}
        done = SapMessage("RW", "614", msgtype="S") if testrun else SapMessage("F5", "312", belnr, bukrs, msgtype="S")
        return {"E_SUBRC": "0", "T_FTPOST": params.get("T_FTPOST") or [], "T_FTCLEAR": params.get("T_FTCLEAR") or [],
                "T_BLNTAB": [{"BUKRS": bukrs, "BELNR": belnr, "GJAHR": gjahr}] if belnr else [],
                "RETURN": [bapiret2(done)]}

    def document_post(self, params: dict[str, Any], ctx: Context, *, commit_inside: bool) -> dict[str, Any]:
        header = params.get("DOCUMENTHEADER") or {}
        testrun = params.get("TESTRUN") == "X"
        tables = {k: params.get(k) or [] for k in ("ACCOUNTGL", "ACCOUNTRECEIVABLE", "CURRENCYAMOUNT")}
        ledger = self.ledger
        try:
            bukrs, belnr, gjahr = ledger.post_document(header, tables["ACCOUNTGL"], tables["ACCOUNTRECEIVABLE"],
                                                       tables["CURRENCYAMOUNT"], user=ctx.user,
                                                       authorized=ctx.company_codes, testrun=testrun, persist=False)
        except SapMessage as msg:
            first = SapMessage("RW", "609", "BKPFF", "$", "CONCLNT100")
            return {"OBJ_TYPE": "", "OBJ_KEY": "", "OBJ_SYS": "", **tables,
                    "RETURN": [bapiret2(first), bapiret2(msg)]}
        if testrun:
            return {"OBJ_TYPE": "", "OBJ_KEY": "", "OBJ_SYS": "", **tables,
                    "RETURN": [bapiret2(SapMessage("RW", "614", msgtype="S"))]}

        def update_task() -> None:
            # What the BAPI registered in the update task runs only when its own session commits.
            ledger.post_document(header, tables["ACCOUNTGL"], tables["ACCOUNTRECEIVABLE"], tables["CURRENCYAMOUNT"],
                                 user=ctx.user, authorized=None, number=belnr)

        ctx.pending.append(update_task)
        if commit_inside:
            for task in ctx.pending:
                task()
            ctx.pending.clear()
        obj_key = f"{belnr}{bukrs}{gjahr}"
        return {"OBJ_TYPE": "BKPFF", "OBJ_KEY": obj_key, "OBJ_SYS": "CONCLNT100", **tables,
                "RETURN": [bapiret2(SapMessage("RW", "605", "BKPFF", obj_key, "CONCLNT100", msgtype="S"))]}

    def commit(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        for task in ctx.pending:
            task()
        ctx.pending.clear()
        return {"RETURN": {"TYPE": "", "ID": "", "NUMBER": "000", "MESSAGE": "", "LOG_NO": "", "LOG_MSG_NO": "000000",
                           "MESSAGE_V1": "", "MESSAGE_V2": "", "MESSAGE_V3": "", "MESSAGE_V4": "", "PARAMETER": "",
                           "ROW": "0", "FIELD": "", "SYSTEM": ""}}

    def reverse(self, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The customer's FBRA wrapper (reset clearing, then reverse): Z_..._RESET_REVERSE."""
        bukrs = params.get("I_BUKRS") or ""
        try:
            if "*" not in ctx.company_codes and bukrs not in ctx.company_codes:
                raise SapMessage("FS", "152", bukrs)
            rev = self.ledger.reset_and_reverse(bukrs, params.get("I_BELNR") or "", params.get("I_GJAHR") or "",
                                                user=ctx.user, budat=_date_param(params, "I_BUDAT"),
                                                reason=params.get("I_STGRD") or "01",
                                                xblnr=(params.get("I_XBLNR") or "").upper() or None)
        except SapMessage as msg:
            return {"E_BELNR": "", "E_GJAHR": "0000", "RETURN": [bapiret2(msg)]}
        return {"E_BELNR": rev, "E_GJAHR": params.get("I_BUDAT", "")[:4],
                "RETURN": [bapiret2(SapMessage("F5", "170", params.get("I_BELNR"), rev, msgtype="S"))]}


# -- RFC_READ_TABLE helpers ---------------------------------------------------------------------------


def _write(f: Field, value: Any, notation: str, currency_decimals: int) -> str:
    """A value as ABAP ``WRITE`` puts it in the work area: dates YYYYMMDD, packed numbers with the
    user's decimal notation and a trailing minus; amounts (CURR) in internal format, i.e. shifted
    for currencies with other than two decimals (TCURX)."""
    width = f.output_length
    if f.type == "D":
        return value.strftime("%Y%m%d") if value else "00000000"
    if f.type == "P":
        number = Decimal(value or 0)
        if f.decimals == 2 and f.name in ("DMBTR", "WRBTR", "WMWST") and currency_decimals != 2:
            number = number.scaleb(currency_decimals - 2)
        text = f"{abs(number):,.{f.decimals}f}"
        if notation == " ":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        elif notation == "Y":
            text = text.replace(",", " ").replace(".", ",")
        text += "-" if number < 0 else " "
        return text.rjust(width)[-width:]
    text = "" if value is None else str(value)
    return text.ljust(width)[:width]


_TOKEN = re.compile(r"\s*(\(|\)|'(?:[^']|'')*'|<>|<=|>=|=|<|>|[A-Za-z_][A-Za-z0-9_]*|\S)")


def _where(text: str, columns: dict[str, Field]) -> Callable[[dict[str, Any]], bool]:
    """A small Open SQL WHERE clause: comparisons with literals, AND, OR, NOT and parentheses."""
    tokens = Tokens([t for t in _TOKEN.findall(text) if t.strip()], str.upper,
                    lambda: AbapException("OPTION_NOT_VALID", f"Incomplete WHERE clause: {text}"))

    def comparison(tokens: Tokens):
        name = tokens.take().upper()
        if name not in columns:
            raise AbapException("OPTION_NOT_VALID", f"Unknown column {name} in WHERE clause: {text}")
        op = tokens.take()
        literal = tokens.take()
        if not (literal.startswith("'") and literal.endswith("'")):
            raise AbapException("OPTION_NOT_VALID", f"Literal expected after {name} {op}: {text}")
        value = literal[1:-1].replace("''", "'")
        column = columns[name]

        def as_text(v: Any) -> str:
            if column.type == "D":
                return v.strftime("%Y%m%d") if v else "00000000"
            return "" if v is None else str(v)

        compare = {"=": lambda a: a == value, "<>": lambda a: a != value, "<": lambda a: a < value,
                   ">": lambda a: a > value, "<=": lambda a: a <= value, ">=": lambda a: a >= value,
                   "EQ": lambda a: a == value, "NE": lambda a: a != value}.get(op.upper())
        if compare is None:
            raise AbapException("OPTION_NOT_VALID", f"Unknown operator {op}: {text}")
        return lambda r: compare(as_text(r.get(name)).rstrip())

    return boolean(tokens, comparison, words=("OR", "AND", "NOT"),
                   unbalanced=lambda: AbapException("OPTION_NOT_VALID", f"Unbalanced parentheses: {text}"),
                   unexpected=lambda t: AbapException("OPTION_NOT_VALID", f"Unexpected {t!r} in WHERE clause: {text}"))
