"""The lines of a payment document, shared by the ECC (FB05) and S/4HANA (Journal Entry) paths:
amounts in SAP's external format (the FB05 wrapper converts them to the internal one), the G/L
account of each kind of line, and the checks every application must pass before SAP sees it, so a
refusal is explained in words, not as ``F5 702``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from conciliador import Application, PermanentError, Posting, RetryableError
from conciliador.models import normalise_account

from .currency import CurrencyDecimals
from .normalise import SapItem
from .settings import SapSettings

WITHHOLDING_TEXT = {"retefuente": "ReteFuente", "reteiva": "ReteIVA", "reteica": "ReteICA"}


@dataclass(frozen=True)
class Deduction:
    """Part of an invoice cleared without cash: a withholding, a discount, a write-off."""

    kind: str  # retefuente, reteiva, reteica, discount, write_off: also the gl_accounts setting
    amount: Decimal  # positive: debit the G/L account (an expense or a tax receivable)
    text: str


class PaymentLines:
    def __init__(self, settings: SapSettings, company: str, currencies: CurrencyDecimals) -> None:
        self.settings = settings
        self.company = company
        self.currencies = currencies

    def bank_gl(self, posting: Posting) -> str:
        gl = self.settings.gl_accounts
        return gl.bank_by_account.get(normalise_account(posting.bank_account), gl.bank)

    def amount(self, amount: Decimal, currency: str, what: str) -> str:
        """``amount`` in external format (``1234567.89``; ``1190000`` for a currency SAP keeps
        without decimals), with the decimals SAP keeps for ``currency`` (TCURX, read from SAP). An
        amount with more decimals than that is refused here, in words; when SAP cannot say, it is
        sent as it is and SAP's own conversion decides."""
        decimals = self.currencies.get(currency)
        if decimals is None:
            return format(amount, "f")
        unit = Decimal(1).scaleb(-decimals)
        if amount != amount.quantize(unit):
            raise PermanentError(f"SAP: {what} {amount} {currency} has more decimals than SAP keeps for {currency} "
                                 f"({decimals})")
        return format(amount.quantize(unit), "f")

    def gl_for(self, kind: str, posting: Posting) -> str:
        account = getattr(self.settings.gl_accounts, kind, "")
        if not account:
            # Configuration, not finance's business: the posting waits until IT sets the account.
            raise RetryableError(f"SAP posting {posting.key} needs a G/L account for {kind}: set gl_accounts.{kind} "
                                 f"in the settings of company {self.company}; the posting waits until then")
        return account

    def applied(self, posting: Posting, items: list[SapItem]) -> Iterator[tuple[Application, SapItem]]:
        """Each application with the open item it clears, after SAP's own rules: the item is open,
        in the payment's currency, and not cleared beyond its open amount. Checks at the end that
        the payment equals what it applies plus what stays on account."""
        by_doc = {i.item.document: i for i in items}
        cur = posting.currency
        applied = Decimal(0)
        for app in posting.applications:
            item = by_doc.get(app.document)
            if item is None:
                raise PermanentError(f"SAP: document {app.document} is not open for customer {posting.customer_id} "
                                     f"in company code {self.settings.company_code}; it may have been paid or reversed")
            if app.currency != cur or item.item.currency != cur:
                raise PermanentError(f"SAP: document {app.document} is in {item.item.currency}, the payment "
                                     f"{posting.key} in {cur}; SAP clears items of the document currency only")
            open_amount = item.item.open_amount
            if open_amount == 0 or app.cleared * open_amount < 0 or abs(app.cleared) > abs(open_amount):
                raise PermanentError(f"SAP: {app.cleared} {cur} cannot be cleared from document {app.document}, which "
                                     f"is open for {open_amount} {cur}")
            applied += app.amount
            yield app, item
        on_account = self.on_account(posting)
        if applied + on_account != posting.amount:
            raise PermanentError(f"SAP: payment {posting.key} of {posting.amount} {cur} does not equal what it applies "
                                 f"({applied} {cur}) plus what it leaves on account ({on_account} {cur})")

    @staticmethod
    def on_account(posting: Posting) -> Decimal:
        """What stays on the customer's account: all of a payment that applies nothing."""
        return posting.on_account if posting.applications else posting.amount

    @staticmethod
    def deductions(app: Application) -> list[Deduction]:
        label = app.reference or app.document
        out = [Deduction(w.kind, w.amount, f"{WITHHOLDING_TEXT.get(w.kind, w.kind)} {w.rate * 100:g}% "
                                           f"base {w.base} {label}") for w in app.withholdings if w.amount]
        if app.discount:
            out.append(Deduction("discount", app.discount, f"Descuento pronto pago {label}"))
        if app.write_off:
            out.append(Deduction("write_off", app.write_off, f"Diferencia en tolerancia {label}"))
        return out
