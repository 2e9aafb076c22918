"""One input cell read as a type of the language, the same way on both paths.

The table path (`engine.data.parse`) reads whole columns in bulk and hands the cells it cannot
read that way to these functions, once per distinct value; the record path (`engine.record`)
reads every field of a record with `coercer`, which also takes the Python values a caller
passes (int, Decimal, date, pandas' NA). So `1 234,56`, `oui`, `12/02/2026` or a half cent mean
one thing (or fail with one message) whichever path reads them. No pandas here: `koncept check`
and `engine.load` stay light.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from dsl.canonical import FALSE_WORDS, FIRST_DAY, LAST_DAY, MAX_CENTS, TRUE_WORDS
from dsl.diagnostics import closest
from dsl.types import FieldType, range_text
from engine.money import currency_of, parse_money, parse_number

__all__ = [
    "BOOL_HELP",
    "DATE_HELP",
    "FIRST_DAY",
    "ISO_DAY",
    "LAST_DAY",
    "PERCENT_HELP",
    "SLASHED_DAY",
    "SLASHED_TIME",
    "boolean",
    "cents",
    "coercer",
    "day",
    "day_of",
    "fraction",
    "implausible_date",
    "known_text",
    "not_a_date",
    "not_an_option",
    "not_yes_no",
    "number",
    "other_currency",
    "percent",
    "unknown_id",
    "whole",
]

BOOL_HELP = "expected true/false, yes/no, oui/non, vrai/faux or 1/0"
DATE_HELP = "expected YYYY-MM-DD or DD/MM/YYYY"
_TRUE, _FALSE = frozenset(TRUE_WORDS), frozenset(FALSE_WORDS)
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_PLAIN_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
# A time of day after a date is checked (hours 0-23, minutes and seconds 0-59, a zone within
# +-14:00), then dropped: the day is the one written. Both paths read dates with these.
_TIME = (
    r"(?:[01]\d|2[0-3]):[0-5]\d(?::(?:[0-5]\d|60)(?:\.\d+)?)?\s*(?:Z|[+-](?:0\d|1[0-4]):?[0-5]\d)?"
)
#: The time of a day-first date, as French exports write it (`9:05`, `09:05:30`).
SLASHED_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
#: An ISO date (`2026-02-12`), with a time and zone; groups: year, month, day.
ISO_DAY = rf"(\d{{4}})-(\d{{2}})-(\d{{2}})(?:[T ]{_TIME})?"
#: A French day-first date (`12/02/2026`), with a time; groups: day, month, year. Month-first
#: dates (03/13/2026) fail as dates and are reported.
SLASHED_DAY = rf"(\d{{1,2}})/(\d{{1,2}})/(\d{{4}})(?:[ T]{SLASHED_TIME})?"
_DAY = re.compile(f"{ISO_DAY}|{SLASHED_DAY}")


def boolean(text: str) -> bool:
    """A yes/no cell: true/false, yes/no, oui/non, vrai/faux or 1/0, in any case."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(not_yes_no(text))


def not_yes_no(text: str) -> str:
    """Why a cell is not a yes/no value."""
    return f"{text!r} is not a yes/no value ({BOOL_HELP})"


def whole(text: str) -> int:
    """A whole number (`12`, `1 200`, `1,2K` refused), within int64."""
    if _PLAIN_INTEGER.match(text):
        return int(text)
    found = parse_number(text)
    if found != found.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    if abs(found) >= 2**63:
        raise ValueError(f"{text!r} is too large")
    return int(found)


def number(text: str) -> float:
    """A number (`12.5`, `1 234,5`), finite: the binary float nearest to the decimal written, so
    that its shortest repr gives that decimal back (exact arithmetic recovers it)."""
    found = float(text) if _PLAIN_NUMBER.match(text) else float(parse_number(text))
    if not math.isfinite(found):
        raise ValueError(f"{text!r} is not a finite number")
    return found


#: The one rule for percentages in data, on both paths.
PERCENT_HELP = "write 15% or 0.15 for 15%"


def percent(text: str) -> float:
    """A percentage as a fraction: `15%` and `0.15` are 0.15; a bare number above 1 (`15`: 15%
    or 1500%?) is refused as ambiguous."""
    if text.endswith("%"):
        written = text[:-1].strip()
        found = number(written)  # refuses what is not a number, in the number's words
        exact = Decimal(repr(found)) if _PLAIN_NUMBER.match(written) else parse_number(written)
        # Divided in decimal, then rounded once to a float: 14.3% is the float nearest 0.143.
        return float(exact.scaleb(-2))
    return fraction(number(text), text)


def fraction(value: float, shown: object) -> float:
    """A bare number read as a percentage: a fraction within -1..1, else ambiguous."""
    if abs(value) > 1:
        raise ValueError(f"{shown!s} is ambiguous as a percentage: {PERCENT_HELP}")
    return value


def other_currency(value: object, found: str, currency: str) -> str:
    """Why an amount in another currency than the ruleset's is refused."""
    return (
        f"{value!s} is an amount in {found}, but the ruleset's currency is {currency} "
        f"(convert it, or write it without a currency)"
    )


def cents(value: str | int | float | Decimal, currency: str | None = None) -> int:
    """An amount in integer cents (`1 234,56 €`, `50K`); more than two decimals is refused, and
    so is an amount marked with another currency than `currency` (when given)."""
    if currency is not None and isinstance(value, str):
        found_currency = currency_of(value)
        if found_currency is not None and found_currency != currency:
            raise ValueError(other_currency(value, found_currency, currency))
    found = parse_money(value) * 100
    if found != found.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals (amounts are kept to the cent)")
    if abs(found) >= MAX_CENTS:
        raise ValueError(f"{value!r} is too large for an amount")
    return int(found)


def day_of(text: str) -> dt.date | None:
    """The day a date cell names (`2026-02-12`, `2026-02-12T10:00Z`, `12/02/2026`), or None."""
    match = _DAY.fullmatch(text)
    if match is None:
        return None
    year, month, day_, d, m, y = match.groups()
    try:
        if year is not None:
            return dt.date(int(year), int(month), int(day_))
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def not_a_date(text: str) -> str:
    """Why a cell is not a date."""
    return f"{text!r} is not a date ({DATE_HELP})"


def implausible_date(text: str) -> str:
    """Why a date is refused although it is one."""
    return f"{text!r} is not a plausible date (expected between 1900 and 2199)"


def day(text: str) -> dt.date:
    """A date cell's day, between 1900 and 2199; ValueError with the reason otherwise."""
    found = day_of(text)
    if found is None:
        raise ValueError(not_a_date(text))
    if not FIRST_DAY <= found <= LAST_DAY:
        raise ValueError(implausible_date(text))
    return found


def _hint(value: str, choices: Sequence[str]) -> str:
    """`; did you mean 'x'?` for the choice closest to a cell's value, case ignored, or ""."""
    close = closest(value, choices, fold_case=True)
    return f"; did you mean {close!r}?" if close else ""


def not_an_option(value: str, options: Sequence[str]) -> str:
    """Why a cell is not one of a one_of field's options."""
    return f"{value!r} is not one of {', '.join(options)}{_hint(value, options)}"


def unknown_id(name: str, value: str, known: Sequence[str]) -> str:
    """Why a cell is not one of the ids it must name (a deal's stage)."""
    shown = ", ".join(known[:10]) + (f", ... ({len(known)} in all)" if len(known) > 10 else "")
    return f"{value!r} is not a known {name} (expected one of {shown}){_hint(value, known)}"


# ----------------------------------------------------------------------------- values
# The record path receives Python values (str from a CSV reader or a web form, int, float,
# Decimal, date, None, pandas' NA) and reads them like the cells above.
def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if value.__class__ is float:
        return value != value  # NaN
    # pandas' NA and NaT, without importing pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _as_text(value: object) -> str | None:
    if value.__class__ is str:
        text: str = value.strip()
        return text or None
    if _is_missing(value):
        return None
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = str(value).strip()
    return text or None


def _text(value: object) -> str | None:
    return _as_text(value)


def _one_of(options: tuple[str, ...]) -> Callable[[object], str | None]:
    known = frozenset(options)

    def coerce(value: object) -> str | None:
        if value.__class__ is str and value in known:
            return value
        text = _as_text(value)
        if text is None or text in known:
            return text
        raise ValueError(not_an_option(text, options))

    return coerce


def known_text(name: str, known: tuple[str, ...]) -> Callable[[object], str | None]:
    """A text field restricted to known ids (stage ids), in the table path's words."""
    allowed = frozenset(known)

    def coerce(value: object) -> str | None:
        text = _as_text(value)
        if text is None or text in allowed:
            return text
        raise ValueError(unknown_id(name, text, known))

    return coerce


def _boolean(value: object) -> bool | None:
    if value is True or value is False:
        return value
    text = _as_text(value)
    return None if text is None else boolean(text)


def _integer(value: object) -> int | None:
    if value.__class__ is int:
        return value
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        if _is_missing(value):
            return None
        if value != int(value):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    text = _as_text(value)
    return None if text is None else whole(text)


def _number(is_percent: bool) -> Callable[[object], float | None]:
    read = percent if is_percent else number

    def coerce(value: object) -> float | None:
        found: float
        if value.__class__ is float:
            if value != value:
                return None
            found = value
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            found = float(value)
        else:
            text = _as_text(value)
            return None if text is None else read(text)
        return fraction(found, value) if is_percent else found

    return coerce


def _money_reader(currency: str | None) -> Callable[[object], Decimal | None]:
    def coerce(value: object) -> Decimal | None:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an amount")
        if isinstance(value, int | float | Decimal):
            if _is_missing(value):
                return None
            found = cents(value)
        else:
            text = _as_text(value)
            if text is None:
                return None
            found = cents(text, currency)
        # The same object the table path builds: cents, two places.
        return Decimal(found).scaleb(-2)

    return coerce


_money = _money_reader(None)


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _as_text(value)
    return None if text is None else day(text)


def coercer(field_type: FieldType, currency: str | None = None) -> Callable[[object], Any]:
    """The function turning one input value into the record path's value for a field type
    (an amount marked with a currency must be in `currency`, when given)."""
    plain = _coercer(field_type, currency)
    if field_type.range is None:
        return plain
    low, high = field_type.range
    shown = range_text(low, high)

    def ranged(value: object) -> Any:
        found = plain(value)
        if found is not None and not low <= found <= high:
            raise ValueError(f"{found} is outside {shown}")
        return found

    return ranged


def _coercer(field_type: FieldType, currency: str | None) -> Callable[[object], Any]:
    kind = field_type.kind
    if kind == "one_of":
        return _one_of(field_type.options)
    if kind in ("number", "percent"):
        return _number(kind == "percent")
    simple: dict[str, Callable[[object], Any]] = {
        "boolean": _boolean,
        "integer": _integer,
        "money": _money if currency is None else _money_reader(currency),
        "date": _date,
    }
    return simple.get(kind, _text)
