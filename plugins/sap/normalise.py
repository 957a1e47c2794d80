"""From SAP's line items to conciliador's open items: numbers, signs, dates and terms.

What SAP hands over and what becomes of it:

- Customer numbers are ALPHA-converted: ``0000001000`` inside SAP, ``1000`` for people. Customer ids
  are shown without the zeros and padded again for every call; document numbers keep SAP's padding.
- Amounts are unsigned, with ``DB_CR_IND`` (``S`` debit, ``H`` credit): a credit memo is negative.
- The due date is the baseline date (``BLINE_DATE``/``ZFBDT``) plus the net days (``NETTERMS``), or
  the second or first cash-discount days when there are no net days, as SAP derives the net due
  date; a credit memo without an invoice reference is due at its baseline date.
- Cash-discount terms (``DSCT_PCT1`` within ``DSCT_DAYS1``) become ``discount_rate``/``discount_until``.
- The reference customers quote is ``REF_DOC_NO`` (``XBLNR``); the assignment (``ALLOC_NMBR``,
  ``ZUONR``) stands in when there is none. A numeric reference loses its leading zeros.
- A residual item (``NXT_DOCTYP`` = ``V``, left by a partial payment) keeps the identity of the
  invoice it came from (``INV_REF``/``INV_YEAR``/``INV_ITEM``), so the invoice stays "the same
  document" for the agent while it is paid in parts; its reference is the invoice's, which the
  connector writes into the residual's assignment when it creates it.

Field names: BAPI3007_2 (sapdatasheet.org APAREBPP_BAPI3007_2; consolut.com BAPI3008_2) for
``BAPI_AR_ACC_GETOPENITEMS``; BSID for bulk reading with ``RFC_READ_TABLE``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from conciliador import OpenItem

# BSID/BSAD column -> BAPI3007_2 field, so rows read with RFC_READ_TABLE go through the same code.
BSID_TO_BAPI = {
    "BUKRS": "COMP_CODE", "KUNNR": "CUSTOMER", "UMSKZ": "SP_GL_IND", "AUGDT": "CLEAR_DATE", "AUGBL": "CLR_DOC_NO",
    "ZUONR": "ALLOC_NMBR", "GJAHR": "FISC_YEAR", "BELNR": "DOC_NO", "BUZEI": "ITEM_NUM", "BUDAT": "PSTNG_DATE",
    "BLDAT": "DOC_DATE", "WAERS": "CURRENCY", "XBLNR": "REF_DOC_NO", "BLART": "DOC_TYPE", "SHKZG": "DB_CR_IND",
    "WRBTR": "AMT_DOCCUR", "WMWST": "TX_DOC_CUR", "ZFBDT": "BLINE_DATE", "ZBD1T": "DSCT_DAYS1",
    "ZBD2T": "DSCT_DAYS2", "ZBD3T": "NETTERMS", "ZBD1P": "DSCT_PCT1", "REBZG": "INV_REF", "REBZJ": "INV_YEAR",
    "REBZZ": "INV_ITEM", "REBZT": "NXT_DOCTYP", "BSTAT": "DOC_STATUS",
}
BSID_FIELDS = tuple(BSID_TO_BAPI)
BSID_DECIMALS = {"WRBTR": 2, "WMWST": 2, "ZBD1T": 0, "ZBD2T": 0, "ZBD3T": 0, "ZBD1P": 3}


def alpha_in(value: str, length: int = 10) -> str:
    """SAP's ALPHA conversion exit, input side: ``1000`` -> ``0000001000``; ``C001`` stays."""
    value = value.strip().upper()
    return value.zfill(length) if value.isdigit() and len(value) <= length else value


def alpha_out(value: str) -> str:
    """ALPHA output side: ``0000001000`` -> ``1000``."""
    value = (value or "").strip()
    return value.lstrip("0") or "0" if value.isdigit() else value


def reference(value: str | None) -> str:
    """A reference as customers write it: a numeric one without its leading zeros."""
    value = (value or "").strip()
    return alpha_out(value) if value.isdigit() else value


def sap_date(value: Any) -> dt.date | None:
    """``YYYY-MM-DD`` (SOAP), ``YYYYMMDD`` (RFC_READ_TABLE); ``0000-00-00`` and blanks are no date."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("-", "")
    if not text or set(text) == {"0"}:
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def number(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("SAP amounts must not reach conciliador as float")
    return Decimal(str(value).strip() or "0")


def written_number(text: str, decimals: int) -> Decimal:
    """A packed number as ABAP ``WRITE`` put it in an RFC_READ_TABLE work area: thousands
    separators and decimal sign per the RFC user's decimal notation (``1,234.56``, ``1.234,56`` or
    ``1 234,56``), minus sign at the end."""
    s = text.strip()
    negative = s.endswith("-") or s.startswith("-")
    s = s.strip("-").strip()
    if decimals:
        whole, fraction = s[: -(decimals + 1)], s[-decimals:]
        if len(s) <= decimals or s[-(decimals + 1)] not in ".,":
            raise ValueError(f"{text!r} is not a number with {decimals} decimals")
    else:
        whole, fraction = s, ""
    digits = "".join(ch for ch in whole if ch not in ",. ")
    if not digits.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"{text!r} is not a number")
    value = Decimal(f"{digits}.{fraction}" if fraction else digits)
    return -value if negative else value


def due_date(baseline: dt.date | None, net: Decimal, days2: Decimal, days1: Decimal, *, credit: bool,
             invoice_reference: str) -> dt.date | None:
    """SAP's net due date: baseline + the last period of the terms that is set."""
    if baseline is None:
        return None
    if credit and not invoice_reference:
        return baseline
    for days in (net, days2, days1):
        if days:
            return baseline + dt.timedelta(days=int(days))
    return baseline


@dataclass(frozen=True)
class SapItem:
    """An open item as the agent sees it, and where it physically is in SAP."""

    item: OpenItem
    belnr: str
    gjahr: str
    buzei: str
    root: tuple[str, str, str]  # the invoice (BELNR, GJAHR, BUZEI) a residual item continues
    assignment: str
    baseline: dt.date | None
    net_days: int
    xblnr: str  # REF_DOC_NO as SAP holds it: the payment's key on the lines the connector created

    @property
    def physical_id(self) -> str:
        return item_id(self.belnr, self.gjahr, self.buzei)

    @property
    def selection(self) -> str:
        """FB05's selection by document number: BELNR(10) + GJAHR(4) + BUZEI(3)."""
        return f"{self.belnr:<10}{self.gjahr:>4}{self.buzei:>3}"


def item_id(belnr: str, gjahr: str, buzei: str) -> str:
    return f"{belnr}/{gjahr}/{buzei}"


def document_id(belnr: str, gjahr: str) -> str:
    return f"{belnr}/{gjahr}"


def in_currency(amount: Decimal, currency: str, decimals: Mapping[str, int]) -> Decimal:
    """An external amount with the decimals SAP keeps for ``currency`` (TCURX, read from SAP). When
    they are unknown the amount keeps its value: two decimals if that loses nothing."""
    places = decimals.get(currency)
    if places is not None:
        return amount.quantize(Decimal(1).scaleb(-places))
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount


def to_sap_item(row: Mapping[str, Any], decimals: Mapping[str, int]) -> SapItem:
    """One BAPI3007_2 line (a zeep object or a dict) as a :class:`SapItem`."""
    belnr = (row["DOC_NO"] or "").strip()
    gjahr = str(row["FISC_YEAR"] or "").strip()
    buzei = str(row["ITEM_NUM"] or "").strip().zfill(3)
    currency = (row["CURRENCY"] or "").strip()
    credit = (row["DB_CR_IND"] or "S").strip() == "H"
    amount = in_currency(number(row["AMT_DOCCUR"]), currency, decimals)
    signed = -amount if credit else amount
    inv_ref = (row["INV_REF"] or "").strip()
    residual = is_residual(row)
    root = ((inv_ref, str(row["INV_YEAR"] or "").strip(), str(row["INV_ITEM"] or "").strip().zfill(3))
            if residual else (belnr, gjahr, buzei))
    assignment = (row["ALLOC_NMBR"] or "").strip()
    xblnr = (row["REF_DOC_NO"] or "").strip()
    ref = reference(assignment) if residual else reference(xblnr) or reference(assignment)
    baseline = sap_date(row["BLINE_DATE"])
    net, days2, days1 = number(row["NETTERMS"]), number(row["DSCT_DAYS2"]), number(row["DSCT_DAYS1"])
    pct = number(row["DSCT_PCT1"])
    tax = in_currency(number(row["TX_DOC_CUR"]), currency, decimals)
    with_tax = tax > 0 and not residual and 0 < tax < amount
    item = OpenItem(
        document=item_id(*root),
        customer_id=alpha_out(row["CUSTOMER"] or ""),
        reference=ref,
        # Payers also quote the assignment (an order or contract number); a residual's assignment is
        # already its reference.
        assignment=reference(assignment) if not residual and reference(assignment) != ref else "",
        currency=currency,
        open_amount=signed,
        original_amount=signed,
        document_date=sap_date(row["DOC_DATE"]),
        due_date=due_date(baseline, net, days2, days1, credit=credit, invoice_reference=inv_ref),
        tax_base=(amount - tax if not credit else tax - amount) if with_tax else None,
        vat=(tax if not credit else -tax) if with_tax else None,
        discount_rate=(pct / 100) if pct > 0 and days1 else None,
        discount_until=baseline + dt.timedelta(days=int(days1)) if pct > 0 and days1 and baseline else None,
    )
    # The days from the baseline to the due date: what a residual item repeats so it falls due when
    # the item it continues did (a credit memo without invoice reference: at its baseline).
    days = (item.due_date - baseline).days if item.due_date and baseline else int(net or days2 or days1)
    return SapItem(item, belnr, gjahr, buzei, root, assignment, baseline, days, xblnr)


def bsid_row(fields: Mapping[str, str], decimals_of: Callable[[str], int]) -> dict[str, Any]:
    """A BSID row read with RFC_READ_TABLE, as a BAPI3007_2 line. Amounts there are SAP's internal
    values (two decimals, shifted for TCURX currencies) written in the user's notation;
    ``decimals_of(currency)`` gives SAP's decimals for the document currency (TCURX)."""
    out: dict[str, Any] = {}
    currency = fields.get("WAERS", "").strip()
    for column, name in BSID_TO_BAPI.items():
        text = fields.get(column, "")
        if column in BSID_DECIMALS:
            value = written_number(text, BSID_DECIMALS[column]) if text.strip() else Decimal(0)
            if column in ("WRBTR", "WMWST"):
                value = value.scaleb(2 - decimals_of(currency))
            out[name] = value
        else:
            out[name] = text.strip()
    return out


def is_residual(row: Mapping[str, Any]) -> bool:
    """A residual item (``REBZT`` ``V``): the rest of the item it refers to, left by a partial clearing."""
    return bool((row["INV_REF"] or "").strip()) and (row["NXT_DOCTYP"] or "").strip() == "V"


def unapplied_payment(row: Mapping[str, Any], payment_types: Iterable[str]) -> bool:
    """Money received and not applied: a credit line of a payment document type, not a residual."""
    return ((row["DB_CR_IND"] or "").strip() == "H" and (row["DOC_TYPE"] or "").strip() in set(payment_types)
            and not is_residual(row))


def open_items(rows: Iterable[Mapping[str, Any]], decimals: Mapping[str, int],
               special_gl: Iterable[str] = (), payment_types: Iterable[str] = ()) -> list[SapItem]:
    """Normalise a customer's (or a company code's) lines. Left out: special G/L items (down
    payments, ``SP_GL_IND``) unless listed in ``special_gl``, noted items, and payments not yet
    applied (credit lines of the payment document types, ``DZ``): money received is not something
    a customer pays against. A residual item is kept whatever its sign and document type: the rest
    of a credit memo a payment used in part is a credit line of the payment document (posting key
    16, ``REBZT`` ``V``) and still the credit memo. Two residuals pointing at one invoice (someone
    split it by hand in SAP) keep their own ids."""
    allowed = set(special_gl)
    items = [to_sap_item(r, decimals) for r in rows
             if ((r["SP_GL_IND"] or "").strip() in allowed or not (r["SP_GL_IND"] or "").strip())
             and (r["DOC_STATUS"] or "").strip() != "S" and not unapplied_payment(r, payment_types)]
    counts = Counter(i.item.document for i in items)
    return [i if counts[i.item.document] == 1 else
            SapItem(i.item.model_copy(update={"document": i.physical_id}), i.belnr, i.gjahr, i.buzei,
                    (i.belnr, i.gjahr, i.buzei), i.assignment, i.baseline, i.net_days, i.xblnr)
            for i in items]


def parse_work_areas(fields: list[Mapping[str, Any]], data: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """RFC_READ_TABLE's DATA rows cut into columns at the FIELDS offsets (no delimiter: a value may
    hold any character)."""
    layout = [((f["FIELDNAME"] or "").strip(), int(f["OFFSET"] or 0), int(f["LENGTH"] or 0)) for f in fields]
    rows = []
    for d in data:
        wa = d["WA"] or ""
        rows.append({name: wa[offset: offset + length] for name, offset, length in layout})
    return rows

