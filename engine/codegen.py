"""One lead as generated Python: the reference evaluator's semantics, written out once per
ruleset as the source of one function and compiled at load (as Jinja compiles a template).

`engine.record` stays the reference (and the only path with traces); this module derives
straight-line code from the same IR, node by node, each node written exactly as the closure
`engine.record.compile_node` builds for it (the same three-valued logic, the same first-match
rule, the same value-case lookups from `engine.record.value_cases`, the same field coercers from
`engine.record.RowReader`). What it saves is the calls: fields in local variables, no closure
per node, no row dict. `tests/engine/test_codegen.py` checks it equal to the reference on every
client ruleset (whose fixtures, `koncept test`, run through it too) and on generated leads.

A ruleset it cannot write (a node only deals use, a nesting too deep for Python's parser) keeps
the reference evaluator: `lead_function` returns None and nothing else changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dsl.types import FieldType
from engine.ir import (
    Arith,
    Between,
    Compare,
    Compiled,
    Const,
    CriterionIR,
    FieldRef,
    Func,
    IsMissing,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    ScoreIR,
    StageIR,
    ToFloat,
)
from engine.money import EXACT, decimal_of
from engine.record import RowReader, value_cases
from engine.results import FrozenDict, LeadResult

__all__ = ["lead_function", "lead_source"]

LeadFunction = Callable[[Mapping[str, object]], LeadResult]

#: Python's parser refuses deeper indentation (100 levels): deeper conditions keep the
#: reference evaluator.
_MAX_DEPTH = 80
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_ARITH = {"+": "+", "-": "-", "*": "*"}


class Unsupported(Exception):
    """A construct this generator does not write: the reference evaluator is used."""


def identity_guard(kind: FieldType, var: str, options: str | None) -> str | None:
    """A test under which the field's coercer (`engine.cells.coercer`) returns its input
    unchanged, so the call can be skipped: the coercers' own first checks. None: always call.
    `tests/engine/test_codegen.py` checks each against its coercer."""
    if kind.range is not None:
        return None  # a range is checked by the coercer
    if kind.kind == "one_of" and options is not None:
        return f"{var}.__class__ is str and {var} in {options}"
    if kind.kind == "integer":
        return f"{var}.__class__ is int"
    if kind.kind == "number":
        return f"{var}.__class__ is float and {var} == {var}"
    if kind.kind == "boolean":
        return f"{var} is True or {var} is False"
    if kind.kind == "date":
        return f"{var}.__class__ is _date"
    if kind.kind == "text":
        # Text with nothing to strip (str.strip and str.isspace share one definition).
        ends = f"{var}[0].isspace() or {var}[-1].isspace()"
        return f"{var}.__class__ is str and {var} != '' and not ({ends})"
    return None


def _result_maker() -> Callable[..., LeadResult]:
    """`LeadResult(...)` without the frozen dataclass's `__init__` (a guarded `setattr` per
    field: a third of a lead's time), its slots filled directly. The plain constructor when
    the class does more than store its fields."""
    names = [f.name for f in dataclasses.fields(LeadResult)]
    if hasattr(LeadResult, "__post_init__") or list(LeadResult.__slots__) != names:
        return LeadResult
    setters = [getattr(LeadResult, name).__set__ for name in names]
    new = object.__new__
    args = ", ".join(names)
    body = "; ".join(f"s{i}(r, {name})" for i, name in enumerate(names))
    namespace: dict[str, Any] = {f"s{i}": setter for i, setter in enumerate(setters)}
    namespace.update(new=new, LeadResult=LeadResult)
    exec(f"def make({args}):\n    r = new(LeadResult); {body}; return r", namespace)
    made: Callable[..., LeadResult] = namespace["make"]
    return made


class _SharedTotals(dict[int, FrozenDict]):
    """`{score: total}` mappings of one score of whole points, by total: each made once."""

    #: Enough for any score of whole points a ruleset writes; past it, new totals are not kept.
    LIMIT = 4096

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def make(self, total: int) -> FrozenDict:
        made = FrozenDict({self.name: total})
        if len(self) < self.LIMIT:
            self[total] = made
        return made


class _Writer:
    """Lines of source, their indentation, fresh names, and the constants they refer to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.namespace: dict[str, Any] = {
            "FrozenDict": FrozenDict,
            "_result": _result_maker(),
            "_date": dt.date,
            "_timedelta": dt.timedelta,
            "_floor": math.floor,
            "_decimal_of": decimal_of,
            "_add": EXACT.add,
            "_subtract": EXACT.subtract,
            "_multiply": EXACT.multiply,
        }
        self._constants: dict[int, str] = {}
        self._count = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise Unsupported("nesting too deep")
        try:
            yield
        finally:
            self.depth -= 1

    def temp(self) -> str:
        self._count += 1
        return f"t{self._count}"

    def const(self, value: Any) -> str:
        """A name for a constant (kept as the object itself: Decimals, dates, sets)."""
        if value is None or value is True or value is False:
            return repr(value)
        # Every other constant by name: `70 is None` would be a SyntaxWarning.
        key = id(value)
        if key not in self._constants:
            name = f"K{len(self._constants)}"
            self._constants[key] = name
            self.namespace[name] = value
        return self._constants[key]


class _Expressions:
    """IR nodes as statements assigning temporaries: `compile_node`, node by node."""

    def __init__(
        self, writer: _Writer, fields: Mapping[str, str], stages: Mapping[str, StageIR]
    ) -> None:
        self.w = writer
        self.fields = fields
        self.stages = stages

    def value(self, node: Node) -> str:
        """Emit the statements computing `node`; return the name (or constant) holding it."""
        w = self.w
        if isinstance(node, FieldRef):
            if node.name not in self.fields:
                raise Unsupported(f"field {node.name} is not read")
            return self.fields[node.name]
        if isinstance(node, Const):
            return w.const(node.value)
        if isinstance(node, ToFloat):
            return self._unary(node.operand, "float({})")
        if isinstance(node, Compare):
            if node.op not in _COMPARE:
                raise Unsupported(node.op)
            left, right = node.left, node.right
            field = left.operand if isinstance(left, ToFloat) else left
            if isinstance(field, FieldRef) and isinstance(right, Const):
                # record's `field_const`: the constant is compared as it is, even None.
                return self._unary(left, f"{{}} {node.op} {w.const(right.value)}")
            return self._guarded(left, right, f"{{}} {node.op} {{}}")
        if isinstance(node, Member):
            items = w.const(frozenset(i.value for i in node.items))
            test = "not in" if node.negated else "in"
            return self._unary(node.value, f"{{}} {test} {items}")
        if isinstance(node, Between):
            low, high = w.const(node.low.value), w.const(node.high.value)
            shape = f"{low} <= {{}} <= {high}"
            return self._unary(node.value, f"not ({shape})" if node.negated else f"({shape})")
        if isinstance(node, Logic):
            return self._logic(node)
        if isinstance(node, Not):
            return self._unary(node.operand, "not {}")
        if isinstance(node, IsMissing):
            inner = self.value(node.operand)
            out = w.temp()
            w.line(f"{out} = {inner} is {'not ' if node.negated else ''}None")
            return out
        if isinstance(node, Arith):
            return self._arith(node)
        if isinstance(node, Neg):
            return self._unary(node.operand, "-{}")
        if isinstance(node, Func):
            return self._function(node)
        raise Unsupported(type(node).__name__)  # deal-only nodes, aggregates

    def _unary(self, operand: Node, shape: str) -> str:
        """`None if v is None else f(v)`."""
        inner = self.value(operand)
        out = self.w.temp()
        self.w.line(f"{out} = None if {inner} is None else {shape.format(inner)}")
        return out

    def _guarded(self, left: Node, right: Node, shape: str) -> str:
        """The right side only once the left is known (record's `_compare`)."""
        w = self.w
        x = self.value(left)
        out = w.temp()
        with w.block(f"if {x} is None:"):
            w.line(f"{out} = None")
        with w.block("else:"):
            y = self.value(right)
            w.line(f"{out} = None if {y} is None else {shape.format(x, y)}")
        return out

    def _logic(self, node: Logic) -> str:
        """Kleene and/or, the right side only when the left does not decide."""
        w = self.w
        x = self.value(node.left)
        out = w.temp()
        decides = "False" if node.op == "and" else "True"
        with w.block(f"if {x} is {decides}:"):
            w.line(f"{out} = {decides}")
        with w.block("else:"):
            y = self.value(node.right)
            other = "True" if node.op == "and" else "False"
            # and: x True -> y; x None -> False if y is False else None (or: dually).
            w.line(f"{out} = {y} if {x} is {other} else ({decides} if {y} is {decides} else None)")
        return out

    def _both(self, node: Arith | Func) -> tuple[str, str]:
        args = (node.left, node.right) if isinstance(node, Arith) else node.args
        x, y = (self.value(a) for a in args)
        return x, y

    def _arith(self, node: Arith) -> str:
        w = self.w
        x, y = self._both(node)
        out = w.temp()
        unknown = f"None if {x} is None or {y} is None else"
        if node.op == "days":
            w.line(f"{out} = {unknown} ({x} - {y}).days")
        elif node.kind == "date":
            sign = "" if node.op == "+" else "-"
            w.line(f"{out} = {unknown} {x} + _timedelta(days={sign}_floor({y}))")
        elif node.op == "/":
            w.line(f"{out} = None if {x} is None or {y} is None or {y} == 0 else {x} / {y}")
        elif node.kind == "decimal":
            exact = {"+": "_add", "-": "_subtract", "*": "_multiply"}[node.op]
            w.line(f"{out} = {unknown} {exact}(_decimal_of({x}), _decimal_of({y}))")
        elif node.op in _ARITH:
            w.line(f"{out} = {unknown} {x} {_ARITH[node.op]} {y}")
        else:
            raise Unsupported(node.op)
        return out

    def _function(self, node: Func) -> str:
        if node.name == "abs":
            (arg,) = node.args
            return self._unary(arg, "abs({})")
        if node.name not in ("min", "max") or len(node.args) != 2:
            raise Unsupported(node.name)
        x, y = self._both(node)
        out = self.w.temp()
        self.w.line(f"{out} = None if {x} is None or {y} is None else {node.name}({x}, {y})")
        return out


def _first_match(w: _Writer, exprs: _Expressions, conditions: list[Node | None], out: str) -> None:
    """`engine.record.first_match`: `out` = the index of the first condition that holds (None
    is `otherwise`), -1 when none does, None when one is unknown before one holds."""
    with w.block("while True:"):
        for index, node in enumerate(conditions):
            if node is None:
                w.line(f"{out} = {index}")
                w.line("break")
                return
            holds = exprs.value(node)
            with w.block(f"if {holds} is True:"):
                w.line(f"{out} = {index}")
                w.line("break")
            with w.block(f"if {holds} is None:"):
                w.line(f"{out} = None")
                w.line("break")
        w.line(f"{out} = -1")
        w.line("break")


def _criterion(w: _Writer, exprs: _Expressions, criterion: CriterionIR, out: str) -> None:
    """A criterion's points (None: undecided): `engine.record._criterion`."""
    if criterion.field is not None:
        w.line(f"{out} = {exprs.value(criterion.field)}")
        return
    points = (*(c.points for c in criterion.cases), 0)  # index -1: no case matched, 0
    if criterion.table_field is not None:
        found, fallback = value_cases(criterion, exprs.stages)
        table = {value: points[index] for value, index in found.items() if index is not None}
        other = None if fallback is None else points[fallback]
        field = exprs.value(FieldRef(criterion.table_field, "text"))
        lookup = f"{w.const(table)}.get({field}, {w.const(other)})"
        w.line(f"{out} = None if {field} is None else {lookup}")
        return
    index = w.temp()
    _first_match(w, exprs, [c.condition for c in criterion.cases], index)
    w.line(f"{out} = None if {index} is None else {w.const(points)}[{index}]")


def _totals(
    w: _Writer, fields: dict[str, str], compiled: Compiled, ir: ScoreIR
) -> tuple[str, str, str]:
    """Points, total and missing criteria of one score (`ScoreRunner.points`): the names of
    its total, its points mapping and its missing criteria. The total and each criterion's
    points become fields (`fit.score`, `fit.size`) for the statuses and alerts that read them."""
    exprs = _Expressions(w, fields, compiled.stages)
    values = [w.temp() for _ in ir.criteria]
    for criterion, name in zip(ir.criteria, values, strict=True):
        _criterion(w, exprs, criterion, name)
    names = tuple(c.name for c in ir.criteria)
    missing = w.temp()
    if values:
        with w.block(f"if {' or '.join(f'{v} is None' for v in values)}:"):
            given = f"zip({w.const(names)}, ({', '.join(values)},))"
            w.line(f"{missing} = tuple(n for n, v in {given} if v is None)")
            for v in values:
                w.line(f"{v} = 0 if {v} is None else {v}")
        with w.block("else:"):
            w.line(f"{missing} = ()")
    else:
        w.line(f"{missing} = ()")
    # Criterion by criterion from 0, as `sum` and `assemble` add them.
    total = w.temp()
    w.line(f"{total} = {' + '.join(['0', *values])}")
    fields[f"{ir.name}.score"] = total
    for name, v in zip(names, values, strict=True):
        fields[f"{ir.name}.{name}"] = v
    pairs = ", ".join(f"{name!r}: {v}" for name, v in zip(names, values, strict=True))
    return total, f"FrozenDict({{{pairs}}})", missing


def _status(w: _Writer, fields: dict[str, str], compiled: Compiled, ir: ScoreIR, total: str) -> str:
    """The status of a total (`ScoreRunner.status`: knock-outs first); the name holding it."""
    exprs = _Expressions(w, fields, compiled.stages)
    # Statuses read the total as `score`.
    fields["score"] = total
    status = w.temp()
    ordered = [s for s in ir.statuses if s.knockout] + [s for s in ir.statuses if not s.knockout]
    with w.block("while True:"):
        for rule in ordered:
            if rule.condition is None:
                if rule.knockout:
                    continue  # a knock-out without a condition never applies
                w.line(f"{status} = {rule.name!r}")
                w.line("break")
                break
            holds = exprs.value(rule.condition)
            with w.block(f"if {holds} is True:"):
                w.line(f"{status} = {rule.name!r}")
                w.line("break")
        else:
            w.line(f"{status} = None")
            w.line("break")
    return status


def _alerts(w: _Writer, fields: dict[str, str], compiled: Compiled) -> str:
    """The names of the lead alerts that hold (they may read the status and the scores)."""
    exprs = _Expressions(w, fields, compiled.stages)
    names = []
    for alert in compiled.alerts:
        if alert.subject == "lead":
            holds = exprs.value(alert.condition)
            # In parentheses: `a if x else b + c if y else d` would add inside the else.
            names.append(f"(({alert.name!r},) if {holds} is True else ())")
    alerts = w.temp()
    w.line(f"{alerts} = {' + '.join(names) if names else '()'}")
    return alerts


def lead_source(compiled: Compiled, reader: RowReader) -> tuple[str, dict[str, Any]]:
    """The source of `evaluate_lead(record)` for a ruleset, and the names it refers to.

    Raises `Unsupported` for what it does not write."""
    w = _Writer()
    w.namespace["_fail"] = reader
    fields: dict[str, str] = {}
    kinds = compiled.reads.get("lead", {})
    w.lines.append("def evaluate_lead(record):")
    w.line("get = record.get")
    with w.block("try:"):
        for position, (name, coerce) in enumerate(reader.readers):
            var = f"f{position}"
            fields[name] = var
            w.namespace[f"C{position}"] = coerce
            kind = kinds[name]
            options = w.const(frozenset(kind.options)) if kind.kind == "one_of" else None
            guard = identity_guard(kind, var, options)
            w.line(f"{var} = get({name!r})")
            if guard is None:
                w.line(f"{var} = C{position}({var})")
            else:
                with w.block(f"if not ({guard}):"):
                    w.line(f"{var} = C{position}({var})")
    with w.block("except (ValueError, ArithmeticError):"):
        w.line("_fail(record)  # raises RecordError with every bad field")
        w.line("raise")
    for name in reader.needed:
        with w.block(f"if {fields[name]} is None:"):
            w.line("_fail(record)")
            w.line("raise AssertionError('the reader let a missing required field through')")
    lead_id = fields.get("id", "None")
    # Every score first: a status may read any of them.
    scores = [ir for _, ir in sorted(compiled.scores.items()) if ir.subject == "lead"]
    found = {ir.name: _totals(w, fields, compiled, ir) for ir in scores}
    totals = w.temp()
    pairs = ", ".join(f"{name!r}: {total}" for name, (total, _, _) in found.items())
    if len(scores) == 1 and scores[0].kind == "fixed" and scores[0].scale == 0:
        # One score of whole points: few totals, each mapping made once and shared (results
        # are immutable), as the table path shares one per combination.
        ((total, _, _),) = found.values()
        maker = w.const(_SharedTotals(scores[0].name))
        w.line(f"{totals} = {maker}.get({total})")
        with w.block(f"if {totals} is None:"):
            w.line(f"{totals} = {maker}.make({total})")
    else:
        w.line(f"{totals} = FrozenDict({{{pairs}}})")
    routes = compiled.routes["lead"]

    def qualified(index: int) -> None:
        ir = compiled.scores[routes[index].score]
        total, points, missing = found[ir.name]
        status = _status(w, fields, compiled, ir, total)
        fields["status"], fields["score"] = status, total
        alerts = _alerts(w, fields, compiled)
        w.line(
            f"return _result({lead_id}, {total}, {status}, {points}, {missing}, {alerts}, {totals})"
        )

    if len(routes) == 1 and routes[0].condition is None:
        qualified(0)
    elif routes:
        route = w.temp()
        _first_match(
            w, _Expressions(w, fields, compiled.stages), [r.condition for r in routes], route
        )
        for index in range(len(routes)):
            with w.block(f"if {route} == {index}:"):
                qualified(index)
    if not (len(routes) == 1 and routes[0].condition is None):
        # No route applies (or no score): neither score nor status.
        if scores:
            fields["status"] = fields["score"] = "None"
        alerts = _alerts(w, fields, compiled)
        w.line(f"return _result({lead_id}, None, None, FrozenDict(), (), {alerts}, {totals})")
    return "\n".join(w.lines) + "\n", w.namespace


def lead_function(compiled: Compiled, reader: RowReader) -> LeadFunction | None:
    """The compiled `evaluate_lead` of a ruleset, or None when it cannot be generated."""
    try:
        source, namespace = lead_source(compiled, reader)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a SyntaxWarning is a SyntaxError here
            code = compile(source, "<koncept lead evaluator>", "exec")
    except (Unsupported, SyntaxError, RecursionError, MemoryError):
        return None
    exec(code, namespace)  # our own source, derived from the IR
    function: LeadFunction = namespace["evaluate_lead"]
    return function
