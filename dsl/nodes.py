"""The typed AST of a ruleset. Nodes are frozen, slotted dataclasses; spans are left out of
equality, so `==` compares meaning and a moved rule is not a changed rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field as _field
from decimal import Decimal

from dsl.source import NO_SPAN, Span


@dataclass(frozen=True, slots=True)
class Ident:
    """A name as written, e.g. a field, stage, plan or option id."""

    name: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class Number:
    """A number or amount: `40_000`, `50K`, `1.5M`, `50K EUR`. `raw` keeps the spelling."""

    value: Decimal
    raw: str = _field(compare=False)
    currency: str | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Percent:
    """A percentage: `80%`, held as the fraction 0.80."""

    value: Decimal
    raw: str = _field(compare=False)
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration in days: `14d`, `2w` (14 days)."""

    days: int
    raw: str = _field(compare=False)
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Date:
    """A calendar date: `2026-01-01`."""

    value: dt.date
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class String:
    """A quoted UTF-8 string."""

    value: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Ref:
    """A field or option (`amount`, `won`), or a dotted path (`territory.potential`)."""

    parts: tuple[str, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    @property
    def dotted(self) -> str:
        """The reference as written."""
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Call:
    """A function or aggregate: `count(status == won)`, `sum(amount where type == upsell)`."""

    function: str
    args: tuple[Expr, ...]
    where: Expr | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ListExpr:
    """A list of values: `[won, lost]`."""

    items: tuple[Expr, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class RangeExpr:
    """An inclusive range of numbers: `3..6`."""

    low: Number
    high: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic `+ - * /`, comparison `== != < <= > >=`, or logic `and`, `or`."""

    op: str
    left: Expr
    right: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Membership:
    """`x in [a, b]`, `x in 3..6`, or their negation `not in`."""

    value: Expr
    collection: ListExpr | RangeExpr
    negated: bool = False
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class IsMissing:
    """`x is missing` / `x is not missing`."""

    value: Expr
    negated: bool = False
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


Expr = (
    Number
    | Percent
    | Duration
    | Date
    | String
    | Bool
    | Ref
    | Call
    | ListExpr
    | RangeExpr
    | Unary
    | Binary
    | Membership
    | IsMissing
)
Literal = Number | Percent | Duration


# ----------------------------------------------------------------------------- header, records
@dataclass(frozen=True, slots=True)
class Ruleset:
    """The header: `ruleset id "Label" { currency EUR  rounding half_up 0.01 }`."""

    name: Ident
    label: str | None
    currency: Ident | None = None
    rounding: Rounding | None = None
    #: The template folders this ruleset starts from (`extends "../house"`), in order.
    extends: tuple[TemplatePath, ...] = ()
    #: `template` (the word, for its place): a house method that clients extend.
    template: Ident | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class TemplatePath:
    """`"../house"` in `extends`: a ruleset folder, relative to the folder of this file."""

    path: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Rounding:
    """How money is rounded: a mode and a step (`half_up 0.01`)."""

    mode: Ident
    step: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A field type: a scalar (`money`, `integer 0..2`) or `one_of` with option ids and labels."""

    name: str
    options: tuple[Option, ...] = ()
    range: RangeExpr | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Option:
    """One `one_of` option: an id and an optional label."""

    name: Ident
    label: str | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Field:
    """A typed input field of a record."""

    name: Ident
    type: TypeSpec
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Record:
    """`record deal { ... }`: the fields a client's data adds to a canonical table."""

    name: Ident
    fields: tuple[Field, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- strategy
@dataclass(frozen=True, slots=True)
class StrategyTarget:
    """`target revenue 8M from 5M`."""

    measure: Ident
    target: Number
    baseline: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StrategyGrowth:
    """`growth new_logo 60% when <condition>`: a share of growth and the deals that make it."""

    name: Ident
    share: Percent
    condition: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StrategyFocus:
    """`focus <condition>`: where the strategy concentrates."""

    condition: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StrategyChannel:
    """`channel direct 100%`."""

    name: Ident
    share: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StrategyTolerance:
    """`tolerance 5 pts`: how far a measured share may stray from its target, in points."""

    points: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


StrategyItem = StrategyTarget | StrategyGrowth | StrategyFocus | StrategyChannel | StrategyTolerance


@dataclass(frozen=True, slots=True)
class Strategy:
    """The client's growth strategy, in numbers."""

    label: str | None
    items: tuple[StrategyItem, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- scores
@dataclass(frozen=True, slots=True)
class ValueCase:
    """`confirmed -> 20`: points when the criterion's field equals an option."""

    value: Ident
    points: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class WhenCase:
    """`when <condition> -> 15`."""

    condition: Expr
    points: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class OtherwiseCase:
    """`otherwise -> 2`: the points when no earlier case matched."""

    points: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


Case = ValueCase | WhenCase | OtherwiseCase


@dataclass(frozen=True, slots=True)
class Criterion:
    """A criterion scored by a first-match list of cases; `of field` names the field matched."""

    name: Ident
    label: str | None
    of: Ident | None
    cases: tuple[Case, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class FieldCriterion:
    """`metrics -> m_metrics`: the criterion's points are the field's value."""

    name: Ident
    label: str | None
    field: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class StatusRule:
    """`SQL when score > 70`, `MQL otherwise`, or a knock-out that wins whatever the score."""

    name: Ident
    label: str | None
    condition: Expr | None
    knockout: bool = False
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Score:
    """A qualification score on a record: criteria, an optional maximum, and statuses."""

    name: Ident
    label: str | None
    subject: Ident
    max: Number | None
    criteria: tuple[Criterion | FieldCriterion, ...]
    statuses: tuple[StatusRule, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Route:
    """`use bant when amount < 50K` / `use meddpicc otherwise`."""

    score: Ident
    condition: Expr | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Qualify:
    """Which score qualifies a record, first match wins."""

    subject: Ident
    routes: tuple[Route, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- pipelines
@dataclass(frozen=True, slots=True)
class Probability:
    """`probability 40%`: the stage's win probability, used for weighted value."""

    value: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class MaxDays:
    """`max_days 14d`: after that a deal in the stage is stale."""

    days: Duration | Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ExitCriterion:
    """`exit need "Besoin identifié": need_identified`: must hold before a deal leaves the stage."""

    name: Ident
    label: str | None
    condition: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Action:
    """`action "..."`: what the rep does in the stage."""

    text: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


StageItem = Probability | MaxDays | ExitCriterion | Action


@dataclass(frozen=True, slots=True)
class Stage:
    """A pipeline stage and its items, in source order."""

    name: Ident
    label: str | None
    items: tuple[StageItem, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    @property
    def exits(self) -> tuple[ExitCriterion, ...]:
        """The stage's exit criteria."""
        return tuple(i for i in self.items if isinstance(i, ExitCriterion))


@dataclass(frozen=True, slots=True)
class ExpectConversion:
    """`expect conversion demo -> proposal >= 50%`: an alert when the funnel misses it."""

    source: Ident
    target: Ident
    op: str
    value: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """An ordered list of stages on a record, with conversion expectations."""

    name: Ident
    label: str | None
    subject: Ident
    items: tuple[Stage | ExpectConversion, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages in order."""
        return tuple(i for i in self.items if isinstance(i, Stage))


# ----------------------------------------------------------------------------- playbooks
@dataclass(frozen=True, slots=True)
class Requirement:
    """`require` (or `recommend`) a condition, due `before` a stage."""

    kind: str
    name: Ident
    label: str | None
    condition: Expr
    before: Ident | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ExpectWinRate:
    """`expect win_rate 30%..40%`."""

    low: Percent
    high: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Playbook:
    """What a kind of deal requires and recommends, stage by stage."""

    name: Ident
    label: str | None
    subject: Ident
    condition: Expr | None
    items: tuple[Requirement | ExpectWinRate, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- KPIs, roles
@dataclass(frozen=True, slots=True)
class Target:
    """`target >= 30%`."""

    op: str
    value: Literal
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Kpi:
    """A KPI: an aggregate over a record, an optional family and target."""

    name: Ident
    label: str | None
    family: Ident | None
    subject: Ident
    value: Expr
    target: Target | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Mission:
    """`mission "..."`."""

    text: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class RoleKpis:
    """`kpis a, b, c`."""

    names: tuple[Ident, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class RolePlans:
    """`plan a, b`: the plans a role is paid on (first) and compared with (others)."""

    names: tuple[Ident, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Role:
    """A sales role: its mission, KPIs and plans."""

    name: Ident
    label: str | None
    items: tuple[Mission | RoleKpis | RolePlans, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- plans
@dataclass(frozen=True, slots=True)
class Effective:
    """`effective 2026-01-01 to 2026-12-31`."""

    start: Date
    end: Date
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Communicated:
    """`communicated 2025-12-15`: when the reps were told their objectives."""

    date: Date
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Period:
    """`period quarter`."""

    unit: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class TargetVariable:
    """`target_variable 40K per year`: the payout at exactly 100% attainment."""

    amount: Number
    per: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Proration:
    """`proration daily` or `proration none`."""

    mode: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Cap:
    """`cap 200%` (of target) or `cap 50K`: on a measure, or on a whole plan."""

    limit: Number | Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class BudgetGuardrail:
    """`budget guardrail 110%`: an alert when total pay exceeds this share of the budget."""

    limit: Number | Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Pays:
    """`pays monthly`: how often a plan pays, when more often than it measures."""

    every: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class TrueUp:
    """`true_up carry_forward`: what a negative true-up does (or `recover`, `floor`)."""

    policy: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Draw:
    """`draw 2000 recoverable up to 50%`: a guaranteed minimum per payment."""

    amount: Number
    kind: Ident
    share: Percent | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Clawback:
    """`clawback within 90 days prorata`: a cancelled deal's commission is recovered."""

    days: Number
    mode: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Supersedes:
    """`supersedes ae_2026 from 2026-07-01 split by close_date`: a new version of a plan."""

    plan: Ident
    start: Date
    split: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Credit:
    """`credit amount of deals where ... to sdr_id dated ...`; `value` None means `count`."""

    value: Expr | None
    source: Ident
    where: Expr | None = None
    to: Ident | None = None
    dated: Expr | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class QuotaTable:
    """`quota bookings`: the quota comes from the quotas table, measure `bookings`."""

    measure: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class QuotaFormula:
    """`quota formula 250K * territory.potential`."""

    formula: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Commission:
    """`commission 10%`: a flat rate on the credited value."""

    rate: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Band:
    """A tier band `[lo, hi) value`; `high` None is open-ended (`...`)."""

    low: Number | Percent
    high: Number | Percent | None
    value: Percent
    low_inclusive: bool = True
    high_inclusive: bool = False
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Rates:
    """Rate tiers on attainment or amount, applied retroactively or marginally."""

    basis: Ident | None
    method: Ident
    bands: tuple[Band, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Steps:
    """Steps (paliers): reaching a band pays a fixed % of the measure's target variable."""

    bands: tuple[Band, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class CurveBelow:
    """`below 80% pay 0%`."""

    level: Percent
    pay: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class CurveAt:
    """`at 100% pay 100%`: a point of the curve."""

    level: Percent
    pay: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class CurveSlope:
    """`slope 1.5 to 130%`: past the last point, pay rises by `slope` per point of attainment."""

    slope: Number
    until: Percent | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Curve:
    """An interpolated payout curve: attainment -> % of target."""

    points: tuple[CurveBelow | CurveAt | CurveSlope, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Definition:
    """`curve standard "Courbe standard" { ... }` at top level: a named rate table, step table or
    curve, written once and reused by measures (`curve standard` inside a measure)."""

    name: Ident
    label: str | None
    body: Rates | Steps | Curve
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    @property
    def kind(self) -> str:
        """`curve`, `rates` or `steps`: the keyword that declares it and that uses it."""
        return DEFINITION_KINDS[type(self.body)]


@dataclass(frozen=True, slots=True)
class Use:
    """`curve standard` in a measure: the named definition's body, as if written there."""

    kind: str
    name: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


#: The keyword of each kind of named definition.
DEFINITION_KINDS: dict[type, str] = {Curve: "curve", Rates: "rates", Steps: "steps"}


@dataclass(frozen=True, slots=True)
class PerUnit:
    """`per_unit 150`: a fixed amount per credited unit."""

    amount: Number
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Threshold:
    """`threshold 80% gate|floor`."""

    level: Percent
    mode: Ident
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Accelerator:
    """`accelerator 2 above 100%`: adds factor x (attainment - level) x target on top."""

    factor: Number
    above: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Bonus:
    """`bonus 2000 when attainment >= 100%`."""

    amount: Number
    op: str
    level: Percent
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


MeasureItem = (
    Credit
    | QuotaTable
    | QuotaFormula
    | Commission
    | Rates
    | Steps
    | Curve
    | Use
    | PerUnit
    | Threshold
    | Accelerator
    | Cap
    | Bonus
)


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure of a plan: what is credited, against which quota, paid how."""

    name: Ident
    label: str | None
    weight: Percent | None
    items: tuple[MeasureItem, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Ramp:
    """`ramp 50%, 75%, 100%`: the share of quota in month 1, 2, 3... of tenure; 100% after."""

    shares: tuple[Percent, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class SpiffWindow:
    """`from 2026-03-01 to 2026-04-30`: the days a SPIFF's deals are dated within."""

    start: Date
    end: Date
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Spiff:
    """`spiff launch_x "Lancement X" { 500 per deal where ... from D to D cap 5000 }`: a
    time-boxed amount per qualifying deal, paid beside the measures (no share of the target).
    `credit` is the pay line read as `credit count of deals where ... dated ...`."""

    name: Ident
    label: str | None
    amount: Number
    credit: Credit
    window: SpiffWindow
    cap: Cap | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


PlanItem = (
    Effective
    | Communicated
    | Period
    | TargetVariable
    | Proration
    | Cap
    | BudgetGuardrail
    | Measure
    | Pays
    | TrueUp
    | Draw
    | Clawback
    | Supersedes
    | Ramp
    | Spiff
)


@dataclass(frozen=True, slots=True)
class Plan:
    """A variable-pay plan for a role."""

    name: Ident
    label: str | None
    role: Ident
    items: tuple[PlanItem, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    @property
    def measures(self) -> tuple[Measure, ...]:
        """The plan's measures in order."""
        return tuple(i for i in self.items if isinstance(i, Measure))

    @property
    def spiffs(self) -> tuple[Spiff, ...]:
        """The plan's SPIFFs in order."""
        return tuple(i for i in self.items if isinstance(i, Spiff))


# ----------------------------------------------------------------------------- alerts, rituals
@dataclass(frozen=True, slots=True)
class Alert:
    """`alert id "Label" on deal when <condition> severity warning`."""

    name: Ident
    label: str | None
    subject: Ident
    condition: Expr
    severity: Ident | None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Ritual:
    """`ritual id "Label" every week { show stale_deals, alerts }`."""

    name: Ident
    label: str | None
    every: Ident
    shows: tuple[Ident, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class NamedExpression:
    """`define large_deal "Gros deal" on deal = type == new_logo and amount > 100K`: read by
    name (`when large_deal`) wherever a deal is in scope, as if written there."""

    name: Ident
    label: str | None
    subject: Ident
    value: Expr
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Override:
    """`override plan ae_2026 { ... }`: the client's version of a template's declaration.

    Resolved before checking (`dsl.templates`): nothing after that sees an Override."""

    declaration: Declaration
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


Declaration = (
    Ruleset
    | Record
    | Strategy
    | Score
    | Qualify
    | Pipeline
    | Playbook
    | Kpi
    | Role
    | Plan
    | Alert
    | Ritual
    | Definition
    | NamedExpression
    | Override
)


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed `.krl` file."""

    path: str = _field(compare=False)
    declarations: tuple[Declaration, ...]
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment; kept by the parser for the formatter, not part of the AST's meaning."""

    text: str
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)
