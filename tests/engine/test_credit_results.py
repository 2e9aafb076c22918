"""Credit rules read the deals' computed results (issue 11): `qualification_status`, a score's
total or a criterion's points, `framework`, `playbook`, when nothing deciding them changes with
the day (`stale`, `exit_ready`, `days_in_stage`): pay does not depend on the day it is computed.
The table path evaluates them once for the deals table, the per-record path deal by deal with
`evaluate_deal`'s evaluator; both pay the same."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
import engine.pay.credit
from dsl.source import SourceFile
from dsl.workspace import check_sources
from engine.pay.format import payout_row
from engine.periods import parse_period
from engine.testing import run
from engine.testing.compare import plain

QUALIFIED = Path(__file__).resolve().parent / "qualified_pay"
SPIFF_RAMP = Path(__file__).resolve().parent / "spiff_ramp"

#: Two scores routed by amount, and a playbook on the qualification: nothing reads the day.
RULESET = """ruleset t "T" { currency EUR }
record deal { letters integer 0..4  champion boolean  budget_ok boolean }
define late on deal = days_in_stage > 30
score bant on deal max 1 {
  budget { when budget_ok -> 1 }
  status { qualified when score >= 1  unqualified otherwise }
}
score meddpicc on deal max 10 {
  letters -> letters
  champion { when champion -> 6 }
  status { qualified when score >= 7 and meddpicc.champion > 0  unqualified otherwise }
}
qualify deal { use bant when amount < 20K  use meddpicc otherwise }
playbook shore_up on deal when qualification_status == unqualified { require c: champion }
role AE { plan x }
"""


def plan(where: str) -> str:
    return (
        "plan x for AE { period quarter\n"
        f"  measure m {{ credit amount of deals where {where} commission 1% }} }}\n"
    )


def findings(text: str) -> list[tuple[str, int, str, str | None]]:
    """(code, line, message, help) of every finding of a one-file ruleset."""
    loaded = check_sources(Path("."), [SourceFile("t.krl", text)])
    return [(d.code, d.span.line, d.message, d.help) for d in loaded.diagnostics]


def refused(text: str) -> dict[str, str | None]:
    """The E214 of a ruleset: the help of each name refused."""
    return {
        message.split("`")[1]: why for code, _, message, why in findings(text) if code == "E214"
    }


# ----------------------------------------------------------------------------- the checker
def test_a_credit_reads_the_results_that_do_not_change_with_the_day() -> None:
    where = (
        "status == won and qualification_status == qualified and framework == meddpicc "
        "and meddpicc.score >= 7 and meddpicc.champion > 0 and bant.budget == 1 "
        "and qualification_score >= 1 and playbook is missing"
    )
    spiff = (
        "plan y for AE { period quarter\n"
        "  measure m { credit meddpicc.score of deals commission 1% }\n"
        "  spiff s { 300 per deal where meddpicc.score >= 7 from 2026-01-01 to 2026-06-30 } }\n"
    )
    errors = [f for f in findings(RULESET + plan(where) + spiff) if f[0].startswith("E")]
    assert errors == []


def test_a_qualification_whose_criterion_reads_stale_is_refused_with_where_it_reads_it() -> None:
    text = RULESET.replace(
        "champion { when champion -> 6 }",
        "champion { when champion -> 6 }\n  timing { when stale -> 0, otherwise -> 1 }",
    ) + plan(
        "qualification_status == qualified and meddpicc.timing == 1 and meddpicc.score > 1 "
        "and meddpicc.champion > 0 and bant.score == 1 and framework == bant"
    )
    why = refused(text)
    reads = "criterion `timing` of score `meddpicc` reads `stale` (t.krl:11)"
    day = "pay does not depend on the day it is computed, and "
    assert why == {
        "qualification_status": f"{day}`qualification_status` depends on it: {reads}",
        "meddpicc.timing": f"{day}`meddpicc.timing` depends on it: {reads}",
        "meddpicc.score": f"{day}`meddpicc.score` depends on it: {reads}",
    }  # the champion's points, BANT and the route read nothing of the day
    (line,) = {line for code, line, _, _ in findings(text) if code == "E214"}
    assert line == 18  # where the credit reads them


def test_a_define_read_by_a_status_carries_the_day_to_the_qualification() -> None:
    text = RULESET.replace(
        "qualified when score >= 7 and", "qualified when score >= 7 and not late and"
    ) + plan("qualification_status == qualified or meddpicc.score > 8 or playbook is missing")
    why = refused(text)
    assert set(why) == {"qualification_status", "playbook"}  # the playbook reads the status
    assert why["qualification_status"] == (
        "pay does not depend on the day it is computed, and `qualification_status` depends on "
        "it: the status block of score `meddpicc` reads `days_in_stage` through `late` (t.krl:3)"
    )


def test_a_playbook_whose_condition_reads_exit_ready_is_refused_in_a_credit() -> None:
    text = RULESET.replace(
        "when qualification_status == unqualified", "when exit_ready and amount > 50K"
    ) + plan("playbook == shore_up and qualification_status == qualified")
    assert refused(text) == {
        "playbook": "pay does not depend on the day it is computed, and `playbook` depends on "
        "it: the `when` of playbook `shore_up` reads `exit_ready` (t.krl:14)"
    }


def test_a_route_reading_the_day_makes_the_framework_depend_on_it() -> None:
    text = RULESET.replace("use bant when amount < 20K", "use bant when stale") + plan(
        "framework == bant or qualification_score > 1 or bant.score > 0"
    )
    assert set(refused(text)) == {"framework", "qualification_score"}


def test_the_day_dependent_values_themselves_stay_refused_in_a_credit() -> None:
    why = refused(RULESET + plan("stale or exit_ready or days_in_stage > 3"))
    assert set(why) == {"stale", "exit_ready", "days_in_stage"}
    assert why["stale"] == (
        "pay does not depend on the day it is computed: credit rules read the deal's own "
        "fields, gross_margin and margin_rate"
    )


# ----------------------------------------------------------------------------- pay
def test_the_fixtures_pay_only_qualified_deals_on_both_paths_with_full_coverage() -> None:
    report = run([QUALIFIED], with_coverage=True)
    assert report.ok and len(report.results) == 2
    (coverage,) = report.coverage
    assert coverage.percent == 100


def tables(deals: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    rep = {"id": "A1", "name": "Camille", "role": "AE", "hire_date": "2024-01-01"}
    return {"reps": pd.DataFrame([rep], dtype=object), "deals": pd.DataFrame(deals, dtype=object)}


def test_the_deals_are_evaluated_once_for_every_credit_rule_and_only_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    evaluate = engine.pay.credit.deal_results

    def counted(*args: Any) -> Any:
        calls.append(1)
        return evaluate(*args)

    monkeypatch.setattr(engine.pay.credit, "deal_results", counted)
    deal = {"id": "L1", "rep_id": "A1", "status": "won", "close_date": "2026-02-10"}
    deal |= {"amount": "50000", "metrics_ok": "oui", "economic_buyer": "oui", "champion": "oui"}
    program = engine.load(QUALIFIED)
    paid = program.evaluate(**tables([deal]), period="2026")  # four quarters, two rules
    assert calls == [1]
    assert paid.payouts["payout"].tolist()[0] == "2800.00"  # 5% x 50,000 + 300 in Q1
    # A ruleset whose credits read no computed result never evaluates the deals for pay.
    engine.load(SPIFF_RAMP).evaluate(**tables([{**deal, "product": "X"}]), period="2026-03")
    assert calls == [1]


def test_a_credit_on_the_playbook_pays_the_same_on_both_paths() -> None:
    program = engine.load_text(RULESET + plan("status == won and playbook == shore_up"), "t.krl")
    won = {"rep_id": "A1", "status": "won", "close_date": "2026-02-10", "letters": 0}
    given_tables = tables(
        [
            # 50,000: MEDDPICC 1 without a champion, unqualified: shore_up, credited.
            {**won, "id": "P1", "amount": "50000", "letters": 1, "champion": "non"},
            # 30,000: 2 + 6 = 8 with a champion, qualified: no playbook.
            {**won, "id": "P2", "amount": "30000", "letters": 2, "champion": "oui"},
            # 10,000: BANT without a budget, unqualified: shore_up, credited; with one, not.
            {**won, "id": "P3", "amount": "10000", "budget_ok": "non"},
            {**won, "id": "P4", "amount": "10000", "budget_ok": "oui"},
        ]
    )
    # 1% of 50,000 + 10,000 = 600.00, on both paths.
    paid = program.evaluate(**given_tables, period="2026-Q1")
    assert paid.payouts["payout"].tolist() == ["600.00"]
    found, _ = program.pay_each(program.validate(**given_tables), parse_period("2026-Q1"))
    (payment,) = found
    assert payment.outcome.payout is not None
    assert [d.deal_id for d in payment.outcome.payout.deals["m"]] == ["P1", "P3"]
    assert str(payment.outcome.payout.payout) == "600.00"


BOOLEANS = st.sampled_from(["oui", "non", None])
QUESTIONS = (
    "budget_ok", "pain_identified", "metrics_ok", "economic_buyer", "champion", "decision_process",
)  # fmt: skip


@st.composite
def deals(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for number in range(draw(st.integers(0, 12))):
        found.append(
            {
                "id": f"D{number}",
                "rep_id": draw(st.sampled_from(["A1", "A1", "A1", None])),
                "status": draw(st.sampled_from(["won", "won", "lost", "open"])),
                "close_date": draw(st.sampled_from(["2026-02-10", "2026-05-01", None])),
                "amount": draw(st.sampled_from(["10000", "19999.99", "20000", "50000", None])),
                **{name: draw(BOOLEANS) for name in QUESTIONS},
            }
        )
    return found


@pytest.fixture(scope="module")
def qualified() -> engine.Program:
    return engine.load(QUALIFIED)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=deals())
def test_both_pay_paths_agree_on_credits_reading_the_qualification(
    qualified: engine.Program, drawn: list[dict[str, Any]]
) -> None:
    given_tables = tables(drawn)
    results = qualified.evaluate(**given_tables, period="2026-H1", as_of=dt.date(2026, 3, 31))
    table = sorted(
        (plain(row) for row in results.payouts.to_dict("records")),
        key=lambda r: (r["rep_id"], r["period"]),
    )
    inputs = qualified.validate(**given_tables)
    found, _ = qualified.pay_each(inputs, parse_period("2026-H1"))
    reference = sorted(
        (plain(payout_row(p.outcome.payout)) for p in found if p.outcome.payout is not None),
        key=lambda r: (r["rep_id"], r["period"]),
    )
    assert table == reference
    # The deals left out agree too (one whose qualification cannot be decided is reported).
    issues = {i.reason for p in found for i in p.outcome.issues}
    messages = [str(m) for m in results.errors["message"].tolist()]
    assert {m[m.index(": deal ") + 2 :] for m in messages if ": deal " in m} == issues
