"""Plans lowered for pay: bands, curves, limits, credit rules and quota formulas, once.

A plan is compiled from the checked model; its expressions (what a measure credits, on which
deals, dated when; a quota formula) are the checker's typed trees lowered by the compiler, so pay
reads the same IR as every other evaluation. The checker has refused every plan that cannot be
paid (no period, no credit, attainment without quota, a share of a target the plan lacks), so
compiling a checked plan cannot fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl import typed as t
from dsl.canonical import PAY_FREQUENCIES
from dsl.model import Model
from dsl.source import NO_SPAN, Span
from dsl.typed import TypedModel
from dsl.types import FieldType
from engine.compiler import Lowering, derived_nodes
from engine.ir import Compiled, FieldRef, Node, field_refs
from engine.money import EXACT, ROUNDING_MODES, round_money, snap
from engine.periods import PERIODS_PER_YEAR

__all__ = [
    "BandSpec",
    "ClawbackSpec",
    "CreditRule",
    "CurveSpec",
    "DrawSpec",
    "Limit",
    "MeasureSpec",
    "PlanBook",
    "PlanSpec",
    "QuotaFormula",
    "VersionSpec",
    "compile_plans",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class BandSpec:
    """A band `[low, high) value`: bounds are fractions of the quota or amounts. `index` is its
    position in the measure's table (what coverage reports)."""

    low: Decimal
    high: Decimal | None
    value: Decimal
    low_inclusive: bool
    high_inclusive: bool
    on_attainment: bool
    text: str
    index: int = 0

    def bounds(self, quota: Any) -> tuple[Any, Any]:
        """The band's ends as amounts of credited value (of each quota, given an array)."""
        if not self.on_attainment:
            return self.low, self.high
        assert quota is not None
        return self.low * quota, None if self.high is None else self.high * quota

    def holds(self, credited: Any, quota: Any) -> Any:
        """Whether the credited value lies in the band (inclusivity as written): the one band
        test of pay. Works on one Decimal (-> bool) and, for the table path, on numpy object
        arrays of Decimals (-> bool array), with the same operators."""
        low, high = self.bounds(quota)
        above = (credited > low) | ((credited == low) & self.low_inclusive)
        if high is None:
            return above
        below = (credited < high) | ((credited == high) & self.high_inclusive)
        return above & below


@dataclass(frozen=True, slots=True)
class CurveSpec:
    """An interpolated curve: an optional `below` point, `at` points, then slopes; each with its
    position among the curve's points as written (what coverage reports)."""

    below: tuple[Decimal, Decimal] | None
    points: tuple[tuple[Decimal, Decimal], ...]
    slopes: tuple[tuple[Decimal, Decimal | None], ...]
    below_index: int | None = None
    point_indexes: tuple[int, ...] = ()
    slope_indexes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Limit:
    """A cap or guardrail: a share of a target (`percent`) or an amount."""

    value: Decimal
    percent: bool
    raw: str


@dataclass(frozen=True, slots=True)
class CreditRule:
    """`credit <value> of deals where ... to <field> dated ...`, lowered by the compiler.

    `value` None credits 1 per record (`count`). `dated_stage` is set for
    `dated entered_at(stage)`, which the stage events answer; otherwise `dated` is a lowered
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
    #: A SPIFF's days: only deals dated within them are credited (None: any day).
    window: tuple[dt.date, dt.date] | None = None
    #: The deal's computed results the rule reads (`qualification_status`, `meddpicc.score`):
    #: each pay path evaluates them on the deals it credits.
    computed: tuple[str, ...] = ()

    def in_window(self, day: dt.date) -> bool:
        """Whether a deal dated `day` lies in the rule's window (always, without one)."""
        return self.window is None or self.window[0] <= day <= self.window[1]

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
class QuotaFormula:
    """`quota formula <expression>` on the rep: the lowered expression and what it reads (rep
    fields by name, linked records' fields as `territory.potential`), with their types."""

    node: Node
    reads: Mapping[str, FieldType]


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """One measure, normalised: what it credits, its quota, and how it pays."""

    name: str
    label: str | None
    weight: Decimal
    credit: CreditRule
    quota_measure: str | None
    quota_formula: QuotaFormula | None
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
    #: `measure`, or `spiff`: a time-boxed amount per deal (weight 0, method per_unit, capped
    #: at an amount), paid beside the measures and shown as a SPIFF.
    kind: str = "measure"

    @property
    def has_quota(self) -> bool:
        """Whether the measure declares a quota."""
        return self.quota_measure is not None or self.quota_formula is not None


@dataclass(frozen=True, slots=True)
class DrawSpec:
    """`draw 2000 recoverable up to 50%`: the minimum of each payment, and how much of a
    later payment may recover what the draw advanced (None: all of it above the draw)."""

    amount: Decimal
    recoverable: bool
    share: Decimal | None


@dataclass(frozen=True, slots=True)
class ClawbackSpec:
    """`clawback within 90 days prorata`: a deal cancelled within `days` of its credit date
    gives back its pay, all of it or (prorata) the share of the window left."""

    days: int
    prorata: bool


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """`supersedes ae_2026 from 2026-07-01 split by close_date` (or `days`)."""

    plan: str
    start: dt.date
    split: str


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A plan, normalised."""

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
    span: Span = NO_SPAN
    #: The rounding step is 0.01, 0.1, 1...: rounding is a plain quantize.
    quantum: bool = False
    #: How often it pays (a period unit no longer than `unit`): `pays monthly` -> month.
    pays: str = ""
    #: What a negative true-up does: carry_forward, recover or floor.
    true_up: str = "carry_forward"
    draw: DrawSpec | None = None
    clawback: ClawbackSpec | None = None
    version: VersionSpec | None = None
    #: `ramp 50%, 75%`: the share of quota in month 1, 2... of tenure (100% after); () none.
    ramp: tuple[Decimal, ...] = ()

    @property
    def over_time(self) -> bool:
        """Whether what it pays depends on earlier payments (true-ups, draws, clawbacks)."""
        return (
            (self.pays not in ("", self.unit))
            or self.draw is not None
            or (self.clawback is not None)
        )

    def round(self, value: Decimal) -> Decimal:
        """Round an amount the way the ruleset says."""
        return self._round(value, self.rounding[0])

    def cap_of(self, cap: Limit, target: Decimal | None) -> Decimal | None:
        """What a cap allows: its share of the target or its amount, rounded down to the step
        (no rounding ever lifts a payout above its cap); None for a share of no target."""
        if not cap.percent:
            return self.round_down(cap.value)
        return None if target is None else self.round_down(EXACT.multiply(cap.value, target))

    def round_down(self, value: Decimal) -> Decimal:
        """Round an amount down to the step (caps: never exceeded after rounding)."""
        return self._round(value, "down")

    def _round(self, value: Decimal, mode: str) -> Decimal:
        snapped = snap(value)
        step = self.rounding[1]
        if self.quantum:
            # A step of 0.01, 0.1 or 1 is a quantize (what round_money does, only faster).
            return snapped.quantize(step, rounding=ROUNDING_MODES[mode], context=EXACT)
        return round_money(snapped, step, mode)

    def covers(self, start: dt.date, end: dt.date) -> bool:
        """Whether the plan is in effect on at least one day of [start, end]."""
        return self.effective is None or (start <= self.effective[1] and end >= self.effective[0])


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
    #: A plan -> its versions in order, itself first (`supersedes`); plans without: absent.
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def chain(self, name: str) -> tuple[tuple[PlanSpec, dt.date | None, dt.date | None], ...]:
        """A plan's versions, each with the first and last day it is in force (None: open):
        a version runs from its `supersedes` date to the day before the next one's."""
        names = self.versions.get(name, (name,))
        specs = [self.plans[v] for v in names]
        found: list[tuple[PlanSpec, dt.date | None, dt.date | None]] = []
        for index, spec in enumerate(specs):
            start = spec.version.start if spec.version is not None else None
            if start is None and spec.effective is not None:
                start = spec.effective[0]
            later = specs[index + 1] if index + 1 < len(specs) else None
            if later is not None and later.version is not None:
                end: dt.date | None = later.version.start - dt.timedelta(days=1)
            elif spec.effective is not None:
                end = spec.effective[1]
            else:  # a last version without dates runs to its first version's end
                end = specs[0].effective[1] if specs[0].effective is not None else None
            found.append((spec, start, end))
        return tuple(found)


# ----------------------------------------------------------------------------- compiling
def _band(band: n.Band, on_attainment: bool, index: int) -> BandSpec:
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
        index,
    )


def _curve(curve: n.Curve) -> CurveSpec:
    below: tuple[Decimal, Decimal] | None = None
    below_index: int | None = None
    points: list[tuple[Decimal, Decimal]] = []
    point_indexes: list[int] = []
    slopes: list[tuple[Decimal, Decimal | None]] = []
    slope_indexes: list[int] = []
    for index, point in enumerate(curve.points):
        if isinstance(point, n.CurveBelow):
            below, below_index = (point.level.value, point.pay.value), index
        elif isinstance(point, n.CurveAt):
            points.append((point.level.value, point.pay.value))
            point_indexes.append(index)
        else:
            slopes.append((point.slope.value, point.until.value if point.until else None))
            slope_indexes.append(index)
    return CurveSpec(
        below, tuple(points), tuple(slopes), below_index, tuple(point_indexes),
        tuple(slope_indexes),
    )  # fmt: skip


def _limit(limit: n.Number | n.Percent) -> Limit:
    return Limit(limit.value, isinstance(limit, n.Percent), limit.raw)


class _PlanCompiler:
    """Lowers the plans of one checked model."""

    def __init__(self, model: Model, typed: TypedModel, compiled: Compiled) -> None:
        self.model = model
        self.typed = typed
        # A credit may read the deal's computed results (`Compiled.computed` holds them).
        self.computed = compiled.computed.get("deal", {})
        self.lowering = Lowering(compiled.stages, compiled.weighted_scale, self.computed)

    def credit(self, credit: n.Credit) -> CreditRule:
        """A credit rule: its value, filter and date lowered on the deal."""
        lower = self.lowering.lower
        value = None if credit.value is None else lower(self.typed.of(credit.value))
        where = None if credit.where is None else lower(self.typed.of(credit.where))
        dated: Node | None = None
        dated_stage: str | None = None
        if credit.dated is not None:
            typed = self.typed.of(credit.dated)
            if isinstance(typed, t.EnteredAt):
                dated_stage = typed.stage  # answered by the deal's stage events
            else:
                dated = lower(typed)
        to = credit.to.name if credit.to else "rep_id"
        reads = {ref.name for node in (value, where, dated) for ref in field_refs(node)}
        reads |= {"id", to, "close_date", "amount"}
        # Derived values a credit reads (gross margin...) as the compiler defines them; pay has
        # no as-of date, and the checker keeps credits from reading what depends on one.
        derived = {
            name: node
            for name, node in derived_nodes(reads).items()
            if name in reads and name != "days_in_stage"
        }
        if derived:
            reads |= {"amount", "cost"}
        fields = self.model.records["deal"]
        types = {name: fields[name] for name in sorted(reads) if name in fields}
        types = {name: kind for name, kind in types.items() if name not in derived}
        if credit.value is None:
            value_text = "count"
        elif isinstance(credit.value, n.Ref):
            value_text = credit.value.dotted
        else:
            value_text = "credited value"
        where_fields: dict[str, FieldRef] = {}
        for ref in field_refs(where):
            leaves = field_refs(derived[ref.name]) if ref.name in derived else [ref]
            for leaf in leaves:
                where_fields.setdefault(leaf.name, leaf)
        computed = tuple(sorted(name for name in reads if name in self.computed))
        return CreditRule(
            credit.source.name, value, where, to, dated, dated_stage, "close_date", types,
            derived, value_text, tuple(where_fields.values()), computed=computed,
        )  # fmt: skip

    def quota(self, formula: n.Expr) -> QuotaFormula:
        """A quota formula lowered on the rep, with the rep and linked fields it reads."""
        node = self.lowering.lower(self.typed.of(formula))
        records = self.model.records
        reads: dict[str, FieldType] = {}
        for ref in field_refs(node):
            link, _, name = ref.name.rpartition(".")
            reads[ref.name] = records[link][name] if link else records["rep"][name]
        return QuotaFormula(node, reads)

    def measure(self, measure: n.Measure, weight: Decimal) -> MeasureSpec:
        credit: CreditRule | None = None
        quota_measure: str | None = None
        quota_formula: QuotaFormula | None = None
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
        for item in measure.items:
            if isinstance(item, n.Credit):
                credit = self.credit(item)
            elif isinstance(item, n.QuotaTable):
                quota_measure = item.measure.name
                lines["quota"] = item.span
            elif isinstance(item, n.QuotaFormula):
                quota_formula = self.quota(item.formula)
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
                bands = tuple(_band(b, on_attainment, i) for i, b in enumerate(item.bands))
            elif isinstance(item, n.Steps):
                method = "steps"
                bands = tuple(_band(b, True, i) for i, b in enumerate(item.bands))
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
        assert credit is not None, "the checker refuses a measure without a credit (E408)"
        return MeasureSpec(
            measure.name.name, measure.label, weight, credit, quota_measure, quota_formula,
            method, rate, rates_method, bands, curve, threshold, accelerator, cap, bonus,
            measure.span, lines,
        )  # fmt: skip

    def spiff(self, spiff: n.Spiff) -> MeasureSpec:
        """A SPIFF as a measure line: its amount per credited deal (`per_unit`), no quota, no
        share of the target variable (weight 0), its window on the credit rule, its cap an
        amount (the checker refuses a share)."""
        window = (spiff.window.start.value, spiff.window.end.value)
        credit = replace(self.credit(spiff.credit), window=window)
        cap = None if spiff.cap is None else _limit(spiff.cap.limit)
        lines = {"method": spiff.credit.span, "window": spiff.window.span}
        if spiff.cap is not None:
            lines["cap"] = spiff.cap.span
        return MeasureSpec(
            spiff.name.name, spiff.label, _ZERO, credit, None, None, "per_unit",
            spiff.amount.value, None, (), None, None, None, cap, None, spiff.span, lines,
            kind="spiff",
        )  # fmt: skip

    def plan(self, plan: n.Plan) -> PlanSpec:
        unit: str | None = None
        effective: tuple[dt.date, dt.date] | None = None
        target: tuple[Decimal, str] | None = None
        proration = False
        cap: Limit | None = None
        guardrail: Limit | None = None
        ramp: tuple[Decimal, ...] = ()
        pays: str | None = None
        true_up = "carry_forward"
        draw: DrawSpec | None = None
        clawback: ClawbackSpec | None = None
        version: VersionSpec | None = None
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
            elif isinstance(item, n.Ramp):
                ramp = tuple(share.value for share in item.shares)
            elif isinstance(item, n.Pays):
                pays = PAY_FREQUENCIES[item.every.name]
            elif isinstance(item, n.TrueUp):
                true_up = item.policy.name
            elif isinstance(item, n.Draw):
                share = item.share.value if item.share is not None else None
                draw = DrawSpec(item.amount.value, item.kind.name == "recoverable", share)
            elif isinstance(item, n.Clawback):
                clawback = ClawbackSpec(int(item.days.value), item.mode.name == "prorata")
            elif isinstance(item, n.Supersedes):
                version = VersionSpec(item.plan.name, item.start.value, item.split.name)
        assert unit is not None, "the checker refuses a plan without a period (E408)"
        mode, step = self.model.rounding
        per_period: Decimal | None = None
        if target is not None:
            amount, per = target
            share = EXACT.divide(Decimal(PERIODS_PER_YEAR[per]), Decimal(PERIODS_PER_YEAR[unit]))
            per_period = round_money(snap(EXACT.multiply(amount, share)), step, mode)
        measures = plan.measures
        unweighted = [m for m in measures if m.weight is None]
        given = sum((m.weight.value for m in measures if m.weight is not None), _ZERO)
        # Measures without a weight share what the weighted ones leave (all of it when none is
        # weighted): one measure alone carries the whole target.
        rest = EXACT.divide(_ONE - given, Decimal(len(unweighted))) if unweighted else _ZERO
        specs = tuple(self.measure(m, m.weight.value if m.weight else rest) for m in measures)
        specs += tuple(self.spiff(s) for s in plan.spiffs)
        digits = step.as_tuple()
        return PlanSpec(
            plan.name.name, plan.label, plan.role.name, unit, effective, per_period, proration,
            cap, guardrail, specs, (mode, step), plan.span,
            quantum=digits.digits == (1,) and int(digits.exponent) <= 0, pays=pays or unit,
            true_up=true_up, draw=draw, clawback=clawback, version=version, ramp=ramp,
        )  # fmt: skip


_METHOD_NODES = frozenset({"commission", "rates", "steps", "curve", "perunit"})


def compile_plans(model: Model, typed: TypedModel, compiled: Compiled) -> PlanBook:
    """Compile every plan of a checked model, and map each role to its plans (paid first).

    A role's plans are those its `plan a, b` line names; a role that names none is paid on the
    plan declared `for` it (the checker refuses several without a `plan` line).
    """
    compiler = _PlanCompiler(model, typed, compiled)
    plans = {name: compiler.plan(plan) for name, plan in model.plans.items()}
    roles: dict[str, tuple[str, ...]] = {}
    for name, role in model.roles.items():
        listed = tuple(
            ident.name
            for item in role.items
            if isinstance(item, n.RolePlans)
            for ident in item.names
            if ident.name in plans
        )
        # A version is paid in its plan's place (`supersedes`): never listed on its own.
        heads = tuple(p for p, spec in plans.items() if spec.role == name and spec.version is None)
        roles[name] = tuple(p for p in listed if plans[p].version is None) or heads
    quota_measures = frozenset(
        m.quota_measure for p in plans.values() for m in p.measures if m.quota_measure
    )
    return PlanBook(
        plans, roles, frozenset(model.roles), model.currency, model.rounding, quota_measures,
        _versions(plans),
    )  # fmt: skip


def _versions(plans: Mapping[str, PlanSpec]) -> dict[str, tuple[str, ...]]:
    """Each first version -> the chain of plans superseding it, in order."""
    after = {spec.version.plan: name for name, spec in plans.items() if spec.version is not None}
    found: dict[str, tuple[str, ...]] = {}
    for name, spec in plans.items():
        if spec.version is not None or name not in after:
            continue
        chain = [name]
        while chain[-1] in after and after[chain[-1]] not in chain:
            chain.append(after[chain[-1]])
        found[name] = tuple(chain)
    return found
