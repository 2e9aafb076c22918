"""The payments table written a column at a time says what `show_money` says of each amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pay.format import payment_rows, show_money
from engine.pay.payments import PaymentLine
from engine.results import PAYMENT_COLUMNS

DECIMALS = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**12), 10**12) | st.sampled_from([0, 1, -1, 10, 100, 5]),
    st.integers(-3, 9),
) | st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0E-10"), Decimal("1E+3")])


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
