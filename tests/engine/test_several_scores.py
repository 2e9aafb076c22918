"""Several scores per record, and the results computed on each record read downstream (issue 11):
a status reads any score of its record (`fit.score >= 30 and behavior.score >= 50`), and KPIs,
alerts and playbooks read the lead's status, each score, the deal's qualification and playbook.
Both evaluators (and the generated lead function) compute every score first, then the statuses,
then what reads them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import engine
from dsl.source import SourceFile
from dsl.workspace import check_sources
from engine.codegen import lead_function
from engine.explain import explain_lead
from engine.record import DealEvaluator, LeadEvaluator
from engine.testing import run

MARKETO = Path(__file__).resolve().parent / "marketo"
HEADER = 'ruleset t "T" { currency EUR }\n'
AS_OF = dt.date(2026, 3, 31)

#: The two leads of the issue's Marketo example.
HOT = {
    "id": "A",
    "employees": "300",
    "role": "influencer",
    "pricing_visits": "2",
    "demo_requested": "oui",
    "webinar_attended": "non",
}
SMALL = {**HOT, "id": "B", "employees": "60", "role": "user", "pricing_visits": "5"}


@pytest.fixture(scope="module")
def marketo() -> engine.Program:
    return engine.load(MARKETO)


def findings(text: str) -> list[tuple[str, int, str, str | None]]:
    """(code, line, message, help) of every finding of a one-file ruleset."""
    loaded = check_sources(Path("."), [SourceFile("t.krl", text)])
    return [(d.code, d.span.line, d.message, d.help) for d in loaded.diagnostics]


# ----------------------------------------------------------------------------- Marketo
def test_the_marketo_example_scores_fit_and_behavior_on_every_path(
    marketo: engine.Program,
) -> None:
    want = [
        ("A", 55, "MQL", {"fit": 40, "behavior": 55}),
        ("B", 70, "nurture", {"fit": 15, "behavior": 70}),
    ]
    reference = LeadEvaluator(marketo.compiled)
    generated = lead_function(marketo.compiled, reference.reader)
    assert generated is not None  # the generated function writes several scores too
    for evaluate in (marketo.evaluate_lead, reference, generated):
        found = [evaluate(lead) for lead in (HOT, SMALL)]
        assert [(r.id, r.score, r.status, dict(r.scores)) for r in found] == want
    leads = marketo.evaluate(leads=pd.DataFrame([HOT, SMALL], dtype=object)).leads
    assert leads[["id", "score", "status"]].values.tolist() == [[i, s, t] for i, s, t, _ in want]
    assert [dict(m) for m in leads["scores"]] == [m for *_, m in want]


def test_the_marketo_fixtures_pass_on_both_paths_with_full_coverage() -> None:
    report = run([MARKETO], with_coverage=True)
    assert report.ok and len(report.results) == 12
    (coverage,) = report.coverage
    assert coverage.percent == 100  # FIT's cases too, though BEHAVIOR qualifies the leads


def test_an_undecided_criterion_of_another_score_counts_zero_in_a_status(
    marketo: engine.Program,
) -> None:
    # FIT's size is undecided (employees missing): 0 points, so FIT is 10 < 30: nurture.
    lead = {**HOT, "employees": None}
    assert marketo.evaluate_lead(lead).status == "nurture"
    table = marketo.evaluate(leads=pd.DataFrame([lead], dtype=object)).leads
    assert table["status"].tolist() == ["nurture"]
    assert dict(table["scores"][0]) == {"fit": 10, "behavior": 55}


def test_explain_shows_each_score_and_what_the_status_read(marketo: engine.Program) -> None:
    text = explain_lead(marketo, HOT)
    assert text.splitlines()[0] == "Lead A : MQL (FIT 40 ≥ 30 et BEHAVIOR 55 ≥ 50)."
    assert "  Score BEHAVIOR : 55 / 80" in text.splitlines()
    assert "  Score FIT : 40 / 50" in text.splitlines()
    assert "    Taille : 30 (employees = 300 ; employees ≥ 250)" in text.splitlines()


# ----------------------------------------------------------------------------- downstream
DEALS = (
    HEADER
    + """
record deal { letters integer 0..4  budget_ok boolean }
score bant "BANT" on deal max 1 {
  budget { when budget_ok -> 1 }
  status { qualified when score >= 1  unqualified otherwise }
}
score meddpicc "MEDDPICC" on deal max 4 {
  letters -> letters
  status { strong when score >= 3  weak otherwise }
}
qualify deal { use bant when amount < 50K  use meddpicc otherwise }
playbook shore_up "Renforcer la qualification" on deal when qualification_status == weak {
  require champion: meddpicc.letters >= 2
}
alert weak_large "Gros deal, MEDDPICC faible" on deal
  when amount > 100K and qualification_status == weak
alert in_shore_up on deal when playbook == shore_up and framework == meddpicc
kpi weak_share on deal = count(qualification_status == weak) / count()
kpi mean_meddpicc on deal = mean(meddpicc.score where framework == meddpicc)
kpi mean_qualification on deal = mean(qualification_score)
"""
)


def test_deal_results_are_read_by_playbooks_alerts_and_kpis_alike_on_both_paths() -> None:
    program = engine.load_text(DEALS)
    deals = [
        {"id": "D1", "status": "open", "amount": "200000", "letters": "1", "budget_ok": "true"},
        {"id": "D2", "status": "open", "amount": "200000", "letters": "3"},
        {"id": "D3", "status": "open", "amount": "80000", "letters": "2"},
        {"id": "D4", "status": "open", "amount": "20000", "letters": "0", "budget_ok": "true"},
    ]
    evaluate = DealEvaluator(program.compiled)
    record = [evaluate(d, AS_OF) for d in deals]
    assert [(r.framework, r.qualification_status, r.playbook, r.alerts) for r in record] == [
        ("meddpicc", "weak", "shore_up", ("weak_large", "in_shore_up")),
        ("meddpicc", "strong", None, ()),
        ("meddpicc", "weak", "shore_up", ("in_shore_up",)),
        ("bant", "qualified", None, ()),
    ]
    # Every score on every deal: BANT is 1 on D1 though MEDDPICC qualifies it.
    assert [dict(r.scores) for r in record] == [
        {"bant": 1, "meddpicc": 1}, {"bant": 0, "meddpicc": 3},
        {"bant": 0, "meddpicc": 2}, {"bant": 1, "meddpicc": 0},
    ]  # fmt: skip
    assert [r.playbook_missing for r in record] == [("champion",), (), (), ()]
    found = program.evaluate(deals=pd.DataFrame(deals, dtype=object), as_of=AS_OF)
    table = found.deals
    assert table["playbook"].tolist() == [r.playbook for r in record]
    assert [dict(m) for m in table["scores"]] == [dict(r.scores) for r in record]
    raised = found.alerts[["subject", "id"]].values.tolist()
    assert sorted(raised) == [["in_shore_up", "D1"], ["in_shore_up", "D3"], ["weak_large", "D1"]]
    kpis = dict(found.kpis[["kpi", "value"]].values.tolist())
    assert kpis == {"weak_share": 0.5, "mean_meddpicc": 2.0, "mean_qualification": 1.75}


def test_lead_kpis_and_alerts_read_the_status_and_the_scores(marketo: engine.Program) -> None:
    leads = [HOT, SMALL, {**SMALL, "id": "C", "employees": "10", "pricing_visits": "1"}]
    found = marketo.evaluate(leads=pd.DataFrame(leads, dtype=object))
    assert found.kpis[["kpi", "value", "met"]].values.tolist() == [["mql_rate", 1 / 3, True]]
    # C: behavior 15 + 40 = 55 >= 50 and a size of 5 points (10 employees).
    assert found.alerts[["subject", "id"]].values.tolist() == [["hot_but_small", "C"]]
    assert marketo.evaluate_lead(leads[2]).alerts == ("hot_but_small",)


def test_a_lead_with_scores_and_no_route_has_no_status_to_read() -> None:
    text = HEADER + (
        "record lead { employees integer }\n"
        "score a on lead { c { when employees > 10 -> 5 } status { big when score > 0 } }\n"
        "score b on lead { c { when employees > 100 -> 5 } }\n"
        "qualify lead { use a when employees > 0 }\n"
        "alert none on lead when status is missing\n"
    )
    program = engine.load_text(text)
    result = program.evaluate_lead({"id": "L", "employees": "0"})
    assert (result.score, result.status, dict(result.scores)) == (None, None, {"a": 0, "b": 0})
    assert result.alerts == ("none",)
    table = program.evaluate(leads=pd.DataFrame([{"id": "L", "employees": "0"}], dtype=object))
    assert table.alerts["subject"].tolist() == ["none"]


# ----------------------------------------------------------------------------- check
def test_a_lead_status_cannot_read_a_deal_score() -> None:
    text = DEALS + (
        "record lead { employees integer }\n"
        "score fit on lead { size { when employees > 10 -> 5 } status {\n"
        "  hot when meddpicc.score >= 3\n"
        "  cold otherwise } }\n"
    )
    assert findings(text) == [
        (
            "E214",
            24,
            "`meddpicc` is a score on deal, not on lead",
            "an expression on lead reads the scores of its lead: `fit.score`",
        )
    ]


def test_an_unknown_score_or_criterion_is_named_with_a_suggestion() -> None:
    status = "fitt.score >= 30 and behavior.score >= 50"
    text = (MARKETO / "main.krl").read_text(encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if 'MQL "' in t)
    wrong = text.replace("fit.score >= 30 and behavior.score >= 50", status)
    assert findings(wrong) == [("E203", line, "unknown score `fitt`", "did you mean `fit`?")]
    wrong = text.replace("fit.size <= 5", "fit.sise <= 5")
    assert [f[0::2] for f in findings(wrong)] == [("E201", "score `fit` has no criterion `sise`")]
    assert findings(wrong)[0][3] == "did you mean `size`?"
    assert findings(text.replace("fit.size <= 5", "fot.score <= 5"))[0][0:3:2] == (
        "E203",
        "unknown score `fot`",
    )


@pytest.mark.parametrize(
    ("place", "why"),
    [
        (
            "score s on lead { c { when fit.score > 1 -> 1 } }\nqualify lead { use s otherwise }",
            "a criterion scores the record's own fields; a status reads the scores "
            "(`fit.score >= 30 and behavior.score >= 50`)",
        ),
        (
            "qualify lead { use fit when fit.score > 1 use fit otherwise }",
            "the route picks the score that qualifies the record: it reads the record's fields",
        ),
    ],
)
def test_a_score_cannot_read_what_is_computed_from_scores(place: str, why: str) -> None:
    text = HEADER + (
        "record lead { employees integer }\n"
        "score fit on lead { size { when employees > 10 -> 5 } status { hot when score > 1 } }\n"
        + place
        + "\n"
    )
    found = [f for f in findings(text) if f[0] == "E214"]
    assert found == [("E214", 4, "`fit.score` is not available here", why)]


def test_a_status_cannot_read_the_status() -> None:
    text = HEADER + (
        "record lead { employees integer }\n"
        "score fit on lead { size { when employees > 10 -> 5 } status {\n"
        "  hot when status == cold\n"
        "  cold otherwise } }\n"
    )
    assert findings(text) == [
        (
            "E214",
            4,
            "`status` is not available here",
            "it is decided by the statuses; a status reads the scores (`fit.score`)",
        )
    ]


def test_exit_criteria_cannot_read_the_qualification_and_credits_can() -> None:
    text = DEALS + (
        'pipeline p on deal { stage a { exit e "E": qualification_status == strong } }\n'
        "role AE { plan x }\n"
        "plan x for AE { period quarter  target_variable 1000 per quarter\n"
        "  measure m { credit amount of deals where playbook == shore_up  commission 1% } }\n"
    )
    found = [(code, line, message) for code, line, message, _ in findings(text)]
    # A credit reads the playbook: nothing deciding it changes with the day (tests in
    # test_credit_results.py for those that do).
    assert found == [("E214", 22, "`qualification_status` is not available here")]


def test_a_playbook_cannot_read_the_playbook_and_a_kpi_reads_inside_an_aggregate() -> None:
    text = DEALS + (
        "playbook other on deal when playbook == shore_up { require x: true }\n"
        "kpi bare on deal = qualification_score\n"
    )
    found = [(code, line, message, why) for code, line, message, why in findings(text)]
    assert ("E214", 22, "`playbook` is not available here", "it is what the playbooks decide") in (
        found
    )
    assert (
        "E214",
        23,
        "`qualification_score` is a field of each deal; a KPI reads it inside an aggregate",
        "e.g. sum(qualification_score), mean(qualification_score) or "
        "count(qualification_score is not missing)",
    ) in found


def test_a_field_cannot_take_the_name_of_a_computed_result() -> None:
    text = HEADER + (
        "record lead { status one_of new, old  employees integer }\n"
        "score fit on lead { score { when employees > 10 -> 5 } }\n"
    )
    found = [(code, line, message) for code, line, message, _ in findings(text)]
    assert ("E207", 2, "`status` is computed on each lead: a field cannot take its name") in found
    assert ("E207", 3, "a criterion cannot be called `score`") in found
    # Without a lead score, a lead `status` is the client's own field (services-b2b).
    assert findings(HEADER + "record lead { status one_of new, old }\n") == []


def test_a_comparison_with_a_status_takes_its_options_and_labels() -> None:
    text = (MARKETO / "main.krl").read_text(encoding="utf-8")
    assert findings(text.replace("status == MQL", 'status == "Marketing Qualified Lead"')) == []
    wrong = findings(text.replace("status == MQL", "status == mql"))
    assert [(code, message, why) for code, _, message, why in wrong] == [
        ("E209", "unknown value `mql` for `status`", "did you mean `MQL`?")
    ]


def test_a_definition_reading_a_status_serves_kpis_and_is_refused_in_a_criterion() -> None:
    text = HEADER + (
        "record lead { employees integer }\n"
        'define hot "Chaud" on lead = status == big\n'
        "score fit on lead { size { when employees > 10 -> 5 } status { big when score > 0 } }\n"
        "kpi hot_share on lead = count(hot) / count()\n"
    )
    assert findings(text) == []
    program = engine.load_text(text)
    leads = pd.DataFrame({"id": ["A", "B"], "employees": ["50", "5"]}, dtype=object)
    assert program.evaluate(leads=leads).kpis["value"].tolist() == [0.5]
    wrong = (
        text + "score other on lead { c { when hot -> 1 } }\nqualify lead { use fit otherwise }\n"
    )
    assert [f[:3] for f in findings(wrong) if f[0] == "E214"] == [
        ("E214", 3, "`status` is not available here")
    ]
