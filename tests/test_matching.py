"""The matching engine: only a reference plus the exact amount may post without a person looking."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conciliador import Customer, DecisionKind, OpenItem, StatementLine
from conciliador.matching import Engine, normalise_reference
from conciliador.matching.extractors import TextTokens

CUSTOMERS = [
    Customer(id="C001", name="Inversiones Peñalosa S.A.S.", tax_id="900123456"),
    Customer(id="C002", name="Distribuidora Ñandú Ltda.", tax_id="800987654"),
]


def item(document: str, reference: str, amount: str, *, customer: str = "C001", currency: str = "COP") -> OpenItem:
    return OpenItem(document=document, customer_id=customer, reference=reference, currency=currency,
                    open_amount=amount, original_amount=amount)


def line(amount: str, remittance: str = "", *, bank_reference: str = "", currency: str = "COP",
         ordinal: int = 0) -> StatementLine:
    return StatementLine(account="69812345678", currency=currency, booking_date=dt.date(2026, 11, 2),
                         amount=amount, remittance=remittance, bank_reference=bank_reference, ordinal=ordinal)


def engine(*items: OpenItem, **kwargs) -> Engine:
    return Engine(customers=CUSTOMERS, open_items=list(items), extractors=[TextTokens()], **kwargs)


FE1001 = item("DOC-5001", "FE-1001", "1785000.00")


def test_normalise_reference_drops_every_separator():
    assert {normalise_reference(t) for t in ("FE-1001", "FE 1001", "fe1001", "Fe.1001", "FE/1001", "fe_1001")} == {"FE1001"}


@pytest.mark.parametrize(
    ("remittance", "bank_reference", "expected_field"),
    [
        ("FE-1001", "", "remittance"),
        ("FE 1001", "", "remittance"),
        ("fe1001", "", "remittance"),
        ("PAGO PSE INVERSIONES PENALOSA FACT FE-1001 NOVIEMBRE", "", "remittance"),
        ("Abono factura fe 1001 gracias", "", "remittance"),
        ("", "FE-1001", "bank_reference"),
        ("", "FE 1001", "bank_reference"),
        ("TRANSFERENCIA ACH", "fe1001", "bank_reference"),
    ],
    ids=["hyphen", "space", "lower-joined", "in-long-text", "lower-space-in-text", "bank-ref",
         "bank-ref-space", "bank-ref-lower"],
)
def test_reference_and_exact_amount_apply(remittance, bank_reference, expected_field):
    payment = line("1785000.00", remittance, bank_reference=bank_reference)
    decision = engine(FE1001, item("DOC-5002", "FE-1002", "1785000.00")).decide(payment)
    assert decision.kind is DecisionKind.APPLY
    assert decision.score == Decimal(1)
    assert decision.customer_id == "C001"
    assert decision.line_identity == payment.identity
    assert [(a.document, a.amount, a.currency) for a in decision.applications] == [
        ("DOC-5001", Decimal("1785000.00"), "COP")]
    assert decision.applications[0].reference == "FE-1001"
    (evidence,) = decision.evidence
    assert evidence.rule == "reference+amount"
    assert normalise_reference(evidence.detail["reference"]) == "FE1001"
    assert evidence.detail["document"] == "DOC-5001"
    # Finance is told where the reference was read, so it can check the bank line itself.
    assert evidence.field == expected_field
    assert evidence.detail["field"] == expected_field


def test_document_number_matches_as_well_as_reference():
    decision = engine(item("DOC-778899", "FE-2001", "500000.00")).decide(line("500000.00", "Abono doc 778899"))
    assert decision.kind is DecisionKind.APPLY
    assert decision.applications[0].document == "DOC-778899"


def test_amount_differs_is_only_a_suggestion():
    decision = engine(FE1001).decide(line("1700000.00", "Pago FE-1001 menos retención"))
    assert decision.kind is DecisionKind.SUGGEST
    assert decision.reason == "amount_differs"
    assert decision.score < 1
    assert decision.applications == ()
    assert [[a.document for a in c] for c in decision.candidates] == [["DOC-5001"]]
    # Never suggest applying more than the payment brought.
    assert decision.candidates[0][0].amount == Decimal("1700000.00")
    assert any(e.code == "amount_differs" for e in decision.evidence)


def test_overpayment_suggests_the_open_amount_only():
    decision = engine(FE1001).decide(line("1800000.00", "FE-1001"))
    assert decision.kind is DecisionKind.SUGGEST
    assert decision.candidates[0][0].amount == Decimal("1785000.00")


def test_two_items_with_same_reference_and_amount_are_never_picked_silently():
    twins = [item("DOC-6001", "FE-3001", "250000.00", customer="C001"),
             item("DOC-6002", "FE-3001", "250000.00", customer="C002")]
    decision = engine(*twins).decide(line("250000.00", "FE-3001"))
    assert decision.kind is DecisionKind.SUGGEST
    assert decision.reason == "ambiguous"
    assert decision.applications == ()
    assert sorted(c[0].document for c in decision.candidates) == ["DOC-6001", "DOC-6002"]
    assert decision.evidence[0].code == "ambiguous"


def test_no_reference_is_unmatched():
    decision = engine(FE1001).decide(line("1785000.00", "PAGO PROVEEDORES NOVIEMBRE"))
    assert decision.kind is DecisionKind.UNMATCHED
    assert decision.applications == () and decision.candidates == ()


def test_reference_of_no_open_item_is_unmatched():
    decision = engine(FE1001).decide(line("1785000.00", "FE-9999"))
    assert decision.kind is DecisionKind.UNMATCHED


@pytest.mark.parametrize("amount", ["-1785000.00", "-0.01"])
def test_debit_is_ignored(amount):
    decision = engine(FE1001).decide(line(amount, "FE-1001"))
    assert decision.kind is DecisionKind.IGNORE
    assert decision.applications == ()


def test_currency_differs_is_not_applied():
    usd = item("DOC-7001", "FE-4001", "1200.00", currency="USD")
    decision = engine(usd).decide(line("1200.00", "FE-4001", currency="COP"))
    assert decision.kind is not DecisionKind.APPLY
    assert decision.applications == ()
    assert any(e.code == "currency_differs" for e in decision.evidence)


def test_same_invoice_paid_twice_is_applied_once():
    eng = engine(FE1001)
    first, second = eng.decide_all([line("1785000.00", "FE-1001", ordinal=0),
                                    line("1785000.00", "Pago FE 1001", ordinal=1)])
    assert first.kind is DecisionKind.APPLY
    assert second.kind is not DecisionKind.APPLY
    assert second.applications == ()
    assert any(e.code == "already_applied" for e in second.evidence)


def test_min_reference_length_keeps_short_tokens_out():
    short = item("12", "", "50000.00")
    payment = line("50000.00", "Cuota 12")
    assert engine(short).decide(payment).kind is DecisionKind.UNMATCHED
    # The same line does match once short keys are allowed: it is the setting that keeps '12' out.
    assert engine(short, min_reference_length=2).decide(payment).kind is DecisionKind.APPLY


def test_short_token_does_not_match_a_longer_reference():
    decision = engine(item("DOC-8001", "FE-1200", "50000.00")).decide(line("50000.00", "12"))
    assert decision.kind is DecisionKind.UNMATCHED


def test_text_tokens_joins_a_word_with_the_number_after_it():
    tokens = list(TextTokens().extract(line("1.00", "Pago FE 1001 y FV/2026/0042", bank_reference="INV#77")))
    assert "1001" in tokens and "FE1001" in tokens
    assert "FV/2026/0042" in tokens
    assert "INV#77" in tokens
    assert "Pago" not in tokens  # words without digits are never references on their own


# -- properties --------------------------------------------------------------------------------

AMOUNTS = [Decimal("100.00"), Decimal("250.50"), Decimal("1785000.00"), Decimal("0.01"), Decimal("99999.99")]
money = st.one_of(st.sampled_from(AMOUNTS),
                  st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000000"), places=2))


@st.composite
def open_items(draw):
    count = draw(st.integers(min_value=0, max_value=8))
    items = []
    for n in range(count):
        # Few references and amounts, so collisions (ambiguity, double payment) are common.
        number = draw(st.integers(min_value=1, max_value=4))
        amount = draw(money)
        items.append(OpenItem(
            document=f"DOC-{5000 + n}", customer_id=draw(st.sampled_from(["C001", "C002"])),
            reference=draw(st.sampled_from([f"FE-{1000 + number}", ""])),
            currency=draw(st.sampled_from(["COP", "COP", "USD"])),
            open_amount=amount, original_amount=amount))
    return items


def reference_text(number: int, form: int) -> str:
    return [f"FE-{number}", f"FE {number}", f"fe{number}", f"Pago factura FE-{number} gracias",
            f"DOC-{number}", "sin referencia"][form]


@st.composite
def statement_lines(draw, items):
    count = draw(st.integers(min_value=0, max_value=10))
    lines = []
    for n in range(count):
        if items and draw(st.booleans()):
            # Aim at an existing item so exact matches happen, not only misses.
            target = draw(st.sampled_from(items))
            amount = draw(st.sampled_from([target.open_amount, target.open_amount + Decimal("1.00")]))
            text = draw(st.sampled_from([target.reference, target.document, f"Pago {target.reference}"]))
        else:
            amount = draw(money)
            text = reference_text(draw(st.integers(min_value=1000, max_value=1004)),
                                  draw(st.integers(min_value=0, max_value=5)))
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            amount = -amount
        where = draw(st.sampled_from(["remittance", "bank_reference"]))
        lines.append(StatementLine(
            account="69812345678", currency=draw(st.sampled_from(["COP", "COP", "USD"])),
            booking_date=dt.date(2026, 11, 2), amount=amount, ordinal=n,
            **{where: text}))
    return lines


@st.composite
def scenarios(draw):
    items = draw(open_items())
    return items, draw(statement_lines(items))


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scenarios())
def test_decisions_are_deterministic(scenario):
    items, lines = scenario
    first = engine(*items).decide_all(lines)
    second = engine(*items).decide_all(lines)
    assert first == second
    assert [d.line_identity for d in first] == [ln.identity for ln in lines]


@PROPERTY_SETTINGS
@given(scenarios())
def test_apply_conserves_money_and_never_overpays_an_item(scenario):
    items, lines = scenario
    by_document = {i.document: i for i in items}
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for ln, decision in zip(lines, engine(*items).decide_all(lines), strict=True):
        if decision.kind is not DecisionKind.APPLY:
            assert decision.applications == ()
            continue
        assert ln.amount > 0
        assert sum((a.amount for a in decision.applications), Decimal(0)) == ln.amount
        for application in decision.applications:
            target = by_document[application.document]
            assert application.currency == target.currency == ln.currency
            assert decision.customer_id == target.customer_id
            applied[application.document] += application.amount
    for document, total in applied.items():
        assert total <= by_document[document].open_amount


@PROPERTY_SETTINGS
@given(scenarios())
def test_suggestions_never_exceed_the_payment(scenario):
    items, lines = scenario
    for ln, decision in zip(lines, engine(*items).decide_all(lines), strict=True):
        for candidate in decision.candidates:
            assert sum((a.amount for a in candidate), Decimal(0)) <= ln.amount
