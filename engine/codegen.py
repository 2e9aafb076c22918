"""One lead as generated Python: the reference evaluator's semantics, written out once per
ruleset as the source of one function and compiled at load (as Jinja compiles a template).

`engine.record` stays the reference (and the only path with traces); this module derives
straight-line code from the same IR, node by node, each node written exactly as the closure
`engine.record.compile_node` builds for it (the same three-valued logic, the same first-match
rule, the same value-case lookups from `engine.record.value_cases`, the same field coercers from
`engine.record.RowReader`). What it saves is the calls: fields in local variables, no closure
per node, no row dict; a condition on one field is a plain test once the field is known not to
be missing, and the points and totals mappings are made once per combination and shared (a lead
then allocates its result alone). `tests/engine/test_codegen.py` checks it equal to the
reference on every client ruleset (whose fixtures, `koncept test`, run through it too) and on
generated leads.

A ruleset it cannot write (a node only deals use, a nesting too deep for Python's parser) keeps
the reference evaluator: `lead_function` returns None and nothing else changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
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
        # Text with nothing to strip (the coercer strips it), not empty (which is missing).
        return f"{var}.__class__ is str and {var} != '' and {var}.strip() == {var}"
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


class _Shared(dict[Any, FrozenDict]):
    """`{name: value}` mappings of some names, keyed by their values (one name: the value
    itself), each made once and shared (results are immutable), as the table path shares one
    per combination. Only for values that equal keys cannot tell apart (`_unambiguous`)."""

    #: Enough for the combinations a ruleset's points make; past it, new ones are not kept.
    LIMIT = 4096

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def make(self, key: Any) -> FrozenDict:
        values = key if len(self.names) != 1 else (key,)
        made = FrozenDict(zip(self.names, values, strict=True))
        if len(self) < self.LIMIT:
            self[key] = made
        return made


def _unambiguous(values: list[Any]) -> bool:
    """No two of these values are equal (so one key) yet differ in type or in how they show:
    `1 == 1.0`, `Decimal('2.5') == Decimal('2.50')`, `0.0 == -0.0`."""
    shown: dict[Any, Any] = {}
    for value in values:
        try:
            seen = shown.setdefault(value, value)
        except TypeError:  # unhashable
            return False
        if type(seen) is not type(value) or repr(seen) != repr(value):
            return False
    return True


def _shared(w: _Writer, names: tuple[str, ...], values: list[str], out: str) -> None:
    """`out` = the shared `{name: value}` mapping of these names and value variables."""
    shared = w.const(_Shared(names))
    key = values[0] if len(values) == 1 else f"({', '.join(values)})"
    w.line(f"{out} = {shared}.get({key})")
    with w.block(f"if {out} is None:"):
        w.line(f"{out} = {shared}.make({key})")


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
        #: Variables never None once assigned (totals, points once undecided ones count 0,
        #: required fields once checked): their tests skip the unknown case.
        self.known: set[str] = set()

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

    def literal(self, value: Any) -> str:
        """A number or a text written out (it reads better), any other constant by name.
        Never in an `is` test: `70 is None` is a SyntaxWarning."""
        if value.__class__ in (int, str) or (value.__class__ is float and math.isfinite(value)):
            with suppress(ValueError):  # an int too long to write out
                return repr(value)  # as Python reads it back: the same value
        return self.const(value)

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

    def _operand(self, node: Node) -> tuple[str, str] | None:
        """A field read as it is or as a float: its variable and the expression of its value
        once known. None for anything else."""
        inner = node.operand if isinstance(node, ToFloat) else node
        if not isinstance(inner, FieldRef) or inner.name not in self.fields:
            return None
        var = self.fields[inner.name]
        return var, f"float({var})" if inner is not node else var

    def simple(self, node: Node) -> tuple[str | None, str] | None:
        """A condition unknown exactly when one variable is None, as that variable (None: never
        unknown) and a Python test equal to the condition once the variable is known; None
        when the condition is not that simple (it is then computed by `value`)."""
        if isinstance(node, Not):
            inner = self.simple(node.operand)
            return None if inner is None else (inner[0], f"not ({inner[1]})")
        w = self.w
        if isinstance(node, IsMissing):
            found = self._operand(node.operand)
            if found is None:
                return None
            return None, f"{found[0]} is {'not ' if node.negated else ''}None"
        if isinstance(node, Compare) and node.op in _COMPARE and isinstance(node.right, Const):
            found = self._operand(node.left)
            # record's `field_const`: the constant is compared as it is, even None.
            shape = f"{{}} {node.op} {w.literal(node.right.value)}"
        elif isinstance(node, Member):
            found = self._operand(node.value)
            items = w.const(frozenset(i.value for i in node.items))
            shape = f"{{}} {'not in' if node.negated else 'in'} {items}"
        elif isinstance(node, Between):
            found = self._operand(node.value)
            low, high = w.literal(node.low.value), w.literal(node.high.value)
            shape = f"not ({low} <= {{}} <= {high})" if node.negated else f"{low} <= {{}} <= {high}"
        else:
            return None
        if found is None:
            return None
        var, value = found
        return (None if var in w.known else var), shape.format(value)

    def holds(self, node: Node) -> str:
        """A Python test true exactly when the condition holds (not False, not unknown),
        emitting the statements it needs first."""
        simple = self.simple(node)
        if simple is None:
            return f"{self.value(node)} is True"
        var, test = simple
        return test if var is None else f"{var} is not None and {test}"

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
        """`None if v is None else f(v)` (`f(v)` when `v` is never None)."""
        inner = self.value(operand)
        out = self.w.temp()
        if inner in self.w.known:
            self.w.line(f"{out} = {shape.format(inner)}")
            self.w.known.add(out)
        else:
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


def _first_match(
    w: _Writer, exprs: _Expressions, conditions: list[Node | None], choices: list[str], out: str
) -> None:
    """`engine.record.first_match`: `out` = the choice of the first condition that holds (None
    is `otherwise`), the last choice when none does, None when one is unknown before one
    holds."""
    checked: set[str] = set()  # variables known not None further down the loop
    with w.block("while True:"):
        for node, choice in zip(conditions, choices, strict=False):
            if node is None:
                w.line(f"{out} = {choice}")
                w.line("break")
                return
            simple = exprs.simple(node)
            if simple is None:
                holds = exprs.value(node)
                with w.block(f"if {holds} is True:"):
                    w.line(f"{out} = {choice}")
                    w.line("break")
                with w.block(f"if {holds} is None:"):
                    w.line(f"{out} = None")
                    w.line("break")
                continue
            var, test = simple
            if var is not None and var not in checked:
                with w.block(f"if {var} is None:"):
                    w.line(f"{out} = None")
                    w.line("break")
                checked.add(var)
            with w.block(f"if {test}:"):
                w.line(f"{out} = {choice}")
                w.line("break")
        w.line(f"{out} = {choices[-1]}")
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
        lookup = f"{w.const(table)}.get({field}, {w.literal(other)})"
        w.line(f"{out} = None if {field} is None else {lookup}")
        return
    choices = [w.literal(p) for p in points]
    _first_match(w, exprs, [c.condition for c in criterion.cases], choices, out)


def _totals(
    w: _Writer, fields: dict[str, str], compiled: Compiled, ir: ScoreIR
) -> tuple[str, list[str], str]:
    """Points, total and missing criteria of one score (`ScoreRunner.points`): the names of
    its total, of its criteria's points and of its missing criteria. The total and each criterion's
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
    w.known.update([total, *values])
    return total, values, missing


def _points(w: _Writer, ir: ScoreIR, values: list[str]) -> str:
    """The points mapping of a score from its criteria's variables: shared per combination
    when every criterion's points are among its cases' (a few, told apart by their keys)."""
    names = tuple(c.name for c in ir.criteria)
    if all(
        c.field is None and _unambiguous([*(case.points for case in c.cases), 0])
        for c in ir.criteria
    ):
        points = w.temp()
        _shared(w, names, values, points)
        return points
    pairs = ", ".join(f"{name!r}: {v}" for name, v in zip(names, values, strict=True))
    return f"FrozenDict({{{pairs}}})"


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
            with w.block(f"if {exprs.holds(rule.condition)}:"):
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
            holds = exprs.holds(alert.condition)
            # In parentheses: `a if x else b + c if y else d` would add inside the else.
            names.append(f"(({alert.name!r},) if {holds} else ())")
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
        w.known.add(fields[name])
    lead_id = fields.get("id", "None")
    # Every score first: a status may read any of them.
    scores = [ir for _, ir in sorted(compiled.scores.items()) if ir.subject == "lead"]
    found = {ir.name: _totals(w, fields, compiled, ir) for ir in scores}
    if not scores:
        totals = w.const(FrozenDict())
    elif all(ir.kind == "fixed" and ir.scale == 0 for ir in scores):
        # Scores of whole points: few totals, each mapping made once and shared.
        totals = w.temp()
        _shared(w, tuple(found), [total for total, _, _ in found.values()], totals)
    else:
        totals = w.temp()
        pairs = ", ".join(f"{name!r}: {total}" for name, (total, _, _) in found.items())
        w.line(f"{totals} = FrozenDict({{{pairs}}})")
    routes = compiled.routes["lead"]

    def qualified(index: int) -> None:
        ir = compiled.scores[routes[index].score]
        total, values, missing = found[ir.name]
        points = _points(w, ir, values)
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
        exprs = _Expressions(w, fields, compiled.stages)
        indexes = [str(index) for index in range(len(routes))]
        _first_match(w, exprs, [r.condition for r in routes], [*indexes, "-1"], route)
        for index in range(len(routes)):
            with w.block(f"if {route} == {index}:"):
                qualified(index)
    if not (len(routes) == 1 and routes[0].condition is None):
        # No route applies (or no score): neither score nor status.
        if scores:
            fields["status"] = fields["score"] = "None"
        alerts = _alerts(w, fields, compiled)
        nothing = w.const(FrozenDict())
        w.line(f"return _result({lead_id}, None, None, {nothing}, (), {alerts}, {totals})")
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
