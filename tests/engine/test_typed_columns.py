"""Typed columns (numbers, days) are validated once per distinct value: the same valid rows,
values and error rows as the same cells given as text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dsl.canonical import Column
from engine.data import validate_table
from engine.data.read import column_cells

COLUMNS = (
    Column("id", "text", required=True),
    Column("timing", "number"),
    Column("employees", "integer"),
    Column("seen", "date"),
)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series(
                [None if pd.isna(v) else str(v) for v in frame[name].astype(object)], dtype="str"
            )
            for name in frame.columns
        }
    )


def test_a_typed_frame_validates_as_its_text() -> None:
    typed = pd.DataFrame(
        {
            "id": pd.Series(["L1", "L2", "L3", "L4", "L5", "L6"], dtype="str"),
            "timing": [1.5, np.nan, 3.0, 1.5, 1e20, 2.25],
            "employees": pd.array([10, None, 3, 10, 2, 7], dtype="Int64"),
            "seen": pd.to_datetime(
                pd.Series(
                    ["2026-01-02", None, "2026-01-02", "1850-01-01", "2026-03-01", "2026-03-01"]
                )
            ),
        }
    )
    typed.loc[5, "timing"] = float("inf")
    mine = validate_table("leads", typed, COLUMNS)
    text = validate_table("leads", _as_text(typed.assign(seen=typed["seen"].dt.date)), COLUMNS)
    assert mine.errors == text.errors
    assert mine.errors  # some cells are refused (an infinite number, a date out of range)
    pd.testing.assert_frame_equal(mine.valid, text.valid)


def test_typed_cells_are_coded_once_per_value() -> None:
    cells = column_cells(pd.Series([2.5, np.nan, 2.5, 7.0]))
    assert cells.codes is not None and cells.values is not None
    assert len(cells.values) == 3  # 2.5, 7.0 and the missing cell
    assert cells.text().tolist()[::2] == ["2.5", "2.5"] and pd.isna(cells.text()[1])
    assert cells.present().tolist() == [True, False, True, True]


def test_minus_zero_keeps_its_own_text() -> None:
    cells = column_cells(pd.Series([0.0, -0.0]))
    assert cells.text().tolist() == ["0.0", "-0.0"]
