"""The payout math, exact: one measure, then one plan, for one rep and period.

Both pay paths call these functions: the per-record reference (`engine.pay.reference`) with one
rep's numbers, the table path (`engine.pay.vector`) with the same numbers for every rep. Every
step is recorded as a `Part`, which statements print and coverage reads (the band, curve point
or step that applied is named by its index in the measure's table).

Money and rounding
  * Every amount is a Decimal. Comparisons with a level are made on amounts, never on a divided
    attainment: `attainment >= 80%` is `credited >= 80% x quota`, exact. Divisions (attainment,
    interpolation) run with 80 digits and results are settled to 1e-30 before money rounding,
    so a payout whose exact value is a half cent is rounded as a half cent.
  * A measure's payout is rounded once, with the ruleset's mode and step; a plan's total is the
    sum of its rounded measure payouts, then the plan cap.
  * Decision: a cap is rounded down to the step, so no rounding lifts a payout above its cap.
  * Decision: the target variable per period (`40K per year`, `period quarter` -> 10,000) and
    the quotas the engine computes (formula quotas, prorated quotas) are money: rounded like a
    payout (10K per year paid monthly is 833.33 a month).

Methods (x = credited value, Q = quota, T = the measure's target variable for the period)
  * commission r: x * r.   per_unit a: x * a (x is usually a count).
  * rates: the band holding x (`on amount`) or x / Q (`on attainment`, the default when the
    bounds are percentages). Retroactive: the band's rate on all of x. Marginal: each band's
    rate on the part of x inside it. Band ends are inclusive as written (`[lo, hi)` by default).
  * steps: the band holding x / Q pays its % of T.
  * curve: `below L pay P` pays P under L; `at L pay P` are points joined by straight lines
    (decision: from the `below` point to the first `at` point too); past the last point each
    `slope s to U` adds s x (attainment - start) up to U, the last slope runs on. Decisions:
    with no slope, pay stays at the last point; under the first point, with no `below`, 0.
  * threshold L gate: under L x Q the measure pays nothing at all (no accelerator, no bonus);
    from L x Q it pays from the first euro. threshold L floor: only what lies above the
    threshold earns: amount methods pay on x - L x Q at the rate of the band x reaches;
    decision: target methods (steps, curve) pay f(x) - f(L x Q).
  * accelerator k above L: adds k x (attainment - L) x T when attainment > L.
  * bonus b when attainment op L: adds b.
  * cap: decision: a measure's cap (percent of T, or an amount) limits everything the measure
    pays, bonus and accelerator included; the plan cap (percent of the plan's target for the
    period, or an amount) limits the total.
  * Decision: measures without a weight share what the weighted ones leave (one measure alone
    carries the whole target variable).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from engine.money import EXACT, exact_div, exact_mul
from engine.pay.spec import BandSpec, CurveSpec, MeasureSpec, PlanSpec
from engine.periods import PayPeriod

__all__ = [
    "CreditedDeal",
    "MeasureInput",
    "MeasurePayout",
    "Part",
    "PayoutIssue",
    "PlanPayout",
    "QuotaStep",
    "curve_pct",
    "marginal_amount",
    "pay_measure",
    "pay_plan",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Part:
    """One step of a measure's computation, with its numbers, as a statement shows it.

    kind: commission, rates, steps, curve, per_unit, no_band, gate, floor, accelerator, bonus,
    cap. `amount` is the step's exact contribution to the measure (0 for a gate that holds,
    negative for a cap).
    """

    kind: str
    amount: Decimal
    rate: Decimal | None = None
    base: Decimal | None = None
    band: BandSpec | None = None
    level: Decimal | None = None
    factor: Decimal | None = None
    reached: bool = True
    note: str = ""
    #: The numbers of the curve piece that applied (see `curve_pct`).
    piece: tuple[Decimal, ...] = ()
    #: The curve point (its position among the curve's points) this part applied, if any.
    point: int | None = None


@dataclass(frozen=True, slots=True)
class MeasurePayout:
    """A measure's result: credited, quota, attainment, the rate or % applied and the payout."""

    measure: str
    label: str | None
    credited: Decimal
    quota: Decimal | None
    attainment: Decimal | None
    target: Decimal | None
    rate_or_pct: Decimal | None
    raw: Decimal
    payout: Decimal
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class MeasureInput:
    """What a measure is paid on for one rep and period (after proration)."""

    credited: Decimal
    quota: Decimal | None
    deals: tuple[CreditedDeal, ...] = ()
    #: How the quota was ramped and relieved (`engine.pay.inputs.adjust_quota`).
    quota_steps: tuple[QuotaStep, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanPayout:
    """A rep's pay on one plan for one period: measure lines, plan cap, total."""

    rep_id: str
    plan: str
    period: str
    target: Decimal | None
    proration: Decimal
    days: int | None
    measures: tuple[MeasurePayout, ...]
    plan_cap: Decimal | None
    cap_adjustment: Decimal
    payout: Decimal
    paid: bool
    deals: Mapping[str, tuple[CreditedDeal, ...]] = field(default_factory=dict)
    #: measure -> how its quota was ramped and relieved (absent: neither).
    quota_steps: Mapping[str, tuple[QuotaStep, ...]] = field(default_factory=dict)
    #: A version's part of the period (`supersedes`): its first and last day, its share of
    #: the period's days, and the split (close_date: its deals, quota and target prorated;
    #: days: the whole period's payout times the share). None: the plan pays the period.
    part: tuple[dt.date, dt.date, Decimal, str] | None = None
    #: What the share of a `days` split took off the total (<= 0).
    part_adjustment: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class PayoutIssue:
    """Why a rep is not paid on a plan for a period (or a deal is not credited)."""

    rep_id: str | None
    plan: str | None
    period: str | None
    reason: str
    measure: str | None = None
    deal_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreditedDeal:
    """A deal behind a measure: its id, date, value, the rep's share and the credited value."""

    deal_id: str
    date: dt.date
    value: Decimal
    share: Decimal
    credited: Decimal


@dataclass(frozen=True, slots=True)
class QuotaStep:
    """A change made to a measure's quota after the table or formula (and proration): a ramp
    (`share` the mean share of the period's months of tenure, `months` those months) or a
    relief row (`share` of the quota or an `amount`, and its reason)."""

    kind: str  # ramp | relief
    before: Decimal
    after: Decimal
    share: Decimal | None = None
    amount: Decimal | None = None
    months: tuple[int, ...] = ()
    reason: str | None = None


def _compare(a: Decimal, op: str, b: Decimal) -> bool:
    return {
        ">=": a >= b,
        ">": a > b,
        "<=": a <= b,
        "<": a < b,
        "==": a == b,
        "!=": a != b,
    }[op]


def curve_pct(
    curve: CurveSpec, credited: Decimal, quota: Decimal
) -> tuple[Decimal, str, tuple[Decimal, ...], int | None]:
    """The % of target the curve pays, which piece applied, its numbers (for statements) and
    the curve point it belongs to (its position as written; None before the first point and
    past the last slope).

    Pieces: below (level, pay), before (first level), between (l0, p0, l1, p1), at (level, pay),
    slope (start level, start pay, slope), flat (last level, pay).
    """
    points = list(curve.points)
    below = [curve.below] if curve.below is not None else []
    anchors = below + points
    indexes = ([curve.below_index] if curve.below is not None else []) + list(curve.point_indexes)
    if curve.below is not None and credited < curve.below[0] * quota:
        return curve.below[1], "below", curve.below, curve.below_index
    if not anchors or credited < anchors[0][0] * quota:
        return _ZERO, "before", (anchors[0][0],) if anchors else (), None
    attainment = exact_div(credited, quota)
    for index, ((l0, p0), (l1, p1)) in enumerate(itertools.pairwise(anchors)):
        if credited < l1 * quota:
            slope = exact_div(p1 - p0, l1 - l0)
            return (
                exact_mul(slope, attainment - l0) + p0,
                "between",
                (l0, p0, l1, p1),
                indexes[index],
            )
    level, pay = anchors[-1]
    if credited == level * quota:
        return pay, "at", (level, pay), indexes[-1]
    for (slope, until), index in zip(curve.slopes, curve.slope_indexes, strict=True):
        if until is None or credited <= until * quota:
            return pay + exact_mul(slope, attainment - level), "slope", (level, pay, slope), index
        pay += exact_mul(slope, until - level)
        level = until
    return pay, "flat", (level, pay), None


def _band_of(
    bands: Sequence[BandSpec], credited: Decimal, quota: Decimal | None
) -> BandSpec | None:
    return next((b for b in bands if b.holds(credited, quota)), None)


def _base_parts(
    spec: MeasureSpec, credited: Decimal, quota: Decimal | None, target: Decimal | None
) -> list[Part]:
    """The method's parts, with a floor threshold applied; the caller handles gates."""
    floor = spec.threshold[0] if spec.threshold and spec.threshold[1] == "floor" else None
    floor_amount = exact_mul(floor, quota) if floor is not None and quota is not None else None
    above = credited if floor_amount is None else max(credited - floor_amount, _ZERO)
    method = spec.method
    if method == "commission":
        assert spec.rate is not None
        return [Part("commission", exact_mul(above, spec.rate), rate=spec.rate, base=above)]
    if method == "per_unit":
        assert spec.rate is not None
        return [Part("per_unit", exact_mul(above, spec.rate), rate=spec.rate, base=above)]
    if method == "rates" and spec.rates_method == "marginal":
        parts: list[Part] = []
        for band in spec.bands:
            low, high = band.bounds(quota)
            if floor_amount is not None:
                low = max(low, floor_amount)
            top = credited if high is None else min(credited, high)
            if (high is not None and low >= high) or top <= low:
                continue
            part = top - low
            parts.append(
                Part("rates", exact_mul(part, band.value), rate=band.value, base=part, band=band)
            )
        return parts or [Part("no_band", _ZERO, base=credited)]
    if method == "rates":
        reached = _band_of(spec.bands, credited, quota)
        if reached is None:
            return [Part("no_band", _ZERO, base=credited)]
        return [
            Part(
                "rates",
                exact_mul(above, reached.value),
                rate=reached.value,
                base=above,
                band=reached,
            )
        ]
    if method == "steps":
        assert target is not None and quota is not None
        step = _band_of(spec.bands, credited, quota)
        if step is None:
            return [Part("no_band", _ZERO, base=target)]
        pct = step.value
        if floor_amount is not None:
            at_floor = _band_of(spec.bands, floor_amount, quota)
            pct = max(pct - (at_floor.value if at_floor else _ZERO), _ZERO)
        return [Part("steps", exact_mul(pct, target), rate=pct, base=target, band=step)]
    if method == "curve":
        assert spec.curve is not None and target is not None and quota is not None
        pct, where, piece, point = curve_pct(spec.curve, credited, quota)
        if floor_amount is not None:
            pct = max(pct - curve_pct(spec.curve, floor_amount, quota)[0], _ZERO)
        return [
            Part(
                "curve", exact_mul(pct, target), rate=pct, base=target, note=where, piece=piece,
                point=point,
            )
        ]  # fmt: skip
    return []


def marginal_amount(spec: MeasureSpec, credited: Decimal, quota: Decimal | None) -> Decimal:
    """What marginal rates pay on `credited` (floor threshold included, no gate, accelerator,
    bonus or cap): the bands' parts of `_base_parts`, exact. Pay per deal stacks deals on it."""
    with localcontext(EXACT):
        parts = _base_parts(spec, credited, quota, None)
        return sum((p.amount for p in parts if p.kind == "rates"), _ZERO)


def pay_measure(
    spec: MeasureSpec,
    credited: Decimal,
    quota: Decimal | None,
    target: Decimal | None,
    plan: PlanSpec,
) -> MeasurePayout:
    """Pay one measure: method, threshold, accelerator, bonus, cap; rounded once.

    `quota` must be positive when the measure uses attainment, and `target` (the measure's share
    of the period's target variable, prorated) present when it pays a share of it: callers
    report those cases as issues before calling.
    """
    with localcontext(EXACT):
        return _pay_measure(spec, credited, quota, target, plan)


def _pay_measure(
    spec: MeasureSpec,
    credited: Decimal,
    quota: Decimal | None,
    target: Decimal | None,
    plan: PlanSpec,
) -> MeasurePayout:
    attainment = exact_div(credited, quota) if quota else None
    parts: list[Part] = []
    gate = spec.threshold if spec.threshold and spec.threshold[1] == "gate" else None
    if gate is not None and quota is not None and credited < exact_mul(gate[0], quota):
        # Nothing is paid, but the credited value still lies in a band of the table: the
        # part names it (coverage counts the band under a closed gate as exercised).
        under = _band_of(spec.bands, credited, quota)
        parts.append(Part("gate", _ZERO, level=gate[0], reached=False, band=under))
    else:
        if gate is not None:
            parts.append(Part("gate", _ZERO, level=gate[0]))
        if spec.threshold and spec.threshold[1] == "floor" and quota is not None:
            level = spec.threshold[0]
            parts.append(
                Part(
                    "floor",
                    _ZERO,
                    level=level,
                    base=exact_mul(level, quota),
                    reached=credited > exact_mul(level, quota),
                )
            )
        parts.extend(_base_parts(spec, credited, quota, target))
        if spec.accelerator is not None and quota is not None and target is not None:
            factor, level = spec.accelerator
            if credited > exact_mul(level, quota):
                assert attainment is not None
                amount = exact_mul(factor, attainment - level, target)
                parts.append(Part("accelerator", amount, factor=factor, level=level, base=target))
            else:
                parts.append(Part("accelerator", _ZERO, factor=factor, level=level, reached=False))
        if spec.bonus is not None and quota is not None:
            amount, op, level = spec.bonus
            won = _compare(credited, op, exact_mul(level, quota))
            parts.append(
                Part(
                    "bonus",
                    amount if won else _ZERO,
                    base=amount,
                    level=level,
                    reached=won,
                    note=op,
                )
            )
    raw = sum((p.amount for p in parts), _ZERO)
    if spec.cap is not None:
        limit = plan.cap_of(spec.cap, target)
        if limit is not None:
            over = raw > limit
            parts.append(
                Part(
                    "cap",
                    limit - raw if over else _ZERO,
                    base=limit,
                    level=spec.cap.value,
                    reached=over,
                    note="percent" if spec.cap.percent else "amount",
                )
            )
            raw = min(raw, limit)
    rate = next((p.rate for p in reversed(parts) if p.rate is not None), None)
    return MeasurePayout(
        spec.name,
        spec.label,
        credited,
        quota,
        attainment,
        target,
        rate,
        raw,
        plan.round(raw),
        tuple(parts),
    )


def pay_plan(
    plan: PlanSpec,
    rep_id: str,
    period: PayPeriod,
    inputs: Mapping[str, MeasureInput],
    *,
    proration: Decimal = _ONE,
    days: int | None = None,
    paid: bool = True,
    part: tuple[dt.date, dt.date, Decimal, str] | None = None,
) -> PlanPayout:
    """Pay every measure of a plan for one rep and period; the total is the sum of the rounded
    measure payouts, then the plan cap. `inputs` holds prorated quotas already. A version's
    `part` of the period split by days takes its share of that total, rounded."""
    target = plan.target
    if target is not None and proration != _ONE:
        target = plan.round(exact_mul(target, proration))
    lines = []
    for spec in plan.measures:
        given = inputs[spec.name]
        measure_target = None if target is None else exact_mul(target, spec.weight)
        lines.append(pay_measure(spec, given.credited, given.quota, measure_target, plan))
    total = sum((m.payout for m in lines), _ZERO)
    limit = None if plan.cap is None else plan.cap_of(plan.cap, target)
    adjustment = _ZERO
    if limit is not None and total > limit:
        adjustment = limit - total
    share_off = _ZERO
    if part is not None and part[3] == "days":
        capped = total + adjustment
        share_off = plan.round(exact_mul(capped, part[2])) - capped
    return PlanPayout(
        rep_id,
        plan.name,
        period.id,
        target,
        proration,
        days,
        tuple(lines),
        limit,
        adjustment,
        total + adjustment + share_off,
        paid,
        {name: i.deals for name, i in inputs.items()},
        quota_steps={name: i.quota_steps for name, i in inputs.items() if i.quota_steps},
        part=part,
        part_adjustment=share_off,
    )
