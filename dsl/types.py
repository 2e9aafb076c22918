"""The types of the language and their rules, decided once: which values compare, which
arithmetic makes sense and what it gives.

The checker's typer applies these rules to every expression of a ruleset; the engine's compiler
only lowers the typed expressions it is given and never decides a type again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

NUMBERS = frozenset({"number", "integer"})
NUMERIC = frozenset({"number", "integer", "money", "percent"})
ORDERED = frozenset({"number", "integer", "money", "percent", "date", "duration"})


@dataclass(frozen=True, slots=True)
class FieldType:
    """The type of a field or expression.

    kind: text, number, integer, money, percent, boolean, date, duration, one_of, list or any
    (unknown, after an error: never reported twice). `options` and `labels` describe a one_of;
    `range` is a declared `integer 0..2` range.
    """

    kind: str
    options: tuple[str, ...] = ()
    range: tuple[Decimal, Decimal] | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def numeric(self) -> bool:
        """Whether arithmetic and ordering apply."""
        return self.kind in NUMERIC or self.kind == "any"

    @property
    def quantity(self) -> bool:
        """Whether it is a number, an amount, a percentage or a duration (or unknown): what a
        KPI measures, an aggregate sums, `abs` and a minus sign take."""
        return self.numeric or self.kind == "duration"

    def option_of(self, text: str) -> str | None:
        """The option id that `text` names (the id itself or its label), or None."""
        if text in self.options:
            return text
        return next((option for option, label in self.labels if label == text), None)


ANY = FieldType("any")
BOOLEAN = FieldType("boolean")
DATE = FieldType("date")
LIST = FieldType("list")
NUMBER = FieldType("number")
PERCENT = FieldType("percent")


def plain(value: Decimal) -> str:
    """A Decimal as written in a ruleset, without trailing zeros: `1.5`, `70`."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def range_text(low: Decimal, high: Decimal) -> str:
    """A declared range as the ruleset writes it: `0..2`."""
    return f"{low.normalize():f}..{high.normalize():f}"


def describe(t: FieldType) -> str:
    """How a type is named in messages."""
    return "a list" if t.kind == "list" else t.kind


def comparable(a: FieldType, b: FieldType) -> bool:
    """Whether `a == b` makes sense: numbers with numbers, dates with dates, texts with texts
    and one_of values, durations with durations, booleans with booleans."""
    if "any" in (a.kind, b.kind):
        return True
    if a.numeric and b.numeric:
        return True
    if a.kind == b.kind == "one_of":
        return not a.options or not b.options or bool(set(a.options) & set(b.options))
    if {a.kind, b.kind} == {"one_of", "text"}:
        return True
    return a.kind == b.kind and a.kind in {"text", "date", "duration", "boolean"}


def ordered(a: FieldType, b: FieldType) -> bool:
    """Whether `<`, `<=`, `>`, `>=` apply to the two sides."""
    return {a.kind, b.kind} <= ORDERED | {"any"}


def arithmetic(op: str, a: str, b: str) -> str | None:
    """The kind of `a op b` for `op` in `+ - * /`, or None when the operation makes no sense.

    An amount next to a bare number is an amount in the ruleset's currency; amount x percent is
    an amount; a ratio of two amounts, percents or durations is a number; date - date is a
    duration; date + duration is a date.
    """
    pair = {a, b}
    if op in ("+", "-"):
        if a == b and a in {"integer", "number", "money", "percent", "duration"}:
            return a
        if pair <= NUMBERS:
            return "number"
        if "money" in pair and not pair - {"money"} - NUMBERS:
            return "money"
        if "percent" in pair and not pair - {"percent"} - NUMBERS:
            return "number"
        if op == "-" and a == b == "date":
            return "duration"
        if (a, b) == ("date", "duration") or (op == "+" and (a, b) == ("duration", "date")):
            return "date"
        return None
    if op == "*":
        if pair <= NUMBERS:
            return "integer" if a == b == "integer" else "number"
        if "money" in pair and not pair - {"money"} - NUMBERS - {"percent"}:
            return "money" if a != b else None
        if pair <= NUMBERS | {"percent"}:
            return "percent" if a == b == "percent" else "number"
        if "duration" in pair and not pair - {"duration"} - NUMBERS and a != b:
            return "duration"
        return None
    if op == "/":
        if a == b and a in {"money", "percent", "duration"}:
            return "number"  # a ratio
        if b in NUMBERS | {"percent"} and a in {"money", "duration"}:
            return a
        if pair <= NUMBERS | {"percent"}:
            return "number"
        return None
    raise ValueError(f"not an arithmetic operator: {op!r}")


def pair_kind(a: FieldType, b: FieldType) -> FieldType | None:
    """The common type of `min(a, b)` / `max(a, b)`, or None when they are of no one kind."""
    if a.kind == b.kind:
        return FieldType(a.kind)
    if a.numeric and b.numeric:
        return FieldType("money" if "money" in (a.kind, b.kind) else "number")
    return None


_ARITH_WORDS = {
    "+": "cannot add {a} and {b}",
    "-": "cannot subtract {b} from {a}",
    "*": "cannot multiply {a} by {b}",
    "/": "cannot divide {a} by {b}",
}


def arithmetic_message(op: str, a: FieldType, b: FieldType) -> str:
    """Why `a op b` is refused."""
    return _ARITH_WORDS[op].format(a=describe(a), b=describe(b))


def arithmetic_help(op: str, a: str, b: str) -> str | None:
    """A hint for a refused arithmetic."""
    if op == "*" and a == b == "money":
        return "multiply an amount by a number or a percentage, not by another amount"
    if "date" in (a, b):
        return "subtract two dates to get a duration; add a duration like 14d to a date"
    if "duration" in (a, b):
        return "durations combine with durations (30d) and scale by numbers"
    return None


def compare_help(a: FieldType, b: FieldType) -> str | None:
    """A hint for a refused comparison."""
    kinds = {a.kind, b.kind}
    if "duration" in kinds and kinds & NUMBERS:
        return "write a duration with its unit, like 30d"
    if "date" in kinds and "text" in kinds:
        return "write dates without quotes, like 2026-01-01"
    if "list" in kinds:
        return "use `in` to test whether a value is in a list"
    if "boolean" in kinds:
        return "a yes/no field is compared with true or false"
    return None
