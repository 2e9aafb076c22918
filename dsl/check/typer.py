"""The one typer: every expression of a ruleset is typed here, once, into a `dsl.typed` tree.

Name problems and type problems are kept apart: a bare name's meaning depends on the type of the
other side of its comparison, so resolving and typing share this walk, and the names and types
passes each report their own findings. A wrong expression types as `any`, so one mistake is
reported once; the compiler only ever sees trees without `any` (it runs after a clean check).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from dsl import nodes as n
from dsl import typed as t
from dsl.check.scope import Scope
from dsl.diagnostics import Diagnostic, did_you_mean, either
from dsl.source import Span
from dsl.types import (
    ANY,
    BOOLEAN,
    ORDERED,
    FieldType,
    arithmetic,
    arithmetic_help,
    arithmetic_message,
    comparable,
    compare_help,
    describe,
    ordered,
    pair_kind,
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
TAKES_ID = frozenset({"reached", "entered_at", "attainment"})

SIGNATURES = {
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

CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}

_Hint = tuple[FieldType, str | None]


def unknown(
    code: str, what: str, ident: n.Ident, candidates: Iterable[str], fallback: str | None = None
) -> Diagnostic:
    """`unknown <what> `x``, with a "did you mean" or, failing that, a hint."""
    help_text = did_you_mean(ident.name, candidates) or fallback
    return Diagnostic(code, f"unknown {what} `{ident.name}`", ident.span, help=help_text)


def no_such(what: str, names: Iterable[str], where: str = "") -> str:
    """A hint listing the declared names of a kind (or saying there are none)."""
    known = sorted(names)
    if not known:
        return f"no {what}{where} is declared"
    if len(known) > 8:
        return f"{len(known)} {what}s{where} are declared; check the spelling"
    return f"the {what}s{where} are {either(known)}"


def currency_mismatch(number: n.Number, currency: str | None) -> Diagnostic | None:
    """E301 for an amount written in another currency than the ruleset's; None for a bare
    number, an amount in the ruleset's currency, or no currency to compare with."""
    if number.currency is None or not currency:
        return None
    code = CURRENCY_SYMBOLS.get(number.currency, number.currency)
    if code == currency:
        return None
    return Diagnostic(
        "E301",
        f"amount in {code}, but the ruleset's currency is {currency}",
        number.span,
        help=f"write it in {currency}, or without a currency",
    )


def unknown_field(
    name: str, span: Span, record: str, candidates: Iterable[str], why: str | None = None
) -> Diagnostic:
    """E201 `unknown field `x` on <record>`, with a "did you mean", else the place's hint, else
    where fields are declared."""
    help_text = (
        did_you_mean(name, candidates)
        or why
        or f"{record} has no field `{name}`; declare it in `record {record} {{ ... }}`"
    )
    return Diagnostic("E201", f"unknown field `{name}` on {record}", span, help=help_text)


def not_available(name: str, span: Span, scope: Scope) -> Diagnostic | None:
    """E214 for a field of the record that this place cannot read (the scope says why), or None."""
    reason = scope.unavailable.get(name)
    if reason is None:
        return None
    return Diagnostic("E214", f"`{name}` is not available here", span, help=reason)


def unknown_value(
    value: str, span: Span, options: Sequence[str], owner: str | None, *, quoted: bool = False
) -> Diagnostic:
    """E209 `unknown value `x` for `field``: a bare option (or, `quoted`, a label) that is none
    of a one_of's values."""
    shown = f'"{value}"' if quoted else f"`{value}`"
    whose = f" for `{owner}`" if owner else ""
    return Diagnostic(
        "E209",
        f"unknown value {shown}{whose}",
        span,
        help=did_you_mean(value, options) or f"the values are {either(options)}",
    )


def empty_range(what: str, low: n.Literal, high: n.Literal, span: Span) -> Diagnostic:
    """E409 `<what> 5..3 is empty`: a range written from its upper bound."""
    return Diagnostic(
        "E409",
        f"{what} {low.raw}..{high.raw} is empty: {low.raw} is above {high.raw}",
        span,
        help=f"write the lower bound first: {high.raw}..{low.raw}",
    )


def _not_here(call: n.Call, why: str) -> Diagnostic:
    return Diagnostic("E214", f"`{call.function}` is not available here", call.span, help=why)


class Typer:
    """Types expressions in one scope, resolving names as it goes; collects findings."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.names: list[Diagnostic] = []
        self.types: list[Diagnostic] = []
        #: The named expressions being expanded, innermost last (a cycle is E220).
        self._expanding: list[str] = []

    # entry points ----------------------------------------------------------------------
    def condition(self, expr: n.Expr) -> t.TExpr:
        """Type an expression that must be true or false."""
        typed = self.type(expr)
        self.expect_boolean(expr, typed.type)
        return typed

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
                f"expected a condition (true or false), found {describe(found)}",
                expr.span,
                help=help_text,
            )
        )

    def type(self, expr: n.Expr, hint: _Hint | None = None) -> t.TExpr:
        """The typed tree of `expr`; `hint` is the other side of a comparison (for bare option
        names and quoted labels)."""
        span = expr.span
        if isinstance(expr, n.Ref):
            return self._ref(expr, hint)
        if isinstance(expr, n.Binary):
            if expr.op in ("and", "or", "+", "-", "*", "/"):
                return self._chain(expr)
            return self._compare(expr)
        if isinstance(expr, n.Number):
            return t.Literal(expr.value, self._number(expr), span=span)
        if isinstance(expr, n.Percent):
            return t.Literal(expr.value, FieldType("percent"), span=span)
        if isinstance(expr, n.Duration):
            return t.Literal(expr.days, FieldType("duration"), span=span)
        if isinstance(expr, n.Date):
            return t.Literal(expr.value, FieldType("date"), span=span)
        if isinstance(expr, n.String):
            return self._string(expr, hint)
        if isinstance(expr, n.Bool):
            return t.Literal(expr.value, BOOLEAN, span=span)
        if isinstance(expr, n.Call):
            return self._call(expr)
        if isinstance(expr, n.Membership):
            return self._membership(expr)
        if isinstance(expr, n.IsMissing):
            value = self.type(expr.value)
            if value.type.kind == "list":
                self.types.append(
                    Diagnostic(
                        "E301",
                        "a list is never missing",
                        expr.span,
                        help="test a field: `close_date is missing`",
                    )
                )
                return t.IsMissing(value, expr.negated, ANY, span=span)
            return t.IsMissing(value, expr.negated, span=span)
        if isinstance(expr, n.Unary):
            return self._unary(expr)
        # A list or a range outside `in`: a list, which every place refuses (a comparison,
        # an argument, a condition...).
        items = expr.items if isinstance(expr, n.ListExpr) else ()
        return t.ListValue(tuple(self.type(item, hint) for item in items), span=span)

    # names -----------------------------------------------------------------------------
    def _needs_hint(self, expr: n.Expr) -> bool:
        return isinstance(expr, n.ListExpr | n.String) or self._bare_unknown(expr)

    def _bare_unknown(self, expr: n.Expr) -> bool:
        return (
            isinstance(expr, n.Ref)
            and len(expr.parts) == 1
            and self.scope.record is not None
            and expr.parts[0] not in self.scope.extras
            and expr.parts[0] not in self.scope.fields
            and expr.parts[0] not in self.scope.computed
        )

    def _expand(self, ref: n.Ref, definition: n.NamedExpression, hint: _Hint | None) -> t.TExpr:
        """A named expression read by name: its value typed here, in this scope, as if written
        in place (its own findings point into the definition)."""
        name, span = ref.dotted, ref.span
        wrong = t.Field(name, ANY, span=span)
        if definition.subject.name != self.scope.record:
            self.names.append(
                Diagnostic(
                    "E214",
                    f"`{name}` is defined on {definition.subject.name}, not on {self.scope.record}",
                    span,
                    help=f"it reads {definition.subject.name} fields; define one on "
                    f"{self.scope.record} for this place",
                )
            )
            return wrong
        if self.scope.aggregate:
            self.names.append(
                Diagnostic(
                    "E214",
                    f"`{name}` is computed on each {self.scope.record}; a KPI reads it inside "
                    "an aggregate",
                    span,
                    help=f"e.g. count({name}) or sum(amount where {name})",
                )
            )
            return wrong
        if name in self._expanding:
            loop = " -> ".join([*self._expanding[self._expanding.index(name) :], name])
            self.names.append(
                Diagnostic(
                    "E220",
                    f"`{name}` is defined in terms of itself: {loop}",
                    span,
                    help="a named expression may read others, never itself",
                )
            )
            return wrong
        self._expanding.append(name)
        try:
            return self.type(definition.value, hint)
        finally:
            self._expanding.pop()

    def _ref(self, ref: n.Ref, hint: _Hint | None) -> t.TExpr:
        scope = self.scope
        span = ref.span
        wrong = t.Field(ref.dotted, ANY, span=span)
        if scope.record is None:
            return wrong
        name = ref.parts[0]
        if len(ref.parts) > 1:
            linked = scope.links.get(name)
            if linked is None and name in scope.scores:
                return self._score_ref(ref)
            mine = [s for s, record in scope.scores.items() if record == scope.record]
            if linked is None and (did_you_mean(name, mine) or ref.parts[1:] == ("score",)):
                fallback = no_such("score", mine, f" on {scope.record}")
                ident = n.Ident(name, span=span)
                self.names.append(unknown("E203", "score", ident, mine, fallback))
                return wrong
            if linked is None or len(ref.parts) != 2:
                why = "a dotted name reads a linked record's field" + "".join(
                    f", e.g. `{link}.<field>`" for link in list(scope.links)[:1]
                )
                self.names.append(
                    Diagnostic(
                        "E201", f"unknown field `{ref.dotted}` on {scope.record}", span, help=why
                    )
                )
                return wrong
            if ref.parts[1] in linked:
                if scope.aggregate:
                    self.names.append(self._inside_aggregate(ref.dotted, span))
                    return wrong
                return t.Field(ref.parts[1], linked[ref.parts[1]], name, span=span)
            self.names.append(unknown_field(ref.parts[1], span, name, linked))
            return wrong
        if name in scope.extras:
            return t.Provided(name, scope.extras[name], span=span)
        if name in scope.fields:
            if scope.aggregate:
                self.names.append(self._inside_aggregate(name, span))
                return wrong
            unavailable = not_available(name, span, scope)
            if unavailable is not None:
                self.names.append(unavailable)
                return wrong
            return t.Field(name, scope.fields[name], span=span)
        found = self._result(name, span, wrong)
        if found is not None:
            return found
        if name in scope.expressions:
            return self._expand(ref, scope.expressions[name], hint)
        if hint is not None:
            other, other_name = hint
            if other.kind == "any":
                return wrong  # the other side is already reported
            if other.kind == "one_of":
                if name in other.options:
                    return t.Literal(name, other, span=span)
                self.names.append(unknown_value(name, span, other.options, other_name))
                return wrong
            if other.kind == "text":
                owner = f"`{other_name}`" if other_name else "the other side"
                why = f'{owner} is text: quote the value, "{name}"'
                self.names.append(unknown_field(name, span, scope.record, scope.fields, why))
                return wrong
        self.names.append(unknown_field(name, span, scope.record, [*scope.fields, *scope.extras]))
        return wrong

    def _result(self, name: str, span: Span, wrong: t.TExpr) -> t.TExpr | None:
        """A computed result read by name, or `wrong` (reported) when this place may not read
        it; None when the name is neither."""
        if name in self.scope.computed:
            return self._computed(name, span)
        refused = not_available(name, span, self.scope)
        if refused is not None:
            self.names.append(refused)
            return wrong
        return None

    def _computed(self, name: str, span: Span) -> t.TExpr:
        """A result the engine computes on each record (`status`, `fit.score`)."""
        if self.scope.aggregate:
            self.names.append(self._inside_aggregate(name, span))
            return t.Field(name, ANY, span=span)
        return t.Provided(name, self.scope.computed[name], span=span)

    def _score_ref(self, ref: n.Ref) -> t.TExpr:
        """`fit.score` (a score's total) or `fit.size` (a criterion's points) on this record."""
        scope, span, dotted = self.scope, ref.span, ref.dotted
        name = ref.parts[0]
        wrong = t.Field(dotted, ANY, span=span)
        owner = scope.scores[name]
        if owner != scope.record:
            mine = [s for s, record in scope.scores.items() if record == scope.record]
            reads = f": {', '.join(f'`{s}.score`' for s in sorted(mine))}" if mine else ""
            self.names.append(
                Diagnostic(
                    "E214",
                    f"`{name}` is a score on {owner}, not on {scope.record}",
                    span,
                    help=f"an expression on {scope.record} reads the scores of its "
                    f"{scope.record}{reads}",
                )
            )
            return wrong
        found = self._result(dotted, span, wrong)
        if found is not None:
            return found
        parts = [k.partition(".")[2] for k in [*scope.computed, *scope.unavailable]]
        known = [p for k, p in zip([*scope.computed, *scope.unavailable], parts, strict=True)
                 if k.startswith(name + ".")]  # fmt: skip
        self.names.append(
            Diagnostic(
                "E201",
                f"score `{name}` has no criterion `{'.'.join(ref.parts[1:])}`",
                span,
                help=did_you_mean(ref.parts[-1], known)
                or f"`{name}.score` is its total, `{name}.<criterion>` a criterion's points",
            )
        )
        return wrong

    def _inside_aggregate(self, name: str, span: Span) -> Diagnostic:
        return Diagnostic(
            "E214",
            f"`{name}` is a field of each {self.scope.record}; a KPI reads it inside an aggregate",
            span,
            help=f"e.g. sum({name}), mean({name}) or count({name} is not missing)",
        )

    def _string(self, string: n.String, hint: _Hint | None) -> t.TExpr:
        """A quoted string; compared with a one_of field it must be one of its ids or labels,
        and stands for that option."""
        other = hint[0] if hint is not None else None
        if other is None or other.kind != "one_of" or not other.options:
            return t.Literal(string.value, FieldType("text"), span=string.span)
        option = other.option_of(string.value)
        if option is not None:
            return t.Literal(option, other, span=string.span)
        owner = hint[1] if hint is not None else None
        self.names.append(
            unknown_value(string.value, string.span, other.options, owner, quoted=True)
        )
        return t.Literal(string.value, ANY, span=string.span)

    # operators -------------------------------------------------------------------------
    def _chain(self, expr: n.Binary) -> t.TExpr:
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
            self.expect_boolean(node, result.type)
            for link in reversed(chain):
                right = self.type(link.right)
                self.expect_boolean(link.right, right.type)
                result = t.Logic(link.op, result, right, span=link.span)
            return result
        for link in reversed(chain):
            right = self.type(link.right)
            result = t.Arithmetic(
                link.op, result, right, self._arith(link, result.type, right.type), span=link.span
            )
        return result

    def _arith(self, expr: n.Binary, a: FieldType, b: FieldType) -> FieldType:
        if "any" in (a.kind, b.kind):
            return ANY
        kind = arithmetic(expr.op, a.kind, b.kind)
        if kind is None:
            self.types.append(
                Diagnostic(
                    "E301",
                    arithmetic_message(expr.op, a, b),
                    expr.span,
                    help=arithmetic_help(expr.op, a.kind, b.kind),
                )
            )
            return ANY
        return FieldType(kind)

    def _compare(self, expr: n.Binary) -> t.TExpr:
        left, right = expr.left, expr.right
        # Type first the side that gives meaning to the other (a field before a bare option).
        if self._needs_hint(left) and not self._needs_hint(right):
            rt = self.type(right)
            lt = self.type(left, (rt.type, right.dotted if isinstance(right, n.Ref) else None))
        else:
            lt = self.type(left)
            rt = self.type(right, (lt.type, left.dotted if isinstance(left, n.Ref) else None))
        a, b = lt.type, rt.type
        if not comparable(a, b):
            self.types.append(
                Diagnostic(
                    "E301",
                    f"cannot compare {describe(a)} with {describe(b)}",
                    expr.span,
                    help=compare_help(a, b),
                )
            )
            return t.Compare(expr.op, lt, rt, ANY, span=expr.span)
        if expr.op not in ("==", "!=") and not ordered(a, b):
            found = a if a.kind != "any" and a.kind not in ORDERED else b
            self.types.append(
                Diagnostic(
                    "E301",
                    f"`{expr.op}` needs numbers, amounts, dates or durations; "
                    f"found {describe(found)}",
                    expr.span,
                    help="use == or != (or `in`) for values that have no order",
                )
            )
            return t.Compare(expr.op, lt, rt, ANY, span=expr.span)
        return t.Compare(expr.op, lt, rt, span=expr.span)

    def _membership(self, expr: n.Membership) -> t.TExpr:
        value = self.type(expr.value)
        collection = expr.collection
        if isinstance(collection, n.RangeExpr):
            low, high = collection.low, collection.high
            result: FieldType = BOOLEAN
            if not value.type.numeric:
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"a range like {low.raw}..{high.raw} holds numbers; "
                        f"found {describe(value.type)}",
                        expr.span,
                        help="use a list for values: `x in [a, b]`",
                    )
                )
                result = ANY
            if low.value > high.value:
                self.types.append(empty_range("range", low, high, collection.span))
                result = ANY
            bounds = (
                t.Literal(low.value, self._number(low), span=low.span),
                t.Literal(high.value, self._number(high), span=high.span),
            )
            return t.InRange(value, *bounds, expr.negated, result, span=expr.span)
        hint = (value.type, expr.value.dotted if isinstance(expr.value, n.Ref) else None)
        items: list[t.TExpr] = []
        result = BOOLEAN
        for item in collection.items:
            found = self.type(item, hint)
            items.append(found)
            if not comparable(value.type, found.type):
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"cannot compare {describe(value.type)} with {describe(found.type)}",
                        item.span,
                        help=compare_help(value.type, found.type),
                    )
                )
                result = ANY
        return t.InList(value, tuple(items), expr.negated, result, span=expr.span)

    def _unary(self, expr: n.Unary) -> t.TExpr:
        operand = self.type(expr.operand)
        if expr.op == "not":
            self.expect_boolean(expr.operand, operand.type)
            return t.Not(operand, span=expr.span)
        kind = operand.type.kind
        if operand.type.quantity:
            found = FieldType(kind) if kind != "any" else ANY
            if isinstance(operand, t.Literal) and kind != "any":
                # `-5` is a literal, written as a sign before a number.
                assert not isinstance(operand.value, bool | str)
                return t.Literal(-operand.value, found, span=expr.span)  # type: ignore[operator]
            return t.Negate(operand, found, span=expr.span)
        self.types.append(
            Diagnostic("E301", f"cannot negate {describe(operand.type)}", expr.span, help=None)
        )
        return t.Negate(operand, ANY, span=expr.span)

    def _number(self, number: n.Number) -> FieldType:
        if number.currency is None:
            return FieldType("number")
        mismatch = currency_mismatch(number, self.scope.currency)
        if mismatch is not None:
            self.types.append(mismatch)
        return FieldType("money")

    # calls -----------------------------------------------------------------------------
    def _call(self, call: n.Call) -> t.TExpr:
        name = call.function
        scope = self.scope
        wrong = t.Function(name, (), ANY, span=call.span)
        if name not in FUNCTIONS:
            self.names.append(
                Diagnostic(
                    "E211",
                    f"unknown function `{name}`",
                    call.span,
                    help=did_you_mean(name, FUNCTIONS) or f"functions: {either(sorted(FUNCTIONS))}",
                )
            )
            self._arguments_only(call)
            return wrong
        fewest, most = FUNCTIONS[name]
        if not fewest <= len(call.args) <= most:
            wanted = f"{fewest}" if fewest == most else f"{fewest} or {most}"
            plural = "" if most == 1 else "s"
            self.types.append(
                Diagnostic(
                    "E303",
                    f"`{name}` takes {wanted} argument{plural}, got {len(call.args)}",
                    call.span,
                    help=SIGNATURES[name],
                )
            )
            self._arguments_only(call)
            return wrong
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
        if scope.aggregate and name in TAKES_ID:
            self.names.append(
                _not_here(call, f"it reads one {scope.record}: use it inside an aggregate")
            )
            return wrong
        if name in ("reached", "entered_at"):
            return self._stage_call(call)
        if name == "attainment":
            return self._attainment(call)
        args = tuple(self.type(arg) for arg in call.args)
        for arg, found in zip(call.args, args, strict=True):
            # abs takes a quantity; min and max also take dates.
            if not (found.type.quantity or (name != "abs" and found.type.kind == "date")):
                wanted = (
                    "numbers, amounts or durations"
                    if name == "abs"
                    else "numbers, amounts, dates or durations"
                )
                self.types.append(
                    Diagnostic(
                        "E301",
                        f"`{name}` needs {wanted}; found {describe(found.type)}",
                        arg.span,
                        help=SIGNATURES[name],
                    )
                )
                return t.Function(name, args, ANY, span=call.span)
        if name == "abs":
            return t.Function(name, args, args[0].type, span=call.span)
        a, b = args
        if "any" in (a.type.kind, b.type.kind):
            return t.Function(name, args, ANY, span=call.span)
        common = pair_kind(a.type, b.type)
        if common is None:
            self.types.append(
                Diagnostic(
                    "E301",
                    f"`{name}` needs two values of one kind; found {describe(a.type)} and "
                    f"{describe(b.type)}",
                    call.span,
                    help=SIGNATURES[name],
                )
            )
            return t.Function(name, args, ANY, span=call.span)
        return t.Function(name, args, common, span=call.span)

    def _arguments_only(self, call: n.Call) -> None:
        # A call that is already reported: resolve names in its arguments as a record reads
        # them, and report no type in it.
        if call.function in TAKES_ID:
            return
        inner = Typer(replace(self.scope, aggregate=False))
        for arg in [*call.args, *([call.where] if call.where else [])]:
            inner.type(arg)
        self.names.extend(inner.names)

    def _aggregate(self, call: n.Call) -> t.TExpr:
        name = call.function
        if not self.scope.aggregate:
            self.names.append(
                _not_here(call, "aggregates belong in a KPI value; here one record is read")
            )
        inner = Typer(replace(self.scope, aggregate=False))
        args = [inner.type(arg) for arg in call.args]
        where = inner.condition(call.where) if call.where is not None else None
        result: FieldType
        arg: t.TExpr | None = None
        if name == "count":
            if args:
                inner.expect_boolean(call.args[0], args[0].type)
                # count(c) counts the records where c holds.
                where = args[0] if where is None else t.Logic("and", where, args[0])
            result = FieldType("integer")
        else:
            arg = args[0]
            value = arg.type
            if not value.quantity:
                inner.types.append(
                    Diagnostic(
                        "E301",
                        f"`{name}` needs numbers, amounts or durations; found {describe(value)}",
                        call.args[0].span,
                        help=SIGNATURES[name],
                    )
                )
                result = ANY
            elif name == "sum" or value.kind != "integer":
                result = FieldType(value.kind)
            else:
                result = FieldType("number")  # the mean of whole numbers is not whole
        self.names.extend(inner.names)
        self.types.extend(inner.types)
        if not self.scope.aggregate:
            result = ANY
        return t.Aggregate(name, arg, where, result, span=call.span)

    def _stage_call(self, call: n.Call) -> t.TExpr:
        stages = self.scope.stages
        wrong = t.Function(call.function, (), ANY, span=call.span)
        if self.scope.record is None:
            return wrong
        if stages is None:
            self.names.append(
                _not_here(call, f"it reads a deal's stage history; {self.scope.record} has none")
            )
            return wrong
        ident = self._id_argument(call, "stage")
        if ident is None:
            return wrong
        stage = ident.name
        if stage not in stages:
            self.names.append(unknown("E202", "stage", ident, stages, no_such("stage", stages)))
            return wrong
        if call.function == "reached":
            return t.Reached(stage, span=call.span)
        return t.EnteredAt(stage, span=call.span)

    def _attainment(self, call: n.Call) -> t.TExpr:
        measures = self.scope.measures
        wrong = t.Function("attainment", (), ANY, span=call.span)
        if measures is None:
            if self.scope.record is not None:
                why = self.scope.no_attainment or (
                    "attainment is known per rep and period: use it in an expression on rep"
                )
                self.names.append(_not_here(call, why))
            return wrong
        ident = self._id_argument(call, "measure")
        if ident is None:
            return wrong
        if ident.name not in measures:
            self.names.append(
                unknown("E212", "measure", ident, measures, no_such("measure", measures))
            )
            return wrong
        return t.Attainment(ident.name, span=call.span)

    def _id_argument(self, call: n.Call, kind: str) -> n.Ident | None:
        """The one argument of a function taking an id (`reached(demo)`), or None (E301)."""
        arg = call.args[0]
        if isinstance(arg, n.Ref) and len(arg.parts) == 1:
            return n.Ident(arg.parts[0], span=arg.span)
        self.types.append(
            Diagnostic(
                "E301",
                f"`{call.function}` takes a {kind} id",
                arg.span,
                help=SIGNATURES[call.function],
            )
        )
        return None


def type_of_expr(expr: n.Expr, scope: Scope) -> FieldType:
    """The type of an expression in a scope; `any` where it is wrong (the checker says why)."""
    try:
        return Typer(scope).type(expr).type
    except RecursionError:
        return ANY
