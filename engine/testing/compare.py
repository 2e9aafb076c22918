"""Wanted vs got: compare a fixture's wanted results with what the engine computed, readably.

Comparison rules (documented in docs/testing.md):
  * A wanted mapping is a subset: only the keys it lists are compared.
  * A wanted list of mappings: each wanted item must match a distinct got item (by its key
    field when it has one, e.g. `measure`); got items not wanted are ignored.
  * A wanted list of scalars equals the got list as a multiset (order is not compared).
  * Numbers compare by value, whatever their spelling: `5625`, `5625.00`, `"5625.00"`, `95%`
    (0.95), `1/3` (an exact fraction). An exact got value (integer, Decimal, money text) must be
    equal; a binary float got value (a ratio) must be equal to 1e-9 relative.
  * `true` / `false` only match booleans; `null` matches a missing value; dates match their
    ISO text; other text is compared exactly.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

__all__ = ["Difference", "as_number", "compare", "native", "plain", "render", "same", "show"]

#: Fields that identify an item of a wanted list of mappings, tried in order.
ITEM_KEYS = ("measure", "stage", "id", "kpi", "subject")
_FRACTION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*(%?)\s*$")
_FLOAT_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Difference:
    """One field whose got value differs from the wanted one (`note` says how when not equal)."""

    path: str
    wanted: Any
    got: Any
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The difference as JSON-ready values (see docs/testing.md, JSON output)."""
        found: dict[str, Any] = {
            "path": self.path,
            "wanted": plain(self.wanted),
            "got": plain(self.got),
        }
        if self.note:
            found["note"] = self.note
        return found


def plain(value: Any) -> Any:
    """A got or wanted value as plain JSON-ready Python: missing markers None, numbers as text
    when exact (so `5625.00` keeps its cents), containers as dicts and lists."""
    value = native(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def native(value: Any) -> Any:
    """pandas / numpy markers and scalars as Python values (None for a missing marker)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return native(value.item())
    if name == "Timestamp":
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def as_number(value: Any) -> Fraction | float | None:
    """A number from a wanted or got value: exact as a Fraction, a binary float as a float;
    None for anything that is not a number (booleans included)."""
    value = native(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        fraction = _FRACTION.match(value)
        if fraction:
            low, high = Fraction(Decimal(fraction[1])), Fraction(Decimal(fraction[2]))
            return low / high if high else None
        number = _NUMBER.match(value)
        if number:
            text = value.strip().rstrip("%").strip()
            try:
                exact = Fraction(Decimal(text))
            except (InvalidOperation, ValueError):
                return None
            return exact / 100 if number[4] else exact
    return None


def same(wanted: Any, got: Any) -> bool:
    """Whether a got value satisfies a wanted one (the rules of the module note)."""
    return not compare(wanted, got, "")


def compare(wanted: Any, got: Any, path: str) -> list[Difference]:
    """Every difference between a wanted value and a got one, with readable paths."""
    got = native(got)
    wanted = native(wanted)
    if isinstance(wanted, Mapping):
        if not isinstance(got, Mapping):
            return [Difference(path, wanted, got)]
        found: list[Difference] = []
        for key, item in wanted.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                found.append(Difference(where, item, None, "no such field"))
            else:
                found.extend(compare(item, got[key], where))
        return found
    if isinstance(wanted, (list, tuple)):
        if not isinstance(got, (list, tuple, set, frozenset)):
            return [Difference(path, wanted, got)]
        items = list(got)
        if wanted and all(isinstance(w, Mapping) for w in wanted):
            return _compare_items(list(wanted), items, path)
        return [] if _multiset_equal(list(wanted), items) else [Difference(path, wanted, got)]
    return [] if _scalar_same(wanted, got) else [Difference(path, wanted, got)]


def _compare_items(wanted: list[Any], got: list[Any], path: str) -> list[Difference]:
    found: list[Difference] = []
    free = list(range(len(got)))
    for index, item in enumerate(wanted):
        key = next((k for k in ITEM_KEYS if k in item), None)
        label = f"{path}[{item[key]}]" if key else f"{path}[{index}]"
        candidates = [
            i
            for i in free
            if isinstance(got[i], Mapping)
            and (key is None or _scalar_same(item[key], got[i].get(key)))
        ]
        match = next((i for i in candidates if not compare(item, got[i], label)), None)
        if match is not None:
            free.remove(match)
            continue
        if key is not None and candidates:
            found.extend(compare(item, got[candidates[0]], label))
            free.remove(candidates[0])
        else:
            found.append(Difference(label, item, None, "no such item"))
    return found


def _multiset_equal(wanted: list[Any], got: list[Any]) -> bool:
    if len(wanted) != len(got):
        return False
    free = list(got)
    for item in wanted:
        match = next((i for i, g in enumerate(free) if same(item, g)), None)
        if match is None:
            return False
        free.pop(match)
    return True


def _scalar_same(wanted: Any, got: Any) -> bool:
    wanted, got = native(wanted), native(got)
    if wanted is None or got is None:
        return wanted is None and got is None
    if isinstance(wanted, bool) or isinstance(got, bool):
        return isinstance(wanted, bool) and isinstance(got, bool) and wanted == got
    if isinstance(got, dt.date) or isinstance(wanted, dt.date):
        return _date_text(wanted) == _date_text(got)
    w, g = as_number(wanted), as_number(got)
    if w is not None and g is not None:
        if isinstance(g, float) or isinstance(w, float):
            a, b = float(w), float(g)
            return abs(a - b) <= _FLOAT_TOLERANCE * max(1.0, abs(a), abs(b))
        return w == g
    return str(wanted) == str(got)


def _date_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def show(value: Any) -> str:
    """A value as one line of YAML-like text (`null`, `true`, `5625.00`, `{a: 1}`)."""
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if _needs_quotes(value) else value
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _needs_quotes(text: str) -> bool:
    return (
        text == ""
        or text != text.strip()
        or "\n" in text
        or text.lower() in ("null", "true", "false")
        or any(c in text for c in ',:{}[]#"')
    )


def render(differences: Sequence[Difference], indent: str = "  ") -> str:
    """Differences as a readable diff: the field, then `- wanted` and `+ got` lines; long
    multi-line text (a statement) as a line-by-line diff."""
    lines: list[str] = []
    for difference in differences:
        title = difference.path or "(result)"
        lines.append(f"{indent}{title}" + (f"  ({difference.note})" if difference.note else ""))
        wanted, got = difference.wanted, difference.got
        if isinstance(wanted, str) and isinstance(got, str) and ("\n" in wanted or "\n" in got):
            for line in difflib.ndiff(wanted.splitlines(), got.splitlines()):
                if not line.startswith("?"):
                    lines.append(f"{indent}  {line}")
            continue
        lines.append(f"{indent}  - wanted: {show(wanted)}")
        lines.append(f"{indent}  + got:    {show(got)}")
    return "\n".join(lines)
