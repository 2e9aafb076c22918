"""Variable-pay plans on the reference path: the method's worked examples, the exact semantics of
every payout method, crediting deal by deal, quotas, proration, and the statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli.main import main
from engine.loader import load, load_text
from engine.money import EXACT
from engine.pay.math import MeasureInput, PayoutIssue, PlanPayout, pay_plan
from engine.pay.reference import pay_rep
from engine.pay.spec import PlanBook, PlanSpec
from engine.periods import parse_period, period_of, periods_overlapping, proration_factor
from engine.program import Program
from engine.statement import build_statement

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
Q1 = parse_period("2026-Q1")
D = Decimal

HEADER = 'ruleset t "Test" { currency EUR }\n'
PLAN_HEAD = """
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
"""


def ruleset(name: str) -> tuple[Program, PlanBook]:
    """A client ruleset of rulesets/ and its compiled plans."""
    program = load(RULESETS / name)
    return program, program.book


def plans(text: str) -> tuple[Program, PlanBook]:
    """A ruleset written in the test, and its compiled plans."""
    program = load_text(HEADER + text)
    return program, program.book


def single(measure: str, *, head: str = "", role: str = "AE") -> PlanSpec:
    """A one-measure plan `p` for AE with the measure's body as given."""
    _, book = plans(
        f'role {role} "R" {{ plan p }}\n'
        f'plan p "P" for {role} {{{PLAN_HEAD}{head}\n'
        f'  measure m "M" {{\n    credit amount of deals where status == won\n{measure}\n  }}\n}}'
    )
    return book.plans["p"]


def pay(plan: PlanSpec, period: str = "2026-Q1", **given: tuple[str, str | None]) -> PlanPayout:
    """Pay a plan on credited values and quotas (text amounts) per measure."""
    inputs = {
        name: MeasureInput(D(credited), None if quota is None else D(quota))
        for name, (credited, quota) in given.items()
    }
    return pay_plan(plan, "R1", parse_period(period), inputs)


# ============================================================================ the briefs' examples
def test_retroactive_and_marginal_rates_pay_26000_and_15000() -> None:
    # DOMAIN.md: quota 100k; 10% below 100%, 15% in [100%, 120%), 20% from 120%; 130k booked.
    bands = "[0%, 100%) 10%  [100%, 120%) 15%  [120%, ...) 20%"
    retroactive = single(f"quota bookings\nrates method retroactive {{ {bands} }}")
    marginal = single(f"quota bookings\nrates method marginal {{ {bands} }}")
    assert pay(retroactive, m=("130000", "100000")).payout == D("26000.00")
    # 100k x 10% + 20k x 15% + 10k x 20%
    paid = pay(marginal, m=("130000", "100000"))
    assert paid.payout == D("15000.00")
    assert [(p.kind, p.base, p.rate, p.amount) for p in paid.measures[0].parts] == [
        ("rates", D("100000"), D("0.10"), D("10000")),
        ("rates", D("20000"), D("0.15"), D("3000")),
        ("rates", D("10000"), D("0.20"), D("2000")),
    ]
    # The client ruleset that documents it pays the same.
    _, book = ruleset("services-b2b")
    assert pay(book.plans["ae_services"], bookings=("130000", "100000")).payout == D("15000.00")


def test_threshold_gate_pays_6400_and_floor_pays_0() -> None:
    # DOMAIN.md: 80k on a 100k quota, table 0/8/12/15%, threshold 80%.
    table = (
        "rates method retroactive { [0%, 80%) 0% [80%, 100%) 8% [100%, 120%) 12% [120%, ...) 15% }"
    )
    gate = single(f"quota bookings\n{table}\nthreshold 80% gate")
    floor = single(f"quota bookings\n{table}\nthreshold 80% floor")
    assert pay(gate, m=("80000", "100000")).payout == D("6400.00")
    assert pay(floor, m=("80000", "100000")).payout == D("0.00")
    # Below the gate nothing at all; above the floor only the part beyond 80k earns.
    assert pay(gate, m=("79999.99", "100000")).payout == D("0.00")
    assert pay(floor, m=("110000", "100000")).payout == D("3600.00")  # 30k x 12%
    _, book = ruleset("services-b2b")
    am = book.plans["am_services"]
    assert pay(am, installed_base=("80000", "100000")).payout == D("0.00")
    assert pay(am, installed_base=("130000", "100000")).payout == D("7500.00")  # 50k x 15%


@pytest.mark.parametrize(
    ("booked", "paid"),
    [
        ("95000", "5625.00"),  # palier [90%, 100%): 75% x 7,500
        ("120000", "10500.00"),  # 100% x 7,500 + 2 x 20% x 7,500
        ("80000", "3750.00"),  # exactly 80%: the gate opens, 50% x 7,500
        ("79999.99", "0.00"),  # under the gate
        ("100000", "7500.00"),
        ("200000", "15000.00"),  # 7,500 + 15,000 = 22,500, plan cap 200% of 7,500
    ],
)
def test_fintech_after_plan_brief_examples(booked: str, paid: str) -> None:
    _, book = ruleset("fintech")
    assert pay(book.plans["fintech_after"], bookings=(booked, "100000")).payout == D(paid)


def test_fintech_after_plan_shows_its_steps() -> None:
    _, book = ruleset("fintech")
    paid = pay(book.plans["fintech_after"], bookings=("120000", "100000"))
    line = paid.measures[0]
    assert (line.attainment, line.target, line.rate_or_pct) == (D("1.2"), D("7500.00"), D("1"))
    steps = [(p.kind, p.amount, p.reached) for p in line.parts]
    assert steps == [
        ("gate", D(0), True),
        ("steps", D("7500.00"), True),
        ("accelerator", D("3000.00"), True),
    ]
    assert paid.plan_cap == D("15000.00")
    assert paid.cap_adjustment == 0


def test_fintech_before_plan_is_five_percent_flat_without_cap() -> None:
    _, book = ruleset("fintech")
    assert pay(book.plans["fintech_before"], bookings=("1000000", None)).payout == D("50000.00")


def margin_deal(deal_id: str, amount: str, cost: str) -> dict[str, Any]:
    return {
        "id": deal_id,
        "rep_id": "A",
        "amount": amount,
        "cost": cost,
        "status": "won",
        "close_date": "2026-02-10",
        "type": "new_logo",
    }


@pytest.mark.parametrize(
    ("cost", "margin_pay"),
    [
        ("600000", "40000.00"),  # rep A: 1M at 40% margin -> 10% of 400k
        ("850000", "15000.00"),  # rep B: 1M at 15% margin, exactly 15% earns -> 10% of 150k
        ("850000.01", "0.00"),  # just under 15%: no commission at all
    ],
)
def test_industrie_services_margin_commission(cost: str, margin_pay: str) -> None:
    program, book = ruleset("industrie-services")
    rep = {"id": "A", "role": "AE", "territory": "idf"}
    outcome = pay_rep(
        book,
        program.compiled,
        "ae_margin",
        rep,
        Q1,
        deals=[margin_deal("D1", "1000000", cost)],
        links={"territory": {"id": "idf", "potential": 1.3}},
    )
    assert outcome.issues == ()
    assert outcome.payout is not None
    margin, bookings = outcome.payout.measures
    assert margin.payout == D(margin_pay)
    # Bookings quota: 250,000 x 1.3 = 325,000; 1M booked reaches it: bonus 2,000.
    assert (bookings.quota, bookings.payout) == (D("325000.00"), D("2000.00"))
    assert outcome.payout.payout == D(margin_pay) + 2000


def test_contech_60_30_10_curve_worked_example() -> None:
    # Target 40,000 a year = 10,000 a quarter: new_logo 6,000 (60%), upsell 3,000 (30%),
    # renewal 1,000 (10%). Quotas 100,000 / 50,000 / 20,000.
    # new_logo 90,000 = 90%: between (80%, 50%) and (100%, 100%): 50% + 2.5 x 10% = 75%
    #   -> 75% x 6,000 = 4,500.00
    # upsell 70,000 = 140%: 145% at 130%, then slope 2: 145% + 2 x 10% = 165%
    #   -> 165% x 3,000 = 4,950.00
    # renewal 15,800 = 79%: below 80% -> 0.00
    # total 9,450.00
    _, book = ruleset("contech-saas")
    plan = book.plans["ae_2026"]
    paid = pay(
        plan,
        new_logo=("90000", "100000"),
        upsell=("70000", "50000"),
        renewal=("15800", "20000"),
    )
    assert [(m.rate_or_pct, m.payout) for m in paid.measures] == [
        (D("0.75"), D("4500.00")),
        (D("1.65"), D("4950.00")),
        (D("0"), D("0.00")),
    ]
    assert paid.payout == D("9450.00")
    # new_logo 170%: 145% + 2 x 40% = 225%, capped at 200% of 6,000 = 12,000 (cap reached at
    # 157.5%); renewal exactly 130%: 145% of 1,000.
    capped = pay(
        plan,
        new_logo=("170000", "100000"),
        upsell=("50000", "50000"),
        renewal=("26000", "20000"),
    )
    assert [m.payout for m in capped.measures] == [D("12000.00"), D("3000.00"), D("1450.00")]
    assert capped.measures[0].parts[-1].kind == "cap"
    assert capped.measures[0].parts[-1].amount == D("-1500.00")


# ============================================================================ semantics
def test_target_variable_per_period() -> None:
    _, book = ruleset("contech-saas")
    assert book.plans["ae_2026"].target == D("10000.00")  # 40K per year, paid per quarter
    monthly = single("quota q\nsteps { [0%, ...) 100% }", head="target_variable 40K per year")
    assert monthly.target == D("10000.00")
    _, book = plans(
        'role AE "R" { plan p }\nplan p "P" for AE { period month\n target_variable 10K per year\n'
        " measure m { credit amount of deals\n quota q\n steps { [0%, ...) 100% } } }"
    )
    assert book.plans["p"].target == D("833.33")  # a monthly target is money: to the cent


@pytest.mark.parametrize(
    ("credited", "band", "paid"),
    [
        ("80000", None, "0.00"),  # (80%, 90%]: 80% itself is not in it
        ("80000.01", "(80%, 90%]", "500.00"),
        ("90000", "(80%, 90%]", "500.00"),  # 90% is
        ("90000.01", "(90%, ...)", "1000.00"),
    ],
)
def test_band_bounds_are_inclusive_as_written(credited: str, band: str | None, paid: str) -> None:
    plan = single(
        "quota q\nsteps { [0%, 80%] 0% (80%, 90%] 50% (90%, ...) 100% }",
        head="target_variable 4K per year",
    )
    line = pay(plan, m=(credited, "100000")).measures[0]
    found = next((p.band for p in line.parts if p.band is not None), None)
    assert (found.text if found and band else None, line.payout) == (band, D(paid))


@pytest.mark.parametrize(
    ("credited", "piece", "pct"),
    [
        ("10000", "below", "0"),
        ("50000", "between", "0.5"),  # from the below point (40%, 0%) up to (60%, 100%)
        ("60000", "between", "1"),
        ("100000", "at", "1.5"),
        ("110000", "slope", "1.7"),  # slope 2 from 100%
        ("150000", "slope", "2.2"),  # 1.9 at 120%, then slope 1: 1.9 + 0.3
        ("200000", "slope", "2.7"),
    ],
)
def test_curve_pieces(credited: str, piece: str, pct: str) -> None:
    plan = single(
        "quota q\ncurve { below 40% pay 0%  at 60% pay 100%  at 100% pay 150%  slope 2 to 120% "
        " slope 1 }",
        head="target_variable 4K per year",
    )
    part = pay(plan, m=(credited, "100000")).measures[0].parts[0]
    assert (part.kind, part.note, part.rate) == ("curve", piece, D(pct))


def test_curve_without_slope_stays_flat_and_pays_nothing_before_its_first_point() -> None:
    plan = single(
        "quota q\ncurve { at 50% pay 20%  at 100% pay 100% }", head="target_variable 4K per year"
    )
    assert pay(plan, m=("49999.99", "100000")).payout == D("0.00")
    assert pay(plan, m=("300000", "100000")).measures[0].parts[0].note == "flat"
    assert pay(plan, m=("300000", "100000")).payout == D("1000.00")


def test_bonus_comparison_is_explicit() -> None:
    at_least = single("quota q\nbonus 1000 when attainment >= 100%")
    above = single("quota q\nbonus 1000 when attainment > 100%")
    assert pay(at_least, m=("100000", "100000")).payout == D("1000.00")
    assert pay(above, m=("100000", "100000")).payout == D("0.00")
    assert pay(above, m=("100000.01", "100000")).payout == D("1000.00")


def test_per_unit_and_money_caps() -> None:
    _, book = ruleset("fintech")
    assert pay(book.plans["fintech_sdr"], qualified_opportunities=("7", None)).payout == D(
        "1050.00"
    )
    capped = single("commission 10%\ncap 5K", head="cap 4K")
    paid = pay(capped, m=("100000", None))
    assert (paid.measures[0].payout, paid.payout) == (D("5000.00"), D("4000.00"))
    assert paid.cap_adjustment == D("-1000.00")


def test_rounding_is_the_ruleset_s_once_per_measure() -> None:
    body = 'role AE "R" { plan p }\nplan p "P" for AE { period quarter\n'
    measures = "".join(
        f" measure m{i} {{ credit amount of deals\n commission 0.5% }}\n" for i in range(2)
    )
    _, up = plans(body + measures + "}")
    program = load_text(
        'ruleset t "T" { currency EUR  rounding half_even 0.01 }\n' + body + measures + "}"
    )
    even = program.book
    # 0.5% of 25.00 = 0.125 in each measure: half-up 0.13 + 0.13, half-even 0.12 + 0.12 (never
    # 0.25 rounded once from the sum).
    assert pay(up.plans["p"], m0=("25", None), m1=("25", None)).payout == D("0.26")
    assert pay(even.plans["p"], m0=("25", None), m1=("25", None)).payout == D("0.24")


def test_half_cent_ties_are_exact() -> None:
    # 91,841.45 on a 60,000 quota past the contech 130% point: 145% + 2 x (1.53069083...-1.3)
    # of 3,000 is exactly 5,734.145, which half-up makes 5,734.15 (a plain 28-digit Decimal
    # division gives 5,734.1449999... and rounds down).
    _, book = ruleset("contech-saas")
    paid = pay(
        book.plans["ae_2026"],
        new_logo=("0", "1"),
        upsell=("91841.45", "60000"),
        renewal=("0", "1"),
    )
    assert paid.measures[1].payout == D("5734.15")


def test_periods() -> None:
    assert period_of(dt.date(2026, 5, 17), "quarter").id == "2026-Q2"
    assert period_of(dt.date(2026, 5, 17), "month").id == "2026-05"
    assert parse_period("2026-Q4").end == dt.date(2026, 12, 31)
    assert parse_period("2026").unit == "year"
    assert [
        p.id for p in periods_overlapping(dt.date(2026, 2, 1), dt.date(2026, 7, 1), "quarter")
    ] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
    ]
    with pytest.raises(ValueError, match=r"'2026-Q5' is not a period \(expected a quarter"):
        parse_period("2026-Q5")


def test_proration_factor_counts_days_employed() -> None:
    assert proration_factor(Q1, dt.date(2026, 2, 15)) == (45, D(45) / D(90))
    assert proration_factor(Q1, None) == (90, D(1))
    assert proration_factor(Q1, dt.date(2026, 4, 1))[0] == 0
    assert proration_factor(Q1, dt.date(2025, 1, 1), dt.date(2026, 1, 31))[0] == 31


# ============================================================================ the reference path
def won(
    deal_id: str, amount: str | None, day: str | None = "2026-02-01", **more: Any
) -> dict[str, Any]:
    deal = {
        "id": deal_id,
        "rep_id": "A",
        "type": "new_logo",
        "amount": amount,
        "status": "won",
        "close_date": day,
    }
    deal.update(more)
    return deal


def fintech_rep(
    *deals: dict[str, Any], quotas: list[dict[str, Any]] | None = None, **kw: Any
) -> Any:
    program, book = ruleset("fintech")
    quota_rows = (
        quotas
        if quotas is not None
        else [{"rep_id": "A", "period": "2026-Q1", "measure": "bookings", "quota": "100000"}]
    )
    rep = {"id": "A", "role": "AE", "hire_date": "2020-01-01"}
    return pay_rep(
        book, program.compiled, "fintech_after", rep, Q1, deals=list(deals), quotas=quota_rows, **kw
    )


def test_reference_path_credits_deals_of_the_period_to_their_owner() -> None:
    outcome = fintech_rep(
        won("D1", "50000"),
        won("D2", "45000", "2026-03-31"),
        won("D3", "99999", "2026-04-01"),  # next quarter
        won("D4", "10000", rep_id="B"),  # someone else's
        {**won("D5", "10000"), "status": "lost"},
    )
    assert outcome.issues == ()
    assert outcome.payout is not None
    assert outcome.payout.payout == D("5625.00")
    assert [(d.deal_id, d.credited) for d in outcome.payout.deals["bookings"]] == [
        ("D1", D("50000.00")),
        ("D2", D("45000.00")),
    ]


def test_splits_share_a_deal_and_must_sum_to_100_percent() -> None:
    splits = [
        {"deal_id": "D1", "rep_id": "A", "share": "60%"},
        {"deal_id": "D1", "rep_id": "B", "share": "0.4"},
        {"deal_id": "D2", "rep_id": "A", "share": "50%"},
        {"deal_id": "D2", "rep_id": "B", "share": "40%"},
    ]
    outcome = fintech_rep(won("D1", "100000", rep_id="B"), won("D2", "10000"), splits=splits)
    assert outcome.payout is not None
    assert [(d.deal_id, d.share, d.credited) for d in outcome.payout.deals["bookings"]] == [
        ("D1", D("0.60"), D("60000.0000")),
    ]
    assert outcome.issues == (
        PayoutIssue(
            "A",
            "fintech_after",
            "2026-Q1",
            "deal D2 is not credited: its split shares sum to 90%, not 100%",
            "bookings",
            "D2",
        ),
    )


def test_bad_deals_are_reported_never_silently_dropped() -> None:
    outcome = fintech_rep(
        won("D1", "-500"),
        won("D2", None),
        won("D3", "1000", None),
        won("D4", "1000", status=None),
        won("D5", "100000"),
    )
    assert outcome.issues == (
        PayoutIssue(
            "A",
            "fintech_after",
            "2026-Q1",
            "deal D1 is not credited: negative amount (-500.00)",
            "bookings",
            "D1",
        ),
        PayoutIssue(
            "A", "fintech_after", "2026-Q1", "deal D2 is not credited: no amount", "bookings", "D2"
        ),
        PayoutIssue(
            "A", "fintech_after", None, "deal D3 is not credited: no close date", "bookings", "D3"
        ),
        PayoutIssue(
            "A",
            "fintech_after",
            "2026-Q1",
            "deal D4 is not credited: status is missing (the credit rule needs it)",
            "bookings",
            "D4",
        ),
    )
    assert outcome.payout is not None and outcome.payout.payout == D("7500.00")


@pytest.mark.parametrize(
    ("quotas", "reason"),
    [
        ([], "no quota for bookings in 2026-Q1 in the quotas table"),
        (
            [{"rep_id": "A", "period": "2026-Q1", "measure": "bookings", "quota": "0"}],
            "the quota for bookings in 2026-Q1 is 0.00: it must be positive",
        ),
        (
            [
                {"rep_id": "A", "period": "2026-Q1", "measure": "bookings", "quota": q}
                for q in ("1000", "2000")
            ],
            "2 quota rows for bookings in 2026-Q1: keep one",
        ),
    ],
)
def test_a_missing_quota_is_an_error_not_a_zero_division(
    quotas: list[dict[str, Any]], reason: str
) -> None:
    outcome = fintech_rep(won("D1", "1000"), quotas=quotas)
    assert outcome.payout is None
    assert outcome.issues == (PayoutIssue("A", "fintech_after", "2026-Q1", reason, "bookings"),)


def test_periods_outside_the_plan_are_reported() -> None:
    program, book = ruleset("fintech")
    rep = {"id": "A", "role": "AE"}
    outcome = pay_rep(book, program.compiled, "fintech_before", rep, parse_period("2027-Q1"))
    assert outcome == type(outcome)(
        None,
        (
            PayoutIssue(
                "A",
                "fintech_before",
                "2027-Q1",
                "2027-Q1 is outside the plan's effective dates (2026-01-01 to 2026-12-31)",
            ),
        ),
    )


def test_proration_halves_quota_and_target_for_a_mid_quarter_hire() -> None:
    program, book = ruleset("contech-saas")
    rep = {"id": "A", "role": "AE", "hire_date": "2026-02-15"}
    quotas = [
        {"rep_id": "A", "period": "2026-Q1", "measure": m, "quota": "100000"}
        for m in ("new_logo", "upsell", "renewal")
    ]
    outcome = pay_rep(
        book, program.compiled, "ae_2026", rep, Q1, deals=[won("D1", "31250")], quotas=quotas
    )
    assert outcome.payout is not None
    assert (outcome.payout.days, outcome.payout.target) == (45, D("5000.00"))
    new_logo = outcome.payout.measures[0]
    # A prorated 50,000 quota, then the plan's ramp (months 1 and 2 of tenure, 62.5%): 31,250;
    # 31,250 is 100%: 100% of 60% of 5,000.
    assert (new_logo.quota, new_logo.payout) == (D("31250.00"), D("3000.00"))
    hired_later = pay_rep(
        book, program.compiled, "ae_2026", {**rep, "hire_date": "2026-04-02"}, Q1, quotas=quotas
    )
    assert hired_later.issues == (
        PayoutIssue("A", "ae_2026", "2026-Q1", "not employed during 2026-Q1 (hired 2026-04-02)"),
    )


def test_sdr_credit_is_dated_when_the_deal_entered_qualification() -> None:
    program, book = ruleset("fintech")
    deals = [
        {"id": "D1", "rep_id": "A", "sdr_id": "S", "stage": "proposal", "status": "open"},
        {"id": "D2", "rep_id": "A", "sdr_id": "S", "stage": "demo", "status": "open"},
        {"id": "D3", "rep_id": "A", "sdr_id": "S", "stage": "detection", "status": "open"},
        {"id": "D4", "rep_id": "A", "sdr_id": "T", "stage": "demo", "status": "open"},
    ]
    events = [
        {"deal_id": "D1", "stage": "qualification", "entered_at": "2026-02-01"},
        {"deal_id": "D1", "stage": "qualification", "entered_at": "2026-01-20"},
        {"deal_id": "D4", "stage": "qualification", "entered_at": "2026-02-01"},
    ]
    outcome = pay_rep(
        book,
        program.compiled,
        "fintech_sdr",
        {"id": "S", "role": "SDR"},
        Q1,
        deals=deals,
        stage_events=events,
    )
    assert outcome.payout is not None and outcome.payout.payout == D("150.00")
    assert [(d.deal_id, d.date) for d in outcome.payout.deals["qualified_opportunities"]] == [
        ("D1", dt.date(2026, 1, 20)),
    ]
    assert outcome.issues == (
        PayoutIssue(
            "S",
            "fintech_sdr",
            None,
            "deal D2 is not credited: no date when it entered qualification",
            "qualified_opportunities",
            "D2",
        ),
    )


# ============================================================================ properties
MONOTONE = [
    ("fintech", "fintech_after"),
    ("contech-saas", "ae_2026"),
    ("services-b2b", "ae_services"),
    ("services-b2b", "am_services"),
    ("industrie-services", "ae_margin"),
]
cents = st.integers(min_value=0, max_value=50_000_000)


def client_plan(index: int) -> PlanSpec:
    name, plan = MONOTONE[index]
    return ruleset(name)[1].plans[plan]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(MONOTONE) - 1), st.data())
def test_payout_never_falls_when_credited_value_rises(index: int, data: st.DataObject) -> None:
    plan = client_plan(index)
    low: dict[str, tuple[str, str | None]] = {}
    high: dict[str, tuple[str, str | None]] = {}
    for spec in plan.measures:
        a, b = sorted((data.draw(cents), data.draw(cents)))
        quota = (
            str(D(data.draw(st.integers(100_000, 30_000_000))) / 100) if spec.has_quota else None
        )
        low[spec.name] = (str(D(a) / 100), quota)
        high[spec.name] = (str(D(b) / 100), quota)
    before, after = pay(plan, **low), pay(plan, **high)
    assert after.payout >= before.payout
    assert all(b.payout >= a.payout for a, b in zip(before.measures, after.measures, strict=True))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(MONOTONE) - 1), st.data())
def test_line_items_sum_to_totals_and_caps_hold(index: int, data: st.DataObject) -> None:
    plan = client_plan(index)
    given_ = {
        spec.name: (
            str(D(data.draw(cents)) / 100),
            str(D(data.draw(st.integers(1, 30_000_000))) / 100) if spec.has_quota else None,
        )
        for spec in plan.measures
    }
    paid = pay(plan, **given_)
    assert paid.payout == sum((m.payout for m in paid.measures), D(0)) + paid.cap_adjustment
    for spec, line in zip(plan.measures, paid.measures, strict=True):
        assert line.payout == line.payout.quantize(D("0.01"))
        with localcontext(EXACT):
            parts = sum((p.amount for p in line.parts), D(0))
        assert parts == line.raw or any(p.kind == "cap" and p.reached for p in line.parts)
        if spec.cap is not None and line.target is not None:
            limit = spec.cap.value * line.target if spec.cap.percent else spec.cap.value
            assert line.payout <= limit
    if paid.plan_cap is not None:
        assert paid.payout <= paid.plan_cap


# ============================================================================ statement
FIXTURE = {
    "reps": "id,name,role,territory,hire_date\nA1,Camille Martin,AE,idf,2024-01-01\n"
    "M1,Paul Simon,AM,hdf,2023-01-01\n",
    "quotas": "rep_id,period,measure,quota\nA1,2026-Q1,bookings,100000\n",
    "deals": "id,rep_id,type,amount,cost,stage,close_date,status\n"
    "D1,A1,new_logo,40000,20000,signature,2026-02-12,won\n"
    "D2,A1,upsell,30000,10000,signature,2026-03-03,won\n"
    "D3,A1,new_logo,25000,5000,signature,2026-03-28,won\n"
    "D4,A1,new_logo,50000,1000,proposal,,open\n",
}

STATEMENT = """\
Relevé de rémunération variable — Camille Martin (A1)
Rôle : Account Executive · Période demandée : 2026-Q1 (du 01/01/2026 au 31/03/2026)

Plan « Après – prime par paliers » (fintech_after) — plan payé · {plans}:17
  Variable cible de la période : 7 500,00 € (30 000,00 € par an)

  1. CA signé vs objectif (bookings) · {plans}:27
     Crédité (montant) : 95 000,00 € sur 3 affaires
       D1  12/02/2026  40 000,00
       D2  03/03/2026  30 000,00
       D3  28/03/2026  25 000,00
     Objectif : 100 000,00 € (table des objectifs, mesure bookings) → atteinte 95 %
     Seuil de déclenchement 80 % : atteint (95 %)
     Paliers : 95 % atteint → palier [90 %, 100 %) = 75 % de 7 500,00 = 5 625,00
     Accélérateur au-delà de 100 % : non atteint (95 %)
     = 5 625,00 €
     Par affaire :
       Affaire D1 (12/02/2026) : 40 000,00 € crédités → 2 368,42 €
       Affaire D2 (03/03/2026) : 30 000,00 € crédités → 1 776,32 €
       Affaire D3 (28/03/2026) : 25 000,00 € crédités → 1 480,26 €

  Total 2026-Q1 : 5 625,00 €

Plan « Avant – commission pure 5 % » (fintech_before) — pour comparaison, non payé · {plans}:4

  1. CA signé (bookings) · {plans}:8
     Crédité (montant) : 95 000,00 € sur 3 affaires
       D1  12/02/2026  40 000,00
       D2  03/03/2026  30 000,00
       D3  28/03/2026  25 000,00
     Commission : 5 % × 95 000,00 = 4 750,00
     = 4 750,00 €
     Par affaire :
       Affaire D1 (12/02/2026) : 40 000,00 € crédités → 2 000,00 €
       Affaire D2 (03/03/2026) : 30 000,00 € crédités → 1 500,00 €
       Affaire D3 (28/03/2026) : 25 000,00 € crédités → 1 250,00 €

  Total 2026-Q1 : 4 750,00 €
"""


def write_fixture(folder: Path) -> Path:
    for name, text in FIXTURE.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_statement_in_plain_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_fixture(tmp_path)
    code = main(
        [
            "statement",
            str(RULESETS / "fintech"),
            "--rep",
            "A1",
            "--period",
            "2026-Q1",
            "--data",
            str(data),
        ]
    )
    out = capsys.readouterr().out
    plans_file = next(
        line.split(" · ")[-1].rsplit(":", 1)[0] for line in out.splitlines() if "plan payé" in line
    )
    assert plans_file.endswith("rulesets/fintech/plans.krl")
    assert (code, out) == (0, STATEMENT.format(plans=plans_file))


def test_statement_for_a_role_without_plan_and_an_unknown_rep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_fixture(tmp_path)
    base = ["statement", str(RULESETS / "fintech"), "--period", "2026-Q1", "--data", str(data)]
    assert main([*base, "--rep", "M1"]) == 1
    assert capsys.readouterr().out.endswith(
        "\nAucun plan : le rôle AM n'a pas de plan de rémunération.\n"
    )
    assert main([*base, "--rep", "A11"]) == 2
    assert capsys.readouterr().err == (
        "error: rep 'A11' is not in the reps table; did you mean A1?\n"
    )


def test_statement_shows_caps_and_adds_up(tmp_path: Path) -> None:
    program = load(RULESETS / "fintech")
    import pandas as pd

    tables: dict[str, Any] = {
        "reps": pd.DataFrame({"id": ["A1"], "role": ["AE"]}, dtype="str"),
        "quotas": pd.DataFrame(
            {"rep_id": ["A1"], "period": ["2026-Q1"], "measure": ["bookings"], "quota": ["100000"]},
            dtype="str",
        ),
        "deals": pd.DataFrame(
            {
                "id": ["D1"],
                "rep_id": ["A1"],
                "amount": ["250000"],
                "close_date": ["2026-01-15"],
                "status": ["won"],
            },
            dtype="str",
        ),
    }
    statement = build_statement(program, tables, "A1", "2026-Q1")
    text = statement.text
    assert "Accélérateur : 2 × (250 % − 100 %) × 7 500,00 = 22 500,00" in text
    assert "Plafond du plan 15 000,00 € : 30 000,00 € ramené au plafond → −15 000,00" in text
    assert "Total 2026-Q1 : 15 000,00 €" in text
    assert statement.totals["fintech_after"] == D("15000.00")


def french(text: str) -> Decimal:
    """`7 500,00 €`, `−1 551,22` or `+0,01` as a Decimal."""
    cleaned = text.replace("€", "").replace(" ", "").replace(",", ".").replace("−", "-")
    return D(cleaned.removeprefix("+"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["new_logo", "upsell", "renewal"]), st.integers(1, 20_000_000)),
        max_size=8,
    ),
    st.sampled_from(["2020-01-01", "2026-02-15"]),
)
def test_statement_lines_add_up_to_the_total(deals: list[tuple[str, int]], hired: str) -> None:
    import pandas as pd

    program = load(RULESETS / "contech-saas")
    tables: dict[str, Any] = {
        "reps": pd.DataFrame({"id": ["A"], "role": ["AE"], "hire_date": [hired]}, dtype="str"),
        "quotas": pd.DataFrame(
            {
                "rep_id": ["A"] * 3,
                "period": ["2026-Q1"] * 3,
                "measure": ["new_logo", "upsell", "renewal"],
                "quota": ["90000", "33333.33", "7"],
            },
            dtype="str",
        ),
        "deals": pd.DataFrame(
            {
                "id": [f"D{i}" for i in range(len(deals))],
                "rep_id": ["A"] * len(deals),
                "type": [t for t, _ in deals],
                "amount": [str(D(c) / 100) for _, c in deals],
                "close_date": ["2026-03-01"] * len(deals),
                "status": ["won"] * len(deals),
            },
            dtype="str",
        ),
    }
    statement = build_statement(program, tables, "A", "2026-Q1")
    lines = statement.text.splitlines()
    measures: list[Decimal] = []
    shown = D(0)
    for line in lines:
        body = line.strip()
        if not line.startswith("     ") or line.startswith("      "):
            continue  # only a measure's steps (deal lines are indented further)
        if body.startswith("= "):
            measures.append(french(body[2:]))
            assert shown == measures[-1], statement.text
            shown = D(0)
        elif "ramené au plafond" in body:
            shown += french(body.rsplit("→ ", 1)[1])
        elif body.startswith("Arrondi"):
            shown += french(body.rsplit(" : ", 1)[1])
        elif " = " in body:
            shown += french(body.rsplit(" = ", 1)[1])
    total = next(french(line.split(" : ")[1]) for line in lines if line.startswith("  Total"))
    cap = [french(line.rsplit("→ ", 1)[1]) for line in lines if "Plafond du plan" in line]
    assert len(measures) == 3
    assert sum(measures, D(0)) + sum(cap, D(0)) == total == statement.totals["ae_2026"]
