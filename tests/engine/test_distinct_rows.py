"""Conditions on one column (`employees >= 250`) are decided once per distinct value of it and
taken to every row: the table path must still give each row what the record path gives it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest

import engine
from engine.vector.frame import Frame

RULESET = """
ruleset grouped "Grouped" { currency EUR }

record lead {
  timing_months number
  employees integer
  seats integer
}

score fit "Fit" on lead {
  timing {
    when timing_months < 3 -> 15, when timing_months in 3..6 -> 8, when timing_months > 6 -> 2
  }
  company { when employees >= 250 -> 10, when employees in 50..249 -> 6, otherwise -> 2 }
  fresh { when created_at >= 2026-01-01 -> 3, otherwise -> 1 }
  wide { when seats > 10000 -> 5, otherwise -> 0 }
  status { hot when score >= 25, cold otherwise }
}

score small "Small" on lead {
  company { when employees >= 10 -> 4, otherwise -> 1 }
  status { fine otherwise }
}

qualify lead {
  use small when seats == 1
  use fit otherwise
}
"""

AS_OF = dt.date(2026, 3, 31)
FIELDS = ("score", "status", "points", "missing")


@pytest.fixture(scope="module")
def program() -> engine.Program:
    return engine.load_text(RULESET, "grouped.krl", strict=True)


def _leads(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    timing = rng.choice([0.5, 2.999, 3.0, 6.0, 6.0001, 12.0, -0.0, np.nan], n)
    employees = rng.choice([5, 19, 20, 49, 50, 249, 250, 300, -3], n).astype(object)
    employees[rng.random(n) < 0.1] = None
    days = rng.choice(["2025-12-31", "2026-01-01", "2026-02-15"], n).astype(object)
    days[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(n)],
            "timing_months": timing,
            "employees": pd.array(employees, dtype="Int64"),
            "created_at": days,
            # Whole numbers over a wide range are decided per row (the employees, in a short
            # range, once per value).
            "seats": rng.choice([1, 10_001, 10**12], n),
        }
    )


def _rows(results: Any) -> list[dict[str, Any]]:
    return [{name: row[name] for name in FIELDS} for row in results.leads.to_dict("records")]


def test_grouped_conditions_give_what_each_record_gives(program: engine.Program) -> None:
    leads = _leads(600, seed=1)
    grouped: list[int] = []
    distinct_rows = Frame.distinct_rows

    def spy(frame: Frame, name: str) -> Any:
        found = distinct_rows(frame, name)
        if found is not None:
            grouped.append(found[1].n)
        return found

    with patch.object(Frame, "distinct_rows", spy):
        results = program.evaluate(leads=leads, as_of=AS_OF)
    assert results.errors.empty
    assert grouped and max(grouped) < 20  # worked out on a few rows, not 600
    with patch.object(Frame, "distinct_rows", lambda frame, name: None):
        per_row = program.evaluate(leads=leads, as_of=AS_OF)
    assert _rows(results) == _rows(per_row)
    records = leads.astype(object).where(leads.notna(), None).to_dict("records")
    for record, row in zip(records, _rows(results), strict=True):
        one = program.evaluate_lead(record)
        assert {name: getattr(one, name) for name in FIELDS} == row


def test_few_rows_or_values_all_different_are_decided_per_row(program: engine.Program) -> None:
    frame = Frame(pd.DataFrame({"employees": pd.array([1, 2, 3, None], dtype="Int64")}))
    assert frame.distinct_rows("employees") is None  # 4 groups for 4 rows
    repeated = Frame(pd.DataFrame({"employees": pd.array([7, 7, None, 7, None], dtype="Int64")}))
    found = repeated.distinct_rows("employees")
    assert found is not None
    codes, values = found
    assert values.n == 2
    assert codes.tolist() == [codes[0]] * 2 + [codes[2], codes[0], codes[2]]
    assert codes[0] != codes[2]
    assert Frame(pd.DataFrame({"name": ["a", "a", "a"]})).distinct_rows("name") is None


def test_validation_shares_the_codes_of_number_columns_of_few_values() -> None:
    from dsl.canonical import Column
    from engine.data import validate_table

    columns = (Column("id", "text", required=True), Column("months", "number", False))
    frame = pd.DataFrame({"id": [f"L{i}" for i in range(8)],
                          "months": ["3", "3.0", " 3", None, "x", "6.5", "6.5", "3"]},
                         dtype="str")  # fmt: skip
    with patch("engine.data.read._few_distinct", lambda array: True):
        checked = validate_table("leads", frame, columns)
    assert "months" not in checked.codes  # text columns only, as they read
    codes, distinct = checked.numbers["months"]
    months = checked.valid["months"].tolist()
    assert len(codes) == len(months) == 7  # "x" is rejected
    for code, value in zip(codes.tolist(), months, strict=True):
        assert (code < 0) == pd.isna(value)
        assert code < 0 or float(distinct[code]) == value
