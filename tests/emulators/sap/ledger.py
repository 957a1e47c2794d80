"""The emulator's accounting data and the FI behaviour behind its functions.

Tables as SAP keeps them: ``KNA1`` (customer general data, ``STCD1`` holding the NIT), ``KNB1``
(customer per company code), ``BKPF`` (document headers), ``BSID`` (open customer items) and
``BSAD`` (cleared customer items, with ``AUGBL``/``AUGDT``), plus the G/L lines of the payment
documents. Behaviour:

- ``open_items`` is ``BAPI_AR_ACC_GETOPENITEMS``'s selection (public copy of the function body,
  ``marcelochal/zmig_dm`` ``zffi_ar_acc_getopenitems``): BSID items posted on or before the key
  date, plus BSAD items posted by then and cleared after it.
- ``clear`` is FB05 driven through ``POSTING_INTERFACE_CLEARING``: header fields (``BKPF-*``), new
  lines (``RF05A-NEWBS``/``RF05A-NEWKO``/``BSEG-*``) and the items to clear, selected by document
  number (``BELNR`` + ``GJAHR`` + ``BUZEI``). The payment document gets one customer line per
  cleared item; they and the cleared items move to BSAD with the payment as clearing document.
  A residual item is a new line with posting key 06 referring to the invoice (``REBZG``). The
  document must balance in transaction currency (``F5 702``), its posting date must be in an open
  period (``F5 201``). Nothing is written unless every check passes, as an LUW rolls back.
- ``post_document`` is ``BAPI_ACC_DOCUMENT_POST`` (G/L and customer lines, posting keys derived
  from the sign).
- Amounts are kept in external form (``WRBTR`` ``1190000`` for 1,190,000 COP whatever TCURX says);
  every posting path takes them that way (``FTPOST-FVAL``, ``AMT_DOCCUR``, the journal entry's
  amounts) and refuses more decimals than :attr:`Ledger.decimals` (TCURX) gives the currency. Only
  ``RFC_READ_TABLE`` shows the internal value, shifted for currencies without two decimals.
- Duplicate reference (``XBLNR``) detection is off by default, as for customer documents in SAP.

Message numbers: ``F5 201`` (posting period not open), ``F5 312`` (document posted), ``F5 702``
(balance) and ``RW 605``/``RW 609`` (BAPI posted / error in document) are SAP's; the others are the
emulator's own stand-ins, worded like SAP's. The connector never depends on a number.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


class SapMessage(Exception):
    """An ABAP message (``MESSAGE ID .. TYPE .. NUMBER ..``) ending the function's work."""

    TEXTS = {
        ("F5", "201"): "Posting period {1} {2} is not open",
        ("F5", "312"): "Document {1} was posted in company code {2}",
        ("F5", "702"): "Balance in transaction currency {1}",
        ("F5", "150"): "Account {1} does not exist in company code {2}",
        ("F5", "151"): "G/L account {1} is not defined in company code {2}",
        ("F5", "153"): "No open item {1} for account {2} in company code {3}",
        ("F5", "154"): "Open item {1} is in currency {2}, not in the document currency {3}",
        ("F5", "155"): "Posting key {1} is not defined",
        ("F5", "156"): "Company code {1} does not exist",
        ("F5", "157"): "Currency {1} is not defined",
        ("F5", "158"): "Field {1}: the value {2} cannot be interpreted",
        ("F5", "159"): "Check whether document has already been entered under number {1} {2}",
        ("F5", "160"): "Document contains no line items",
        ("F5", "161"): "Field {1} is a required field",
        ("F5", "162"): "Clearing procedure {1} is not defined",
        ("F5", "163"): "Amount in field BSEG-WRBTR must be positive; {1} is not",
        ("F5", "164"): "Open item {1} is already being cleared by {2}",
        ("F5", "165"): "Account {1} in company code {2} is locked by user {3}",
        ("F5", "166"): "Document {1} {2} {3} does not exist",
        ("F5", "167"): "Clearing document {1} cannot be reset: it is not a clearing",
        ("F5", "168"): "Document {1} {2} is already reversed",
        ("F5", "169"): "Document {1} {2} contains cleared items; reset the clearing first",
        ("F5", "170"): "Document {1} of the posting interface was reversed with {2}",
        ("F5", "171"): "Clearing {1} was reset",
        # Stand-in number: the journal entry API's own text for a code that contradicts the sign.
        ("F5", "172"): "Debit/credit code {1} does not match the sign of amount {2}",
        # Stand-in number: an external amount with more decimals than TCURX gives its currency.
        ("F5", "173"): "Amount {1} has more decimal places than currency {2} allows ({3})",
        ("FS", "152"): "No authorization for company code {1} (authorization object F_BKPF_BUK)",
        ("RW", "605"): "Document posted successfully: {1} {2} {3}",
        ("RW", "609"): "Error in document: {1} {2} {3}",
        ("RW", "614"): "Document check without errors",
        ("RW", "022"): "FI/CO interface: line item entered twice",
        ("F2", "718"): "No customers were found for the selection criteria",
        ("F2", "543"): "No authorization to display general data for customer accounts",
        ("F2", "501"): "No authorization to display debtor data in company code {1}",
        ("00", "344"): "No batch input data for screen {1} {2}",
    }

    def __init__(self, msgid: str, number: str, *values: object, msgtype: str = "E") -> None:
        self.msgid, self.number, self.type = msgid, number, msgtype
        self.values = tuple(str(v) for v in values) + ("",) * (4 - len(values))
        template = self.TEXTS.get((msgid, number), "{1} {2} {3} {4}")
        self.text = template.format("", *self.values).strip()
        super().__init__(f"{msgid} {number}: {self.text}")


DEBIT_KEYS = {"01": "D", "05": "D", "06": "D", "09": "D", "40": "S"}
CREDIT_KEYS = {"11": "D", "15": "D", "16": "D", "19": "D", "50": "S"}


def alpha(value: str, length: int = 10) -> str:
    """SAP's ALPHA input conversion: a purely numeric value is padded with zeros."""
    value = value.strip()
    return value.zfill(length) if value.isdigit() else value.upper()


@dataclass
class Company:
    currency: str = "COP"
    open_from: dt.date = dt.date(2000, 1, 1)  # posting periods before this are closed
    closed: set[tuple[int, int]] = field(default_factory=set)
    gl_accounts: set[str] = field(default_factory=set)
    recon_account: str = "0013050500"  # deudores nacionales (PUC 130505)


@dataclass
class Customer:
    KUNNR: str
    NAME1: str
    STCD1: str = ""
    STCD2: str = ""
    LAND1: str = "CO"
    ORT01: str = "BOGOTA"
    NAME2: str = ""
    LOEVM: str = ""
    SPERR: str = ""


class Item:
    """A customer line item: a BSID row while open, a BSAD row once cleared."""

    __slots__ = ("BUKRS", "KUNNR", "UMSKZ", "AUGDT", "AUGBL", "ZUONR", "GJAHR", "BELNR", "BUZEI", "BUDAT",
                 "BLDAT", "CPUDT", "WAERS", "XBLNR", "BLART", "MONAT", "BSCHL", "SHKZG", "DMBTR", "WRBTR",
                 "WMWST", "SGTXT", "ZFBDT", "ZTERM", "ZBD1T", "ZBD2T", "ZBD3T", "ZBD1P", "ZBD2P", "REBZG",
                 "REBZJ", "REBZZ", "REBZT", "XREF3", "BSTAT", "HWAER")

    def __init__(self, **values) -> None:
        defaults = dict(UMSKZ="", AUGDT=None, AUGBL="", ZUONR="", XBLNR="", BLART="", BSCHL="", SGTXT="",
                        WMWST=Decimal(0), ZTERM="", ZBD1T=0, ZBD2T=0, ZBD3T=0, ZBD1P=Decimal(0), ZBD2P=Decimal(0),
                        REBZG="", REBZJ="", REBZZ="", REBZT="", XREF3="", BSTAT="", CPUDT=None, ZFBDT=None,
                        HWAER="COP")
        defaults.update(values)
        for name in self.__slots__:
            setattr(self, name, defaults[name])
        if self.CPUDT is None:
            self.CPUDT = self.BUDAT
        if self.ZFBDT is None:
            self.ZFBDT = self.BLDAT

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.BUKRS, self.GJAHR, self.BELNR, self.BUZEI)

    @property
    def signed(self) -> Decimal:
        return self.WRBTR if self.SHKZG == "S" else -self.WRBTR


@dataclass
class Header:
    BUKRS: str
    BELNR: str
    GJAHR: str
    BLART: str
    BLDAT: dt.date
    BUDAT: dt.date
    MONAT: str
    CPUDT: dt.date
    USNAM: str
    XBLNR: str
    BKTXT: str
    WAERS: str
    BSTAT: str = ""
    STBLG: str = ""
    STJAH: str = ""


@dataclass
class GlLine:
    BUKRS: str
    BELNR: str
    GJAHR: str
    BUZEI: str
    HKONT: str
    BSCHL: str
    SHKZG: str
    WRBTR: Decimal
    WAERS: str
    ZUONR: str = ""
    SGTXT: str = ""
    VALUT: dt.date | None = None


NUMBER_RANGES = {"DZ": 1400000000, "DR": 1800000000, "DG": 1600000000, "AB": 100000000, "SA": 100000000}


class Ledger:
    """Company codes, customers and documents, behind one lock (SAP's enqueue, simplified)."""

    def __init__(self, client: str = "100") -> None:
        self.client = client
        self.lock = threading.RLock()
        self.companies: dict[str, Company] = {}
        self.kna1: dict[str, Customer] = {}
        self.knb1: set[tuple[str, str]] = set()  # (KUNNR, BUKRS)
        self.bkpf: dict[tuple[str, str, str], Header] = {}
        self.bsid: dict[tuple[str, str, str, str], Item] = {}
        self.bsad: dict[tuple[str, str, str, str], Item] = {}
        self.open_by_customer: dict[tuple[str, str], dict[tuple, Item]] = defaultdict(dict)
        self.cleared_by_customer: dict[tuple[str, str], dict[tuple, Item]] = defaultdict(dict)
        self.gl_lines: list[GlLine] = []
        self.ranges: dict[tuple[str, str, str], int] = {}
        self.rates: dict[str, Decimal] = {"USD": Decimal("4000.00"), "EUR": Decimal("4400.00"), "JPY": Decimal("27.00")}
        self.decimals: dict[str, int] = {"COP": 2, "USD": 2, "EUR": 2, "JPY": 0, "CLP": 0}
        self.duplicate_reference_check = False
        self.locked_accounts: dict[tuple[str, str], str] = {}  # (BUKRS, KUNNR) -> user holding the lock

    # -- set-up ----------------------------------------------------------------------------------
    def add_company(self, bukrs: str, **kwargs) -> Company:
        self.companies[bukrs] = Company(**kwargs)
        return self.companies[bukrs]

    def add_customer(self, kunnr: str, name: str, *, stcd1: str = "", stcd2: str = "",
                     company_codes: tuple[str, ...] = (), name2: str = "", loevm: str = "", sperr: str = "") -> str:
        kunnr = alpha(kunnr)
        self.kna1[kunnr] = Customer(kunnr, name, stcd1, stcd2, NAME2=name2, LOEVM=loevm, SPERR=sperr)
        for bukrs in company_codes:
            self.knb1.add((kunnr, bukrs))
        return kunnr

    def next_number(self, bukrs: str, gjahr: str, blart: str) -> str:
        key = (bukrs, gjahr, blart)
        start = NUMBER_RANGES.get(blart, 100000000)
        self.ranges[key] = self.ranges.get(key, start) + 1
        return f"{self.ranges[key]:010d}"

    def check_decimals(self, amount: Decimal, currency: str) -> None:
        """An amount arrives in external format (``1190000`` COP where TCURX gives COP no decimals):
        one with more decimals than the currency has cannot be converted to the internal value."""
        places = self.decimals.get(currency, 2)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise SapMessage("F5", "173", amount, currency, places)

    def local_amount(self, bukrs: str, currency: str, amount: Decimal) -> Decimal:
        company = self.companies[bukrs]
        if currency == company.currency:
            return amount
        unit = Decimal(1).scaleb(-self.decimals.get(company.currency, 2))
        return (amount * self.rates[currency]).quantize(unit, ROUND_HALF_UP)

    def post_invoice(self, bukrs: str, kunnr: str, amount: Decimal, currency: str, *, xblnr: str,
                     bldat: dt.date, budat: dt.date | None = None, zuonr: str | None = None, sgtxt: str = "",
                     days_net: int = 30, days_discount: int = 0, discount_pct: Decimal = Decimal(0),
                     tax: Decimal = Decimal(0), blart: str = "DR", belnr: str | None = None) -> Item:
        """An invoice (or, with a negative amount, a credit memo) posted as SD billing would post
        it: one customer line; the assignment defaults to the reference (sort key 009)."""
        with self.lock:
            budat = budat or bldat
            gjahr = str(budat.year)
            belnr = alpha(belnr) if belnr else self.next_number(bukrs, gjahr, blart)
            debit = amount > 0
            self.bkpf[(bukrs, belnr, gjahr)] = Header(bukrs, belnr, gjahr, blart, bldat, budat, f"{budat.month:02d}",
                                                      budat, "SD_BILLING", xblnr, "", currency)
            item = Item(BUKRS=bukrs, KUNNR=alpha(kunnr), ZUONR=xblnr if zuonr is None else zuonr, GJAHR=gjahr,
                        BELNR=belnr, BUZEI="001", BUDAT=budat, BLDAT=bldat, WAERS=currency, XBLNR=xblnr,
                        BLART=blart, MONAT=f"{budat.month:02d}", BSCHL="01" if debit else "11",
                        SHKZG="S" if debit else "H", WRBTR=abs(amount),
                        DMBTR=self.local_amount(bukrs, currency, abs(amount)), WMWST=tax, SGTXT=sgtxt,
                        ZFBDT=bldat, ZBD1T=days_discount if discount_pct else 0, ZBD1P=discount_pct,
                        ZBD3T=days_net, HWAER=self.companies[bukrs].currency)
            self._open(item)
            return item

    def _open(self, item: Item) -> None:
        self.bsid[item.key] = item
        self.open_by_customer[(item.BUKRS, item.KUNNR)][item.key] = item

    def _clear(self, item: Item, augbl: str, augdt: dt.date) -> None:
        del self.bsid[item.key]
        del self.open_by_customer[(item.BUKRS, item.KUNNR)][item.key]
        item.AUGBL, item.AUGDT = augbl, augdt
        self.bsad[item.key] = item
        self.cleared_by_customer[(item.BUKRS, item.KUNNR)][item.key] = item

    def _reopen(self, item: Item) -> None:
        del self.bsad[item.key]
        del self.cleared_by_customer[(item.BUKRS, item.KUNNR)][item.key]
        item.AUGBL, item.AUGDT = "", None
        self._open(item)

    # -- checks ----------------------------------------------------------------------------------
    def company(self, bukrs: str) -> Company:
        if bukrs not in self.companies:
            raise SapMessage("F5", "156", bukrs)
        return self.companies[bukrs]

    def check_period(self, bukrs: str, budat: dt.date) -> None:
        company = self.company(bukrs)
        if budat < company.open_from or (budat.year, budat.month) in company.closed:
            raise SapMessage("F5", "201", f"{budat.month:03d}", budat.year, "D", "0001")

    def check_customer(self, bukrs: str, kunnr: str) -> None:
        if (kunnr, bukrs) not in self.knb1:
            raise SapMessage("F5", "150", kunnr, bukrs)
        holder = self.locked_accounts.get((bukrs, kunnr))
        if holder:
            raise SapMessage("F5", "165", kunnr, bukrs, holder)

    # -- reads -------------------------------------------------------------------------------------
    def open_items(self, bukrs: str, kunnr: str, keydate: dt.date) -> list[Item]:
        with self.lock:
            key = (bukrs, kunnr)
            out = [i for i in self.open_by_customer.get(key, {}).values() if i.BUDAT <= keydate]
            out += [i for i in self.cleared_by_customer.get(key, {}).values()
                    if i.BUDAT <= keydate and i.AUGDT > keydate]
            return sorted(out, key=lambda i: (i.GJAHR, i.BELNR, i.BUZEI))

    def balanced_items(self, bukrs: str, kunnr: str, date_from: dt.date, date_to: dt.date) -> list[Item]:
        with self.lock:
            items = self.cleared_by_customer.get((bukrs, kunnr), {}).values()
            return sorted((i for i in items if date_from <= i.AUGDT <= date_to),
                          key=lambda i: (i.AUGBL, i.GJAHR, i.BELNR, i.BUZEI))

    def find_item(self, bukrs: str, belnr: str, gjahr: str, buzei: str) -> Item | None:
        key = (bukrs, gjahr, belnr, buzei)
        return self.bsid.get(key) or self.bsad.get(key)

    # -- FB05: post with clearing ------------------------------------------------------------------
    def clear(self, ftpost: list[dict[str, str]], ftclear: list[dict[str, str]], *, user: str, auglv: str,
              testrun: bool = False, authorized: set[str] | None = None) -> tuple[str, str, str]:
        """Post with clearing; returns (BUKRS, BELNR, GJAHR). Raises SapMessage, changing nothing."""
        if auglv not in ("EINGZAHL", "AUSGZAHL", "UMBUCHNG", "GUTSCHRI"):
            raise SapMessage("F5", "162", auglv)
        header: dict[str, str] = {}
        lines: dict[str, dict[str, str]] = {}
        for row in ftpost:
            if row.get("STYPE") == "K":
                header[row["FNAM"]] = row["FVAL"]
            else:
                lines.setdefault(row.get("COUNT", "001"), {})[row["FNAM"]] = row["FVAL"]
        with self.lock:
            bukrs = header.get("BKPF-BUKRS", "")
            self.company(bukrs)
            if authorized is not None and "*" not in authorized and bukrs not in authorized:
                raise SapMessage("FS", "152", bukrs)
            waers = header.get("BKPF-WAERS", "")
            if waers not in self.decimals:
                raise SapMessage("F5", "157", waers)
            budat = _date(header, "BKPF-BUDAT")
            bldat = _date(header, "BKPF-BLDAT")
            self.check_period(bukrs, budat)
            xblnr = header.get("BKPF-XBLNR", "").upper()
            if self.duplicate_reference_check and xblnr:
                for h in self.bkpf.values():
                    if h.BUKRS == bukrs and h.XBLNR == xblnr and not h.STBLG:
                        raise SapMessage("F5", "159", h.BELNR, h.GJAHR)

            new_lines: list[tuple[str, str, Decimal, dict[str, str]]] = []  # (bschl, account, amount, fields)
            for count in sorted(lines):
                fields = lines[count]
                bschl = fields.get("RF05A-NEWBS", "")
                if bschl not in DEBIT_KEYS and bschl not in CREDIT_KEYS:
                    raise SapMessage("F5", "155", bschl)
                account = alpha(fields.get("RF05A-NEWKO", ""))
                amount = _amount(fields, "BSEG-WRBTR")
                if amount <= 0:
                    raise SapMessage("F5", "163", amount)
                self.check_decimals(amount, waers)
                if (DEBIT_KEYS | CREDIT_KEYS)[bschl] == "D":
                    self.check_customer(bukrs, account)
                elif account not in self.companies[bukrs].gl_accounts:
                    raise SapMessage("F5", "151", account, bukrs)
                new_lines.append((bschl, account, amount, fields))

            to_clear: list[Item] = []
            for sel in ftclear:
                if sel.get("AGKOA", "D") != "D" or sel.get("SELFD") != "BELNR":
                    raise SapMessage("F5", "158", "SELFD", sel.get("SELFD", ""))
                kunnr = alpha(sel.get("AGKON", ""))
                agbuk = sel.get("AGBUK", "") or bukrs
                self.check_customer(agbuk, kunnr)
                selvon = sel.get("SELVON", "").ljust(17)
                belnr, gjahr, buzei = selvon[:10].strip(), selvon[10:14].strip() or str(budat.year), selvon[14:17].strip()
                candidates = [i for i in self.open_by_customer.get((agbuk, kunnr), {}).values()
                              if i.BELNR == alpha(belnr) and i.GJAHR == gjahr and (not buzei or i.BUZEI == buzei)]
                if not candidates:
                    raise SapMessage("F5", "153", f"{belnr} {gjahr} {buzei}".strip(), kunnr, agbuk)
                for item in candidates:
                    if item.WAERS != waers:
                        raise SapMessage("F5", "154", item.BELNR, item.WAERS, waers)
                    if item in to_clear:
                        raise SapMessage("F5", "164", item.BELNR, "this document")
                    to_clear.append(item)
            if not new_lines and not to_clear:
                raise SapMessage("F5", "160")

            balance = sum((a if b in DEBIT_KEYS else -a for b, _, a, _ in new_lines), Decimal(0))
            balance -= sum((i.signed for i in to_clear), Decimal(0))
            if balance != 0:
                raise SapMessage("F5", "702", f"{balance} {waers}")
            if testrun:
                return bukrs, "", str(budat.year)

            gjahr = str(budat.year)
            blart = header.get("BKPF-BLART", "DZ") or "DZ"
            belnr = self.next_number(bukrs, gjahr, blart)
            monat = f"{budat.month:02d}"
            self.bkpf[(bukrs, belnr, gjahr)] = Header(bukrs, belnr, gjahr, blart, bldat, budat, monat, dt.date.today(),
                                                      user, xblnr, header.get("BKPF-BKTXT", ""), waers)
            buzei = 0
            for bschl, account, amount, fields in new_lines:
                buzei += 1
                debit = bschl in DEBIT_KEYS
                if (DEBIT_KEYS | CREDIT_KEYS)[bschl] == "S":
                    self.gl_lines.append(GlLine(bukrs, belnr, gjahr, f"{buzei:03d}", account, bschl,
                                                "S" if debit else "H", amount, waers, fields.get("BSEG-ZUONR", ""),
                                                fields.get("BSEG-SGTXT", ""), _date(fields, "BSEG-VALUT", None)))
                    continue
                item = Item(BUKRS=bukrs, KUNNR=account, ZUONR=fields.get("BSEG-ZUONR", ""), GJAHR=gjahr, BELNR=belnr,
                            BUZEI=f"{buzei:03d}", BUDAT=budat, BLDAT=bldat, CPUDT=dt.date.today(), WAERS=waers,
                            XBLNR=xblnr, BLART=blart, MONAT=monat, BSCHL=bschl, SHKZG="S" if debit else "H",
                            WRBTR=amount, DMBTR=self.local_amount(bukrs, waers, amount),
                            SGTXT=fields.get("BSEG-SGTXT", ""), ZFBDT=_date(fields, "BSEG-ZFBDT", None) or budat,
                            ZBD1T=int(fields.get("BSEG-ZBD1T", "0") or 0), ZBD3T=int(fields.get("BSEG-ZBD3T", "0") or 0),
                            ZBD1P=Decimal(fields.get("BSEG-ZBD1P", "0") or 0),
                            REBZG=alpha(fields["BSEG-REBZG"]) if fields.get("BSEG-REBZG") else "",
                            REBZJ=fields.get("BSEG-REBZJ", ""), REBZZ=fields.get("BSEG-REBZZ", ""),
                            REBZT=fields.get("BSEG-REBZT", ""), XREF3=fields.get("BSEG-XREF3", ""),
                            HWAER=self.companies[bukrs].currency)
                self._open(item)
            for cleared in to_clear:
                buzei += 1
                offset = Item(BUKRS=bukrs, KUNNR=cleared.KUNNR, ZUONR=cleared.ZUONR, GJAHR=gjahr, BELNR=belnr,
                              BUZEI=f"{buzei:03d}", BUDAT=budat, BLDAT=bldat, CPUDT=dt.date.today(), WAERS=waers,
                              XBLNR=xblnr, BLART=blart, MONAT=monat, BSCHL="15" if cleared.SHKZG == "S" else "05",
                              SHKZG="H" if cleared.SHKZG == "S" else "S", WRBTR=cleared.WRBTR,
                              DMBTR=cleared.DMBTR, SGTXT=cleared.SGTXT, ZFBDT=budat,
                              HWAER=self.companies[bukrs].currency)
                self._open(offset)
                self._clear(offset, belnr, budat)
                self._clear(cleared, belnr, budat)
            return bukrs, belnr, gjahr

    # -- BAPI_ACC_DOCUMENT_POST ----------------------------------------------------------------------
    def post_document(self, header: dict[str, str], gl: list[dict[str, str]], ar: list[dict[str, str]],
                      amounts: list[dict[str, str]], *, user: str, authorized: set[str] | None,
                      testrun: bool = False, persist: bool = True, number: str | None = None) -> tuple[str, str, str]:
        with self.lock:
            bukrs = header.get("COMP_CODE", "")
            self.company(bukrs)
            if authorized is not None and "*" not in authorized and bukrs not in authorized:
                raise SapMessage("FS", "152", bukrs)
            if header.get("BUS_ACT") != "RFBU":
                raise SapMessage("F5", "161", "BUS_ACT")
            if not header.get("USERNAME"):
                raise SapMessage("F5", "161", "USERNAME")
            budat = _iso(header.get("PSTNG_DATE", ""), "PSTNG_DATE")
            bldat = _iso(header.get("DOC_DATE", ""), "DOC_DATE")
            self.check_period(bukrs, budat)
            by_item = {a["ITEMNO_ACC"].lstrip("0"): a for a in amounts}
            lines = []
            seen = set()
            for kind, row in [("S", r) for r in gl] + [("D", r) for r in ar]:
                no = row.get("ITEMNO_ACC", "").lstrip("0")
                if no in seen:
                    raise SapMessage("RW", "022")
                seen.add(no)
                amount_row = by_item.get(no)
                if amount_row is None:
                    raise SapMessage("F5", "161", f"CURRENCYAMOUNT for item {no}")
                amount = Decimal(amount_row.get("AMT_DOCCUR", "0") or "0")
                waers = amount_row.get("CURRENCY", "")
                if waers not in self.decimals:
                    raise SapMessage("F5", "157", waers)
                self.check_decimals(amount, waers)
                if kind == "S":
                    account = alpha(row.get("GL_ACCOUNT", ""))
                    if account not in self.companies[bukrs].gl_accounts:
                        raise SapMessage("F5", "151", account, bukrs)
                else:
                    account = alpha(row.get("CUSTOMER", ""))
                    self.check_customer(bukrs, account)
                lines.append((kind, account, amount, waers, row))
            if not lines:
                raise SapMessage("F5", "160")
            waers = lines[0][3]
            balance = sum((a for _, _, a, _, _ in lines), Decimal(0))
            if balance != 0:
                raise SapMessage("F5", "702", f"{balance} {waers}")
            gjahr = str(budat.year)
            if testrun:
                return bukrs, "", gjahr
            blart = header.get("DOC_TYPE", "SA") or "SA"
            # The number is drawn when the BAPI runs, and lost if its LUW never commits (a gap, as in SAP).
            belnr = number or self.next_number(bukrs, gjahr, blart)
            if not persist:
                return bukrs, belnr, gjahr
            xblnr = header.get("REF_DOC_NO", "").upper()
            monat = f"{budat.month:02d}"
            self.bkpf[(bukrs, belnr, gjahr)] = Header(bukrs, belnr, gjahr, blart, bldat, budat, monat, dt.date.today(),
                                                      user, xblnr, header.get("HEADER_TXT", ""), waers)
            for n, (kind, account, amount, cur, row) in enumerate(lines, start=1):
                debit = amount > 0
                if kind == "S":
                    self.gl_lines.append(GlLine(bukrs, belnr, gjahr, f"{n:03d}", account, "40" if debit else "50",
                                                "S" if debit else "H", abs(amount), cur, row.get("ALLOC_NMBR", ""),
                                                row.get("ITEM_TEXT", ""),
                                                _iso(row.get("VALUE_DATE", ""), "VALUE_DATE", None)))
                    continue
                self._open(Item(BUKRS=bukrs, KUNNR=account, ZUONR=row.get("ALLOC_NMBR", ""), GJAHR=gjahr, BELNR=belnr,
                                BUZEI=f"{n:03d}", BUDAT=budat, BLDAT=bldat, CPUDT=dt.date.today(), WAERS=cur,
                                XBLNR=xblnr, BLART=blart, MONAT=monat, BSCHL="01" if debit else "11",
                                SHKZG="S" if debit else "H", WRBTR=abs(amount),
                                DMBTR=self.local_amount(bukrs, cur, abs(amount)), SGTXT=row.get("ITEM_TEXT", ""),
                                ZFBDT=budat, XREF3=row.get("REF_KEY_3", ""),
                                HWAER=self.companies[bukrs].currency))
            return bukrs, belnr, gjahr

    # -- S/4HANA: Journal Entry - Post, and clearing without line items ------------------------------
    def post_journal_entry(self, header: dict[str, str], gl: list[dict[str, Any]], debtors: list[dict[str, Any]],
                           *, user: str) -> tuple[str, str, str]:
        """One journal entry from the SOAP service; amounts are signed (debit positive)."""
        with self.lock:
            bukrs = header.get("CompanyCode", "")
            self.company(bukrs)
            budat = _iso(header.get("PostingDate", ""), "PostingDate")
            bldat = _iso(header.get("DocumentDate", ""), "DocumentDate")
            self.check_period(bukrs, budat)
            lines = [("S", row) for row in gl] + [("D", row) for row in debtors]
            if not lines:
                raise SapMessage("F5", "160")
            currencies = {row["currency"] for _, row in lines}
            if len(currencies) != 1 or not currencies <= set(self.decimals):
                raise SapMessage("F5", "157", ", ".join(sorted(currencies)))
            waers = currencies.pop()
            for kind, row in lines:
                self.check_decimals(row["amount"], waers)
                if kind == "S" and alpha(row["GLAccount"]) not in self.companies[bukrs].gl_accounts:
                    raise SapMessage("F5", "151", alpha(row["GLAccount"]), bukrs)
                if kind == "D":
                    self.check_customer(bukrs, alpha(row["Debtor"]))
            balance = sum((row["amount"] for _, row in lines), Decimal(0))
            if balance != 0:
                raise SapMessage("F5", "702", f"{balance} {waers}")
            gjahr = str(budat.year)
            blart = header.get("AccountingDocumentType", "DZ") or "DZ"
            belnr = self.next_number(bukrs, gjahr, blart)
            monat = f"{budat.month:02d}"
            xblnr = header.get("DocumentReferenceID", "").upper()
            self.bkpf[(bukrs, belnr, gjahr)] = Header(bukrs, belnr, gjahr, blart, bldat, budat, monat, dt.date.today(),
                                                      user, xblnr, header.get("DocumentHeaderText", ""), waers)
            for n, (kind, row) in enumerate(lines, start=1):
                amount = row["amount"]
                debit = amount > 0
                if kind == "S":
                    self.gl_lines.append(GlLine(bukrs, belnr, gjahr, f"{n:03d}", alpha(row["GLAccount"]),
                                                "40" if debit else "50", "S" if debit else "H", abs(amount), waers,
                                                row.get("AssignmentReference", ""), row.get("DocumentItemText", "")))
                    continue
                invoice = row.get("InvoiceReference", "")
                self._open(Item(BUKRS=bukrs, KUNNR=alpha(row["Debtor"]), ZUONR=row.get("AssignmentReference", ""),
                                GJAHR=gjahr, BELNR=belnr, BUZEI=f"{n:03d}", BUDAT=budat, BLDAT=bldat,
                                CPUDT=dt.date.today(), WAERS=waers, XBLNR=xblnr, BLART=blart, MONAT=monat,
                                BSCHL="01" if debit else "15", SHKZG="S" if debit else "H", WRBTR=abs(amount),
                                DMBTR=self.local_amount(bukrs, waers, abs(amount)),
                                SGTXT=row.get("DocumentItemText", ""), ZFBDT=budat,
                                REBZG=alpha(invoice) if invoice else "", REBZJ=row.get("InvoiceReferenceFiscalYear", ""),
                                REBZZ=row.get("InvoiceItemReference", ""), REBZT="Z" if invoice else "",
                                XREF3=row.get("Reference3IDByBusinessPartner", ""),
                                HWAER=self.companies[bukrs].currency))
            return bukrs, belnr, gjahr

    def clear_items(self, bukrs: str, keys: list[tuple[str, str, str, Decimal | None]], *, budat: dt.date,
                    user: str, blart: str = "AB", xblnr: str = "") -> str:
        """Clear open items with a clearing document, as F-32/FB05 "post with clearing" does: the
        items without a partial amount are cleared and must balance against the new lines; an item
        given a partial payment amount stays open, and the clearing document gets a partial
        payment line for it (follow-on type ``Z``, referring to the item)."""
        with self.lock:
            self.company(bukrs)
            self.check_period(bukrs, budat)
            cleared, partial = [], []
            for belnr, gjahr, buzei, amount in keys:
                item = self.bsid.get((bukrs, gjahr, alpha(belnr), buzei.zfill(3)))
                if item is None:
                    raise SapMessage("F5", "153", f"{belnr} {gjahr} {buzei}", "", bukrs)
                if amount is None:
                    cleared.append(item)
                elif amount <= 0 or amount >= item.WRBTR:
                    raise SapMessage("F5", "163", amount)
                else:
                    partial.append((item, amount))
            if len({i.WAERS for i in cleared} | {i.WAERS for i, _ in partial}) > 1:
                raise SapMessage("F5", "154", "", "several currencies", "")
            new_lines = [-(a if i.SHKZG == "S" else -a) for i, a in partial]
            balance = sum((i.signed for i in cleared), Decimal(0)) - sum(new_lines, Decimal(0))
            if balance != 0 or not cleared:
                raise SapMessage("F5", "702", f"{balance}")
            gjahr = str(budat.year)
            augbl = self.next_number(bukrs, gjahr, blart)
            waers = cleared[0].WAERS
            monat = f"{budat.month:02d}"
            self.bkpf[(bukrs, augbl, gjahr)] = Header(bukrs, augbl, gjahr, blart, budat, budat, monat,
                                                      dt.date.today(), user, xblnr, "Clearing", waers)
            buzei = 0
            for item in cleared:
                buzei += 1
                offset = Item(**{k: getattr(item, k) for k in Item.__slots__ if k not in ("BELNR", "GJAHR", "BUZEI")},
                              BELNR=augbl, GJAHR=gjahr, BUZEI=f"{buzei:03d}")
                offset.SHKZG, offset.BUDAT, offset.BLART, offset.XBLNR = ("H" if item.SHKZG == "S" else "S"), budat, \
                    blart, xblnr
                self._open(offset)
                self._clear(offset, augbl, budat)
                self._clear(item, augbl, budat)
            for (item, amount) in partial:
                buzei += 1
                self._open(Item(BUKRS=bukrs, KUNNR=item.KUNNR, ZUONR=item.ZUONR, GJAHR=gjahr, BELNR=augbl,
                                BUZEI=f"{buzei:03d}", BUDAT=budat, BLDAT=budat, WAERS=waers, XBLNR=xblnr, BLART=blart,
                                MONAT=monat, BSCHL="15" if item.SHKZG == "S" else "05",
                                SHKZG="H" if item.SHKZG == "S" else "S", WRBTR=amount,
                                DMBTR=self.local_amount(bukrs, waers, amount), SGTXT=f"Abono {item.XBLNR}",
                                ZFBDT=budat, REBZG=item.BELNR, REBZJ=item.GJAHR, REBZZ=item.BUZEI, REBZT="Z",
                                HWAER=self.companies[bukrs].currency))
            return augbl

    # -- FBRA: reset clearing and reverse --------------------------------------------------------
    def reset_and_reverse(self, bukrs: str, belnr: str, gjahr: str, *, user: str, budat: dt.date,
                          reason: str = "01", xblnr: str | None = None) -> str:
        """Reset the clearing made by a payment document and reverse it; returns the reversal."""
        with self.lock:
            header = self.bkpf.get((bukrs, alpha(belnr), gjahr))
            if header is None:
                raise SapMessage("F5", "166", belnr, bukrs, gjahr)
            if header.STBLG:
                raise SapMessage("F5", "168", header.BELNR, gjahr)
            self.check_period(bukrs, budat)
            cleared = [i for i in self.bsad.values() if i.BUKRS == bukrs and i.AUGBL == header.BELNR
                       and str(i.AUGDT.year) == gjahr]
            own = [i for i in list(self.bsid.values()) + list(self.bsad.values())
                   if i.key[:3] == (bukrs, gjahr, header.BELNR)]
            if any(i.AUGBL and i.AUGBL != header.BELNR for i in own):
                raise SapMessage("F5", "169", header.BELNR, gjahr)
            for item in cleared:
                self._reopen(item)
            rev_year = str(budat.year)
            rev = self.next_number(bukrs, rev_year, "AB")
            self.bkpf[(bukrs, rev, rev_year)] = Header(bukrs, rev, rev_year, "AB", budat, budat, f"{budat.month:02d}",
                                                       dt.date.today(), user, header.XBLNR if xblnr is None else xblnr,
                                                       f"Reversal {reason}",
                                                       header.WAERS, STBLG=header.BELNR, STJAH=gjahr)
            header.STBLG, header.STJAH = rev, rev_year
            for n, item in enumerate([i for i in own if i.key in self.bsid], start=1):
                mirror = Item(**{s: getattr(item, s) for s in Item.__slots__ if s not in ("BELNR", "GJAHR", "BUZEI")},
                              BELNR=rev, GJAHR=rev_year, BUZEI=f"{n:03d}")
                mirror.SHKZG = "H" if item.SHKZG == "S" else "S"
                mirror.BUDAT = budat
                mirror.XBLNR = header.XBLNR if xblnr is None else xblnr
                self._open(mirror)
                self._clear(mirror, rev, budat)
                self._clear(item, rev, budat)
            for line in [g for g in self.gl_lines if (g.BUKRS, g.BELNR, g.GJAHR) == (bukrs, header.BELNR, gjahr)]:
                self.gl_lines.append(GlLine(bukrs, rev, rev_year, line.BUZEI, line.HKONT,
                                            "50" if line.SHKZG == "S" else "40", "H" if line.SHKZG == "S" else "S",
                                            line.WRBTR, line.WAERS, line.ZUONR, line.SGTXT, line.VALUT))
            return rev


def _date(fields: dict[str, str], name: str, default: object = ...) -> dt.date:
    """FTPOST dates: the wrapper hands them over as YYYYMMDD (docs/sap.md)."""
    value = fields.get(name, "")
    if not value:
        if default is ...:
            raise SapMessage("F5", "161", name)
        return default  # type: ignore[return-value]
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise SapMessage("F5", "158", name, value) from None


def _iso(value: str, name: str, default: object = ...) -> dt.date:
    if not value or value == "0000-00-00":
        if default is ...:
            raise SapMessage("F5", "161", name)
        return default  # type: ignore[return-value]
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SapMessage("F5", "158", name, value) from None


def _amount(fields: dict[str, str], name: str) -> Decimal:
    value = fields.get(name, "").strip()
    try:
        return Decimal(value)
    except Exception:
        raise SapMessage("F5", "158", name, value) from None
