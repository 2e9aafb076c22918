"""The input tables of a ruleset validated together: each against its record (canonical
columns extended by the ruleset's `record` declarations), declared ranges (`integer 0..2`)
checked, every rejected row reported, `in = out + rejected` per table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dsl.model import Model
from dsl.types import FieldType, range_text
from engine.data.read import UNREADABLE, Bools
from engine.data.validate import RowError, validate_table
from engine.results import TableCounts
from engine.schemas import FILE_NAMES, table_columns

__all__ = ["Codes", "Validation", "table_columns", "validate_inputs"]

Array = npt.NDArray[Any]
#: A factorized text (or number) column: codes (-1: missing) and the distinct values as text.
Codes = tuple[Array, list[Any]]


Validation = tuple[
    dict[str, pd.DataFrame], dict[str, dict[str, Codes]], list[RowError], dict[str, TableCounts]
]


def validate_inputs(
    model: Model, stages: tuple[str, ...], frames: Mapping[str, pd.DataFrame | None]
) -> Validation:
    """Validate the given input tables against the ruleset's records (and its stage ids): the
    valid rows typed, their factorized text columns (and number columns of few values), every
    rejected row, and `in = out + rejected` per table."""
    known_values = {"stage": stages} if stages else {}
    errors: list[RowError] = []
    counts: dict[str, TableCounts] = {}
    valid: dict[str, pd.DataFrame] = {}
    codes: dict[str, dict[str, Codes]] = {}
    records = {table: record for record, table in FILE_NAMES.items()}
    for table, frame in frames.items():
        if frame is None:
            continue
        record = records[table]
        frame, unreadable = _readable(table, frame)
        checked = validate_table(
            table,
            frame,
            table_columns(model, record),
            known_values if record in ("deal", "stage_event") else None,
            # Amounts of the big tables are read as cents only (here and by the payouts); the
            # small ones feed the payouts' reference functions, which take Decimals.
            decimals=record not in ("lead", "deal", "stage_event"),
            currency=model.currency,  # an amount in another currency is an error row
        )
        kept, outside, inside = _in_ranges(table, frame, checked.valid, model.records[record])
        errors.extend(sorted([*unreadable, *checked.errors, *outside], key=_error_order))
        rows_in = checked.rows_in + len({error.row for error in unreadable})
        counts[table] = TableCounts(table, rows_in, len(kept), rows_in - len(kept))
        valid[table] = kept.reset_index(drop=True)
        # Text columns and number columns of few values, as the engine reads them.
        codes[table] = {
            name: (found if inside is None else found[inside], list(distinct))
            for name, (found, distinct) in {**checked.codes, **checked.numbers}.items()
        }
    return valid, codes, errors, counts


def _readable(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
    """The rows whose every cell was read, and an error per cell the reader could not read
    (`UNREADABLE`: a formula without a computed value); its row is rejected."""
    unreadable = frame.attrs.get(UNREADABLE)
    if not unreadable:
        return frame, []
    errors = [
        RowError(table, row, column or None, None, reason) for row, column, reason in unreadable
    ]
    return frame[~frame.index.isin([error.row for error in errors])], errors


def _in_ranges(
    table: str, given: pd.DataFrame, valid: pd.DataFrame, fields: Mapping[str, FieldType]
) -> tuple[pd.DataFrame, list[RowError], Bools | None]:
    """Rows whose numbers lie in their declared ranges (`integer 0..2`); errors for the others;
    which valid rows are kept (None: all)."""
    bad = np.zeros(len(valid), dtype=bool)
    errors: list[RowError] = []
    rows: Array | None = None
    for name, kind in fields.items():
        if kind.range is None:
            continue
        if f"{name}__cents" in valid.columns:  # an amount: its cents are exact
            cents = valid[f"{name}__cents"].to_numpy(dtype=np.float64, na_value=np.nan)
            values = np.asarray(cents) / 100
        elif name in valid.columns:
            values = np.asarray(valid[name].to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            continue
        low, high = kind.range
        outside = ~np.isnan(values) & ((values < float(low)) | (values > float(high)))
        if not outside.any():
            continue
        if rows is None:
            rows = _valid_row_numbers(given, valid)
        positions = np.flatnonzero(outside)
        if kind.kind == "integer":
            whole = valid[name].to_numpy(dtype=np.int64, na_value=0)
            texts = [str(value) for value in whole[positions].tolist()]
        else:
            texts = [repr(value) for value in values[positions].tolist()]
        shown = range_text(low, high)
        errors.extend(
            RowError(table, row, name, text, f"{text} is outside {shown}")
            for row, text in zip(rows[positions].tolist(), texts, strict=True)
        )
        bad |= outside
    if not bad.any():
        return valid, errors, None
    return valid[~bad], errors, ~bad


def _valid_row_numbers(given: pd.DataFrame, valid: pd.DataFrame) -> Array:
    """The row numbers of valid rows, as validate_table numbers them (see engine.data): by the
    index it was given, or 1, 2, ... for pandas' default index."""
    index = given.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    numbered = not default and pd.api.types.is_integer_dtype(index.dtype)
    positions = given.index.get_indexer(valid.index) if len(valid) else np.empty(0, np.int64)
    return np.asarray(valid.index if numbered else positions + 1, dtype=np.int64)


def _error_order(error: RowError) -> tuple[int, int]:
    return (error.row is not None, error.row or 0)
