"""The typed expressions the checker hands to the compiler: every name resolved, every type
decided, once.

The typer (`dsl.check.typer`) builds one typed tree per expression of a ruleset; the compiler
(`engine.compiler`) lowers these trees to the IR the evaluators run and decides nothing about
meaning. A bare option name (`won`) or a label (`"Positif"`) is already a `Literal` holding the
option id; a dotted name (`territory.potential`) is a `Field` with its `link`; `score` in a status
block is a `Provided` value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from decimal import Decimal

from dsl import nodes as n
from dsl.source import NO_SPAN, Span
from dsl.types import BOOLEAN, DATE, LIST, PERCENT, FieldType

__all__ = [
    "Aggregate",
    "Arithmetic",
    "Attainment",
    "Compare",
    "EnteredAt",
    "Field",
    "Function",
    "InList",
    "InRange",
    "IsMissing",
    "ListValue",
    "Literal",
    "Logic",
    "Negate",
    "Not",
    "Provided",
    "Reached",
    "TExpr",
    "TypedModel",
    "children",
]


@dataclass(frozen=True, slots=True)
class Field:
    """A field of the record in scope (derived values included), or of a linked record:
    `territory.potential` is Field("potential", link="territory")."""

    name: str
    type: FieldType
    link: str | None = None
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Provided:
    """A value the engine provides in this scope: `score` in a status block."""

    name: str
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: a Decimal (number, money, percent as a fraction), whole days (duration), a
    date, a text or option id, or a boolean."""

    value: Decimal | int | dt.date | str | bool
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Negate:
    """`-x` of a number, amount, percentage or duration."""

    operand: TExpr
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`left op right` for `+ - * /`; `type` follows `dsl.types.arithmetic`."""

    op: str
    left: TExpr
    right: TExpr
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right` for `== != < <= > >=`; the sides are comparable."""

    op: str
    left: TExpr
    right: TExpr
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Logic:
    """`and` / `or` of two conditions (three-valued)."""

    op: str
    left: TExpr
    right: TExpr
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Not:
    """`not x` of a condition."""

    operand: TExpr
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class InList:
    """`value in [items]` (or `not in`); items comparable with the value."""

    value: TExpr
    items: tuple[TExpr, ...]
    negated: bool
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class InRange:
    """`value in low..high`, both ends included (or `not in`); a numeric value."""

    value: TExpr
    low: Literal
    high: Literal
    negated: bool
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class IsMissing:
    """`x is missing` / `x is not missing`: always decided."""

    value: TExpr
    negated: bool
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Function:
    """`min(a, b)`, `max(a, b)` (of one kind) or `abs(x)`."""

    name: str
    args: tuple[TExpr, ...]
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count(c)`, `count()`, `sum|mean|median(value [where c])` over a table (KPIs only).

    `count(c)` is kept as `count()` with `where` c (the records where c holds).
    """

    name: str
    arg: TExpr | None
    where: TExpr | None
    type: FieldType
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Reached:
    """`reached(stage)`: the deal is at the stage or a later one of its pipeline."""

    stage: str
    type: FieldType = BOOLEAN
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class EnteredAt:
    """`entered_at(stage)`: the date the deal entered the stage."""

    stage: str
    type: FieldType = DATE
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Attainment:
    """`attainment(measure)` of a rep in the evaluated period, as a fraction."""

    measure: str
    type: FieldType = PERCENT
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ListValue:
    """A list (or a range) outside `in`: every place refuses it, so it is never compiled."""

    items: tuple[TExpr, ...]
    type: FieldType = LIST
    span: Span = _field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


TExpr = (
    Field
    | Provided
    | Literal
    | Negate
    | Arithmetic
    | Compare
    | Logic
    | Not
    | InList
    | InRange
    | IsMissing
    | Function
    | Aggregate
    | Reached
    | EnteredAt
    | Attainment
    | ListValue
)


def children(node: TExpr) -> tuple[TExpr, ...]:
    """The direct sub-expressions of a typed expression, in reading order."""
    if isinstance(node, Arithmetic | Compare | Logic):
        return (node.left, node.right)
    if isinstance(node, Negate | Not):
        return (node.operand,)
    if isinstance(node, InList):
        return (node.value, *node.items)
    if isinstance(node, InRange):
        return (node.value, node.low, node.high)
    if isinstance(node, IsMissing):
        return (node.value,)
    if isinstance(node, Function):
        return node.args
    if isinstance(node, Aggregate):
        return tuple(e for e in (node.arg, node.where) if e is not None)
    if isinstance(node, ListValue):
        return node.items
    return ()


@dataclass(frozen=True, slots=True)
class TypedModel:
    """The typed tree of every expression of a checked ruleset, by its syntax node."""

    exprs: Mapping[int, tuple[n.Expr, TExpr]] = _field(default_factory=dict)

    def of(self, expr: n.Expr) -> TExpr:
        """The typed tree of an expression of the ruleset (KeyError: it was never typed)."""
        source, typed = self.exprs[id(expr)]
        if source is not expr:
            raise KeyError(f"expression at {getattr(expr, 'span', NO_SPAN)!r} was never typed")
        return typed
