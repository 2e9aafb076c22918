"""The per-record evaluator: the reference semantics (see `engine.compiler`) as Python closures.

Every expression is compiled once into a closure `row -> value`, where `row` is a dict of the
record's coerced fields and a missing value is `None`; conditions return True, False or None
(unknown). Evaluating a record then only calls closures: no tree walking, no per-call setup.

Input values are coerced by `engine.cells.coercer` the way `engine.data.validate_table` types a
table (text stripped, an empty cell missing, `oui`/`non` booleans, `1 234,56` amounts...), so a
dict and a one-row table mean the same thing. Only the fields the ruleset reads are coerced and
checked; an invalid one raises `RecordError`.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dsl import canonical
from dsl.types import FieldType
from engine import cells
from engine.ir import (
    AS_OF,
    AggregateIR,
    Arith,
    Attainment,
    Between,
    Compare,
    Compiled,
    Const,
    CriterionIR,
    EnteredAt,
    FieldRef,
    Func,
    IsMissing,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    Reached,
    ScoreIR,
    StageIR,
    ToFloat,
)
from engine.money import EXACT, decimal_of
from engine.results import NO_TRACE, DealResult, FrozenDict, LeadResult, ScoreValue, Trace

__all__ = [
    "AS_OF",
    "DERIVED",
    "DealEvaluator",
    "Fn",
    "LeadEvaluator",
    "RecordError",
    "RowReader",
    "ScoreRunner",
    "assemble",
    "compile_node",
    "probability_units",
    "value_cases",
    "weighted",
    "weighted_units",
]

Row = dict[str, Any]
Fn = Callable[[Row], Any]

#: Values the engine computes; never read from input.
DERIVED = canonical.DERIVED_NAMES


class RecordError(ValueError):
    """A record whose fields cannot be read: `(column, value, message)` for each bad field."""

    def __init__(self, errors: list[tuple[str, object, str]]) -> None:
        super().__init__("; ".join(f"{column}: {message}" for column, _, message in errors))
        self.errors = tuple(errors)


class RowReader:
    """Reads a record's fields into a row: each field's coercer (`engine.cells`), then the
    required ones checked; a bad field raises `RecordError` with every bad field."""

    __slots__ = ("needed", "readers")

    def __init__(
        self,
        fields: Mapping[str, FieldType],
        required: frozenset[str],
        known: Mapping[str, tuple[str, ...]] | None = None,
        currency: str | None = None,
    ) -> None:
        known = known or {}
        #: (field, coercer) of every field read, in the order of the record's fields.
        self.readers: tuple[tuple[str, Callable[[object], Any]], ...] = tuple(
            (
                name,
                cells.known_text(name, known[name])
                if name in known
                else cells.coercer(kind, currency),
            )
            for name, kind in fields.items()
            if name not in DERIVED
        )
        #: The required fields among them.
        self.needed = tuple(name for name, _ in self.readers if name in required)

    def errors_of(self, record: Mapping[str, object]) -> list[tuple[str, object, str]]:
        """(field, value, message) of each field that cannot be read."""
        errors: list[tuple[str, object, str]] = []
        for name, coerce in self.readers:
            raw = record.get(name)
            try:
                value = coerce(raw)
            except (ValueError, ArithmeticError) as error:
                errors.append((name, raw, str(error)))
                continue
            if value is None and name in self.needed:
                errors.append((name, raw, "required value is missing"))
        return errors

    def __call__(self, record: Mapping[str, object]) -> Row:
        get, readers = record.get, self.readers
        try:
            row = {name: coerce(get(name)) for name, coerce in readers}
        except (ValueError, ArithmeticError):
            raise RecordError(self.errors_of(record)) from None
        for name in self.needed:
            if row[name] is None:
                raise RecordError(self.errors_of(record))
        return row


# ----------------------------------------------------------------------------- expressions
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_node(node: Node, stages: Mapping[str, StageIR] | None = None) -> Fn:
    """A closure computing `node` on a row (None when missing or unknown)."""
    stages = stages or {}
    if isinstance(node, FieldRef):
        name = node.name
        return lambda row: row[name]
    if isinstance(node, Const):
        value = node.value
        return lambda row: value
    if isinstance(node, ToFloat):
        inner = compile_node(node.operand, stages)

        def to_float(row: Row) -> float | None:
            v = inner(row)
            return None if v is None else float(v)

        return to_float
    if isinstance(node, Compare):
        return _compare(node, stages)
    if isinstance(node, Member):
        return _member(node, stages)
    if isinstance(node, Between):
        return _between(node, stages)
    if isinstance(node, Logic):
        return _logic(node, stages)
    if isinstance(node, Not):
        inner = compile_node(node.operand, stages)

        def negate(row: Row) -> bool | None:
            v = inner(row)
            return None if v is None else not v

        return negate
    if isinstance(node, IsMissing):
        inner = compile_node(node.operand, stages)
        negated = node.negated
        return lambda row: (inner(row) is None) is not negated
    if isinstance(node, Arith):
        return _arith(node, stages)
    if isinstance(node, Neg):
        inner = compile_node(node.operand, stages)

        def minus(row: Row) -> Any:
            v = inner(row)
            return None if v is None else -v

        return minus
    if isinstance(node, Reached):
        return _reached(node, stages)
    if isinstance(node, EnteredAt):
        stage = node.stage

        def entered_at(row: Row) -> dt.date | None:
            return row["stage_entered_at"] if row["stage"] == stage else None

        return entered_at
    if isinstance(node, Func):
        return _function(node, stages)
    if isinstance(node, Attainment):
        key = node.key
        return lambda row: row.get(key)
    assert isinstance(node, AggregateIR)
    raise ValueError("an aggregate is evaluated on tables, not on one record")


def _compare(node: Compare, stages: Mapping[str, StageIR]) -> Fn:
    op = _COMPARE[node.op]
    left, right = node.left, node.right
    # The common shapes get one closure instead of three.
    if isinstance(left, FieldRef) and isinstance(right, Const):
        name, c = left.name, right.value

        def field_const(row: Row) -> bool | None:
            v = row[name]
            return None if v is None else op(v, c)

        return field_const
    if (
        isinstance(left, ToFloat)
        and isinstance(left.operand, FieldRef)
        and isinstance(right, Const)
    ):
        name, c = left.operand.name, right.value

        def float_field_const(row: Row) -> bool | None:
            v = row[name]
            return None if v is None else op(float(v), c)

        return float_field_const
    a, b = compile_node(left, stages), compile_node(right, stages)

    def general(row: Row) -> bool | None:
        x = a(row)
        if x is None:
            return None
        y = b(row)
        return None if y is None else op(x, y)

    return general


def _member(node: Member, stages: Mapping[str, StageIR]) -> Fn:
    items = frozenset(i.value for i in node.items)
    negated = node.negated
    if isinstance(node.value, FieldRef):
        name = node.value.name

        def field_in(row: Row) -> bool | None:
            v = row[name]
            return None if v is None else (v in items) is not negated

        return field_in
    inner = compile_node(node.value, stages)

    def value_in(row: Row) -> bool | None:
        v = inner(row)
        return None if v is None else (v in items) is not negated

    return value_in


def _between(node: Between, stages: Mapping[str, StageIR]) -> Fn:
    low, high, negated = node.low.value, node.high.value, node.negated
    inner = compile_node(node.value, stages)
    if isinstance(node.value, FieldRef):
        name = node.value.name

        def field_between(row: Row) -> bool | None:
            v = row[name]
            return None if v is None else (low <= v <= high) is not negated

        return field_between

    def between(row: Row) -> bool | None:
        v = inner(row)
        return None if v is None else (low <= v <= high) is not negated

    return between


def _logic(node: Logic, stages: Mapping[str, StageIR]) -> Fn:
    a, b = compile_node(node.left, stages), compile_node(node.right, stages)
    if node.op == "and":

        def both(row: Row) -> bool | None:
            x = a(row)
            if x is False:
                return False
            y = b(row)
            if x is True:
                return y  # type: ignore[no-any-return]
            return False if y is False else None

        return both

    def either(row: Row) -> bool | None:
        x = a(row)
        if x is True:
            return True
        y = b(row)
        if x is False:
            return y  # type: ignore[no-any-return]
        return True if y is True else None

    return either


def _arith(node: Arith, stages: Mapping[str, StageIR]) -> Fn:
    a, b = compile_node(node.left, stages), compile_node(node.right, stages)
    op = node.op
    if op == "days":

        def days(row: Row) -> int | None:
            x, y = a(row), b(row)
            return None if x is None or y is None else (x - y).days

        return days
    if node.kind == "date":
        sign = 1 if op == "+" else -1

        def shift(row: Row) -> dt.date | None:
            x, y = a(row), b(row)
            # A duration that is not whole days moves the date by its whole days.
            return None if x is None or y is None else x + dt.timedelta(days=sign * math.floor(y))

        return shift
    if op == "/":

        def divide(row: Row) -> float | None:
            x, y = a(row), b(row)
            return None if x is None or y is None or y == 0 else x / y

        return divide
    if node.kind == "decimal":
        exact = {"+": EXACT.add, "-": EXACT.subtract, "*": EXACT.multiply}[op]

        def decimal(row: Row) -> Decimal | None:
            x, y = a(row), b(row)
            return None if x is None or y is None else exact(decimal_of(x), decimal_of(y))

        return decimal
    function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

    def compute(row: Row) -> Any:
        x, y = a(row), b(row)
        return None if x is None or y is None else function(x, y)

    return compute


def _function(node: Func, stages: Mapping[str, StageIR]) -> Fn:
    args = tuple(compile_node(a, stages) for a in node.args)
    if node.name == "abs":
        (inner,) = args

        def absolute(row: Row) -> Any:
            v = inner(row)
            return None if v is None else abs(v)

        return absolute
    a, b = args
    pick = min if node.name == "min" else max

    def pair(row: Row) -> Any:
        x, y = a(row), b(row)
        return None if x is None or y is None else pick(x, y)

    return pair


def _reached(node: Reached, stages: Mapping[str, StageIR]) -> Fn:
    positions = {name: (s.pipeline, s.index) for name, s in stages.items()}
    pipeline, index = node.pipeline, node.index

    def reached(row: Row) -> bool | None:
        stage = row["stage"]
        if stage is None:
            return None
        where = positions.get(stage)
        return where is not None and where[0] == pipeline and where[1] >= index

    return reached


def condition(node: Node | None, stages: Mapping[str, StageIR] | None = None) -> Fn | None:
    """A compiled condition, or None for `otherwise`."""
    return None if node is None else compile_node(node, stages)


# ----------------------------------------------------------------------------- scores
def first_match(tests: Sequence[Fn | None]) -> Callable[[Row], int | None]:
    """The first-match rule, once for every first-match list (criterion cases, qualification
    routes): the index of the first test that holds (a None test is `otherwise`), -1 when none
    does, None when a test is unknown before one holds."""
    numbered = tuple(enumerate(tests))

    def which(row: Row) -> int | None:
        for index, test in numbered:
            if test is None:
                return index
            holds = test(row)
            if holds is True:
                return index
            if holds is None:
                return None
        return -1

    return which


class _Unlike:
    """A value equal to no option: what a field holds when no value case matches it."""


def value_cases(
    criterion: CriterionIR, stages: Mapping[str, StageIR]
) -> tuple[dict[Any, int | None], int | None]:
    """A criterion of value cases only as a lookup: the first-match rule run once per option
    (the case each value takes), and once for a value no case names (the fallback)."""
    assert criterion.table_field is not None
    name = criterion.table_field
    which = first_match([condition(c.condition, stages) for c in criterion.cases])
    found: dict[Any, int | None] = {}
    for case in criterion.cases:
        if case.value is not None:
            found.setdefault(case.value, which({name: case.value}))
    return found, which({name: _Unlike()})


def _criterion(criterion: CriterionIR, stages: Mapping[str, StageIR]) -> tuple[Fn, Fn]:
    """Closures giving the criterion's points and the index of the case that decided them
    (-1: none matched, 0 for a field's value); both None when it cannot be decided."""
    if criterion.field is not None:
        name = criterion.field.name
        return (lambda row: row[name]), (lambda row: None if row[name] is None else 0)
    cases = criterion.cases
    which = first_match([condition(c.condition, stages) for c in cases])
    points = (*(c.points for c in cases), 0)  # index -1: no case matched, 0 points
    if criterion.table_field is not None:
        name = criterion.table_field
        found, fallback = value_cases(criterion, stages)
        table = {value: points[index] for value, index in found.items() if index is not None}
        other = None if fallback is None else points[fallback]
        get, get_index = table.get, found.get

        def lookup(row: Row) -> Any:
            v = row[name]
            return None if v is None else get(v, other)

        def lookup_index(row: Row) -> int | None:
            v = row[name]
            return None if v is None else get_index(v, fallback)

        return lookup, lookup_index

    def scored(row: Row) -> Any:
        index = which(row)
        return None if index is None else points[index]

    return scored, which


def assemble(
    names: tuple[str, ...], values: list[Any], exact: bool
) -> tuple[ScoreValue, FrozenDict, tuple[str, ...]]:
    """Points per criterion (None: undecided) -> total, points mapping, undecided criteria."""
    missing: tuple[str, ...] = ()
    if None in values:
        missing = tuple(n for n, v in zip(names, values, strict=True) if v is None)
        values = [0 if v is None else v for v in values]
    if exact:
        total: Any = sum(values)
    else:
        # Floats add up one by one in criterion order, exactly as the table path adds them.
        total = 0
        for value in values:
            total += value
    return total, FrozenDict(zip(names, values)), missing  # noqa: B905


class ScoreRunner:
    """One score on one record: points per criterion, total, missing criteria, status."""

    __slots__ = (
        "_cases", "_criteria", "_exact", "_knockouts", "_names", "_rules", "ir", "name",
    )  # fmt: skip

    @property
    def criteria(self) -> tuple[str, ...]:
        """The criteria's names, in order."""
        return self._names

    def __init__(self, ir: ScoreIR, stages: Mapping[str, StageIR]) -> None:
        self.ir = ir
        self.name = ir.name
        self._names = tuple(c.name for c in ir.criteria)
        self._exact = ir.kind == "fixed"
        closures = [_criterion(c, stages) for c in ir.criteria]
        self._criteria = tuple(points for points, _ in closures)
        self._cases = tuple(index for _, index in closures)
        self._knockouts = tuple(
            (s.name, condition(s.condition, stages)) for s in ir.statuses if s.knockout
        )
        self._rules = tuple(
            (s.name, condition(s.condition, stages)) for s in ir.statuses if not s.knockout
        )

    def criterion(self, name: str) -> Fn:
        """The closure of one criterion (the table path runs it once per distinct value)."""
        return self._criteria[self._names.index(name)]

    def cases(self, row: Row) -> dict[str, int | None]:
        """Which case decided each criterion (-1: none matched; None: undecided): the trace
        coverage reads."""
        return {name: which(row) for name, which in zip(self._names, self._cases, strict=True)}

    def points(self, row: Row) -> tuple[ScoreValue, FrozenDict, tuple[str, ...]]:
        """Total, points per criterion and undecided criteria."""
        values = [criterion(row) for criterion in self._criteria]
        if self._exact and None not in values:
            # The common case, without the call: whole or exact points, none undecided.
            return sum(values), FrozenDict(zip(self._names, values)), ()  # noqa: B905
        return assemble(self._names, values, self._exact)

    def status(self, row: Row, total: ScoreValue) -> str | None:
        """The status of a record with this total (knock-outs first)."""
        row["score"] = total
        for name, test in self._knockouts:
            if test is not None and test(row) is True:
                return name
        for name, test in self._rules:
            if test is None or test(row) is True:
                return name
        return None


def weighted(cents: int, probability_units: int, scale: int) -> Decimal:
    """amount x probability, exact: cents x probability in units of 10**-scale."""
    return weighted_units(cents * probability_units, scale)


def weighted_units(units: int, scale: int) -> Decimal:
    """A weighted value from integer units of 10**-scale, with two places when it is a whole
    number of cents, else with the places it needs."""
    value = Decimal(units).scaleb(-scale)
    cent = value.quantize(Decimal("0.01"))
    return cent if cent == value else value.normalize()


def probability_units(probability: Decimal, scale: int) -> int:
    """A stage probability as an integer in units of 10**-(scale - 2)."""
    return int(probability.scaleb(scale - 2))


# ----------------------------------------------------------------------------- records
class _Qualifier:
    """The scores of a record: every score first (a status may read any of them, as `fit.score`
    or `fit.size`), then the qualification routes (first match) pick the one whose status the
    record gets."""

    __slots__ = ("_mine", "_routes", "_runners", "_which")

    def __init__(self, record: str, compiled: Compiled) -> None:
        stages = compiled.stages
        routes = compiled.routes[record]
        self._routes = tuple(r.score for r in routes)
        self._runners = {name: ScoreRunner(ir, stages) for name, ir in compiled.scores.items()}
        read = compiled.computed.get(record, {})
        #: Each score of the record, and the computed values of it that expressions read.
        self._mine = tuple(
            (
                runner,
                f"{name}.score" if f"{name}.score" in read else None,
                tuple(
                    (criterion, f"{name}.{criterion}")
                    for criterion in runner.criteria
                    if f"{name}.{criterion}" in read
                ),
            )
            # By name: the order of the declarations never shows in a result (`scores`).
            for name, runner in sorted(self._runners.items())
            if runner.ir.subject == record
        )
        which = first_match([condition(r.condition, stages) for r in routes])
        single = len(routes) == 1 and routes[0].condition is None
        self._which: Callable[[Row], int | None] | None = None if single else which

    def scores(self, row: Row) -> dict[str, tuple[ScoreValue, FrozenDict, tuple[str, ...]]]:
        """Total, points and undecided criteria of every score of the record; the totals and
        points that expressions read are put in the row (`fit.score`, `fit.size`)."""
        found = {}
        for runner, total, criteria in self._mine:
            found[runner.name] = scored = runner.points(row)
            if total is not None:
                row[total] = scored[0]
            for criterion, key in criteria:
                row[key] = scored[1][criterion]
        return found

    def cases(self, row: Row) -> FrozenDict:
        """Per score of the record, the case that decided each criterion (coverage)."""
        return FrozenDict({r.name: FrozenDict(r.cases(row)) for r, _, _ in self._mine})

    def route(self, row: Row) -> int | None:
        """The index of the route taken (None: no score applies)."""
        if not self._routes:
            return None
        if self._which is None:
            return 0
        index = self._which(row)
        return None if index is None or index < 0 else index

    def runner(self, index: int | None) -> ScoreRunner | None:
        """The score of a route."""
        return None if index is None else self._runners[self._routes[index]]


class LeadEvaluator:
    """Evaluates one lead dict into a `LeadResult` (and, asked, the trace of how)."""

    __slots__ = ("_alerts", "_qualify", "_read")

    def __init__(self, compiled: Compiled) -> None:
        stages = compiled.stages
        self._read = RowReader(
            compiled.reads.get("lead", {}), frozenset({"id"}), currency=compiled.currency
        )
        self._qualify = _Qualifier("lead", compiled)
        self._alerts = tuple(
            (a.name, compile_node(a.condition, stages))
            for a in compiled.alerts
            if a.subject == "lead"
        )

    def __call__(self, record: Mapping[str, object]) -> LeadResult:
        return self.run(record)[0]

    @property
    def reader(self) -> RowReader:
        """How a lead's fields are read (`engine.codegen` reads them the same way)."""
        return self._read

    def run(self, record: Mapping[str, object], trace: bool = False) -> tuple[LeadResult, Trace]:
        """The result, and with `trace` which route and which case of each criterion decided."""
        row = self._read(record)
        scored = self._qualify.scores(row)
        totals = FrozenDict({name: found[0] for name, found in scored.items()})
        route = self._qualify.route(row)
        runner = self._qualify.runner(route)
        if runner is None:
            if scored:  # a lead with scores and no route: no score nor status to read
                row["score"] = row["status"] = None
            alerts = tuple(name for name, test in self._alerts if test(row) is True)
            result = LeadResult(row.get("id"), None, None, FrozenDict(), (), alerts, totals)
            return result, Trace(scores=self._qualify.cases(row)) if trace else NO_TRACE
        total, points, missing = scored[runner.name]
        # The lead's status and score, which alerts may read.
        row["status"] = status = runner.status(row, total)
        alerts = tuple(name for name, test in self._alerts if test(row) is True)
        result = LeadResult(row.get("id"), total, status, points, missing, alerts, totals)
        if not trace:
            return result, NO_TRACE
        cases = FrozenDict(runner.cases(row))
        return result, Trace(runner.name, route, cases, scores=self._qualify.cases(row))


class DealEvaluator:
    """Evaluates one deal dict, as of a date, into a `DealResult` (and, asked, its trace)."""

    __slots__ = (
        "_alerts",
        "_derived",
        "_exits",
        "_pipelines",
        "_playbooks",
        "_qualify",
        "_read",
        "_stages",
        "_weighted_scale",
    )

    def __init__(self, compiled: Compiled) -> None:
        stages = compiled.stages
        self._stages = stages
        self._weighted_scale = compiled.weighted_scale
        # Stage ids are checked as the table path checks them, so both reject the same rows.
        self._read = RowReader(
            compiled.reads.get("deal", {}),
            frozenset({"id", "status"}),
            {"stage": tuple(stages)} if stages else None,
            compiled.currency,
        )
        self._derived = tuple(
            (name, compile_node(node, stages)) for name, node in compiled.derived.items()
        )
        self._exits = {
            name: tuple((e.name, compile_node(e.condition, stages)) for e in stage.exits)
            for name, stage in stages.items()
        }
        self._pipelines = {
            name: tuple(s.name for s in pipeline.stages)
            for name, pipeline in compiled.pipelines.items()
        }
        self._qualify = _Qualifier("deal", compiled)
        self._playbooks = tuple(
            (
                p.name,
                condition(p.condition, stages),
                tuple(
                    (r.name, r.kind, compile_node(r.condition, stages), r.pipeline, r.before_index)
                    for r in p.requirements
                ),
            )
            for p in compiled.playbooks
        )
        self._alerts = tuple(
            (a.name, compile_node(a.condition, stages))
            for a in compiled.alerts
            if a.subject == "deal"
        )

    def _unmet(self, stage: str, row: Row) -> list[str]:
        return [name for name, test in self._exits[stage] if test(row) is not True]

    def __call__(self, record: Mapping[str, object], as_of: dt.date) -> DealResult:
        return self.run(record, as_of)[0]

    def run(
        self,
        record: Mapping[str, object],
        as_of: dt.date,
        trace: bool = False,
        *,
        results: dict[str, Any] | None = None,
    ) -> tuple[DealResult, Trace]:
        """The result, and with `trace` the route, the cases of the qualification score and
        the playbook items that were due (met or not). `results`, when given, receives the
        values expressions read on the deal, computed ones included (`qualification_status`,
        `meddpicc.score`): what pay's credit rules read."""
        row = self._read(record)
        row[AS_OF] = as_of
        for name, compute in self._derived:
            row[name] = compute(row)
        stage = self._stages.get(row.get("stage"))  # type: ignore[arg-type]
        is_open = row.get("status") == "open"
        days: int | None = row.get("days_in_stage")
        value: Decimal | None = None
        amount: Decimal | None = row.get("amount")
        if stage is not None and amount is not None and stage.probability is not None:
            scale = self._weighted_scale
            value = weighted(
                int(amount.scaleb(2)), probability_units(stage.probability, scale), scale
            )
        # The weighted value comes from the stage alone: exit criteria may read it.
        row["weighted_value"] = value
        if stage is None:
            missing: list[str] = []
            skipped: list[str] = []
            ready: bool | None = None
            stale: bool | None = None if is_open else False
        else:
            missing = self._unmet(stage.name, row)
            ready = not missing
            before = self._pipelines[stage.pipeline][: stage.index]
            skipped = [name for name in before if self._unmet(name, row)]
            if not is_open or stage.max_days is None:
                stale = False
            else:
                stale = None if days is None else days > stage.max_days
        row["exit_ready"], row["stale"] = ready, stale
        scored = self._qualify.scores(row)
        route = self._qualify.route(row)
        runner = self._qualify.runner(route)
        score: ScoreValue | None = None
        status: str | None = None
        if runner is not None:
            score = scored[runner.name][0]
            status = runner.status(row, score)
        # What playbooks and alerts may read of the qualification.
        row["framework"] = None if runner is None else runner.name
        row["qualification_score"], row["qualification_status"] = score, status
        applying = [
            (name, items)
            for name, applies, items in self._playbooks
            if applies is not None and applies(row) is True
        ]
        if not applying:
            applying = [(n, items) for n, applies, items in self._playbooks if applies is None]
        playbook: str | None = None
        playbook_missing: list[str] = []
        conflict: tuple[str, ...] = ()
        due: dict[str, bool | None] = {}
        if len(applying) > 1:
            conflict = tuple(name for name, _ in applying)
        elif applying:
            playbook, items = applying[0]
            where = (stage.pipeline, stage.index) if stage else None
            for item, kind, test, pipeline, due_from in items:
                if kind == "recommend":
                    if trace:
                        due[item] = test(row)  # True, False, or None when unknown
                    continue
                if due_from is None or (
                    where is not None and where[0] == pipeline and where[1] >= due_from
                ):
                    met = test(row) is True
                    due[item] = met
                    if not met:
                        playbook_missing.append(item)
        row["playbook"] = playbook
        if results is not None:
            results.update(row)
        alerts = tuple(name for name, test in self._alerts if test(row) is True)
        result = DealResult(
            row.get("id"),
            row.get("stage"),
            ready,
            tuple(missing),
            tuple(skipped),
            days,
            stale,
            value,
            None if runner is None else runner.name,
            score,
            status,
            playbook,
            tuple(playbook_missing),
            alerts,
            conflict,
            FrozenDict({name: found[0] for name, found in scored.items()}),
        )
        if not trace:
            return result, NO_TRACE
        cases = FrozenDict(runner.cases(row)) if runner is not None else FrozenDict()
        used = None if runner is None else runner.name
        return result, Trace(used, route, cases, FrozenDict(due), self._qualify.cases(row))
