"""How pay is written in results: amounts with two places, ratios as fractions, and the one
shape of a payout row (both pay paths and the fixtures build it here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from engine.money import EXACT, format_money
from engine.pay.math import PlanPayout
from engine.pay.payments import PaymentLine
from engine.results import PAYMENT_COLUMNS, FrozenDict

__all__ = [
    "effective_rate",
    "measure_entries",
    "measure_entry",
    "payment_row",
    "payment_rows",
    "payout_row",
    "show_amount",
    "show_attainment",
    "show_money",
    "show_ratio",
]

_MICRO = Decimal("0.000001")


def _plain(value: Decimal) -> str:
    """A Decimal written without an exponent (`f"{value:f}"`): `str` writes the same text,
    three times faster, unless it writes an exponent (`1E+1`, `1E-7`)."""
    text = str(value)
    return f"{value:f}" if "E" in text else text


def show_money(value: Decimal) -> str:
    """A payout as a decimal string with two places (`5625.00`)."""
    text = _plain(value)
    whole, _, fraction = text.partition(".")
    if len(fraction) > 2:
        return format_money(value)  # a ruleset rounding finer than the cent
    text = f"{whole}.{fraction.ljust(2, '0')}"
    return "0.00" if text == "-0.00" else text


def show_amount(value: Decimal | None) -> str | None:
    """A credited value or quota as text: two places when exact to the cent, else as needed."""
    if value is None:
        return None
    whole, _, fraction = _plain(value).partition(".")
    fraction = fraction.rstrip("0") if len(fraction) > 2 else fraction
    text = f"{whole}.{fraction.ljust(2, '0')}"
    return "0.00" if text == "-0.00" else text


def show_attainment(value: Decimal | None) -> str | None:
    """An attainment as a fraction, truncated (never rounded up) to 6 decimals: 99,999.99 on a
    100,000 quota shows 0.999999, not 1, beside the band below 100% it was paid in. Band bounds
    have at most 6 decimals (a percentage with 4), so the shown value is in the band chosen."""
    if value is None:
        return None
    truncated = value.quantize(_MICRO, rounding=ROUND_FLOOR, context=EXACT).normalize(EXACT)
    return "0" if not truncated else _plain(truncated)


#: Rates and budget ratios are shown as attainments are: truncated, never above the true one.
show_ratio = show_attainment


def measure_entry(
    name: str,
    credited: Decimal,
    quota: Decimal | None,
    attainment: Decimal | None,
    rate: Decimal | None,
    payout: Decimal,
) -> FrozenDict:
    """One entry of a payout row's `measures` (see `engine.results.MEASURE_FIELDS`)."""
    return FrozenDict(
        measure=name,
        credited=show_amount(credited),
        quota=show_amount(quota),
        attainment=show_attainment(attainment),
        rate_or_pct=show_ratio(rate),
        payout=show_money(payout),
        effective_rate=effective_rate(payout, credited),
    )


def effective_rate(payout: Decimal, credited: Decimal) -> str | None:
    """What the measure pays per unit credited (payout / credited), truncated like a rate: the
    band rate `rate_or_pct` is the top band's for marginal rates (0.20 when the whole pays
    11.5%). None when nothing is credited."""
    if not credited:
        return None
    return show_ratio(EXACT.divide(payout, credited))


def measure_entries(
    name: str,
    credited: Sequence[Decimal],
    quota: Sequence[Decimal | None] | None,
    attainment: Sequence[Decimal | None] | None,
    rate: Sequence[Decimal | None],
    payout: Sequence[Decimal],
) -> list[FrozenDict]:
    """`measure_entry` of each rep of a measure: columns in, one entry per rep out."""
    none: list[None] = [None] * len(credited)
    return [
        measure_entry(name, c, q, a, r, p)
        for c, q, a, r, p in zip(
            credited,
            none if quota is None else quota,
            none if attainment is None else attainment,
            rate,
            payout,
            strict=True,
        )
    ]


def payout_row(payout: PlanPayout) -> Mapping[str, Any]:
    """A payout of the reference path as a row of the payouts table."""
    return {
        "rep_id": payout.rep_id,
        "plan": payout.plan,
        "period": payout.period,
        "payout": show_money(payout.payout),
        "measures": tuple(
            measure_entry(m.measure, m.credited, m.quota, m.attainment, m.rate_or_pct, m.payout)
            for m in payout.measures
        ),
        "paid": payout.paid,
    }


def payment_row(line: PaymentLine) -> dict[str, Any]:
    """A payment as a row of the payments table (both pay paths and the fixtures)."""
    return payment_rows([line])[0]


def payment_rows(lines: Sequence[PaymentLine]) -> list[dict[str, Any]]:
    """`payment_row` of each line, the amounts formatted a column at a time."""
    if not lines:
        return []
    fields = dict(zip(PaymentLine._fields, zip(*lines, strict=True), strict=True))
    columns: dict[str, Sequence[Any]] = {
        name: fields[name] for name in ("rep_id", "plan", "period", "plan_period")
    }
    columns["through"] = [day.isoformat() for day in fields["through"]]
    for column, name in (("due_to_date", "due"), *((c, c) for c in PAYMENT_COLUMNS[6:])):
        values = fields[name]
        # Most balances are zero on every line: nothing to format then.
        columns[column] = (
            [_money_or_zero(v) for v in values] if any(values) else ["0.00"] * len(lines)
        )
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _money_or_zero(value: Decimal) -> str:
    """`show_money`, without formatting the zeros most payment columns hold."""
    return "0.00" if not value else show_money(value)
