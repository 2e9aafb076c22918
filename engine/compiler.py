"""Checked ruleset -> the IR both evaluators run (`Compiled`): lowering only.

The checker has resolved every name and typed every expression (`dsl.typed`); the compiler
lowers those typed trees and decides nothing about meaning, only how each value is represented,
so that the per-record path (`engine.record`, the reference) and the table path
(`engine.vector`) cannot disagree. A ruleset that checks clean always compiles: a failure here
is a bug of the engine (`CompileError`), never a problem of the ruleset. The semantics, shared
by both paths:

Values
  * `integer` fields, `money` fields and number / percent literals are exact ("fixed"): Python
    int or Decimal on the record path, int64 scaled by 10**scale on the table path (money is
    integer cents). `number` and `percent` fields are binary floats in both paths; a comparison
    or arithmetic that mixes a float with an exact value converts the exact side to float, the
    same correctly rounded way in both paths.
  * `+` and `-` of exact values stay exact; `*` of exact values stays exact while the result
    has at most `MAX_SCALE` decimals; `/` always gives a float. Dividing by zero is missing.
  * `+`, `-` and `*` with a number or percent field (`credit amount * share`, `250K EUR *
    territory.potential`), or an exact product past `MAX_SCALE`, are exact decimals
    ("decimal"): each float operand is read back as the decimal it was parsed from (data
    cells are parsed to the float nearest their decimal, whose shortest repr is that decimal),
    and the arithmetic is `Decimal` in `engine.money.EXACT` on both paths (object arrays of
    Decimals on the table path). No binary float is ever rounded to money: 1.50 x 15% is
    0.225, paid 0.23 half-up. Comparisons, `min`/`max` and aggregates of such a value use its
    float, as they do for number fields. Arithmetic with a quotient or a mean (a float no one
    wrote) stays a float.
  * Dates compare as dates; `date - date` is a whole number of days; `date + 14d` and
    `14d + date` are dates; a duration that is not a whole number of days (`30d / 4`) moves a
    date by its whole days (rounded down).
  * A bare name compared with a `one_of` field is one of its options; a quoted label stands for
    the option it labels (the checker resolved both).
  * `x in [a, b]` with items that are not constants is `x == a or x == b`.

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
    match leaves the deal without framework (and without qualification score or status). A
    record with a single score and no `qualify` is scored by it (a route `use s otherwise`).

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
  * A playbook applies when its `when` condition is known true. A deal gets the one playbook
    that applies; the playbook without `when` (at most one) when none does. When several apply,
    the deal gets none and `playbook_conflict` names them: declaration and file order never
    decide which one applies.
  * A `require` with `before X` is due once the deal is at stage X or later; without `before`
    it is always due. `playbook_missing` lists the due requirements that are not met (false or
    unknown). `recommend` items are never missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dsl import nodes as n
from dsl import typed as t
from dsl.canonical import STRATEGY_CHANNEL_FIELD
from dsl.formatter import format_expr
from dsl.model import Model
from dsl.typed import TypedModel
from dsl.types import FieldType
from engine.ir import (
    AS_OF,
    AggregateIR,
    AlertIR,
    Arith,
    Attainment,
    Between,
    CaseIR,
    Compare,
    Compiled,
    Const,
    CriterionIR,
    EnteredAt,
    ExitIR,
    ExpectIR,
    FieldRef,
    Func,
    IsMissing,
    KpiIR,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    PipelineIR,
    PlaybookIR,
    Reached,
    RequirementIR,
    RouteIR,
    ScoreIR,
    StageIR,
    StatusIR,
    StrategyIR,
    StrategyLineIR,
    ToFloat,
    children,
    field_refs,
    walk,
)

__all__ = [
    "MAX_SCALE",
    "CompileError",
    "Lowering",
    "compile_model",
    "derived_nodes",
    "exact",
    "places",
    "representation",
    "today",
]

#: The most decimals an exact product keeps before it becomes a float (int64 headroom).
MAX_SCALE = 6


class CompileError(Exception):
    """A checked ruleset the compiler cannot lower: a bug of the engine, never of the ruleset
    (the checker accepts nothing the compiler cannot run)."""


def places(value: Decimal) -> int:
    """Decimals needed to write `value` exactly (0 for whole numbers, even `1.5M`)."""
    if value == value.to_integral_value():
        return 0
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def exact(value: Decimal) -> int | Decimal:
    """A whole Decimal as int (faster and prints as written); others unchanged."""
    return int(value) if value == value.to_integral_value() else value


#: How each language type is held: (kind, scale).
_REPRESENTATION = {
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


def representation(field_type: FieldType) -> tuple[str, int]:
    """The (kind, scale) a field of this type is held in by both evaluators."""
    found = _REPRESENTATION.get(field_type.kind)
    if found is None:
        raise CompileError(f"no representation for a {field_type.kind} field")
    return found


# ----------------------------------------------------------------------------- expressions
def _literal(node: t.Literal) -> Const:
    value = node.value
    if isinstance(value, bool):
        return Const(value, "bool")
    if isinstance(value, Decimal):
        return Const(exact(value), "fixed", places(value))
    if isinstance(value, int):
        return Const(value, "fixed", 0)  # whole days
    if isinstance(value, dt.date):
        return Const(value, "date")
    return Const(value, "text")


def _as_float(node: Node) -> Node:
    if node.kind == "float":
        return node
    if isinstance(node, Const):
        return Const(float(node.value), "float")
    return ToFloat(node)


def _unify(left: Node, right: Node) -> tuple[Node, Node, str, int]:
    """Two comparable operands in one representation: exact with exact (the larger scale),
    float when either is a float."""
    kinds = {left.kind, right.kind}
    if kinds <= {"fixed", "float", "decimal"}:
        if kinds & {"float", "decimal"}:
            return _as_float(left), _as_float(right), "float", 0
        return left, right, "fixed", max(left.scale, right.scale)
    if left.kind != right.kind:
        raise CompileError(f"cannot hold {left.kind} and {right.kind} in one representation")
    return left, right, left.kind, 0


def _read(node: Node) -> bool:
    """Whether a value is exact or a float read from data (a number or percent field): the
    decimal it was written as is known, so arithmetic on it can be exact."""
    if node.kind in ("fixed", "decimal"):
        return True
    if isinstance(node, Neg | Func) and node.kind == "float":
        return all(_read(arg) for arg in children(node))
    return isinstance(node, FieldRef)


def _arith(op: str, left: Node, right: Node, node: t.Arithmetic) -> Node:
    a, b = node.left.type.kind, node.right.type.kind
    if a == b == "date":
        return Arith("days", left, right, "fixed", 0)
    if b == "date":  # 14d + created_at: addition commutes
        left, right = right, left
    if "date" in (a, b):
        return Arith(op, left, right, "date")
    if op == "/":
        return Arith(op, _as_float(left), _as_float(right), "float")
    if {left.kind, right.kind} & {"float", "decimal"}:
        if _read(left) and _read(right):
            return Arith(op, left, right, "decimal")
        # A quotient (or mean) is no decimal anyone wrote: it stays a float.
        return Arith(op, _as_float(left), _as_float(right), "float")
    if op == "*":
        scale = left.scale + right.scale
        if scale > MAX_SCALE:
            return Arith(op, left, right, "decimal")
        return Arith(op, left, right, "fixed", scale)
    return Arith(op, left, right, "fixed", max(left.scale, right.scale))


def _in_list(value: Node, items: list[Node], negated: bool) -> Node:
    if not all(isinstance(i, Const) for i in items):
        # Items that are not constants: `x in [a, b]` is `x == a or x == b`.
        test: Node | None = None
        for item in items:
            a, b, domain, scale = _unify(value, item)
            equal = Compare("==", a, b, domain, scale=scale)
            test = equal if test is None else Logic("or", test, equal)
        assert test is not None
        return Not(test) if negated else test
    constants = [i for i in items if isinstance(i, Const)]
    kinds = {value.kind, *(i.kind for i in constants)}
    if kinds <= {"fixed", "float", "decimal"} and kinds & {"float", "decimal"}:
        value = _as_float(value)
        constants = [Const(float(i.value), "float") for i in constants]
    return Member(value, tuple(constants), negated)


@dataclass(slots=True)
class Lowering:
    """Lowers the typed expressions on one record: what `score`, stages and derived values are
    in this representation."""

    stages: Mapping[str, StageIR]
    weighted_scale: int
    provided: Mapping[str, FieldRef] = field(default_factory=dict)

    def field(self, name: str, field_type: FieldType, link: str | None = None) -> FieldRef:
        """The reference to a field (or a linked record's field) of this type."""
        key = name if link is None else f"{link}.{name}"
        if name == "weighted_value" and link is None:
            return FieldRef(key, "fixed", self.weighted_scale)
        kind, scale = representation(field_type)
        return FieldRef(key, kind, scale)

    def condition(self, node: t.TExpr) -> Node:
        """A lowered condition."""
        lowered = self.lower(node)
        if lowered.kind != "bool":
            raise CompileError(f"a condition lowered to a {lowered.kind} value")
        return lowered

    def lower(self, root: t.TExpr) -> Node:
        """The IR of a typed expression, without recursion (expressions can be long chains)."""
        done: dict[int, Node] = {}
        stack: list[tuple[t.TExpr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(t.children(node)))
                continue
            done[id(node)] = self._one(node, [done[id(c)] for c in t.children(node)])
        return done[id(root)]

    def _one(self, node: t.TExpr, parts: list[Node]) -> Node:
        if node.type.kind in ("any", "list"):
            raise CompileError(f"an expression typed {node.type.kind} reached the compiler")
        if isinstance(node, t.Literal):
            return _literal(node)
        if isinstance(node, t.Field):
            return self.field(node.name, node.type, node.link)
        if isinstance(node, t.Provided):
            return self.provided[node.name]
        if isinstance(node, t.Negate):
            (operand,) = parts
            if isinstance(operand, Const):
                return Const(-operand.value, operand.kind, operand.scale)
            return Neg(operand, operand.kind, operand.scale)
        if isinstance(node, t.Arithmetic):
            return _arith(node.op, parts[0], parts[1], node)
        if isinstance(node, t.Compare):
            a, b, domain, scale = _unify(parts[0], parts[1])
            return Compare(node.op, a, b, domain, scale=scale)
        if isinstance(node, t.Logic):
            return Logic(node.op, parts[0], parts[1])
        if isinstance(node, t.Not):
            return Not(parts[0])
        if isinstance(node, t.IsMissing):
            return IsMissing(parts[0], node.negated)
        if isinstance(node, t.InList):
            return _in_list(parts[0], parts[1:], node.negated)
        if isinstance(node, t.InRange):
            value, low, _, _ = _unify(parts[0], parts[1])
            _, high, _, _ = _unify(parts[0], parts[2])
            assert isinstance(low, Const) and isinstance(high, Const)
            return Between(value, low, high, node.negated)
        if isinstance(node, t.Function):
            if node.name == "abs":
                (operand,) = parts
                return Func("abs", (operand,), operand.kind, operand.scale)
            a, b, kind, scale = _unify(parts[0], parts[1])
            return Func(node.name, (a, b), kind, scale)
        if isinstance(node, t.Aggregate):
            return self._aggregate(node, parts)
        if isinstance(node, t.Reached):
            stage = self.stages[node.stage]
            return Reached(stage.pipeline, stage.index)
        if isinstance(node, t.EnteredAt):
            return EnteredAt(node.stage)
        if isinstance(node, t.Attainment):
            return Attainment(node.measure)
        raise CompileError(f"no lowering for {type(node).__name__}")

    @staticmethod
    def _aggregate(node: t.Aggregate, parts: list[Node]) -> Node:
        arg = parts[0] if node.arg is not None else None
        where = parts[-1] if node.where is not None else None
        if node.name == "count":
            return AggregateIR("count", None, where, "fixed", 0)
        assert arg is not None
        if arg.kind == "decimal":  # aggregates of exact decimals add their floats
            arg = _as_float(arg)
        if node.name == "sum":
            return AggregateIR("sum", arg, where, arg.kind, arg.scale)
        return AggregateIR(node.name, arg, where, "float")


# ----------------------------------------------------------------------------- declarations
def _stages(model: Model) -> tuple[dict[str, PipelineIR], dict[str, StageIR], int]:
    """Pipelines and stages without their exit criteria (lowered once every stage is known)."""
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
            stages[ir.name] = ir
        expectations = tuple(
            ExpectIR(i.source.name, i.target.name, i.op, i.value.value)
            for i in pipeline.items
            if isinstance(i, n.ExpectConversion)
        )
        pipelines[pipeline.name.name] = PipelineIR(
            pipeline.name.name, pipeline.label, tuple(found), expectations
        )
    return pipelines, stages, 2 + probability_places


class _Compiler:
    """Lowers one checked model; `lowering(record)` gives each record's lowering."""

    def __init__(self, model: Model, typed: TypedModel) -> None:
        self.model = model
        self.typed = typed
        self.pipelines, self.stages, self.weighted_scale = _stages(model)
        #: The results computed on each lead and deal, as the fields expressions read.
        self.computed: dict[str, FieldRef] = {}
        #: Their names per record.
        self.computed_on: dict[str, set[str]] = {"lead": set(), "deal": set()}

    def lowering(self, provided: Mapping[str, FieldRef] | None = None) -> Lowering:
        return Lowering(self.stages, self.weighted_scale, {**self.computed, **(provided or {})})

    def computed_refs(self, scores: Mapping[str, ScoreIR]) -> None:
        """How each computed result is held (`dsl.check.scope.computed_fields`): a score's
        total and its criteria's points in the score's representation; the qualifying score in
        one representation for all the record's scores; statuses, framework, playbook as text."""
        for record, total in (("lead", "score"), ("deal", "qualification_score")):
            mine = [s for s in scores.values() if s.subject == record]
            for score in mine:
                for name in ("score", *(c.name for c in score.criteria)):
                    key = f"{score.name}.{name}"
                    self.computed.setdefault(key, FieldRef(key, score.kind, score.scale))
                    self.computed_on[record].add(key)
            if not mine:
                continue
            floats = any(s.kind == "float" for s in mine)
            scale = 0 if floats else max(s.scale for s in mine)
            self.computed[total] = FieldRef(total, "float" if floats else "fixed", scale)
            texts = ("status",) if record == "lead" else ("framework", "qualification_status")
            self.computed.update({name: FieldRef(name, "text") for name in texts})
            self.computed_on[record] |= {total, *texts}
        if self.model.playbooks:
            self.computed["playbook"] = FieldRef("playbook", "text")
            self.computed_on["deal"].add("playbook")

    def condition(self, expr: n.Expr, lowering: Lowering) -> Node:
        return lowering.condition(self.typed.of(expr))

    def exits(self) -> None:
        lowering = self.lowering()
        for pipeline in self.model.pipelines.values():
            typed: list[StageIR] = []
            for stage in self.pipelines[pipeline.name.name].stages:
                syntax = next(s for s in pipeline.stages if s.name.name == stage.name)
                exits = tuple(
                    ExitIR(e.name.name, e.label, self.condition(e.condition, lowering))
                    for e in syntax.exits
                )
                full = StageIR(
                    stage.name, stage.label, stage.pipeline, stage.index, stage.probability,
                    stage.max_days, exits,
                )  # fmt: skip
                typed.append(full)
                self.stages[stage.name] = full
            old = self.pipelines[pipeline.name.name]
            self.pipelines[old.name] = PipelineIR(
                old.name, old.label, tuple(typed), old.expectations
            )

    def score(self, score: n.Score, with_statuses: bool = True) -> ScoreIR:
        """A score; without `with_statuses` its criteria only (their representation is needed to
        lower the statuses, which may read every score)."""
        subject = score.subject.name
        fields = self.model.records[subject]
        lowering = self.lowering()
        criteria: list[CriterionIR] = []
        scales = [0]
        floats = False
        for criterion in score.criteria:
            if isinstance(criterion, n.FieldCriterion):
                name = criterion.field.name
                ref = lowering.field(name, fields[name])
                floats |= ref.kind == "float"
                scales.append(ref.scale)
                criteria.append(CriterionIR(criterion.name.name, criterion.label, field=ref))
                continue
            target = (criterion.of or criterion.name).name
            cases: list[CaseIR] = []
            only_values = True
            for case in criterion.cases:
                scales.append(places(case.points.value))
                points = exact(case.points.value)
                if isinstance(case, n.ValueCase):
                    ref = lowering.field(target, fields[target])
                    option = Const(case.value.name, "text")
                    condition: Node = Compare("==", ref, option, "text")
                    cases.append(CaseIR(condition, points, case.value.name))
                elif isinstance(case, n.WhenCase):
                    only_values = False
                    cases.append(CaseIR(self.condition(case.condition, lowering), points))
                else:
                    cases.append(CaseIR(None, points))
            table = target if only_values and any(c.value for c in cases) else None
            criteria.append(
                CriterionIR(criterion.name.name, criterion.label, tuple(cases), table_field=table)
            )
        kind, scale = ("float", 0) if floats else ("fixed", max(scales))
        if floats:
            # A score taking points from a float field adds floats: its literal points are floats.
            criteria = [
                CriterionIR(
                    c.name,
                    c.label,
                    tuple(CaseIR(k.condition, float(k.points), k.value) for k in c.cases),
                    c.field,
                    c.table_field,
                )
                for c in criteria
            ]
        statuses = self.lowering({"score": FieldRef("score", kind, scale)})
        rules = tuple(
            StatusIR(
                rule.name.name,
                rule.label,
                None if rule.condition is None else self.condition(rule.condition, statuses),
                rule.knockout,
            )
            for rule in (score.statuses if with_statuses else ())
        )
        return ScoreIR(score.name.name, score.label, subject, tuple(criteria), rules, kind, scale)

    def routes(self, record: str) -> tuple[RouteIR, ...]:
        """Which score qualifies each record: the `qualify` routes, or the record's only score."""
        qualify = self.model.qualifications.get(record)
        if qualify is None:
            scores = [s for s in self.model.scores.values() if s.subject.name == record]
            return (RouteIR(scores[0].name.name, None),) if len(scores) == 1 else ()
        lowering = self.lowering()
        return tuple(
            RouteIR(
                route.score.name,
                None if route.condition is None else self.condition(route.condition, lowering),
            )
            for route in qualify.routes
        )

    def playbook(self, playbook: n.Playbook) -> PlaybookIR:
        lowering = self.lowering()
        condition = (
            None if playbook.condition is None else self.condition(playbook.condition, lowering)
        )
        requirements: list[RequirementIR] = []
        win_rate: tuple[Decimal, Decimal] | None = None
        for item in playbook.items:
            if isinstance(item, n.ExpectWinRate):
                win_rate = (item.low.value, item.high.value)
                continue
            before = self.stages[item.before.name] if item.before else None
            requirements.append(
                RequirementIR(
                    item.name.name,
                    item.label,
                    item.kind,
                    self.condition(item.condition, lowering),
                    before.name if before else None,
                    before.pipeline if before else None,
                    before.index if before else None,
                )
            )
        return PlaybookIR(
            playbook.name.name, playbook.label, condition, tuple(requirements), win_rate
        )

    def kpi(self, kpi: n.Kpi) -> KpiIR:
        typed = self.typed.of(kpi.value)
        target = None
        if kpi.target is not None:
            value = kpi.target.value
            number = value.value if isinstance(value, n.Number | n.Percent) else value.days
            target = _literal(t.Literal(number, FieldType("number")))
        return KpiIR(
            kpi.name.name,
            kpi.label,
            kpi.subject.name,
            self.lowering().lower(typed),
            kpi.target.op if kpi.target else None,
            target,
            typed.type,
        )

    def strategy(self, strategy: n.Strategy) -> StrategyIR:
        """The measured lines of a strategy, in the order written (the tolerance is the
        block's; 0 pts when none is declared)."""
        lowering = self.lowering()
        lines: list[StrategyLineIR] = []
        tolerance = Decimal(0)
        for item in strategy.items:
            if isinstance(item, n.StrategyTarget):
                lines.append(
                    StrategyLineIR(
                        "revenue", item.measure.name, None, item.target.value, item.baseline.value
                    )
                )
            elif isinstance(item, n.StrategyGrowth):
                condition = self.condition(item.condition, lowering)
                lines.append(StrategyLineIR("growth", item.name.name, condition, item.share.value))
            elif isinstance(item, n.StrategyFocus):
                condition = self.condition(item.condition, lowering)
                lines.append(StrategyLineIR("focus", format_expr(item.condition), condition, None))
            elif isinstance(item, n.StrategyChannel):
                field_type = self.model.records["deal"].get(STRATEGY_CHANNEL_FIELD)
                if field_type is None:
                    raise CompileError(f"no `{STRATEGY_CHANNEL_FIELD}` field on deals")
                ref = lowering.field(STRATEGY_CHANNEL_FIELD, field_type)
                option = Const(item.name.name, "text")
                lines.append(
                    StrategyLineIR(
                        "channel",
                        item.name.name,
                        Compare("==", ref, option, "text"),
                        item.share.value,
                    )
                )
            else:
                tolerance = item.points.value / 100
        return StrategyIR(strategy.label, tuple(lines), tolerance)


def compile_model(model: Model, typed: TypedModel) -> Compiled:
    """Lower a checked model and its typed expressions into the program both evaluators run."""
    compiler = _Compiler(model, typed)
    compiler.exits()
    # Criteria first (a status may read any score of its record), then the whole scores.
    criteria = {name: compiler.score(s, with_statuses=False) for name, s in model.scores.items()}
    compiler.computed_refs(criteria)
    scores = {name: compiler.score(score) for name, score in model.scores.items()}
    routes = {record: compiler.routes(record) for record in ("lead", "deal")}
    playbooks = tuple(compiler.playbook(p) for p in model.playbooks.values())
    kpis = {name: compiler.kpi(kpi) for name, kpi in model.kpis.items()}
    roles = {
        name: tuple(
            ident.name
            for item in role.items
            if isinstance(item, n.RoleKpis)
            for ident in item.names
        )
        for name, role in model.roles.items()
    }
    lowering = compiler.lowering()
    alerts = tuple(
        AlertIR(
            alert.name.name,
            alert.label,
            alert.subject.name,
            compiler.condition(alert.condition, lowering),
            alert.severity.name if alert.severity else "warning",
        )
        for alert in model.alerts.values()
    )
    strategies = tuple(compiler.strategy(s) for s in model.strategies)
    stages = compiler.stages
    # What each record path reads (to coerce), from the expressions that run on it.
    on: dict[str, list[Node | None]] = {"lead": [], "deal": []}
    on["deal"].extend(line.condition for s in strategies for line in s.lines)
    on["deal"].extend(e.condition for s in stages.values() for e in s.exits)
    for score in scores.values():
        on[score.subject].extend(c.condition for cr in score.criteria for c in cr.cases)
        on[score.subject].extend(cr.field for cr in score.criteria)
        on[score.subject].extend(s.condition for s in score.statuses)
    for record, found in routes.items():
        on[record].extend(r.condition for r in found)
    for playbook in playbooks:
        on["deal"].append(playbook.condition)
        on["deal"].extend(r.condition for r in playbook.requirements)
    for alert in alerts:
        on.setdefault(alert.subject, []).append(alert.condition)
    for kpi in kpis.values():
        on.setdefault(kpi.subject, []).append(kpi.value)
    on_record = compiler.computed_on
    computed = {record: on_record.get(record, set()) for record in on}
    reads = {record: _reads(nodes) - computed[record] for record, nodes in on.items()}
    read_computed = {
        record: {
            name: compiler.computed[name]
            for node in nodes
            for ref in field_refs(node)
            if (name := ref.name) in computed[record]
        }
        for record, nodes in on.items()
    }
    # The deal results credit rules read (pay evaluates them on the deals it credits; the
    # checker let through only those that do not change with the day).
    for expr in _credit_exprs(model):
        for ref in field_refs(lowering.lower(typed.of(expr))):
            if ref.name in on_record["deal"]:
                read_computed["deal"][ref.name] = compiler.computed[ref.name]
    texts = {
        record: {k: v for k, v in _compared_texts(nodes).items() if k not in computed[record]}
        for record, nodes in on.items()
    }
    # Fields of linked records (`territory.potential` on a rep), read through the link.
    links = {
        record: tuple(sorted(name for name in names if "." in name))
        for record, names in reads.items()
    }
    derived = derived_nodes(reads["deal"])
    reads["deal"] |= {"id", "stage", "status", "amount", "stage_entered_at"}
    if {"gross_margin", "margin_rate"} & reads["deal"]:
        reads["deal"].add("cost")
    reads["lead"] |= {"id"}
    read_types = {
        record: {name: _field_type(model, record, name) for name in sorted(names)}
        for record, names in reads.items()
    }
    return Compiled(
        currency=model.currency,
        rounding=model.rounding,
        records=model.records,
        scores=scores,
        routes=routes,
        pipelines=compiler.pipelines,
        stages=stages,
        playbooks=playbooks,
        kpis=kpis,
        roles=roles,
        alerts=alerts,
        weighted_scale=compiler.weighted_scale,
        reads=read_types,
        compared_texts=texts,
        derived=derived,
        links={record: found for record, found in links.items() if found},
        computed={record: found for record, found in read_computed.items() if found},
        strategies=strategies,
    )


def _credit_exprs(model: Model) -> list[n.Expr]:
    """Every expression of the plans' credit rules (measures and SPIFFs)."""
    credits = [
        item
        for plan in model.plans.values()
        for measure in plan.measures
        for item in measure.items
        if isinstance(item, n.Credit)
    ]
    credits += [spiff.credit for plan in model.plans.values() for spiff in plan.spiffs]
    return [e for c in credits for e in (c.value, c.where, c.dated) if e is not None]


def _field_type(model: Model, record: str, name: str) -> FieldType:
    link, _, field_name = name.rpartition(".")
    return model.records[link][field_name] if link else model.records[record][name]


def _reads(nodes: list[Node | None]) -> set[str]:
    found: set[str] = set()
    for root in nodes:
        if root is None:
            continue
        for node in walk(root):
            if isinstance(node, FieldRef) and node.name != "score":
                found.add(node.name)
            elif isinstance(node, Reached):
                found.add("stage")
            elif isinstance(node, EnteredAt):
                found |= {"stage", "stage_entered_at"}
    return found


def _compared_texts(nodes: list[Node | None]) -> dict[str, tuple[str, ...]]:
    """Per text field, the texts the expressions compare it with (`sector in ["industrie",
    "services"]`), in reading order: values a realistic sample must hold (the demo data)."""
    found: dict[str, dict[str, None]] = {}
    for root in nodes:
        for node in walk(root) if root is not None else ():
            pairs: list[tuple[Node, tuple[Node, ...]]] = []
            if isinstance(node, Compare) and node.op in ("==", "!="):
                pairs = [(node.left, (node.right,)), (node.right, (node.left,))]
            elif isinstance(node, Member):
                pairs = [(node.value, node.items)]
            for side, others in pairs:
                if isinstance(side, FieldRef) and side.kind == "text":
                    texts = [o.value for o in others if isinstance(o, Const)]
                    found.setdefault(side.name, {}).update(
                        dict.fromkeys(t for t in texts if isinstance(t, str))
                    )
    return {name: tuple(values) for name, values in found.items() if values}


def derived_nodes(reads: set[str]) -> dict[str, Node]:
    """How the derived deal values are computed, in dependency order (only those needed; days
    in stage always, for staleness)."""
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
