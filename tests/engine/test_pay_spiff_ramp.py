"""SPIFFs, ramps and quota relief (issue 10): the checker's located errors, the formatter, the
tenure months, both pay paths equal to the cent on random data, and `koncept eval
--quota-relief`. The worked examples are fixtures: tests/engine/spiff_ramp/tests/pay.yaml and
rulesets/contech-saas/tests/plans.yaml."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.check import check
from dsl.formatter import format_text
from dsl.parser import parse
from dsl.source import SourceFile
from engine.cli.main import main
from engine.loader import load
from engine.money import format_money
from engine.pay.inputs import ramp_share, tenure_months
from engine.periods import parse_period
from engine.program import Program

RULESET = Path(__file__).parent / "spiff_ramp"
HEADER = 'ruleset t "T" { currency EUR }\nrecord deal { product text }\nrole AE { plan p }\n'


@cache
def program() -> Program:
    return load(RULESET)


def findings(plan_body: str) -> list[tuple[str, str, str, str | None]]:
    """(code, message, underlined text, help) of each finding of a plan with this body."""
    text = HEADER + "plan p for AE {\n  effective 2026-01-01 to 2026-12-31\n  period month\n"
    text += plan_body + "\n}\n"
    parsed = parse(SourceFile("t.krl", text))
    assert parsed.diagnostics == () and parsed.module is not None
    result = check([parsed.module])
    return [
        (d.code, d.message, text[d.span.start : d.span.end], d.help) for d in result.diagnostics
    ]


MEASURE = "  measure m { credit amount of deals where status == won  quota m  commission 5% }\n"


# ============================================================================ checker
def test_a_clean_spiff_and_ramp_check() -> None:
    spiff = (
        '  spiff x "X" { 500 per deal where status == won and product == "X" '
        "from 2026-03-01 to 2026-04-30 cap 5000 }"
    )
    assert findings(MEASURE + "  ramp 50%, 75%, 100%\n" + spiff) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  spiff x { -500 per deal from 2026-03-01 to 2026-04-30 }",
            ("E408", "SPIFF `x` pays -500 per deal: it must pay a positive amount", "-500",
             "write the amount per qualifying deal, e.g. `500 per deal where ...`"),
        ),
        (
            "  spiff x { 0 EUR per deal from 2026-03-01 to 2026-04-30 }",
            ("E408", "SPIFF `x` pays 0 EUR per deal: it must pay a positive amount", "0 EUR",
             "write the amount per qualifying deal, e.g. `500 per deal where ...`"),
        ),
        (
            "  spiff x { 500 per deal from 2026-04-30 to 2026-03-01 }",
            ("E409", "SPIFF `x` ends on 2026-03-01, before it starts on 2026-04-30",
             "from 2026-04-30 to 2026-03-01", "write `from <first day> to <last day>`"),
        ),
        (
            "  spiff x { 500 per deal from 2026-12-01 to 2027-01-31 }",
            ("E408", "SPIFF `x` runs from 2026-12-01 to 2027-01-31, outside plan `p`'s "
             "effective dates (2026-01-01 to 2026-12-31)", "from 2026-12-01 to 2027-01-31",
             "keep the SPIFF's window inside the plan's `effective` dates"),
        ),
        (
            "  spiff x { 500 per deal from 2026-03-01 to 2026-04-30 cap 10% }",
            ("E408", "SPIFF `x` is capped at 10%, but a SPIFF has no share of the target "
             "variable", "cap 10%", "cap it at an amount, e.g. `cap 5000`"),
        ),
        (
            "  spiff m { 500 per deal from 2026-03-01 to 2026-04-30 }",
            ("E207", "`m` is already defined", "m", "first defined at t.krl:7"),
        ),
        (
            "  spiff x { 500 per deal where produit == \"X\" from 2026-03-01 to 2026-04-30 }",
            ("E201", "unknown field `produit` on deal", "produit", "did you mean `product`?"),
        ),
        (
            "  ramp 50%, 0%, 120%",
            ("E409", "ramp share 0% is outside 0%..100%", "0%",
             "each month of tenure has a share of quota above 0% and at most 100%, e.g. "
             "`ramp 50%, 75%, 100%`"),
        ),
        (
            "  ramp 50%\n  ramp 75%",
            ("E408", "plan `p` has 2 ramps", "ramp 75%",
             "keep one: `ramp 50%, 75%, 100%` (month 1, 2, 3 of tenure)"),
        ),
    ],
)  # fmt: skip
def test_bad_spiffs_and_ramps_are_located_errors(
    body: str, expected: tuple[str, str, str, str | None]
) -> None:
    found = findings(MEASURE + body)
    assert found[0] == expected


def test_a_ramp_share_over_100_percent_is_also_reported() -> None:
    found = findings(MEASURE + "  ramp 50%, 0%, 120%")
    assert [(code, text) for code, _, text, _ in found] == [("E409", "0%"), ("E409", "120%")]


def test_a_ramp_on_a_plan_without_quota_is_an_error() -> None:
    body = "  measure m { credit amount of deals  commission 5% }\n  ramp 50%"
    assert findings(body) == [
        (
            "E408",
            "`ramp` lowers quotas, but no measure of plan `p` has one",
            "ramp 50%",
            "give a measure a quota (`quota <measure id>`), or remove the ramp",
        )
    ]


# ============================================================================ formatter
def test_the_one_line_spiff_of_the_issue_is_formatted_canonically() -> None:
    text = (
        HEADER + "plan p for AE { period month\n"
        '  spiff launch_x "Lancement produit X" { 500 per deal where status == won and '
        'product == "X" from 2026-03-01 to 2026-04-30 cap 5000 } }\n'
    )
    result = format_text(text, "t.krl")
    assert result.diagnostics == ()
    assert result.output.endswith(
        "plan p for AE {\n  period month\n"
        '  spiff launch_x "Lancement produit X" {\n'
        '    500 per deal where status == won and product == "X"\n'
        "    from 2026-03-01 to 2026-04-30\n    cap 5000\n  }\n}\n"
    )
    assert format_text(result.output, "t.krl").output == result.output


def test_the_ruleset_of_the_worked_examples_is_canonical_and_checks_strictly() -> None:
    text = (RULESET / "main.krl").read_text(encoding="utf-8")
    assert format_text(text, "main.krl").output == text


# ============================================================================ tenure months
def test_the_month_of_hire_is_month_one_whatever_the_day() -> None:
    march = parse_period("2026-03")
    assert tenure_months(dt.date(2026, 3, 31), march) == (1,)
    assert tenure_months(dt.date(2026, 2, 28), march) == (2,)
    assert tenure_months(dt.date(2025, 3, 1), march) == (13,)
    assert tenure_months(dt.date(2026, 4, 1), march) == ()
    # A quarter: the months from the hire month on.
    assert tenure_months(dt.date(2026, 2, 15), parse_period("2026-Q1")) == (1, 2)


def test_a_quarter_takes_the_exact_mean_of_its_months() -> None:
    ramp = (Decimal("0.5"), Decimal("0.75"), Decimal("1"))
    q1 = parse_period("2026-Q1")
    assert ramp_share(ramp, dt.date(2026, 1, 1), q1) == (Decimal("0.75"), (1, 2, 3))
    found = ramp_share(ramp, dt.date(2025, 12, 1), q1)
    assert not isinstance(found, str)
    share, months = found
    assert months == (2, 3, 4)
    assert share * 3 == Decimal("2.75")  # (75% + 100% + 100%) / 3, to 80 digits
    assert ramp_share(ramp, None, q1) == (
        "the rep has no hire_date: the plan's ramp needs the month of tenure"
    )
    assert ramp_share(ramp, dt.date(2026, 4, 1), q1) == (
        "hired on 2026-04-01, after 2026-Q1: no month of tenure to ramp"
    )


# ============================================================================ both paths
PERIODS = ("2026-02", "2026-03", "2026-04", "2026-05")


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Reps hired around the SPIFF's window, X and Y deals, quotas and relief rows (good and
    bad: shares over 100%, amounts over the quota, both or neither, strangers)."""
    n_reps = draw(st.integers(1, 4))
    hires = [None, "2024-01-01", "2024-01-01", "2026-01-31", "2026-02-15", "2026-03-31"]
    reps = pd.DataFrame(
        {
            "id": [f"R{i}" for i in range(n_reps)],
            "role": [draw(st.sampled_from(["AE", "AE", "AE", "SDR"])) for _ in range(n_reps)],
            "hire_date": [draw(st.sampled_from(hires)) for _ in range(n_reps)],
        },
        dtype="str",
    )
    owners = [*reps["id"], "R9"]
    # The SPIFF's window is 1 March to 30 April: its edges, and one deal without a date.
    days = ["2026-02-28", "2026-03-01", "2026-04-30", "2026-05-01", "2026-03-15", None]
    n_deals = draw(st.integers(0, 16))
    deals = pd.DataFrame(
        {
            "id": [f"D{i}" for i in range(n_deals)],
            "rep_id": [draw(st.sampled_from(owners)) for _ in range(n_deals)],
            "product": [draw(st.sampled_from(["X", "X", "Y", None])) for _ in range(n_deals)],
            "amount": [
                draw(st.sampled_from(["1000", "9999.99", "20000", "40000", "-5"]))
                for _ in range(n_deals)
            ],
            "close_date": [draw(st.sampled_from(days)) for _ in range(n_deals)],
            "status": [draw(st.sampled_from(["won", "won", "lost", None])) for _ in range(n_deals)],
        },
        dtype="str",
    )
    quotas = pd.DataFrame(
        [
            (rep, period, "bookings", draw(st.sampled_from(["40000", "33333.33", "40000", "0"])))
            for rep in reps["id"]
            for period in PERIODS
            if draw(st.integers(0, 5))
        ],
        columns=["rep_id", "period", "measure", "quota"],
        dtype="str",
    )
    relief = pd.DataFrame(
        [
            (
                rep,
                period,
                draw(st.sampled_from(["bookings", "bookings", "bookings", "launch_x", "booking"])),
                draw(st.sampled_from([None, None, "5000", "39999.99", "40000", "50000"])),
                draw(st.sampled_from([None, None, "20%", "0.5", "100%", "120%"])),
                "congé",
            )
            for rep in owners
            for period in [*PERIODS, "2026-Q1"]
            if draw(st.integers(0, 3)) == 0
        ],
        columns=["rep_id", "period", "measure", "amount", "share", "reason"],
        dtype="str",
    )
    return {"reps": reps, "deals": deals, "quotas": quotas, "quota_relief": relief}


def record_path(tables: dict[str, pd.DataFrame], period: str) -> tuple[set[Any], set[Any]]:
    """Payouts and issues of the per-record reference path."""
    loaded = program()
    found, _ = loaded.pay_each(loaded.validate(**tables), parse_period(period))
    payouts, issues = set(), set()
    for payment in found:
        outcome = payment.outcome
        issues |= {(i.rep_id, i.plan, i.period, i.measure, i.reason) for i in outcome.issues}
        if outcome.payout is not None:
            paid = outcome.payout
            payouts.add(
                (
                    paid.rep_id,
                    format_money(paid.payout),
                    tuple(
                        (m.measure, format_money(m.quota) if m.quota is not None else None,
                         format_money(m.payout))
                        for m in paid.measures
                    ),
                )
            )  # fmt: skip
    return payouts, issues


def table_path(tables: dict[str, pd.DataFrame], period: str) -> tuple[set[Any], set[Any]]:
    """Payouts and issues (of a rep on a plan) of the table path."""
    loaded = program()
    paid = loaded.pay(loaded.validate(**tables), parse_period(period))
    payouts = {
        (
            row.rep_id,
            row.payout,
            tuple((m["measure"], m["quota"], m["payout"]) for m in row.measures),
        )
        for row in paid.payouts.itertuples()
    }
    issues = {
        (rep, plan, when, measure, reason)
        for rep, plan, when, measure, _, reason in paid.errors.itertuples(index=False)
        if plan is not None
    }
    return payouts, issues


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), period=st.sampled_from(PERIODS))
def test_both_paths_agree_on_spiffs_ramps_and_relief(
    data: dict[str, pd.DataFrame], period: str
) -> None:
    assert table_path(data, period) == record_path(data, period)


def test_the_paths_agree_on_a_worked_case_and_report_unusable_relief() -> None:
    reps = pd.DataFrame(
        {"id": ["A1", "A2"], "role": ["AE", "AE"], "hire_date": ["2026-02-10", None]},
        dtype="str",
    )
    deals = pd.DataFrame(
        {
            "id": ["X1", "X2", "D1"],
            "rep_id": ["A1", "A1", "A1"],
            "product": ["X", "X", "Y"],
            "amount": ["1000", "1000", "22000"],
            "close_date": ["2026-03-02", "2026-03-31", "2026-03-15"],
            "status": ["won", "won", "won"],
        },
        dtype="str",
    )
    quotas = pd.DataFrame(
        {"rep_id": ["A1", "A2"], "period": ["2026-03"] * 2, "measure": ["bookings"] * 2,
         "quota": ["40000", "40000"]},
        dtype="str",
    )  # fmt: skip
    relief = pd.DataFrame(
        {
            "rep_id": ["A1", "A7", "A1"],
            "period": ["2026-03", "2026-03", "2026-Q1"],
            "measure": ["bookings", "bookings", "bookings"],
            "amount": [None, "10", "10"],
            "share": ["20%", None, None],
            "reason": ["congé", None, None],
        },
        dtype="str",
    )
    tables = {"reps": reps, "deals": deals, "quotas": quotas, "quota_relief": relief}
    # A1: month 2 of tenure, 75% of 40,000 = 30,000; relief 20%: 24,000. Bookings 24,000 =
    # 100% of 2,000; SPIFF 2 x 500.
    payouts, issues = record_path(tables, "2026-03")
    assert payouts == {
        ("A1", "3000.00", (("bookings", "24000.00", "2000.00"), ("launch_x", None, "1000.00")))
    }
    assert issues == {
        ("A2", "ae_monthly", "2026-03", None,
         "the rep has no hire_date: the plan's ramp needs the month of tenure"),
    }  # fmt: skip
    assert table_path(tables, "2026-03") == (payouts, issues)
    errors = program().evaluate(**tables, period="2026-03").errors
    messages = set(errors.loc[errors["table"] == "payouts", "message"])
    assert {
        "rep A7, 2026-03: quota relief for bookings in 2026-03 given for a rep who is not in "
        "the reps table",
        "rep A1, 2026-Q1: quota relief for bookings in 2026-Q1: 2026-Q1 is a quarter, but "
        "bookings is measured per month",
    } <= messages


def test_a_relief_table_row_that_is_not_valid_is_a_located_row_error() -> None:
    relief = pd.DataFrame(
        {"rep_id": ["A1"], "period": ["2026-03"], "measure": ["bookings"],
         "amount": ["dix mille"], "share": [None]},
        dtype="str",
    )  # fmt: skip
    inputs = program().validate(quota_relief=relief)
    assert [(e.table, e.row, e.column, e.value) for e in inputs.errors] == [
        ("quota_relief", 1, "amount", "dix mille")
    ]


# ============================================================================ the command line
def test_eval_takes_a_quota_relief_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        "reps": "id,role,hire_date\nA1,AE,2024-01-01\n",
        "quotas": "rep_id,period,measure,quota\nA1,2026-03,bookings,40000\n",
        "deals": "id,rep_id,product,amount,close_date,status\nD1,A1,Y,24000,2026-03-10,won\n",
        "quota_relief": "rep_id,period,measure,share,reason\nA1,2026-03,bookings,40%,congé\n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    args = ["eval", str(RULESET), "--period", "2026-03", "--format", "json"]
    args += [f"--{name.replace('_', '-')}={tmp_path / f'{name}.csv'}" for name in files]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    [row] = doc["payouts"]
    # 40,000 relieved by 40%: 24,000; 24,000 booked is 100% of the 2,000 target.
    assert row["payout"] == "2000.00"
    assert row["measures"][0]["quota"] == "24000.00"


def test_statement_reads_quota_relief_from_the_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "reps": "id,name,role,hire_date\nA1,Camille Martin,AE,2026-02-10\n",
        "quotas": "rep_id,period,measure,quota\nA1,2026-03,bookings,40000\n",
        "deals": (
            "id,rep_id,product,amount,close_date,status\n"
            "X1,A1,X,12000,2026-03-05,won\nX2,A1,X,12000,2026-03-20,won\n"
        ),
        "quota_relief": (
            "rep_id,period,measure,amount,share,reason\nA1,2026-03,bookings,6000,,formation\n"
        ),
    }
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    args = ["statement", str(RULESET), "--rep", "A1", "--period", "2026-03", "--data"]
    assert main([*args, str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # Month 2 of tenure: 75% of 40,000; then 6,000 off: 24,000, all booked (2,000.00), and
    # the SPIFF on both X deals (1,000.00).
    for line in (
        "     Montée en charge : mois 2 d'ancienneté, 75 % de l'objectif : 40 000,00 € → "
        "30 000,00 €",
        "     Allègement d'objectif : -6 000,00 € (formation) : 30 000,00 € → 24 000,00 €",
        "     Objectif retenu : 24 000,00 € → atteinte 100 %",
        "     SPIFF Lancement produit X : 2 affaires × 500,00 € = 1 000,00 €",
        "  Total 2026-03 : 3 000,00 €",
    ):
        assert line in out.splitlines(), line


def test_diff_names_the_spiff_and_the_ramp_that_changed() -> None:
    from engine.diff.meaning import compare_models

    def model(text: str) -> Any:
        parsed = parse(SourceFile("t.krl", HEADER + text))
        assert parsed.module is not None
        return check([parsed.module]).model

    def plan(ramp: str, amount: str) -> str:
        spiff = (
            f"  spiff x {{ {amount} per deal where status == won from 2026-03-01 to 2026-04-30 }}"
        )
        return f"plan p for AE {{ period month {ramp}\n{MEASURE}{spiff}\n}}\n"

    before = model(plan("ramp 50%, 100%", "500"))
    after = model(plan("ramp 60%, 100%", "600"))
    assert [c.text().split("  (")[0] for c in compare_models(before, after)] == [
        "plan p: ramp 50%, 100% -> ramp 60%, 100%",
        "plan p, spiff x: amount 500 -> 600",
    ]
    assert compare_models(before, model(plan("ramp 50%,100%", "500"))) == []
