"""Tests for conciliador.keys (idempotency keys) and conciliador.models (money, identities).

The posting key travels inside the ERP document (SAP XBLNR: CHAR 16, upper-case), and the line
identity decides whether a bank transaction seen twice is posted once; both must be stable.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from conciliador.keys import KEY_LENGTH, posting_key
from conciliador.models import (
    Application,
    Decision,
    DecisionKind,
    OpenItem,
    Posting,
    PostingKind,
    StatementLine,
)

KEY_PATTERN = re.compile(r"[0-9A-Z]{1,16}")

# -- posting_key ------------------------------------------------------------------------------


def test_posting_key_shape_and_determinism() -> None:
    key = posting_key("line-identity-1")
    assert len(key) == KEY_LENGTH == 16
    assert KEY_PATTERN.fullmatch(key)
    assert posting_key("line-identity-1") == key  # same line, same key, across restarts


def test_posting_key_pinned_value() -> None:
    # Pinned so a change of algorithm (which would re-post every line already in an ERP) is
    # noticed: keys already written into ERP documents must keep matching.
    # base32(sha256("abc")) = "XJ4BNP4PAHH6UQKB..." (sha256("abc") starts with ba7816bf).
    assert posting_key("abc") == "XJ4BNP4PAHH6UQKB"
    assert posting_key("abc", "reverse") == "MBDD3WFPNFV2X2UD"


def test_posting_key_differs_by_identity_and_purpose() -> None:
    base = posting_key("identity-A")
    assert posting_key("identity-B") != base
    assert posting_key("identity-A", "reverse") != base
    assert posting_key("identity-A", "reverse") != posting_key("identity-A", "reapply")
    # The default purpose is "apply": naming it explicitly gives the same key.
    assert posting_key("identity-A", "apply") == base


def test_posting_key_needs_an_identity() -> None:
    with pytest.raises(ValueError, match="identity"):
        posting_key("")


@given(identity=st.text(min_size=1), purpose=st.text(min_size=1))
def test_posting_key_always_fits_an_erp_reference(identity: str, purpose: str) -> None:
    key = posting_key(identity, purpose)
    assert len(key) <= KEY_LENGTH
    assert KEY_PATTERN.fullmatch(key)
    # A key must also be accepted by the Posting model that carries it to the connector.
    Posting(key=key, company="c", kind=PostingKind.APPLY, customer_id="1", currency="COP",
            amount="1", value_date=dt.date(2026, 1, 1), bank_account="1")


# -- models: money ----------------------------------------------------------------------------


def line(**overrides: Any) -> StatementLine:
    fields: dict[str, Any] = dict(
        account="0123456789",
        currency="COP",
        booking_date=dt.date(2026, 3, 2),
        amount="1500.00",
        bank_reference="REF-1",
        ordinal=0,
    )
    fields.update(overrides)
    return StatementLine(**fields)


def test_money_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="float"):
        line(amount=1.5)


@pytest.mark.parametrize("value", ["1500.00", Decimal("1500.00"), 1500, " 1500.00 ", "+1500.00"])
def test_money_accepts_strings_ints_and_decimals(value: Any) -> None:
    amount = line(amount=value).amount
    assert isinstance(amount, Decimal)
    assert amount == Decimal("1500")


def test_money_keeps_exact_decimals() -> None:
    # The classic float trap: 0.1 + 0.2 must be 0.3 exactly.
    assert line(amount="0.1").amount + line(amount="0.2").amount == Decimal("0.3")
    assert line(amount="-25.75").amount == Decimal("-25.75")


@pytest.mark.parametrize("text", ["1,500.00", "1.500,00", "1e3", "abc", "", "$100", "1500."])
def test_money_refuses_formatted_strings(text: str) -> None:
    with pytest.raises(ValidationError):
        line(amount=text)


def test_money_refuses_floats_in_every_model() -> None:
    with pytest.raises(ValidationError):
        OpenItem(document="1", customer_id="c", currency="COP", open_amount=10.0, original_amount="10")
    with pytest.raises(ValidationError):
        Application(document="1", amount=0.5, currency="COP")


def test_currency_must_be_iso_code() -> None:
    with pytest.raises(ValidationError):
        line(currency="cop")


def test_models_are_frozen_and_strict_about_fields() -> None:
    with pytest.raises(ValidationError):
        line(colour="red")
    with pytest.raises(ValidationError):
        line().amount = Decimal(1)  # type: ignore[misc]


# -- models: StatementLine.identity -----------------------------------------------------------


def test_identity_is_stable() -> None:
    assert line().identity == line().identity
    assert re.fullmatch(r"[0-9a-f]{64}", line().identity)


@pytest.mark.parametrize(
    "change",
    [
        {"account": "0123456780"},
        {"booking_date": dt.date(2026, 3, 3)},
        {"bank_reference": "REF-2"},
        {"amount": "1500.01"},
        {"amount": "-1500.00"},
        {"ordinal": 1},
    ],
)
def test_identity_changes_with_each_identifying_field(change: dict[str, Any]) -> None:
    assert line(**change).identity != line().identity


@pytest.mark.parametrize(
    "change",
    [
        {"account": "0123 4567 89"},
        {"account": " 0123456789 "},
        {"amount": "1500"},  # same amount written with another scale
        {"amount": Decimal("1500.000")},
        {"bank_reference": " REF-1 "},
        {"remittance": "FE-1001"},  # descriptive fields are not part of the identity
        {"payer_name": "ACME"},
        {"value_date": dt.date(2026, 3, 5)},
        {"position": "line 99"},
    ],
)
def test_identity_ignores_formatting_and_descriptive_fields(change: dict[str, Any]) -> None:
    assert line(**change).identity == line().identity


def test_identity_of_integral_amounts_is_not_scientific() -> None:
    # Decimal("1E+3").normalize() would print as "1E+3" without format "f"; both spellings of
    # a thousand must give one identity.
    assert line(amount="1000").identity == line(amount="1000.00").identity == line(amount=Decimal("1E+3")).identity


# -- models: Decision and Posting -------------------------------------------------------------


def application() -> Application:
    return Application(document="DOC1", reference="FE-1001", amount="1500.00", currency="COP")


def test_apply_decision_needs_applications_and_customer() -> None:
    with pytest.raises(ValidationError, match="apply"):
        Decision(line_identity="x", kind=DecisionKind.APPLY)
    with pytest.raises(ValidationError, match="apply"):
        Decision(line_identity="x", kind=DecisionKind.APPLY, customer_id="C1")
    with pytest.raises(ValidationError, match="apply"):
        Decision(line_identity="x", kind=DecisionKind.APPLY, applications=(application(),))

    ok = Decision(line_identity="x", kind=DecisionKind.APPLY, customer_id="C1", applications=(application(),))
    assert ok.applications[0].amount == Decimal("1500")


def test_other_decisions_need_no_applications() -> None:
    for kind in (DecisionKind.SUGGEST, DecisionKind.UNMATCHED, DecisionKind.IGNORE):
        assert Decision(line_identity="x", kind=kind).applications == ()


def test_decision_score_is_between_zero_and_one() -> None:
    with pytest.raises(ValidationError):
        Decision(line_identity="x", kind=DecisionKind.UNMATCHED, score=Decimal("1.5"))


def posting(key: str) -> Posting:
    return Posting(key=key, company="acme", kind=PostingKind.APPLY, customer_id="C1", currency="COP",
                   amount="1500.00", value_date=dt.date(2026, 3, 2), bank_account="0123456789",
                   applications=(application(),))


def test_posting_accepts_a_real_key() -> None:
    key = posting_key(line().identity)
    assert posting(key).key == key


@pytest.mark.parametrize("key", ["A" * 17, "", "abc", "ABC-1", "ABC 1"])
def test_posting_refuses_keys_that_do_not_fit_an_erp_reference(key: str) -> None:
    with pytest.raises(ValidationError):
        posting(key)


def test_accounts_compare_without_separators_or_leading_zeros():
    from conciliador.models import normalise_account

    assert normalise_account("0629-126 13") == normalise_account("62912613") == "62912613"
    assert normalise_account("000") == "000"  # nothing but zeros stays as written
    assert normalise_account("ES91 2100 0418") == "ES9121000418"  # IBANs keep their zeros
