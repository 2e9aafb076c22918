"""How pay is written in results: amounts with two places, ratios as fractions, and the one
shape of a payout row (both pay paths and the fixtures build it here)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any

from engine.money import EXACT, format_money
from engine.pay.math import PlanPayout
from engine.pay.payments import PaymentLine
from engine.results import MEASURE_FIELDS, FrozenDict

__all__ = [
    "effective_rate",
    "measure_entries",
    "measure_entry",
    "money_texts",
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
    """`measure_entry` of each rep of a measure: columns in, one entry per rep out. The same
    texts as `measure_entry`, a column at a time: the decimal module's own calls mapped over
    a column, the per-value functions only for the few values that need them."""
    n = len(credited)
    none: list[None] = [None] * n
    quota_texts = none if quota is None else _column(quota, _amounts)
    attainment_texts = none if attainment is None else _column(attainment, _ratios)
    payout_texts = _amounts(payout, show_money)
    credited_texts = _amounts(credited)
    known = [i for i, c in enumerate(credited) if c]
    effective: list[str | None] = list(none)
    if known:
        divided = map(EXACT.divide, [payout[i] for i in known], [credited[i] for i in known])
        for i, text in zip(known, _ratios(list(divided)), strict=True):
            effective[i] = text
    keys = MEASURE_FIELDS
    return [
        FrozenDict(zip(keys, row, strict=True))
        for row in zip(
            [name] * n,
            credited_texts,
            quota_texts,
            attainment_texts,
            _column(rate, _ratios),
            payout_texts,
            effective,
            strict=True,
        )
    ]


#: Text `str` gives a Decimal that `show_amount` and `show_money` keep as it is.
_CENTS = re.compile(r"(?!-0\.00$)-?\d+\.\d\d$")
#: Text `str` gives a truncated ratio that `show_attainment` keeps as it is.
_PLAIN = re.compile(r"(?!-?0$)-?\d+(?:\.\d+)?$")
_TRUNCATE = partial(Decimal.quantize, exp=_MICRO, rounding=ROUND_FLOOR, context=EXACT)
_NORMALIZE = partial(Decimal.normalize, context=EXACT)


def _amounts(
    values: Sequence[Decimal], show: Callable[[Decimal], str | None] = show_amount
) -> list[str]:
    """`show` (`show_amount` or `show_money`) of a column of amounts: both keep the text of
    an amount with two places, as most are; the others go through `show`."""
    texts = list(map(str, values))
    return [
        t if m else show(v)  # type: ignore[misc]
        for t, m, v in zip(texts, map(_CENTS.match, texts), values, strict=True)
    ]


def money_texts(values: Sequence[Decimal]) -> list[str]:
    """`show_money` of each amount of a column."""
    return _amounts(values, show_money)


def _ratios(values: Sequence[Decimal]) -> list[str]:
    """`show_attainment` of a column of ratios."""
    texts = list(map(str, map(_NORMALIZE, map(_TRUNCATE, values))))
    return [
        t if m else show_attainment(v)  # type: ignore[misc]
        for t, m, v in zip(texts, map(_PLAIN.match, texts), values, strict=True)
    ]


def _column(
    values: Sequence[Decimal | None], show: Callable[[Sequence[Decimal]], list[str]]
) -> list[str | None]:
    """`show` of the known values of a column; None where a value is None."""
    known = [i for i, v in enumerate(values) if v is not None]
    if len(known) == len(values):
        return list(show(values))  # type: ignore[arg-type]
    out: list[str | None] = [None] * len(values)
    for i, text in zip(known, show([values[i] for i in known]), strict=True):  # type: ignore[misc]
        out[i] = text
    return out


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


#: The money fields of a payment line, in the payments table's order.
_PAYMENT_MONEY = (
    ("due_to_date", "due"),
    ("paid_before", "paid_before"),
    ("earned", "earned"),
    ("catch_up", "catch_up"),
    ("clawbacks", "clawbacks"),
    ("held", "held"),
    ("recovered", "recovered"),
    ("draw", "draw"),
    ("payment", "payment"),
    ("carried", "carried"),
    ("advanced", "advanced"),
    ("written_off", "written_off"),
)


def payment_rows(lines: Sequence[PaymentLine]) -> list[dict[str, Any]]:
    """`payment_row` of each line, the amounts formatted a column at a time."""
    columns: dict[str, Sequence[Any]] = {
        "rep_id": [line.rep_id for line in lines],
        "plan": [line.plan for line in lines],
        "period": [line.period for line in lines],
        "plan_period": [line.plan_period for line in lines],
        "through": [line.through.isoformat() for line in lines],
    }
    for column, name in _PAYMENT_MONEY:
        values = [getattr(line, name) for line in lines]
        # Most balances are zero on every line: nothing to format then.
        columns[column] = _amounts(values, _money_or_zero) if any(values) else ["0.00"] * len(lines)
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _money_or_zero(value: Decimal) -> str:
    """`show_money`, without formatting the zeros most payment columns hold."""
    return "0.00" if not value else show_money(value)
