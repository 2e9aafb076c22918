"""Wrong money, silently (issue 15): amounts in another currency, money x percent through binary
floats, bare numbers in percent columns, unbounded probabilities, attainment shown rounded into
the next band. Each class on both paths: the table path (validation, `Program.pay`) and the
per-record path (`evaluate_deal`, `Program.pay_each`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from dsl.canonical import Column
from dsl.types import FieldType
from engine.cells import coercer
from engine.data.validate import validate_table
from engine.loader import RulesetError, load, load_text
from engine.pay.format import show_attainment
from engine.periods import parse_period
from engine.program import Program
from engine.record import RecordError

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
Q1 = parse_period("2026-Q1")

SHARED = """
ruleset t "T" { currency EUR }
record deal { share percent  factor number }
plan p "P" for AE {
  effective 2026-01-01 to 2026-12-31
  period quarter
  measure m "M" {
    credit amount * share of deals where status == won
    commission 100%
  }
}
plan q "Q" for AM {
  effective 2026-01-01 to 2026-12-31
  period quarter
  measure m "M" {
    credit amount * factor of deals where status == won
    commission 100%
  }
}
role AE "AE" { plan p }
role AM "AM" { plan q }
"""


@cache
def shared() -> Program:
    return load_text(SHARED)


@cache
def fintech() -> Program:
    return load(RULESETS / "fintech")


def frame(text: str) -> pd.DataFrame:
    lines = [line.split(",") for line in text.strip().splitlines()]
    data = {name: [row[i] or None for row in lines[1:]] for i, name in enumerate(lines[0])}
    return pd.DataFrame(data, dtype="str")


def both_paths(program: Program, **tables: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(rep, payout, credited) of the table path, and the payouts of the record path."""
    inputs = program.validate(**{name: frame(text) for name, text in tables.items()})
    table = program.pay(inputs, Q1).payouts
    rows = [(row.rep_id, row.payout, row.measures[0]["credited"]) for row in table.itertuples()]
    payments, _ = program.pay_each(inputs, Q1)
    record = [str(p.outcome.payout.payout) for p in payments if p.outcome.payout is not None]
    return rows, record


# ----------------------------------------------------------------------------- 1. currencies
MONEY = (Column("id", "text", required=True), Column("amount", "money"))


@pytest.mark.parametrize(
    ("cell", "found"),
    [
        ("$100,000.00", "USD"),
        ("50000 GBP", "GBP"),
        ("10 CHF", "CHF"),
        ("10CHF", "CHF"),
        ("USD 1 200,50", "USD"),
        ("£12", "GBP"),
        ("1.5M USD", "USD"),
        ("12 CAD", "CAD"),
    ],
)
def test_an_amount_in_another_currency_is_an_error_row_on_both_paths(cell: str, found: str) -> None:
    text = pd.DataFrame({"id": ["D1", "D2"], "amount": [cell, "12"]}, dtype="str")
    checked = validate_table("deals", text, MONEY, currency="EUR")
    message = f"{cell} is an amount in {found}, but the ruleset's currency is EUR"
    assert [(e.table, e.row, e.column, e.value) for e in checked.errors] == [
        ("deals", 1, "amount", cell)
    ]
    assert checked.errors[0].message.startswith(message)
    assert checked.valid["id"].tolist() == ["D2"]
    deals = pd.DataFrame(
        {"id": ["D1", "D2"], "status": "open", "stage": "detection", "amount": [cell, "12"]}
    )
    results = fintech().evaluate(deals=deals, as_of=dt.date(2026, 3, 1))
    assert results.errors[["table", "column", "value"]].values.tolist() == [
        ["deals", "amount", cell]
    ]
    assert results.errors["message"][0].startswith(message)
    assert results.deals["id"].tolist() == ["D2"]
    deal = {"id": "D1", "status": "open", "stage": "detection", "amount": cell}
    with pytest.raises(RecordError) as raised:
        fintech().evaluate_deal(deal, dt.date(2026, 3, 1))
    assert [(c, v) for c, v, _ in raised.value.errors] == [("amount", cell)]
    assert raised.value.errors[0][2].startswith(message)


@pytest.mark.parametrize("cell", ["€100,000.00", "100 000,00 €", "12 EUR", "EUR12", "€ 12"])
def test_an_amount_in_the_rulesets_currency_is_read(cell: str) -> None:
    text = pd.DataFrame({"id": ["D1"], "amount": [cell]}, dtype="str")
    checked = validate_table("deals", text, MONEY, currency="EUR")
    assert checked.errors == ()
    deal = {"id": "D1", "status": "open", "stage": "detection", "amount": cell}
    assert fintech().evaluate_deal(deal, dt.date(2026, 3, 1)).id == "D1"


# ----------------------------------------------------------------------------- 2. exact products
@pytest.mark.parametrize(
    ("amount", "share", "paid", "credited"),
    [
        ("1.50", "15%", "0.23", "0.225"),
        ("0.70", "0.35", "0.25", "0.245"),
        ("1.50", "14.3%", "0.21", "0.2145"),
        ("100000.01", "33.5%", "33500.00", "33500.00335"),
    ],
)
def test_money_times_a_percent_field_is_exact_on_both_paths(
    amount: str, share: str, paid: str, credited: str
) -> None:
    rows, record = both_paths(
        shared(),
        reps="id,name,role\nA1,Ann,AE\n",
        deals=f"id,rep_id,amount,share,status,close_date\nD1,A1,{amount},{share},won,2026-02-01\n",
    )
    assert rows == [("A1", paid, credited)]
    assert record == [paid]


def test_money_times_a_number_field_is_exact_on_both_paths() -> None:
    rows, record = both_paths(
        shared(),
        reps="id,name,role\nM1,Max,AM\n",
        deals="id,rep_id,amount,factor,status,close_date\n"
        "D1,M1,0.70,0.35,won,2026-02-01\nD2,M1,1.10,1.1,won,2026-02-01\n",
    )
    # 0.245 + 1.21 = 1.455 exactly: half-up 1.46 (binary floats give 1.4549999...: 1.45)
    assert rows == [("M1", "1.46", "1.455")]
    assert record == ["1.46"]


# ----------------------------------------------------------------------------- 3. percents
PERCENT = (Column("id", "text", required=True), Column("share", "percent"))


@pytest.mark.parametrize("cell", ["15", "150", "1 500", "2,5", "-3"])
def test_a_bare_number_above_one_in_a_percent_column_is_ambiguous(cell: str) -> None:
    text = pd.DataFrame({"id": ["D1", "D2", "D3"], "share": [cell, "15%", "0.15"]}, dtype="str")
    checked = validate_table("deals", text, PERCENT)
    assert [(e.row, e.column, e.value) for e in checked.errors] == [(1, "share", cell)]
    assert checked.errors[0].message == (
        f"{cell} is ambiguous as a percentage: write 15% or 0.15 for 15%"
    )
    assert checked.valid["share"].tolist() == [0.15, 0.15]
    with pytest.raises(ValueError, match="ambiguous as a percentage") as raised:
        coercer(FieldType("percent"))(cell)  # the record path's reader
    assert str(raised.value) == checked.errors[0].message


def test_percent_values_given_as_numbers_follow_the_same_rule() -> None:
    read = coercer(FieldType("percent"))
    assert read(Decimal("0.15")) == 0.15
    assert read(1) == 1.0
    with pytest.raises(ValueError, match="ambiguous as a percentage"):
        read(15)


# ----------------------------------------------------------------------------- 4. bounded rates
@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("probability 400%", "stage probability 400% is outside 0%..100%"),
        ("probability 100.5%", "stage probability 100.5% is outside 0%..100%"),
    ],
)
def test_a_stage_probability_is_within_0_and_100_percent(item: str, message: str) -> None:
    text = f"""ruleset t "T" {{ currency EUR }}
pipeline sales "S" on deal {{
  stage a "A" {{
    {item}
    exit x "X": amount > 0
  }}
}}
"""
    with pytest.raises(RulesetError) as raised:
        load_text(text)
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E409", message)
    assert text[diagnostic.span.start : diagnostic.span.end] == item.split()[1]


def test_conversion_and_win_rates_are_within_0_and_100_percent() -> None:
    text = """ruleset t "T" { currency EUR }
pipeline sales "S" on deal {
  stage a "A" {
    probability 10%
    exit x "X": amount > 0
  }
  stage b "B" {
    probability 20%
    exit y "Y": amount > 0
  }
  expect conversion a -> b >= 150%
}
"""
    with pytest.raises(RulesetError) as raised:
        load_text(text)
    codes = [(d.code, d.message) for d in raised.value.diagnostics]
    assert codes == [("E409", "conversion rate 150% is outside 0%..100%")]


# ----------------------------------------------------------------------------- 5. attainment
def test_attainment_is_never_shown_rounded_into_the_next_band() -> None:
    assert show_attainment(Decimal("0.9999999")) == "0.999999"
    assert show_attainment(Decimal("0.79999999")) == "0.799999"
    assert show_attainment(Decimal("1")) == "1"
    assert show_attainment(Decimal("1.2")) == "1.2"
    reps = "id,name,role\nA1,Camille Martin,AE\n"
    quotas = "rep_id,period,measure,quota\nA1,2026-Q1,bookings,100000\n"
    deals = (
        "id,rep_id,type,amount,stage,close_date,status\n"
        "D1,A1,new_logo,99999.99,signature,2026-02-12,won\n"
    )
    program = fintech()
    inputs = program.validate(reps=frame(reps), quotas=frame(quotas), deals=frame(deals))
    table = program.pay(inputs, Q1).payouts
    after = table[table["plan"] == "fintech_after"].iloc[0]
    assert after["measures"][0]["attainment"] == "0.999999"
    assert after["payout"] == "5625.00"  # the [90%, 100%) step: 75% of 7,500
    payments, _ = program.pay_each(inputs, Q1)
    (paid,) = [p for p in payments if p.plan == "fintech_after"]
    assert paid.outcome.payout is not None
    assert str(paid.outcome.payout.payout) == "5625.00"
