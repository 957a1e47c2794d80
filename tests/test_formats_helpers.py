"""conciliador.formats: the helpers every bank format uses to read amounts and dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conciliador import StatementError
from conciliador.formats import Ordinals, parse_amount, parse_date


@pytest.mark.parametrize(("text", "kwargs", "expected"), [
    ("1.234.567,89", {"decimal_mark": ",", "thousands": "."}, Decimal("1234567.89")),
    ("1,234,567.89", {"decimal_mark": ".", "thousands": ","}, Decimal("1234567.89")),
    ("-1500", {}, Decimal("-1500")),
    ("9,", {"decimal_mark": ","}, Decimal("9")),
    (",5", {"decimal_mark": ","}, Decimal("0.5")),
    ("000123456", {"implied_decimals": 2}, Decimal("1234.56")),
    ("12.34567", {}, Decimal("12.34567")),
])
def test_amounts_are_read_exactly(text, kwargs, expected):
    assert parse_amount(text, **kwargs) == expected


@pytest.mark.parametrize(("text", "kwargs"), [
    ("1,000.00", {"decimal_mark": ",", "thousands": "."}),  # the other convention: refused, not 1.00000
    ("1.23.456,00", {"decimal_mark": ",", "thousands": "."}),
    ("12..34", {}),
    ("1e5", {}),
    ("12,34", {"decimal_mark": "."}),
    ("12a", {"implied_decimals": 2}),
])
def test_wrong_amounts_name_position_and_field(text, kwargs):
    with pytest.raises(StatementError) as info:
        parse_amount(text, position="line 4", field="Crédito", **kwargs)
    assert info.value.position == "line 4" and info.value.field == "Crédito"


def test_dates_with_position():
    assert parse_date("22/11/2026", "%d/%m/%Y") == dt.date(2026, 11, 22)
    with pytest.raises(StatementError, match="line 2"):
        parse_date("31/02/2026", "%d/%m/%Y", position="line 2")


def test_ordinals_tell_identical_transactions_apart_with_bounded_memory():
    o = Ordinals()
    day = dt.date(2026, 11, 20)
    assert [o("001-2", day, "R", Decimal("5")) for _ in range(3)] == [0, 1, 2]
    assert o("0012", day, "R", Decimal("5.00")) == 3  # same account, same amount written otherwise
    assert o("001-2", day + dt.timedelta(days=1), "R", Decimal("5")) == 0
    assert len(o._seen["0012"]) == 1  # the earlier day's counts were let go
    # A file whose dates go backwards keeps counting correctly from there on.
    assert o("001-2", day, "X", Decimal("1")) == 0 and o("001-2", day, "X", Decimal("1")) == 1


@pytest.mark.parametrize("bloom_bits", [1 << 20, 61], ids=["filter", "saturated filter"])
@pytest.mark.parametrize("returning", [True, False], ids=["sqlite>=3.35", "older sqlite"])
def test_ordinals_past_the_memory_limit_move_to_disk_and_stay_exact(monkeypatch, returning, bloom_bits):
    import conciliador.formats

    monkeypatch.setattr(conciliador.formats, "_RETURNING", returning and conciliador.formats._RETURNING)
    day = dt.date(2026, 11, 20)
    next_day = day + dt.timedelta(days=1)
    # One busy day (repeats among 200 lines), a second account, the next day, then a date going
    # backwards (that account keeps every key from then on).
    calls = [("001-2", day, f"R{i % 7}", Decimal(i % 5)) for i in range(200)]
    calls += [("77", day, "X", Decimal("1.0")) for _ in range(3)]
    calls += [("0012", next_day, f"R{i % 3}", Decimal("5")) for i in range(30)]
    calls += [("001-2", day, "R1", Decimal("1")), ("001-2", next_day, "R0", Decimal("5.00"))]
    # A 61-bit filter answers "maybe" to nearly everything: every new key then takes the
    # database path, which must count as exactly as the filter's "certainly not".
    in_memory, bounded = Ordinals(), Ordinals(memory_keys=8, bloom_bits=bloom_bits)
    expected = [in_memory(*call) for call in calls]
    assert expected[:7] == [0] * 7 and max(expected) >= 5  # the case has repeats to count
    seen_in_memory = []
    for i, (call, ordinal) in enumerate(zip(calls, expected)):
        assert bounded(*call) == ordinal, call
        seen_in_memory.append(max(len(keys) for keys in bounded._seen.values()))  # the bound is per account
        if i == 199:  # 35 distinct keys on the busy day: they went to disk
            assert bounded._on_disk == {"0012"}
    assert max(seen_in_memory) <= 8
    # the next day let the busy day's keys go, on disk too
    assert not bounded._on_disk
    assert sum(bounded._disk.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
               for table in bounded._tables.values()) == 0
