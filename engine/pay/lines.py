"""Pay per deal: every credited deal's share of each measure's payout, exact to the cent.

A measure is paid on the sum of its credited deals; this module says how much of that payout
each deal brings. Both pay paths call it: the reference (`plan_lines`, deal by deal, with
Fractions) and the table path (`vector_lines`, integer arrays for whole tables). They must give
the same lines; the tests check it on random data.

The rule, one measure of one rep and period (P: the measure's rounded payout):
  1. Deals are taken in credit-date order (the `dated` date, `close_date` by default), ties by
     deal id.
  2. Each deal gets an exact weight w:
       * marginal rates: the euros it adds in each band at that band's rate, as the deal is
         stacked on the deals before it (4% up to 150,000, 6% above; at 145,000, a deal of
         20,000 weighs 5,000 x 4% + 15,000 x 6% = 1,100.00), plus its share of the
         accelerator and bonus pro rata of credit;
       * every other method (retroactive rates, steps, curve, commission, per unit): its
         credited value (pro rata of credit), accelerator and bonus included.
     A floor threshold is inside the marginal bands (only euros above it earn); a gate pays
     everything or nothing.
  3. The lines share P in proportion to the weights (P x w / sum of w): a cap (of the measure)
     and the rounding of the payout thus scale every deal's share alike. Each line is rounded
     down to the cent (to the rounding step when the ruleset rounds finer), then the cents
     left over go one each to the largest remainders, ties to the earlier deal in the order of
     step 1 (largest remainder method). The lines add up to P exactly.
  4. The plan cap: when it lowers a rep's total, all the rep's lines on that plan (every
     measure) share the capped total the same way, in proportion to their amounts before the
     cap; the lines then add up to the plan's payout.
Decisions where the issue is silent:
  * weights that sum to 0 (a gain and an equal loss on margins) share a non-zero payout
    equally between the deals; a payout of 0 gives every deal a line of 0.00 (never a division
    by zero); negative weights (loss-making margins) give negative lines;
  * a measure that pays without any credited deal (a bonus on nothing, a curve's `below`
    point) has one line without a deal id, so the lines still add up to the payout; a measure
    paying 0 on no deal has no line;
  * a split deal gives each rep of the split a line for their share of it.
Columns of the `payout_lines` table: rep_id, plan, period, measure, deal_id, date (ISO),
credited (the rep's credited value of the deal), rate (the line's effective rate: payout /
credited, truncated to 6 decimals, as rates are shown) and payout, as text like the payouts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from engine.money import EXACT, exact_mul
from engine.pay.format import show_amount, show_ratio
from engine.pay.math import CreditedDeal, MeasurePayout, PlanPayout, marginal_amount
from engine.pay.spec import MeasureSpec, PlanSpec
from engine.results import PAYOUT_LINE_COLUMNS
from engine.vector.values import decimal_array, group_sums

__all__ = [
    "PAYOUT_LINE_COLUMNS",
    "DealLine",
    "DealRows",
    "apportion",
    "cap_lines",
    "line_places",
    "line_rows",
    "lines_frame",
    "plan_lines",
    "vector_lines",
]

Array = npt.NDArray[Any]
Bools = npt.NDArray[np.bool_]
# Products of integers that could reach this are computed with Python ints (no int64 overflow).
_INT_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class DealLine:
    """A deal's share of a measure's payout (deal_id None: a payout made on no deal)."""

    measure: str
    deal_id: str | None
    date: dt.date | None
    credited: Decimal
    payout: Decimal


def line_places(plan: PlanSpec) -> int:
    """Decimal places of the lines: cents, or the rounding step's places when it is finer."""
    exponent = int(plan.rounding[1].normalize().as_tuple().exponent)
    return max(2, -exponent)


# ============================================================================ the reference
def apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Share `total` units in proportion to `weights` (largest remainder, ties to the first).

    Weights summing to 0 share a non-zero total equally (see the module note)."""
    if not weights:
        return []
    whole = sum(weights, Fraction(0))
    if whole == 0:
        if total == 0:
            return [0] * len(weights)
        weights, whole = [Fraction(1)] * len(weights), Fraction(len(weights))
    ideal = [Fraction(total) * w / whole for w in weights]
    floors = [i.numerator // i.denominator for i in ideal]
    left = total - sum(floors)
    order = sorted(range(len(ideal)), key=lambda i: (-(ideal[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def _weights(
    spec: MeasureSpec, line: MeasurePayout, deals: Sequence[CreditedDeal]
) -> list[Fraction]:
    """Each deal's exact weight (step 2 of the module note), deals in credit order."""
    credits = [Fraction(d.credited) for d in deals]
    if spec.method != "rates" or spec.rates_method != "marginal":
        return credits
    extras = sum(
        (Fraction(p.amount) for p in line.parts if p.kind in ("accelerator", "bonus")), Fraction(0)
    )
    total = sum(credits, Fraction(0))
    found: list[Fraction] = []
    before, paid = Decimal(0), Fraction(0)
    for deal, credit in zip(deals, credits, strict=True):
        before += deal.credited
        reached = Fraction(marginal_amount(spec, before, line.quota))
        share = extras * credit / total if total else extras / len(deals)
        found.append(reached - paid + share)
        paid = reached
    return found


def _measure_lines(
    spec: MeasureSpec, line: MeasurePayout, deals: Sequence[CreditedDeal], places: int
) -> list[tuple[DealLine, int]]:
    ordered = sorted(deals, key=lambda d: (d.date, d.deal_id))
    units = int(line.payout.scaleb(places))
    if not ordered:
        if not units:
            return []
        return [(DealLine(spec.name, None, None, Decimal(0), line.payout), units)]
    shares = apportion(units, _weights(spec, line, ordered))
    return [
        (DealLine(spec.name, d.deal_id, d.date, d.credited, Decimal(u).scaleb(-places)), u)
        for d, u in zip(ordered, shares, strict=True)
    ]


def plan_lines(plan: PlanSpec, payout: PlanPayout) -> tuple[DealLine, ...]:
    """The pay per deal of one plan payout (reference path): measures in the plan's order,
    deals in credit order; the plan cap shared over every line (module note, step 4)."""
    places = line_places(plan)
    found: list[tuple[DealLine, int]] = []
    with localcontext(EXACT):
        for spec, line in zip(plan.measures, payout.measures, strict=True):
            found.extend(_measure_lines(spec, line, payout.deals.get(spec.name, ()), places))
    if payout.cap_adjustment or payout.part_adjustment:  # a plan cap, a version's share
        units = int(payout.payout.scaleb(places))
        capped = apportion(units, [Fraction(u) for _, u in found])
        found = [
            (
                DealLine(d.measure, d.deal_id, d.date, d.credited, Decimal(u).scaleb(-places)),
                u,
            )
            for (d, _), u in zip(found, capped, strict=True)
        ]
    return tuple(d for d, _ in found)


def _money_text(value: Decimal) -> str:
    """A line's payout as text with all its places (two for cents): `1100.00`."""
    text = f"{value:f}"
    return text[1:] if text.startswith("-") and not value else text


def _rate_text(payout: Decimal, credited: Decimal) -> str | None:
    """payout / credited, floored to 6 decimals exactly (never above the true rate)."""
    if not credited:
        return None
    micro = Fraction(payout) / Fraction(credited) * 10**6
    return show_ratio(Decimal(micro.numerator // micro.denominator).scaleb(-6))


def line_rows(payout: PlanPayout, lines: Sequence[DealLine]) -> list[dict[str, Any]]:
    """Reference lines as rows of the payout_lines table."""
    return [
        {
            "rep_id": payout.rep_id,
            "plan": payout.plan,
            "period": payout.period,
            "measure": d.measure,
            "deal_id": d.deal_id,
            "date": None if d.date is None else d.date.isoformat(),
            "credited": show_amount(d.credited),
            "rate": _rate_text(d.payout, d.credited),
            "payout": _money_text(d.payout),
        }
        for d in lines
    ]


# ============================================================================ the table path
@dataclass(frozen=True, slots=True)
class DealRows:
    """The deals behind one measure for the reps of one plan period, one row per credited
    deal, sorted by rep, then credit date, then deal id: `rep` (position of the rep in the
    batch), `deal` (position in the deals table), `day` (days since 1970) and `value` (the
    credited value in units of 10**-scale: int64, or Python ints when large)."""

    rep: Array
    deal: Array
    day: Array
    value: Array
    scale: int

    def keep(self, reps: Array, size: int) -> DealRows:
        """The rows of some reps only (`reps`: their positions among `size`, ascending),
        renumbered in that order."""
        new = np.full(size, -1, dtype=np.int64)
        new[reps] = np.arange(len(reps))
        rep = new[self.rep]
        mask = rep >= 0
        return DealRows(rep[mask], self.deal[mask], self.day[mask], self.value[mask], self.scale)


def _places_of(value: Decimal) -> int:
    return max(0, -int(value.normalize().as_tuple().exponent))


def _units(values: Sequence[Decimal | None], places: int) -> Array:
    """Decimals as whole numbers of 10**-places (int64, Python ints when large)."""
    ints = [0 if v is None else int(v.scaleb(places)) for v in values]
    big = any(abs(i) >= _INT_LIMIT for i in ints)
    return np.asarray(ints, dtype=object if big else np.int64)


def _safe(*arrays: Array, factor: int = 1) -> bool:
    """Whether the product of the largest values of the arrays (times factor) fits int64."""
    product = factor
    for a in arrays:
        if a.dtype == object:
            return False
        product *= int(np.abs(a).max()) if len(a) else 0
    return product < _INT_LIMIT


def _as(dtype: Any, *arrays: Array) -> list[Array]:
    return [a.astype(dtype) for a in arrays]


def _apportion_vector(group: Array, total: Array, weights: Array) -> Array:
    """`apportion` for many groups at once: rows grouped by `group` (contiguous, groups in
    ascending order), `total` units per group. Integer arithmetic throughout."""
    n, size = len(group), len(total)
    if not n:
        return np.zeros(0, dtype=np.int64)
    whole = group_sums(group, weights, size)
    sign = np.where(whole < 0, -1, 1)
    weights = weights * sign[group]
    whole = whole * sign
    equal = (whole == 0) & (total != 0)
    if equal.any():
        weights = np.where(equal[group], 1, weights)
        whole = np.where(equal, np.bincount(group, minlength=size), whole)
    divisor = np.where(whole == 0, 1, whole)
    if _safe(total, weights) and weights.dtype != object:
        product = total[group] * weights
    else:
        total, weights, divisor = _as(object, total, weights, divisor)
        product = total[group] * weights
    share = product // divisor[group]
    remainder = product - share * divisor[group]
    left = total - group_sums(group, share, size)
    # Rank within each group: largest remainder first, ties to the earlier row.
    position = np.arange(n)
    top = int(divisor.max()) if size else 1
    if remainder.dtype != object and size * top < _INT_LIMIT:
        # One stable sort on one integer key: group first, then the largest remainder.
        order = np.argsort(group * top + (top - 1 - remainder), kind="stable")
    elif remainder.dtype != object:
        order = np.lexsort((position, -remainder, group))
    else:
        by_remainder = np.argsort(-remainder, kind="stable")
        order = by_remainder[np.argsort(group[by_remainder], kind="stable")]
    starts = np.searchsorted(group, np.arange(size))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = position - starts[group[order]]
    lines = share + (rank < left[group])
    return np.asarray(lines, dtype=object if lines.dtype == object else np.int64)


def _marginal_weights(
    spec: MeasureSpec, rows: DealRows, quotas: Sequence[Decimal | None], extras: Sequence[Decimal]
) -> Array:
    """Step 2 for marginal rates, on integers: the part of each band between the cumulative
    credit before the deal and after it, at the band's rate; plus the extras pro rata."""
    floor = spec.threshold[0] if spec.threshold and spec.threshold[1] == "floor" else None
    size = len(quotas)
    bounds: list[tuple[list[Decimal], list[Decimal | None]]] = []
    for band in spec.bands:
        lows: list[Decimal] = []
        highs: list[Decimal | None] = []
        for q in quotas:
            low, high = band.bounds(q)
            if floor is not None and q is not None:
                low = max(low, exact_mul(floor, q))
            lows.append(low)
            highs.append(high)
        bounds.append((lows, highs))
    places = max(
        [rows.scale]
        + [_places_of(v) for lows, highs in bounds for v in [*lows, *highs] if v is not None]
    )
    rate_places = max([_places_of(b.value) for b in spec.bands] or [0])
    # Cumulative credit (at most n x the largest value) times rates (of at most 100 x 10**rate
    # places) over every band must fit int64, else Python ints: checked before scaling.
    grow = 10 ** (places - rows.scale)
    bound = grow * max(len(rows.value), 1) * 10 ** (rate_places + 2) * max(len(spec.bands), 1)
    ends = [(_units(lows, places), _units(highs, places)) for lows, highs in bounds]
    small = _safe(rows.value, factor=bound) and all(
        low.dtype != object and high.dtype != object for low, high in ends
    )
    value = (rows.value if small else rows.value.astype(object)) * grow
    after = np.cumsum(value)
    starts = np.searchsorted(rows.rep, np.arange(size))
    offset = np.concatenate([np.zeros(1, dtype=after.dtype), after])[starts]
    after = after - offset[rows.rep]
    before = after - value
    weight = np.zeros(len(value), dtype=value.dtype)
    for band, (_, highs), (low_units, high_units) in zip(spec.bands, bounds, ends, strict=True):
        low = low_units.astype(value.dtype)[rows.rep]
        rate = int(band.value.scaleb(rate_places))
        if all(h is None for h in highs):
            part = np.maximum(after, low) - np.maximum(before, low)
        else:
            top = high_units.astype(value.dtype)[rows.rep]
            open_ = np.asarray([h is None for h in highs], dtype=bool)[rows.rep]
            hi_after = np.where(open_, after, np.minimum(after, top))
            hi_before = np.where(open_, before, np.minimum(before, top))
            part = np.maximum(hi_after, low) - np.maximum(hi_before, low)
            part = np.where(open_ | (low < top), part, 0)
        weight = weight + part * rate
    if not any(extras):
        return np.asarray(weight)
    # weight (units 10**-(places + rate_places)) + extra x credit / total credit, times the
    # total credit and 10**extra_places: Python ints, exact.
    extra_places = max(_places_of(e) for e in extras)
    credit = rows.value.astype(object)
    total = group_sums(rows.rep, credit, size)
    extra = _units(extras, extra_places).astype(object)
    count = np.bincount(rows.rep, minlength=size).astype(object)
    scale = 10 ** (places + rate_places)
    spread = np.where(total[rows.rep] != 0, extra[rows.rep] * credit * scale, 0)
    base = np.where(total != 0, total, count)
    equal = np.where(total[rows.rep] == 0, extra[rows.rep] * scale, 0)
    return np.asarray(
        weight.astype(object) * base[rows.rep] * 10**extra_places + spread + equal, dtype=object
    )


def vector_lines(
    spec: MeasureSpec,
    plan: PlanSpec,
    rows: DealRows,
    payouts: Sequence[Decimal],
    quotas: Sequence[Decimal | None] | None,
    extras: Sequence[Decimal] | None,
) -> tuple[DealRows, Array]:
    """The pay per deal of one measure for the reps of one plan period (table path): the rows
    (with a row of deal -1 for each rep paid on no deal) and each row's payout in units of
    10**-`line_places(plan)`."""
    places = line_places(plan)
    size = len(payouts)
    total = _units(payouts, places)
    counts = np.bincount(rows.rep, minlength=size)
    lonely = np.flatnonzero((counts == 0) & (total != 0))
    if len(lonely):
        # A payout made on no deal: one line without a deal (module note).
        at = np.searchsorted(rows.rep, lonely)
        rows = DealRows(
            np.insert(rows.rep, at, lonely),
            np.insert(rows.deal, at, -1),
            np.insert(rows.day, at, 0),
            np.insert(rows.value, at, 0),
            rows.scale,
        )
    if spec.method == "rates" and spec.rates_method == "marginal" and len(rows.rep):
        assert extras is not None
        weights = _marginal_weights(spec, rows, quotas or [None] * size, extras)
    else:
        weights = rows.value
    if len(lonely):
        alone = np.zeros(len(rows.rep), dtype=bool)
        alone[np.searchsorted(rows.rep, lonely)] = True
        weights = np.where(alone, 1, weights)
    return rows, _apportion_vector(rows.rep, total, weights)


def cap_lines(rep: Array, units: Array, capped: Mapping[int, Decimal], places: int) -> Array:
    """Step 4 on the table path: the lines of the reps whose plan total was capped (rep
    position -> capped total) share that total in proportion to their amounts. `rep` is
    grouped and ascending (lines of a rep in measure order, then credit order)."""
    if not capped:
        return units
    reps = np.asarray(sorted(capped), dtype=np.int64)
    mask = np.isin(rep, reps)
    group = np.searchsorted(reps, rep[mask])
    total = _units([capped[int(r)] for r in reps], places)
    out = units.copy()
    out[mask] = _apportion_vector(group, total, units[mask])
    return out


# ============================================================================ the table
def _decimal_texts(units: Array, places: int, keep: int) -> pa.Array:
    """Whole numbers of 10**-places as decimal text with at least `keep` places (`1100.00`),
    trailing zeros past them dropped: the text `show_amount` (keep 2), `_money_text` (keep =
    places) or a rate (keep 0, see `_rate_texts`) has for the same value."""
    if units.dtype == object:
        values = [Decimal(int(u)).scaleb(-places) for u in units.tolist()]
        shown = [_money_text(v) if keep == places else show_amount(v) for v in values]
        return pa.array(shown, type=pa.string())
    if places < keep:  # counts (scale 0) shown with two places, as show_amount does
        units, places = units * 10 ** (keep - places), keep
    if places <= 6:
        # Arrow writes a decimal128 as text in C++; it writes plain digits down to 6 places,
        # not `5E-10`.
        text = decimal_array(units, places).cast(pa.string())
        if places == keep:
            return text
        if keep == 0:
            return pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), ".")
    base = 10**places
    magnitude = np.abs(units)
    whole = pa.array(magnitude // base).cast(pa.string())
    digits = pc.utf8_lpad(pa.array(magnitude % base).cast(pa.string()), places, "0")
    # Zeros past `keep` places go: the digits trimmed, then padded back to `keep`.
    digits = pc.utf8_rpad(pc.utf8_rtrim(digits, "0"), keep, "0")
    text = pc.binary_join_element_wise(whole, digits, ".") if keep else whole
    sign = pa.array(np.where(units < 0, "-", ""))
    return pc.binary_join_element_wise(sign, text, "")


def _rate_texts(payout: Array, places: int, credited: Array, scale: int) -> pa.Array:
    """payout / credited truncated to 6 decimals (never above the true rate), as
    `show_ratio` writes it; null where nothing is credited."""
    known = credited != 0
    numerator = payout.astype(object) if payout.dtype == object else payout
    factor = 10 ** (scale + 6)
    if not _safe(numerator, factor=factor) or credited.dtype == object:
        numerator, credited = _as(object, numerator, credited)
    divisor = np.where(known, credited * 10**places, 1)
    sign = np.where(divisor < 0, -1, 1)
    micro = (numerator * factor * sign) // (divisor * sign)
    if micro.dtype == object:
        texts = [
            show_ratio(Decimal(int(m)).scaleb(-6)) if k else None
            for m, k in zip(micro.tolist(), known.tolist(), strict=True)
        ]
        return pa.array(texts, type=pa.string())
    micro = np.asarray(micro, dtype=np.int64)
    codes, distinct = pd.factorize(micro)
    if 4 * len(distinct) < len(micro):
        # A rep's lines mostly share its rate (cents apart): each distinct rate written once.
        text = _decimal_texts(np.asarray(distinct), 6, 0).take(pa.array(codes))
    else:
        text = _decimal_texts(micro, 6, 0)
    return pc.if_else(pa.array(known), text, pa.scalar(None, pa.string()))


def _day_texts(days: Array, known: Bools) -> pa.Array:
    """Days since 1970 as ISO dates (null where not `known`): a period's lines fall on a few
    distinct days, each written once."""
    if not len(days):
        return pa.array([], pa.string())
    first = int(days[known].min()) if known.any() else 0
    span = int(days[known].max()) - first + 1 if known.any() else 1
    if span > len(days):  # days far apart: as many texts as lines anyway
        texts = pa.array(days.astype("datetime64[D]")).cast(pa.string())
    else:
        every = np.arange(first, first + span, dtype=np.int64).astype("datetime64[D]")
        texts = (
            pa.array(every)
            .cast(pa.string())
            .take(pa.array(np.where(known, days - first, 0), type=pa.int64()))
        )
    return pc.if_else(pa.array(known), texts, pa.scalar(None, pa.string()))


def lines_frame(
    rep_ids: Array,
    plan: str,
    period: str,
    measures: Sequence[str],
    measure: Array,
    rows: DealRows,
    units: Array,
    places: int,
    deal_ids: pa.Array,
) -> pd.DataFrame:
    """The payout_lines rows of one plan period (table path): `measure` indexes `measures`,
    `rows` and `units` are the lines, rows of deal -1 have no deal; `deal_ids` the deals
    table's ids. Every column is Arrow text (nothing made one Python object per line)."""
    n = len(units)
    dealt = rows.deal >= 0

    def pick(texts: Sequence[Any] | pa.Array, positions: Array, mask: Any = None) -> pa.Array:
        values = texts if isinstance(texts, pa.Array) else pa.array(list(texts), pa.string())
        return values.take(pa.array(positions, type=pa.int64(), mask=mask))

    columns = {
        "rep_id": pick(rep_ids.tolist(), rows.rep),
        "plan": pick([plan], np.zeros(n, dtype=np.int64)),
        "period": pick([period], np.zeros(n, dtype=np.int64)),
        "measure": pick(measures, measure),
        "deal_id": pick(deal_ids, np.where(dealt, rows.deal, 0), ~dealt),
        "date": _day_texts(np.asarray(rows.day, dtype=np.int64), dealt),
        "credited": _decimal_texts(rows.value, rows.scale, 2),
        "rate": _rate_texts(units, places, rows.value, rows.scale),
        "payout": _decimal_texts(units, places, places),
    }
    return pd.DataFrame(
        {name: pd.arrays.ArrowExtensionArray(column) for name, column in columns.items()}
    )
