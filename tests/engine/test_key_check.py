"""The id check of validation: whether ids are all different is found from integer keys of
their bytes (a sort), and must agree with counting distinct texts whatever the cells."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.canonical import TABLES
from engine.data import validate_table
from engine.data.read import column_cells

DEAL = TABLES["deal"]
# Short ids over few characters (so that repeats and shared prefixes are common), some of
# several bytes in UTF-8, some padded with the space the key pads with.
ID = st.one_of(st.none(), st.text(alphabet="ab1é€ ", min_size=0, max_size=11))


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(ID, min_size=0, max_size=40), start=st.integers(0, 3))
def test_all_different_agrees_with_counting_distinct_texts(
    cells: list[str | None], start: int
) -> None:
    column = pd.Series(cells, dtype="str").iloc[start:]  # a slice starts inside its buffers
    found = column_cells(column)
    present = [c.strip() for c in cells[start:] if c is not None and c.strip()]
    expected = found.codes is None and len(set(present)) == len(present)
    assert found.all_different() is expected


def test_ids_of_every_width_are_told_apart() -> None:
    # Equal widths of 8 bytes (one word per key), 20 bytes (three words mixed), different
    # widths padded, and letters of several bytes: each all different, then with one repeat.
    rng = np.random.default_rng(5)
    shapes = [
        [f"L{i:07d}" for i in range(5_000)],
        [f"0061x00000{i:010d}" for i in range(5_000)],
        [f"DEAL-{i}" for i in range(5_000)],
        [f"é{i}" for i in range(5_000)],
    ]
    for ids in shapes:
        order = rng.permutation(len(ids))
        distinct = pd.Series(np.asarray(ids)[order], dtype="str")
        assert column_cells(distinct).all_different()
        repeated = distinct.copy()
        repeated.iloc[4_000] = repeated.iloc[17]
        assert not column_cells(repeated).all_different()


def test_a_repeated_shuffled_id_is_reported_on_both_rows() -> None:
    ids = [f"D{i:05d}" for i in range(2_000)]
    rng = np.random.default_rng(9)
    shuffled = [ids[i] for i in rng.permutation(len(ids))]
    shuffled[1500] = shuffled[10]
    frame = pd.DataFrame({"id": shuffled, "status": "won"}, dtype="str")
    result = validate_table("deals", frame, DEAL)
    assert [(e.row, e.value, e.message) for e in result.errors] == [
        (11, shuffled[10], "duplicate id " + repr(shuffled[10]) + " (also on row 1501)"),
        (1501, shuffled[10], "duplicate id " + repr(shuffled[10]) + " (also on row 11)"),
    ]
    assert result.rows_out == 1_998 and result.rejected == (11, 1501)


def test_ids_in_chunks_and_with_missing_cells() -> None:
    chunks = pa.chunked_array([["A1", None], ["B22", "A1 "], ["C333"]], type=pa.large_string())
    column = pd.Series(pd.array(chunks, dtype="str"))
    assert not column_cells(column).all_different()  # "A1" and "A1 " are one id once stripped
    unique = pd.Series(pd.array(pa.chunked_array([["A1", None], ["B22"]]), dtype="str"))
    assert column_cells(unique).all_different()


EVENT = TABLES["stage_event"]
CELL = st.one_of(st.none(), st.sampled_from(["D1", "D2", " D1", "D10", "é", "x" * 70, ""]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(CELL, st.sampled_from(["demo", "demo ", "won", None]),
                  st.sampled_from(["2026-01-05", "2026-01-06", " 2026-01-05", None])),
        min_size=1, max_size=30,
    ),
    coded=st.booleans(),
)  # fmt: skip
def test_repeated_keys_of_several_columns_are_the_ones_counted_by_hand(
    rows: list[tuple[str | None, str | None, str | None]], coded: bool
) -> None:
    frame = pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at"], dtype="str")
    with patch("engine.data.read._few_distinct", lambda array: coded):
        errors = validate_table("stage_events", frame, EVENT).errors
    found = {e.row for e in errors if e.message.startswith("duplicate key")}
    keys = [tuple(c.strip() if c else None for c in row) for row in rows]
    complete = [k if all(k) else None for k in keys]
    expected = {i + 1 for i, k in enumerate(complete) if k is not None and complete.count(k) > 1}
    assert found == expected


def test_distinct_keys_of_several_columns_are_told_apart_without_counting() -> None:
    n = 3_000
    frame = pd.DataFrame(
        {"deal_id": [f"D{i // 3}" for i in range(n)],
         "stage": [("demo", "proposal", "won")[i % 3] for i in range(n)],
         "entered_at": "2026-01-05"},
        dtype="str",
    ).sample(frac=1, random_state=4)  # fmt: skip
    # The exact count numbers each column's values: not needed when the keys differ.
    with patch("engine.data.read.Cells.factorized", side_effect=AssertionError("counted")):
        assert validate_table("stage_events", frame, EVENT).rows_out == n
    frame.iloc[7] = frame.iloc[8]
    assert validate_table("stage_events", frame, EVENT).rows_out == n - 2
