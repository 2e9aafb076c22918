"""AST + Model -> a typed, resolved program (`Compiled`) that both evaluators run.

Compiling resolves every name and fixes how each value is represented, once, so that the
per-record path (`engine.record`, the reference) and the table path (`engine.vector`) cannot
disagree about meaning. The semantics, shared by both paths:

Values
  * `integer` fields, `money` fields and number / percent literals are exact ("fixed"): Python
    int or Decimal on the record path, int64 scaled by 10**scale on the table path (money is
    integer cents). `number` and `percent` fields are binary floats in both paths; a comparison
    or arithmetic that mixes a float with an exact value converts the exact side to float, the
    same correctly rounded way in both paths.
  * `+` and `-` of exact values stay exact; `*` of exact values stays exact while the result
    has at most `MAX_SCALE` decimals; `/` always gives a float. Dividing by zero is missing.
  * Dates compare as dates; `date - date` is a whole number of days; `date + 14d` is a date.
  * A bare name that is not a field of the record is a value (`won`, `industrie`).

Missing values
  * A missing (null, empty) input is unknown. Arithmetic and comparison with an unknown side
    are unknown; `and` / `or` / `not` use three-valued (Kleene) logic: `false and unknown` is
    false, `true or unknown` is true, anything else involving unknown is unknown. `x is missing`
    is always known.

Scores
  * A criterion is a first-match list of cases. A case that is unknown before any case matched
    makes the criterion undecidable: it scores 0 and is reported in `missing`. `otherwise`
    matches only when every earlier case is known false (an earlier unknown case already made
    the criterion missing). When no case matches and there is no `otherwise`, the criterion
    scores 0 and is not missing (its answer is known: none of the cases).
  * A criterion `name -> field` scores the field's value; a missing field scores 0, missing.
  * Status: knock-out rules are tried first, in order, whatever the score; then the other rules
    first-match. A status rule whose condition is unknown does not apply (a lead is not declared
    SQL on an unknown); the next rule is tried. No rule applying leaves the status empty.
  * Qualification routing is first-match like a criterion: an unknown route condition before a
    match leaves the deal without framework (and without qualification score or status).

Pipeline (deals)
  * A deal's stage is its `stage` field; its exit criteria are met only when known true. An
    unknown exit criterion is not met and is listed in `missing` with the false ones.
    `exit_ready`: every exit criterion of the current stage is met (a stage with none: true).
  * `skipped`: stages before the current one (same pipeline) with at least one unmet exit
    criterion, evaluated on the deal as it is now.
  * `days_in_stage` = as-of date - `stage_entered_at` (the table path takes a missing entry
    date from the deal's latest stage event at its current stage). `stale`: days_in_stage >
    max_days (exactly at max_days is not stale) and the deal is open; a closed deal is never
    stale; unknown when the entry date is missing; false when the stage has no max_days.
  * `weighted_value` = amount x stage probability, exact (cents x probability, no rounding).
  * `reached(stage)`: the deal is at that stage or a later one of the same pipeline (the table
    path also counts the deal's stage events).

Playbooks
  * A playbook applies when its `when` condition is known true (no condition: always); a deal
    gets the first playbook that applies, in declaration order.
  * A `require` with `before X` is due once the deal is at stage X or later; without `before`
    it is always due. `playbook_missing` lists the due requirements that are not met (false or
    unknown). `recommend` items are never missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsl import nodes as n
from dsl.model import Model
from dsl.types import FieldType
from dsl.source import NO_SPAN, Span

__all__ = [
    "AS_OF",
    "MAX_SCALE",
    "AggregateIR",
    "AlertIR",
    "Arith",
    "Attainment",
    "Between",
    "CaseIR",
    "Compare",
    "CompileError",
    "Compiled",
    "Const",
    "CriterionIR",
    "EnteredAt",
    "ExitIR",
    "ExpectIR",
    "FieldRef",
    "Func",
    "IsMissing",
    "KpiIR",
    "Logic",
    "Member",
    "Neg",
    "Node",
    "Not",
    "PipelineIR",
    "PlaybookIR",
    "Reached",
    "RequirementIR",
    "RouteIR",
    "Scope",
    "ScoreIR",
    "StageIR",
    "StatusIR",
    "ToFloat",
    "compile_model",
    "exact",
    "fields_of",
    "places",
    "type_expr",
]

#: The most decimals an exact product keeps before it becomes a float (int64 headroom).
MAX_SCALE = 6

#: Expression kinds: exact numbers, binary floats, dates, text, booleans.
KINDS = ("fixed", "float", "date", "text", "bool")

#: The name under which an evaluation's as-of date is visible to derived values.
AS_OF = "__as_of"


class CompileError(Exception):
    """A ruleset the checker accepted but the engine cannot run, located in the source."""

    def __init__(self, message: str, span: Span = NO_SPAN, code: str = "E301") -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.code = code


# ----------------------------------------------------------------------------- expression IR
@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field of the record (or a value the engine provides, such as `score`)."""

    name: str
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Const:
    """A literal, already in its kind's representation (int/Decimal, float, date, str, bool)."""

    value: Any
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class ToFloat:
    """An exact value turned into a binary float, for a comparison or arithmetic with floats."""

    operand: Node
    kind: str = "float"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`, both sides of the same kind (`domain`)."""

    op: str
    left: Node
    right: Node
    domain: str
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """`value in [items]` (or `not in`), items being constants of the value's kind."""

    value: Node
    items: tuple[Const, ...]
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Between:
    """`value in low..high`, both ends included (or `not in`)."""

    value: Node
    low: Const
    high: Const
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Logic:
    """`and` / `or` in three-valued logic."""

    op: str
    left: Node
    right: Node
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    """`not x`: unknown stays unknown."""

    operand: Node
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class IsMissing:
    """`x is missing` / `x is not missing`: always known."""

    operand: Node
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Arith:
    """`+ - * /` with the kind and scale of the result (`op` `days` is date - date)."""

    op: str
    left: Node
    right: Node
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Neg:
    """`-x`."""

    operand: Node
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Reached:
    """`reached(stage)`: the deal is at `stage` (index `index` of `pipeline`) or later."""

    pipeline: str
    index: int
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class EnteredAt:
    """`entered_at(stage)`: when the deal entered `stage`.

    The record path knows only the current stage's `stage_entered_at`; the table path also reads
    the deal's stage events (the first entry into the stage).
    """

    stage: str
    kind: str = "date"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Attainment:
    """`attainment(measure)` of a rep in the evaluated period, as a fraction.

    The variable-pay evaluation provides it (as the value named `attainment(measure)`); where
    it does not, it is unknown.
    """

    measure: str
    kind: str = "float"
    scale: int = 0

    @property
    def key(self) -> str:
        """The name under which the value is provided."""
        return f"attainment({self.measure})"


@dataclass(frozen=True, slots=True)
class Func:
    """`min(a, b)`, `max(a, b)`, `abs(x)`: unknown when an argument is."""

    name: str
    args: tuple[Node, ...]
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class AggregateIR:
    """An aggregate over a table (KPIs only): count, sum, mean, median."""

    function: str
    arg: Node | None
    where: Node | None
    kind: str
    scale: int = 0


Node = (
    FieldRef
    | Const
    | ToFloat
    | Compare
    | Member
    | Between
    | Logic
    | Not
    | IsMissing
    | Arith
    | Neg
    | Reached
    | EnteredAt
    | Attainment
    | Func
    | AggregateIR
)


# ----------------------------------------------------------------------------- program IR
@dataclass(frozen=True, slots=True)
class CaseIR:
    """One case of a criterion: `condition -> points`; `condition` None is `otherwise`.

    `value` is set for `option -> points` cases (the condition is then `field == option`).
    """

    condition: Node | None
    points: int | Decimal | float
    value: str | None = None


@dataclass(frozen=True, slots=True)
class CriterionIR:
    """A criterion: first-match cases, or (`field` set) the field's value as points."""

    name: str
    label: str | None
    cases: tuple[CaseIR, ...] = ()
    field: FieldRef | None = None
    #: The field every case reads, when the criterion is a plain option -> points table.
    table_field: str | None = None


@dataclass(frozen=True, slots=True)
class StatusIR:
    """A status rule; `condition` None is `otherwise`."""

    name: str
    label: str | None
    condition: Node | None
    knockout: bool


@dataclass(frozen=True, slots=True)
class ScoreIR:
    """A compiled score: criteria, statuses, and the kind of its points (`fixed` + scale, or
    `float`)."""

    name: str
    label: str | None
    subject: str
    criteria: tuple[CriterionIR, ...]
    statuses: tuple[StatusIR, ...]
    kind: str
    scale: int


@dataclass(frozen=True, slots=True)
class RouteIR:
    """`use score when condition`; `condition` None is `otherwise`."""

    score: str
    condition: Node | None


@dataclass(frozen=True, slots=True)
class ExitIR:
    """An exit criterion of a stage."""

    name: str
    label: str | None
    condition: Node


@dataclass(frozen=True, slots=True)
class StageIR:
    """A stage: its position, probability (exact fraction), max days and exit criteria."""

    name: str
    label: str | None
    pipeline: str
    index: int
    probability: Decimal | None
    max_days: int | None
    exits: tuple[ExitIR, ...]


@dataclass(frozen=True, slots=True)
class ExpectIR:
    """`expect conversion source -> target op value`."""

    source: str
    target: str
    op: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class PipelineIR:
    """A pipeline: ordered stages and conversion expectations."""

    name: str
    label: str | None
    stages: tuple[StageIR, ...]
    expectations: tuple[ExpectIR, ...]


@dataclass(frozen=True, slots=True)
class RequirementIR:
    """A playbook item; due from stage `before_index` of `pipeline` (None: always due)."""

    name: str
    label: str | None
    kind: str
    condition: Node
    before: str | None
    pipeline: str | None
    before_index: int | None


@dataclass(frozen=True, slots=True)
class PlaybookIR:
    """A playbook: when it applies, its items, and the expected win rate range."""

    name: str
    label: str | None
    condition: Node | None
    requirements: tuple[RequirementIR, ...]
    win_rate: tuple[Decimal, Decimal] | None


@dataclass(frozen=True, slots=True)
class KpiIR:
    """A KPI: an aggregate expression over a table and an optional target."""

    name: str
    label: str | None
    subject: str
    value: Node
    target_op: str | None
    target: Const | None


@dataclass(frozen=True, slots=True)
class AlertIR:
    """An `alert` declaration: one alert per record of `subject` where `condition` holds."""

    name: str
    label: str | None
    subject: str
    condition: Node
    severity: str


@dataclass(frozen=True, slots=True)
class Compiled:
    """Everything the evaluators need, resolved and typed."""

    currency: str
    rounding: tuple[str, Decimal]
    records: Mapping[str, Mapping[str, FieldType]]
    scores: Mapping[str, ScoreIR]
    lead_score: ScoreIR | None
    lead_routes: tuple[RouteIR, ...]
    deal_routes: tuple[RouteIR, ...]
    pipelines: Mapping[str, PipelineIR]
    stages: Mapping[str, StageIR]
    playbooks: tuple[PlaybookIR, ...]
    kpis: Mapping[str, KpiIR]
    roles: Mapping[str, tuple[str, ...]]
    alerts: tuple[AlertIR, ...]
    #: Decimals of `weighted_value` (2 for cents + the most decimals of a probability).
    weighted_scale: int
    #: Fields each record path reads, with their declared types.
    reads: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    #: Deal values computed from inputs before anything else (gross margin, days in stage...).
    derived: Mapping[str, Node] = field(default_factory=dict)


# ----------------------------------------------------------------------------- typing
_FIELD_KINDS = {
    "text": ("text", 0),
    "one_of": ("text", 0),
    "number": ("float", 0),
    "percent": ("float", 0),
    "integer": ("fixed", 0),
    "duration": ("fixed", 0),
    "money": ("fixed", 2),
    "boolean": ("bool", 0),
    "date": ("date", 0),
}
_AGGREGATES = ("count", "sum", "mean", "median")
_DERIVED_LATE = ("exit_ready", "stale")


def places(value: Decimal) -> int:
    """Decimals needed to write `value` exactly (0 for whole numbers, even `1.5M`)."""
    if value == value.to_integral_value():
        return 0
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def exact(value: Decimal) -> int | Decimal:
    """A whole Decimal as int (faster and prints as written); others unchanged."""
    return int(value) if value == value.to_integral_value() else value


@dataclass
class Scope:
    """What names mean while typing one expression."""

    subject: str
    fields: Mapping[str, FieldType]
    extras: dict[str, FieldRef] = field(default_factory=dict)
    stages: Mapping[str, StageIR] = field(default_factory=dict)
    weighted_scale: int = 2
    aggregates: bool = False
    reads: set[str] = field(default_factory=set)


def _field(scope: Scope, name: str) -> FieldRef | None:
    if name in scope.extras:
        return scope.extras[name]
    kind_of = scope.fields.get(name)
    if kind_of is None:
        return None
    if name == "weighted_value":
        kind, scale = "fixed", scope.weighted_scale
    else:
        kind, scale = _FIELD_KINDS.get(kind_of.kind, ("text", 0))
    scope.reads.add(name)
    return FieldRef(name, kind, scale)


def _literal(expr: n.Expr) -> Const | None:
    if isinstance(expr, n.Number | n.Percent):
        return Const(exact(expr.value), "fixed", places(expr.value))
    if isinstance(expr, n.Duration):
        return Const(expr.days, "fixed", 0)
    if isinstance(expr, n.Date):
        return Const(expr.value, "date")
    if isinstance(expr, n.String):
        return Const(expr.value, "text")
    if isinstance(expr, n.Bool):
        return Const(expr.value, "bool")
    return None


def _as_float(node: Node) -> Node:
    if node.kind == "float":
        return node
    if isinstance(node, Const):
        return Const(float(node.value), "float")
    return ToFloat(node)


def _unify(left: Node, right: Node, span: Span, what: str) -> tuple[Node, Node, str, int]:
    """Bring two operands to one kind for a comparison."""
    kinds = {left.kind, right.kind}
    if kinds <= {"fixed", "float"}:
        if "float" in kinds:
            return _as_float(left), _as_float(right), "float", 0
        return left, right, "fixed", max(left.scale, right.scale)
    if left.kind != right.kind:
        raise CompileError(f"cannot {what} {left.kind} with {right.kind}", span)
    return left, right, left.kind, 0


def type_expr(expr: n.Expr, scope: Scope) -> Node:
    """The typed IR of an expression in a scope; raises CompileError on what cannot run."""
    literal = _literal(expr)
    if literal is not None:
        return literal
    if isinstance(expr, n.Ref):
        if len(expr.parts) == 1:
            found = _field(scope, expr.parts[0])
            # A bare name that is not a field is a value: `won`, `industrie`.
            return found if found is not None else Const(expr.parts[0], "text")
        raise CompileError(f"`{expr.dotted}` cannot be read on a {scope.subject}", expr.span)
    if isinstance(expr, n.Unary):
        operand = type_expr(expr.operand, scope)
        if expr.op == "not":
            return Not(_condition(operand, expr.span))
        if operand.kind not in ("fixed", "float"):
            raise CompileError(f"cannot negate a {operand.kind}", expr.span)
        if isinstance(operand, Const):
            return Const(-operand.value, operand.kind, operand.scale)
        return Neg(operand, operand.kind, operand.scale)
    if isinstance(expr, n.Binary):
        return _binary(expr, scope)
    if isinstance(expr, n.Membership):
        return _membership(expr, scope)
    if isinstance(expr, n.IsMissing):
        return IsMissing(type_expr(expr.value, scope), expr.negated)
    if isinstance(expr, n.Call):
        return _call(expr, scope)
    raise CompileError("a list is only allowed after `in`", expr.span)


def _condition(node: Node, span: Span) -> Node:
    if node.kind != "bool":
        raise CompileError(f"expected a condition, found a {node.kind} value", span)
    return node


def _binary(expr: n.Binary, scope: Scope) -> Node:
    left = type_expr(expr.left, scope)
    right = type_expr(expr.right, scope)
    op = expr.op
    if op in ("and", "or"):
        return Logic(op, _condition(left, expr.span), _condition(right, expr.span))
    if op in ("==", "!=", "<", "<=", ">", ">="):
        a, b, domain, scale = _unify(left, right, expr.span, "compare")
        return Compare(op, a, b, domain, scale=scale)
    return _arith(op, left, right, expr.span)


def _arith(op: str, left: Node, right: Node, span: Span) -> Node:
    kinds = (left.kind, right.kind)
    if kinds == ("date", "date") and op == "-":
        return Arith("days", left, right, "fixed", 0)
    if left.kind == "date" and right.kind == "fixed" and right.scale == 0 and op in "+-":
        return Arith(op, left, right, "date")
    if not set(kinds) <= {"fixed", "float"}:
        raise CompileError(f"cannot compute {left.kind} {op} {right.kind}", span)
    if op == "/" or "float" in kinds:
        return Arith(op, _as_float(left), _as_float(right), "float")
    if op == "*":
        scale = left.scale + right.scale
        if scale > MAX_SCALE:
            return Arith(op, _as_float(left), _as_float(right), "float")
        return Arith(op, left, right, "fixed", scale)
    return Arith(op, left, right, "fixed", max(left.scale, right.scale))


def _membership(expr: n.Membership, scope: Scope) -> Node:
    value = type_expr(expr.value, scope)
    collection = expr.collection
    if isinstance(collection, n.RangeExpr):
        low = _literal(collection.low)
        high = _literal(collection.high)
        assert low is not None and high is not None  # the grammar only allows numbers
        v, lo, _, _ = _unify(value, low, expr.span, "compare")
        _, hi, _, _ = _unify(value, high, expr.span, "compare")
        assert isinstance(lo, Const) and isinstance(hi, Const)
        return Between(v, lo, hi, expr.negated)
    items: list[Const] = []
    for item in collection.items:
        typed = type_expr(item, scope)
        if not isinstance(typed, Const):
            raise CompileError("the items of a list must be values", collection.span)
        items.append(typed)
    kinds = {value.kind, *(i.kind for i in items)}
    if kinds <= {"fixed", "float"} and "float" in kinds:
        value = _as_float(value)
        items = [Const(float(i.value), "float") for i in items]
    elif any(i.kind != value.kind for i in items) and not kinds <= {"fixed"}:
        raise CompileError(f"a list of {value.kind} values is expected here", collection.span)
    return Member(value, tuple(items), expr.negated)


def _call(expr: n.Call, scope: Scope) -> Node:
    name = expr.function
    if name in ("reached", "entered_at"):
        target = expr.args[0] if len(expr.args) == 1 else None
        if not (isinstance(target, n.Ref) and len(target.parts) == 1):
            raise CompileError(f"`{name}` takes one stage", expr.span, "E303")
        stage = scope.stages.get(target.parts[0])
        if stage is None:
            raise CompileError(f"unknown stage `{target.dotted}`", target.span, "E202")
        scope.reads.add("stage")
        if name == "reached":
            return Reached(stage.pipeline, stage.index)
        scope.reads.add("stage_entered_at")
        return EnteredAt(stage.name)
    if name in ("min", "max", "abs"):
        return _function(expr, scope)
    if name == "attainment":
        target = expr.args[0] if len(expr.args) == 1 else None
        if not (isinstance(target, n.Ref) and len(target.parts) == 1):
            raise CompileError("`attainment` takes one measure", expr.span, "E303")
        return Attainment(target.parts[0])
    if name not in _AGGREGATES:
        raise CompileError(f"unknown function `{name}`", expr.span, "E211")
    if not scope.aggregates:
        raise CompileError(f"`{name}` is only allowed in a KPI", expr.span)
    if len(expr.args) > 1:
        raise CompileError(f"`{name}` takes one argument", expr.span, "E303")
    # Inside an aggregate the expressions are per record.
    inner = Scope(
        scope.subject, scope.fields, scope.extras, scope.stages, scope.weighted_scale,
        aggregates=False, reads=scope.reads,
    )  # fmt: skip
    where = _condition(type_expr(expr.where, inner), expr.span) if expr.where else None
    arg = type_expr(expr.args[0], inner) if expr.args else None
    if name == "count":
        if arg is not None:
            # count(condition) counts the records where it holds.
            arg = _condition(arg, expr.span)
            where = Logic("and", where, arg) if where is not None else arg
        return AggregateIR("count", None, where, "fixed", 0)
    if arg is None or arg.kind not in ("fixed", "float"):
        raise CompileError(f"`{name}` needs a number", expr.span, "E303")
    if name == "sum":
        return AggregateIR(name, arg, where, arg.kind, arg.scale)
    return AggregateIR(name, arg, where, "float")


def _function(expr: n.Call, scope: Scope) -> Node:
    args = tuple(type_expr(a, scope) for a in expr.args)
    if expr.function == "abs":
        if len(args) != 1 or args[0].kind not in ("fixed", "float"):
            raise CompileError("`abs` takes one number", expr.span, "E303")
        return Func("abs", args, args[0].kind, args[0].scale)
    if len(args) != 2:
        raise CompileError(f"`{expr.function}` takes two values", expr.span, "E303")
    a, b, kind, scale = _unify(args[0], args[1], expr.span, "compare")
    if kind not in ("fixed", "float", "date"):
        raise CompileError(f"`{expr.function}` needs numbers or dates", expr.span, "E301")
    return Func(expr.function, (a, b), kind, scale)


def _typed_condition(expr: n.Expr, scope: Scope) -> Node:
    return _condition(type_expr(expr, scope), getattr(expr, "span", NO_SPAN))


# ----------------------------------------------------------------------------- declarations
def fields_of(model: Model, record: str) -> Mapping[str, FieldType]:
    """The effective fields of a record (canonical columns, declared and derived)."""
    return model.records.get(record, {})


def _points(number: n.Number) -> int | Decimal:
    return exact(number.value)


def _score(score: n.Score, scope: Scope) -> ScoreIR:
    criteria: list[CriterionIR] = []
    scales = [0]
    floats = False
    for criterion in score.criteria:
        label = criterion.label
        if isinstance(criterion, n.FieldCriterion):
            ref = _field(scope, criterion.field.name)
            if ref is None or ref.kind not in ("fixed", "float"):
                raise CompileError(
                    f"`{criterion.field.name}` is not a number field", criterion.field.span
                )
            floats |= ref.kind == "float"
            scales.append(ref.scale)
            criteria.append(CriterionIR(criterion.name.name, label, field=ref))
            continue
        target = (criterion.of or criterion.name).name
        cases: list[CaseIR] = []
        only_values = True
        for case in criterion.cases:
            scales.append(places(case.points.value))
            points = _points(case.points)
            if isinstance(case, n.ValueCase):
                ref = _field(scope, target)
                if ref is None or ref.kind != "text":
                    raise CompileError(
                        f"`{target}` is not a text or one_of field; use `when` cases",
                        case.span,
                    )
                option = Const(case.value.name, "text")
                condition: Node = Compare("==", ref, option, "text")
                cases.append(CaseIR(condition, points, case.value.name))
            elif isinstance(case, n.WhenCase):
                only_values = False
                cases.append(CaseIR(_typed_condition(case.condition, scope), points))
            else:
                cases.append(CaseIR(None, points))
        table = target if only_values and any(c.value for c in cases) else None
        criteria.append(CriterionIR(criterion.name.name, label, tuple(cases), table_field=table))
    kind, scale = ("float", 0) if floats else ("fixed", max(scales))
    if floats:
        # A score taking points from a float field adds floats: its literal points are floats.
        criteria = [
            CriterionIR(
                c.name,
                c.label,
                tuple(CaseIR(case.condition, float(case.points), case.value) for case in c.cases),
                c.field,
                c.table_field,
            )
            for c in criteria
        ]
    status_scope = Scope(
        scope.subject, scope.fields, {**scope.extras, "score": FieldRef("score", kind, scale)},
        scope.stages, scope.weighted_scale, reads=scope.reads,
    )  # fmt: skip
    statuses = tuple(
        StatusIR(
            rule.name.name,
            rule.label,
            _typed_condition(rule.condition, status_scope) if rule.condition else None,
            rule.knockout,
        )
        for rule in score.statuses
    )
    return ScoreIR(
        score.name.name, score.label, score.subject.name, tuple(criteria), statuses, kind, scale
    )


def _stages(model: Model) -> tuple[dict[str, PipelineIR], dict[str, StageIR], int]:
    """Stages without their exit criteria (typed later, once `reached` can see all stages)."""
    pipelines: dict[str, PipelineIR] = {}
    stages: dict[str, StageIR] = {}
    probability_places = 0
    for pipeline in model.pipelines.values():
        found: list[StageIR] = []
        for index, stage in enumerate(pipeline.stages):
            probability: Decimal | None = None
            max_days: int | None = None
            for item in stage.items:
                if isinstance(item, n.Probability):
                    probability = item.value.value
                    probability_places = max(probability_places, places(probability))
                elif isinstance(item, n.MaxDays):
                    days = item.days
                    max_days = days.days if isinstance(days, n.Duration) else int(days.value)
            ir = StageIR(
                stage.name.name, stage.label, pipeline.name.name, index, probability, max_days, ()
            )
            found.append(ir)
            stages.setdefault(ir.name, ir)
        expectations = tuple(
            ExpectIR(i.source.name, i.target.name, i.op, i.value.value)
            for i in pipeline.items
            if isinstance(i, n.ExpectConversion)
        )
        pipelines[pipeline.name.name] = PipelineIR(
            pipeline.name.name, pipeline.label, tuple(found), expectations
        )
    return pipelines, stages, 2 + probability_places


def _with_exits(
    model: Model, pipelines: dict[str, PipelineIR], stages: dict[str, StageIR], scope: Scope
) -> None:
    late = {name for name in _DERIVED_LATE}
    for pipeline in model.pipelines.values():
        typed: list[StageIR] = []
        for stage, ir in zip(pipeline.stages, pipelines[pipeline.name.name].stages, strict=True):
            exits: list[ExitIR] = []
            for item in stage.exits:
                before = set(scope.reads)
                condition = _typed_condition(item.condition, scope)
                used_late = (scope.reads - before) & late
                if used_late:
                    raise CompileError(
                        f"an exit criterion cannot use `{sorted(used_late)[0]}`, which is "
                        "computed from the exit criteria",
                        item.condition.span if hasattr(item.condition, "span") else item.span,
                    )
                exits.append(ExitIR(item.name.name, item.label, condition))
            full = StageIR(
                ir.name, ir.label, ir.pipeline, ir.index, ir.probability, ir.max_days,
                tuple(exits),
            )  # fmt: skip
            typed.append(full)
            if stages.get(ir.name) is ir:
                stages[ir.name] = full
        old = pipelines[pipeline.name.name]
        pipelines[old.name] = PipelineIR(old.name, old.label, tuple(typed), old.expectations)


def _playbook(playbook: n.Playbook, scope: Scope, stages: Mapping[str, StageIR]) -> PlaybookIR:
    condition = _typed_condition(playbook.condition, scope) if playbook.condition else None
    requirements: list[RequirementIR] = []
    win_rate: tuple[Decimal, Decimal] | None = None
    for item in playbook.items:
        if isinstance(item, n.ExpectWinRate):
            win_rate = (item.low.value, item.high.value)
            continue
        before = stages.get(item.before.name) if item.before else None
        if item.before is not None and before is None:
            raise CompileError(f"unknown stage `{item.before.name}`", item.before.span, "E202")
        requirements.append(
            RequirementIR(
                item.name.name,
                item.label,
                item.kind,
                _typed_condition(item.condition, scope),
                before.name if before else None,
                before.pipeline if before else None,
                before.index if before else None,
            )
        )
    return PlaybookIR(playbook.name.name, playbook.label, condition, tuple(requirements), win_rate)


def _kpi(kpi: n.Kpi, scope: Scope) -> KpiIR:
    value = type_expr(kpi.value, scope)
    target: Const | None = None
    if kpi.target is not None:
        literal = _literal(kpi.target.value)
        assert literal is not None
        target = literal
    return KpiIR(
        kpi.name.name,
        kpi.label,
        kpi.subject.name,
        value,
        kpi.target.op if kpi.target else None,
        target,
    )


def _routes(
    qualify: n.Qualify | None, scope: Scope, scores: Mapping[str, ScoreIR]
) -> tuple[RouteIR, ...]:
    if qualify is None:
        return ()
    routes: list[RouteIR] = []
    for route in qualify.routes:
        if route.score.name not in scores:
            raise CompileError(f"unknown score `{route.score.name}`", route.score.span, "E203")
        condition = _typed_condition(route.condition, scope) if route.condition else None
        routes.append(RouteIR(route.score.name, condition))
    return tuple(routes)


def compile_model(model: Model) -> Compiled:
    """Type and resolve a checked model into the program both evaluators run."""
    pipelines, stages, weighted_scale = _stages(model)
    reads: dict[str, set[str]] = {"lead": set(), "deal": set()}

    def scope(subject: str, *, aggregates: bool = False) -> Scope:
        return Scope(
            subject,
            fields_of(model, subject),
            stages=stages,
            weighted_scale=weighted_scale,
            aggregates=aggregates,
            reads=reads.setdefault(subject, set()),
        )

    _with_exits(model, pipelines, stages, scope("deal"))
    scores = {
        name: _score(score, scope(score.subject.name)) for name, score in model.scores.items()
    }
    lead_routes = _routes(model.qualifications.get("lead"), scope("lead"), scores)
    deal_routes = _routes(model.qualifications.get("deal"), scope("deal"), scores)
    lead_score = next((s for s in scores.values() if s.subject == "lead"), None)
    playbooks = tuple(
        _playbook(p, scope("deal"), stages)
        for p in model.playbooks.values()
        if p.subject.name == "deal"
    )
    kpis = {
        name: _kpi(kpi, scope(kpi.subject.name, aggregates=True))
        for name, kpi in model.kpis.items()
    }
    roles = {
        name: tuple(
            ident.name
            for item in role.items
            if isinstance(item, n.RoleKpis)
            for ident in item.names
        )
        for name, role in model.roles.items()
    }
    alerts = tuple(
        AlertIR(
            alert.name.name,
            alert.label,
            alert.subject.name,
            _typed_condition(alert.condition, scope(alert.subject.name)),
            alert.severity.name if alert.severity else "warning",
        )
        for alert in model.alerts.values()
    )
    derived = derived_nodes(reads["deal"])
    reads["deal"] |= {"id", "stage", "status", "amount", "stage_entered_at"}
    if {"gross_margin", "margin_rate"} & reads["deal"]:
        reads["deal"].add("cost")
    reads["lead"] |= {"id"}
    read_types = {
        record: {
            name: fields_of(model, record)[name]
            for name in sorted(names)
            if name in fields_of(model, record)
        }
        for record, names in reads.items()
    }
    return Compiled(
        currency=model.currency,
        rounding=model.rounding,
        records=model.records,
        scores=scores,
        lead_score=lead_score,
        lead_routes=lead_routes,
        deal_routes=deal_routes,
        pipelines=pipelines,
        stages=stages,
        playbooks=playbooks,
        kpis=kpis,
        roles=roles,
        alerts=alerts,
        weighted_scale=weighted_scale,
        reads=read_types,
        derived=derived,
    )


def derived_nodes(reads: set[str]) -> dict[str, Node]:
    """How the derived deal values are computed, in dependency order (only those needed)."""
    amount = FieldRef("amount", "fixed", 2)
    margin = Arith("-", amount, FieldRef("cost", "fixed", 2), "fixed", 2)
    formulas: dict[str, Node] = {
        "gross_margin": margin,
        "margin_rate": Arith("/", ToFloat(margin), ToFloat(amount), "float"),
        "days_in_stage": Arith(
            "days", FieldRef(AS_OF, "date"), FieldRef("stage_entered_at", "date"), "fixed"
        ),
    }
    return {
        name: node for name, node in formulas.items() if name in reads or name == "days_in_stage"
    }


def today() -> dt.date:
    """The default as-of date."""
    return dt.date.today()
