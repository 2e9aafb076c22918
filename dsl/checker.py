"""The checker: an ordered list of named passes over a ruleset's modules, each returning findings.

header -> declarations -> names -> types -> tables -> lints. Every pass sees the whole ruleset
and reports everything it finds; an unresolved name types as `any` afterwards, so one mistake is
reported once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from dsl import canonical
from dsl import nodes as n
from dsl.diagnostics import Diagnostic, Severity, did_you_mean, sort_diagnostics
from dsl.model import ANY, FieldType, Model, build_model
from dsl.source import Span

Pass = Callable[[Model, Sequence[n.Module]], list[Diagnostic]]

# ----------------------------------------------------------------------------- vocabulary
ROUNDING_MODES = ("half_up", "half_even", "half_down", "up", "down")
PERIODS = ("month", "quarter", "year")
THRESHOLD_MODES = ("gate", "floor")
RATE_METHODS = ("retroactive", "marginal")
RATE_BASES = ("attainment", "amount")
PRORATIONS = ("daily", "none")
RITUAL_EVERY = ("week", "month", "quarter")
REPORTS = ("stale_deals", "missing_exit_criteria", "kpis", "alerts", "attainment", "funnel")
SEVERITIES = ("info", "warning", "critical")
KPI_FAMILIES = ("volume", "profitability", "efficiency", "quality")
MAX_KPIS_PER_ROLE = 7

#: Names that betray an activity count (the method: KPIs measure results, not activity).
ACTIVITY = re.compile(
    r"(?:^|_)(calls|call_count|emails|appels|demo_time|demo_minutes|meetings|activities|tasks)"
    r"(?:_|$)"
)

#: function -> (fewest, most) arguments.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "count": (0, 1),
    "sum": (1, 1),
    "mean": (1, 1),
    "median": (1, 1),
    "min": (2, 2),
    "max": (2, 2),
    "abs": (1, 1),
    "reached": (1, 1),
    "entered_at": (1, 1),
    "attainment": (1, 1),
}
AGGREGATES = frozenset({"count", "sum", "mean", "median"})
#: Functions whose argument is an id (a stage, a measure), not an expression.
_TAKES_ID = frozenset({"reached", "entered_at", "attainment"})

_CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
_BOOLEAN = FieldType("boolean")
_NUMBERS = frozenset({"number", "integer"})
_ORDERED = frozenset({"number", "integer", "money", "percent", "date", "duration"})


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class CheckResult:
    """The ruleset's symbol tables and every finding, sorted by position."""

    model: Model
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def check(modules: Sequence[n.Module], *, strict: bool = False) -> CheckResult:
    """Run every pass over the modules of one ruleset; with `strict`, warnings become errors."""
    model = build_model(modules)
    found: list[Diagnostic] = []
    for _name, run in PASSES:
        found.extend(run(model, modules))
    if strict:
        found = [d.as_error() for d in found]
    return CheckResult(model, sort_diagnostics(found))


# ----------------------------------------------------------------------------- small helpers
def _where(span: Span) -> str:
    return f"{span.path}:{span.line}"


def _either(words: Sequence[str]) -> str:
    """`a, b or c`."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _num(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: Decimal) -> str:
    return _num(value * 100) + "%"


def _declarations(modules: Sequence[n.Module]) -> Iterator[n.Declaration]:
    for module in modules:
        yield from module.declarations


def _unknown(
    code: str, what: str, ident: n.Ident, candidates: Iterable[str], fallback: str | None = None
) -> Diagnostic:
    """`unknown <what> `x``, with a "did you mean" or, failing that, a hint."""
    help_text = did_you_mean(ident.name, candidates) or fallback
    return Diagnostic(code, f"unknown {what} `{ident.name}`", ident.span, help=help_text)


def _keyword(ident: n.Ident | None, what: str, allowed: Sequence[str]) -> list[Diagnostic]:
    """E210 when an identifier that must be one of a few keywords is not."""
    if ident is None or ident.name in allowed:
        return []
    return [_unknown("E210", what, ident, allowed, f"use {_either(allowed)}")]


def _walk(expr: n.Expr) -> Iterator[n.Expr]:
    """Every node of an expression, without recursion (expressions can be long chains)."""
    stack: list[n.Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, n.Binary):
            stack.extend((node.right, node.left))
        elif isinstance(node, n.Unary):
            stack.append(node.operand)
        elif isinstance(node, n.Membership):
            stack.extend((node.collection, node.value))
        elif isinstance(node, n.IsMissing):
            stack.append(node.value)
        elif isinstance(node, n.ListExpr):
            stack.extend(reversed(node.items))
        elif isinstance(node, n.Call):
            if node.where is not None:
                stack.append(node.where)
            stack.extend(reversed(node.args))


# ----------------------------------------------------------------------------- scopes and types
@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression sees: a record's fields, extras such as `score`, linked records
    (`territory.potential` from a rep), and which functions apply there."""

    record: str | None
    fields: Mapping[str, FieldType] = field(default_factory=dict)
    extras: Mapping[str, FieldType] = field(default_factory=dict)
    links: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    #: KPI top level: only aggregates, literals and arithmetic; fields inside aggregates.
    aggregate: bool = False
    #: Stage ids for reached()/entered_at(), None where there is no stage history.
    stages: frozenset[str] | None = None
    #: Measure ids for attainment(), None where attainment is unknown.
    measures: frozenset[str] | None = None
    currency: str | None = None


def scope_for(
    model: Model,
    record: str,
    *,
    extras: Mapping[str, FieldType] | None = None,
    aggregate: bool = False,
) -> Scope:
    """The scope of an expression on `record`; an unknown record sees everything as `any`."""
    return _make_scope(
        model, record, frozenset(model.stages), frozenset(model.measures),
        extras=extras, aggregate=aggregate,
    )  # fmt: skip


def _make_scope(
    model: Model,
    record: str | None,
    stages: frozenset[str],
    measures: frozenset[str],
    *,
    extras: Mapping[str, FieldType] | None = None,
    aggregate: bool = False,
) -> Scope:
    if record not in canonical.TABLES:
        return Scope(None)
    fields = model.records.get(record, {})
    # A field named after another record holds that record's id: `territory.potential`.
    links = {f: model.records[f] for f in fields if f in canonical.TABLES and f != record}
    staged = record == "deal" or any(p.subject.name == record for p in model.pipelines.values())
    # Attainment is known per rep and period (credited value / quota).
    return Scope(
        record, fields, dict(extras or {}), links, aggregate,
        stages if staged else None, measures if record == "rep" else None, model.currency,
    )  # fmt: skip


def type_of_expr(expr: n.Expr, scope: Scope) -> FieldType:
    """The type of an expression in a scope; `any` where it is wrong (the checker says why)."""
    try:
        return _Typer(scope).type(expr)
    except RecursionError:
        return ANY


def _describe(t: FieldType) -> str:
    return "a list" if t.kind == "list" else t.kind


def _comparable(a: FieldType, b: FieldType) -> bool:
    if "any" in (a.kind, b.kind):
        return True
    if a.numeric and b.numeric:
        return True
    if a.kind == b.kind == "one_of":
        return not a.options or not b.options or bool(set(a.options) & set(b.options))
    if {a.kind, b.kind} == {"one_of", "text"}:
        return True
    return a.kind == b.kind and a.kind in {"text", "date", "duration", "boolean"}


def _arith_kind(op: str, a: str, b: str) -> str | None:
    """The kind of `a op b`, or None when the operation makes no sense."""
    pair = {a, b}
    if op in "+-":
        if a == b and a in {"integer", "number", "money", "percent", "duration"}:
            return a
        if pair <= _NUMBERS:
            return "number"
        if "money" in pair and len(pair - {"money"} - _NUMBERS) == 0:
            return "money"  # a bare number next to an amount is an amount in the ruleset currency
        if "percent" in pair and len(pair - {"percent"} - _NUMBERS) == 0:
            return "number"
        if op == "-" and a == b == "date":
            return "duration"
        if (a, b) == ("date", "duration") or (op == "+" and (a, b) == ("duration", "date")):
            return "date"
        return None
    if op == "*":
        if pair <= _NUMBERS:
            return "integer" if a == b == "integer" else "number"
        if "money" in pair and len(pair - {"money"} - _NUMBERS - {"percent"}) == 0:
            return "money" if a != b else None
        if pair <= _NUMBERS | {"percent"}:
            return "percent" if a == b == "percent" else "number"
        if "duration" in pair and len(pair - {"duration"} - _NUMBERS) == 0 and a != b:
            return "duration"
        return None
    # division
    if a == b and a in {"money", "percent", "duration"}:
        return "number"  # a ratio
    if b in _NUMBERS | {"percent"} and a in {"money", "duration"}:
        return a
    if pair <= _NUMBERS | {"percent"}:
        return "number"
    return None


_ARITH_WORDS = {
    "+": "cannot add {a} and {b}",
    "-": "cannot subtract {b} from {a}",
    "*": "cannot multiply {a} by {b}",
    "/": "cannot divide {a} by {b}",
}


def _arith_help(op: str, a: str, b: str) -> str | None:
    if op == "*" and a == b == "money":
        return "multiply an amount by a number or a percentage, not by another amount"
    if "date" in (a, b):
        return "subtract two dates to get a duration; add a duration like 14d to a date"
    if "duration" in (a, b):
        return "durations combine with durations (30d) and scale by numbers"
    return None


def _compare_help(a: FieldType, b: FieldType) -> str | None:
    kinds = {a.kind, b.kind}
    if "duration" in kinds and kinds & _NUMBERS:
        return "write a duration with its unit, like 30d"
    if "date" in kinds and "text" in kinds:
        return "write dates without quotes, like 2026-01-01"
    if "list" in kinds:
        return "use `in` to test whether a value is in a list"
    if "boolean" in kinds:
        return "a yes/no field is compared with true or false"
    return None


_Hint = tuple[FieldType, str | None]


class _Typer:
    """Types one expression in a scope, resolving names as it goes.

    Name problems and type problems are kept apart: a bare name's meaning depends on the type of
    the other side of its comparison, so resolving and typing share this walk, and the names and
    types passes each keep their own findings.
    """

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.names: list[Diagnostic] = []
        self.types: list[Diagnostic] = []

    # entry points ----------------------------------------------------------------------
    def condition(self, expr: n.Expr) -> None:
        """Type an expression that must be true or false."""
        self.expect_boolean(expr, self.type(expr))

    def expect_boolean(self, expr: n.Expr, found: FieldType) -> None:
        """E302 unless `found` is a boolean (or unknown)."""
        if found.kind in ("boolean", "any"):
            return
        if isinstance(expr, n.Ref) and found.kind == "one_of" and found.options:
            help_text = (
                f"compare it with one of its values, e.g. `{expr.dotted} == {found.options[0]}`"
            )
        else:
            help_text = (
                "a condition compares values (`amount > 50K`), tests a list "
                "(`type in [new_logo, upsell]`) or reads a yes/no field"
            )
        self.types.append(
            Diagnostic(
                "E302",
                f"expected a condition (true or false), found {_describe(found)}",
                expr.span,
                help=help_text,
            )
        )

    def type(self, expr: n.Expr, hint: _Hint | None = None) -> FieldType:
        """The type of `expr`; `hint` is the other side of a comparison (for bare option names)."""
        if isinstance(expr, n.Ref):
            return self._ref(expr, hint)
        if isinstance(expr, n.Binary):
            if expr.op in ("and", "or", "+", "-", "*", "/"):
                return self._chain(expr)
            return self._compare(expr)
        if isinstance(expr, n.Number):
            return self._number(expr)
        if isinstance(expr, n.Percent):
            return FieldType("percent")
        if isinstance(expr, n.Duration):
            return FieldType("duration")
        if isinstance(expr, n.Date):
            return FieldType("date")
        if isinstance(expr, n.String):
            return FieldType("text")
        if isinstance(expr, n.Bool):
            return _BOOLEAN
        if isinstance(expr, n.Call):
            return self._call(expr)
        if isinstance(expr, n.Membership):
            return self._membership(expr)
        if isinstance(expr, n.IsMissing):
            self.type(expr.value)
            return _BOOLEAN
        if isinstance(expr, n.Unary):
            return self._unary(expr)
        if isinstance(expr, n.ListExpr):
            for item in expr.items:
                self.type(item, hint)
            return FieldType("list")
        return FieldType("list")  # a range outside `in`

    # names -----------------------------------------------------------------------------
    def _needs_hint(self, expr: n.Expr) -> bool:
        return isinstance(expr, n.ListExpr) or self._bare_unknown(expr)

    def _bare_unknown(self, expr: n.Expr) -> bool:
        return (
            isinstance(expr, n.Ref)
            and len(expr.parts) == 1
            and self.scope.record is not None
            and expr.parts[0] not in self.scope.extras
            and expr.parts[0] not in self.scope.fields
        )

    def _unknown_field(self, ref: n.Ref, record: str, fields: Iterable[str], why: str = "") -> None:
        name = ref.parts[-1]
        help_text = (
            did_you_mean(name, fields)
            or why
            or f"{record} has no field `{name}`; declare it in `record {record} {{ ... }}`"
        )
        self.names.append(
            Diagnostic("E201", f"unknown field `{name}` on {record}", ref.span, help=help_text)
        )

    def _ref(self, ref: n.Ref, hint: _Hint | None) -> FieldType:
        scope = self.scope
        if scope.record is None:
            return ANY
        name = ref.parts[0]
        if len(ref.parts) > 1:
            linked = scope.links.get(name)
            if linked is None or len(ref.parts) != 2:
                why = "a dotted name reads a linked record's field" + "".join(
                    f", e.g. `{link}.<field>`" for link in list(scope.links)[:1]
                )
                self.names.append(
                    Diagnostic(
                        "E201", f"unknown field `{ref.dotted}` on {scope.record}", ref.span,
                        help=why,
                    )
                )  # fmt: skip
                return ANY
            if ref.parts[1] in linked:
                return linked[ref.parts[1]]
            self._unknown_field(ref, name, linked)
            return ANY
        if name in scope.extras:
            return scope.extras[name]
        if name in scope.fields:
            if scope.aggregate:
                self.names.append(
                    Diagnostic(
                        "E214",
                        f"`{name}` is a field of each {scope.record}; a KPI reads it inside an "
                        "aggregate",
                        ref.span,
                        help=f"e.g. sum({name}), mean({name}) or count({name} is not missing)",
                    )
                )
                return ANY
            return scope.fields[name]
        if hint is not None:
            other, other_name = hint
            if other.kind == "any":
                return ANY  # the other side is already reported
            if other.kind == "one_of":
                if name in other.options:
                    return other
                owner = f" for `{other_name}`" if other_name else ""
                self.names.append(
                    Diagnostic(
                        "E209",
                        f"unknown value `{name}`{owner}",
                        ref.span,
                        help=did_you_mean(name, other.options)
                        or f"the values are {_either(other.options)}",
                    )
                )
                return ANY
            if other.kind == "text":
                owner = f"`{other_name}`" if other_name else "the other side"
                self._unknown_field(
                    ref, scope.record, scope.fields,
                    f'{owner} is text: quote the value, "{name}"',
                )  # fmt: skip
                return ANY
        self._unknown_field(ref, scope.record, [*scope.fields, *scope.extras])
        return ANY

    def _option_string(self, string: n.Expr, other: FieldType, other_expr: n.Expr) -> None:
        """A quoted string compared with a one_of field must be one of its ids or labels."""
        if not isinstance(string, n.String) or other.kind != "one_of" or not other.options:
            return
        labels = {label for _, label in other.labels}
        if string.value in other.options or string.value in labels:
            return
        owner = f" for `{other_expr.dotted}`" if isinstance(other_expr, n.Ref) else ""
        self.names.append(
            Diagnostic(
                "E209",
                f'unknown value "{string.value}"{owner}',
                string.span,
                help=did_you_mean(string.value, other.options)
                or f"the values are {_either(other.options)}",
            )
        )

    # operators -------------------------------------------------------------------------
    def _chain(self, expr: n.Binary) -> FieldType:
        # Walk a left-deep chain (`a and b and c`, `a + b - c`) in a loop, not by recursion.
        if expr.op in ("and", "or"):
            group: tuple[str, ...] = ("and", "or")
        else:
            group = ("+", "-") if expr.op in ("+", "-") else ("*", "/")
        chain: list[n.Binary] = []
        node: n.Expr = expr
        while isinstance(node, n.Binary) and node.op in group:
            chain.append(node)
            node = node.left
        result = self.type(node)
        if group[0] == "and":
            self.expect_boolean(node, result)
            for link in reversed(chain):
                self.expect_boolean(link.right, self.type(link.right))
            return _BOOLEAN
        for link in reversed(chain):
            result = self._arith(link, result, self.type(link.right))
        return result

    def _arith(self, expr: n.Binary, a: FieldType, b: FieldType) -> FieldType:
        if "any" in (a.kind, b.kind):
            return ANY
        kind = _arith_kind(expr.op, a.kind, b.kind)
        if kind is None:
            message = _ARITH_WORDS[expr.op].format(a=_describe(a), b=_describe(b))
            self.types.append(
                Diagnostic("E301", message, expr.span, help=_arith_help(expr.op, a.kind, b.kind))
            )
            return ANY
        return FieldType(kind)

    def _compare(self, expr: n.Binary) -> FieldType:
        left, right = expr.left, expr.right
        # Type first the side that gives meaning to the other (a field before a bare option).
        if self._needs_hint(left) and not self._needs_hint(right):
            rt = self.type(right)
            lt = self.type(left, (rt, right.dotted if isinstance(right, n.Ref) else None))
        else:
            lt = self.type(left)
            rt = self.type(right, (lt, left.dotted if isinstance(left, n.Ref) else None))
        self._option_string(right, lt, left)
        self._option_string(left, rt, right)
        if not _comparable(lt, rt):
            self.types.append(
                Diagnostic(
                    "E301",
                    f"cannot compare {_describe(lt)} with {_describe(rt)}",
                    expr.span,
                    help=_compare_help(lt, rt),
                )
            )
        elif expr.op not in ("==", "!=") and not {lt.kind, rt.kind} <= _ORDERED | {"any"}:
            found = lt if lt.kind not in _ORDERED else rt
            self.types.append(
                Diagnostic(
                    "E301",
                    f"`{expr.op}` needs numbers, amounts, dates or durations; "
                    f"found {_describe(found)}",
                    expr.span,
                    help="use == or != (or `in`) for values that have no order",
                )
            )
        return _BOOLEAN

    def _membership(self, expr: n.Membership) -> FieldType:
        value = self.type(expr.value)
        collection = expr.collection
        if isinstance(collection, n.RangeExpr):
            low, high = collection.low, collection.high
            if not value.numeric:
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"a range like {low.raw}..{high.raw} holds numbers; "
                        f"found {_describe(value)}",
                        expr.span,
                        help="use a list for values: `x in [a, b]`",
                    )
                )
            if low.value > high.value:
                self.types.append(
                    Diagnostic(
                        "E409",
                        f"range {low.raw}..{high.raw} is empty: {low.raw} is above {high.raw}",
                        collection.span,
                        help=f"write the lower bound first: {high.raw}..{low.raw}",
                    )
                )
            return _BOOLEAN
        hint = (value, expr.value.dotted if isinstance(expr.value, n.Ref) else None)
        for item in collection.items:
            found = self.type(item, hint)
            self._option_string(item, value, expr.value)
            if not _comparable(value, found):
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"cannot compare {_describe(value)} with {_describe(found)}",
                        item.span,
                        help=_compare_help(value, found),
                    )
                )
        return _BOOLEAN

    def _unary(self, expr: n.Unary) -> FieldType:
        operand = self.type(expr.operand)
        if expr.op == "not":
            self.expect_boolean(expr.operand, operand)
            return _BOOLEAN
        if operand.numeric or operand.kind == "duration":
            return FieldType(operand.kind) if operand.kind != "any" else ANY
        self.types.append(
            Diagnostic("E301", f"cannot negate {_describe(operand)}", expr.span, help=None)
        )
        return ANY

    def _number(self, number: n.Number) -> FieldType:
        if number.currency is None:
            return FieldType("number")
        code = _CURRENCY_SYMBOLS.get(number.currency, number.currency)
        if self.scope.currency and code != self.scope.currency:
            self.types.append(_currency_mismatch(number, code, self.scope.currency))
        return FieldType("money")

    # calls -----------------------------------------------------------------------------
    def _call(self, call: n.Call) -> FieldType:
        name = call.function
        scope = self.scope
        if name not in FUNCTIONS:
            self.names.append(
                Diagnostic(
                    "E211",
                    f"unknown function `{name}`",
                    call.span,
                    help=did_you_mean(name, FUNCTIONS)
                    or f"functions: {_either(sorted(FUNCTIONS))}",
                )
            )
            self._arguments_only(call)
            return ANY
        fewest, most = FUNCTIONS[name]
        if not fewest <= len(call.args) <= most:
            wanted = f"{fewest}" if fewest == most else f"{fewest} or {most}"
            plural = "" if most == 1 else "s"
            self.types.append(
                Diagnostic(
                    "E303",
                    f"`{name}` takes {wanted} argument{plural}, got {len(call.args)}",
                    call.span,
                    help=_SIGNATURES[name],
                )
            )
            self._arguments_only(call)
            return ANY
        if call.where is not None and name not in AGGREGATES:
            self.types.append(
                Diagnostic(
                    "E303",
                    f"`{name}` takes no `where` filter",
                    call.where.span,
                    help="only count, sum, mean and median filter: sum(amount where status == won)",
                )
            )
        if name in AGGREGATES:
            return self._aggregate(call)
        if scope.aggregate and name in _TAKES_ID:
            self.names.append(
                _not_here(call, f"it reads one {scope.record}: use it inside an aggregate")
            )
            return ANY
        if name in ("reached", "entered_at"):
            return self._stage_call(call)
        if name == "attainment":
            return self._attainment(call)
        args = [self.type(arg) for arg in call.args]
        kinds = ("duration",) if name == "abs" else ("duration", "date")
        for arg, found in zip(call.args, args, strict=True):
            if not (found.numeric or found.kind in kinds):
                wanted = (
                    "numbers, amounts or durations"
                    if name == "abs"
                    else ("numbers, amounts, dates or durations")
                )
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"`{name}` needs {wanted}; found {_describe(found)}",
                        arg.span,
                        help=_SIGNATURES[name],
                    )
                )
                return ANY
        if name == "abs":
            return args[0]
        a, b = args
        if "any" in (a.kind, b.kind):
            return ANY
        if a.kind == b.kind:
            return a
        if a.numeric and b.numeric:
            return FieldType("money" if "money" in (a.kind, b.kind) else "number")
        self.types.append(
            Diagnostic(
                "E301",
                f"`{name}` needs two values of one kind; found {_describe(a)} and {_describe(b)}",
                call.span,
                help=_SIGNATURES[name],
            )
        )
        return ANY

    def _arguments_only(self, call: n.Call) -> None:
        # A call that is already reported: resolve names in its arguments as a record reads
        # them, and report no type in it.
        if call.function in _TAKES_ID:
            return
        inner = _Typer(replace(self.scope, aggregate=False))
        for arg in [*call.args, *([call.where] if call.where else [])]:
            inner.type(arg)
        self.names.extend(inner.names)

    def _aggregate(self, call: n.Call) -> FieldType:
        name = call.function
        if not self.scope.aggregate:
            self.names.append(
                _not_here(call, "aggregates belong in a KPI value; here one record is read")
            )
        inner = _Typer(replace(self.scope, aggregate=False))
        found = [inner.type(arg) for arg in call.args]
        if call.where is not None:
            inner.condition(call.where)
        if name == "count":
            if call.args:
                inner.expect_boolean(call.args[0], found[0])
            result = FieldType("integer")
        else:
            value = found[0]
            if not (value.numeric or value.kind == "duration"):
                inner.types.append(
                    Diagnostic(
                        "E301",
                        f"`{name}` needs numbers, amounts or durations; found {_describe(value)}",
                        call.args[0].span,
                        help=_SIGNATURES[name],
                    )
                )
                result = ANY
            elif name == "sum" or value.kind != "integer":
                result = FieldType(value.kind)
            else:
                result = FieldType("number")  # the mean of whole numbers is not whole
        self.names.extend(inner.names)
        self.types.extend(inner.types)
        return result

    def _stage_call(self, call: n.Call) -> FieldType:
        result = _BOOLEAN if call.function == "reached" else FieldType("date")
        stages = self.scope.stages
        if self.scope.record is None:
            return result
        if stages is None:
            self.names.append(
                _not_here(call, f"it reads a deal's stage history; {self.scope.record} has none")
            )
            return result
        arg = call.args[0]
        if not (isinstance(arg, n.Ref) and len(arg.parts) == 1):
            self.types.append(
                Diagnostic(
                    "E301",
                    f"`{call.function}` takes a stage id",
                    arg.span,
                    help=_SIGNATURES[call.function],
                )
            )
            return result
        if arg.parts[0] not in stages:
            ident = n.Ident(arg.parts[0], span=arg.span)
            self.names.append(_unknown("E202", "stage", ident, stages, _no_such("stage", stages)))
        return result

    def _attainment(self, call: n.Call) -> FieldType:
        measures = self.scope.measures
        if measures is None:
            if self.scope.record is not None:
                self.names.append(
                    _not_here(call, "attainment is known per rep and period: use it in an "
                              "expression on rep")
                )  # fmt: skip
            return FieldType("percent")
        arg = call.args[0]
        if not (isinstance(arg, n.Ref) and len(arg.parts) == 1):
            self.types.append(
                Diagnostic(
                    "E301", "`attainment` takes a measure id", arg.span,
                    help=_SIGNATURES["attainment"],
                )
            )  # fmt: skip
        elif arg.parts[0] not in measures:
            ident = n.Ident(arg.parts[0], span=arg.span)
            self.names.append(
                _unknown("E212", "measure", ident, measures, _no_such("measure", measures))
            )
        return FieldType("percent")


_SIGNATURES = {
    "count": "count() or count(condition)",
    "sum": "sum(value) or sum(value where condition)",
    "mean": "mean(value) or mean(value where condition)",
    "median": "median(value) or median(value where condition)",
    "min": "min(a, b)",
    "max": "max(a, b)",
    "abs": "abs(x)",
    "reached": "reached(stage), e.g. reached(qualification)",
    "entered_at": "entered_at(stage), e.g. entered_at(proposal)",
    "attainment": "attainment(measure), e.g. attainment(bookings)",
}


def _not_here(call: n.Call, why: str) -> Diagnostic:
    return Diagnostic("E214", f"`{call.function}` is not available here", call.span, help=why)


def _no_such(what: str, names: Iterable[str], where: str = "") -> str:
    known = sorted(names)
    if not known:
        return f"no {what}{where} is declared"
    if len(known) > 8:
        return f"{len(known)} {what}s{where} are declared; check the spelling"
    return f"the {what}s{where} are {_either(known)}"


def _currency_mismatch(number: n.Number, code: str, currency: str) -> Diagnostic:
    return Diagnostic(
        "E301",
        f"amount in {code}, but the ruleset's currency is {currency}",
        number.span,
        help=f"write it in {currency}, or without a currency",
    )


# ----------------------------------------------------------------------------- pass 1: header
def check_header(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """Exactly one `ruleset` header; its currency and rounding make sense."""
    headers = [d for d in _declarations(modules) if isinstance(d, n.Ruleset)]
    found: list[Diagnostic] = []
    if not headers:
        if modules:
            path = modules[0].path
            found.append(
                Diagnostic(
                    "E005",
                    "no `ruleset` header",
                    Span(path, 0, 0, 1, 1, 1, 1),
                    help='start one file with `ruleset <id> "Label" { currency EUR '
                    "rounding half_up 0.01 }`",
                )
            )
        return found
    for extra in headers[1:]:
        found.append(
            Diagnostic(
                "E005",
                "a second `ruleset` header",
                extra.name.span,
                help=f"the ruleset is declared at {_where(headers[0].name.span)}; "
                "keep one header per ruleset folder",
            )
        )
    for header in headers:
        currency = header.currency
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency.name):
            upper = currency.name.upper()
            found.append(
                Diagnostic(
                    "E210",
                    f"`{currency.name}` is not a currency code",
                    currency.span,
                    help=f"write it in capitals: {upper}"
                    if re.fullmatch(r"[A-Z]{3}", upper)
                    else "use a 3-letter ISO 4217 code like EUR, USD or GBP",
                )
            )
        if header.rounding is not None:
            found.extend(_keyword(header.rounding.mode, "rounding mode", ROUNDING_MODES))
            step = header.rounding.step
            if step.value <= 0:
                found.append(
                    Diagnostic(
                        "E409",
                        f"rounding step {step.raw} must be above 0",
                        step.span,
                        help="e.g. 0.01 to round to cents, 1 to whole units",
                    )
                )
    return found


# ----------------------------------------------------------------------------- pass 2: declarations
def _duplicates(idents: Iterable[n.Ident]) -> list[Diagnostic]:
    first: dict[str, n.Ident] = {}
    found: list[Diagnostic] = []
    for ident in idents:
        seen = first.setdefault(ident.name, ident)
        if seen is not ident:
            found.append(
                Diagnostic(
                    "E207",
                    f"`{ident.name}` is already defined",
                    ident.span,
                    help=f"first defined at {_where(seen.span)}",
                )
            )
    return found


def _record_name(ident: n.Ident) -> list[Diagnostic]:
    if ident.name in canonical.TABLES:
        return []
    return [
        _unknown(
            "E208", "record", ident, canonical.TABLES,
            f"the records are {_either(list(canonical.TABLES))}",
        )
    ]  # fmt: skip


def _redeclared(record: str, item: n.Field) -> list[Diagnostic]:
    """A declared field may narrow a canonical text column to one_of, or keep its type."""
    columns = {c.name: c for c in canonical.TABLES[record] + canonical.DERIVED.get(record, ())}
    column = columns.get(item.name.name)
    spec = item.type
    if column is None or (spec.name == column.type and spec.name != "one_of"):
        return []
    if column.type == "text" and spec.name == "one_of":
        return []
    if column.type == spec.name == "one_of":
        extra = [o for o in spec.options if o.name.name not in column.options]
        return [
            Diagnostic(
                "E301",
                f"`{o.name.name}` is not a value of {record}.{column.name}",
                o.name.span,
                help=f"{record}.{column.name} takes {_either(column.options)}",
            )
            for o in extra
        ]
    return [
        Diagnostic(
            "E301",
            f"`{column.name}` is a {column.type} column of {record}; it cannot become {spec.name}",
            spec.span,
            help=f"keep it {column.type}"
            + (", or narrow it to one_of" if column.type == "text" else ""),
        )
    ]


def check_declarations(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """Duplicate names per namespace, unknown record names, canonical columns redeclared."""
    found: list[Diagnostic] = []
    top: dict[type, list[n.Ident]] = {}
    stages: list[n.Ident] = []
    qualified: list[n.Ident] = []
    fields: dict[str, list[n.Ident]] = {}
    for decl in _declarations(modules):
        if isinstance(decl, (n.Ruleset, n.Strategy)):
            continue
        if isinstance(decl, n.Qualify):
            qualified.append(decl.subject)
            found.extend(_record_name(decl.subject))
            continue
        if isinstance(decl, n.Record):
            found.extend(_record_name(decl.name))
            fields.setdefault(decl.name.name, []).extend(f.name for f in decl.fields)
            for item in decl.fields:
                found.extend(_duplicates(o.name for o in item.type.options))
                bounds = item.type.range
                if bounds is not None and bounds.low.value > bounds.high.value:
                    found.append(
                        Diagnostic(
                            "E409",
                            f"range {bounds.low.raw}..{bounds.high.raw} is empty: "
                            f"{bounds.low.raw} is above {bounds.high.raw}",
                            bounds.span,
                            help=f"write the lower bound first: "
                            f"{bounds.high.raw}..{bounds.low.raw}",
                        )
                    )
                if decl.name.name in canonical.TABLES:
                    found.extend(_redeclared(decl.name.name, item))
            continue
        top.setdefault(type(decl), []).append(decl.name)
        if isinstance(decl, n.Score):
            found.extend(_record_name(decl.subject))
            found.extend(_duplicates(c.name for c in decl.criteria))
            found.extend(_duplicates(s.name for s in decl.statuses))
        elif isinstance(decl, n.Pipeline):
            found.extend(_record_name(decl.subject))
            for stage in decl.stages:
                stages.append(stage.name)
                found.extend(_duplicates(e.name for e in stage.exits))
        elif isinstance(decl, n.Playbook):
            found.extend(_record_name(decl.subject))
            found.extend(_duplicates(i.name for i in decl.items if isinstance(i, n.Requirement)))
        elif isinstance(decl, (n.Kpi, n.Alert)):
            found.extend(_record_name(decl.subject))
        elif isinstance(decl, n.Plan):
            found.extend(_duplicates(m.name for m in decl.measures))
            for measure in decl.measures:
                for credit in (i for i in measure.items if isinstance(i, n.Credit)):
                    if credit.source.name not in canonical.PLURALS:
                        found.append(
                            _unknown(
                                "E208", "records", credit.source, canonical.PLURALS,
                                f"credit {_either(list(canonical.PLURALS))}",
                            )
                        )  # fmt: skip
    for idents in [*top.values(), stages, *fields.values()]:
        found.extend(_duplicates(idents))
    for dup in _duplicates(qualified):
        name = dup.message.split("`")[1]
        found.append(replace(dup, message=f"`qualify {name}` is already defined"))
    return found


# ----------------------------------------------------------------------------- expressions
class _Expressions:
    """Every expression of a ruleset, typed in its scope; findings split by kind (names, types)."""

    def __init__(self, model: Model, modules: Sequence[n.Module]) -> None:
        self.model = model
        self.names: list[Diagnostic] = []
        self.types: list[Diagnostic] = []
        self._stages = frozenset(model.stages)
        self._measures = frozenset(model.measures)
        self._scopes: dict[tuple[str, bool, bool], Scope] = {}
        for decl in _declarations(modules):
            self._declaration(decl)

    def scope(self, record: str | None, *, score: bool = False, aggregate: bool = False) -> Scope:
        """The (cached) scope of expressions on a record."""
        key = (record or "", score, aggregate)
        if key not in self._scopes:
            extras = {"score": FieldType("number")} if score else None
            self._scopes[key] = _make_scope(
                self.model, record, self._stages, self._measures,
                extras=extras, aggregate=aggregate,
            )  # fmt: skip
        return self._scopes[key]

    def _run(self, expr: n.Expr, scope: Scope, condition: bool) -> tuple[_Typer, FieldType]:
        typer = _Typer(scope)
        try:
            found = typer.type(expr)
            if condition:
                typer.expect_boolean(expr, found)
        except RecursionError:
            typer.types = [Diagnostic("E004", "expression nested too deeply", expr.span)]
            found = ANY
        self.names.extend(typer.names)
        self.types.extend(typer.types)
        return typer, found

    def condition(self, expr: n.Expr, scope: Scope) -> None:
        """Type a condition."""
        self._run(expr, scope, condition=True)

    def value(self, expr: n.Expr, scope: Scope) -> FieldType:
        """Type a value."""
        return self._run(expr, scope, condition=False)[1]

    def mismatch(self, span: Span, message: str, help_text: str | None) -> None:
        """Record a type mismatch found by a context's expectation."""
        self.types.append(Diagnostic("E301", message, span, help=help_text))

    def field(self, ident: n.Ident, scope: Scope, why: str | None = None) -> FieldType:
        """The type of a field named by an identifier (not an expression)."""
        if scope.record is None:
            return ANY
        if ident.name in scope.fields:
            return scope.fields[ident.name]
        help_text = (
            did_you_mean(ident.name, scope.fields)
            or why
            or (
                f"{scope.record} has no field `{ident.name}`; "
                f"declare it in `record {scope.record} {{ ... }}`"
            )
        )
        self.names.append(
            Diagnostic(
                "E201", f"unknown field `{ident.name}` on {scope.record}", ident.span,
                help=help_text,
            )
        )  # fmt: skip
        return ANY

    # per declaration -------------------------------------------------------------------
    def _declaration(self, decl: n.Declaration) -> None:
        if isinstance(decl, n.Score):
            self._score(decl)
        elif isinstance(decl, n.Qualify):
            scope = self.scope(decl.subject.name)
            for route in decl.routes:
                if route.condition is not None:
                    self.condition(route.condition, scope)
        elif isinstance(decl, n.Pipeline):
            scope = self.scope(decl.subject.name)
            for stage in decl.stages:
                for exit_ in stage.exits:
                    self.condition(exit_.condition, scope)
        elif isinstance(decl, n.Playbook):
            scope = self.scope(decl.subject.name)
            if decl.condition is not None:
                self.condition(decl.condition, scope)
            for item in decl.items:
                if isinstance(item, n.Requirement):
                    self.condition(item.condition, scope)
        elif isinstance(decl, n.Kpi):
            self._kpi(decl)
        elif isinstance(decl, n.Strategy):
            scope = self.scope("deal")
            for entry in decl.items:
                if isinstance(entry, (n.StrategyGrowth, n.StrategyFocus)):
                    self.condition(entry.condition, scope)
        elif isinstance(decl, n.Plan):
            for measure in decl.measures:
                for part in measure.items:
                    if isinstance(part, n.Credit):
                        self._credit(part)
                    elif isinstance(part, n.QuotaFormula):
                        found = self.value(part.formula, self.scope("rep"))
                        if not found.numeric:
                            self.mismatch(
                                part.formula.span,
                                f"a quota is an amount or a number; found {_describe(found)}",
                                "e.g. `quota formula 250K * territory.potential`",
                            )
        elif isinstance(decl, n.Alert):
            self.condition(decl.condition, self.scope(decl.subject.name))

    def _score(self, score: n.Score) -> None:
        scope = self.scope(score.subject.name)
        for criterion in score.criteria:
            if isinstance(criterion, n.FieldCriterion):
                found = self.field(criterion.field, scope)
                if found.kind not in ("integer", "number", "any"):
                    self.mismatch(
                        criterion.field.span,
                        f"criterion `{criterion.name.name}` takes its points from "
                        f"`{criterion.field.name}`, which is {_describe(found)}",
                        "the points of `criterion -> field` come from a number or integer field",
                    )
                continue
            values = [c for c in criterion.cases if isinstance(c, n.ValueCase)]
            for case in criterion.cases:
                if isinstance(case, n.WhenCase):
                    self.condition(case.condition, scope)
            if values:
                self._value_cases(criterion, values, scope)
        status_scope = self.scope(score.subject.name, score=True)
        for status in score.statuses:
            if status.condition is not None:
                self.condition(status.condition, status_scope)

    def _value_cases(self, criterion: n.Criterion, values: list[n.ValueCase], scope: Scope) -> None:
        target = criterion.of or criterion.name
        why = (
            "a criterion with value cases scores the field it is named after; "
            "name it after a field or add `of <field>`"
        )
        found = self.field(target, scope, why)
        if found.kind == "any":
            return
        if found.kind != "one_of":
            self.mismatch(
                target.span,
                f"value cases need a one_of field; `{target.name}` is {_describe(found)}",
                f"use `when` cases, e.g. `when {target.name} > 0 -> 5`",
            )
            return
        for case in values:
            if case.value.name not in found.options:
                self.names.append(
                    Diagnostic(
                        "E209",
                        f"unknown value `{case.value.name}` for `{target.name}`",
                        case.value.span,
                        help=did_you_mean(case.value.name, found.options)
                        or f"the values are {_either(found.options)}",
                    )
                )

    def _kpi(self, kpi: n.Kpi) -> None:
        found = self.value(kpi.value, self.scope(kpi.subject.name, aggregate=True))
        if not (found.numeric or found.kind == "duration"):
            self.mismatch(
                kpi.value.span,
                f"a KPI is a number, an amount, a percentage or a duration; "
                f"found {_describe(found)}",
                "e.g. count(status == won) or sum(amount where status == won)",
            )
            return
        target = kpi.target
        if target is None or found.kind == "any":
            return
        wanted = FieldType("duration" if isinstance(target.value, n.Duration) else "number")
        if not _comparable(found, wanted):
            self.mismatch(
                target.value.span,
                f"the target is a {_describe(wanted)}, but the KPI is a {_describe(found)}",
                "write a duration target with its unit, like 60d"
                if found.kind == "duration"
                else "a duration target needs a KPI that measures time",
            )

    def _credit(self, credit: n.Credit) -> None:
        record = canonical.PLURALS.get(credit.source.name)
        scope = self.scope(record)
        if credit.value is not None:
            found = self.value(credit.value, scope)
            if not found.numeric:
                self.mismatch(
                    credit.value.span,
                    f"a credit is a number or an amount; found {_describe(found)}",
                    "e.g. `credit amount of deals` or `credit count of deals`",
                )
        if credit.where is not None:
            self.condition(credit.where, scope)
        if credit.to is not None:
            found = self.field(credit.to, scope)
            if found.kind not in ("text", "any"):
                self.mismatch(
                    credit.to.span,
                    f"`to` names the rep a credit goes to: a text field; "
                    f"`{credit.to.name}` is {_describe(found)}",
                    "e.g. `to sdr_id`, with `sdr_id text` declared on the record",
                )
        if credit.dated is not None:
            found = self.value(credit.dated, scope)
            if found.kind not in ("date", "any"):
                self.mismatch(
                    credit.dated.span,
                    f"`dated` takes a date; found {_describe(found)}",
                    "e.g. `dated close_date` or `dated entered_at(qualification)`",
                )


# ----------------------------------------------------------------------------- pass 3: names
def check_names(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """Every reference resolves: fields, values, stages, scores, plans, roles, KPIs, keywords."""
    found = list(_Expressions(model, modules).names)
    all_stages = list(model.stages)
    stage_help = _no_such("stage", all_stages)
    for decl in _declarations(modules):
        if isinstance(decl, n.Qualify):
            subject = decl.subject.name
            fitting = [s for s, v in model.scores.items() if v.subject.name == subject]
            for route in decl.routes:
                score = model.scores.get(route.score.name)
                if score is None:
                    found.append(
                        _unknown(
                            "E203",
                            "score",
                            route.score,
                            fitting,
                            _no_such("score", fitting, f" on {subject}"),
                        )
                    )
                elif score.subject.name != subject and subject in canonical.TABLES:
                    found.append(
                        Diagnostic(
                            "E203",
                            f"score `{route.score.name}` is on {score.subject.name}, not {subject}",
                            route.score.span,
                            help=f"`qualify {subject}` routes to scores on {subject}",
                        )
                    )
        elif isinstance(decl, n.Pipeline):
            own = [s.name.name for s in decl.stages]
            for element in decl.items:
                if isinstance(element, n.ExpectConversion):
                    for ident in (element.source, element.target):
                        if ident.name not in own:
                            found.append(
                                _unknown("E202", "stage", ident, own, _no_such("stage", own))
                            )
        elif isinstance(decl, n.Playbook):
            for step in decl.items:
                if (
                    isinstance(step, n.Requirement)
                    and step.before is not None
                    and step.before.name not in model.stages
                ):
                    found.append(_unknown("E202", "stage", step.before, all_stages, stage_help))
        elif isinstance(decl, n.Kpi):
            found.extend(_keyword(decl.family, "KPI family", KPI_FAMILIES))
        elif isinstance(decl, n.Role):
            for entry in decl.items:
                if isinstance(entry, n.RoleKpis):
                    found.extend(_references(entry.names, "E206", "KPI", model.kpis))
                elif isinstance(entry, n.RolePlans):
                    found.extend(_references(entry.names, "E204", "plan", model.plans))
        elif isinstance(decl, n.Plan):
            found.extend(_plan_names(model, decl))
        elif isinstance(decl, n.Alert):
            found.extend(_keyword(decl.severity, "severity", SEVERITIES))
        elif isinstance(decl, n.Ritual):
            found.extend(_keyword(decl.every, "ritual frequency", RITUAL_EVERY))
            shown = [*REPORTS, *model.kpis]
            for ident in decl.shows:
                if ident.name not in shown:
                    found.append(
                        _unknown(
                            "E206", "report or KPI", ident, shown,
                            f"the reports are {_either(REPORTS)}, or name a KPI",
                        )
                    )  # fmt: skip
    return found


def _references(
    idents: Iterable[n.Ident], code: str, what: str, known: Mapping[str, object]
) -> list[Diagnostic]:
    return [
        _unknown(code, what, i, known, _no_such(what, known)) for i in idents if i.name not in known
    ]


def _plan_names(model: Model, plan: n.Plan) -> list[Diagnostic]:
    found = _references([plan.role], "E205", "role", model.roles)
    for item in plan.items:
        if isinstance(item, n.Period):
            found.extend(_keyword(item.unit, "period", PERIODS))
        elif isinstance(item, n.TargetVariable):
            found.extend(_keyword(item.per, "period", PERIODS))
        elif isinstance(item, n.Proration):
            found.extend(_keyword(item.mode, "proration", PRORATIONS))
    for measure in plan.measures:
        for entry in measure.items:
            if isinstance(entry, n.Threshold):
                found.extend(_keyword(entry.mode, "threshold mode", THRESHOLD_MODES))
            elif isinstance(entry, n.Rates):
                found.extend(_keyword(entry.method, "rate method", RATE_METHODS))
                found.extend(_keyword(entry.basis, "rate basis", RATE_BASES))
    return found


# ----------------------------------------------------------------------------- pass 4: types
def check_types(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """Every expression has a type; conditions are booleans; sides and arguments agree."""
    found = list(_Expressions(model, modules).types)
    currency = model.currency
    for decl in _declarations(modules):
        if not isinstance(decl, n.Plan):
            continue
        amounts: list[n.Number] = []
        for item in decl.items:
            if isinstance(item, n.TargetVariable):
                amounts.append(item.amount)
            elif isinstance(item, (n.Cap, n.BudgetGuardrail)) and isinstance(item.limit, n.Number):
                amounts.append(item.limit)
        for measure in decl.measures:
            for entry in measure.items:
                if isinstance(entry, (n.PerUnit, n.Bonus)):
                    amounts.append(entry.amount)
                elif isinstance(entry, n.Cap) and isinstance(entry.limit, n.Number):
                    amounts.append(entry.limit)
        for amount in amounts:
            code = _CURRENCY_SYMBOLS.get(amount.currency or "", amount.currency)
            if code is not None and code != currency:
                found.append(_currency_mismatch(amount, code, currency))
    return found


# ----------------------------------------------------------------------------- pass 5: tables
def check_tables(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """Tier bands, weights, score maxima, reachable thresholds and cases, stages, plans."""
    found: list[Diagnostic] = []
    for decl in _declarations(modules):
        if isinstance(decl, n.Score):
            found.extend(_score_table(model, decl))
        elif isinstance(decl, n.Pipeline):
            for stage in decl.stages:
                if not stage.exits:
                    found.append(
                        Diagnostic(
                            "E406",
                            f"stage `{stage.name.name}` has no exit criterion",
                            stage.name.span,
                            help='add `exit <id> "Label": <condition>`: what must hold before '
                            "a deal leaves the stage",
                        )
                    )
        elif isinstance(decl, n.Playbook):
            for item in decl.items:
                if isinstance(item, n.ExpectWinRate) and item.low.value > item.high.value:
                    found.append(
                        Diagnostic(
                            "E409",
                            f"win rate {item.low.raw}..{item.high.raw} is empty: "
                            f"{item.low.raw} is above {item.high.raw}",
                            item.span,
                            help=f"write the lower bound first: {item.high.raw}..{item.low.raw}",
                        )
                    )
        elif isinstance(decl, n.Plan):
            found.extend(_plan_table(decl))
    return found


def _reachable_cases(criterion: n.Criterion) -> tuple[list[n.Case], list[n.Case], list[n.Case]]:
    """(cases that can match, cases after `otherwise`, value cases repeating an option)."""
    live: list[n.Case] = []
    dead: list[n.Case] = []
    repeated: list[n.Case] = []
    seen: set[str] = set()
    for case in criterion.cases:
        if dead or (live and isinstance(live[-1], n.OtherwiseCase)):
            dead.append(case)
        elif isinstance(case, n.ValueCase) and case.value.name in seen:
            repeated.append(case)
        else:
            if isinstance(case, n.ValueCase):
                seen.add(case.value.name)
            live.append(case)
    return live, dead, repeated


def _score_table(model: Model, score: n.Score) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    fields = model.records.get(score.subject.name, {})
    maxima: list[tuple[str, Decimal]] = []
    for criterion in score.criteria:
        if isinstance(criterion, n.FieldCriterion):
            typed = fields.get(criterion.field.name)
            if typed is not None and typed.range is not None:
                maxima.append((criterion.name.name, typed.range[1]))
            continue
        live, dead, repeated = _reachable_cases(criterion)
        found.extend(_after_otherwise(case.span) for case in dead)
        for case in repeated:
            assert isinstance(case, n.ValueCase)
            found.append(
                Diagnostic(
                    "W504",
                    f"`{case.value.name}` is already matched above",
                    case.span,
                    Severity.WARNING,
                    help="the first matching case wins: remove this one",
                )
            )
        maxima.append(
            (criterion.name.name, max((c.points.value for c in live), default=Decimal(0)))
        )
    reachable: Decimal | None = None
    if len(maxima) == len(score.criteria):
        reachable = sum((m for _, m in maxima), Decimal(0))
    if score.max is not None and reachable is not None and reachable != score.max.value:
        total, declared = _num(reachable), _num(score.max.value)
        message = (
            f"criteria can reach at most {total} of {declared}"
            if reachable < score.max.value
            else f"criteria can reach {total}, more than the max of {declared}"
        )
        found.append(
            Diagnostic(
                "E403",
                message,
                score.max.span,
                help="the most each criterion gives: "
                + ", ".join(f"{name} {_num(m)}" for name, m in maxima),
            )
        )
    if reachable is None and score.max is not None:
        reachable = score.max.value
    otherwise = False
    for status in score.statuses:
        if otherwise and not status.knockout:
            # Knock-outs win whatever their position; other statuses are first-match.
            found.append(_after_otherwise(status.span))
        otherwise = otherwise or status.condition is None
        threshold = _score_threshold(status.condition)
        if threshold is None or reachable is None:
            continue
        op, level = threshold
        if level >= reachable if op == ">" else level > reachable:
            assert status.condition is not None
            top = _num(reachable)
            found.append(
                Diagnostic(
                    "E404",
                    f"status `{status.name.name}` can never be reached: the score is at most {top}",
                    status.condition.span,
                    help=f"lower the threshold below {top}"
                    if op == ">"
                    else f"lower the threshold to {top} or less",
                )
            )
    return found


def _after_otherwise(span: Span) -> Diagnostic:
    return Diagnostic(
        "E405",
        "unreachable: `otherwise` above already matches everything",
        span,
        help="move `otherwise` to the end",
    )


def _score_threshold(condition: n.Expr | None) -> tuple[str, Decimal] | None:
    """(`>` or `>=`, T) for `score > T`, `score >= T` (or `T < score`, `T <= score`)."""
    if not isinstance(condition, n.Binary):
        return None
    left, op, right = condition.left, condition.op, condition.right
    if isinstance(left, n.Number) and op in ("<", "<="):
        left, right, op = right, left, ">" if op == "<" else ">="
    if op in (">", ">=") and left == n.Ref(("score",)) and isinstance(right, n.Number):
        return op, right.value
    return None


def _bands(bands: Sequence[n.Band], kind: type, table: str, span: Span) -> list[Diagnostic]:
    """Bands sorted from 0, contiguous (inclusivity counted), only the last one open-ended."""
    if not bands:
        return [Diagnostic("E401", f"`{table}` has no bands", span, help="add e.g. [0%, ...) 10%")]
    zero = "0%" if kind is n.Percent else "0"
    example = "80%" if kind is n.Percent else "100K"
    for band in bands:
        for bound in (band.low, band.high):
            if bound is not None and not isinstance(bound, kind):
                what = "percentages like 80%" if kind is n.Percent else "amounts like 100K"
                return [
                    Diagnostic(
                        "E301",
                        f"the bounds of `{table}` are {what}; found {bound.raw}",
                        bound.span,
                        help="write every bound of one table the same way",
                    )
                ]
    found: list[Diagnostic] = []
    first = bands[0]
    if first.low.value != 0 or not first.low_inclusive:
        found.append(
            Diagnostic(
                "E401",
                f"the first band starts at {first.low.raw}, not at 0",
                first.span,
                help=f"start the table at 0, e.g. [{zero}, {first.low.raw}) 0%",
            )
        )
    previous: n.Band | None = None
    for band in bands:
        problem = _band_problem(previous, band, example)
        if problem is not None:
            found.append(Diagnostic("E401", problem[0], problem[1], help=problem[2]))
        previous = band
    return found


def _band_problem(
    previous: n.Band | None, band: n.Band, example: str
) -> tuple[str, Span, str] | None:
    """(message, span, help) for the first problem between a band and the one before it."""
    if band.high is not None and band.low.value >= band.high.value:
        return (
            f"band from {band.low.raw} to {band.high.raw} is empty",
            band.span,
            "a band's lower bound comes first and is below its upper bound",
        )
    if previous is None:
        return None
    if previous.high is None:
        return (
            "only the last band may be open-ended",
            previous.span,
            f"give this band an upper bound, e.g. [{previous.low.raw}, {example})",
        )
    end, start = previous.high, band.low
    if start.value < previous.low.value:
        return (
            f"bands are out of order: {start.raw} comes after {previous.low.raw}",
            band.span,
            "list the bands from the lowest to the highest",
        )
    if start.value > end.value:
        return (
            f"gap between {end.raw} and {start.raw}",
            band.span,
            f"start this band where the previous one ends, at {end.raw}",
        )
    if start.value < end.value:
        return (
            f"overlap between {start.raw} and {end.raw}",
            band.span,
            f"start this band where the previous one ends, at {end.raw}",
        )
    if previous.high_inclusive and band.low_inclusive:
        return (
            f"overlap at {end.raw}: both bands include it",
            band.span,
            f"include it in one band only: [a, {end.raw}) then [{end.raw}, b)",
        )
    if not previous.high_inclusive and not band.low_inclusive:
        return (
            f"gap at {end.raw}: neither band includes it",
            band.span,
            f"include it in one band: [a, {end.raw}) then [{end.raw}, b)",
        )
    return None


def _curve_table(curve: n.Curve) -> list[Diagnostic]:
    """Curve levels strictly increase; `below` comes first; an open slope comes last."""
    found: list[Diagnostic] = []
    level: Decimal | None = None
    after_below = False
    for index, point in enumerate(curve.points):
        if isinstance(point, n.CurveBelow) and index > 0:
            found.append(
                Diagnostic(
                    "E409", "`below` must be the first point of a curve", point.span,
                    help="`below L pay P` says what is paid under the first level",
                )
            )  # fmt: skip
            continue
        if isinstance(point, n.CurveSlope) and point.until is None:
            if index != len(curve.points) - 1:
                found.append(
                    Diagnostic(
                        "E409",
                        "a slope without `to` runs on forever: it must be the last point",
                        point.span,
                        help="add `to <level>` to end it, e.g. `slope 1.5 to 130%`",
                    )
                )
            continue
        current = point.until if isinstance(point, n.CurveSlope) else point.level
        assert current is not None
        backwards = current.value < level if level is not None else False
        if level is not None and (backwards or (current.value == level and not after_below)):
            found.append(
                Diagnostic(
                    "E409",
                    f"curve levels must increase: {current.raw} comes after {_pct(level)}",
                    point.span,
                    help="list the points from the lowest attainment to the highest",
                )
            )
        level = current.value
        after_below = isinstance(point, n.CurveBelow)
    return found


def _plan_table(plan: n.Plan) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    measures = plan.measures
    weighted = [m for m in measures if m.weight is not None]
    if weighted and len(weighted) < len(measures):
        for measure in measures:
            if measure.weight is None:
                found.append(
                    Diagnostic(
                        "E402",
                        f"measure `{measure.name.name}` has no weight",
                        measure.name.span,
                        help=f"plan `{plan.name.name}` weights its other measures: weight every "
                        "measure, the weights summing to 100%",
                    )
                )
    elif weighted:
        total = sum((m.weight.value for m in weighted if m.weight is not None), Decimal(0))
        if total != 1:
            shares = ", ".join(f"{m.name.name} {m.weight.raw}" for m in weighted if m.weight)
            found.append(
                Diagnostic(
                    "E402",
                    f"weights sum to {_pct(total)}",
                    plan.name.span,
                    help=f"make the weights add up to 100% ({shares})",
                )
            )
    has_target = any(isinstance(i, n.TargetVariable) for i in plan.items)
    for item in plan.items:
        if isinstance(item, n.Effective) and item.start.value > item.end.value:
            found.append(
                Diagnostic(
                    "E409",
                    f"plan `{plan.name.name}` ends on {item.end.value.isoformat()}, "
                    f"before it starts on {item.start.value.isoformat()}",
                    item.span,
                    help="write `effective <start> to <end>`",
                )
            )
    for measure in measures:
        found.extend(_measure_table(plan, measure, has_target))
    return found


_METHODS = (n.Commission, n.Rates, n.Steps, n.Curve, n.PerUnit)
_METHOD_NAMES = {
    n.Commission: "commission",
    n.Rates: "rates",
    n.Steps: "steps",
    n.Curve: "curve",
    n.PerUnit: "per_unit",
}


def _needs_quota(item: n.MeasureItem) -> str | None:
    """The name of an item that pays on attainment (so needs a quota), or None."""
    if isinstance(item, n.Rates):
        basis = item.basis.name if item.basis else None
        if basis == "attainment" or (
            basis is None and item.bands and isinstance(item.bands[0].low, n.Percent)
        ):
            return "rates on attainment"
        return None
    names = {
        n.Steps: "steps", n.Curve: "curve", n.Threshold: "threshold",
        n.Accelerator: "accelerator", n.Bonus: "bonus",
    }  # fmt: skip
    return names.get(type(item))


def _measure_table(plan: n.Plan, measure: n.Measure, has_target: bool) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    name = measure.name.name
    credits = [i for i in measure.items if isinstance(i, n.Credit)]
    if not credits:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has no `credit`",
                measure.name.span,
                help="say what it credits, e.g. `credit amount of deals where status == won`",
            )
        )
    for credit in credits[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has {len(credits)} `credit` rules",
                credit.span,
                help="a measure credits one thing: split it into several measures",
            )
        )
    methods = [i for i in measure.items if isinstance(i, _METHODS)]
    for method in methods[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has two payout methods: "
                f"{_METHOD_NAMES[type(methods[0])]} and {_METHOD_NAMES[type(method)]}",
                method.span,
                help="keep one of commission, rates, steps, curve or per_unit per measure",
            )
        )
    quotas = [i for i in measure.items if isinstance(i, (n.QuotaTable, n.QuotaFormula))]
    for extra in quotas[1:]:
        found.append(
            Diagnostic(
                "E408",
                f"measure `{name}` has {len(quotas)} quotas",
                extra.span,
                help="keep one: `quota <measure id>` or `quota formula <expression>`",
            )
        )
    for item in measure.items:
        needs = _needs_quota(item)
        if needs is not None and not quotas:
            found.append(
                Diagnostic(
                    "E408",
                    f"`{needs}` pays on attainment, but measure `{name}` has no quota",
                    item.span,
                    help="add `quota <measure id>` (read from the quotas table) or "
                    "`quota formula <expression>`",
                )
            )
        shares_target = isinstance(item, (n.Steps, n.Curve, n.Accelerator)) or (
            isinstance(item, n.Cap) and isinstance(item.limit, n.Percent)
        )
        if shares_target and not has_target:
            what = "cap" if isinstance(item, n.Cap) else _needs_quota(item)
            found.append(
                Diagnostic(
                    "E408",
                    f"`{what}` is a share of the target variable, but plan "
                    f"`{plan.name.name}` has none",
                    item.span,
                    help="add `target_variable <amount> per <period>` to the plan, "
                    "e.g. `target_variable 40K per year`",
                )
            )
        if isinstance(item, n.Steps):
            found.extend(_bands(item.bands, n.Percent, "steps", item.span))
        elif isinstance(item, n.Rates):
            basis = item.basis.name if item.basis else None
            if basis == "amount":
                kind: type = n.Number
            elif basis == "attainment" or not item.bands:
                kind = n.Percent
            else:
                kind = type(item.bands[0].low)
            found.extend(_bands(item.bands, kind, "rates", item.span))
        elif isinstance(item, n.Curve):
            found.extend(_curve_table(item))
    return found


# ----------------------------------------------------------------------------- pass 6: lints
def check_lints(model: Model, modules: Sequence[n.Module]) -> list[Diagnostic]:
    """The method's rules: at most 7 KPIs a role, KPIs measure results, objectives known in
    time, payouts that never fall as attainment rises."""
    found: list[Diagnostic] = []
    for decl in _declarations(modules):
        if isinstance(decl, n.Role):
            kpis = {i.name for e in decl.items if isinstance(e, n.RoleKpis) for i in e.names}
            if len(kpis) > MAX_KPIS_PER_ROLE:
                found.append(
                    Diagnostic(
                        "E407",
                        f"role `{decl.name.name}` has {len(kpis)} KPIs; "
                        f"the method allows at most {MAX_KPIS_PER_ROLE}",
                        decl.name.span,
                        help="keep the KPIs that measure results; follow the others in reports",
                    )
                )
        elif isinstance(decl, n.Kpi):
            found.extend(_activity(decl))
        elif isinstance(decl, n.Plan):
            found.extend(_late_objectives(decl))
            for measure in decl.measures:
                for item in measure.items:
                    found.extend(_falling_payout(item))
    return found


def _activity(kpi: n.Kpi) -> list[Diagnostic]:
    read = [r.parts[0] for r in _walk(kpi.value) if isinstance(r, n.Ref)]
    for name in (kpi.name.name, *read):
        match = ACTIVITY.search(name)
        if match:
            return [
                Diagnostic(
                    "W501",
                    f"KPI `{kpi.name.name}` counts an activity (`{name}`)",
                    kpi.name.span,
                    Severity.WARNING,
                    help="KPIs measure results (bookings, conversion, margin); track activity "
                    "as a leading indicator, not a KPI",
                )
            ]
    return []


def _late_objectives(plan: n.Plan) -> list[Diagnostic]:
    starts = [i.start.value for i in plan.items if isinstance(i, n.Effective)]
    told = [i for i in plan.items if isinstance(i, n.Communicated)]
    if not starts or not told or told[0].date.value <= starts[0]:
        return []
    start = starts[0].isoformat()
    return [
        Diagnostic(
            "W502",
            f"objectives communicated on {told[0].date.value.isoformat()}, after the period "
            f"starts on {start}",
            told[0].span,
            Severity.WARNING,
            help="French case law requires objectives to be known at the start of the period: "
            f"communicate them on or before {start}",
        )
    ]


def _falls(span: Span, message: str) -> Diagnostic:
    return Diagnostic(
        "W503",
        message,
        span,
        Severity.WARNING,
        help="a payout that falls as attainment rises punishes selling more: make it "
        "non-decreasing",
    )


def _falling_payout(item: n.MeasureItem) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if isinstance(item, n.Accelerator) and item.factor.value < 0:
        found.append(_falls(item.span, f"accelerator {item.factor.raw} lowers pay above "
                                       f"{item.above.raw}"))  # fmt: skip
    elif isinstance(item, n.Steps) or (
        isinstance(item, n.Rates) and item.method.name == "retroactive"
    ):
        highest: n.Band | None = None
        for band in item.bands:
            if highest is not None and band.value.value < highest.value.value:
                found.append(
                    _falls(
                        band.span,
                        f"pays {band.value.raw} from {band.low.raw}, less than the "
                        f"{highest.value.raw} paid from {highest.low.raw}",
                    )
                )
            elif highest is None or band.value.value > highest.value.value:
                highest = band
    elif isinstance(item, n.Curve):
        pay: Decimal | None = None
        level: Decimal | None = None
        for index, point in enumerate(item.points):
            if isinstance(point, n.CurveBelow) and index > 0:
                continue  # misplaced: reported by the tables pass
            if isinstance(point, n.CurveSlope):
                if point.slope.value < 0:
                    found.append(_falls(point.span, f"slope {point.slope.raw} lowers pay"))
                if point.until is not None and pay is not None and level is not None:
                    pay += point.slope.value * (point.until.value - level)
                    level = point.until.value
                continue
            if pay is not None and point.pay.value < pay:
                found.append(
                    _falls(
                        point.span,
                        f"pay falls to {point.pay.raw} at {point.level.raw}, from {_pct(pay)} "
                        "before",
                    )
                )
            pay, level = point.pay.value, point.level.value
    return found


#: The passes, in order. Each takes the model and the modules and returns its findings.
PASSES: tuple[tuple[str, Pass], ...] = (
    ("header", check_header),
    ("declarations", check_declarations),
    ("names", check_names),
    ("types", check_types),
    ("tables", check_tables),
    ("lints", check_lints),
)
