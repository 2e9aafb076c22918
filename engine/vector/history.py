from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from engine.ir import (
    StageIR,
)
from engine.vector.values import (
    Array,
    Bools,
    Codes,
    day_numbers,
)


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
            self.deal_stage = numbered(deals["stage"], numbers, found)
        self.event_deal = np.empty(0, dtype=np.int64)
        self.event_stage = np.empty(0, dtype=np.int64)
        self.event_day = np.empty(0, dtype=np.int64)
        self.n_codes = self.n_deals
        self._furthest: dict[str, Array] = {}
        if events is not None and len(events):
            rows = np.full(len(events), -1, dtype=np.int64)
            if deals is not None and self.n_deals:
                rows = rows_of(arrow_array(events["deal_id"]), arrow_array(deals["id"]))
            others = rows < 0
            if others.any():
                found_codes, distinct = pd.factorize(events["deal_id"][others])
                rows[others] = self.n_deals + np.asarray(found_codes, dtype=np.int64)
                self.n_codes += len(distinct)
            self.event_deal = rows
            found = codes.get("stage_events", {}).get("stage")
            self.event_stage = numbered(events["stage"], numbers, found)
            self.event_day = day_numbers(events["entered_at"].to_numpy())[0]

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


def numbered(
    column: pd.Series[Any], numbers: Mapping[str, int], codes: Codes | None = None
) -> Array:
    """Text values -> their numbers (-1 for missing or unknown), one lookup per distinct value
    (of `codes` when the column is already factorized)."""
    found, distinct = codes if codes is not None else pd.factorize(column)
    # The last entry serves the missing values' code, -1.
    table = np.asarray([numbers.get(str(u), -1) for u in distinct] + [-1], dtype=np.int64)
    return np.asarray(table[np.asarray(found)], dtype=np.int64)


def rows_of(keys: pa.Array, ids: pa.Array) -> Array:
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


def arrow_array(column: pd.Series[Any]) -> pa.Array:
    array = pa.array(column.array, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
