"""Validation: typed columns, an error per invalid cell, only the valid rows kept.

Validation (`validate_table`) turns text into typed columns and reports every invalid cell as a
`RowError` carrying that row number; a frame built in memory with pandas' default 0-based index
is numbered from 1. A row with any error is left out of `valid`, and
`rows_in == rows_out + rows_rejected` always holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from dsl.canonical import Column
from dsl.diagnostics import closest
from engine import cells
from engine.data.parse import parse_column
from engine.data.read import Bools, Cells, as_text, column_cells, mix_keys
from engine.schemas import RECORD_NAMES

__all__ = ["KEYS", "RowError", "Validated", "validate_table"]

#: Record name -> the columns that identify a row; a repeated key rejects every copy.
KEYS: dict[str, tuple[str, ...]] = {
    "lead": ("id",),
    "deal": ("id",),
    "rep": ("id",),
    "territory": ("id",),
    "quota": ("rep_id", "period", "measure"),
    "stage_event": ("deal_id", "stage", "entered_at"),
    "cancellation": ("deal_id",),
}

_A = TypeVar("_A")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RowError:
    """One invalid cell (or a whole table when `row` is None): where, what, and why."""

    table: str
    row: int | None
    column: str | None
    value: str | None
    message: str


@dataclass(frozen=True, eq=False)
class Validated:
    """The rows of a table that passed validation, typed, and the errors of those that did not."""

    table: str
    valid: pd.DataFrame
    errors: tuple[RowError, ...]
    rows_in: int
    #: Row numbers of the rows left out, in file order.
    rejected: tuple[int, ...] = field(default=())
    #: Text columns read as few distinct values: each valid row's code (-1: missing) and the
    #: distinct values, for callers that group or look up by value without hashing again.
    codes: Mapping[str, tuple[npt.NDArray[np.integer[Any]], tuple[str, ...]]] = field(
        default_factory=dict
    )
    #: Number columns (number, integer, percent) read as few distinct values: each valid row's
    #: code (-1: missing) and the distinct cells as text; rows of one code hold one number, so
    #: the engine decides a condition on the column once per code.
    numbers: Mapping[str, tuple[npt.NDArray[np.integer[Any]], tuple[str, ...]]] = field(
        default_factory=dict
    )

    @property
    def rows_out(self) -> int:
        """Number of valid rows."""
        return len(self.valid)

    @property
    def rows_rejected(self) -> int:
        """Number of distinct rows left out because of at least one error."""
        return self.rows_in - self.rows_out


def validate_table(
    table: str,
    frame: pd.DataFrame,
    columns: tuple[Column, ...],
    known_values: dict[str, tuple[str, ...]] | None = None,
    *,
    decimals: bool = True,
    currency: str | None = None,
) -> Validated:
    """Type the declared columns of `frame`, report invalid cells, keep only the valid rows.

    `decimals=False` leaves out the Decimal column of each amount (its `__cents` stay): for
    callers that compute on the cents only, it spares a Python object per row. `currency` is
    the ruleset's: an amount marked with another one (`$100`, `50000 GBP` in EUR) is an error
    of its row, never credited 1:1.
    """
    known_values = known_values or {}
    rows_in = len(frame)
    row_numbers = _row_numbers(frame)
    bad_any = np.zeros(rows_in, dtype=bool)
    found: list[tuple[int, int, RowError]] = []
    table_errors: list[RowError] = []
    typed: dict[str, Any] = {}
    cells_of: dict[str, Cells] = {}
    repeated = frame.columns[frame.columns.duplicated()].unique()
    for name in repeated:
        table_errors.append(
            RowError(table, None, str(name), None, f"column {name!r} appears twice")
        )
    frame = frame.loc[:, ~frame.columns.duplicated()]
    key = KEYS.get(RECORD_NAMES.get(table, table), ("id",))
    # Columns are taken from the frame here, then checked on their own (maybe side by side).
    given = [
        (column, frame[column.name], known_values.get(column.name), decimals, currency, key)
        for column in columns
        if column.name in frame.columns
    ]
    results = _each(_check, given, len(frame))
    checked = {column.name: found for (column, *_), found in zip(given, results, strict=True)}
    for order, column in enumerate(columns):
        if column.name not in checked:
            if column.required:
                table_errors.append(
                    RowError(table, None, column.name, None, _missing_column(column.name, frame))
                )
            typed.update(_empty_column(column, frame.index, decimals))
            continue
        cells, values, bad, messages = checked[column.name]
        cells_of[column.name] = cells
        typed.update(values)
        if bad.any():
            bad_any |= bad
            found.extend(_row_errors(table, column.name, order, cells, bad, row_numbers, messages))
    if all(name in cells_of for name in key):
        duplicated = _duplicates(table, key, [cells_of[name] for name in key], row_numbers)
        for position, error in duplicated:
            bad_any[position] = True
            found.append((error.row or 0, len(columns), error))
    declared = {column.name for column in columns}
    for name in frame.columns:
        if name not in declared and name not in typed:
            typed[name] = as_text(frame[name])  # the client's own fields, kept as text
    data = pd.DataFrame(typed, index=frame.index, copy=False)
    if table_errors:
        bad_any[:] = True
    kept = ~bad_any
    valid = data[kept] if bad_any.any() else data
    found.sort(key=lambda item: (item[0], item[1]))
    errors = (*table_errors, *(error for _, _, error in found))
    rejected = tuple(int(row) for row in row_numbers[bad_any])
    coded = [c for c in columns if c.name in cells_of and cells_of[c.name].codes is not None]
    codes = {c.name: _valid_codes(cells_of[c.name], kept) for c in coded if c.type in _TEXTUAL}
    numbers = {c.name: _valid_codes(cells_of[c.name], kept) for c in coded if c.type in _NUMBERS}
    return Validated(table, valid, errors, rows_in, rejected, codes, numbers)


#: Column types whose codes are shared with the engine: text (looked up by value) and numbers.
_TEXTUAL = ("text", "one_of")
_NUMBERS = ("number", "integer", "percent")


Checked = tuple[Cells, dict[str, Any], Bools, dict[str | None, str]]
Task = tuple[Column, "pd.Series[Any]", tuple[str, ...] | None, bool, str | None, tuple[str, ...]]


def _check(task: Task) -> Checked:
    """One column (with its known values, whether amounts get Decimals, the ruleset's currency
    and the table's key): its cells, typed values, invalid rows and the message of each bad
    value."""
    column, given, known, decimals, currency, key = task
    cells = column_cells(given)
    if key == (column.name,):
        cells.all_different()  # the key's repeats are looked for here, beside other columns
    unit = cells.unit()
    values, bad, messages = parse_column(column, unit, decimals, currency)
    if known is not None:
        bad = bad | _unknown(column.name, unit, known, messages)
    if cells.codes is not None:
        # Worked out per distinct value: each row takes its value's result.
        textual = column.type in _TEXTUAL
        values = {
            name: cells.text() if textual else cells.spread(series)
            for name, series in values.items()
        }
        bad = np.take(bad, cells.codes) if bad.any() else np.zeros(len(cells.codes), dtype=bool)
        if textual or column.type in _NUMBERS:
            cells.by_value()  # the codes the engine reads, worked out here beside other columns
    if column.required:
        bad = bad | ~cells.present()
        messages[None] = "required value is missing"
    return cells, values, bad, messages


#: Cells from which a table's columns are checked side by side, each in its own thread (Arrow
#: and numpy release the GIL while they scan a column).
_THREADED_CELLS = 1 << 20


def _each(function: Callable[[_A], _T], tasks: Sequence[_A], rows: int) -> list[_T]:
    """`function` of each column's task, in order; on a few threads when the table is big."""
    workers = min(len(tasks), os.cpu_count() or 1, 4)
    if workers < 2 or rows * len(tasks) < _THREADED_CELLS:
        return [function(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, tasks))


def _valid_codes(cells: Cells, kept: Bools) -> tuple[npt.NDArray[np.integer[Any]], tuple[str, ...]]:
    codes, distinct = cells.by_value()
    return codes[kept] if not kept.all() else codes, tuple(distinct)


def _row_numbers(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if default or not pd.api.types.is_integer_dtype(index.dtype):
        return np.arange(1, len(frame) + 1, dtype=np.int64)
    return np.asarray(index, dtype=np.int64)


def _missing_column(name: str, frame: pd.DataFrame) -> str:
    close = closest(name, [str(c) for c in frame.columns])
    hint = f"; did you mean {close!r}?" if close else ""
    return f"required column {name!r} is missing{hint}"


def _empty_column(column: Column, index: pd.Index[Any], decimals: bool) -> dict[str, Any]:
    n = len(index)
    if column.type == "money":
        nothing = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        cents = {f"{column.name}__cents": pd.Series(nothing, index=index)}
        if not decimals:
            return cents
        return {column.name: pd.Series(np.full(n, None, dtype=object), index=index), **cents}
    dtypes = {
        "date": "datetime64[ns]",
        "number": "float64",
        "percent": "float64",
        "integer": "Int64",
        "boolean": "boolean",
    }
    if column.type in dtypes:
        return {column.name: pd.Series(index=index, dtype=dtypes[column.type])}
    # A text column of nothing, straight from Arrow: pandas fills one cell at a time.
    nothing = pd.array(pa.nulls(n, pa.large_string()), dtype=_TEXT)
    return {column.name: pd.Series(nothing, index=index)}


_TEXT = pd.Series(dtype="str").dtype


def _row_errors(
    table: str,
    column: str,
    order: int,
    text: Cells,
    bad: Bools,
    row_numbers: npt.NDArray[np.int64],
    messages: dict[str | None, str],
) -> list[tuple[int, int, RowError]]:
    positions = np.flatnonzero(bad)
    cells = text.at(positions)
    rows = row_numbers[positions]
    return [
        (row, order, RowError(table, row, column, cell, messages[cell]))
        for row, cell in zip(rows.tolist(), cells, strict=True)
    ]


def _duplicates(
    table: str,
    key: tuple[str, ...],
    cells: list[Cells],
    row_numbers: npt.NDArray[np.int64],
) -> list[tuple[int, RowError]]:
    repeated = _repeated(cells, len(row_numbers))
    if not repeated.any():
        return []
    positions = np.flatnonzero(repeated)
    subset = list(zip(*(column.at(positions) for column in cells), strict=True))
    groups: dict[tuple[str, ...], list[int]] = {}
    for position, values in zip(positions.tolist(), subset, strict=True):
        groups.setdefault(tuple(str(cell) for cell in values), []).append(position)
    result: list[tuple[int, RowError]] = []
    for values, members in groups.items():
        label = (
            f"id {values[0]!r}"
            if key == ("id",)
            else "key " + ", ".join(f"{n}={v!r}" for n, v in zip(key, values, strict=True))
        )
        for position in members:
            others = [int(row_numbers[p]) for p in members if p != position]
            shown = ", ".join(str(row) for row in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            noun = "row" if len(others) == 1 else "rows"
            row = int(row_numbers[position])
            message = f"duplicate {label} (also on {noun} {shown}{more})"
            result.append((position, RowError(table, row, key[0], values[0], message)))
    return result


def _repeated(cells: list[Cells], n: int) -> Bools:
    """Rows whose key, complete, is also another row's."""
    if len(cells) == 1 and cells[0].all_different():
        return np.zeros(n, dtype=bool)  # an id column of distinct ids: nothing to number
    if len(cells) > 1 and _keys_all_different(cells, n):
        return np.zeros(n, dtype=bool)
    key = np.zeros(n, dtype=np.int64)
    complete = np.ones(n, dtype=bool)
    radix = 1
    for column in cells:
        codes, size = column.factorized()
        complete &= codes >= 0
        if radix * max(size, 1) >= 2**62:  # fold the key so far into its own small codes
            key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
            radix = int(key.max()) + 1 if n else 1
        key = key * max(size, 1) + codes
        radix *= max(size, 1)
    key = key[complete]
    # A key that only grows has no repeats; else a sort (fast on the runs of sorted exports).
    if np.all(key[1:] > key[:-1]):
        return np.zeros(n, dtype=bool)
    ordered = np.sort(key, kind="stable")
    if not np.any(ordered[1:] == ordered[:-1]):
        return np.zeros(n, dtype=bool)
    repeated = np.zeros(n, dtype=bool)
    repeated[complete] = pd.Series(key).duplicated(keep=False).to_numpy()
    return repeated


def _keys_all_different(cells: list[Cells], n: int) -> bool:
    """Whether the rows' complete keys are all different, told from a 64-bit key per row (equal
    keys for equal cells) and a sort, without numbering each column's values; False when they
    may not be (a repeat, or two keys that mix alike: the exact count decides)."""
    mixed = np.zeros(n, dtype=np.uint64)
    complete = np.ones(n, dtype=bool)
    for column in cells:
        keys = column.keys()
        if keys is None:
            return False
        complete &= column.present()
        mixed = mix_keys(mixed, keys)
    ordered = np.sort(mixed[complete])
    return not np.any(ordered[1:] == ordered[:-1])


def _unknown(
    name: str, text: pd.Series[Any], known: tuple[str, ...], messages: dict[str | None, str]
) -> Bools:
    bad = (text.notna() & ~text.isin(list(known))).to_numpy()
    for value in pd.unique(text[bad]):
        messages.setdefault(str(value), cells.unknown_id(name, str(value), known))
    return bad
