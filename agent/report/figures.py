"""The report's figures as plain data: what kpis.py computes from the store and the writers show.
Buckets, percentages and percentiles are defined here once; docs/report.md explains each figure."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from ..errors import ConciliadorError

AGING = ("current", "1_30", "31_60", "61_90", "91_180", "180_plus")
UNAPPLIED_AGE = ("0_1", "2_7", "8_30", "31_60", "60_plus")
LAG = ("0", "1", "2_3", "4_7", "8_30", "30_plus")
TOP_PAYERS = 10

TENTH = Decimal("0.1")
HUNDRED = Decimal(100)


def aging_bucket(days_past_due: int) -> str:
    for limit, name in ((0, "current"), (30, "1_30"), (60, "31_60"), (90, "61_90"), (180, "91_180")):
        if days_past_due <= limit:
            return name
    return "180_plus"


def unapplied_age_bucket(days: int) -> str:
    for limit, name in ((1, "0_1"), (7, "2_7"), (30, "8_30"), (60, "31_60")):
        if days <= limit:
            return name
    return "60_plus"


def lag_bucket(days: int) -> str:
    for limit, name in ((0, "0"), (1, "1"), (3, "2_3"), (7, "4_7"), (30, "8_30")):
        if days <= limit:
            return name
    return "30_plus"


def pct(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(TENTH) if whole > 0 else None


def p90(values: list[Decimal]) -> Decimal | None:
    """Nearest-rank 90th percentile: a value that really occurred."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * 9 / 10) - 1]


def median(values: list[Decimal]) -> Decimal | None:
    return Decimal(statistics.median(values)).quantize(TENTH) if values else None


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ConciliadorError(f"The report period starts on {self.start} after it ends on {self.end}; "
                                   "give --from on or before --to.")

    @classmethod
    def ending(cls, end: dt.date, days: int) -> Period:
        return cls(end - dt.timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range(self.days)]


@dataclass
class DayRate:
    day: dt.date
    payments: int = 0
    auto: int = 0

    @property
    def rate(self) -> Decimal | None:
        return pct(self.auto, self.payments)


@dataclass
class TimeToApply:
    lag: dict[str, list[int]] = field(default_factory=lambda: {b: [0, 0] for b in LAG})  # bucket -> [auto, by finance]
    hours: list[Decimal] = field(default_factory=list)
    days: list[Decimal] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def median_hours(self) -> Decimal | None:
        return median(self.hours)

    @property
    def p90_hours(self) -> Decimal | None:
        return p90(self.hours)

    @property
    def median_days(self) -> Decimal | None:
        return median(self.days)

    @property
    def p90_days(self) -> Decimal | None:
        return p90(self.days)


@dataclass
class Unapplied:
    """Customer payments not applied in the ERP at the end of the period, in one currency."""

    currency: str
    amount: Decimal = Decimal(0)
    count: int = 0
    oldest_days: int = 0
    by_age: dict[str, Decimal] = field(default_factory=lambda: {b: Decimal(0) for b in UNAPPLIED_AGE})


@dataclass
class PayerRow:
    payer: str
    currency: str
    amount: Decimal = Decimal(0)
    count: int = 0
    oldest_days: int = 0


@dataclass
class ArGroup:
    """Receivables of one company (or of every company, ``company == ""``) in one currency."""

    company: str
    currency: str
    as_of: dt.date | None = None
    begin_at: dt.date | None = None
    buckets: dict[str, Decimal] = field(default_factory=lambda: {b: Decimal(0) for b in AGING})
    begin_total: Decimal = Decimal(0)
    sales: Decimal = Decimal(0)
    no_due_date: int = 0
    days: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0))

    @property
    def current(self) -> Decimal:
        return self.buckets["current"]

    @property
    def overdue(self) -> Decimal:
        return self.total - self.current

    @property
    def overdue_pct(self) -> Decimal | None:
        return pct(self.overdue, self.total)

    @property
    def dso(self) -> Decimal | None:
        """Average receivables (opening and closing) / sales of the period x its days."""
        if self.sales <= 0:
            return None
        average = (self.begin_total + self.total) / 2
        return (average / self.sales * self.days).quantize(TENTH)

    @property
    def cei(self) -> Decimal | None:
        """(opening + sales - closing total) / (opening + sales - closing current) x 100."""
        collectable = self.begin_total + self.sales - self.current
        if collectable <= 0:
            return None
        return ((self.begin_total + self.sales - self.total) * HUNDRED / collectable).quantize(TENTH)

    def add(self, other: ArGroup) -> None:
        for bucket, amount in other.buckets.items():
            self.buckets[bucket] += amount
        self.begin_total += other.begin_total
        self.sales += other.sales
        self.no_due_date += other.no_due_date
        self.as_of = max(filter(None, (self.as_of, other.as_of)), default=None)
        self.begin_at = min(filter(None, (self.begin_at, other.begin_at)), default=None)


@dataclass
class BankRow:
    company: str
    account: str
    currency: str
    lines: int = 0
    payments: int = 0
    auto: int = 0
    applied_amount: Decimal = Decimal(0)
    unapplied_amount: Decimal = Decimal(0)
    unapplied_count: int = 0

    @property
    def rate(self) -> Decimal | None:
        return pct(self.auto, self.payments)


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    company: str | None
    lines: int = 0
    payments: int = 0
    auto: int = 0
    auto_reversed: int = 0  # of ``auto``: the ones finance reversed (the engine was wrong)
    daily: list[DayRate] = field(default_factory=list)
    time_to_apply: TimeToApply = field(default_factory=TimeToApply)
    unapplied: dict[str, Unapplied] = field(default_factory=dict)
    payers: list[PayerRow] = field(default_factory=list)
    ar: list[ArGroup] = field(default_factory=list)
    ar_totals: dict[str, ArGroup] = field(default_factory=dict)
    banks: list[BankRow] = field(default_factory=list)

    @property
    def auto_rate(self) -> Decimal | None:
        return pct(self.auto, self.payments)

    @property
    def unapplied_count(self) -> int:
        return sum(u.count for u in self.unapplied.values())

    @property
    def has_data(self) -> bool:
        return bool(self.lines or self.unapplied or self.ar)
