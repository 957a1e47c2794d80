"""Net-of-withholding amounts: what a Colombian payer transfers for an invoice.

The payer withholds retención en la fuente on the invoice's base (subtotal before IVA), ReteIVA on
its IVA, and ReteICA on its base, at rates that depend on the payer, the seller and the concept
(reference/matching.md section 3: Decreto 0572 de 2025; ReteIVA 15 %; ReteICA per mil by
municipality and activity). One payment applies one *profile* (one rate of each, or none) to
every invoice it pays. Rates are configuration, not code: they change by decree.

Money here is integers in units of 1/SCALE of the currency, so sums are exact and fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import product

SCALE = 100_000  # 5 decimals: the most seen in bank files
_RATE_SCALE = 1_000_000  # rates in millionths: 0.00966 (9.66 per mil) is 9660


def to_units(amount: Decimal) -> int | None:
    """Exact integer units, or None if ``amount`` has more decimals than SCALE holds."""
    scaled = amount * SCALE
    return int(scaled) if scaled == scaled.to_integral_value() else None


def from_units(units: int) -> Decimal:
    return (Decimal(units) / SCALE).normalize() if units % SCALE else Decimal(units // SCALE)


@dataclass(frozen=True)
class Profile:
    """One payer's way of withholding: a rate per tax (0 when that tax is not withheld)."""

    retefuente: Decimal = Decimal(0)
    reteiva: Decimal = Decimal(0)
    reteica: Decimal = Decimal(0)

    @property
    def is_gross(self) -> bool:
        return not (self.retefuente or self.reteiva or self.reteica)

    @property
    def parts(self) -> tuple[tuple[str, Decimal], ...]:
        return tuple((k, r) for k, r in (("retefuente", self.retefuente), ("reteiva", self.reteiva),
                                          ("reteica", self.reteica)) if r)

    def label(self) -> str:
        return " + ".join(f"{k} {r * 100:g} %" for k, r in self.parts) or "sin retenciones"


def profiles(retefuente: list[Decimal], reteiva: list[Decimal], reteica: list[Decimal]) -> list[Profile]:
    """Every plausible profile from the configured rates, simplest first. ReteIVA and ReteICA
    agents also withhold renta, so neither appears without a retefuente rate."""
    out = [Profile()]
    for rf, riva, rica in product(retefuente, [Decimal(0), *reteiva], [Decimal(0), *reteica]):
        out.append(Profile(rf, riva, rica))
    return sorted(set(out), key=lambda p: (len(p.parts), p.retefuente, p.reteiva, p.reteica))


@dataclass(frozen=True)
class RateUnits:
    """A profile in integer form for the hot loop."""

    profile: Profile
    rf: int
    riva: int
    rica: int

    @classmethod
    def of(cls, p: Profile) -> RateUnits:
        return cls(p, int(p.retefuente * _RATE_SCALE), int(p.reteiva * _RATE_SCALE), int(p.reteica * _RATE_SCALE))


def withheld(base: int, rate_millionths: int, unit: int) -> int:
    """``base x rate`` rounded half-up to ``unit`` (the peso for COP), in integer units."""
    if not rate_millionths or not base:
        return 0
    exact = base * rate_millionths  # in units x 1e6
    step = unit * _RATE_SCALE
    return ((exact + step // 2) // step) * unit


def withholding_split(profile: RateUnits, base: int, vat: int, unit: int) -> tuple[int, int, int]:
    return (withheld(base, profile.rf, unit), withheld(vat, profile.riva, unit), withheld(base, profile.rica, unit))
