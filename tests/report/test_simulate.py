"""`koncept simulate`: pay curves from the engine's own pay, cost at a distribution, the FinTech
comparison (5% flat vs steps from 80%), what-if edits and git revisions, and the HTML opened in
a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import engine
from engine.cli.main import main
from engine.simulate import (
    SimulationError,
    attainment_grid,
    observed_quotas,
    parse_edit,
    pay_curve,
    reference_quotas,
)
from tests.report.browser import assert_drawn_offline, open_page

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
CLIENTS = sorted(p.name for p in RULESETS.iterdir() if p.is_dir())


def sim_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["simulate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    return code, out, err


def sim_table(text: str) -> pd.DataFrame:
    """A table of text cells, as read from a CSV file."""
    lines = [line.split(",") for line in textwrap.dedent(text).strip().splitlines()]
    return pd.DataFrame(
        {name: [row[i] or None for row in lines[1:]] for i, name in enumerate(lines[0])},
        dtype=object,
    )


def sim_json(path: Path) -> dict[str, Any]:
    """The tables of a JSON report by id."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {t["id"]: t for s in document["sections"] for t in s["tables"]}


# ----------------------------------------------------------------------------- curves
def test_the_curve_is_what_the_engine_pays_a_rep_at_80_100_and_150_percent() -> None:
    """Three reps on a 100,000 quota at exactly 80%, 100% and 150%: `Program.evaluate` pays each
    what the curve says at that attainment, on both FinTech plans."""
    program = engine.load(RULESETS / "fintech")
    reps = sim_table("""
        id,role
        A80,AE
        A100,AE
        A150,AE
    """)
    quotas = sim_table("""
        rep_id,period,measure,quota
        A80,2026-Q1,bookings,100000
        A100,2026-Q1,bookings,100000
        A150,2026-Q1,bookings,100000
    """)
    deals = sim_table("""
        id,rep_id,amount,close_date,status
        D1,A80,50000,2026-01-10,won
        D2,A80,30000,2026-02-10,won
        D3,A100,100000,2026-03-01,won
        D4,A150,150000,2026-03-31,won
        D5,A150,90000,2026-03-31,lost
    """)
    results = program.evaluate(deals=deals, reps=reps, quotas=quotas, period="2026-Q1")
    paid = {(r.rep_id, r.plan): Decimal(r.payout) for r in results.payouts.itertuples()}
    observed = observed_quotas(results)
    assert observed == {"bookings": Decimal("100000.00")}
    grid = attainment_grid()
    for plan_name in ("fintech_after", "fintech_before"):
        plan = program.book.plans[plan_name]
        curve = pay_curve(plan, reference_quotas(plan, observed, {}), grid)
        for rep, level in (("A80", "0.8"), ("A100", "1"), ("A150", "1.5")):
            assert curve.at(Decimal(level)).total == paid[(rep, plan_name)], (plan_name, rep)
    # The brief's figures: exactly 80% -> 3,750.00; 150% -> 100% + 2 x 50% = 15,000.00.
    after = {rep: paid[(rep, "fintech_after")] for rep in ("A80", "A100", "A150")}
    assert after == {"A80": Decimal("3750.00"), "A100": Decimal("7500.00"),
                     "A150": Decimal("15000.00")}  # fmt: skip


def test_a_three_measure_curve_matches_the_engine_on_each_measure() -> None:
    """ConTech's AE plan (three measures on a curve, weights 60/30/10): a rep at 80%, 100% and
    150% of every quota is paid by the engine what the curve shows, measure by measure."""
    program = engine.load(RULESETS / "contech-saas")
    measures = {"new_logo": 100_000, "upsell": 50_000, "renewal": 20_000}
    levels = {"R80": Decimal("0.8"), "R100": Decimal("1"), "R150": Decimal("1.5")}
    reps = pd.DataFrame({"id": list(levels), "role": ["AE"] * 3}, dtype=object)
    quotas = pd.DataFrame(
        [(rep, "2026-Q2", m, str(q)) for rep in levels for m, q in measures.items()],
        columns=["rep_id", "period", "measure", "quota"],
        dtype=object,
    )
    deals = pd.DataFrame(
        [
            (f"{rep}-{m}", rep, m, str(level * q), "2026-05-15", "won")
            for rep, level in levels.items()
            for m, q in measures.items()
        ],
        columns=["id", "rep_id", "type", "amount", "close_date", "status"],
        dtype=object,
    )
    results = program.evaluate(deals=deals, reps=reps, quotas=quotas, period="2026-Q2")
    plan = program.book.plans["ae_2026"]
    curve = pay_curve(plan, reference_quotas(plan, observed_quotas(results), {}), attainment_grid())
    for row in results.payouts.itertuples():
        point = curve.at(levels[row.rep_id])
        assert point.total == Decimal(row.payout)
        assert list(point.measures) == [Decimal(m["payout"]) for m in row.measures]
    # 80%: 50% of each measure's target (6,000 / 3,000 / 1,000 a quarter) -> 5,000.00.
    assert curve.at(Decimal("0.8")).total == Decimal("5000.00")


def test_a_3_measure_curve_in_1_percent_steps_is_fast() -> None:
    import time

    program = engine.load(RULESETS / "contech-saas")
    plan = program.book.plans["ae_2026"]
    started = time.perf_counter()
    curve = pay_curve(plan, reference_quotas(plan, {}, {}), attainment_grid())
    assert len(curve.points) == 201 and len(curve.points[0].measures) == 3
    assert time.perf_counter() - started < 1.0


# ----------------------------------------------------------------------------- FinTech
def test_fintech_flat_vs_steps_on_the_same_distribution_with_each_budget_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table distribution (80% twice, 100%, 120%) on a 250,000 quota, computed by hand from
    the brief: steps pay (2 x 3,750 + 7,500 + 10,500) / 4 = 6,375.00, 85% of the 7,500 target;
    5% flat pays 5% x 250,000 x 3.8 / 4 = 11,875.00, 158.33% of the same budget."""
    table = tmp_path / "attainments.csv"
    table.write_text("attainment;weight\n80 %;2\n100 %;1\n120%;1\n", encoding="utf-8")
    out = tmp_path / "fintech.json"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--compare",
        "fintech_before", "--distribution", str(table), "--quota", "bookings=250K",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    costs = {row["plan"]: row for row in sim_json(out)["costs"]["rows"]}
    after, before = costs["fintech_after"], costs["fintech_before"]
    assert (after["expected"], after["ratio"]) == ("6375.00", 0.85)
    assert after["budget_source"] == "variable cible du plan" and after["over"] == "non"
    assert before["expected"] == "11875.00"
    assert before["ratio"] == pytest.approx(11875 / 7500, abs=1e-12)
    assert before["budget_source"] == "budget de fintech_after"
    assert (after["p10"], after["p50"], after["p90"]) == ("3750.00", "3750.00", "10500.00")


def test_history_is_what_the_engine_paid_on_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With data, the cost is the engine's payouts and budget, not a synthetic rep's."""
    out = tmp_path / "history.json"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--compare",
        "fintech_before", "--demo", "200", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    program = engine.load(RULESETS / "fintech")
    from engine.demo import demo_tables

    tables, year = demo_tables(program, 200, 200, 0)
    import datetime as dt

    results = program.evaluate(**tables, as_of=dt.date(year, 12, 31))
    costs = {row["plan"]: row for row in sim_json(out)["costs"]["rows"]}
    for plan in ("fintech_after", "fintech_before"):
        rows = results.payouts[results.payouts["plan"] == plan]
        periods = rows["period"].nunique()
        per_period = sum(Decimal(p) for p in rows["payout"]) / periods
        assert Decimal(costs[plan]["team_expected"]) == per_period.quantize(Decimal("0.01"))
    budget = results.budget[results.budget["plan"] == "fintech_after"]
    ratio = sum(Decimal(t) for t in budget["total"]) / sum(Decimal(b) for b in budget["budget"])
    assert costs["fintech_after"]["ratio"] == pytest.approx(float(ratio), abs=1e-9)


@pytest.mark.parametrize("client", CLIENTS)
def test_every_plan_of_every_client_simulates_on_demo_data(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = engine.load(RULESETS / client)
    for plan in program.book.plans:
        out = tmp_path / f"{plan}.json"
        argv = [str(RULESETS / client), "--plan", plan, "--demo", "120", "--out", str(out)]
        code, _, err = sim_run(capsys, *argv)
        if code == 2:  # a count or amount plan whose quota the data does not give
            assert "give --quota" in err, err
            code, _, err = sim_run(capsys, *argv, "--quota", "20")
        assert code == 0, (plan, err)
        tables = sim_json(out)
        assert len(tables["curve"]["rows"]) == 201
        assert tables["curve"]["rows"][0]["attainment"] == 0
        assert tables["curve"]["rows"][-1]["attainment"] == 2
        assert len(tables["costs"]["rows"]) == 1


def test_a_normal_law_is_deterministic_quantiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        code, _, err = sim_run(
            capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--distribution",
            "normal:90%,25%", "--team", "3", "--out", str(out),
        )  # fmt: skip
        assert code == 0, err
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    tables = sim_json(tmp_path / "a.json")
    spread = tables["distribution"]["rows"][0]
    assert spread["samples"] == 1000 and spread["p50"] == pytest.approx(0.9, abs=0.002)
    cost = tables["costs"]["rows"][0]
    assert cost["headcount"] == 3 and cost["team_budget"] == "22500.00"


# ----------------------------------------------------------------------------- what-if
def test_a_set_edit_changes_the_plan_and_shows_it_beside_the_original(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "edit.json"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--set",
        "bookings.steps[2]=60%", "--set", "target_variable=36K", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    tables = sim_json(out)
    changes = [(r["path"], r["before"], r["after"]) for r in tables["changes"]["rows"]]
    assert changes == [("bookings.steps[2]", "50%", "60%"), ("target_variable", "30K", "36K")]
    at_85 = next(r for r in tables["curve"]["rows"] if r["attainment"] == 0.85)
    # Before: 50% x 7,500. After: 60% x 9,000 (36K a year, paid per quarter).
    assert (at_85["p1_total"], at_85["p2_total"]) == ("3750.00", "5400.00")


@pytest.mark.parametrize(
    ("edit", "message", "underlined"),
    [
        ("bokings.steps[2]=60%", "no measure `bokings`; did you mean `bookings`?", "bokings"),
        ("bookings.stepz[2]=60%", "did you mean `steps`?", "stepz"),
        ("bookings.steps[9]=60%", "steps has 4 lines (steps[1] to steps[4]), not 9", "9"),
        ("bookings.steps[2]=abc", "takes a percentage (like 16%), not 'abc'", "abc"),
        ("bookings.steps=60%", "say which, like steps[1]", "steps"),
        ("bookings.commission=5%", "has no commission to change", "commission"),
        ("targt_variable=36K", "did you mean `target_variable`?", "targt_variable"),
        ("bookings.steps[2]", "expected PATH=VALUE", "bookings.steps[2]"),
    ],
)
def test_a_bad_set_is_a_located_error(
    edit: str, message: str, underlined: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--set", edit,
        "--out", str(tmp_path / "x.html"),
    )  # fmt: skip
    assert code == 2 and message in err, err
    line, carets = err.splitlines()[-2:]
    start = carets.index("^")
    assert line[start : start + len(carets.strip())] == underlined
    assert not (tmp_path / "x.html").exists()


def test_an_edit_that_breaks_a_rule_is_reported_on_the_ruleset_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sim_run(
        capsys, str(RULESETS / "contech-saas"), "--plan", "ae_2026", "--set",
        "new_logo.weight=70%", "--out", str(tmp_path / "x.json"),
    )  # fmt: skip
    assert code == 1
    assert "plans.krl" in err and "E402" in err and "weights sum to 110%" in err


def test_parse_edit_keeps_where_each_part_is() -> None:
    edit = parse_edit("new_logo.curve[3]=1.75")
    assert (edit.measure, edit.field, edit.index, edit.value) == ("new_logo", "curve", 3, "1.75")
    with pytest.raises(SimulationError, match="not a line number"):
        parse_edit("new_logo.curve[0]=1")


# ----------------------------------------------------------------------------- git revisions
def test_compare_rev_reads_the_plan_at_a_git_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    # The client folder and its siblings (a template it extends, `../house`).
    shutil.copytree(RULESETS, repo, ignore=shutil.ignore_patterns("tests", "__pycache__"))

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1")
    git("tag", "v1")
    plans = repo / "fintech" / "plans.krl"
    plans.write_text(plans.read_text().replace("[80%, 90%) 50%", "[80%, 90%) 60%"))
    out = tmp_path / "rev.json"
    code, _, err = sim_run(
        capsys, str(repo / "fintech"), "--plan", "fintech_after", "--compare-rev", "v1",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    at_85 = next(r for r in sim_json(out)["curve"]["rows"] if r["attainment"] == 0.85)
    assert (at_85["p1_total"], at_85["p2_total"]) == ("4500.00", "3750.00")
    code, _, err = sim_run(
        capsys, str(repo / "fintech"), "--plan", "fintech_after", "--compare-rev", "nope",
        "--out", str(out),
    )  # fmt: skip
    assert code == 2 and "'nope' is not a branch, tag or commit" in err


# ----------------------------------------------------------------------------- outputs
def test_the_workbook_holds_typed_curve_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "fintech.xlsx"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--compare",
        "fintech_before", "--demo", "120", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    workbook = load_workbook(out)
    numbers = [
        cell.value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, int | float)
    ]
    assert 3750 in numbers and 15000 in numbers  # the 80% and 150% points, as numbers


def test_the_html_opens_offline_in_chromium_with_every_chart_drawn(
    browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fintech.html"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--compare",
        "fintech_before", "--demo", "120", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    shot = tmp_path / "simulate-fintech.png"
    # Two curves, the comparison, the histogram, the cost against the budget.
    assert_drawn_offline(open_page(browser, out, shot), out, shot, charts=5)


def test_a_folder_out_is_csv_tables_that_open_in_french_excel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "csv"
    code, _, err = sim_run(
        capsys, str(RULESETS / "fintech"), "--plan", "fintech_after", "--out", str(folder),
        "--csv-dialect", "excel-fr",
    )  # fmt: skip
    assert code == 0, err
    raw = (folder / "key_points.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM French Excel needs for UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "Atteinte;fintech_after – total"
    assert "0,8;3750,00" in lines


def test_the_maven_crm_export_is_simulated_from_its_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real export: 5% of won value plus 1,000 at the 100,000 quarterly quota, whose 100%
    the commission shares (it credits the same won value)."""
    examples = RULESETS.parent / "examples" / "maven-crm"
    out = tmp_path / "maven.json"
    code, _, err = sim_run(
        capsys, str(RULESETS / "maven-crm"), "--plan", "agent_2017", "--data", str(examples),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    tables = sim_json(out)
    sources = {r["measure"]: (r["quota"], r["source"]) for r in tables["quotas"]["rows"]}
    assert sources["commission"][0] == sources["quarter_bonus"][0] == "100000.00"
    at = {r["attainment"]: r for r in tables["key_points"]["rows"]}
    assert (at[1]["p1_commission"], at[1]["p1_quarter_bonus"], at[1]["p1_total"]) == (
        "5000.00", "1000.00", "6000.00",
    )  # fmt: skip
    assert at[0.9]["p1_total"] == "4500.00"  # no bonus under 100%
    cost = tables["costs"]["rows"][0]
    assert cost["ratio"] is None and cost["team_budget"] is None  # no target variable
    assert Decimal(cost["team_expected"]) > 0


def test_set_on_a_shared_curve_edits_that_measure_only() -> None:
    # contech-saas's three measures share `curve standard`: a what-if on new_logo's curve
    # gives new_logo its own edited copy (50% -> 60% paid at 80%); upsell keeps the original.
    from engine.simulate import load_edited, pay_at

    program, changes = load_edited(
        RULESETS / "contech-saas", "ae_2026", [parse_edit("new_logo.curve[2]=60%")]
    )
    assert [(c.before, c.after) for c in changes] == [("50%", "60%")]
    plan = program.book.plans["ae_2026"]
    quotas = {m.name: Decimal("100000") for m in plan.measures}
    paid = {m.measure: m.payout for m in pay_at(plan, Decimal("0.8"), quotas).measures}
    # Targets per quarter: 40K a year x 60% / 4 = 6,000 and x 30% / 4 = 3,000.
    assert paid["new_logo"] == Decimal("3600.00") and paid["upsell"] == Decimal("1500.00")
