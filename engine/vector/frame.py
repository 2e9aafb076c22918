"""The rows being evaluated: a table's typed columns read as vector values (cached), the values
the engine adds (derived, score, attainment), and sub-frames of some rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import (
    FieldRef,
)
from engine.vector.history import History
from engine.vector.values import (
    DTYPES,
    Array,
    Bools,
    Codes,
    V,
    bool_value,
    day_numbers,
    full_known,
    rescale,
    take_rows,
    text_array,
)


class Frame:
    """The rows being evaluated: typed columns, values the engine added, cached per column."""

    def __init__(
        self,
        data: pd.DataFrame,
        extras: Mapping[str, V] | None = None,
        *,
        parent: Frame | None = None,
        rows: Array | None = None,
        stage_reach: Mapping[str, tuple[Array, Bools]] | None = None,
        history: History | None = None,
        codes: Mapping[str, Codes] | None = None,
    ) -> None:
        """`codes`: text columns of `data` already factorized (by validation), and number
        columns of few values (their distinct values as text)."""
        self.data = data
        self.n = len(rows) if rows is not None else len(data)
        self.extras: dict[str, V] = dict(extras or {})
        self.parent = parent
        self.rows = rows
        self.stage_reach = stage_reach or {}
        #: The stage history of these rows (the deals table), for entered_at().
        self.history = history
        self._entered: dict[str, V] = {}
        self._cache: dict[tuple[str, str, int], V] = {}
        self._codes: dict[str, Codes] = dict(codes or {})
        #: Codes of engine-provided values known when they were made (`coded`).
        self._extra_codes: dict[str, Codes] = {}
        self._grouped: dict[str, tuple[Array, int] | None] = {}

    def coded(self, name: str, codes: Codes) -> None:
        """Give an engine-provided value its codes (-1: none) and distinct values, known
        where it was made (a score's statuses): `codes` then hashes no row."""
        self._extra_codes[name] = codes

    def take(self, rows: Array) -> Frame:
        """The sub-frame of some rows (positions)."""
        reach = {p: (i[rows], k[rows]) for p, (i, k) in self.stage_reach.items()}
        extras = {name: take_rows(v, rows) for name, v in self.extras.items()}
        # entered_at() of a sub-frame is taken from the parent's, so no events are passed on.
        return Frame(self.data, extras, parent=self, rows=rows, stage_reach=reach)

    def entered_at(self, stage: str) -> V:
        """When each row's deal entered `stage`: its first stage event there, else its
        `stage_entered_at` when it is at that stage now."""
        found = self._entered.get(stage)
        if found is not None:
            return found
        if self.parent is not None and self.rows is not None:
            found = take_rows(self.parent.entered_at(stage), self.rows)
        else:
            codes, uniques = self.codes("stage")
            here = np.asarray([u == stage for u in uniques] + [False])
            at_stage = here[np.where(codes < 0, len(uniques), codes)]
            entered = self.field(FieldRef("stage_entered_at", "date"))
            days = np.array(np.broadcast_to(entered.values, (self.n,)), dtype=np.int64)
            known = full_known(entered, self.n) & at_stage
            if self.history is not None:
                first, has_event = self.history.first_entry(stage)
                days = np.where(has_event, first, days)
                known = known | has_event
            found = V(days, known)
        self._entered[stage] = found
        return found

    def with_extras(self, extras: Mapping[str, V]) -> Frame:
        """The same rows with more engine-provided values."""
        frame = Frame(
            self.data, {**self.extras, **extras}, stage_reach=self.stage_reach, history=self.history
        )
        frame.parent, frame.rows, frame.n = self.parent, self.rows, self.n
        frame._cache, frame._codes, frame._entered = self._cache, self._codes, self._entered
        frame._grouped = self._grouped
        frame._extra_codes = {k: c for k, c in self._extra_codes.items() if k not in extras}
        return frame

    def field(self, ref: FieldRef) -> V:
        """A field as a vector value of its kind."""
        extra = self.extras.get(ref.name)
        if extra is not None:
            return extra
        key = (ref.name, ref.kind, ref.scale)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._field(ref)
        return found

    def _field(self, ref: FieldRef) -> V:
        if self.parent is not None and self.rows is not None:
            return take_rows(self.parent.field(ref), self.rows)
        return read_column(self.data, ref, self.n)

    def matches(self, name: str, value: str) -> Bools:
        """Rows where a text field is `value` (False where it is missing), by its codes."""
        codes, uniques = self.codes(name)
        hit = np.asarray([u == value for u in uniques] + [False], dtype=bool)
        return hit[codes]

    def distinct_rows(self, name: str) -> tuple[Array, Frame] | None:
        """For what reads one column of the table and nothing else: each row's group of equal
        values and a frame of one row per group, so that it is worked out once per value, then
        taken to every row. None for a value the engine provides, and for a column of values
        nearly all different (per row is then as cheap)."""
        grouped = None if name in self.extras else self._groups(name)
        if grouped is None:
            return None
        codes, count = grouped
        first = np.full(count + 1, -1, dtype=np.int64)
        first[codes] = np.arange(self.n, dtype=np.int64)  # a row of each group (-1: the last)
        used = np.flatnonzero(first >= 0)
        if 2 * len(used) > self.n:
            return None
        number = np.zeros(count + 1, dtype=np.int64)
        number[used] = np.arange(len(used), dtype=np.int64)
        return np.take(number, codes), self.take(first[used])

    def _groups(self, name: str) -> tuple[Array, int] | None:
        if name not in self._grouped:
            self._grouped[name] = self._group(name)
        return self._grouped[name]

    def _group(self, name: str) -> tuple[Array, int] | None:
        """Codes of equal values of a column (-1: missing) and how many codes there are, when
        they come cheaply: the codes of validation (text, numbers of few values), whole numbers
        in a short range by their offset from the smallest. None otherwise (hashing every row
        could cost more than it saves)."""
        found = self._codes.get(name)
        if found is not None:
            return found[0], len(found[1])
        if self.parent is not None and self.rows is not None:
            grouped = self.parent._groups(name)
            return None if grouped is None else (grouped[0][self.rows], grouped[1])
        if name not in self.data.columns or not pd.api.types.is_integer_dtype(
            self.data[name].dtype
        ):
            return None
        array = self.data[name].array
        values = np.asarray(array.to_numpy(dtype=np.int64, na_value=0))
        known = ~np.asarray(array.isna())
        present = values[known]
        low, high = (int(present.min()), int(present.max())) if len(present) else (0, 0)
        if high - low >= self.n:
            return None
        return np.where(known, values - low, -1), high - low + 1

    def known_codes(self, name: str) -> Codes | None:
        """A column's codes (-1: missing) and distinct values when they are known already
        (validation's, `coded`), else None: worth using only when they cost nothing."""
        if name in self.extras:
            return self._extra_codes.get(name)
        found = self._codes.get(name)
        if found is None and self.parent is not None and self.rows is not None:
            above = self.parent.known_codes(name)
            if above is not None:
                found = (above[0][self.rows], above[1])
        return found

    def codes(self, name: str) -> tuple[Array, list[Any]]:
        """Factorized text: codes (-1 missing) and the distinct values."""
        extra = self.extras.get(name)
        if extra is not None and name in self._extra_codes:
            return self._extra_codes[name]
        if extra is not None:
            values = np.where(full_known(extra, self.n), extra.values, None)  # type: ignore[call-overload]
            codes, distinct = pd.factorize(values, use_na_sentinel=True)
            return np.asarray(codes, dtype=np.int64), list(distinct)
        found = self._codes.get(name)
        if found is not None:
            return found
        if self.parent is not None and self.rows is not None:
            codes, uniques = self.parent.codes(name)
            found = (codes[self.rows], uniques)
        elif name in self.data.columns:
            codes, distinct = pd.factorize(self.data[name], use_na_sentinel=True)
            found = (np.asarray(codes, dtype=np.int64), [str(u) for u in distinct.tolist()])
        else:
            found = (np.full(self.n, -1, dtype=np.int64), [])
        self._codes[name] = found
        return found


def read_column(data: pd.DataFrame, ref: FieldRef, n: int) -> V:
    name = ref.name
    if ref.kind == "fixed" and f"{name}__cents" in data.columns:
        cents = data[f"{name}__cents"].array
        values = np.asarray(cents.to_numpy(dtype=np.int64, na_value=0))
        known = ~np.asarray(cents.isna())
        return V(rescale(values, 2, ref.scale), None if known.all() else known)
    if name not in data.columns:
        return V(np.zeros(n, dtype=DTYPES[ref.kind]), np.zeros(n, dtype=bool))
    column = data[name]
    if ref.kind == "fixed":
        array = column.array
        values = np.asarray(array.to_numpy(dtype=np.int64, na_value=0))
        known = ~np.asarray(array.isna())
        return V(rescale(values, 0, ref.scale), None if known.all() else known)
    if ref.kind == "float":
        values = np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan))
        known = ~np.isnan(values)
        return V(values, None if known.all() else known)
    if ref.kind == "date":
        days, dates_known = day_numbers(column.to_numpy())
        return V(days, dates_known)
    if ref.kind == "bool":
        array = column.array
        known = ~np.asarray(array.isna())
        values = np.asarray(array.to_numpy(dtype=bool, na_value=False))
        return bool_value(values, None if known.all() else known)
    texts = text_array(column)
    present = np.asarray(column.notna())
    return V(texts, None if present.all() else present)
