"""The engine's settings, as plain data (the agent builds them from ``[matching]`` in its TOML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

D = Decimal


@dataclass(frozen=True)
class MatchConfig:
    #: Shortest invoice reference (without separators) looked up in payment texts.
    min_reference_length: int = 3
    #: Shortest digit run taken as an invoice number without its prefix ("12345" for FE-12345).
    min_numeric_reference: int = 4
    #: A decision is applied only at or above this score (0-1).
    apply_threshold: Decimal = D("0.9")
    #: Differences the ERP may write off (or book as a bank charge): the smaller of the two wins,
    #: as SAP's tolerance groups do. Absolute in the payment's currency; percent of the payment.
    tolerance_absolute: Decimal = D("0")
    tolerance_percent: Decimal = D("0")
    #: Slack per invoice when comparing net-of-withholding amounts, in currency units: payers
    #: round or truncate each withholding to the peso.
    rounding_per_invoice: Decimal = D("1")
    #: Withholding rates payers may apply (reference/matching.md section 3).
    retefuente_rates: tuple[Decimal, ...] = (D("0.025"), D("0.035"), D("0.04"), D("0.06"), D("0.11"), D("0.01"))
    reteiva_rates: tuple[Decimal, ...] = (D("0.15"),)
    reteica_rates: tuple[Decimal, ...] = (D("0.00414"), D("0.00966"), D("0.01104"))
    #: Withholdings are rounded to this unit (the peso for COP).
    withholding_unit: Decimal = D("1")
    #: When several open items fit equally well and differ only in which one is taken (same
    #: customer, same amount): "suggest" lets finance choose; "oldest_first" applies the oldest.
    interchangeable: str = "suggest"
    #: A payment whose customer is certain but whose invoices are not: "suggest" or "on_account".
    unknown_invoices: str = "suggest"
    #: Fuzzy payer-name matching (rapidfuzz token_set_ratio on names without legal forms).
    name_cutoff: float = 90.0
    name_margin: float = 6.0
    #: Bounds of the 1:N search without references.
    max_candidates: int = 60
    max_combination: int = 5
    #: How billers pack several numbers into one reference (matching/layouts.py): regular
    #: expressions with named groups invoice, nit, customer, tried in order against the digits of
    #: the line's end_to_end_id. None: references are read only as the extractors read them.
    reference_layouts: tuple[str, ...] = ()
    #: The company's own accounts: money from them is an internal transfer, not a payment.
    own_accounts: frozenset[str] = field(default_factory=frozenset)
