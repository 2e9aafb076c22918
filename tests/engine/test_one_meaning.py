"""One meaning for the language: what `koncept check` accepts, the engine loads, evaluates on both
paths alike and pays. One test per way the engine used to decide the language a second time
(a second typer, period parser, pay loop, first-match or band test)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import engine
from dsl.parser import parse
from dsl.source import SourceFile
from dsl.workspace import check_sources
from engine.cli.main import main
from engine.testing import run

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
HEADER = 'ruleset t "T" { currency EUR }\n'


def checked(text: str) -> list[tuple[str, str]]:
    """(code, message) of every finding of a one-file ruleset."""
    loaded = check_sources(Path("."), [SourceFile("t.krl", text)])
    return [(d.code, d.message) for d in loaded.diagnostics]


def table(text: str) -> pd.DataFrame:
    """A table of text cells, as read from a CSV file."""
    lines = [line.split(",") for line in textwrap.dedent(text).strip().splitlines()]
    return pd.DataFrame(
        {name: [row[i] or None for row in lines[1:]] for i, name in enumerate(lines[0])},
        dtype=object,
    )


QUOTA_FORMULA = (
    HEADER
    + """
role AE { plan p }
plan p for AE {
  period quarter
  measure bookings {
    credit amount of deals where status == won
    quota formula max(100K, 250K EUR * territory.potential)
    rates on attainment method retroactive { [0%, 100%) 5% [100%, ...) 10% }
  }
}
"""
)


def test_a_quota_formula_with_a_function_and_a_link_checks_and_pays() -> None:
    assert checked(QUOTA_FORMULA) == []
    program = engine.load_text(QUOTA_FORMULA)
    results = program.evaluate(
        deals=table("""
            id,rep_id,amount,close_date,status
            D1,A1,300000,2026-02-01,won
            D2,A2,90000,2026-02-01,won
            D3,A3,90000,2026-02-01,won
        """),
        reps=table("""
            id,role,territory
            A1,AE,north
            A2,AE,south
            A3,AE,
        """),
        territories=table("""
            id,potential
            north,1.2
            south,0.2
        """),
        period="2026-Q1",
    )
    paid = {row.rep_id: row for row in results.payouts.itertuples()}
    # north: max(100K, 300K) = 300K, exactly 100% -> 10% of 300K; south: max(100K, 50K).
    assert paid["A1"].measures[0]["quota"] == "300000.00"
    assert paid["A1"].payout == "30000.00"
    assert paid["A2"].measures[0]["quota"] == "100000.00"
    assert paid["A2"].payout == "4500.00"
    # A rep without a territory has no quota: reported, never paid a silent 0.
    assert "A3" not in paid
    reasons = results.errors["message"].tolist()
    assert any("no quota for bookings: the rep has no territory" in r for r in reasons)


def test_attainment_is_refused_in_a_quota_formula() -> None:
    text = QUOTA_FORMULA.replace(
        "max(100K, 250K EUR * territory.potential)", "100K * attainment(bookings)"
    )
    assert checked(text) == [("E214", "`attainment` is not available here")]


def test_a_duration_before_a_date_is_a_date_on_both_paths() -> None:
    text = HEADER + "alert late on deal when 14d + created_at < close_date severity warning\n"
    assert checked(text) == []
    program = engine.load_text(text)
    deal = {"id": "D1", "status": "open", "created_at": "2026-01-01", "close_date": "2026-01-20"}
    assert program.evaluate_deal(deal, dt.date(2026, 3, 1)).alerts == ("late",)
    results = program.evaluate(deals=pd.DataFrame([deal]), as_of=dt.date(2026, 3, 1))
    assert results.alerts[["kind", "subject", "id"]].values.tolist() == [["alert", "late", "D1"]]


def test_a_date_moved_by_a_part_of_a_day_moves_by_whole_days_on_both_paths() -> None:
    text = HEADER + "alert soon on deal when created_at + 30d / 4 >= close_date\n"
    assert checked(text) == []
    program = engine.load_text(text)
    deals = [
        {"id": "D7", "status": "open", "created_at": "2026-01-01", "close_date": "2026-01-08"},
        {"id": "D8", "status": "open", "created_at": "2026-01-01", "close_date": "2026-01-09"},
    ]
    record = [bool(program.evaluate_deal(d, dt.date(2026, 3, 1)).alerts) for d in deals]
    found = program.evaluate(deals=pd.DataFrame(deals), as_of=dt.date(2026, 3, 1))
    assert record == [True, False]  # 7.5 days move the date by 7
    assert found.alerts["id"].tolist() == ["D7"]


def test_a_bad_period_is_refused_once_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(RULESETS / "fintech"), "--demo", "50", "--period", "20261"])
    assert code == 2
    assert "'20261' is not a period" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is not a period"):
        engine.load(RULESETS / "fintech").evaluate(period="20261")


def test_a_plan_without_effective_dates_is_paid_alike_by_both_paths(tmp_path: Path) -> None:
    (tmp_path / "main.krl").write_text(
        HEADER
        + "role AE { plan p }\n"
        + "plan p for AE { period quarter\n"
        + "  measure m { credit amount of deals where status == won commission 5% } }\n",
        encoding="utf-8",
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "pay.yaml").write_text(
        textwrap.dedent("""
            ruleset: ..
            cases:
              - name: paid on the quarters of the deals, without a period
                reps: [{id: A1, role: AE}]
                deals: [{id: D1, rep_id: A1, amount: 1000, close_date: 2026-02-01, status: won}]
                want:
                  payouts: [{rep_id: A1, plan: p, period: 2026-Q1, payout: "50.00"}]
        """),
        encoding="utf-8",
    )
    report = run([tmp_path / "tests"])
    assert [(r.status, r.message) for r in report.results] == [("pass", "")]


def test_two_scores_on_one_record_need_a_qualification() -> None:
    text = HEADER + (
        "score a on lead { c { when true -> 1 } status { hot when score > 0 } }\n"
        "score b on lead { c { when true -> 2 } status { hot when score > 0 } }\n"
    )
    assert checked(text) == [
        ("E215", "2 scores on lead (a, b) and no `qualify lead`"),
        ("E215", "2 scores on lead (a, b) and no `qualify lead`"),
    ]
    routed = text + "qualify lead { use b when true use a otherwise }\n"
    assert checked(routed) == []
    assert engine.load_text(routed).evaluate_lead({"id": "L1"}).score == 2


def test_a_lone_deal_score_scores_every_deal() -> None:
    text = HEADER + "score q on deal { c { when amount > 10 -> 1 otherwise -> 0 } }\n"
    program = engine.load_text(text)
    deal = {"id": "D1", "status": "open", "amount": "20"}
    assert program.evaluate_deal(deal).qualification_score == 1
    assert program.evaluate(deals=pd.DataFrame([deal])).deals["framework"].tolist() == ["q"]


@pytest.mark.parametrize("ruleset", ["contech-saas", "fintech", "services-b2b"])
def test_statement_reads_a_folder_written_by_koncept_demo(
    ruleset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", str(RULESETS / ruleset), "--out", str(tmp_path), "--leads", "50"]) == 0
    assert (tmp_path / "leads.csv").is_file()
    reps = pd.read_csv(tmp_path / "reps.csv", dtype=str)
    rep = reps["id"].iloc[0]
    capsys.readouterr()
    code = main(
        ["statement", str(RULESETS / ruleset), "--rep", rep, "--period", "2026-Q1",
         "--data", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert "Traceback" not in err
    assert out.startswith("Relevé de rémunération variable")


def test_seventy_stages_lose_no_stage_on_the_table_path() -> None:
    stages = "".join(f'  stage s{i} {{ exit e{i} "E": contacts > {i} }}\n' for i in range(70))
    text = HEADER + f"pipeline p on deal {{\n{stages}}}\n"
    assert checked(text) == []
    program = engine.load_text(text)
    deal = {"id": "D1", "status": "open", "stage": "s64", "contacts": "62"}
    one = program.evaluate_deal(deal, dt.date(2026, 1, 1))
    row = program.evaluate(deals=pd.DataFrame([deal]), as_of=dt.date(2026, 1, 1)).deals.iloc[0]
    assert one.skipped == ("s62", "s63")
    assert tuple(row["skipped"]) == one.skipped
    assert tuple(row["missing"]) == one.missing == ("e64",)


def test_coverage_of_routed_lead_scores_comes_from_the_evaluator(tmp_path: Path) -> None:
    (tmp_path / "main.krl").write_text(
        HEADER
        + "record lead { size integer }\n"
        + "score small on lead { fit { when size < 10 -> 5 otherwise -> 1 } }\n"
        + "score large on lead { fit { when size > 100 -> 9 otherwise -> 3 } }\n"
        + "qualify lead { use small when size < 50 use large otherwise }\n",
        encoding="utf-8",
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "leads.yaml").write_text(
        textwrap.dedent("""
            ruleset: ..
            cases:
              - name: size $size scores $score
                lead: {id: L1, size: $size}
                want: {lead: {score: $score}}
                columns: [size, score]
                rows: [[5, 5], [20, 1], [200, 9], [60, 3]]
        """),
        encoding="utf-8",
    )
    report = run([tmp_path / "tests"], with_coverage=True)
    assert {r.status for r in report.results} == {"pass"}
    (coverage,) = report.coverage
    assert coverage.uncovered() == []
    assert coverage.percent == 100.0


def test_traces_name_the_case_and_route_that_decided() -> None:
    program = engine.load(RULESETS / "contech-saas")
    lead = {"id": "L1", "budget": "confirmed", "sector": "industrie", "timing_months": "4"}
    result, trace = program.trace_lead(lead)
    assert trace.score == "bmanter"
    assert trace.cases["budget"] == 0  # `confirmed -> 20`, the first case
    assert trace.cases["timing"] == 1  # `when timing_months in 3..6 -> 8`
    assert trace.cases["authority"] is None  # undecided: missing
    assert result.points["timing"] == 8


def test_a_label_in_quotes_stands_for_its_option() -> None:
    text = HEADER + (
        'record deal { feedback one_of good "Positif", bad "Négatif" }\n'
        'alert liked on deal when feedback == "Positif"\n'
    )
    assert checked(text) == []
    program = engine.load_text(text)
    deal = {"id": "D1", "status": "open", "feedback": "good"}
    assert program.evaluate_deal(deal).alerts == ("liked",)
    assert program.evaluate(deals=pd.DataFrame([deal])).alerts["id"].tolist() == ["D1"]


def test_credit_of_leads_is_refused_at_check_time() -> None:
    text = HEADER + (
        "role SDR { plan p }\nplan p for SDR { period quarter\n"
        "  measure m { credit count of leads per_unit 10 } }\n"
    )
    assert checked(text) == [("E214", "`credit ... of leads` is not available: pay credits deals")]


def test_an_unknown_ritual_report_is_e213_as_documented() -> None:
    text = HEADER + "ritual r every week { show stale_deal }\n"
    assert checked(text) == [("E213", "unknown report or KPI `stale_deal`")]


def test_exit_criteria_cannot_read_what_they_decide() -> None:
    text = HEADER + 'pipeline p on deal { stage a { exit e "E": not stale } }\n'
    assert checked(text) == [("E214", "`stale` is not available here")]


def test_exit_criteria_may_read_the_weighted_value_on_both_paths() -> None:
    text = HEADER + (
        'pipeline p on deal { stage a { probability 50%  exit big "B": weighted_value > 10K } }\n'
    )
    program = engine.load_text(text)
    deal = {"id": "D1", "status": "open", "stage": "a", "amount": "30000"}
    assert program.evaluate_deal(deal).exit_ready is True
    assert program.evaluate(deals=pd.DataFrame([deal])).deals["exit_ready"].tolist() == [True]


def test_overlapping_playbooks_give_none_and_say_so() -> None:
    text = HEADER + (
        "playbook big on deal when amount > 100K { require x: true }\n"
        "playbook new on deal when type == new_logo { require y: true }\n"
        "playbook other on deal { require z: true }\n"
    )
    program = engine.load_text(text)
    deals = [
        {"id": "D1", "status": "open", "type": "new_logo", "amount": "200000"},
        {"id": "D2", "status": "open", "type": "upsell", "amount": "200000"},
        {"id": "D3", "status": "open", "type": "upsell", "amount": "20"},
    ]
    record = [program.evaluate_deal(d) for d in deals]
    assert [(r.playbook, r.playbook_conflict) for r in record] == [
        (None, ("big", "new")), ("big", ()), ("other", ()),
    ]  # fmt: skip
    found = program.evaluate(deals=pd.DataFrame(deals))
    assert found.deals["playbook"].tolist() == [None, "big", "other"]
    assert [tuple(c) for c in found.deals["playbook_conflict"]] == [("big", "new"), (), ()]
    assert found.alerts[["kind", "id"]].values.tolist() == [["playbook_conflict", "D1"]]


@pytest.mark.parametrize(
    "folder",
    # Marketo: two scores on leads, a status reading both, a KPI and an alert reading them.
    [RULESETS / "contech-saas", Path(__file__).resolve().parent / "marketo"],
    ids=["contech-saas", "marketo"],
)
def test_declaration_order_and_files_change_no_result(tmp_path: Path, folder: Path) -> None:
    source = folder.glob("*.krl")
    declarations: list[str] = []
    for path in sorted(source):
        parsed = parse(SourceFile(str(path), path.read_text(encoding="utf-8")))
        assert parsed.module is not None
        text = path.read_text(encoding="utf-8")
        for decl in parsed.module.declarations:
            declarations.append(text[decl.span.start : decl.span.end])
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()
    # contech-saas extends the house template: both orders start from the same one.
    shutil.copytree(RULESETS / "house", tmp_path / "house")
    (one / "all.krl").write_text("\n\n".join(declarations), encoding="utf-8")
    for i, text in enumerate(reversed(declarations)):
        (other / f"z{i:03d}.krl").write_text(text, encoding="utf-8")
    first, second = engine.load(one), engine.load(other)
    from engine.demo import demo_tables

    tables, year = demo_tables(first, 300, 300, seed=3)
    as_of = dt.date(year, 12, 31)
    a = first.evaluate(**tables, as_of=as_of, period=f"{year}-Q2")
    b = second.evaluate(**tables, as_of=as_of, period=f"{year}-Q2")
    for name in ("leads", "deals", "funnel", "payouts", "budget", "errors"):
        left = getattr(a, name).astype(str).sort_values(list(getattr(a, name).columns))
        right = getattr(b, name).astype(str).sort_values(list(getattr(b, name).columns))
        assert left.reset_index(drop=True).equals(right.reset_index(drop=True)), name
    assert sorted(map(str, a.kpis.values.tolist())) == sorted(map(str, b.kpis.values.tolist()))
    assert sorted(map(str, a.alerts.values.tolist())) == sorted(map(str, b.alerts.values.tolist()))


def test_the_library_has_no_import_cycle_and_never_imports_the_cli() -> None:
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", "pyproject.toml"],
        cwd=RULESETS.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_money_of_a_quota_formula_is_rounded_like_a_payout() -> None:
    program = engine.load_text(QUOTA_FORMULA.replace("max(100K, 250K EUR * territory.potential)",
                                                     "100K EUR / 3"))  # fmt: skip
    results = program.evaluate(
        deals=table("id,rep_id,amount,close_date,status\nD1,A1,1000,2026-02-01,won\n"),
        reps=table("id,role\nA1,AE\n"),
        period="2026-Q1",
    )
    quota = results.payouts["measures"].iloc[0][0]["quota"]
    assert Decimal(quota) == Decimal("33333.33")
