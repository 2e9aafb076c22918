"""The change in meaning between two versions of a ruleset, from their typed models.

Two `dsl.model.Model`s are compared node by node. AST nodes are frozen dataclasses whose spans,
spellings (`50K` / `50_000`) and comments are left out of equality, so reformatting and comments
are no change at all; only what `==` sees as different is reported. The walk is generic over the
dataclass fields, so every construct of the language is covered by the same rules:

- declarations are matched by kind and name, in any order (file and declaration order never
  change a result); inside a block, items with a name (stages, measures, criteria, statuses,
  exit criteria, requirements, fields) are matched by name, an item that occurs once (`steps`,
  `threshold`, `effective`...) by its kind, and the rest (bands, `when` cases, curve points)
  in order, aligned on the unchanged ones;
- a named item removed and another added whose bodies are equal is a *rename*;
- common named items that come in another order are reported as a new order where order has
  a meaning (first-match lists: statuses, cases, routes; a pipeline's stages), never elsewhere
  (fields, exit criteria, measures);
- each change is written in the ruleset's own words (`dsl.formatter.one_line`) with the path to
  it (`plan ae, measure new_arr, steps, band [90%, 100%)`) and `file:line` on both sides.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dsl import nodes as n
from dsl.formatter import format_expr, one_line
from dsl.model import Model
from dsl.source import NO_SPAN

__all__ = ["KINDS", "Change", "compare_models"]

#: The kinds of change, in the order a report lists them.
KINDS = ("changed", "renamed", "reordered", "added", "removed")

#: Nodes written whole (expressions and literals): never walked into.
_ATOMS = (
    n.Ident, n.Number, n.Percent, n.Duration, n.Date, n.String, n.Bool, n.Ref, n.Call,
    n.ListExpr, n.RangeExpr, n.Unary, n.Binary, n.Membership, n.IsMissing,
)  # fmt: skip
#: How a path names a declaration or a named item: its keyword.
_KEYWORDS: dict[type, str] = {
    n.Ruleset: "ruleset", n.Record: "record", n.Score: "score", n.Pipeline: "pipeline",
    n.Playbook: "playbook", n.Kpi: "kpi", n.Role: "role", n.Plan: "plan", n.Alert: "alert",
    n.Ritual: "ritual", n.Stage: "stage", n.Measure: "measure", n.Criterion: "criterion",
    n.FieldCriterion: "criterion", n.StatusRule: "status", n.ExitCriterion: "exit",
    n.Field: "field", n.Option: "option", n.StrategyGrowth: "growth", n.NamedExpression: "define",
    n.StrategyChannel: "channel", n.Spiff: "spiff",
}  # fmt: skip
#: Field names as a reader says them, where the attribute name is not the word.
_WORDS = {"condition": "when", "of": "of field", "value": "value", "days": "max_days"}


@dataclass(frozen=True, slots=True)
class Change:
    """One change in meaning: where it is (in the ruleset's words), what changed, from what to
    what, and the `file:line` of each side (None on the side where it does not exist)."""

    kind: str
    where: tuple[str, ...]
    what: str | None
    before: str | None
    after: str | None
    before_at: str | None
    after_at: str | None

    def text(self) -> str:
        """The change on one line: `plan p, measure m, steps, band [90%, 100%): pays 75% -> 80%`."""
        place = ", ".join(self.where)
        lead = f"{place}: " if place else ""
        what = f"{self.what} " if self.what else ""
        if self.kind == "added":
            return f"{lead}added {self.after}"
        if self.kind == "removed":
            return f"{lead}removed {self.before}"
        if self.kind == "renamed":
            return f"{lead}renamed {self.before} -> {self.after}"
        if self.kind == "reordered":
            return f"{lead}new order {self.before} -> {self.after}"
        return f"{lead}{what}{self.before} -> {self.after}"


def compare_models(before: Model, after: Model) -> list[Change]:
    """Every change in meaning from `before` to `after`, in the order of the ruleset's blocks;
    an empty list when the two mean the same (reformatted, commented, reordered files)."""
    found: list[Change] = []
    _items((), _declarations(before), _declarations(after), found, ordered=False)
    return found


# ----------------------------------------------------------------------------- declarations
def _declarations(model: Model) -> list[Any]:
    """The declarations of a model (every table of nodes it holds, so a new kind of
    declaration is compared without a change here); the `record` blocks of one record
    merged into one."""
    found: list[Any] = []
    for item in dataclasses.fields(model):
        value = getattr(model, item.name)
        if item.name == "declared_records":
            for blocks in value.values():
                fields = tuple(f for block in blocks for f in block.fields)
                found.append(n.Record(blocks[0].name, fields, span=blocks[0].span))
            continue
        values = value.values() if isinstance(value, dict) else value
        if _is_node(value):
            found.append(value)
        elif isinstance(value, dict | list):
            found.extend(v for v in values if _is_node(v))
    return found


def _is_node(value: object) -> bool:
    return dataclasses.is_dataclass(value) and type(value).__module__ == n.__name__


# ----------------------------------------------------------------------------- words
def _at(node: object) -> str | None:
    span = getattr(node, "span", None)
    if span is None or span == NO_SPAN:
        return None
    return f"{span.path}:{span.line}"


def _name(node: Any) -> str:
    """How a path names a node: `plan ae_2026`, `stage demo`, `band [90%, 100%)`, `steps`."""
    keyword = _KEYWORDS.get(type(node))
    if keyword is not None and isinstance(getattr(node, "name", None), n.Ident):
        return f"{keyword} {node.name.name}"
    match node:
        case n.Requirement():
            return f"{node.kind} {node.name.name}"
        case n.Qualify():
            return f"qualify {node.subject.name}"
        case n.Strategy():
            return "strategy"
        case n.Definition():
            return f"{node.kind} {node.name.name}"
        case n.Band():
            high = "..." if node.high is None else format_expr(node.high)
            opened = "[" if node.low_inclusive else "("
            closed = "]" if node.high_inclusive else ")"
            return f"band {opened}{format_expr(node.low)}, {high}{closed}"
        case n.CurveAt():
            return f"at {format_expr(node.level)}"
        case n.CurveBelow():
            return f"below {format_expr(node.level)}"
        case n.ValueCase():
            return f"case {node.value.name}"
        case n.WhenCase():
            return f"case when {format_expr(node.condition)}"
        case n.OtherwiseCase():
            return "case otherwise"
        case n.Route():
            return f"use {node.score.name}"
        case n.ExpectConversion():
            return f"expect conversion {node.source.name} -> {node.target.name}"
    return one_line(node).split(" ", 1)[0]  # a block without a name: `rates`, `steps`, `curve`


def _value(value: Any) -> str:
    """A field's value in the ruleset's words."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return ", ".join(_value(v) for v in value) or "(none)"
    return one_line(value)


def _word(node: Any, field: str, parent: Any) -> str:
    """How a report names a field of a node: `pays` for a band of steps, `rate` for rates."""
    if isinstance(node, n.Band) and field == "value":
        return "rate" if isinstance(parent, n.Rates) else "pays"
    return _WORDS.get(field, field.replace("_", " "))


# ----------------------------------------------------------------------------- the walk
def _fields(node: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) pairs of the fields `==` compares, spans and spellings left out."""
    for item in dataclasses.fields(node):
        if item.compare:
            yield item.name, getattr(node, item.name)


def _is_items(value: Any) -> bool:
    """A field holding sub-items to match one by one (not an atom's tuple of values)."""
    return (
        isinstance(value, tuple)
        and bool(value)
        and all(dataclasses.is_dataclass(v) and not isinstance(v, _ATOMS) for v in value)
    )


def _has_items(node: Any) -> bool:
    return any(
        _is_items(getattr(node, f.name)) or _empty_items(node, f.name)
        for f in dataclasses.fields(node)
        if f.compare
    )


#: The fields of the AST that hold the items of a block.
_ITEM_FIELDS = frozenset(
    ("items", "fields", "cases", "criteria", "statuses", "bands", "points", "routes", "options")
)
#: Items with an identity that are still matched in order: a first-match or ordered list
#: where an edit of the identity (a band's edge, a case's condition) is a change in place.
_IN_ORDER = (n.Band, n.CurveAt, n.CurveBelow, n.WhenCase)


def _empty_items(node: Any, field: str) -> bool:
    """An empty tuple in a field that holds items (a block with nothing in it yet)."""
    return field in _ITEM_FIELDS and getattr(node, field) == ()


def _identity(node: Any) -> set[str]:
    """The fields that say which item a node is (its name, a band's range), not what it does."""
    if isinstance(getattr(node, "name", None), n.Ident):
        return {"name"}
    match node:
        case n.Band():
            return {"low", "high", "low_inclusive", "high_inclusive"}
        case n.CurveAt() | n.CurveBelow():
            return {"level"}
        case n.ValueCase():
            return {"value"}
        case n.WhenCase():
            return {"condition"}
        case n.Route():
            return {"score"}
        case n.ExpectConversion():
            return {"source", "target"}
        case n.Qualify():
            return {"subject"}
    return set()


def _node(where: tuple[str, ...], a: Any, b: Any, found: list[Change], parent: Any = None) -> None:
    """Report how `b` differs from `a`, two nodes of one type that are not equal."""
    identity = _identity(a)
    named = bool(identity) and all(getattr(a, f) == getattr(b, f) for f in identity)
    if not named and not _has_items(a):
        # A line without a name (`effective ...`, `threshold 80% gate`): shown whole.
        found.append(Change("changed", where, None, one_line(a), one_line(b), _at(a), _at(b)))
        return
    if identity and not named:
        # The only one of its kind on both sides, under another name (`pipeline new_business`
        # -> `pipeline sales`): the new name, then what else changed in it.
        found.append(Change("renamed", where, None, _name(a), _name(b), _at(a), _at(b)))
    here = (*where, _name(b))
    for field, old in _fields(a):
        new = getattr(b, field)
        if field in identity or old == new:
            continue
        if _is_items(old) or _is_items(new) or _empty_items(a, field):
            _items(here, old, new, found, ordered=_order_matters(a, field), parent=a)
        elif (
            dataclasses.is_dataclass(old) and type(old) is type(new) and not isinstance(old, _ATOMS)
        ):
            _node(here, old, new, found, a)
        else:
            word: str | None = _word(a, field, parent)
            if _value(old).startswith(f"{word} ") or _value(new).startswith(f"{word} "):
                word = None  # `target >= 30%` says its own name
            found.append(
                Change("changed", here, word, _value(old), _value(new), _at(old) or _at(a),
                       _at(new) or _at(b))
            )  # fmt: skip


def _order_matters(node: Any, field: str) -> bool:
    """Whether the order of a block's items means something: the first match wins (statuses,
    cases, qualification routes) or it is the path (a pipeline's stages). Moving a field, an
    exit criterion or a measure changes nothing, so it is not reported."""
    return field in ("statuses", "cases", "routes") or (
        isinstance(node, n.Pipeline) and field == "items"
    )


def _key(node: Any, singles: set[type]) -> tuple[Any, ...] | None:
    """How an item is matched with its other version: by name, by kind when it occurs once."""
    identity = _identity(node)
    if identity and not isinstance(node, _IN_ORDER):
        return (type(node).__name__, *(_value(getattr(node, f)) for f in sorted(identity)))
    if type(node) in singles:
        return (type(node).__name__,)
    return None


def _items(
    where: tuple[str, ...],
    old: Sequence[Any],
    new: Sequence[Any],
    found: list[Change],
    *,
    ordered: bool,
    parent: Any = None,
) -> None:
    """Match two lists of items and report what was added, removed, renamed, changed, moved."""
    counts_old = _type_counts(old)
    counts_new = _type_counts(new)
    singles = {t for t in counts_old.keys() | counts_new.keys()
               if counts_old.get(t, 0) <= 1 and counts_new.get(t, 0) <= 1}  # fmt: skip
    keyed_old = _keyed(old, singles)
    keyed_new = _keyed(new, singles)
    # Keyed items: by key; what is left of them joins the items matched in order.
    common = [k for k in keyed_old if k in keyed_new]
    for key in common:
        a, b = keyed_old[key], keyed_new[key]
        if a != b:
            _node(where, a, b, found, parent)
    if ordered:
        order_old = [k for k in keyed_old if k in keyed_new]
        order_new = [k for k in keyed_new if k in keyed_old]
        if order_old != order_new:
            found.append(
                Change("reordered", where, None,
                       ", ".join(_name(keyed_old[k]) for k in order_old),
                       ", ".join(_name(keyed_new[k]) for k in order_new),
                       _at(keyed_old[order_old[0]]), _at(keyed_new[order_new[0]]))
            )  # fmt: skip
    gone = [keyed_old[k] for k in keyed_old if k not in keyed_new]
    came = [keyed_new[k] for k in keyed_new if k not in keyed_old]
    gone, came = _renames(where, gone, came, found)
    rest_old = [x for x in old if _key(x, singles) is None] + gone
    rest_new = [x for x in new if _key(x, singles) is None] + came
    for kind in dict.fromkeys([type(x) for x in rest_old + rest_new]):
        _aligned(
            where,
            [x for x in rest_old if type(x) is kind],
            [x for x in rest_new if type(x) is kind],
            found,
            parent,
        )


def _type_counts(items: Sequence[Any]) -> dict[type, int]:
    counts: dict[type, int] = {}
    for item in items:
        counts[type(item)] = counts.get(type(item), 0) + 1
    return counts


def _keyed(items: Sequence[Any], singles: set[type]) -> dict[tuple[Any, ...], Any]:
    found: dict[tuple[Any, ...], Any] = {}
    for item in items:
        key = _key(item, singles)
        if key is not None:
            found.setdefault(key, item)  # a duplicate is the checker's to report
    return found


def _renames(
    where: tuple[str, ...], gone: list[Any], came: list[Any], found: list[Change]
) -> tuple[list[Any], list[Any]]:
    """Pairs of a removed and an added named item whose bodies are equal: renames."""
    left = list(came)
    kept: list[Any] = []
    for a in gone:
        twin = None
        if isinstance(getattr(a, "name", None), n.Ident):
            twin = next((b for b in left if type(b) is type(a) and _same_body(a, b)), None)
        if twin is None:
            kept.append(a)
            continue
        left.remove(twin)
        found.append(Change("renamed", where, None, _name(a), _name(twin), _at(a), _at(twin)))
        label_old, label_new = getattr(a, "label", None), getattr(twin, "label", None)
        if label_old != label_new:
            found.append(
                Change("changed", (*where, _name(twin)), "label", _value(label_old),
                       _value(label_new), _at(a), _at(twin))
            )  # fmt: skip
    return kept, left


def _same_body(a: Any, b: Any) -> bool:
    changes: dict[str, Any] = {"name": b.name}
    if hasattr(a, "label"):
        changes["label"] = getattr(b, "label", None)
    return bool(dataclasses.replace(a, **changes) == b)


def _aligned(
    where: tuple[str, ...], old: list[Any], new: list[Any], found: list[Change], parent: Any
) -> None:
    """Items without a name (bands, `when` cases, curve points), aligned in order on the
    unchanged ones; a replaced run is compared pair by pair."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for a, b in zip(old[i1 : i1 + pairs], new[j1 : j1 + pairs], strict=True):
            _node(where, a, b, found, parent)
        for a in old[i1 + pairs : i2]:
            found.append(Change("removed", where, None, one_line(a), None, _at(a), None))
        for b in new[j1 + pairs : j2]:
            found.append(Change("added", where, None, None, one_line(b), None, _at(b)))
