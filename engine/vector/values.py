from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from engine.ir import (
    Const,
)
from engine.money import decimal_of

Array = npt.NDArray[Any]
Bools = npt.NDArray[np.bool_]
#: A factorized text column: codes (-1: missing) and the distinct values.
Codes = tuple[Array, list[Any]]
EPOCH = np.datetime64("1970-01-01", "D")


# ----------------------------------------------------------------------------- values
@dataclass(slots=True)
class V:
    """A column of values and where they are known (`known` None: everywhere)."""

    values: Array
    known: Bools | None = None

    def mask(self) -> Bools | None:
        """Known rows (None when all are)."""
        return self.known


def decimal_array(units: Array, scale: int, known: Bools | None = None) -> pa.Array:
    """Whole numbers of 10**-scale (int64) as an Arrow decimal128 column, exact, without a
    Python object per value: each int64 widened to a 128-bit two's complement (little-endian,
    as numpy holds it). Null where not `known`."""
    units = np.asarray(units, dtype=np.int64)
    pairs = np.empty((len(units), 2), dtype=np.int64)
    pairs[:, 0] = units
    pairs[:, 1] = units >> 63  # the high word: all ones below zero
    validity = None
    if known is not None and not known.all():
        validity = pa.py_buffer(np.packbits(known, bitorder="little"))
    return pa.Array.from_buffers(
        pa.decimal128(38, scale), len(units), [validity, pa.py_buffer(pairs)]
    )


def group_sums(group: Array, values: Array, size: int) -> Array:
    """Exact sums of whole numbers (int64, or Python ints in an object array) per group
    (`group`: 0..size-1 per value): one bincount while every partial sum stays below 2**53,
    where floats add whole numbers exactly; integer adds otherwise."""
    if (
        values.dtype != object
        and len(values)
        and max(-int(values.min()), int(values.max())) * len(values) < 2**53
    ):
        return np.bincount(group, weights=values, minlength=size).astype(np.int64)
    sums = np.zeros(size, dtype=values.dtype)
    np.add.at(sums, group, values)
    return sums


def and_known(a: Bools | None, b: Bools | None) -> Bools | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def full_known(v: V, n: int) -> Bools:
    if v.known is None:
        return np.ones(n, dtype=bool)
    return np.broadcast_to(v.known, (n,)).copy() if v.known.ndim == 0 else v.known


def truth(v: V, n: int) -> Bools:
    """Rows where a condition is known true."""
    values = np.broadcast_to(np.asarray(v.values, dtype=bool), (n,))
    if v.known is None:
        return values.copy()
    return values & v.known


def bool_value(values: Bools, known: Bools | None) -> V:
    # Normalized: a condition is False wherever it is unknown.
    return V(values if known is None else values & known, known)


def day_numbers(values: Array) -> tuple[Array, Bools | None]:
    array = np.asarray(values, dtype="datetime64[ns]")
    known = ~np.isnat(array)
    days = array.astype("datetime64[D]").astype(np.int64)
    return days, (None if known.all() else known)


def date_days(value: dt.date) -> int:
    return (value - dt.date(1970, 1, 1)).days


def scaled_const(const: Const, scale: int) -> Any:
    """A constant in a kind's vector representation, fixed values scaled to `scale`."""
    value = const.value
    if const.kind == "fixed":
        return int(Decimal(value).scaleb(scale))
    if const.kind == "date":
        return date_days(value)
    return value


def rescale(values: Array, have: int, want: int) -> Array:
    return values if have == want else values * (10 ** (want - have))


def take_rows(v: V, rows: Array) -> V:
    values = v.values if np.ndim(v.values) == 0 else v.values[rows]
    known = None if v.known is None else (v.known if v.known.ndim == 0 else v.known[rows])
    return V(values, known)


DTYPES = {
    "fixed": np.int64,
    "float": np.float64,
    "decimal": object,
    "date": np.int64,
    "bool": bool,
    "text": object,
}
_ZERO = Decimal(0)


def decimals(values: Array, kind: str, scale: int, known: Bools | None) -> Array:
    """A vector value as an object array of exact Decimals (see `engine.money.decimal_of`):
    scaled integers by their scale, floats by their shortest repr, each distinct value
    converted once; unknown rows hold 0."""
    array = np.asarray(values)
    if kind == "decimal":
        return array

    def convert(value: Any) -> Decimal:
        if kind == "fixed":
            return Decimal(int(value)).scaleb(-scale)
        return decimal_of(float(value)) if value == value else _ZERO

    if array.ndim == 0:
        result = np.empty((), dtype=object)
        result[()] = convert(array.item())
        return result
    codes, distinct = pd.factorize(array)
    made = np.empty(len(distinct) + 1, dtype=object)
    made[:-1] = [convert(v) for v in distinct.tolist()]
    made[-1] = _ZERO  # NaN (code -1)
    found = made[codes]
    if known is not None and known.ndim and not known.all():
        found[~known] = _ZERO
    return found


def object_array(values: Sequence[Any]) -> Array:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def result_table(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A result table; object arrays stay objects (no costly type inference, None stays None),
    and every column is taken as it is, not copied into a block with others of its type."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object, copy=False)
            if isinstance(values, np.ndarray) and values.dtype == object
            else values
            for name, values in columns.items()
        },
        copy=False,
    )


def filled_array(n: int, value: object) -> Array:
    """An object array holding `value` n times (np.full would make a str object per row)."""
    array = np.empty(n, dtype=object)
    array.fill(value)
    return array


def text_array(column: Any) -> Array:
    """A column as an object array, missing values as None."""
    return np.asarray(column.to_numpy(dtype=object, na_value=None), dtype=object)


def not_none(values: Array) -> Bools:
    return np.asarray(pd.notna(values), dtype=bool)
