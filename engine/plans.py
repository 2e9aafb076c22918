"""Variable pay: plans compiled from the AST, the exact payout math, and the per-record path.

This module is the reference: one rep, one plan, one period, computed deal by deal in Decimal.
`engine.payouts` computes the same numbers for whole tables and must agree to the cent.

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

Crediting (decisions where the briefs are silent)
  * A deal is credited when the measure's `where` is true (no implicit `status == won`: the SDR
    credit counts open deals), to the period holding its `dated` date (default `close_date`)
    within the plan's effective dates, to the rep in its `to` field (default `rep_id`).
  * A `splits` table (deal_id, rep_id, share as `60%` or `0.6`) replaces the owner of the deals
    it lists, for measures credited to `rep_id`; shares must sum to exactly 100%, else the deal
    is credited to nobody and reported to each rep of the split.
  * Reported, never dropped in silence: a `where` that cannot be decided (a field it reads is
    empty), a deal without a date (reported with no period), a negative amount, a credited
    value that is missing. A negative credited value with a valid amount (a loss-making margin)
    is credited as it is.
  * `reached(stage)` reads the deal's `stage` field, as `engine.record` does.

Quotas, proration, plans
  * A quota is per rep, measure and period: one row of the quotas table (none, several, empty
    or not positive: reported, the plan is not paid for that rep and period), or the formula
    with the rep's fields and linked records (`territory.potential`).
  * proration daily: quota and target variable are multiplied by days employed in the period
    (from `hire_date`, to `end_date` when the reps table has one) / days in the period; a
    missing hire date counts as employed; a rep not employed at all in the period is reported.
  * A role is paid on the first plan its `plan a, b` line names; the others are computed beside
    it (`paid` false). A role naming no plan is paid on the plans declared `for` it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from dsl import nodes as n
from dsl.model import Model
from dsl.types import FieldType
from dsl.source import NO_SPAN, Span
from engine.compiler import (
    Compiled,
    CompileError,
    FieldRef,
    Node,
    Reached,
    Scope,
    derived_nodes,
    fields_of,
    type_expr,
)
from engine.money import ROUNDING_MODES, parse_number, round_money
from engine.record import coercer, compile_node
from engine.results import is_missing, text_or_none

__all__ = [
    "PERIODS_PER_YEAR",
    "BandSpec",
    "CreditRule",
    "CreditedDeal",
    "CurveSpec",
    "Limit",
    "MeasureInput",
    "MeasurePayout",
    "MeasureSpec",
    "Part",
    "PayPeriod",
    "PayoutIssue",
    "PlanBook",
    "PlanPayout",
    "PlanSpec",
    "RepOutcome",
    "compile_plans",
    "measure_quota",
    "parse_period",
    "pay_measure",
    "pay_plan",
    "pay_rep",
    "period_of",
    "periods_overlapping",
    "proration_factor",
]

#: Period units, with how many fit in a year (plans pay per month, quarter or year; a half
#: year can be asked for, as `koncept eval --period 2026-H1` allows).
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "half": 2, "year": 1}

# Enough digits that no intermediate result of the payout math is ever rounded in a way that
# matters: the only inexact step is a division by a quota, good to 1e-60 relative, and results
# are snapped to 1e-30 before money rounding (a true half-cent tie is then exact again).
_PRECISION = 80
#: The context of all payout arithmetic (both paths): same digits, same results.
EXACT = Context(prec=_PRECISION, rounding=ROUND_HALF_EVEN)
_SNAP = Decimal("1e-30")
_ZERO = Decimal(0)
_ONE = Decimal(1)


# ============================================================================ periods
@dataclass(frozen=True, slots=True, order=True)
class PayPeriod:
    """A pay period: `2026-Q1` (quarter), `2026-03` (month) or `2026` (year), with its days."""

    start: dt.date
    end: dt.date
    unit: str
    id: str

    @property
    def days(self) -> int:
        """Number of calendar days, both ends included."""
        return (self.end - self.start).days + 1

    def holds(self, day: dt.date) -> bool:
        """Whether the day lies in the period."""
        return self.start <= day <= self.end


def period_of(day: dt.date, unit: str) -> PayPeriod:
    """The period of `unit` that holds `day`."""
    if unit == "year":
        return PayPeriod(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), unit, f"{day.year}")
    if unit == "quarter":
        quarter = (day.month - 1) // 3 + 1
        first = 3 * quarter - 2
        last = dt.date(day.year, first + 2, calendar.monthrange(day.year, first + 2)[1])
        return PayPeriod(dt.date(day.year, first, 1), last, unit, f"{day.year}-Q{quarter}")
    if unit == "half":
        half = 1 if day.month <= 6 else 2
        start = dt.date(day.year, 6 * half - 5, 1)
        end = dt.date(day.year, 6, 30) if half == 1 else dt.date(day.year, 12, 31)
        return PayPeriod(start, end, unit, f"{day.year}-H{half}")
    if unit == "month":
        last = dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        return PayPeriod(dt.date(day.year, day.month, 1), last, unit, f"{day.year}-{day.month:02d}")
    raise ValueError(f"unknown period unit {unit!r} (expected month, quarter, half or year)")


def parse_period(text: str) -> PayPeriod:
    """`2026-Q1`, `2026-03` or `2026` as a PayPeriod; ValueError with an example otherwise."""
    value = text.strip()
    try:
        if len(value) == 4 and value.isdigit():
            return period_of(dt.date(int(value), 1, 1), "year")
        year, _, rest = value.partition("-")
        if len(year) == 4 and year.isdigit() and rest[:1] in ("Q", "q") and rest[1:] in "1234":
            return period_of(dt.date(int(year), 3 * int(rest[1:]) - 2, 1), "quarter")
        if len(year) == 4 and year.isdigit() and rest[:1] in ("H", "h") and rest[1:] in "12":
            return period_of(dt.date(int(year), 6 * int(rest[1:]) - 5, 1), "half")
        if len(year) == 4 and year.isdigit() and rest.isdigit() and 1 <= int(rest) <= 12:
            return period_of(dt.date(int(year), int(rest), 1), "month")
    except ValueError:
        pass
    raise ValueError(
        f"{text!r} is not a period (expected a quarter like 2026-Q1, a month like 2026-03, a half "
        "year like 2026-H1 or a year like 2026)"
    )


def periods_overlapping(start: dt.date, end: dt.date, unit: str) -> tuple[PayPeriod, ...]:
    """Every period of `unit` that shares at least one day with [start, end]."""
    found: list[PayPeriod] = []
    current = period_of(start, unit)
    while current.start <= end:
        found.append(current)
        current = period_of(current.end + dt.timedelta(days=1), unit)
    return tuple(found)


def proration_factor(
    period: PayPeriod, hire_date: dt.date | None, end_date: dt.date | None = None
) -> tuple[int, Decimal]:
    """(days employed in the period, that share of the period's days); unknown dates count as
    employed (hire dates are optional in the canonical reps table)."""
    first = max(period.start, hire_date) if hire_date else period.start
    last = min(period.end, end_date) if end_date else period.end
    days = max(0, (last - first).days + 1)
    return days, EXACT.divide(Decimal(days), Decimal(period.days))


# ============================================================================ compiled plans
@dataclass(frozen=True, slots=True)
class BandSpec:
    """A band `[low, high) value`: bounds are fractions of the quota or amounts."""

    low: Decimal
    high: Decimal | None
    value: Decimal
    low_inclusive: bool
    high_inclusive: bool
    on_attainment: bool
    text: str

    def bounds(self, quota: Decimal | None) -> tuple[Decimal, Decimal | None]:
        """The band's ends as amounts of credited value."""
        if not self.on_attainment:
            return self.low, self.high
        assert quota is not None
        return self.low * quota, None if self.high is None else self.high * quota

    def holds(self, credited: Decimal, quota: Decimal | None) -> bool:
        """Whether the credited value lies in the band (inclusivity as written)."""
        low, high = self.bounds(quota)
        above = credited > low or (self.low_inclusive and credited == low)
        below = high is None or credited < high or (self.high_inclusive and credited == high)
        return above and below


@dataclass(frozen=True, slots=True)
class CurveSpec:
    """An interpolated curve: an optional `below` point, `at` points, then slopes."""

    below: tuple[Decimal, Decimal] | None
    points: tuple[tuple[Decimal, Decimal], ...]
    slopes: tuple[tuple[Decimal, Decimal | None], ...]


@dataclass(frozen=True, slots=True)
class Limit:
    """A cap or guardrail: a share of a target (`percent`) or an amount."""

    value: Decimal
    percent: bool
    raw: str


@dataclass(frozen=True, slots=True)
class CreditRule:
    """`credit <value> of deals where ... to <field> dated ...`, typed by the engine's compiler.

    `value` None credits 1 per record (`count`). `dated_stage` is set for
    `dated entered_at(stage)`, which the stage events answer; otherwise `dated` is a compiled
    date expression or None for the record's default date (`close_date` of a deal).
    """

    source: str
    value: Node | None
    where: Node | None
    to: str
    dated: Node | None
    dated_stage: str | None
    date_field: str
    reads: Mapping[str, FieldType]
    derived: Mapping[str, Node]
    #: How the credited value is named in messages: `amount`, `gross_margin`, `count`...
    value_text: str = "count"
    #: The input fields the `where` reads (derived values replaced by their inputs).
    where_fields: tuple[FieldRef, ...] = ()

    @property
    def no_date_text(self) -> str:
        """Why a deal without a date is not credited."""
        if self.dated_stage is not None:
            return f"no date when it entered {self.dated_stage}"
        return "no date" if self.dated is not None else "no close date"

    def missing_text(self, missing: Sequence[str]) -> str:
        """Why a deal cannot be decided: the fields of the `where` that are empty."""
        if not missing:
            return "its credit rule cannot be decided"
        noun = "is" if len(missing) == 1 else "are"
        return f"{', '.join(missing)} {noun} missing (the credit rule needs it)"


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """One measure, normalised: what it credits, its quota, and how it pays."""

    name: str
    label: str | None
    weight: Decimal
    credit: CreditRule | None
    quota_measure: str | None
    quota_formula: n.Expr | None
    method: str | None  # commission, rates, steps, curve, per_unit or None (bonus only...)
    rate: Decimal | None  # commission rate, or the per_unit amount
    rates_method: str | None  # retroactive | marginal
    bands: tuple[BandSpec, ...]
    curve: CurveSpec | None
    threshold: tuple[Decimal, str] | None  # (level, gate|floor)
    accelerator: tuple[Decimal, Decimal] | None  # (factor, above)
    cap: Limit | None
    bonus: tuple[Decimal, str, Decimal] | None  # (amount, op, level)
    span: Span = NO_SPAN
    lines: Mapping[str, Span] = field(default_factory=dict)

    @property
    def has_quota(self) -> bool:
        """Whether the measure declares a quota."""
        return self.quota_measure is not None or self.quota_formula is not None

    @property
    def uses_attainment(self) -> bool:
        """Whether the payout depends on attainment (so a quota is required)."""
        on_bands = self.method == "steps" or (
            self.method == "rates" and any(b.on_attainment for b in self.bands)
        )
        return (
            on_bands
            or self.method == "curve"
            or self.threshold is not None
            or self.accelerator is not None
            or self.bonus is not None
        )


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A plan, normalised; `problems` are what makes it impossible to pay (reported per rep)."""

    name: str
    label: str | None
    role: str
    unit: str
    effective: tuple[dt.date, dt.date] | None
    target: Decimal | None  # target variable per period, before proration
    proration: bool
    cap: Limit | None
    guardrail: Limit | None
    measures: tuple[MeasureSpec, ...]
    rounding: tuple[str, Decimal]
    problems: tuple[str, ...] = ()
    span: Span = NO_SPAN
    #: The rounding step is 0.01, 0.1, 1...: rounding is a plain quantize.
    quantum: bool = False

    def round(self, value: Decimal) -> Decimal:
        """Round an amount the way the ruleset says."""
        return self._round(value, self.rounding[0])

    def round_down(self, value: Decimal) -> Decimal:
        """Round an amount down to the step (caps: never exceeded after rounding)."""
        return self._round(value, "down")

    def _round(self, value: Decimal, mode: str) -> Decimal:
        snapped = _snap(value)
        step = self.rounding[1]
        if self.quantum:
            # A step of 0.01, 0.1 or 1 is a quantize (what round_money does, only faster).
            return snapped.quantize(step, rounding=ROUNDING_MODES[mode], context=EXACT)
        return round_money(snapped, step, mode)


@dataclass(frozen=True, slots=True)
class PlanBook:
    """Every plan of a ruleset, compiled once, and which roles they pay."""

    plans: Mapping[str, PlanSpec]
    #: role -> its plans, the paid one first.
    roles: Mapping[str, tuple[str, ...]]
    #: roles declared in the ruleset (a role may have no plan).
    declared_roles: frozenset[str]
    currency: str
    rounding: tuple[str, Decimal]
    #: measure ids the quotas table may use.
    quota_measures: frozenset[str]


def _snap(value: Decimal) -> Decimal:
    return value.quantize(_SNAP, rounding=ROUND_HALF_EVEN, context=EXACT)


def _band(band: n.Band, on_attainment: bool) -> BandSpec:
    left = "[" if band.low_inclusive else "("
    right = "]" if band.high_inclusive else ")"
    high = "..." if band.high is None else band.high.raw
    return BandSpec(
        band.low.value,
        None if band.high is None else band.high.value,
        band.value.value,
        band.low_inclusive,
        band.high_inclusive,
        on_attainment,
        f"{left}{band.low.raw}, {high}{right}",
    )


def _curve(curve: n.Curve) -> CurveSpec:
    below: tuple[Decimal, Decimal] | None = None
    points: list[tuple[Decimal, Decimal]] = []
    slopes: list[tuple[Decimal, Decimal | None]] = []
    for point in curve.points:
        if isinstance(point, n.CurveBelow):
            below = (point.level.value, point.pay.value)
        elif isinstance(point, n.CurveAt):
            points.append((point.level.value, point.pay.value))
        else:
            slopes.append((point.slope.value, point.until.value if point.until else None))
    return CurveSpec(below, tuple(points), tuple(slopes))


def _limit(limit: n.Number | n.Percent) -> Limit:
    return Limit(limit.value, isinstance(limit, n.Percent), limit.raw)


def _deal_scope(model: Model, compiled: Compiled, reads: set[str]) -> Scope:
    return Scope(
        "deal",
        fields_of(model, "deal"),
        stages=compiled.stages,
        weighted_scale=compiled.weighted_scale,
        reads=reads,
    )


def _derived_nodes(reads: set[str]) -> dict[str, Node]:
    # The canonical derived deal values as the compiler defines them; pay has no as-of date,
    # so days in stage is not among them.
    found = {
        name: node
        for name, node in derived_nodes(reads).items()
        if name in reads and name != "days_in_stage"
    }
    if found:
        reads.update({"amount", "cost"})
    return found


def compile_credit(credit: n.Credit, model: Model, compiled: Compiled) -> CreditRule:
    """Type a credit rule with the engine's compiler; CompileError when it cannot run."""
    source = credit.source.name
    if source != "deals":
        raise CompileError(
            f"payouts credit deals; `credit ... of {source}` is not supported", credit.source.span
        )
    reads: set[str] = set()
    scope = _deal_scope(model, compiled, reads)
    value = None if credit.value is None else type_expr(credit.value, scope)
    if value is not None and value.kind not in ("fixed", "float"):
        raise CompileError(f"a credit is a number or an amount, not {value.kind}", NO_SPAN)
    where = None if credit.where is None else type_expr(credit.where, scope)
    if where is not None and where.kind != "bool":
        raise CompileError("the `where` of a credit is a condition", NO_SPAN)
    dated: Node | None = None
    dated_stage: str | None = None
    expr = credit.dated
    if (
        isinstance(expr, n.Call)
        and expr.function == "entered_at"
        and len(expr.args) == 1
        and isinstance(expr.args[0], n.Ref)
    ):
        dated_stage = expr.args[0].dotted
        if dated_stage not in compiled.stages:
            raise CompileError(f"unknown stage `{dated_stage}`", expr.span, "E202")
    elif expr is not None:
        dated = type_expr(expr, scope)
        if dated.kind != "date":
            raise CompileError("`dated` takes a date", expr.span)
    to = credit.to.name if credit.to else "rep_id"
    reads.update({"id", to, "close_date", "amount"})
    derived = _derived_nodes(reads)
    fields = fields_of(model, "deal")
    typed = {name: fields[name] for name in sorted(reads) if name in fields and name not in derived}
    if credit.value is None:
        value_text = "count"
    elif isinstance(credit.value, n.Ref):
        value_text = credit.value.dotted
    else:
        value_text = "credited value"
    where_fields: dict[str, FieldRef] = {}
    for ref in _field_refs(where):
        for leaf in _field_refs(derived[ref.name]) if ref.name in derived else [ref]:
            where_fields.setdefault(leaf.name, leaf)
    return CreditRule(
        source,
        value,
        where,
        to,
        dated,
        dated_stage,
        "close_date",
        typed,
        derived,
        value_text,
        tuple(where_fields.values()),
    )


def _field_refs(node: Node | None) -> list[FieldRef]:
    """The field references of an IR node, in reading order."""
    if node is None:
        return []
    if isinstance(node, FieldRef):
        return [node]
    if isinstance(node, Reached):
        return [FieldRef("stage", "text")]
    found: list[FieldRef] = []
    for name in ("left", "right", "operand", "value"):
        child = getattr(node, name, None)
        if child is not None and hasattr(child, "kind"):
            found.extend(_field_refs(child))
    return found


def _measure(
    measure: n.Measure, weight: Decimal, model: Model, compiled: Compiled, problems: list[str]
) -> MeasureSpec:
    credit: CreditRule | None = None
    quota_measure: str | None = None
    quota_formula: n.Expr | None = None
    method: str | None = None
    rate: Decimal | None = None
    rates_method: str | None = None
    bands: tuple[BandSpec, ...] = ()
    curve: CurveSpec | None = None
    threshold: tuple[Decimal, str] | None = None
    accelerator: tuple[Decimal, Decimal] | None = None
    cap: Limit | None = None
    bonus: tuple[Decimal, str, Decimal] | None = None
    lines: dict[str, Span] = {}
    name = measure.name.name
    for item in measure.items:
        if isinstance(item, n.Credit):
            lines["credit"] = item.span
            try:
                credit = compile_credit(item, model, compiled)
            except CompileError as error:
                problems.append(f"measure {name}: {error.message}")
        elif isinstance(item, n.QuotaTable):
            quota_measure = item.measure.name
            lines["quota"] = item.span
        elif isinstance(item, n.QuotaFormula):
            quota_formula = item.formula
            lines["quota"] = item.span
        elif isinstance(item, n.Commission):
            method, rate = "commission", item.rate.value
        elif isinstance(item, n.PerUnit):
            method, rate = "per_unit", item.amount.value
        elif isinstance(item, n.Rates):
            method, rates_method = "rates", item.method.name
            basis = item.basis.name if item.basis else None
            on_attainment = basis == "attainment" or (
                basis is None and any(isinstance(b.low, n.Percent) for b in item.bands)
            )
            bands = tuple(_band(b, on_attainment) for b in item.bands)
        elif isinstance(item, n.Steps):
            method = "steps"
            bands = tuple(_band(b, True) for b in item.bands)
        elif isinstance(item, n.Curve):
            method, curve = "curve", _curve(item)
        elif isinstance(item, n.Threshold):
            threshold = (item.level.value, item.mode.name)
        elif isinstance(item, n.Accelerator):
            accelerator = (item.factor.value, item.above.value)
        elif isinstance(item, n.Cap):
            cap = _limit(item.limit)
        elif isinstance(item, n.Bonus):
            bonus = (item.amount.value, item.op, item.level.value)
        kind = type(item).__name__.lower()
        lines.setdefault("method" if kind in _METHOD_NODES else kind, item.span)
    spec = MeasureSpec(
        name,
        measure.label,
        weight,
        credit,
        quota_measure,
        quota_formula,
        method,
        rate,
        rates_method,
        bands,
        curve,
        threshold,
        accelerator,
        cap,
        bonus,
        measure.span,
        lines,
    )
    if credit is None and not any(p.startswith(f"measure {name}:") for p in problems):
        problems.append(f"measure {name} has no credit rule")
    if spec.uses_attainment and not spec.has_quota:
        problems.append(f"measure {name} pays on attainment but has no quota")
    return spec


_METHOD_NODES = frozenset({"commission", "rates", "steps", "curve", "perunit"})


def _plan(plan: n.Plan, model: Model, compiled: Compiled) -> PlanSpec:
    problems: list[str] = []
    unit: str | None = None
    effective: tuple[dt.date, dt.date] | None = None
    target: tuple[Decimal, str] | None = None
    proration = False
    cap: Limit | None = None
    guardrail: Limit | None = None
    for item in plan.items:
        if isinstance(item, n.Period):
            unit = item.unit.name
        elif isinstance(item, n.Effective):
            effective = (item.start.value, item.end.value)
        elif isinstance(item, n.TargetVariable):
            target = (item.amount.value, item.per.name)
        elif isinstance(item, n.Proration):
            proration = item.mode.name == "daily"
        elif isinstance(item, n.Cap):
            cap = _limit(item.limit)
        elif isinstance(item, n.BudgetGuardrail):
            guardrail = _limit(item.limit)
    if unit not in ("month", "quarter", "year"):
        problems.append(f"plan {plan.name.name} has no `period` (month, quarter or year)")
        unit = "quarter"
    mode, step = model.rounding
    if mode not in ROUNDING_MODES or step <= 0:
        problems.append(f"rounding {mode} {step} is not supported")
        mode, step = "half_up", Decimal("0.01")
    per_period: Decimal | None = None
    if target is not None:
        amount, per = target
        if per not in PERIODS_PER_YEAR:
            problems.append(f"target variable per {per} is not supported")
        else:
            share = EXACT.divide(Decimal(PERIODS_PER_YEAR[per]), Decimal(PERIODS_PER_YEAR[unit]))
            per_period = round_money(_snap(EXACT.multiply(amount, share)), step, mode)
    measures = plan.measures
    unweighted = [m for m in measures if m.weight is None]
    given = sum((m.weight.value for m in measures if m.weight is not None), _ZERO)
    # Measures without a weight share what the weighted ones leave (all of it when none is
    # weighted): one measure alone carries the whole target.
    rest = EXACT.divide(_ONE - given, Decimal(len(unweighted))) if unweighted else _ZERO
    specs = tuple(
        _measure(m, m.weight.value if m.weight else rest, model, compiled, problems)
        for m in measures
    )
    for spec in specs:
        needs_target = spec.method in ("steps", "curve") or spec.accelerator is not None
        if (needs_target or (spec.cap is not None and spec.cap.percent)) and per_period is None:
            problems.append(
                f"measure {spec.name} pays a share of the target variable, but the plan has none"
            )
    if cap is not None and cap.percent and per_period is None:
        problems.append(f"plan {plan.name.name} caps at {cap.raw} of a target variable it lacks")
    if not specs:
        problems.append(f"plan {plan.name.name} has no measure")
    digits = step.as_tuple()
    return PlanSpec(
        plan.name.name,
        plan.label,
        plan.role.name,
        unit,
        effective,
        per_period,
        proration,
        cap,
        guardrail,
        specs,
        (mode, step),
        tuple(problems),
        plan.span,
        quantum=digits.digits == (1,) and int(digits.exponent) <= 0,
    )


def compile_plans(model: Model, compiled: Compiled) -> PlanBook:
    """Compile every plan of a checked model, and map each role to its plans (paid first).

    A role's plans are those its `plan a, b` line names; a role that names none is paid on the
    plans declared `for` it, in declaration order.
    """
    plans = {name: _plan(plan, model, compiled) for name, plan in model.plans.items()}
    roles: dict[str, tuple[str, ...]] = {}
    for name, role in model.roles.items():
        listed = tuple(
            ident.name
            for item in role.items
            if isinstance(item, n.RolePlans)
            for ident in item.names
            if ident.name in plans
        )
        roles[name] = listed or tuple(p for p, spec in plans.items() if spec.role == name)
    for name, spec in plans.items():
        roles.setdefault(spec.role, ())
        if name not in roles[spec.role] and spec.role not in model.roles:
            roles[spec.role] = (*roles[spec.role], name)
    quota_measures = frozenset(
        m.quota_measure for p in plans.values() for m in p.measures if m.quota_measure
    )
    return PlanBook(
        plans, roles, frozenset(model.roles), model.currency, model.rounding, quota_measures
    )


# ============================================================================ the payout math
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


def exact_mul(*values: Decimal) -> Decimal:
    """The product in the exact decimal context (no rounding before the final one)."""
    result = _ONE
    for value in values:
        result = EXACT.multiply(result, value)
    return result


def exact_div(a: Decimal, b: Decimal) -> Decimal:
    """The quotient in the exact decimal context."""
    return EXACT.divide(a, b)


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
) -> tuple[Decimal, str, tuple[Decimal, ...]]:
    """The % of target the curve pays, which piece applied and its numbers (for statements).

    Pieces: below (level, pay), before (first level), between (l0, p0, l1, p1), at (level, pay),
    slope (start level, start pay, slope), flat (last level, pay).
    """
    points = list(curve.points)
    start = [curve.below] if curve.below is not None else []
    anchors = start + points
    if curve.below is not None and credited < curve.below[0] * quota:
        return curve.below[1], "below", curve.below
    if not anchors or credited < anchors[0][0] * quota:
        return _ZERO, "before", (anchors[0][0],) if anchors else ()
    attainment = exact_div(credited, quota)
    for (l0, p0), (l1, p1) in itertools.pairwise(anchors):
        if credited < l1 * quota:
            slope = exact_div(p1 - p0, l1 - l0)
            return exact_mul(slope, attainment - l0) + p0, "between", (l0, p0, l1, p1)
    level, pay = anchors[-1]
    if credited == level * quota:
        return pay, "at", (level, pay)
    for slope, until in curve.slopes:
        if until is None or credited <= until * quota:
            return pay + exact_mul(slope, attainment - level), "slope", (level, pay, slope)
        pay += exact_mul(slope, until - level)
        level = until
    return pay, "flat", (level, pay)


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
        pct, where, piece = curve_pct(spec.curve, credited, quota)
        if floor_amount is not None:
            pct = max(pct - curve_pct(spec.curve, floor_amount, quota)[0], _ZERO)
        return [
            Part("curve", exact_mul(pct, target), rate=pct, base=target, note=where, piece=piece)
        ]
    return []


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
        parts.append(Part("gate", _ZERO, level=gate[0], reached=False))
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
        if spec.cap.percent:
            limit = None if target is None else plan.round_down(exact_mul(spec.cap.value, target))
        else:
            limit = plan.round_down(spec.cap.value)
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
) -> PlanPayout:
    """Pay every measure of a plan for one rep and period; the total is the sum of the rounded
    measure payouts, then the plan cap. `inputs` holds prorated quotas already."""
    target = plan.target
    if target is not None and proration != _ONE:
        target = plan.round(exact_mul(target, proration))
    lines = []
    for spec in plan.measures:
        given = inputs[spec.name]
        measure_target = None if target is None else exact_mul(target, spec.weight)
        lines.append(pay_measure(spec, given.credited, given.quota, measure_target, plan))
    total = sum((m.payout for m in lines), _ZERO)
    limit: Decimal | None = None
    if plan.cap is not None:
        if plan.cap.percent:
            limit = None if target is None else plan.round_down(exact_mul(plan.cap.value, target))
        else:
            limit = plan.round_down(plan.cap.value)
    adjustment = _ZERO
    if limit is not None and total > limit:
        adjustment = limit - total
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
        total + adjustment,
        paid,
        {name: i.deals for name, i in inputs.items()},
    )


# ============================================================================ quotas
def measure_quota(
    spec: MeasureSpec,
    rep: Mapping[str, Any],
    period: PayPeriod,
    quota_rows: Sequence[Mapping[str, Any]],
    links: Mapping[str, Mapping[str, Any] | None],
    plan: PlanSpec,
) -> tuple[Decimal | None, str | None]:
    """The rep's quota for a measure and period, before proration, or the reason it has none.

    `quota_rows` are the rep's rows of the quotas table; `links` the records a formula reaches
    through the rep (`territory` -> the territory's row, None when unknown).
    """
    if spec.quota_formula is not None:
        try:
            value = _formula(spec.quota_formula, rep, links)
        except _FormulaError as error:
            return None, f"no quota for {spec.name}: {error}"
        quota = plan.round(value)
    elif spec.quota_measure is not None:
        found = [
            row
            for row in quota_rows
            if row.get("measure") == spec.quota_measure and row.get("period") == period.id
        ]
        if not found:
            return None, f"no quota for {spec.quota_measure} in {period.id} in the quotas table"
        if len(found) > 1:
            return None, (
                f"{len(found)} quota rows for {spec.quota_measure} in {period.id}: keep one"
            )
        quota_value = _money_value(found[0].get("quota"))
        if quota_value is None:
            return None, f"the quota for {spec.quota_measure} in {period.id} is empty"
        quota = quota_value
    else:
        return None, None
    if quota <= 0:
        shown = f"{quota:f}"
        return None, f"the quota for {spec.name} in {period.id} is {shown}: it must be positive"
    return quota, None


class _FormulaError(ValueError):
    """A quota formula that cannot be computed for a rep."""


def _number_value(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 1.3 -> Decimal("1.3").
        return None if value != value else Decimal(repr(value))
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    text = str(value).strip()
    return parse_number(text) if text else None


def _money_value(value: Any) -> Decimal | None:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, float) and value != value:
        return None
    result = coercer(FieldType("money"))(value)
    return result if isinstance(result, Decimal) else None


def _formula(
    expr: n.Expr, rep: Mapping[str, Any], links: Mapping[str, Mapping[str, Any] | None]
) -> Decimal:
    """Exact arithmetic for quota formulas: literals, rep fields, `link.field`, + - * /."""
    if isinstance(expr, (n.Number, n.Percent)):
        return expr.value
    if isinstance(expr, n.Unary) and expr.op == "-":
        return -_formula(expr.operand, rep, links)
    if isinstance(expr, n.Binary) and expr.op in ("+", "-", "*", "/"):
        a = _formula(expr.left, rep, links)
        b = _formula(expr.right, rep, links)
        if expr.op == "/":
            if b == 0:
                raise _FormulaError("the formula divides by zero")
            return exact_div(a, b)
        return {"+": a + b, "-": a - b, "*": exact_mul(a, b)}[expr.op]
    if isinstance(expr, n.Ref):
        if len(expr.parts) == 1:
            value = _number_value(rep.get(expr.parts[0]))
            if value is None:
                raise _FormulaError(f"the rep has no {expr.parts[0]}")
            return value
        link, name = expr.parts[0], expr.parts[1]
        key = rep.get(link)
        if key is None or (isinstance(key, float) and key != key):
            raise _FormulaError(f"the rep has no {link}")
        record = links.get(link)
        if record is None:
            table = f"{link[:-1]}ies" if link.endswith("y") else f"{link}s"
            raise _FormulaError(f"{link} {key} is not in the {table} table")
        value = _number_value(record.get(name))
        if value is None:
            raise _FormulaError(f"{link} {key} has no {name}")
        return value
    raise _FormulaError("the formula uses something other than numbers and fields")


# ============================================================================ per-record path
@dataclass(frozen=True, slots=True)
class RepOutcome:
    """The per-record path's answer for one rep, one plan, one period."""

    payout: PlanPayout | None
    issues: tuple[PayoutIssue, ...]


class _CreditRunner:
    """A credit rule as closures over one coerced deal row (the reference semantics)."""

    def __init__(self, rule: CreditRule, compiled: Compiled) -> None:
        stages = compiled.stages
        self.rule = rule
        self.readers = tuple((name, coercer(kind)) for name, kind in rule.reads.items())
        self.derived = tuple(
            (name, compile_node(node, stages)) for name, node in rule.derived.items()
        )
        self.where: Callable[[dict[str, Any]], Any] | None = (
            None if rule.where is None else compile_node(rule.where, stages)
        )
        self.value: Callable[[dict[str, Any]], Any] | None = (
            None if rule.value is None else compile_node(rule.value, stages)
        )
        self.dated: Callable[[dict[str, Any]], Any] | None = (
            None if rule.dated is None else compile_node(rule.dated, stages)
        )

    def row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, coerce in self.readers:
            raw = record.get(name)
            # Typed tables hold NaT / NA / NaN for missing cells; the coercers expect None.
            row[name] = None if is_missing(raw) else coerce(raw)
        for name, compute in self.derived:
            row[name] = compute(row)
        return row


def exact_value(value: Any) -> Decimal | None:
    """A credited value as Decimal (ints and Decimals exactly, floats by their repr)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return None if value != value else Decimal(repr(value))
    raise TypeError(f"not a number: {value!r}")


def _date(value: Any) -> dt.date | None:
    if is_missing(value):
        return None
    try:
        result = coercer(FieldType("date"))(value)
    except ValueError:
        return None
    return result if isinstance(result, dt.date) else None


def parse_share(value: Any) -> Decimal:
    """A split share: `60%` or a fraction `0.6`; ValueError for anything else (or above 1)."""
    text = text_or_none(value)
    if text is None:
        raise ValueError("the share is empty")
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        share = exact_value(value)
        assert share is not None
    elif text.endswith("%"):
        share = Decimal(text[:-1].strip().replace(",", ".")) / 100
    else:
        share = Decimal(text.replace(",", "."))
    if not share.is_finite() or share < 0 or share > 1:
        raise ValueError(f"share {text} is not between 0 and 1 (write 60% or 0.6)")
    return share


def pay_rep(
    book: PlanBook,
    compiled: Compiled,
    plan_name: str,
    rep: Mapping[str, Any],
    period: PayPeriod,
    *,
    deals: Iterable[Mapping[str, Any]] = (),
    quotas: Sequence[Mapping[str, Any]] = (),
    links: Mapping[str, Mapping[str, Any] | None] | None = None,
    splits: Sequence[Mapping[str, Any]] = (),
    stage_events: Sequence[Mapping[str, Any]] = (),
    paid: bool = True,
) -> RepOutcome:
    """The reference path: pay one rep on one plan for one period, deal by deal.

    `deals` may hold any deals (those of other reps are not credited); `quotas` are the rep's
    quota rows; `splits` the split rows of the deals involved; `stage_events` the events of the
    deals involved. Issues found on this rep's deals (missing or negative amounts, splits not
    summing to 100%) are returned with the payout; a missing quota prevents the payout.
    """
    plan = book.plans[plan_name]
    rep_id = text_or_none(rep.get("id")) or ""
    issues: list[PayoutIssue] = []

    def issue(reason: str, measure: str | None = None, deal: str | None = None) -> None:
        issues.append(PayoutIssue(rep_id, plan.name, period.id, reason, measure, deal))

    for problem in plan.problems:
        issue(f"plan {plan.name} cannot be paid: {problem}")
    if plan.effective is not None and not (
        period.start <= plan.effective[1] and period.end >= plan.effective[0]
    ):
        start, end = plan.effective
        issue(f"{period.id} is outside the plan's effective dates ({start} to {end})")
    if plan.unit != period.unit:
        issue(f"plan {plan.name} pays per {plan.unit}, not per {period.unit}")
    if issues:
        return RepOutcome(None, tuple(issues))
    days: int | None = None
    factor = _ONE
    if plan.proration:
        days, factor = proration_factor(
            period, _date(rep.get("hire_date")), _date(rep.get("end_date"))
        )
        if days == 0:
            issue(f"not employed during {period.id} (hired {_date(rep.get('hire_date'))})")
            return RepOutcome(None, tuple(issues))

    shares, split_problems = split_shares(
        (row.get("deal_id"), row.get("rep_id"), row.get("share")) for row in splits
    )
    split_reps = {
        deal: {
            text_or_none(row.get("rep_id"))
            for row in splits
            if text_or_none(row.get("deal_id")) == deal
        }
        for deal in split_problems
    }
    entered = _entered(stage_events)
    inputs: dict[str, MeasureInput] = {}
    quota_problem = False
    for spec in plan.measures:
        assert spec.credit is not None
        credited, credited_deals = _credit(
            _CreditRunner(spec.credit, compiled),
            spec,
            rep_id,
            period,
            plan,
            deals,
            shares,
            split_problems,
            split_reps,
            entered,
            issue,
            issues,
        )
        quota, reason = measure_quota(spec, rep, period, quotas, links or {}, plan)
        if reason is not None:
            issue(reason, spec.name)
            quota_problem = True
        elif quota is not None and factor != _ONE:
            quota = plan.round(exact_mul(quota, factor))
        inputs[spec.name] = MeasureInput(credited, quota, credited_deals)
    if quota_problem:
        return RepOutcome(None, tuple(issues))
    payout = pay_plan(plan, rep_id, period, inputs, proration=factor, days=days, paid=paid)
    return RepOutcome(payout, tuple(issues))


def split_shares(
    rows: Iterable[tuple[Any, Any, Any]],
) -> tuple[dict[str, dict[str, Decimal]], dict[str, str]]:
    """Split rows (deal_id, rep_id, share) -> usable shares per deal, and why the others are not.

    A deal's shares must sum to exactly 100%; a share that cannot be read spoils its deal.
    """
    shares: dict[str, dict[str, Decimal]] = {}
    problems: dict[str, str] = {}
    for deal_raw, rep_raw, share_raw in rows:
        deal, rep = text_or_none(deal_raw), text_or_none(rep_raw)
        if deal is None or deal in problems:
            continue
        if rep is None:
            problems[deal] = "a split row has no rep_id"
            continue
        try:
            share = parse_share(share_raw)
        except (ValueError, ArithmeticError) as error:
            problems[deal] = f"split for {rep}: {error}"
            continue
        entry = shares.setdefault(deal, {})
        entry[rep] = entry.get(rep, _ZERO) + share
    for deal, entry in shares.items():
        total = sum(entry.values(), _ZERO)
        if deal not in problems and total != 1:
            problems[deal] = f"its split shares sum to {(total * 100).normalize():f}%, not 100%"
    for deal in problems:
        shares.pop(deal, None)
    return shares, problems


def _entered(stage_events: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dt.date]:
    """(deal id, stage) -> the first day the deal entered the stage."""
    first: dict[tuple[str, str], dt.date] = {}
    for event in stage_events:
        deal, stage, day = (
            text_or_none(event.get("deal_id")),
            text_or_none(event.get("stage")),
            _date(event.get("entered_at")),
        )
        if deal is None or stage is None or day is None:
            continue
        key = (deal, stage)
        if key not in first or day < first[key]:
            first[key] = day
    return first


def _credit(
    runner: _CreditRunner,
    spec: MeasureSpec,
    rep_id: str,
    period: PayPeriod,
    plan: PlanSpec,
    deals: Iterable[Mapping[str, Any]],
    shares: Mapping[str, dict[str, Decimal]],
    split_problems: Mapping[str, str],
    split_reps: Mapping[str, set[str | None]],
    entered: Mapping[tuple[str, str], dt.date],
    issue: Callable[..., None],
    issues: list[PayoutIssue],
) -> tuple[Decimal, tuple[CreditedDeal, ...]]:
    rule = runner.rule
    total = _ZERO
    credited: list[CreditedDeal] = []
    for record in deals:
        deal_id = text_or_none(record.get("id")) or "?"
        # Splits share a deal between owners; a `to` field names one rep (an SDR...) instead.
        split = shares.get(deal_id) if rule.to == "rep_id" else None
        broken = split_problems.get(deal_id) if rule.to == "rep_id" else None
        if split is not None:
            if rep_id not in split:
                continue
            share = split[rep_id]
        elif broken is not None:
            if rep_id not in split_reps.get(deal_id, ()):
                continue
            share = _ZERO
        elif text_or_none(record.get(rule.to)) == rep_id:
            share = _ONE
        else:
            continue
        try:
            row = runner.row(record)
        except (ValueError, ArithmeticError) as error:
            issue(f"deal {deal_id} is not credited: {error}", spec.name, deal_id)
            continue
        counts = True if runner.where is None else runner.where(row)
        if counts is False:
            continue
        if rule.dated_stage is not None:
            day = entered.get((deal_id, rule.dated_stage))
        elif runner.dated is not None:
            day = runner.dated(row)
        else:
            day = row.get(rule.date_field)
        if day is None:
            issues.append(
                PayoutIssue(
                    rep_id,
                    plan.name,
                    None,
                    f"deal {deal_id} is not credited: {rule.no_date_text}",
                    spec.name,
                    deal_id,
                )
            )
            continue
        if not period.holds(day) or (
            plan.effective is not None and not plan.effective[0] <= day <= plan.effective[1]
        ):
            continue
        if counts is not True:
            # Unknown is not false: a won deal with an empty field must not vanish silently.
            missing = [ref.name for ref in rule.where_fields if row.get(ref.name) is None]
            issue(
                f"deal {deal_id} is not credited: {rule.missing_text(missing)}", spec.name, deal_id
            )
            continue
        if broken is not None:
            issue(f"deal {deal_id} is not credited: {broken}", spec.name, deal_id)
            continue
        value = _ONE
        if runner.value is not None:
            amount = row.get("amount")
            if amount is not None and amount < 0:
                issue(
                    f"deal {deal_id} is not credited: negative amount ({amount:f})",
                    spec.name,
                    deal_id,
                )
                continue
            found = exact_value(runner.value(row))
            if found is None:
                issue(f"deal {deal_id} is not credited: no {rule.value_text}", spec.name, deal_id)
                continue
            value = found
        part = exact_mul(value, share)
        total += part
        credited.append(CreditedDeal(deal_id, day, value, share, part))
    return total, tuple(credited)
