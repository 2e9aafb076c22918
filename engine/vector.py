"""The table evaluator: the semantics of `engine.compiler`, vectorized with numpy and pandas.

A value is a `V`: a numpy array and a mask of the rows where it is known. Exact values are int64
scaled by 10**scale (money: cents), dates are int64 days, floats are float64, text is an object
array. Conditions are boolean arrays that are False wherever they are unknown, so Kleene logic
is a few mask operations.

Two things keep it both fast and faithful to the record path:
  * a condition that reads a single text field is evaluated once per distinct value with the
    record path's own closure, then spread to the rows by the column's factorized codes;
  * per-row lists and mappings (`points`, `missing`, `skipped`...) are built once per distinct
    combination (a key made of small integer codes), then taken by that key: no Python loop
    runs per row, and rows with the same combination share one immutable object.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from dsl.canonical import Column
from dsl.model import Model
from dsl.types import FieldType
from engine.compiler import representation
from engine.data import RowError, validate_table
from engine.ir import (
    AS_OF,
    AggregateIR,
    Arith,
    Attainment,
    Between,
    Compare,
    Compiled,
    Const,
    CriterionIR,
    EnteredAt,
    FieldRef,
    Func,
    IsMissing,
    KpiIR,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    Reached,
    RouteIR,
    ScoreIR,
    StageIR,
    ToFloat,
    walk,
)
from engine.periods import PayPeriod
from engine.record import (
    DERIVED,
    Fn,
    ScoreRunner,
    assemble,
    compile_node,
    probability_units,
    range_text,
    weighted_units,
)
from engine.results import (
    ALERT_COLUMNS,
    DEAL_COLUMNS,
    FUNNEL_COLUMNS,
    KPI_COLUMNS,
    LEAD_COLUMNS,
    FrozenDict,
    TableCounts,
)
from engine.schemas import FILE_NAMES, merge_columns

if TYPE_CHECKING:
    from engine.program import Inputs

__all__ = [
    "Alerts",
    "Compiler",
    "Frame",
    "History",
    "V",
    "evaluate_tables",
    "table_columns",
]

Array = npt.NDArray[Any]
Bools = npt.NDArray[np.bool_]
#: A factorized text column: codes (-1: missing) and the distinct values.
Codes = tuple[Array, list[Any]]
_EPOCH = np.datetime64("1970-01-01", "D")
_MAX_RADIX = 2**62
_NO_POINTS = FrozenDict()
#: Points read from a whole-number field code themselves when they span fewer values.
_DENSE_POINTS = 1024


# ----------------------------------------------------------------------------- values
@dataclass(slots=True)
class V:
    """A column of values and where they are known (`known` None: everywhere)."""

    values: Array
    known: Bools | None = None

    def mask(self) -> Bools | None:
        """Known rows (None when all are)."""
        return self.known


def _and_known(a: Bools | None, b: Bools | None) -> Bools | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _full_known(v: V, n: int) -> Bools:
    if v.known is None:
        return np.ones(n, dtype=bool)
    return np.broadcast_to(v.known, (n,)).copy() if v.known.ndim == 0 else v.known


def _truth(v: V, n: int) -> Bools:
    """Rows where a condition is known true."""
    values = np.broadcast_to(np.asarray(v.values, dtype=bool), (n,))
    if v.known is None:
        return values.copy()
    return values & v.known


def _bool(values: Bools, known: Bools | None) -> V:
    # Normalized: a condition is False wherever it is unknown.
    return V(values if known is None else values & known, known)


def _days(values: Array) -> tuple[Array, Bools | None]:
    array = np.asarray(values, dtype="datetime64[ns]")
    known = ~np.isnat(array)
    days = array.astype("datetime64[D]").astype(np.int64)
    return days, (None if known.all() else known)


def _date_days(value: dt.date) -> int:
    return (value - dt.date(1970, 1, 1)).days


def _scaled_const(const: Const, scale: int) -> Any:
    """A constant in a kind's vector representation, fixed values scaled to `scale`."""
    value = const.value
    if const.kind == "fixed":
        return int(Decimal(value).scaleb(scale))
    if const.kind == "date":
        return _date_days(value)
    return value


def _rescale(values: Array, have: int, want: int) -> Array:
    return values if have == want else values * (10 ** (want - have))


class History:
    """Deals and their stage events as integer codes, built once per evaluation.

    A deal code is its row in the deals table, or (for deals known only from events) a number
    after the last row. Stages are numbered in `Compiled.stages` order (-1: none).
    """

    def __init__(
        self,
        stages: Sequence[StageIR],
        deals: pd.DataFrame | None,
        events: pd.DataFrame | None,
        codes: Mapping[str, Mapping[str, Codes]] | None = None,
    ) -> None:
        """`codes`: per table (`deals`, `stage_events`), text columns already factorized."""
        numbers = {stage.name: number for number, stage in enumerate(stages)}
        codes = codes or {}
        self.stages = list(stages)
        self.n_deals = 0 if deals is None else len(deals)
        self.deal_stage = np.full(self.n_deals, -1, dtype=np.int64)
        if deals is not None and self.n_deals:
            found = codes.get("deals", {}).get("stage")
            self.deal_stage = _numbered(deals["stage"], numbers, found)
        self.event_deal = np.empty(0, dtype=np.int64)
        self.event_stage = np.empty(0, dtype=np.int64)
        self.event_day = np.empty(0, dtype=np.int64)
        self.n_codes = self.n_deals
        self._furthest: dict[str, Array] = {}
        if events is not None and len(events):
            rows = np.full(len(events), -1, dtype=np.int64)
            if deals is not None and self.n_deals:
                rows = _rows_of(_arrow(events["deal_id"]), _arrow(deals["id"]))
            others = rows < 0
            if others.any():
                found_codes, distinct = pd.factorize(events["deal_id"][others])
                rows[others] = self.n_deals + np.asarray(found_codes, dtype=np.int64)
                self.n_codes += len(distinct)
            self.event_deal = rows
            found = codes.get("stage_events", {}).get("stage")
            self.event_stage = _numbered(events["stage"], numbers, found)
            self.event_day = _days(events["entered_at"].to_numpy())[0]

    def positions(self, pipeline: str) -> Array:
        """Stage number -> index in `pipeline` (-1 elsewhere); the last entry serves -1."""
        return np.asarray(
            [s.index if s.pipeline == pipeline else -1 for s in self.stages] + [-1], dtype=np.int64
        )

    def furthest(self, pipeline: str) -> Array:
        """Per deal code, the furthest stage index of `pipeline` reached (-1: none): the deal's
        current stage or any stage it has an event for."""
        found = self._furthest.get(pipeline)
        if found is not None:
            return found
        position = self.positions(pipeline)
        furthest = np.full(self.n_codes, -1, dtype=np.int64)
        furthest[: self.n_deals] = position[self.deal_stage]
        index = position[self.event_stage]
        ok = index >= 0
        if ok.all():  # events of this pipeline only: no copies
            np.maximum.at(furthest, self.event_deal, index)
        else:
            np.maximum.at(furthest, self.event_deal[ok], index[ok])
        self._furthest[pipeline] = furthest
        return furthest

    def reach(self, pipeline: str) -> tuple[Array, Bools]:
        """`furthest` for the deals table's rows, and where it is known (a stage or an event)."""
        known = self.deal_stage >= 0
        with_event = self.event_deal[self.event_deal < self.n_deals]
        known[with_event] = True
        return self.furthest(pipeline)[: self.n_deals], known

    def first_entry(self, stage: str) -> tuple[Array, Bools]:
        """Per deal row, the day of its first event at `stage`, and where there is one."""
        number = next(i for i, s in enumerate(self.stages) if s.name == stage)
        chosen = (self.event_stage == number) & (self.event_deal < self.n_deals)
        first = np.full(self.n_deals, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, self.event_deal[chosen], self.event_day[chosen])
        found = first != np.iinfo(np.int64).max
        return np.where(found, first, 0), found

    def current_entry(self) -> tuple[Array, Bools]:
        """Per deal row, the day of its latest event at its current stage, and where found."""
        rows, stage, day = self.event_deal, self.event_stage, self.event_day
        chosen = rows < self.n_deals
        if not chosen.all():  # events of deals that are not in the deals table
            rows, stage, day = rows[chosen], stage[chosen], day[chosen]
        here = stage == self.deal_stage[rows]
        latest = np.full(self.n_deals, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest, rows[here], day[here])
        found = latest != np.iinfo(np.int64).min
        return np.where(found, latest, 0), found

    def durations(self) -> dict[int, tuple[float, float]]:
        """Per stage number: mean and median days from an event to the deal's next event."""
        if len(self.event_deal) < 2:
            return {}
        rank = np.asarray([s.index for s in self.stages] + [0], dtype=np.int64)[self.event_stage]
        deal, day, stage = self.event_deal, self.event_day, self.event_stage
        first, span = int(day.min()), int(day.max() - day.min()) + 1
        if self.n_codes * span * 64 < 2**62:
            # One int64 key (deal, day, stage rank); exports are often sorted already.
            key = (deal * span + (day - first)) * 64 + np.minimum(rank, 63)
            ordered = bool(np.all(key[1:] >= key[:-1]))
            order = None if ordered else np.argsort(key, kind="stable")
        else:
            order = np.lexsort((rank, day, deal))
        if order is not None:
            deal, day, stage = deal[order], day[order], stage[order]
        same = deal[1:] == deal[:-1]
        spent = (day[1:] - day[:-1])[same]
        stage_of = stage[:-1][same]
        known = stage_of >= 0
        spent, stage_of = spent[known], stage_of[known]
        if not spent.size:
            return {}
        width = int(spent.max()) + 1
        if len(self.stages) * width > max(4 * spent.size, 1 << 16):
            grouped = pd.Series(spent.astype(np.float64)).groupby(stage_of)
            means, medians = grouped.mean(), grouped.median()
            return {int(code): (float(means[code]), float(medians[code])) for code in means.index}
        # Whole days: count each (stage, days) pair; mean and median come from the counts.
        counts = np.bincount(stage_of * width + spent, minlength=len(self.stages) * width)
        found: dict[int, tuple[float, float]] = {}
        for code, row in enumerate(counts.reshape(len(self.stages), width)):
            total = int(row.sum())
            if not total:
                continue
            running = np.cumsum(row)
            low = int(np.searchsorted(running, (total - 1) // 2, side="right"))
            high = int(np.searchsorted(running, total // 2, side="right"))
            mean = int(np.dot(row, np.arange(width, dtype=np.int64))) / total
            found[code] = (mean, (low + high) / 2)
        return found


def _numbered(
    column: pd.Series[Any], numbers: Mapping[str, int], codes: Codes | None = None
) -> Array:
    """Text values -> their numbers (-1 for missing or unknown), one lookup per distinct value
    (of `codes` when the column is already factorized)."""
    found, distinct = codes if codes is not None else pd.factorize(column)
    # The last entry serves the missing values' code, -1.
    table = np.asarray([numbers.get(str(u), -1) for u in distinct] + [-1], dtype=np.int64)
    return np.asarray(table[np.asarray(found)], dtype=np.int64)


def _rows_of(keys: pa.Array, ids: pa.Array) -> Array:
    """Position of each key among `ids` (-1: none).

    Stage events usually come sorted by deal: each run of one deal is looked up once, and when
    the runs are the deals themselves, in order, nothing is looked up at all.
    """
    n = len(keys)
    if n > 1 and not keys.null_count:
        head, tail = keys.slice(0, n - 1), keys.slice(1)
        if pc.all(pc.less_equal(head, tail)).as_py():
            changes = np.asarray(pc.not_equal(head, tail).to_numpy(zero_copy_only=False))
            run = np.cumsum(np.concatenate(([False], changes)), dtype=np.int64)
            starts = np.flatnonzero(np.concatenate(([True], changes)))
            heads = keys.take(pa.array(starts))
            same = len(heads) == len(ids) and not ids.null_count
            if same and pc.all(pc.equal(heads, ids)).as_py():
                return run
            found = pc.index_in(heads, value_set=ids).fill_null(-1)
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)[run]
    found = pc.index_in(keys, value_set=ids).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _arrow(column: pd.Series[Any]) -> pa.Array:
    array = pa.array(column.array, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


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
        """`codes`: text columns of `data` already factorized (by validation)."""
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

    def take(self, rows: Array) -> Frame:
        """The sub-frame of some rows (positions)."""
        reach = {p: (i[rows], k[rows]) for p, (i, k) in self.stage_reach.items()}
        extras = {name: _rows(v, rows) for name, v in self.extras.items()}
        # entered_at() of a sub-frame is taken from the parent's, so no events are passed on.
        return Frame(self.data, extras, parent=self, rows=rows, stage_reach=reach)

    def entered_at(self, stage: str) -> V:
        """When each row's deal entered `stage`: its first stage event there, else its
        `stage_entered_at` when it is at that stage now."""
        found = self._entered.get(stage)
        if found is not None:
            return found
        if self.parent is not None and self.rows is not None:
            found = _rows(self.parent.entered_at(stage), self.rows)
        else:
            codes, uniques = self.codes("stage")
            here = np.asarray([u == stage for u in uniques] + [False])
            at_stage = here[np.where(codes < 0, len(uniques), codes)]
            entered = self.field(FieldRef("stage_entered_at", "date"))
            days = np.array(np.broadcast_to(entered.values, (self.n,)), dtype=np.int64)
            known = _full_known(entered, self.n) & at_stage
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
            return _rows(self.parent.field(ref), self.rows)
        return _column(self.data, ref, self.n)

    def matches(self, name: str, value: str) -> Bools:
        """Rows where a text field is `value` (False where it is missing), by its codes."""
        codes, uniques = self.codes(name)
        hit = np.asarray([u == value for u in uniques] + [False], dtype=bool)
        return hit[codes]

    def codes(self, name: str) -> tuple[Array, list[Any]]:
        """Factorized text: codes (-1 missing) and the distinct values."""
        extra = self.extras.get(name)
        if extra is not None:
            values = np.where(_full_known(extra, self.n), extra.values, None)  # type: ignore[call-overload]
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
            found = (np.asarray(codes, dtype=np.int64), [str(u) for u in distinct])
        else:
            found = (np.full(self.n, -1, dtype=np.int64), [])
        self._codes[name] = found
        return found


def _rows(v: V, rows: Array) -> V:
    values = v.values if np.ndim(v.values) == 0 else v.values[rows]
    known = None if v.known is None else (v.known if v.known.ndim == 0 else v.known[rows])
    return V(values, known)


def _column(data: pd.DataFrame, ref: FieldRef, n: int) -> V:
    name = ref.name
    if ref.kind == "fixed" and f"{name}__cents" in data.columns:
        cents = data[f"{name}__cents"].array
        values = np.asarray(cents.to_numpy(dtype=np.int64, na_value=0))
        known = ~np.asarray(cents.isna())
        return V(_rescale(values, 2, ref.scale), None if known.all() else known)
    if name not in data.columns:
        return V(np.zeros(n, dtype=_DTYPES[ref.kind]), np.zeros(n, dtype=bool))
    column = data[name]
    if ref.kind == "fixed":
        array = column.array
        values = np.asarray(array.to_numpy(dtype=np.int64, na_value=0))
        known = ~np.asarray(array.isna())
        return V(_rescale(values, 0, ref.scale), None if known.all() else known)
    if ref.kind == "float":
        values = np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan))
        known = ~np.isnan(values)
        return V(values, None if known.all() else known)
    if ref.kind == "date":
        days, dates_known = _days(column.to_numpy())
        return V(days, dates_known)
    if ref.kind == "bool":
        array = column.array
        known = ~np.asarray(array.isna())
        values = np.asarray(array.to_numpy(dtype=bool, na_value=False))
        return _bool(values, None if known.all() else known)
    texts = _texts(column)
    present = np.asarray(column.notna())
    return V(texts, None if present.all() else present)


_DTYPES = {"fixed": np.int64, "float": np.float64, "date": np.int64, "bool": bool, "text": object}


# ----------------------------------------------------------------------------- expressions
VFn = Callable[[Frame], V]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def free_fields(node: Node) -> tuple[set[str], bool]:
    """The fields a node reads, and whether it needs more than fields (stages, aggregates)."""
    names: set[str] = set()
    other = False
    for item in walk(node):
        if isinstance(item, FieldRef):
            names.add(item.name)
        elif isinstance(item, Reached | AggregateIR | EnteredAt | Attainment):
            other = True
    return names, other


class Compiler:
    """Compiles IR to vector functions; knows the text fields of the record being evaluated."""

    def __init__(self, text_fields: set[str], stages: Mapping[str, StageIR]) -> None:
        self.text_fields = text_fields
        self.stages = stages
        self._compiled: dict[Node, VFn] = {}

    def lookup_field(self, node: Node) -> FieldRef | None:
        """The one text field a node reads, when it reads nothing else."""
        names, other = free_fields(node)
        if other or len(names) != 1:
            return None
        (name,) = names
        return _find_ref(node, name) if name in self.text_fields else None

    def compile(self, node: Node) -> VFn:
        """A function computing `node` on a frame (compiled once per node)."""
        found = self._compiled.get(node)
        if found is None:
            found = self._compiled[node] = self._compile(node)
        return found

    def _compile(self, node: Node) -> VFn:
        ref = self.lookup_field(node) if node.kind == "bool" else None
        if ref is not None and not isinstance(node, FieldRef):
            return _lookup(node, ref, compile_node(node, self.stages))
        if isinstance(node, FieldRef):
            return lambda frame: frame.field(node)
        if isinstance(node, Const):
            value = np.asarray(_scaled_const(node, node.scale))
            return lambda frame: V(value)
        if isinstance(node, ToFloat):
            return self._to_float(node)
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Member):
            return self._member(node)
        if isinstance(node, Between):
            return self._between(node)
        if isinstance(node, Logic):
            return self._logic(node)
        if isinstance(node, Not):
            inner = self.compile(node.operand)

            def negate(frame: Frame) -> V:
                v = inner(frame)
                return _bool(~np.asarray(v.values, dtype=bool), v.known)

            return negate
        if isinstance(node, IsMissing):
            inner = self.compile(node.operand)
            negated = node.negated

            def missing(frame: Frame) -> V:
                known = _full_known(inner(frame), frame.n)
                return V(known if negated else ~known)

            return missing
        if isinstance(node, Arith):
            return self._arith(node)
        if isinstance(node, Neg):
            inner = self.compile(node.operand)

            def minus(frame: Frame) -> V:
                v = inner(frame)
                return V(-v.values, v.known)

            return minus
        if isinstance(node, Reached):
            pipeline, index = node.pipeline, node.index

            def reached(frame: Frame) -> V:
                where, known = frame.stage_reach[pipeline]
                return _bool(where >= index, None if known.all() else known)

            return reached
        if isinstance(node, EnteredAt):
            stage = node.stage

            def entered_at(frame: Frame) -> V:
                return frame.entered_at(stage)

            return entered_at
        if isinstance(node, Func):
            return self._function(node)
        if isinstance(node, Attainment):
            key = node.key

            def attainment(frame: Frame) -> V:
                found = frame.extras.get(key)
                if found is not None:
                    return found
                return V(np.zeros(frame.n), np.zeros(frame.n, dtype=bool))

            return attainment
        assert isinstance(node, AggregateIR)
        return self._aggregate(node)

    def _function(self, node: Func) -> VFn:
        if node.name == "abs":
            inner = self.compile(node.args[0])
            return lambda frame: (lambda v: V(np.abs(v.values), v.known))(inner(frame))
        a, b = (self._scaled(arg, node.scale) for arg in node.args)
        pick = np.minimum if node.name == "min" else np.maximum
        return lambda frame: _combine(a(frame), b(frame), pick)

    def _to_float(self, node: ToFloat) -> VFn:
        inner = self.compile(node.operand)
        divisor = float(10**node.operand.scale) if node.operand.kind == "fixed" else 1.0

        def to_float(frame: Frame) -> V:
            v = inner(frame)
            values = np.asarray(v.values).astype(np.float64)
            return V(values / divisor if divisor != 1.0 else values, v.known)

        return to_float

    def _scaled(self, node: Node, scale: int) -> VFn:
        inner = self.compile(node)
        if node.kind != "fixed" or node.scale == scale:
            return inner
        if isinstance(node, Const):
            value = np.asarray(_scaled_const(node, scale))
            return lambda frame: V(value)
        factor = 10 ** (scale - node.scale)
        return lambda frame: (lambda v: V(v.values * factor, v.known))(inner(frame))

    def _compare(self, node: Compare) -> VFn:
        op = _OPS[node.op]
        scale = max(node.left.scale, node.right.scale)
        a, b = self._scaled(node.left, scale), self._scaled(node.right, scale)

        text = node.domain == "text"

        def compare(frame: Frame) -> V:
            x, y = a(frame), b(frame)
            known = _and_known(x.known, y.known)
            left, right = x.values, y.values
            if text:  # missing text is None, which cannot be ordered against a string
                left = np.where(_full_known(x, frame.n), left, "")
                right = np.where(_full_known(y, frame.n), right, "")
            values = np.broadcast_to(np.asarray(op(left, right), dtype=bool), (frame.n,))
            return _bool(values.copy(), known)

        return compare

    def _member(self, node: Member) -> VFn:
        scale = max([node.value.scale, *(i.scale for i in node.items)])
        inner = self._scaled(node.value, scale)
        items = np.asarray([_scaled_const(i, scale) for i in node.items])
        negated = node.negated

        def member(frame: Frame) -> V:
            v = inner(frame)
            values = np.broadcast_to(np.isin(v.values, items), (frame.n,))
            return _bool(~values if negated else values.copy(), v.known)

        return member

    def _between(self, node: Between) -> VFn:
        scale = max(node.value.scale, node.low.scale, node.high.scale)
        inner = self._scaled(node.value, scale)
        low, high = _scaled_const(node.low, scale), _scaled_const(node.high, scale)
        negated = node.negated

        def between(frame: Frame) -> V:
            v = inner(frame)
            values = np.broadcast_to((v.values >= low) & (v.values <= high), (frame.n,))
            return _bool(~values if negated else values.copy(), v.known)

        return between

    def _logic(self, node: Logic) -> VFn:
        a, b = self.compile(node.left), self.compile(node.right)
        conjunction = node.op == "and"

        def logic(frame: Frame) -> V:
            x, y = a(frame), b(frame)
            n = frame.n
            xv, yv = _truth(x, n), _truth(y, n)
            if x.known is None and y.known is None:
                return V(xv & yv if conjunction else xv | yv)
            xk, yk = _full_known(x, n), _full_known(y, n)
            if conjunction:
                # false and anything is false; known when both are known or either is false
                known = (xk & yk) | (xk & ~xv) | (yk & ~yv)
                return _bool(xv & yv, known)
            known = (xk & yk) | xv | yv
            return _bool(xv | yv, known)

        return logic

    def _arith(self, node: Arith) -> VFn:
        op = node.op
        if op == "days" or node.kind == "date":
            a, b = self.compile(node.left), self.compile(node.right)
            sign = -1 if op in ("days", "-") else 1
            right = node.right
            if op != "days" and (right.kind == "float" or right.scale):
                # A duration that is not whole days moves the date by its whole days.
                divisor = 10**right.scale if right.kind == "fixed" else 1

                def shift(x: Any, y: Any) -> Any:
                    return x + sign * np.floor_divide(y, divisor).astype(np.int64)

                return lambda frame: _combine(a(frame), b(frame), shift)
            return lambda frame: _combine(a(frame), b(frame), lambda x, y: x + sign * y)
        if node.kind == "fixed":
            scale = node.scale if op in "+-" else None
            a = self._scaled(node.left, scale) if scale is not None else self.compile(node.left)
            b = self._scaled(node.right, scale) if scale is not None else self.compile(node.right)
            function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
            return lambda frame: _combine(a(frame), b(frame), function)
        a, b = self.compile(node.left), self.compile(node.right)
        if op == "/":

            def divide(frame: Frame) -> V:
                x, y = a(frame), b(frame)
                denominator = np.asarray(y.values, dtype=np.float64)
                zero = denominator == 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = np.asarray(x.values, dtype=np.float64) / np.where(zero, 1, denominator)
                known = _and_known(_and_known(x.known, y.known), ~zero if zero.any() else None)
                return V(np.broadcast_to(values, (frame.n,)), known)

            return divide
        function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
        return lambda frame: _combine(a(frame), b(frame), function)

    def _aggregate(self, node: AggregateIR) -> VFn:
        where = self.compile(node.where) if node.where is not None else None
        arg = self.compile(node.arg) if node.arg is not None else None
        function, kind, scale = (
            node.function,
            node.arg.kind if node.arg else "",
            (node.arg.scale if node.arg else 0),
        )

        def aggregate(groups: Frame) -> V:
            assert isinstance(groups, Groups)
            frame, codes, count = groups.source, groups.group_codes, groups.n
            take = codes >= 0
            if where is not None:
                take = take & _truth(where(frame), frame.n)
            if function == "count":
                return V(np.bincount(codes[take], minlength=count).astype(np.int64))
            assert arg is not None
            v = arg(frame)
            take = take & _full_known(v, frame.n)
            values = np.broadcast_to(v.values, (frame.n,))[take]
            series = pd.Series(values, dtype=np.int64 if kind in ("fixed", "date") else None)
            if kind == "fixed" and function in ("mean", "median"):
                series = series.astype(np.float64) / 10**scale
            result = getattr(series.groupby(codes[take]), function)().reindex(range(count))
            # An empty sum is 0; an empty mean, median, min or max is unknown.
            known = np.ones(count, bool) if function == "sum" else np.asarray(result.notna())
            dtype = np.float64 if function in ("mean", "median") or kind == "float" else np.int64
            values_out = np.asarray(result.fillna(0).to_numpy(), dtype=dtype)
            return V(values_out, None if known.all() else known)

        return aggregate


class Groups(Frame):
    """Groups of a frame's rows (codes, -1 in none): what a KPI's aggregates run on."""

    def __init__(self, source: Frame, codes: Array, count: int) -> None:
        super().__init__(source.data)
        self.source, self.group_codes, self.n = source, codes, count


def _find_ref(node: Node, name: str) -> FieldRef | None:
    return next((n for n in walk(node) if isinstance(n, FieldRef) and n.name == name), None)


def _combine(x: V, y: V, function: Callable[[Any, Any], Any]) -> V:
    return V(function(x.values, y.values), _and_known(x.known, y.known))


def _lookup(node: Node, ref: FieldRef, closure: Fn) -> VFn:
    """A condition on one text field: the record closure once per distinct value."""
    name = ref.name

    def lookup(frame: Frame) -> V:
        codes, uniques = frame.codes(name)
        answers = [closure({name: u}) for u in uniques]
        answers.append(closure({name: None}))
        values = np.asarray([a is True for a in answers], dtype=bool)
        known = np.asarray([a is not None for a in answers], dtype=bool)
        values_at, known_at = values[codes], known[codes]
        return V(values_at, None if known.all() else known_at)

    return lookup


# ----------------------------------------------------------------------------- combinations
def _combine_codes(
    parts: Sequence[tuple[Array, int] | tuple[Array, int, int]], n: int
) -> tuple[Array, list[list[int]]]:
    """One code per distinct combination of small codes, and per part the code of each
    combination. A part is (codes, size) with codes in 0..size-1, or (codes, size, -1) with codes
    in -1..size-2 (-1: the last entry of a Python list)."""
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    lowest = 0  # the smallest key, from parts whose codes start at -1
    folded = False
    for codes, size, *start in parts:
        if radix * size >= _MAX_RADIX:
            key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
            radix = int(key.max()) + 1 if n else 1
            lowest = 0
            folded = True
        key *= size
        key += codes
        radix *= size
        lowest = lowest * size + (start[0] if start else 0)
    if lowest:
        key -= lowest
    if radix <= max(4 * n, 1 << 16):
        # Few possible keys: number them through a table over all of them, no hashing.
        seen = np.zeros(radix, dtype=bool)
        seen[key] = True
        distinct = np.flatnonzero(seen)
        number = np.zeros(radix, dtype=np.int64)
        number[distinct] = np.arange(len(distinct), dtype=np.int64)
        inverse = number[key]
    else:
        found, distinct = pd.factorize(key)
        inverse = np.asarray(found, dtype=np.int64)
    if not folded:
        # Mixed radix: each combination's codes come back from its key, no search needed.
        digits: list[list[int]] = []
        rest = np.asarray(distinct, dtype=np.int64)
        for _, size, *start in reversed(parts):
            digits.append((rest % size + (start[0] if start else 0)).tolist())
            rest = rest // size
        return inverse, digits[::-1]
    first = np.full(len(distinct), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n, dtype=np.int64))
    return inverse, [np.asarray(codes)[first].tolist() for codes, *_ in parts]


def _objects(values: Sequence[Any]) -> Array:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


class Bits:
    """Per row, a set of small numbers (exits, stages, requirements, playbooks) as int64 words
    of 62 bits each: any number of members, never an overflow."""

    WIDTH = 62

    def __init__(self, n: int) -> None:
        self.n = n
        self.words: list[Array] = [np.zeros(n, dtype=np.int64)]

    def add(self, number: int, rows: Bools) -> None:
        """Put `number` in the sets of the rows where `rows` holds."""
        word, bit = divmod(number, self.WIDTH)
        while len(self.words) <= word:
            self.words.append(np.zeros(self.n, dtype=np.int64))
        self.words[word] |= rows.astype(np.int64) << bit

    def empty(self) -> Bools:
        """Rows whose set is empty."""
        found: Bools = self.words[0] == 0
        for word in self.words[1:]:
            found &= word == 0
        return found

    def count(self) -> Array:
        """How many members each row's set has."""
        total = np.zeros(self.n, dtype=np.int64)
        for word in self.words:
            rest = word.copy()
            while rest.any():
                total += rest & 1
                rest >>= 1
        return total

    @staticmethod
    def members(mask: int) -> list[int]:
        """The numbers of a set given as one Python int (bit i: number i)."""
        return [i for i in range(mask.bit_length()) if mask >> i & 1]


def _names_by_bits(
    group: Array, bits: Bits, names_of: Callable[[int, int], tuple[str, ...]], n: int
) -> Array:
    """A tuple of names per row from (group, set of numbers) codes, built once per combination;
    `names_of` gets the group and the set as one Python int (bit i: number i)."""
    if n == 0:
        return np.empty(0, dtype=object)
    words = bits.words
    low, high = int(group.min()), int(group.max())
    if len(words) == 1 and low >= -1 and high < 1 << 20:
        first = words[0]
        top = int(first.max())
        if int(first.min()) >= 0 and top < 1 << 20:
            # Small codes stand for themselves: no hashing.
            inverse, (groups_of, masks_of) = _combine_codes(
                [(group, high + 2, -1), (first, top + 1)], n
            )
            pairs = zip(groups_of, masks_of, strict=True)
            return _objects([names_of(g, b) for g, b in pairs])[inverse]
    group_codes, group_values = pd.factorize(group)
    parts = [(np.asarray(group_codes, dtype=np.int64), len(group_values))]
    word_values = []
    for word in words:
        codes, values = pd.factorize(word)
        parts.append((np.asarray(codes, dtype=np.int64), len(values)))
        word_values.append(values.tolist())
    inverse, digits = _combine_codes(parts, n)
    groups = group_values.tolist()
    names = []
    for g, *ws in zip(*digits, strict=True):
        mask = 0
        for k, w in enumerate(ws):
            mask |= int(word_values[k][w]) << (Bits.WIDTH * k)
        names.append(names_of(int(groups[g]), mask))
    return _objects(names)[inverse]


# ----------------------------------------------------------------------------- scores
@dataclass(slots=True)
class ScoreColumns:
    """A score evaluated on a frame: totals (Python values), statuses, points, missing; and
    the totals as int64 where they are whole numbers (`whole` marks where they are)."""

    score: Array
    status: Array
    points: Array
    missing: Array
    whole: Array
    scored: Bools

    @staticmethod
    def empty(n: int) -> ScoreColumns:
        """Columns of rows no score applies to."""
        points = np.empty(n, dtype=object)
        points.fill(_NO_POINTS)
        missing = np.empty(n, dtype=object)
        missing.fill(())
        nothing = np.full(n, None, dtype=object)
        return ScoreColumns(
            nothing, nothing.copy(), points, missing, np.zeros(n, np.int64), np.zeros(n, bool)
        )


class ScoreVector:
    """A score on tables: codes per criterion, combinations, then statuses."""

    def __init__(self, ir: ScoreIR, compiler: Compiler, runner: ScoreRunner) -> None:
        self.ir = ir
        self.runner = runner
        self.names = tuple(c.name for c in ir.criteria)
        self.criteria = [self._criterion(c, compiler, runner) for c in ir.criteria]
        self.statuses = [
            (s.name, s.knockout, compiler.compile(s.condition) if s.condition else None)
            for s in ir.statuses
        ]
        #: Whether the statuses read nothing but the score.
        self.by_score = all(
            s.condition is None or free_fields(s.condition) == ({"score"}, False)
            for s in ir.statuses
        )

    def _criterion(
        self, criterion: CriterionIR, compiler: Compiler, runner: ScoreRunner
    ) -> tuple[Callable[[Frame], tuple[Array, list[Any]]], int]:
        """A function giving (codes, points per code), points None meaning missing; and the
        lowest code (-1: the last points entry)."""
        if criterion.field is not None:
            ref = criterion.field

            def field_points(frame: Frame) -> tuple[Array, list[Any]]:
                v = frame.field(ref)
                values = np.broadcast_to(v.values, (frame.n,))
                whole = values.dtype == np.int64 and frame.n > 0
                low, high = (int(values.min()), int(values.max())) if whole else (0, _DENSE_POINTS)
                if high - low < _DENSE_POINTS:
                    # Whole numbers in a short range (MEDDPICC letters 0..2) code themselves.
                    codes = values - low
                    distinct: Any = range(low, high + 1)
                else:
                    found, distinct = pd.factorize(values)
                    codes, distinct = np.asarray(found, dtype=np.int64), distinct.tolist()
                table = [_python_value(u, ref.kind, ref.scale) for u in distinct]
                if v.known is not None:
                    codes = np.where(v.known, codes, len(table))
                table.append(None)
                return codes, table

            return field_points, 0
        closure = runner.criterion(criterion.name)
        conditions = [c.condition for c in criterion.cases if c.condition is not None]
        refs = {compiler.lookup_field(c) for c in conditions}
        single = next(iter(refs)) if len(refs) == 1 else None
        if single is not None:
            name = single.name

            def by_value(frame: Frame) -> tuple[Array, list[Any]]:
                codes, uniques = frame.codes(name)
                table = [closure({name: u}) for u in uniques]
                table.append(closure({name: None}))  # code -1, missing: the last entry
                return codes, table

            return by_value, -1
        cases = [
            (compiler.compile(c.condition) if c.condition is not None else None, c.points)
            for c in criterion.cases
        ]

        def by_case(frame: Frame) -> tuple[Array, list[Any]]:
            n = frame.n
            nothing, unknown = len(cases), len(cases) + 1
            codes = np.full(n, nothing, dtype=np.int64)
            decided = np.zeros(n, dtype=bool)
            for index, (test, _) in enumerate(cases):
                if test is None:
                    codes[~decided] = index
                    break
                v = test(frame)
                holds = _truth(v, n) & ~decided
                codes[holds] = index
                decided |= holds
                if v.known is not None:  # rows where the case cannot be decided stop here
                    undecidable = ~_full_known(v, n) & ~decided
                    codes[undecidable] = unknown
                    decided |= undecidable
            return codes, [points for _, points in cases] + [0, None]

        return by_case, 0

    def run(self, frame: Frame, objects: bool = True) -> ScoreColumns:
        """Points, totals, missing criteria and statuses of every row.

        `objects`: whether the totals are wanted as Python values (not needed when whole).
        """
        n = frame.n
        parts = [criterion(frame) for criterion, _ in self.criteria]
        keys = [
            (c, len(t), lowest) for (c, t), (_, lowest) in zip(parts, self.criteria, strict=True)
        ]
        inverse, digits = _combine_codes(keys, n)
        # Per criterion, the points of each combination; then each combination put together.
        columns = [
            [table[code] for code in codes] for (_, table), codes in zip(parts, digits, strict=True)
        ]
        totals: list[Any] = []
        points: list[Any] = []
        missing: list[Any] = []
        exact = self.ir.kind == "fixed"
        for values in zip(*columns, strict=True):
            total, mapping, undecided = assemble(self.names, list(values), exact)
            totals.append(total)
            points.append(mapping)
            missing.append(undecided)
        if exact:
            scale = self.ir.scale
            numeric = np.asarray(
                [t if scale == 0 else int(Decimal(t).scaleb(scale)) for t in totals], np.int64
            )
        else:
            numeric = np.asarray(totals, dtype=np.float64)
        score_values = numeric[inverse]
        if self.by_score:
            # Statuses that read the score only are decided once per combination.
            combinations = Frame(pd.DataFrame(index=pd.RangeIndex(len(numeric))))
            status = self._status(combinations.with_extras({"score": V(numeric)}))[inverse]
        else:
            status = self._status(frame.with_extras({"score": V(score_values)}))
        whole = exact and self.ir.scale == 0
        return ScoreColumns(
            _objects(totals)[inverse] if objects or not whole else np.full(n, None, object),
            status,
            _objects(points)[inverse],
            _objects(missing)[inverse],
            score_values if whole else np.zeros(n, np.int64),
            np.full(n, whole),
        )

    def _status(self, frame: Frame) -> Array:
        n = frame.n
        names = [name for name, _, _ in self.statuses]
        code = np.full(n, len(names), dtype=np.int64)
        decided = np.zeros(n, dtype=bool)
        ordered = [s for s in enumerate(self.statuses) if s[1][1]] + [
            s for s in enumerate(self.statuses) if not s[1][1]
        ]
        for index, (_, _, test) in ordered:
            take = ~decided if test is None else _truth(test(frame), n) & ~decided
            code[take] = index
            decided |= take
        return _objects([*names, None])[code]


def _python_value(value: Any, kind: str, scale: int) -> Any:
    """A vector value back as the record path holds it."""
    if kind == "fixed":
        return int(value) if scale == 0 else Decimal(int(value)).scaleb(-scale)
    if kind == "float":
        return float(value)
    return value


# ----------------------------------------------------------------------------- input tables
def table_columns(model: Model, record: str) -> tuple[Column, ...]:
    """The columns a table is validated against: canonical, extended by `record` declarations."""
    declared = model.declared_records.get(record)
    extra: tuple[Column, ...] = ()
    if declared is not None:
        extra = tuple(
            Column(f.name.name, f.type.name, False, tuple(o.name.name for o in f.type.options))
            for f in declared.fields
            if f.name.name not in DERIVED
        )
    return merge_columns(record, extra)


# ----------------------------------------------------------------------------- evaluation
Validation = tuple[
    dict[str, pd.DataFrame], dict[str, dict[str, Codes]], list[RowError], dict[str, TableCounts]
]


def validate_inputs(
    model: Model, compiled: Compiled, frames: Mapping[str, pd.DataFrame | None]
) -> Validation:
    """Validate the given input tables against the ruleset's records: the valid rows typed,
    their factorized text columns, every rejected row, and `in = out + rejected` per table."""
    stage_ids = tuple(compiled.stages)
    known_values = {"stage": stage_ids} if stage_ids else {}
    errors: list[RowError] = []
    counts: dict[str, TableCounts] = {}
    valid: dict[str, pd.DataFrame] = {}
    codes: dict[str, dict[str, Codes]] = {}
    records = {table: record for record, table in FILE_NAMES.items()}
    for table, frame in frames.items():
        if frame is None:
            continue
        record = records[table]
        checked = validate_table(
            table,
            frame,
            table_columns(model, record),
            known_values if record in ("deal", "stage_event") else None,
            # Amounts of the big tables are read as cents only (here and by the payouts); the
            # small ones feed the payouts' reference functions, which take Decimals.
            decimals=record not in ("lead", "deal", "stage_event"),
        )
        kept, outside, inside = _in_ranges(table, frame, checked.valid, model.records[record])
        errors.extend(sorted([*checked.errors, *outside], key=_error_order))
        counts[table] = TableCounts(table, checked.rows_in, len(kept), checked.rows_in - len(kept))
        valid[table] = kept.reset_index(drop=True)
        codes[table] = {
            name: (found if inside is None else found[inside], list(distinct))
            for name, (found, distinct) in checked.codes.items()
        }
    return valid, codes, errors, counts


@dataclass(frozen=True, eq=False)
class TableResults:
    """What the table path computes from validated inputs (pay apart)."""

    leads: pd.DataFrame
    deals: pd.DataFrame
    funnel: pd.DataFrame
    kpis: pd.DataFrame
    alerts: pd.DataFrame


def evaluate_tables(
    compiled: Compiled,
    inputs: Inputs,
    as_of: dt.date,
    period: PayPeriod | None,
    attainments: Mapping[str, Mapping[str, float]],
) -> TableResults:
    """Everything the ruleset declares on validated tables: scores, pipeline, funnel, KPIs,
    alerts. `attainments` (per measure, per rep) come from pay, for `attainment()`."""
    valid, codes = inputs.valid, inputs.codes
    evaluator = _Evaluator(compiled, as_of, period, attainments, codes, valid)
    alerts = Alerts()
    leads = evaluator.leads(valid.get("leads"), alerts)
    history = History(
        list(compiled.stages.values()), valid.get("deals"), valid.get("stage_events"), codes
    )
    deals, deal_frame, playbooks = evaluator.deals(valid.get("deals"), history, alerts)
    funnel = evaluator.funnel(history, alerts)
    evaluator.win_rates(deal_frame, playbooks, alerts)
    kpis = evaluator.kpis(valid, deal_frame, alerts)
    evaluator.other_alerts(valid, alerts)
    return TableResults(leads, deals, funnel, kpis, alerts.frame())


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
            rows = _row_numbers(given, valid)
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


def _row_numbers(given: pd.DataFrame, valid: pd.DataFrame) -> Array:
    """The row numbers of valid rows, as validate_table numbers them (see engine.data): by the
    index it was given, or 1, 2, ... for pandas' default index."""
    index = given.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    numbered = not default and pd.api.types.is_integer_dtype(index.dtype)
    positions = given.index.get_indexer(valid.index) if len(valid) else np.empty(0, np.int64)
    return np.asarray(valid.index if numbered else positions + 1, dtype=np.int64)


def _error_order(error: RowError) -> tuple[int, int]:
    return (error.row is not None, error.row or 0)


def _text_fields(compiled: Compiled, record: str) -> set[str]:
    fields = compiled.records.get(record, {})
    return {name for name, kind in fields.items() if kind.kind in ("text", "one_of")}


class _Evaluator:
    """One `evaluate` call: the compiled program, the date and the period."""

    def __init__(
        self,
        compiled: Compiled,
        as_of: dt.date,
        period: PayPeriod | None,
        attainments: Mapping[str, Mapping[str, float]],
        codes: Mapping[str, Mapping[str, Codes]] | None = None,
        valid: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        self.period = period
        self.attainments = attainments
        #: Per table, the text columns validation already factorized.
        self.codes = codes or {}
        #: The validated tables, for linked records (`territory.potential`).
        self.valid = valid or {}
        bounds = (period.start, period.end) if period else None
        self.compiled = compiled
        self.as_of = as_of
        self.bounds = bounds
        stages = self.compiled.stages
        self.compilers: dict[str, Compiler] = {}
        self.lead_compiler = self._compiler("lead")
        self.deal_compiler = self._compiler("deal")
        self.runners = {n: ScoreRunner(s, stages) for n, s in self.compiled.scores.items()}

    def _score(self, name: str, subject: str) -> ScoreVector:
        return ScoreVector(self.compiled.scores[name], self._compiler(subject), self.runners[name])

    # ------------------------------------------------------------------------- qualification
    def _routed(
        self, routes: tuple[RouteIR, ...], frame: Frame, subject: str
    ) -> tuple[Array, ScoreColumns]:
        """Which score applies to each row (None when undecided) and its columns."""
        n = frame.n
        chosen = _filled(n, None)
        if not routes:
            return chosen, ScoreColumns.empty(n)
        objects = not self._whole(subject)
        if len(routes) == 1 and routes[0].condition is None:
            # A record's only score: every row, without taking a sub-frame.
            chosen.fill(routes[0].score)
            return chosen, self._score(routes[0].score, subject).run(frame, objects=objects)
        compiler = self._compiler(subject)
        code = np.full(n, -1, dtype=np.int64)
        decided = np.zeros(n, dtype=bool)
        for index, item in enumerate(routes):
            if item.condition is None:
                code[~decided] = index
                break
            v = compiler.compile(item.condition)(frame)
            holds = _truth(v, n) & ~decided
            decided |= holds | (~_full_known(v, n) & ~decided)
            code[holds] = index
        result = ScoreColumns.empty(n)
        for index, item in enumerate(routes):
            rows = np.flatnonzero(code == index)
            if not rows.size:
                continue
            columns = self._score(item.score, subject).run(frame.take(rows), objects=objects)
            chosen[rows] = item.score
            result.score[rows] = columns.score
            result.status[rows] = columns.status
            result.points[rows] = columns.points
            result.missing[rows] = columns.missing
            result.whole[rows] = columns.whole
            result.scored[rows] = columns.scored
        return chosen, result

    # ------------------------------------------------------------------------- leads
    def leads(self, data: pd.DataFrame | None, alerts: Alerts) -> pd.DataFrame:
        """One row per valid lead: id, score, status, points, missing."""
        if data is None:
            return pd.DataFrame(columns=list(LEAD_COLUMNS))
        frame = Frame(data, self._linked("lead", data), codes=self.codes.get("leads"))
        compiled = self.compiled
        _, columns = self._routed(compiled.routes["lead"], frame, "lead")
        result = _table(
            {
                "id": data["id"],
                "score": self._score_column(columns, "lead"),
                "status": columns.status,
                "points": columns.points,
                "missing": columns.missing,
            }
        )
        for alert in (a for a in compiled.alerts if a.subject == "lead"):
            holds = _truth(self.lead_compiler.compile(alert.condition)(frame), frame.n)
            alerts.records(alert.name, alert.label, alert.severity, data["id"][holds])
        return result

    def _whole(self, subject: str) -> bool:
        """Whether every score of the record has whole points (totals as nullable integers)."""
        scores = [s for s in self.compiled.scores.values() if s.subject == subject]
        return bool(scores) and all(s.kind == "fixed" and s.scale == 0 for s in scores)

    def _score_column(self, columns: ScoreColumns, subject: str) -> Any:
        """Totals as nullable integers when every score of the record has whole points."""
        if self._whole(subject):
            return pd.arrays.IntegerArray(columns.whole, ~columns.scored)
        return columns.score

    # ------------------------------------------------------------------------- deals
    def deals(
        self, data: pd.DataFrame | None, history: History, alerts: Alerts
    ) -> tuple[pd.DataFrame, Frame | None, Array | None]:
        """One row per valid deal (see DEAL_COLUMNS); also the evaluated frame for KPIs and
        each deal's playbook by number (-1: none)."""
        if data is None:
            return pd.DataFrame(columns=list(DEAL_COLUMNS)), None, None
        compiled = self.compiled
        compiler = self.deal_compiler
        n = len(data)
        extras = {AS_OF: V(np.asarray(_date_days(self.as_of))), **self._linked("deal", data)}
        frame = Frame(data, extras, codes=self.codes.get("deals"))
        frame.history = history
        frame.stage_reach = {name: history.reach(name) for name in compiled.pipelines}
        if len(history.event_deal):
            # Exports often lack the entry date of the current stage; the stage events have it.
            entered = frame.field(FieldRef("stage_entered_at", "date"))
            known = _full_known(entered, n)
            latest, found = history.current_entry()
            fill = ~known & found
            if fill.any():
                filled = np.where(fill, latest, np.broadcast_to(entered.values, (n,)))
                frame.extras["stage_entered_at"] = V(filled, known | fill)
        for name, node in compiled.derived.items():
            frame.extras[name] = compiler.compile(node)(frame)
        stage_codes, stage_uniques = frame.codes("stage")
        stage_irs = [compiled.stages.get(u) for u in stage_uniques] + [None]
        where = np.where(stage_codes < 0, len(stage_uniques), stage_codes)
        pipelines = list(compiled.pipelines)
        known_stage = np.asarray([s is not None for s in stage_irs])[where]
        pipe = np.asarray([pipelines.index(s.pipeline) if s else -1 for s in stage_irs])[where]
        index = np.asarray([s.index if s else -1 for s in stage_irs])[where]
        # Weighted value: cents x probability, exact. It comes from the stage alone, so exit
        # criteria may read it.
        scale = compiled.weighted_scale
        units = np.asarray(
            [
                probability_units(s.probability, scale) if s and s.probability is not None else -1
                for s in stage_irs
            ],
            dtype=np.int64,
        )[where]
        amount = frame.field(FieldRef("amount", "fixed", 2))
        weighted_known = _full_known(amount, n) & (units >= 0)
        weighted_values = np.where(weighted_known, amount.values * units, 0)
        frame.extras["weighted_value"] = V(weighted_values, weighted_known)
        # Exit criteria: unmet per criterion, per stage, and those of the current stage.
        unmet_stage: dict[str, Bools] = {}
        exit_bits = Bits(n)
        for stage in compiled.stages.values():
            at_stage = (pipe == pipelines.index(stage.pipeline)) & (index == stage.index)
            any_unmet = np.zeros(n, dtype=bool)
            for bit, exit_ in enumerate(stage.exits):
                unmet = ~_truth(compiler.compile(exit_.condition)(frame), n)
                any_unmet |= unmet
                exit_bits.add(bit, at_stage & unmet)
            unmet_stage[stage.name] = any_unmet
        skipped_bits = Bits(n)
        for stage in compiled.stages.values():
            later = (pipe == pipelines.index(stage.pipeline)) & (index > stage.index)
            skipped_bits.add(stage.index, later & unmet_stage[stage.name])
        exit_ready = known_stage & exit_bits.empty()
        stage_list = list(compiled.stages.values())
        stage_number = np.asarray([stage_list.index(s) if s else -1 for s in stage_irs])[where]

        def exit_names(stage: int, bits: int) -> tuple[str, ...]:
            if stage < 0:
                return ()
            exits = stage_list[stage].exits
            return tuple(e.name for i, e in enumerate(exits) if bits >> i & 1)

        def skipped_names(pipeline: int, bits: int) -> tuple[str, ...]:
            if pipeline < 0:
                return ()
            stages = compiled.pipelines[pipelines[pipeline]].stages
            return tuple(s.name for s in stages if bits >> s.index & 1)

        missing = _names_by_bits(stage_number, exit_bits, exit_names, n)
        skipped = _names_by_bits(pipe, skipped_bits, skipped_names, n)
        # Days in stage and staleness.
        days = frame.extras["days_in_stage"]
        days_known = _full_known(days, n)
        days_values = np.broadcast_to(days.values, (n,))
        is_open = frame.matches("status", "open")
        max_days = np.asarray(
            [s.max_days if s and s.max_days is not None else -1 for s in stage_irs]
        )[where]
        has_max = max_days >= 0
        stale_value = is_open & has_max & days_known & (days_values > max_days)
        # Closed deals and stages without a maximum are never stale; unknown otherwise.
        stale_known = ~is_open | (known_stage & (~has_max | days_known))
        frame.extras["exit_ready"] = _bool(exit_ready, known_stage)
        frame.extras["stale"] = _bool(stale_value, stale_known)
        # Qualification and playbooks.
        framework, qualification = self._routed(compiled.routes["deal"], frame, "deal")
        playbook_number, playbook_missing, conflict = self._playbooks(
            frame, pipe, index, pipelines, alerts
        )
        labels = _objects([*(p.name for p in compiled.playbooks), None])
        result = _table(
            {
                "id": data["id"],
                "stage": data["stage"],
                "exit_ready": pd.arrays.BooleanArray(exit_ready, ~known_stage),
                "missing": missing,
                "skipped": skipped,
                "days_in_stage": pd.arrays.IntegerArray(
                    np.asarray(days_values, dtype=np.int64), ~days_known
                ),
                "stale": pd.arrays.BooleanArray(stale_value, ~stale_known),
                "weighted_value": _weighted_objects(weighted_values, weighted_known, scale),
                "framework": framework,
                "qualification_score": self._score_column(qualification, "deal"),
                "qualification_status": qualification.status,
                "playbook": labels[playbook_number],
                "playbook_missing": playbook_missing,
                "playbook_conflict": conflict,
            }
        )
        for alert in (a for a in compiled.alerts if a.subject == "deal"):
            holds = _truth(compiler.compile(alert.condition)(frame), n)
            alerts.records(alert.name, alert.label, alert.severity, data["id"][holds])
        return result, frame, playbook_number

    def _playbooks(
        self, frame: Frame, pipe: Array, index: Array, pipelines: list[str], alerts: Alerts
    ) -> tuple[Array, Array, Array]:
        """Each deal's playbook by number (-1: none), its due requirements not met, and the
        playbooks that all apply when more than one does (the deal then gets none)."""
        compiled = self.compiled
        playbooks = compiled.playbooks
        n = frame.n
        applying = Bits(n)
        default = -1
        for number, playbook in enumerate(playbooks):
            if playbook.condition is None:
                default = number
                continue
            holds = _truth(self.deal_compiler.compile(playbook.condition)(frame), n)
            applying.add(number, holds)
        count = applying.count()
        chosen = np.full(n, default, dtype=np.int64)
        for number, playbook in enumerate(playbooks):
            if playbook.condition is not None:
                holds = _truth(self.deal_compiler.compile(playbook.condition)(frame), n)
                chosen[holds & (count == 1)] = number
        chosen[count > 1] = -1
        bits = Bits(n)
        for number, playbook in enumerate(playbooks):
            here = chosen == number
            if not here.any():
                continue
            required = [r for r in playbook.requirements if r.kind == "require"]
            for bit, item in enumerate(required):
                if item.before_index is None:
                    due = here
                else:
                    assert item.pipeline is not None
                    same = pipe == pipelines.index(item.pipeline)
                    due = here & same & (index >= item.before_index)
                unmet = ~_truth(self.deal_compiler.compile(item.condition)(frame), n)
                bits.add(bit, due & unmet)

        def names(playbook: int, mask: int) -> tuple[str, ...]:
            if playbook < 0:
                return ()
            required = [r for r in playbooks[playbook].requirements if r.kind == "require"]
            return tuple(r.name for i, r in enumerate(required) if mask >> i & 1)

        def conflict(_: int, mask: int) -> tuple[str, ...]:
            return tuple(playbooks[i].name for i in Bits.members(mask)) if mask & (mask - 1) else ()

        several = np.where(count > 1, 0, -1)
        conflicts = _names_by_bits(several, applying, conflict, n)
        ids = frame.data["id"].to_numpy(dtype=object)
        for row in np.flatnonzero(count > 1).tolist():
            both = conflicts[row]
            alerts.append(
                {
                    "kind": "playbook_conflict",
                    "subject": ", ".join(both),
                    "id": ids[row],
                    "message": f"deal {ids[row]} matches playbooks {_and(both)}: it gets none; "
                    "make their `when` conditions exclusive",
                    "severity": "warning",
                }
            )
        return chosen, _names_by_bits(chosen, bits, names, n), conflicts

    # ------------------------------------------------------------------------- funnel
    def funnel(self, history: History, alerts: Alerts) -> pd.DataFrame:
        """Per stage: deals that reached it, conversion to the next, days spent (events)."""
        rows: list[dict[str, Any]] = []
        compiled = self.compiled
        stages = list(compiled.stages.values())
        durations = history.durations()
        for name, pipeline in compiled.pipelines.items():
            furthest = history.furthest(name)
            size = len(pipeline.stages)
            at = np.bincount(furthest[furthest >= 0], minlength=size)
            reached = np.cumsum(at[::-1])[::-1] if size else at
            counts = {s.name: int(reached[s.index]) for s in pipeline.stages}
            for stage in pipeline.stages:
                nxt = stage.index + 1
                here = counts[stage.name]
                conversion = (
                    counts[pipeline.stages[nxt].name] / here if nxt < size and here else None
                )
                mean, median = durations.get(stages.index(stage), (None, None))
                rows.append(
                    {
                        "stage": stage.name,
                        "reached": here,
                        "conversion_to_next": conversion,
                        "mean_days": mean,
                        "median_days": median,
                    }
                )
            for expect in pipeline.expectations:
                base, target = counts.get(expect.source, 0), counts.get(expect.target, 0)
                if not base:
                    continue
                rate = Fraction(target, base)
                if not _OPS[expect.op](rate, Fraction(expect.value)):
                    alerts.append(
                        {
                            "kind": "conversion",
                            "subject": f"{expect.source}->{expect.target}",
                            "id": name,
                            "message": (
                                f"conversion {expect.source} -> {expect.target} is "
                                f"{_percent(rate)} ({target}/{base}), expected {expect.op} "
                                f"{_percent(Fraction(expect.value))}"
                            ),
                            "severity": "warning",
                        }
                    )
        funnel = pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS))
        # Numbers throughout; NaN where there is none (a last stage, a stage never left).
        return funnel.astype(
            {
                "reached": np.int64,
                "conversion_to_next": float,
                "mean_days": float,
                "median_days": float,
            }
        )

    # ------------------------------------------------------------------------- win rates
    def win_rates(self, frame: Frame | None, playbooks: Array | None, alerts: Alerts) -> None:
        """Alerts for playbooks whose closed deals' win rate is outside the expected range.

        `playbooks`: each deal's playbook, by its number (-1: none)."""
        if frame is None or playbooks is None:
            return
        won_deals, lost_deals = frame.matches("status", "won"), frame.matches("status", "lost")
        for number, playbook in enumerate(self.compiled.playbooks):
            if playbook.win_rate is None:
                continue
            here = playbooks == number
            won = int(np.count_nonzero(here & won_deals))
            lost = int(np.count_nonzero(here & lost_deals))
            if won + lost == 0:
                continue
            rate = Fraction(won, won + lost)
            low, high = (Fraction(v) for v in playbook.win_rate)
            if not low <= rate <= high:
                alerts.append(
                    {
                        "kind": "win_rate",
                        "subject": playbook.name,
                        "id": None,
                        "message": (
                            f"{playbook.label or playbook.name}: win rate {_percent(rate)} "
                            f"({won}/{won + lost}), expected {_percent(low)} to {_percent(high)}"
                        ),
                        "severity": "warning",
                    }
                )

    # ------------------------------------------------------------------------- KPIs
    def _in_period(self, subject: str, frame: Frame) -> Bools:
        """Rows a period covers: leads created in it; deals closed in it, or open then."""
        n = frame.n
        if self.bounds is None:
            return np.ones(n, dtype=bool)
        start, end = (_date_days(d) for d in self.bounds)
        if subject == "deal":
            close = frame.field(FieldRef("close_date", "date"))
            created = frame.field(FieldRef("created_at", "date"))
            closed_in = _full_known(close, n) & (close.values >= start) & (close.values <= end)
            created_before = ~_full_known(created, n) | (created.values <= end)
            return np.where(frame.matches("status", "open"), created_before, closed_in)
        if subject == "lead":
            created = frame.field(FieldRef("created_at", "date"))
            return _full_known(created, n) & (created.values >= start) & (created.values <= end)
        return np.ones(n, dtype=bool)

    def kpis(
        self,
        valid: Mapping[str, pd.DataFrame],
        deal_frame: Frame | None,
        alerts: Alerts,
    ) -> pd.DataFrame:
        """KPI values per role, rep and team (all reps of a role), against their targets."""
        compiled = self.compiled
        reps = valid.get("reps")
        rows: list[dict[str, Any]] = []
        used: set[str] = set()
        frames: dict[str, Frame] = {}
        if deal_frame is not None:
            frames["deal"] = deal_frame
        for record, table in FILE_NAMES.items():
            if record != "deal" and table in valid:
                frames[record] = self._table_frame(record, valid[table])
        for role, names in compiled.roles.items():
            members: list[str] = []
            if reps is not None and "role" in reps.columns:
                chosen = reps[reps["role"] == role]
                members = sorted(str(i) for i in chosen["id"].dropna())
            for name in names:
                kpi = compiled.kpis.get(name)
                if kpi is None or kpi.subject not in frames:
                    continue
                used.add(name)
                rows.extend(self._kpi_rows(kpi, role, members, frames[kpi.subject], reps))
        for name, kpi in compiled.kpis.items():
            if name not in used and kpi.subject in frames:
                rows.extend(self._kpi_rows(kpi, None, [], frames[kpi.subject], None))
        for row in rows:
            if row["met"] is False:
                kpi = compiled.kpis[row["kpi"]]
                who = row["rep_id"] or (f"team {row['role']}" if row["role"] else "all")
                alerts.append(
                    {
                        "kind": "kpi",
                        "subject": row["kpi"],
                        "id": row["rep_id"] or row["role"],
                        "message": (
                            f"{kpi.label or kpi.name} ({who}): {_show(row['value'])}, "
                            f"target {kpi.target_op} {_show(row['target'])}"
                        ),
                        "severity": "warning",
                    }
                )
        return pd.DataFrame(rows, columns=list(KPI_COLUMNS))

    def _kpi_rows(
        self,
        kpi: KpiIR,
        role: str | None,
        members: list[str],
        frame: Frame,
        reps: pd.DataFrame | None,
    ) -> list[dict[str, Any]]:
        inside = self._in_period(kpi.subject, frame)
        function = self._compiler(kpi.subject).compile(kpi.value)

        def values(codes: Array, count: int) -> list[Any]:
            v = function(Groups(frame, codes, count))
            known = _full_known(v, count)
            found = np.broadcast_to(v.values, (count,))
            return [
                _python_value(found[i], kpi.value.kind, kpi.value.scale) if known[i] else None
                for i in range(count)
            ]

        found: list[tuple[str | None, Any]] = []
        owner = "id" if kpi.subject == "rep" else "rep_id"
        if role is not None and reps is not None and owner in frame.data.columns:
            codes, owners = frame.codes(owner)
            # rep index of each record's owner, -1 when not a member of the role
            member_of = np.asarray(
                [members.index(o) if o in members else -1 for o in owners] + [-1], dtype=np.int64
            )[np.where(codes < 0, len(owners), codes)]
            per_rep = values(np.where(inside, member_of, -1), len(members))
            found.extend(zip(members, per_rep, strict=True))
            team = values(np.where(inside & (member_of >= 0), 0, -1), 1)
        else:
            team = values(np.where(inside, 0, -1), 1)
        found.append((None, team[0]))
        target = kpi.target.value if kpi.target is not None else None
        rows: list[dict[str, Any]] = []
        for rep_id, value in found:
            met = None
            if value is not None and target is not None and kpi.target_op is not None:
                # A float value (a ratio) meets an exact target as a float, as everywhere else:
                # 7,500 / 50,000 must meet `target >= 15%`.
                bound = float(target) if isinstance(value, float) else target
                met = bool(_OPS[kpi.target_op](value, bound))
            rows.append(
                {
                    "kpi": kpi.name,
                    "role": role,
                    "rep_id": rep_id,
                    "value": value,
                    "target": target,
                    "met": met,
                }
            )
        return rows

    # ------------------------------------------------------------------------- other alerts
    def other_alerts(self, valid: Mapping[str, pd.DataFrame], alerts: Alerts) -> None:
        """`alert` declarations on the other tables (reps, quotas...)."""
        for alert in self.compiled.alerts:
            table = FILE_NAMES.get(alert.subject, "")
            if alert.subject in ("lead", "deal") or table not in valid:
                continue
            data = valid[table]
            frame = self._table_frame(alert.subject, data)
            holds = _truth(self._compiler(alert.subject).compile(alert.condition)(frame), frame.n)
            if "id" in data.columns:
                ids = data["id"][holds]
            else:
                ids = pd.Series(np.flatnonzero(holds) + 1).astype(str)
            alerts.records(alert.name, alert.label, alert.severity, ids)

    def _table_frame(self, record: str, data: pd.DataFrame) -> Frame:
        """A frame of another table; reps see the evaluated `period` and their attainment."""
        codes = self.codes.get(FILE_NAMES[record])
        extras = self._linked(record, data)
        if record == "rep":
            period = _filled(len(data), None if self.period is None else self.period.id)
            extras["period"] = V(period, np.full(len(data), self.period is not None))
            for measure, by_rep in self.attainments.items():
                values = data["id"].map(by_rep).to_numpy(dtype=np.float64, na_value=np.nan)
                extras[f"attainment({measure})"] = V(np.nan_to_num(values), ~np.isnan(values))
        return Frame(data, extras, codes=codes)

    def _linked(self, record: str, data: pd.DataFrame) -> dict[str, V]:
        """The linked fields a record's expressions read (`territory.potential`), looked up in
        the linked table by id; unknown where the link is empty or names no row."""
        found: dict[str, V] = {}
        n = len(data)
        for key in self.compiled.links.get(record, ()):
            link, _, name = key.partition(".")
            kind, scale = representation(self.compiled.reads[record][key])
            table = self.valid.get(FILE_NAMES[link])
            if table is None or link not in data.columns or "id" not in table.columns:
                found[key] = V(np.zeros(n, dtype=_DTYPES[kind]), np.zeros(n, dtype=bool))
                continue
            ids = pd.Index(table["id"].astype(object).where(table["id"].notna(), None))
            keys = data[link].astype(object).where(data[link].notna(), None)
            at = np.asarray(ids.get_indexer(pd.Index(keys)), dtype=np.int64)
            v = _column(table, FieldRef(name, kind, scale), len(table))
            values = np.broadcast_to(v.values, (len(table),))
            linked = at >= 0
            if not len(table):
                found[key] = V(np.zeros(n, dtype=values.dtype), linked)
                continue
            row = np.where(linked, at, 0)
            found[key] = V(values[row], linked & _full_known(v, len(table))[row])
        return found

    def _compiler(self, record: str) -> Compiler:
        found = self.compilers.get(record)
        if found is None:
            found = self.compilers[record] = Compiler(
                _text_fields(self.compiled, record), self.compiled.stages
            )
        return found


class Alerts:
    """The alerts of one evaluation, in the order they are raised."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame | dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        """One alert: kind, subject, id, message, severity."""
        self._parts.append(row)

    def records(self, name: str, label: str | None, severity: str, ids: pd.Series[Any]) -> None:
        """An `alert` declaration's alerts, one per record id (built as a column, not a loop)."""
        n = len(ids)
        if n:
            # Object columns from the start: a scalar would make a text column to convert later.
            self._parts.append(
                _table(
                    {
                        "kind": _filled(n, "alert"),
                        "subject": _filled(n, name),
                        "id": _texts(ids),
                        "message": _filled(n, label or name),
                        "severity": _filled(n, severity),
                    }
                )
            )

    def frame(self) -> pd.DataFrame:
        """All alerts as one table (columns of ALERT_COLUMNS, objects)."""
        frames: list[pd.DataFrame] = []
        rows: list[dict[str, Any]] = []
        for part in [*self._parts, None]:
            if isinstance(part, dict):
                rows.append(part)
                continue
            if rows:
                frames.append(pd.DataFrame(rows, columns=list(ALERT_COLUMNS)))
                rows = []
            if part is not None:
                frames.append(part)
        if not frames:
            return pd.DataFrame(columns=list(ALERT_COLUMNS))
        joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return joined.astype(object)


def _table(columns: Mapping[str, Any]) -> pd.DataFrame:
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


def _filled(n: int, value: object) -> Array:
    """An object array holding `value` n times (np.full would make a str object per row)."""
    array = np.empty(n, dtype=object)
    array.fill(value)
    return array


def _texts(column: Any) -> Array:
    """A column as an object array, missing values as None."""
    return np.asarray(column.to_numpy(dtype=object, na_value=None), dtype=object)


def _not_none(values: Array) -> Bools:
    return np.asarray(pd.notna(values), dtype=bool)


def _weighted_objects(units: Array, known: Bools, scale: int) -> Array:
    result = np.full(len(units), None, dtype=object)
    if known.any():
        codes, distinct = pd.factorize(units[known])
        result[known] = _weighted_decimals(np.asarray(distinct, dtype=np.int64), scale)[codes]
    return result


def _weighted_decimals(units: Array, scale: int) -> Array:
    """`weighted_units(u, scale)` of each u, as Arrow makes Decimals from whole coefficients:
    two places for a whole number of cents, else the places the value needs."""
    if scale < 2:
        return _objects([weighted_units(int(u), scale) for u in units.tolist()])
    coefficient = units.copy()
    places = np.full(len(units), scale, dtype=np.int64)
    for _ in range(scale - 2):  # strip trailing zeros down to the cent
        strip = coefficient % 10 == 0
        coefficient[strip] //= 10
        places[strip] -= 1
    result = np.empty(len(units), dtype=object)
    for count in np.unique(places).tolist():
        here = places == count
        words = coefficient[here].astype("<i8")
        # Arrow's decimal128 is a little-endian 128-bit integer: the value, then its sign.
        pairs = np.stack([words, words >> 63], axis=1)
        kind = pa.decimal128(38, count)
        array = pa.Array.from_buffers(kind, len(words), [None, pa.py_buffer(pairs)])
        result[here] = array.to_numpy(zero_copy_only=False)
    return result


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _percent(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
