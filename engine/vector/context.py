from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.compiler import representation
from engine.ir import (
    Compiled,
    FieldRef,
)
from engine.periods import PayPeriod
from engine.record import (
    ScoreRunner,
)
from engine.results import (
    ALERT_COLUMNS,
)
from engine.schemas import FILE_NAMES
from engine.vector.expr import (
    Compiler,
)
from engine.vector.frame import Frame, read_column
from engine.vector.values import (
    DTYPES,
    Codes,
    V,
    filled_array,
    full_known,
    result_table,
    text_array,
)


def text_fields(compiled: Compiled, record: str) -> set[str]:
    fields = compiled.records.get(record, {})
    return {name for name, kind in fields.items() if kind.kind in ("text", "one_of")}


class Context:
    """One evaluation of tables: the compiled ruleset, the as-of date, the period, what pay found
    (attainments), the validated tables and their factorized text columns; compilers cached per
    record."""

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
        self.lead_compiler = self.compiler("lead")
        self.deal_compiler = self.compiler("deal")
        self.runners = {n: ScoreRunner(s, stages) for n, s in self.compiled.scores.items()}
        #: The evaluated frames of leads and deals, with what was computed on them (scores,
        #: statuses...), for the KPIs that read it.
        self.frames: dict[str, Frame] = {}

    def table_frame(self, record: str, data: pd.DataFrame) -> Frame:
        """A frame of another table; reps see the evaluated `period` and their attainment."""
        codes = self.codes.get(FILE_NAMES[record])
        extras = self.linked(record, data)
        if record == "rep":
            period = filled_array(len(data), None if self.period is None else self.period.id)
            extras["period"] = V(period, np.full(len(data), self.period is not None))
            for measure, by_rep in self.attainments.items():
                values = data["id"].map(by_rep).to_numpy(dtype=np.float64, na_value=np.nan)
                extras[f"attainment({measure})"] = V(np.nan_to_num(values), ~np.isnan(values))
        return Frame(data, extras, codes=codes)

    def linked(self, record: str, data: pd.DataFrame) -> dict[str, V]:
        """The linked fields a record's expressions read (`territory.potential`), looked up in
        the linked table by id; unknown where the link is empty or names no row."""
        found: dict[str, V] = {}
        n = len(data)
        for key in self.compiled.links.get(record, ()):
            link, _, name = key.partition(".")
            kind, scale = representation(self.compiled.reads[record][key])
            table = self.valid.get(FILE_NAMES[link])
            if table is None or link not in data.columns or "id" not in table.columns:
                found[key] = V(np.zeros(n, dtype=DTYPES[kind]), np.zeros(n, dtype=bool))
                continue
            ids = pd.Index(table["id"].astype(object).where(table["id"].notna(), None))
            keys = data[link].astype(object).where(data[link].notna(), None)
            at = np.asarray(ids.get_indexer(pd.Index(keys)), dtype=np.int64)
            v = read_column(table, FieldRef(name, kind, scale), len(table))
            values = np.broadcast_to(v.values, (len(table),))
            linked = at >= 0
            if not len(table):
                found[key] = V(np.zeros(n, dtype=values.dtype), linked)
                continue
            row = np.where(linked, at, 0)
            found[key] = V(values[row], linked & full_known(v, len(table))[row])
        return found

    def compiler(self, record: str) -> Compiler:
        found = self.compilers.get(record)
        if found is None:
            found = self.compilers[record] = Compiler(
                text_fields(self.compiled, record), self.compiled.stages
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
                result_table(
                    {
                        "kind": filled_array(n, "alert"),
                        "subject": filled_array(n, name),
                        "id": text_array(ids),
                        "message": filled_array(n, label or name),
                        "severity": filled_array(n, severity),
                    }
                )
            )

    def extend(self, later: Alerts) -> None:
        """The alerts of `later` (raised apart), after these."""
        self._parts.extend(later._parts)

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
