"""The column-wise formatting of pay (measure entries, payments) writes what the per-value
functions write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pay.format import measure_entries, measure_entry, payment_rows, show_money
from engine.pay.payments import PaymentLine
from engine.results import PAYMENT_COLUMNS

DECIMALS = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**12), 10**12) | st.sampled_from([0, 1, -1, 10, 100, 5]),
    st.integers(-3, 9),
) | st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E-10"), Decimal("1E+3")])
OPTIONAL = st.none() | DECIMALS
ROWS = st.lists(st.tuples(DECIMALS, OPTIONAL, OPTIONAL, DECIMALS), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, with_quota=st.booleans())
def test_measure_entries_are_measure_entry_of_each_rep(
    rows: list[tuple[Decimal, Decimal | None, Decimal | None, Decimal]], with_quota: bool
) -> None:
    credited = [r[0] for r in rows]
    quota = [r[1] for r in rows] if with_quota else None
    rate = [r[2] for r in rows]
    payout = [r[3] for r in rows]
    attainment = (
        None
        if quota is None
        else [None if q is None or not q else c / q for c, q in zip(credited, quota, strict=True)]
    )
    made = measure_entries("m", credited, quota, attainment, rate, payout)
    want = [
        measure_entry(
            "m",
            c,
            None if quota is None else quota[i],
            None if attainment is None else attainment[i],
            r,
            p,
        )
        for i, (c, r, p) in enumerate(zip(credited, rate, payout, strict=True))
    ]
    assert made == want
    assert [list(entry) for entry in made] == [list(entry) for entry in want]


@settings(max_examples=200, deadline=None)
@given(amounts=st.lists(st.lists(DECIMALS, min_size=12, max_size=12), min_size=1, max_size=10))
def test_payment_rows_write_each_amount_as_show_money(amounts: list[list[Decimal]]) -> None:
    lines = [
        PaymentLine("R1", "ae", "2026-02", "2026-Q1", dt.date(2026, 2, 28), *values)
        for values in amounts
    ]
    rows = payment_rows(lines)
    fields = PAYMENT_COLUMNS[5:]
    for row, values in zip(rows, amounts, strict=True):
        assert list(row) == list(PAYMENT_COLUMNS)
        assert [row[f] for f in fields] == ["0.00" if not v else show_money(v) for v in values]
