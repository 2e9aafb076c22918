"""Pay per deal (`engine.pay.lines`): the worked example to the cent, the edge cases, and the
laws: the lines of a measure add up to its payout, and both pay paths give the same lines."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.loader import load_text
from engine.pay.lines import apportion, line_rows, plan_lines
from engine.periods import parse_period
from engine.program import Program
from engine.results import PAYOUT_LINE_COLUMNS
from tests.engine.test_payouts import datasets, frame
from tests.engine.test_payouts import program as client

HEADER = 'ruleset t "Test" { currency EUR }\n'
HEAD = """
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
"""

#: The issue's example: marginal tiers on amount, 4% up to 150,000 and 6% above.
STRADDLE = f"""role AE "AE" {{ plan p }}
plan p "P" for AE {{{HEAD}
  measure bookings "B" {{
    credit amount of deals where status == won
    rates on amount method marginal {{
      [0, 150000) 4%
      [150000, ...) 6%
    }}
  }}
}}
"""

#: Every way a payout is made: marginal bands on attainment with a floor, accelerator, bonus and
#: a measure cap; a commission on margin (negative margins); a count; a plan cap.
EVERYTHING = f"""role AE "AE" {{ plan p }}
plan p "P" for AE {{{HEAD}
  target_variable 40K per year
  cap 120%
  measure bookings "B" weight 70% {{
    credit amount of deals where status == won
    quota bookings
    threshold 20% floor
    rates on attainment method marginal {{
      [0%, 100%) 4%
      [100%, 120%) 6.5%
      [120%, ...) 10%
    }}
    accelerator 0.5 above 100%
    bonus 750 when attainment >= 110%
    cap 250%
  }}
  measure margin "M" weight 20% {{
    credit amount - cost of deals where status == won
    commission 3.3%
  }}
  measure count "C" weight 10% {{
    credit count of deals where status == won
    per_unit 33.33
  }}
}}
"""


#: A bonus under 50% of quota: paid on no deal when nothing is credited.
BONUS_ONLY = f"""role AE "AE" {{ plan p }}
plan p "P" for AE {{{HEAD}
  measure b "B" {{
    credit amount of deals where status == won
    quota bookings
    bonus 500 when attainment < 50%
  }}
}}
"""


@cache
def compiled(text: str) -> Program:
    return load_text(HEADER + text)


REPS = "id,name,role,hire_date\nA1,Ann,AE,2024-01-01\nA2,Bob,AE,2024-01-01\n"
QUOTAS = "rep_id,period,measure,quota\nA1,2026-Q1,bookings,100000\nA2,2026-Q1,bookings,100000\n"


def lines_of(program: Program, period: str = "2026-Q1", **tables: Any) -> list[dict[str, Any]]:
    """The payout_lines of the table path, checked equal to the reference path's first."""
    given = {name: frame(text) if isinstance(text, str) else text for name, text in tables.items()}
    table = program.evaluate(**given, period=period).payout_lines
    assert list(table.columns) == list(PAYOUT_LINE_COLUMNS)
    got = _plain(table.to_dict("records"))
    assert _sorted(got) == _sorted(reference_lines(program, given, period))
    return got


def reference_lines(
    program: Program, tables: dict[str, pd.DataFrame], period: str
) -> list[dict[str, Any]]:
    inputs = program.validate(**tables)
    payments, _ = program.pay_each(inputs, parse_period(period))
    found: list[dict[str, Any]] = []
    for payment in payments:
        paid = payment.outcome.payout
        if paid is not None:
            found.extend(line_rows(paid, plan_lines(program.book.plans[paid.plan], paid)))
    return found


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in rows]


def _sorted(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("rep_id", "plan", "period", "measure", "date", "deal_id")
    return sorted((tuple(str(row[k]) for k in keys), tuple(row.items())) for row in rows)  # type: ignore[return-value]


# ============================================================================ worked examples
def test_the_straddling_deal_earns_1100_within_6900() -> None:
    deals = (
        "id,rep_id,amount,close_date,status\n"
        "D0042,A1,20000,2026-03-12,won\nD0001,A1,145000,2026-02-01,won\n"
    )
    program = compiled(STRADDLE)
    lines = lines_of(program, reps=REPS, deals=deals)
    assert [(r["deal_id"], r["date"], r["credited"], r["rate"], r["payout"]) for r in lines] == [
        ("D0001", "2026-02-01", "145000.00", "0.04", "5800.00"),
        ("D0042", "2026-03-12", "20000.00", "0.055", "1100.00"),
    ]
    payouts = program.evaluate(reps=frame(REPS), deals=frame(deals), period="2026-Q1").payouts
    (entry,) = payouts.iloc[0]["measures"]
    assert payouts.iloc[0]["payout"] == "6900.00"
    # The band rate is the top band's; the effective rate is what the whole pays.
    assert (entry["rate_or_pct"], entry["effective_rate"]) == ("0.06", "0.041818")


def test_deals_of_the_same_day_stack_in_deal_id_order() -> None:
    deals = (
        "id,rep_id,amount,close_date,status\n"
        "D2,A1,100000,2026-02-01,won\nD1,A1,100000,2026-02-01,won\n"
    )
    lines = lines_of(compiled(STRADDLE), reps=REPS, deals=deals)
    assert [(r["deal_id"], r["payout"]) for r in lines] == [("D1", "4000.00"), ("D2", "5000.00")]


def test_a_split_deal_gives_each_rep_a_line_for_their_share() -> None:
    deals = "id,rep_id,amount,close_date,status\nD1,A1,100000,2026-02-01,won\n"
    splits = "deal_id,rep_id,share\nD1,A1,60%\nD1,A2,40%\n"
    lines = lines_of(compiled(STRADDLE), reps=REPS, deals=deals, splits=splits)
    assert [(r["rep_id"], r["deal_id"], r["credited"], r["payout"]) for r in lines] == [
        ("A1", "D1", "60000.00", "2400.00"),
        ("A2", "D1", "40000.00", "1600.00"),
    ]


def test_remainder_cents_go_to_the_largest_remainders_then_the_earlier_deal() -> None:
    # 10% retroactive... here a commission: 3 deals of 0.05 at 3.3% share 0.00 + rounding.
    assert apportion(100, [Fraction(1)] * 3) == [34, 33, 33]
    assert apportion(100, [Fraction(1), Fraction(2), Fraction(2)]) == [20, 40, 40]
    assert apportion(101, [Fraction(1), Fraction(2), Fraction(2)]) == [20, 41, 40]
    assert apportion(-5, [Fraction(1), Fraction(1)]) == [-2, -3]
    # Weights summing to 0 share a payout equally; a payout of 0 gives zeros.
    assert apportion(7, [Fraction(5), Fraction(-5)]) == [4, 3]
    assert apportion(0, [Fraction(5), Fraction(-5)]) == [0, 0]


def test_negative_margins_and_margins_summing_to_zero() -> None:
    deals = (
        "id,rep_id,amount,cost,close_date,status\n"
        "D1,A1,1000,900,2026-01-10,won\nD2,A1,1000,1100,2026-01-11,won\n"
        "D3,A2,5000,2000,2026-01-10,won\nD4,A2,1000,2000,2026-01-12,won\n"
    )
    lines = lines_of(compiled(EVERYTHING), reps=REPS, deals=deals, quotas=QUOTAS)
    margin = {(r["rep_id"], r["deal_id"]): r["payout"] for r in lines if r["measure"] == "margin"}
    # A1: +100 and -100 of margin pay 0.00 in all: a line of 0.00 each, no division by zero.
    assert margin[("A1", "D1")] == "0.00" and margin[("A1", "D2")] == "0.00"
    # A2: 3,000 - 1,000 of margin at 3.3% = 66.00, pro rata of credit: 99.00 and -33.00.
    assert margin[("A2", "D3")] == "99.00" and margin[("A2", "D4")] == "-33.00"


def test_a_count_measure_and_a_measure_with_no_deal() -> None:
    deals = "id,rep_id,amount,cost,close_date,status\nD1,A1,100,0,2026-01-10,won\n"
    lines = lines_of(compiled(EVERYTHING), reps=REPS, deals=deals, quotas=QUOTAS)
    count = [r for r in lines if r["measure"] == "count"]
    assert [(r["deal_id"], r["credited"], r["rate"], r["payout"]) for r in count] == [
        ("D1", "1.00", "33.33", "33.33")
    ]
    # A2 has nothing: no line at all (the floor of bookings leaves A1's bookings at 0.00).
    assert {r["rep_id"] for r in lines} == {"A1"}


def test_a_bonus_paid_on_no_deal_has_a_line_without_deal() -> None:
    program = compiled(BONUS_ONLY)
    quotas = "rep_id,period,measure,quota\nA1,2026-Q1,bookings,1000\n"
    lines = lines_of(program, reps="id,name,role\nA1,Ann,AE\n", quotas=quotas)
    assert [(r["deal_id"], r["date"], r["credited"], r["rate"], r["payout"]) for r in lines] == [
        (None, None, "0.00", None, "500.00")
    ]


def test_the_plan_cap_is_shared_over_every_line_pro_rata() -> None:
    deals = (
        "id,rep_id,amount,cost,close_date,status\n"
        "D1,A1,100000,0,2026-01-10,won\nD2,A1,90000,0,2026-02-11,won\n"
        "D3,A1,33333.33,0,2026-03-12,won\n"
    )
    quotas = "rep_id,period,measure,quota\nA1,2026-Q1,bookings,100000\n"
    program = compiled(EVERYTHING)
    lines = lines_of(program, reps=REPS, deals=deals, quotas=quotas)
    result = program.evaluate(
        reps=frame(REPS), deals=frame(deals), quotas=frame(quotas), period="2026-Q1"
    )
    (row,) = result.payouts.to_dict("records")
    assert row["payout"] == "12000.00"  # 120% of 10,000: the plan cap applied
    assert sum(Decimal(m["payout"]) for m in row["measures"]) > Decimal(row["payout"])
    assert sum(Decimal(r["payout"]) for r in lines) == Decimal("12000.00")


# ============================================================================ the laws
def _sums_hold(program: Program, tables: dict[str, pd.DataFrame], period: str) -> int:
    result = program.evaluate(**tables, period=period)
    lines = result.payout_lines
    by_measure: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    by_plan: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in lines.itertuples():
        by_measure[(r.rep_id, r.plan, r.period, r.measure)] += Decimal(r.payout)
        by_plan[(r.rep_id, r.plan, r.period)] += Decimal(r.payout)
    for row in result.payouts.itertuples():
        key = (row.rep_id, row.plan, row.period)
        assert by_plan.get(key, Decimal(0)) == Decimal(row.payout), key
        measures = sum(Decimal(m["payout"]) for m in row.measures)
        if measures == Decimal(row.payout):  # no plan cap: each measure adds up on its own
            for m in row.measures:
                got = by_measure.get((*key, m["measure"]), Decimal(0))
                assert got == Decimal(m["payout"]), (key, m)
    return len(lines)


@pytest.mark.parametrize("ruleset", ["fintech", "contech-saas", "industrie-services"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), period=st.sampled_from(["2026-Q1", "2026-Q2"]))
def test_lines_add_up_and_both_paths_agree(
    ruleset: str, data: dict[str, pd.DataFrame], period: str
) -> None:
    program = client(ruleset)
    _sums_hold(program, data, period)
    table = _plain(program.evaluate(**data, period=period).payout_lines.to_dict("records"))
    assert _sorted(table) == _sorted(reference_lines(program, data, period))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deals=st.lists(
        st.tuples(
            st.sampled_from(["A1", "A2"]),
            st.integers(0, 9_000_000),
            st.integers(0, 6_000_000),
            st.sampled_from(["2026-01-05", "2026-02-14", "2026-03-31"]),
        ),
        max_size=9,
    ),
    quota=st.sampled_from(["100000", "33333.33", "250000"]),
)
def test_every_method_adds_up_and_both_paths_agree(
    deals: list[tuple[str, int, int, str]], quota: str
) -> None:
    text = "id,rep_id,amount,cost,close_date,status\n" + "".join(
        f"D{i},{rep},{Decimal(a) / 100:.2f},{Decimal(c) / 100:.2f},{day},won\n"
        for i, (rep, a, c, day) in enumerate(deals)
    )
    quotas = (
        f"rep_id,period,measure,quota\nA1,2026-Q1,bookings,{quota}\nA2,2026-Q1,bookings,{quota}\n"
    )
    program = compiled(EVERYTHING)
    tables = {"reps": frame(REPS), "deals": frame(text), "quotas": frame(quotas)}
    _sums_hold(program, tables, "2026-Q1")
    lines_of(program, reps=REPS, deals=text, quotas=quotas)


# ================================================================= the example, the benchmark
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "pay-per-deal"


def test_the_documented_example_passes_and_a_wrong_cent_fails(tmp_path: Path) -> None:
    from engine.cli.main import main

    assert main(["test", str(EXAMPLE)]) == 0
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE, copy)
    cases = copy / "tests" / "lines.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("payout: 1100.00}", "payout: 1100.01}"), encoding="utf-8")
    assert main(["test", str(copy)]) == 1


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_payouts", ROOT / "benchmarks" / "payouts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_agrees_with_its_hand_written_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _benchmark()
    assert bench.main(["--reps", "40", "--deals", "1500"]) == 0
    out = capsys.readouterr().out
    assert "same payouts as by hand to the cent: True; same pay per deal: True" in out
    assert "payout lines: 1,500" in out and "x" in out.split("koncept Program.evaluate")[1]


def test_the_benchmark_catches_a_wrong_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _benchmark()
    honest = bench.hand_lines

    def off_by_a_cent(*args: Any) -> pd.DataFrame:
        lines = honest(*args)
        lines.loc[0, "payout"] = f"{Decimal(lines.loc[0, 'payout']) + Decimal('0.01'):.2f}"
        return lines

    monkeypatch.setattr(bench, "hand_lines", off_by_a_cent)
    assert bench.main(["--reps", "20", "--deals", "500", "--quarterly"]) == 1
    assert "same pay per deal: False" in capsys.readouterr().out


def test_the_statement_shows_each_deal_under_its_measure() -> None:
    from engine.statement import build_statement

    deals = (
        "id,rep_id,amount,cost,close_date,status\n"
        "D1,A1,100000,0,2026-01-10,won\nD2,A1,90000,0,2026-02-11,won\n"
        "D3,A1,33333.33,0,2026-03-12,won\n"
    )
    quotas = "rep_id,period,measure,quota\nA1,2026-Q1,bookings,100000\n"
    tables = {"reps": frame(REPS), "deals": frame(deals), "quotas": frame(quotas)}
    text = build_statement(compiled(EVERYTHING), tables, "A1", "2026-Q1").text
    shown = [line.strip() for line in text.splitlines()]
    # The plan cap applied: the lines carry the capped pay, and say so.
    assert shown.count("Par affaire (après plafond du plan) :") == 3
    count = next(i for i, line in enumerate(shown) if line.startswith("3. C (count)"))
    assert shown[count + 7 : count + 11] == [
        "Par affaire (après plafond du plan) :",
        "Affaire D1 (10/01/2026) : 1 unité créditée → 16,02 €",
        "Affaire D2 (11/02/2026) : 1 unité créditée → 16,02 €",
        "Affaire D3 (12/03/2026) : 1 unité créditée → 16,02 €",
    ]
    lines = lines_of(compiled(EVERYTHING), reps=REPS, deals=deals, quotas=quotas)
    assert [r["payout"] for r in lines if r["measure"] == "count"] == ["16.02"] * 3
    assert sum(Decimal(r["payout"]) for r in lines) == Decimal("12000.00")
    bonus = compiled(BONUS_ONLY)
    alone = {
        "reps": frame("id,name,role\nA1,Ann,AE\n"),
        "quotas": frame("rep_id,period,measure,quota\nA1,2026-Q1,bookings,1000\n"),
    }
    text = build_statement(bonus, alone, "A1", "2026-Q1").text
    assert "       Sans affaire créditée : 500,00 €" in text.splitlines()


@pytest.mark.parametrize("credit", ["amount * 0.333", "amount / 3"])
def test_computed_credits_share_their_payout_on_both_paths(credit: str) -> None:
    # `amount / 3` is credited as a number (its exact decimal), `amount * 0.333` to the digit.
    program = compiled(
        f"""role AE "AE" {{ plan p }}
plan p "P" for AE {{{HEAD}
  measure b "B" {{
    credit {credit} of deals where status == won
    commission 7%
  }}
}}
"""
    )
    deals = (
        "id,rep_id,amount,close_date,status\n"
        "D1,A1,100.01,2026-01-10,won\nD2,A1,33.33,2026-02-11,won\n"
    )
    lines = lines_of(program, reps=REPS, deals=deals)
    assert [r["payout"] for r in lines] == ["2.33", "0.78"]
