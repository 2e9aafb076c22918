"""Typed columns from text: numbers, amounts in cents, dates, yes/no and one_of values.

Each parser takes a column of text (stripped, empty = missing) and returns its typed columns,
the rows whose cell could not be read, and one message per bad value. Plain cells go through a
vectorized path (Arrow regular expressions, casts); the others are parsed once per distinct value
by the exact parsers of `engine.money`, which report what is ambiguous (`1,234`: 1234 or 1.234?)
instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from dsl.canonical import FALSE_WORDS, TRUE_WORDS, Column
from engine import cells
from engine.data.read import Bools, as_arrow
from engine.money import CURRENCY, currency_marks, scaled

__all__ = ["Parsed", "parse_column"]


Parsed = tuple[dict[str, Any], Bools, dict[str | None, str]]


def parse_column(
    column: Column, text: pd.Series[Any], decimals: bool = True, currency: str | None = None
) -> Parsed:
    """A column of text typed by its column type; amounts marked with a currency must be in
    `currency` (the ruleset's), when given."""
    parsers: dict[str, Callable[[Column, pd.Series[Any]], Parsed]] = {
        "text": _parse_text,
        "one_of": _parse_one_of,
        "boolean": _parse_boolean,
        "integer": _parse_integer,
        "number": _parse_float,
        "percent": _parse_float,
        "money": _parse_money,
        "date": _parse_date,
    }
    parser = parsers.get(column.type)
    if parser is None:
        raise ValueError(f"column {column.name!r} has unknown type {column.type!r}")
    if column.type == "money":
        return _parse_money(column, text, decimals, currency)
    return parser(column, text)


def _parse_text(column: Column, text: pd.Series[Any]) -> Parsed:
    return {column.name: text}, np.zeros(len(text), dtype=bool), {}


def _parse_one_of(column: Column, text: pd.Series[Any]) -> Parsed:
    options = column.options
    bad = (text.notna() & ~text.isin(list(options))).to_numpy()
    messages: dict[str | None, str] = {
        str(value): cells.not_an_option(str(value), options) for value in pd.unique(text[bad])
    }
    return {column.name: text}, bad, messages


def _parse_boolean(column: Column, text: pd.Series[Any]) -> Parsed:
    lowered = text.str.lower()
    yes = lowered.isin(TRUE_WORDS).to_numpy()
    no = lowered.isin(FALSE_WORDS).to_numpy()
    present = text.notna().to_numpy()
    bad = present & ~(yes | no)
    values = pd.arrays.BooleanArray(yes, ~(yes | no))
    messages: dict[str | None, str] = {
        str(value): cells.not_yes_no(str(value)) for value in pd.unique(text[bad])
    }
    return {column.name: pd.Series(values, index=text.index)}, bad, messages


def _fast(array: pa.Array, pattern: str) -> Bools:
    matched = pc.match_substring_regex(array, pattern)
    return np.asarray(matched.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _slow(
    text: pd.Series[Any], mask: Bools, parse: Callable[[str], Any], target: npt.NDArray[Any]
) -> tuple[Bools, dict[str | None, str]]:
    """Parse the cells the vectorized path did not take, once per distinct value, into `target`.

    Returns where parsing failed and the message of each value that failed.
    """
    failed = np.zeros(len(text), dtype=bool)
    messages: dict[str | None, str] = {}
    positions = np.flatnonzero(mask)
    if not positions.size:
        return failed, messages
    codes, distinct = pd.factorize(text.iloc[positions])
    results = np.empty(len(distinct), dtype=object)
    parsed = np.zeros(len(distinct), dtype=bool)
    for number, value in enumerate(distinct.tolist()):
        try:
            results[number] = parse(str(value))
            parsed[number] = True
        except ValueError as error:
            messages[str(value)] = str(error)
    ok = parsed[codes]
    if ok.any():
        target[positions[ok]] = list(results[codes[ok]])
    failed[positions[~ok]] = True
    return failed, messages


# Grouped or decimal-comma numbers that mean one thing only; the rest goes to the exact parser.
_PLAIN = r"^[+-]?\d+(\.\d+)?$"
# A grouped number's first group has no leading zero (`07 700` is refused, as Babel does).
_SPACED = "^[+-]?[1-9]\\d{0,2}([ \u00a0\u202f']\\d{3})+([.,]\\d+)?$"
_COMMA_DECIMAL = r"^[+-]?\d+,\d+$"
_ENGLISH = (r"^[+-]?[1-9]\d{0,2}(,\d{3})+\.\d+$", r"^[+-]?[1-9]\d{0,2}(,\d{3}){2,}$")
_GERMAN = (r"^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$", r"^[+-]?[1-9]\d{0,2}(\.\d{3}){2,}$")


def _ambiguous(array: pa.Array, marks: str) -> Bools:
    """A lone separator before three digits: `1,234` is 1234 in English and 1.234 in French."""
    return _fast(array, rf"^[+-]?[1-9]\d{{0,2}}[{marks}]\d{{3}}$")


def _canonical(array: pa.Array) -> pa.Array:
    """Rewrite `1 234,5`, `1,234.5`, `1.234,5`, `12,5` as `1234.5`, vectorized (Arrow RE2)."""
    missing = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if (_fast(array, _PLAIN) | missing).all():
        return array
    spaced = _fast(array, _SPACED)
    comma = _fast(array, _COMMA_DECIMAL) & ~_ambiguous(array, ",")
    english = _fast(array, _ENGLISH[0]) | _fast(array, _ENGLISH[1])
    german = _fast(array, _GERMAN[0]) | _fast(array, _GERMAN[1])
    point = pc.replace_substring(array, ",", ".")
    rewritten = {
        "spaced": pc.replace_substring_regex(point, "[ \u00a0\u202f']", ""),
        "comma": point,
        "english": pc.replace_substring(array, ",", ""),
        "german": pc.replace_substring(pc.replace_substring(array, ".", ""), ",", "."),
    }
    masks = {"spaced": spaced, "comma": comma, "english": english, "german": german}
    result = array
    for name, mask in masks.items():
        if mask.any():
            result = pc.if_else(pa.array(mask), rewritten[name], result)
    return result


def _plain(
    array: pa.Array, pattern: str, unwrap: Callable[[pa.Array], pa.Array] | None = None
) -> tuple[pa.Array, Bools]:
    """The cells matching `pattern`, a plain number; when some do not, after `unwrap` (which
    drops what surrounds a number) and `_canonical`."""
    fast = _fast(array, pattern)
    if int(np.count_nonzero(fast)) == len(array) - array.null_count:
        return array, fast  # plain numbers are never rewritten: no need to try
    canonical = _canonical(unwrap(array) if unwrap else array)
    return canonical, _fast(canonical, pattern)


def _cast(array: pa.Array, fast: Bools, kind: pa.DataType) -> npt.NDArray[Any]:
    """Convert the plain cells (`fast`) to numbers; the others become 0 and are overwritten."""
    if int(np.count_nonzero(fast)) < len(array) - array.null_count:
        array = pc.if_else(pa.array(fast), array, "0")
    if pa.types.is_integer(kind) and pc.any(pc.starts_with(array, "+")).as_py():
        array = pc.replace_substring_regex(array, r"^\+", "")  # Arrow's integer cast refuses "+5"
    return np.asarray(pc.cast(array, kind).fill_null(0).to_numpy(zero_copy_only=False))


def _parse_float(column: Column, text: pd.Series[Any]) -> Parsed:
    array, fast = _plain(as_arrow(text), _PLAIN)
    present = text.notna().to_numpy()
    numbers = np.full(len(text), np.nan)
    if fast.any():
        numbers[fast] = _cast(array, fast, pa.float64())[fast]
        if column.type == "percent":
            # A bare number above 1 is ambiguous as a percentage: the exact parser says so.
            fast = fast & (np.abs(numbers) <= 1)
    slow = present & ~fast
    read = cells.percent if column.type == "percent" else cells.number
    bad, messages = _slow(text, slow, read, numbers)
    return {column.name: pd.Series(numbers, index=text.index)}, bad, messages


def _parse_integer(column: Column, text: pd.Series[Any]) -> Parsed:
    array, fast = _plain(as_arrow(text), r"^[+-]?\d{1,18}$")
    present = text.notna().to_numpy()
    integers = np.zeros(len(text), dtype=np.int64)
    if fast.any():
        integers[fast] = _cast(array, fast, pa.int64())[fast]
    bad, messages = _slow(text, present & ~fast, cells.whole, integers)
    values = pd.arrays.IntegerArray(integers, ~present | bad)
    return {column.name: pd.Series(values, index=text.index)}, bad, messages


#: Plain amounts with at most two significant decimals and 13 digits: they convert exactly through
#: float64 (the error stays far below half a cent). Left out: a 1-3 digit whole part and three
#: decimals (`1.230`), ambiguous as an amount (a thousands separator?); the Decimal path explains.
_PLAIN_AMOUNT = r"^[+-]?(\d{1,13}(\.\d{1,2}|\.\d\d00+)?|(0\d{0,12}|\d{4,13})\.\d\d0)$"


# `1 234,56 €`, `€1,234.56`, `12 EUR`: one currency sign or code before or after the number, as
# `engine.money` reads them. Dropping it lets the vectorized path read French exports' amounts.
_BLANK = "[\\s\u00a0\u202f\u2009\u2007]*"
_BODY = "([+\\-]?[\\d.,' \u00a0\u202f\u2009\u2007]*\\d)"


def _with_currency(marks: str) -> str:
    return f"^{_BLANK}{marks}{_BLANK}{_BODY}{_BLANK}$|^{_BLANK}{_BODY}{_BLANK}{marks}{_BLANK}$"


def _without_currency(currency: str | None) -> Callable[[pa.Array], pa.Array]:
    """Drops the currency sign or code of the cells marked with `currency` (any currency when
    None); the others stay as they are, so the exact parser reads them (and refuses another
    currency than the ruleset's, never crediting it 1:1)."""
    pattern = _with_currency(CURRENCY if currency is None else currency_marks(currency))

    def drop(array: pa.Array) -> pa.Array:
        return pc.replace_substring_regex(array, pattern, r"\1\2")

    return drop


def _parse_money(
    column: Column, text: pd.Series[Any], decimals: bool = True, currency: str | None = None
) -> Parsed:
    array, fast = _plain(as_arrow(text), _PLAIN_AMOUNT, _without_currency(currency))
    present = text.notna().to_numpy()
    cents = np.zeros(len(text), dtype=np.int64)
    if fast.any():
        cents[fast] = np.rint(_cast(array, fast, pa.float64())[fast] * 100).astype(np.int64)
    bad, messages = _slow(text, present & ~fast, lambda value: cells.cents(value, currency), cents)
    ok = present & ~bad
    integers = pd.arrays.IntegerArray(cents, ~ok)
    typed = {f"{column.name}__cents": pd.Series(integers, index=text.index)}
    if not decimals:
        return typed, bad, messages
    objects = np.full(len(text), None, dtype=object)
    if ok.any():
        codes, distinct = pd.factorize(cents[ok])  # one Decimal per distinct amount
        made = np.empty(len(distinct), dtype=object)
        made[:] = scaled(distinct.tolist(), 2)
        objects[ok] = made[codes]
    return {column.name: pd.Series(objects, index=text.index, dtype=object), **typed}, bad, messages


# ISO dates, with a time and zone that are dropped (the day is the one written), and French
# day-first dates. Month-first dates (03/13/2026) fail as dates and are reported.
# The patterns of engine.cells (the record path), anchored for Arrow's regex engine.
_ISO_DAY = f"^{cells.ISO_DAY}$"
_SLASHED_TIME = rf"^(\d{{1,2}}/\d{{1,2}}/\d{{4}})[ T]{cells.SLASHED_TIME}$"


def _parse_date(column: Column, text: pd.Series[Any]) -> Parsed:
    present = text.notna().to_numpy()
    array = as_arrow(text)
    # Cut every cell to its day, then parse each distinct day once: a column holds few days.
    iso = _fast(array, _ISO_DAY)
    day = pc.utf8_slice_codeunits(array, 0, 10)
    if (present & ~iso).any():
        slashed = pc.replace_substring_regex(array, _SLASHED_TIME, r"\1")
        day = pc.if_else(pa.array(iso), day, slashed)
    codes, distinct = pd.factorize(day.to_pandas())
    # Microseconds hold any year, so a typo like 0202 is caught below rather than overflowing.
    parsed = np.array([_day(str(value)) for value in distinct], dtype="datetime64[us]")
    # NaT last, so an all-empty column (no distinct day) indexes something.
    parsed = np.append(parsed, np.datetime64("NaT", "us"))
    values = parsed[np.where(codes >= 0, codes, len(parsed) - 1)]
    failed = present & np.isnat(values)
    messages: dict[str | None, str] = {
        str(value): cells.not_a_date(str(value)) for value in pd.unique(text[failed])
    }
    first, last = (np.datetime64(d, "us") for d in (cells.FIRST_DAY, cells.LAST_DAY))
    plausible = (values >= first) & (values <= last)
    implausible = present & ~failed & ~plausible
    for value in pd.unique(text[implausible]):
        messages[str(value)] = cells.implausible_date(str(value))
    values[implausible] = np.datetime64("NaT")
    typed = pd.Series(values.astype("datetime64[ns]"), index=text.index)
    return {column.name: typed}, failed | implausible, messages


def _day(value: str) -> np.datetime64:
    """The day of a date cell (see `engine.cells.day_of`), NaT when there is none."""
    found = cells.day_of(value)
    return np.datetime64("NaT", "us") if found is None else np.datetime64(found, "us")
