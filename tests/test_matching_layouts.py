"""Packed references (``[matching] reference_layouts``): a biller's one number holding several.

The split itself (matching/layouts.py): fixed-width layouts compared with the reference padded
with zeros to their width, so a short number lands in the low parts; NIT parts that must be
plausible NITs; parts of zeros that are absent. The engine with and without layouts: a customer
number alone is a weak signal (never an apply on it and a unique amount), ordinary bank references
(a phone number, a PSE number, Davivienda's Referencia 1) are not turned into customers. What
finance reads, the configuration's checks, and an Asobancaria 2001 recaudo file through the agent.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from conftest import ACCOUNT, make_workspace

from conciliador import Customer, DecisionKind, OpenItem, StatementLine
from conciliador.config import CONFIG_ENV, ENV_PREFIX, load_config
from conciliador.daemon import load_agent
from conciliador.errors import ConfigError
from conciliador.matching import Engine, MatchConfig
from conciliador.matching.extractors import TextTokens
from conciliador.matching.layouts import compile_layout, split_reference
from conciliador.matching.text import id_nit, packed_nit
from conciliador.messages import CATALOG, render
from conciliador.reconcile import match_config

SAMPLES = Path(__file__).parent / "data" / "banks" / "asobancaria"
PACKED_FILE = SAMPLES / "recaudo_referencias_compuestas.txt"

NIT_INVOICE = r"(?P<nit>\d{10})(?P<invoice>\d{8})"  # NIT + check digit, invoice padded to 8
CUSTOMER_INVOICE = r"(?P<customer>\d{6})(?P<invoice>\d{8})"  # customer code padded to 6, invoice padded to 8
DAY = dt.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CONCILIADOR__MATCHING__* variable in the developer's shell would change what the files say.
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX) or name == CONFIG_ENV:
            monkeypatch.delenv(name)


def split(reference: str, *layouts: str):
    return split_reference([compile_layout(p) for p in layouts], reference)


# -- the split -----------------------------------------------------------------------------------
def test_a_layout_reads_the_nit_and_the_invoice():
    s = split("900123456800045678", NIT_INVOICE)
    assert (s.layout, s.reference, s.nit, s.invoices, s.customer) == (1, "900123456800045678", "900123456",
                                                                     ("00045678",), "")
    assert s.described() == "nit=9001234568;invoice=00045678"


@pytest.mark.parametrize("written", [
    "900123456800045678",
    "000000000000000000000000000000900123456800045678",  # the 48-digit Asobancaria field, padded
    "900.123.456-8-00045678", " 9001234568 00045678 ",  # separators are not digits
])
def test_padding_zeros_and_separators_do_not_change_the_reading(written):
    assert split(written, NIT_INVOICE) == split("900123456800045678", NIT_INVOICE)


@pytest.mark.parametrize("written", ["", "0000000000", "45678", "00045678", "9001234568000456781",
                                     "FE-900123456800045678", "REF900123456800045678"])
def test_a_reference_the_layout_does_not_describe_is_not_split(written):
    # All zeros, too long, holding letters (those are the text extractors' to read), or a short
    # number that, padded to the layout's 18 digits, is only the invoice part: the number itself,
    # nothing to add to what the extractors read.
    assert split(written, NIT_INVOICE) is None


def test_no_layouts_split_nothing():
    assert split_reference([], "900123456800045678") is None


def test_the_first_layout_that_fits_wins():
    nit_without_dv = r"(?P<nit>\d{9})\d(?P<invoice>\d{8})"  # check digit outside the group: not checked
    customer = r"(?P<customer>\d{10})(?P<invoice>\d{8})"
    first = split("900123456800045678", nit_without_dv, customer)
    assert (first.layout, first.nit, first.customer) == (1, "900123456", "")
    second = split("900123456800045678", customer, nit_without_dv)
    assert (second.layout, second.nit, second.customer) == (1, "", "9001234568")
    # Only the first fitting layout is read: its invoices are the ones looked up.
    two = split("900123456800045678", r"(?P<invoice>\d{10})(?P<invoice2>\d{8})", NIT_INVOICE)
    assert (two.layout, two.invoices, two.nit) == (1, ("9001234568", "00045678"), "")
    # A first layout that reads the number as itself ends the search: the number is read as always.
    assert split("900123456800045678", r"(?P<invoice>\d{18})", NIT_INVOICE) is None


def test_a_nit_whose_check_digit_is_wrong_makes_the_layout_not_fit():
    # 900123456's check digit is 8: with 7 the first layout does not describe this number, the next one does.
    assert split("900123456700045679", NIT_INVOICE) is None
    s = split("900123456700045679", NIT_INVOICE, r"\d{10}(?P<invoice>\d{8})")
    assert (s.layout, s.nit, s.invoices) == (2, "", ("00045679",))


def test_a_customer_code_loses_its_zeros_and_an_invoice_of_zeros_is_no_invoice():
    s = split("000000000000000000000000000000000000100300000000", CUSTOMER_INVOICE)
    # The invoice of zeros is absent: not looked up, not shown to finance.
    assert (s.customer, s.invoices, s.parts, s.described()) == (
        "1003", (), (("customer", "001003"), ("invoice", "00000000")), "customer=001003")


def test_a_layout_that_gives_only_zeros_does_not_fit():
    assert split("900000000", r"9(?P<invoice>\d{8})") is None


@pytest.mark.parametrize("written", ["100300045678", "00100300045678", "0" * 34 + "00100300045678"])
def test_a_reference_is_compared_at_the_layouts_width_however_it_was_padded(written):
    # The 48-digit Asobancaria field, the 14 digits the biller printed, and the same number without
    # its zeros (as end_to_end_id holds it): padded back to the layout's 14 digits, one reading.
    s = split(written, CUSTOMER_INVOICE)
    assert (s.reference, s.customer, s.invoices, s.parts) == (
        "100300045678", "1003", ("00045678",), (("customer", "001003"), ("invoice", "00045678")))


def test_a_short_reference_lands_in_the_low_parts_with_zeros_in_the_high_ones():
    # 9 digits in a 14-digit layout: the invoice holds the last 8, the customer part the rest.
    s = split("412345678", CUSTOMER_INVOICE)
    assert (s.customer, s.invoices, s.parts) == ("4", ("12345678",), (("customer", "000004"), ("invoice", "12345678")))
    # An invoice part the number begins inside, with another part after it, is no padded field's:
    # no fit (a phone number split that way made up invoices). In the last part it is looked up
    # as written, without the zeros the layout added.
    assert split("412345678", r"(?P<invoice>\d{6})(?P<invoice2>\d{8})") is None
    s = split("4", r"(?P<customer>\d{6})(?P<invoice>\d{8})")
    assert s is None or s.invoices == ("4",)


@pytest.mark.parametrize(("layout", "words"), [
    (r"(?P<customer>\d{1,6})(?P<invoice>\d{8})", "matches 9 to 14 characters"),
    (r"(?P<invoice>\d+)", "matches 1 or more characters"),
    (r"(?P<nit>\d{9,10})(?P<invoice>\d{8})", "matches 17 to 18 characters"),
    (r"(?P<invoice>\d{8})?", "matches 0 to 8 characters"),
])
def test_a_layout_of_variable_width_is_refused(layout, words):
    # A variable width fullmatches numbers of many lengths: with \d{1,6} any 9 to 14 digit number
    # (a phone number, a PSE number) was a "customer" and an "invoice".
    with pytest.raises(ValueError, match="fixed number of digits") as info:
        compile_layout(layout)
    assert words in str(info.value) and r"\d{6}, not \d{1,6}" in str(info.value)


@pytest.mark.parametrize("layout", [r"(?P<nit>\d{8})(?P<invoice>\d{8})", r"(?P<nit>\d{6})\d{4}(?P<invoice>\d{8})"])
def test_a_nit_part_narrower_than_a_nit_is_refused(layout):
    with pytest.raises(ValueError, match="NIT part is at least 9 digits wide"):
        compile_layout(layout)


@pytest.mark.parametrize(("part", "body"), [
    ("9001234568", "900123456"),  # body and check digit
    ("9001234567", ""),  # wrong check digit
    ("0900123456", ""),  # 10 digits are body 090012345 and check digit 6: not 900123456 taken as written
    ("0800987654", ""),
    ("900123456", "900123456"),  # a body without its check digit
    ("090012345", ""),  # 8 digits: a cédula, not a NIT (nor in the texts)
    ("000000900123456", "900123456"),  # a wider part is padded: 9 digits left, a body
    ("000009001234568", "900123456"),  # 10 digits left: body and check digit
    ("000009001234567", ""),
    ("000000079123456", ""),  # 8 digits left
    ("", ""), ("12345678", ""),
])
def test_a_nit_part_is_read_by_its_width(part, body):
    assert packed_nit(part) == body


@pytest.mark.parametrize(("value", "body"), [
    ("000000800987654", "800987654"), ("800987654", "800987654"), ("800.987.654-4", "800987654"),
    ("08009876544", "800987654"), ("8009876540", ""), ("79123456", ""), ("000000079123456", ""),
    ("3001234567", ""), ("", ""), ("0000000000", ""),
])
def test_an_id_field_is_a_nit_without_its_padding_zeros(value, body):
    assert id_nit(value) == body


@pytest.mark.parametrize("written", ["000000123456700045678", "000012345600045678", "090012345600045678"])
def test_a_nit_part_that_is_not_a_nit_makes_the_layout_not_fit(written):
    # After its padding zeros, 7 or 6 digits, or a 10-digit part starting with zero: no NIT, so this is
    # not the layout of this number, and the next one is tried.
    assert split(written, NIT_INVOICE) is None
    s = split(written, NIT_INVOICE, r"\d{10}(?P<invoice>\d{8})")
    assert (s.layout, s.nit, s.invoices) == (2, "", ("00045678",))


def test_a_nit_part_of_zeros_is_absent_and_the_layout_still_fits():
    # The NIT was left empty: the rest of the reference is still read.
    layout = r"(?P<nit>\d{10})(?P<customer>\d{6})(?P<invoice>\d{8})"
    for written in ("00100300045678", "0000000000" "001003" "00045678", f"{'0' * 24}{'0' * 10}00100300045678"):
        s = split(written, layout)
        assert (s.nit, s.customer, s.invoices, s.described()) == ("", "1003", ("00045678",),
                                                                 "customer=001003;invoice=00045678")


def test_several_invoices_in_one_reference():
    s = split("4567800045690", r"(?P<invoice>\d{5})(?P<invoice2>\d{8})")
    assert s.invoices == ("45678", "00045690")


@pytest.mark.parametrize(("layout", "words"), [
    (r"(?P<nit>\d{9}", "not a valid regular expression"),
    (r"(?P<factura>\d{8})", "group name 'factura' is not one of invoice"),
    (r"(?P<invoice10>\d{8})", "group name 'invoice10'"),
    (r"\d{18}", "names no part"),
    ("", "a layout is a regular expression"),
])
def test_a_layout_that_cannot_work_is_refused(layout, words):
    with pytest.raises(ValueError, match=words):
        compile_layout(layout)


# -- the engine ----------------------------------------------------------------------------------
CUSTOMERS = [
    Customer(id="C001", name="Inversiones Peñalosa S.A.S.", tax_id="900123456-8"),
    Customer(id="C002", name="Distribuidora Ñandú Ltda.", tax_id="800191045-1"),
    Customer(id="0000001003", name="Ferretería El Tornillo S.A.S.", tax_id="860034313-7"),  # SAP pads KUNNR
]


def item(document: str, reference: str, amount: str, customer: str = "C001") -> OpenItem:
    return OpenItem(document=document, reference=reference, customer_id=customer, currency="COP",
                    open_amount=D(amount), original_amount=D(amount), due_date=DAY)


ITEMS = [item("1800045678", "FE-45678", "1785000"), item("1800045680", "FE-45680", "1785000"),
         item("1800045690", "FE-45690", "2380000", "C002"), item("1800045700", "FE-45700", "595000", "0000001003")]


def recaudo(reference: str, amount: str, **extra) -> StatementLine:
    """A line as the asobancaria-2001 parser makes it of a 06 record."""
    padded = f"{reference:0>48}"
    stripped = padded.lstrip("0")
    return StatementLine(account="69812345678", currency="COP", booking_date=DAY, amount=D(amount),
                         bank_reference=f"20261124-A/0001/{reference[-7:]}", end_to_end_id=stripped,
                         remittance=f"{stripped} {padded} origen: entidad financiera; medio: efectivo",
                         transaction_code="01/01", **extra)


def engine(*layouts: str, items=ITEMS) -> Engine:
    return Engine(CUSTOMERS, list(items), [TextTokens()], MatchConfig(reference_layouts=layouts))


def codes(decision) -> list[str]:
    return [e.code for e in decision.evidence]


def test_a_packed_nit_and_invoice_is_applied_only_with_its_layout():
    payment = recaudo("900123456" "8" "00045678", "1785000")
    without = engine().decide(payment)
    # Two invoices of this amount and nothing else to go by: finance is asked.
    assert without.kind is not DecisionKind.APPLY and "reference_split" not in codes(without)

    d = engine(NIT_INVOICE).decide(payment)
    assert d.kind is DecisionKind.APPLY and d.customer_id == "C001" and d.reason == "reference_and_amount"
    assert [(a.document, a.amount) for a in d.applications] == [("1800045678", D(1785000))]
    split_ev, nit_ev = d.evidence[0], next(e for e in d.evidence if e.code == "customer_by_nit")
    assert (split_ev.rule, split_ev.code, split_ev.field) == ("reference", "reference_split", "end_to_end_id")
    assert split_ev.detail == {"layout": "1", "reference": "900123456800045678",
                               "parts": "nit=9001234568;invoice=00045678"}
    assert (nit_ev.field, nit_ev.detail) == ("end_to_end_id", {"customer": "C001", "nit": "900123456"})
    assert "reference_found" in codes(d)


def test_the_layout_that_fits_is_the_one_named():
    d = engine(CUSTOMER_INVOICE, NIT_INVOICE).decide(recaudo("800191045" "1" "00045690", "2380000"))
    assert d.kind is DecisionKind.APPLY and d.customer_id == "C002"
    assert d.evidence[0].detail["layout"] == "2"


def test_a_customer_number_with_its_own_invoice_identifies_the_customer():
    # Customer code 001003 and its invoice FE-45700: the number is confirmed by the reference's own
    # invoice, as strong as a NIT.
    payment = recaudo("001003" "00045700", "595000")
    d = engine(NIT_INVOICE, CUSTOMER_INVOICE).decide(payment)
    assert d.kind is DecisionKind.APPLY and d.customer_id == "0000001003" and d.reason == "reference_and_amount"
    assert [a.document for a in d.applications] == ["1800045700"]
    by_number = next(e for e in d.evidence if e.code == "customer_by_number")
    assert by_number.detail == {"customer": "0000001003", "number": "1003"} and d.evidence[0].detail["layout"] == "2"
    assert "customer_number_unconfirmed" not in codes(d)


def test_a_customer_number_alone_is_never_applied_on_a_unique_amount():
    # Customer code 001003 and no invoice: any number of the right length has a customer number,
    # so it is shown to finance, and the one invoice of this amount is only suggested.
    payment = recaudo("001003" "00000000", "595000")
    assert engine().decide(payment).kind is not DecisionKind.APPLY
    for config in ({}, {"apply_threshold": D("0.5")}, {"unknown_invoices": "on_account"}):
        d = Engine(CUSTOMERS, list(ITEMS), [TextTokens()],
                   MatchConfig(reference_layouts=(NIT_INVOICE, CUSTOMER_INVOICE), **config)).decide(payment)
        assert d.kind is DecisionKind.SUGGEST and d.reason == "amount_only", config
        assert [c[0].document for c in d.candidates] == ["1800045700"]
        assert "customer_by_number" not in codes(d)
        unconfirmed = next(e for e in d.evidence if e.code == "customer_number_unconfirmed")
        assert unconfirmed.detail == {"customer": "0000001003", "number": "1003"}
        assert d.evidence[0].detail["parts"] == "customer=001003"


def test_a_customer_number_whose_invoice_is_not_found_identifies_nobody():
    # FE-45701 does not exist: the number alone does not say who paid, whatever the amount.
    d = engine(CUSTOMER_INVOICE).decide(recaudo("001003" "00045701", "595000"))
    assert d.kind is not DecisionKind.APPLY and "customer_number_unconfirmed" in codes(d)


def test_a_customer_number_and_another_customers_invoice_are_a_conflict():
    # 001003's reference quotes FE-45690, which is C002's and fits the amount: finance decides.
    d = engine(CUSTOMER_INVOICE).decide(recaudo("001003" "00045690", "2380000"))
    assert d.kind is DecisionKind.SUGGEST and d.reason == "customer_conflict"
    assert [c[0].document for c in d.candidates] == ["1800045690"]
    clash = next(e for e in d.evidence if e.code == "reference_parts_disagree")
    assert clash.detail == {"number": "1003", "documents": "1800045690"}
    # The same for a number that is no customer of ours.
    d = engine(CUSTOMER_INVOICE).decide(recaudo("000777" "00045690", "2380000"))
    assert d.kind is DecisionKind.SUGGEST and d.reason == "customer_conflict"


# Ordinary bank references that happen to fit a layout's width (the reviewer's cases).
FALSE_CUSTOMERS = [Customer(id="0000000030", name="Transportes Andinos S.A.S.", tax_id="900555666-1"),
                   Customer(id="4", name="Cliente Cuatro SAS", tax_id="901000004-8"),
                   Customer(id="0000000014", name="Cliente Catorce SAS", tax_id="900777888-2"),
                   Customer(id="C9", name="Comercial Los Andes Ltda", tax_id="800987654-4")]


@pytest.mark.parametrize(("reference", "customer", "document"), [
    ("3001234567", "0000000030", "FV-30"),  # a Nequi phone number: customer 000030, "invoice" 01234567
    ("412345678", "4", "FV-4"),  # a PSE transaction number: customer 000004, "invoice" 12345678
    ("1472231409", "0000000014", "FV-14"),  # Davivienda's Referencia 1: customer 000014, "invoice" 72231409
])
def test_a_bank_reference_is_not_turned_into_a_customer(reference, customer, document):
    items = [item(document, document, "500000", customer)]
    payment = StatementLine(account="0560039269999858", currency="COP", booking_date=DAY, amount=D("500000"),
                            end_to_end_id=reference, remittance=f"PAGO PSE {reference}", payer_name="JUAN PEREZ")
    d = Engine(FALSE_CUSTOMERS, items, [TextTokens()],
               MatchConfig(reference_layouts=(NIT_INVOICE, CUSTOMER_INVOICE))).decide(payment)
    assert d.kind is DecisionKind.SUGGEST and d.reason == "amount_only" and not d.applications
    assert "customer_by_number" not in codes(d) and "customer_number_unconfirmed" in codes(d)
    assert d == Engine(FALSE_CUSTOMERS, items, [TextTokens()], MatchConfig()).decide(payment).model_copy(
        update={"evidence": d.evidence})


def test_davivienda_referencia_1_does_not_outvote_the_padded_payer_id():
    # Davivienda's "ID Origen/Destino" pads the payer's NIT to 15 digits; its Referencia 1 fits the
    # customer layout as customer 14. The payer's NIT decides, the number 14 identifies nobody.
    items = [item("FV-1", "FV-1", "574855.29", "C9"), item("FV-2", "FV-2", "574855.29", "0000000014")]
    payment = StatementLine(account="0560039269999858", currency="COP", booking_date=DAY, amount=D("574855.29"),
                            end_to_end_id="1472231409", payer_id="000000800987654",
                            remittance="Abono ACH COMERCIAL LOS ANDES LTDA 1472231409 ACH")
    d = Engine(FALSE_CUSTOMERS, items, [TextTokens()],
               MatchConfig(reference_layouts=(NIT_INVOICE, CUSTOMER_INVOICE))).decide(payment)
    assert d.kind is DecisionKind.APPLY and d.customer_id == "C9" and [a.document for a in d.applications] == ["FV-1"]
    assert "customer_number_unconfirmed" in codes(d) and "customer_by_number" not in codes(d)


def test_a_packed_invoice_with_a_typed_digit_wrong_is_found_among_the_payers_own():
    # 45679 does not exist; the NIT says C001, whose FE-45678 is one digit away and fits the amount.
    d = engine(NIT_INVOICE, items=ITEMS[:1] + ITEMS[2:]).decide(recaudo("900123456" "8" "00045679", "1785000"))
    assert d.kind is DecisionKind.APPLY and [a.document for a in d.applications] == ["1800045678"]
    assert "reference_typo" in codes(d)


def test_a_nit_with_a_wrong_check_digit_identifies_nobody():
    d = engine(NIT_INVOICE).decide(recaudo("900123456" "7" "00045678", "1785000"))
    assert d.kind is not DecisionKind.APPLY and "reference_split" not in codes(d) and "customer_by_nit" not in codes(d)


def test_the_layouts_nit_and_the_lines_payer_id_naming_others_is_a_conflict():
    d = engine(NIT_INVOICE).decide(recaudo("900123456" "8" "00045678", "1785000", payer_id="800191045-1"))
    assert d.kind is DecisionKind.SUGGEST and d.reason == "customer_conflict"


def test_a_line_the_layouts_do_not_describe_is_decided_as_without_them():
    lines = [recaudo("45678", "1785000"), recaudo("45690", "2380000"),
             recaudo("900123456" "8" "00045678", "1785000").model_copy(update={"end_to_end_id": "FE-45678"}),
             recaudo("", "595000").model_copy(update={"remittance": "PAGO FE-45700 NIT 860034313-7"})]
    assert engine(NIT_INVOICE, CUSTOMER_INVOICE).decide_all(lines) == engine().decide_all(lines)


def test_an_engine_refuses_a_layout_that_cannot_work():
    with pytest.raises(ValueError, match="group name 'factura'"):
        engine(r"(?P<factura>\d{8})")


def test_finance_reads_the_split_in_spanish_and_english():
    for code in ("reference_split", "customer_by_number"):
        assert set(CATALOG[code]) == {"es", "en"}
    detail = {"layout": "1", "reference": "900123456800045678", "parts": "nit=9001234568;invoice=00045678"}
    assert render("reference_split", detail, "es") == (
        "La referencia del pagador 900123456800045678 se separó con el formato 1 de reference_layouts: "
        "NIT 9001234568, factura 00045678.")
    assert render("reference_split", detail, "en") == (
        "The payer's reference 900123456800045678 was split by layout 1 of reference_layouts: "
        "NIT 9001234568, invoice 00045678.")
    assert "cliente 1003, factura 00045700, factura 00045701" in render(
        "reference_split", {**detail, "parts": "customer=1003;invoice=00045700;invoice2=00045701"}, "es")
    assert render("customer_by_number", {"number": "1003", "customer": "0000001003"}, "en") == (
        "Customer number 1003 in the payer's reference is customer 0000001003's.")
    for code in ("customer_number_unconfirmed", "reference_parts_disagree"):
        assert set(CATALOG[code]) == {"es", "en"}
    assert render("customer_number_unconfirmed", {"number": "30", "customer": "0000000030"}, "es") == (
        "El número de cliente 30 de la referencia del pagador es el del cliente 0000000030, pero ninguna factura "
        "de la referencia es suya: por sí solo no dice quién pagó.")
    assert render("reference_parts_disagree", {"number": "1003", "documents": "1800045690"}, "en") == (
        "The payer's reference carries customer number 1003, but its invoice (1800045690) is another customer's.")


def test_an_invoice_of_zeros_is_not_shown_to_finance():
    # Evidence written before parts of zeros were left out still reads without "factura 00000000".
    detail = {"layout": "2", "reference": "100300000000", "parts": "customer=001003;invoice=00000000"}
    assert render("reference_split", detail, "es").endswith("reference_layouts: cliente 001003.")


def test_only_the_split_evidence_has_its_parts_rewritten(monkeypatch):
    monkeypatch.setitem(CATALOG, "other_code", {"es": "partes: {parts}", "en": "parts: {parts}"})
    assert render("other_code", {"parts": "nit=1;invoice=2"}, "en") == "parts: nit=1;invoice=2"


# -- configuration -------------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conciliador.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_layouts_load_and_reach_the_engine(tmp_path):
    text = f"[matching]\nreference_layouts = ['{NIT_INVOICE}', '{CUSTOMER_INVOICE}']\n"
    settings = load_config(write(tmp_path, text))
    assert settings.matching.reference_layouts == [NIT_INVOICE, CUSTOMER_INVOICE]
    assert match_config(settings).reference_layouts == (NIT_INVOICE, CUSTOMER_INVOICE)
    assert load_config(write(tmp_path, "")).matching.reference_layouts == []
    assert match_config(load_config(write(tmp_path, ""))).reference_layouts == ()


@pytest.mark.parametrize(("layout", "words"), [
    (r"(?P<nit>\d{10}(?P<invoice>\d{8})", "not a valid regular expression: missing ), unterminated subpattern"),
    (r"(?P<nit>\d{10})(?P<factura>\d{8})", "group name 'factura' is not one of invoice"),
    (r"\d{10}\d{8}", "the layout names no part"),
    (r"(?P<customer>\d{1,6})(?P<invoice>\d{8})", "must match a fixed number of digits"),
    (r"(?P<nit>\d{8})(?P<invoice>\d{8})", "a NIT part is at least 9 digits wide"),
])
def test_a_bad_layout_is_a_config_error_naming_the_key_and_the_value(tmp_path, layout, words):
    path = write(tmp_path, f"[matching]\nreference_layouts = ['{NIT_INVOICE}', '{layout}']\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "matching.reference_layouts" in message and str(path.resolve()) in message
    # The layout as written in the file (no doubled backslashes), numbered as the evidence numbers it.
    assert f"layout 2 '{layout}'" in message and words in message
    assert "layout 1" not in message


def test_a_layout_that_is_not_a_string_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="matching.reference_layouts"):
        load_config(write(tmp_path, "[matching]\nreference_layouts = [18]\n"))


# -- an Asobancaria recaudo file through the agent ------------------------------------------------
def agent_workspace(root: Path, layouts: list[str]):
    extra = "\n[matching]\nreference_layouts = [" + ", ".join(f"'{p}'" for p in layouts) + "]\n"
    ws = make_workspace(root, extra_config=extra)
    # The sample's collecting account, as in the Bancolombia sample.
    ws.config.write_text(ws.config.read_text(encoding="utf-8").replace(ACCOUNT, "69812345678"), encoding="utf-8")
    erp = root / "erp"
    with open(erp / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "tax_id"])
        w.writerows([["1001", "Inversiones Peñalosa S.A.S.", "900123456-8"],
                     ["1002", "Distribuidora Ñandú Ltda.", "800191045-1"],
                     ["1003", "Ferretería El Tornillo S.A.S.", "860034313-7"]])
    with open(erp / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount"])
        for doc, cust, amount in (("1800045678", "1001", "1785000"), ("1800045679", "1001", "1000000"),
                                  ("1800045690", "1002", "2380000"), ("1800045700", "1003", "595000"),
                                  ("1800045712", "1002", "1190000")):
            w.writerow([doc, cust, f"FE-{doc[-5:]}", "COP", amount, amount])
    shutil.copy(PACKED_FILE, ws.inbox / PACKED_FILE.name)
    agent = load_agent(ws.config)
    try:
        summary = agent.run_once()
    finally:
        agent.close()
    return ws, summary


def decided(ws) -> dict[str, tuple[str, list[str]]]:
    """end_to_end_id -> (decision kind, documents applied)."""
    out = {}
    for line, decision in ws.query("SELECT s.data, d.data FROM statement_lines s JOIN decisions d ON d.line_id = s.id "
                                   "WHERE d.superseded_by IS NULL"):
        data = json.loads(decision)
        out[json.loads(line)["end_to_end_id"]] = (data["kind"], [a["document"] for a in data.get("applications", ())])
    return out


def test_an_asobancaria_file_with_packed_references_through_the_agent(tmp_path):
    ws, summary = agent_workspace(tmp_path / "with", [NIT_INVOICE, CUSTOMER_INVOICE])
    assert [(f.status, f.format, f.lines) for f in summary.files] == [("archived", "asobancaria-2001", 5)]
    assert [p.name for p in ws.archived()] == [PACKED_FILE.name] and not ws.quarantined()
    assert decided(ws) == {
        "900123456800045678": ("apply", ["1800045678"]),  # NIT 900123456-8 + FE-45678
        "800191045100045690": ("apply", ["1800045690"]),  # NIT 800191045-1 + FE-45690
        "100300000000": ("suggest", []),  # customer 1003, no invoice: a customer number alone is not enough
        "45712": ("apply", ["1800045712"]),  # one number: read as always
        "900123456700045679": ("suggest", []),  # wrong check digit: no layout fits, finance decides
    }
    assert sorted((p["customer_id"], p["applied_document"]) for p in ws.postings()) == [
        ("1001", "1800045678"), ("1002", "1800045690"), ("1002", "1800045712")]
    # What finance reads, in Spanish, on the applied sheet of the exceptions workbook.
    [book] = (ws.root / "exceptions").glob("excepciones-*-acme.xlsx")
    workbook = openpyxl.load_workbook(book)
    applied = " ".join(str(c.value) for row in workbook["Aplicados hoy"].iter_rows() for c in row)
    assert "se separó con el formato 1 de reference_layouts: NIT 9001234568, factura 00045678" in applied
    texts = " ".join(str(c.value) for ws_ in workbook.worksheets for row in ws_.iter_rows() for c in row)
    # The customer-only reference is asked about, its number shown, no "factura 00000000".
    assert "se separó con el formato 2 de reference_layouts: cliente 001003." in texts
    assert "El número de cliente 1003 de la referencia del pagador es el del cliente 1003, pero ninguna" in texts
    assert "factura 00000000" not in texts


def test_the_same_file_without_layouts_applies_only_the_single_number(tmp_path):
    ws, _ = agent_workspace(tmp_path / "without", [])
    kinds = {ref: kind for ref, (kind, _) in decided(ws).items()}
    assert kinds.pop("45712") == "apply"
    assert set(kinds.values()) <= {"suggest", "unmatched"} and len(kinds) == 4
    assert [p["applied_document"] for p in ws.postings()] == ["1800045712"]


@pytest.mark.parametrize("reference", ["3101234567", "412345678"])
def test_a_short_number_does_not_begin_inside_an_invoice_part_that_others_follow(reference):
    """A phone (Nequi) or PSE number shorter than a two-invoice layout: padded, it would begin
    inside the first part and make up invoices (31 and 01234567). A padded field would hold zeros
    there: no fit. Found by review: it auto-applied another customer's invoice."""
    layouts = [compile_layout(r"(?P<invoice>\d{8})(?P<invoice2>\d{8})")]
    assert split_reference(layouts, reference) is None
    assert split_reference(layouts, "1234567800045678").invoices == ("12345678", "00045678")
