"""KPI figures on a store built row by row (tests/report_support.py), where every answer is worked
out by hand in the builder's comments.

The store is the real SQLite schema (migrations applied); rows are written as the agent writes
them (StatementLine and OpenItem JSON, outbox payloads), with timestamps chosen to fall on known
days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from report_support import ACME, PERIOD, bogota_days, build  # noqa: F401 (autouse)

from conciliador.report import Period, build_report
from conciliador.report.figures import aging_bucket, lag_bucket, p90, unapplied_age_bucket
from conciliador.store import Database

D = Decimal


@pytest.fixture
def store(tmp_path: Path):
    s = build(tmp_path / "state")
    yield s
    s.db.close()


def test_bucket_boundaries():
    assert [aging_bucket(d) for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 180, 181)] == [
        "current", "current", "1_30", "1_30", "31_60", "31_60", "61_90", "61_90", "91_180", "91_180", "180_plus"]
    assert [unapplied_age_bucket(d) for d in (0, 1, 2, 7, 8, 30, 31, 60, 61)] == [
        "0_1", "0_1", "2_7", "2_7", "8_30", "8_30", "31_60", "31_60", "60_plus"]
    assert [lag_bucket(d) for d in (0, 1, 2, 3, 4, 7, 8, 30, 31)] == [
        "0", "1", "2_3", "2_3", "4_7", "4_7", "8_30", "8_30", "30_plus"]
    assert p90([D(v) for v in range(1, 11)]) == D(9) and p90([D(5)]) == D(5) and p90([]) is None


def test_auto_application_rate_counts_customer_payments_only(store):
    r = build_report(store.conn, PERIOD)
    # Payments in the period: L1 L2 L3 L6 L7 L11 (not the debit, the transfer, the undecided line or
    # the unclaimed account). Automatic: L1, L7, L11 (L3's posting was refused).
    assert (r.lines, r.payments, r.auto, r.auto_rate) == (10, 6, 3, D("50.0"))
    assert r.auto_reversed == 1  # L11: applied by the engine, reversed by finance
    by_day = {d.day.isoformat(): (d.payments, d.auto, d.rate) for d in r.daily if d.payments}
    assert by_day == {"2026-11-02": (2, 1, D("50.0")), "2026-11-03": (2, 0, D("0.0")),
                      "2026-11-05": (1, 1, D("100.0")), "2026-11-10": (1, 1, D("100.0"))}
    assert len(r.daily) == 30 and r.daily[0].rate is None


def test_time_from_bank_line_to_application(store):
    t = build_report(store.conn, PERIOD).time_to_apply
    # Hours from arrival to posting: L1 2, L2 71, L7 6, L11 6 (its first application counts).
    assert sorted(t.hours) == [D("2.0"), D("6.0"), D("6.0"), D("71.0")]
    assert (t.median_hours, t.p90_hours) == (D("6.0"), D("71.0"))
    assert (t.median_days, t.p90_days) == (D("0.0"), D(3))
    assert t.lag["0"] == [3, 0] and t.lag["2_3"] == [0, 1] and sum(sum(v) for v in t.lag.values()) == 4


def test_unapplied_amount_age_and_payers(store):
    r = build_report(store.conn, PERIOD)
    cop = r.unapplied["COP"]
    # L3 500, L6 700, L8 900, L9 100, L10 250, L11 1500 (reversed).
    assert (cop.amount, cop.count, cop.oldest_days) == (D(3950), 6, 41)
    assert cop.by_age == {"0_1": 0, "2_7": 0, "8_30": D(3050), "31_60": D(900), "60_plus": 0}
    assert [(p.payer, p.amount, p.count, p.oldest_days) for p in r.payers] == [
        ("Juan Pérez", D(1600), 2, 41), ("Cliente Once", D(1500), 1, 25), ("=CMD|' /C calc'!A0", D(500), 1, 27),
        ("Otro", D(250), 1, 26), ("0550-1", D(100), 1, 26)]


def test_aging_dso_cei_by_company_and_currency(store):
    r = build_report(store.conn, PERIOD)
    acme, acme_usd, beta = r.ar
    assert (acme.company, acme.currency, acme.as_of, acme.begin_at) == ("acme", "COP", dt.date(2026, 11, 29),
                                                                       dt.date(2026, 10, 31))
    assert acme.buckets == {"current": D(4100), "1_30": D(1800), "31_60": D(600), "61_90": D(400),
                            "91_180": D(800), "180_plus": D(700)}
    assert (acme.total, acme.overdue, acme.overdue_pct, acme.no_due_date) == (D(8400), D(4300), D("51.2"), 1)
    # Sales: I3 5000 + I4 1000 + credit note I8 -200 (not I11, read after the period).
    assert (acme.begin_total, acme.sales) == (D(3000), D(5800))
    assert acme.dso == D("29.5")   # (3000 + 8400) / 2 / 5800 x 30 = 29.48
    assert acme.cei == D("8.5")    # (3000 + 5800 - 8400) / (3000 + 5800 - 4100) x 100 = 8.51
    assert (acme_usd.currency, acme_usd.buckets["1_30"], acme_usd.overdue_pct) == ("USD", D("50.00"), D("100.0"))
    assert acme_usd.dso is None and acme_usd.cei is None  # no sales, nothing collectable
    assert (beta.begin_at, beta.as_of, beta.begin_total, beta.sales, beta.total) == (
        dt.date(2026, 11, 20), dt.date(2026, 11, 20), D(5000), D(4000), D(5000))
    assert (beta.dso, beta.cei, beta.overdue_pct) == (D("37.5"), D("80.0"), D("20.0"))
    cop = r.ar_totals["COP"]
    assert (cop.total, cop.current, cop.begin_total, cop.sales) == (D(13400), D(8100), D(8000), D(9800))
    assert (cop.dso, cop.cei, cop.overdue_pct) == (D("32.8"), D("45.4"), D("39.6"))


def test_by_bank_and_company(store):
    rows = {(b.company, b.account): b for b in build_report(store.conn, PERIOD).banks}
    acme = rows[("acme", ACME)]
    assert (acme.lines, acme.payments, acme.auto, acme.rate) == (8, 5, 2, D("40.0"))
    assert (acme.applied_amount, acme.unapplied_amount, acme.unapplied_count) == (D(3000), D(3700), 5)
    beta = rows[("beta", "999")]
    assert (beta.payments, beta.auto, beta.rate, beta.applied_amount, beta.unapplied_amount) == (1, 1, D("100.0"), D(4000), 0)
    unclaimed = rows[("", "555")]
    assert (unclaimed.payments, unclaimed.rate, unclaimed.unapplied_amount) == (0, None, D(250))


def test_one_company(store):
    r = build_report(store.conn, PERIOD, company="beta")
    assert (r.lines, r.payments, r.auto, list(r.unapplied)) == (1, 1, 1, [])
    assert [g.company for g in r.ar] == ["beta"] and r.ar_totals["COP"].dso == D("37.5")


def test_a_period_before_any_reading_has_no_receivables(store):
    r = build_report(store.conn, Period(dt.date(2026, 10, 1), dt.date(2026, 10, 30)))
    assert r.ar == [] and (r.lines, r.payments, r.auto) == (2, 2, 1)  # L8 and L12
    assert r.unapplied["COP"].amount == D(2100) and r.has_data  # L12 was posted only on 2 November


def test_empty_store(tmp_path):
    db = Database.open(tmp_path / "state")
    try:
        r = build_report(db.conn, PERIOD)
    finally:
        db.close()
    assert not r.has_data and r.auto_rate is None and r.ar == [] and r.time_to_apply.median_hours is None


def test_period_must_not_end_before_it_starts():
    from conciliador.errors import ConciliadorError

    with pytest.raises(ConciliadorError, match="starts on 2026-11-30 after it ends on 2026-11-01"):
        Period(dt.date(2026, 11, 30), dt.date(2026, 11, 1))
