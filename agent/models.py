"""The data that flows between bank formats, the engine, the store and ERP connectors.

Every amount is a :class:`decimal.Decimal` paired with an ISO 4217 currency code. Amounts are
never floats: a float reaching a money field is refused, because ``0.1 + 0.2`` has no place in a
ledger. Strings and ints are accepted (that is how files and ERPs hand amounts over).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "Money",
    "normalise_account",
    "Currency",
    "StatementLine",
    "StatementSummary",
    "Customer",
    "OpenItem",
    "Evidence",
    "Withholding",
    "Application",
    "DecisionKind",
    "Decision",
    "PostingKind",
    "Posting",
    "PostingResult",
    "CheckResult",
]


def normalise_account(account: str) -> str:
    """One spelling per bank account: ``0123-456 789``, ``0123456789`` and ``123456789`` are the
    same account (fixed-width formats pad numbers with zeros that people leave out)."""
    compact = "".join(account.split()).replace("-", "").upper()
    return compact.lstrip("0") or compact if compact.isdigit() else compact


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money must not be a float; pass a str, int or Decimal")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
            raise ValueError(f"{value!r} is not a plain decimal amount (digits, optional '.' fraction)")
        return Decimal(text)
    return value


Money = Annotated[Decimal, BeforeValidator(_to_decimal)]
"""A Decimal amount; floats are refused and strings must be plain decimals."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. COP")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatementLine(_Model):
    """One booked transaction on a bank statement, as the bank reported it.

    ``amount`` is signed from the account holder's side: positive is money in (a credit, a
    customer paying), negative is money out. ``ordinal`` tells apart transactions that share
    account, booking date, bank reference and amount within one statement; together they are
    the line's stable :attr:`identity`, so the same transaction seen again in another file is
    recognised as the same payment.
    """

    account: str = Field(description="The statement's account: IBAN, local number or bank id.")
    currency: Currency
    booking_date: dt.date
    value_date: dt.date | None = None
    amount: Money = Field(description="Signed: positive = credit (money in).")
    bank_reference: str = Field(default="", description="The bank's own reference for the entry.")
    end_to_end_id: str = Field(default="", description="Payer's end-to-end reference, if any.")
    payer_name: str = ""
    payer_account: str = ""
    payer_id: str = Field(default="", description="Payer's tax id (NIT) when the bank reports it.")
    remittance: str = Field(default="", description="Free text and structured references, joined.")
    transaction_code: str = Field(default="", description="Bank transaction code, as in the file.")
    statement_id: str = Field(default="", description="Statement the line belongs to, as in the file.")
    ordinal: int = Field(default=0, ge=0)
    position: str = Field(default="", description="Where in the file: 'line 12', an XPath ...")

    @property
    def is_credit(self) -> bool:
        return self.amount > 0

    @property
    def identity(self) -> str:
        """Stable identity: account + booking date + bank reference + amount + ordinal."""
        parts = (
            normalise_account(self.account),
            self.booking_date.isoformat(),
            self.bank_reference.strip(),
            format(self.amount.normalize(), "f"),
            str(self.ordinal),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class StatementSummary(_Model):
    """What a statement declares about itself, yielded by a parser *after* its lines.

    Intake checks it against the lines it just received: opening balance plus the lines must equal
    the closing balance, and declared counts or control totals must match.
    """

    account: str
    currency: Currency
    statement_id: str = ""
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    opening_balance: Money | None = None
    closing_balance: Money | None = None
    declared_count: int | None = Field(default=None, description="Number of lines the file says it holds.")
    declared_total: Money | None = Field(default=None, description="Control total the file declares.")
    declared_movement: Money | None = Field(
        default=None, description="Net movement an interim report declares (MT942 :90C: - :90D:). Unlike "
        "declared_total, a difference is recorded as a break, not refused.")
    position: str = ""


class Customer(_Model):
    """A customer (debtor) as the ERP knows it."""

    id: str = Field(description="The ERP's customer number.")
    name: str
    tax_id: str = Field(default="", description="NIT or other tax id, as stored in the ERP.")
    company: str = ""


class OpenItem(_Model):
    """An open receivable (invoice, debit note) or credit (credit note) of one customer.

    ``open_amount`` is what is still owed now; ``original_amount`` what was invoiced. Credit notes
    carry negative amounts. ``tax_base`` and ``vat`` are kept when the ERP knows them, because
    Colombian payers deduct withholdings computed on them.
    """

    document: str = Field(description="ERP document number (what a posting clears).")
    customer_id: str
    reference: str = Field(default="", description="Invoice number as the customer sees it, e.g. FE-1001.")
    assignment: str = Field(default="", description="A second number payers may quote (SAP's assignment "
                            "ZUONR / ALLOC_NMBR: an order or contract number); matched like the reference.")
    currency: Currency
    open_amount: Money
    original_amount: Money
    document_date: dt.date | None = None
    due_date: dt.date | None = None
    tax_base: Money | None = None
    vat: Money | None = None
    cufe: str = Field(default="", description="DIAN e-invoice id (CUFE), when it is one.")
    discount_rate: Decimal | None = Field(default=None, description="Early-payment discount, e.g. 0.02 for 2 %.")
    discount_until: dt.date | None = Field(default=None, description="Last day the discount may be taken.")


class Evidence(_Model):
    """One fact behind a decision, in a form finance can read."""

    rule: str = Field(description="Machine name of the rule, e.g. 'reference+amount'.")
    code: str = Field(description="Message code, rendered in the configured language.")
    field: str = ""
    text: str = Field(default="", description="The text of the bank line that matched, if any.")
    detail: dict[str, str] = Field(default_factory=dict)


class Withholding(_Model):
    """A tax the payer withheld instead of paying (Colombia: retención en la fuente, ReteIVA,
    ReteICA), computed on the invoice's base or IVA; it clears the invoice like cash does."""

    kind: str = Field(description="retefuente, reteiva or reteica.")
    rate: Decimal
    base: Money
    amount: Money


class Application(_Model):
    """Part of a payment applied to one open item.

    ``amount`` is the cash applied. The item's balance is cleared by :attr:`cleared`: the cash plus
    what the payer withheld, the early-payment discount taken and any write-off in tolerance.
    """

    document: str
    reference: str = ""
    amount: Money
    currency: Currency
    withholdings: tuple[Withholding, ...] = ()
    discount: Money = Decimal(0)
    write_off: Money = Decimal(0)

    @property
    def cleared(self) -> Decimal:
        return self.amount + sum((w.amount for w in self.withholdings), Decimal(0)) + self.discount + self.write_off


class DecisionKind(StrEnum):
    APPLY = "apply"
    SUGGEST = "suggest"
    UNMATCHED = "unmatched"
    IGNORE = "ignore"


class Decision(_Model):
    """What the engine concluded for one statement line, and why."""

    line_identity: str
    kind: DecisionKind
    score: Decimal = Field(default=Decimal(0), ge=0, le=1)
    customer_id: str = ""
    applications: tuple[Application, ...] = ()
    candidates: tuple[tuple[Application, ...], ...] = Field(
        default=(), description="Ranked alternatives for 'suggest' decisions."
    )
    on_account: Money = Field(default=Decimal(0), description="Part of the payment left on the customer's account.")
    reason: str = Field(default="", description="Message code explaining the outcome.")
    evidence: tuple[Evidence, ...] = ()

    @model_validator(mode="after")
    def _apply_is_complete(self) -> "Decision":
        if self.kind is DecisionKind.APPLY and not (self.customer_id and (self.applications or self.on_account)):
            raise ValueError("an 'apply' decision needs a customer and an application or an on-account amount")
        return self


class PostingKind(StrEnum):
    APPLY = "apply"
    ON_ACCOUNT = "on_account"
    #: Undo a document the agent posted (finance's "reversar"); see :meth:`ErpConnector.reverse`.
    REVERSAL = "reversal"


class Posting(_Model):
    """One instruction for the ERP, taken from the outbox.

    ``key`` is the idempotency key (at most 16 characters so it fits SAP's ``XBLNR``); the
    connector must store it in a reference field of the ERP document it creates, so
    :meth:`ErpConnector.find_posting` can find it after a lost response.
    """

    key: str = Field(max_length=16, pattern=r"^[0-9A-Z]{1,16}$")
    company: str
    kind: PostingKind
    customer_id: str
    currency: Currency
    amount: Money = Field(description="The payment amount received (positive).")
    value_date: dt.date
    bank_account: str
    bank_reference: str = ""
    applications: tuple[Application, ...] = ()
    on_account: Money = Field(default=Decimal(0), description="Part of the payment left on the customer's account.")
    text: str = Field(default="", description="Short text for the ERP document.")
    reverses: str = Field(default="", description="For a reversal: the ERP document to reverse. The other "
                          "fields repeat the posting that created it.")

    @model_validator(mode="after")
    def _reversal_names_its_document(self) -> "Posting":
        if (self.kind is PostingKind.REVERSAL) != bool(self.reverses):
            raise ValueError("a reversal posting, and only a reversal, names the document it reverses in 'reverses'")
        return self


class PostingResult(_Model):
    """What the ERP answered: the document it created for a posting key."""

    key: str
    document: str = Field(description="ERP document number that now carries the key.")
    detail: str = ""


class CheckResult(_Model):
    """One line of ``conciliador check``."""

    name: str
    ok: bool
    detail: str = ""
