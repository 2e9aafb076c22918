"""The ritual reports (`koncept report`): every ritual on every client ruleset with demo data and
on the real maven-crm export; the figures read back from the workbook equal `koncept eval`'s on
the same data; unknown rituals and reps are reported with a "did you mean"."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import engine
from engine.cli.main import main
from engine.demo import demo_tables, write
from engine.report.document import Document, to_json
from engine.report.rituals import KINDS, ReportError, build_report, find_ritual, rituals
from engine.report.xlsx import write_xlsx

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
CLIENTS = ("contech-saas", "fintech", "industrie-services", "maven-crm", "services-b2b")
MAVEN = ROOT / "examples" / "maven-crm"
ROWS = 150


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@cache
def _program(name: str) -> engine.Program:
    return engine.load(RULESETS / name)


@cache
def _demo(name: str) -> tuple[dict[str, Any], int]:
    return demo_tables(_program(name), ROWS, ROWS, 0)


def _a_rep(name: str) -> str:
    tables, _ = _demo(name)
    reps = tables["reps"]
    planned = reps[reps["role"].isin(list(_program(name).book.roles))]
    return str(planned["id"].iloc[0])


@cache
def _report(name: str, ritual: str) -> Document:
    tables, year = _demo(name)
    rep = _a_rep(name) if ritual == "monthly_coaching" else None
    period = f"{year}-03" if ritual.startswith("monthly") else f"{year}-Q4"
    return build_report(
        _program(name), tables, ritual, period, dt.date(year, 12, 31), rep=rep, origin="demo"
    ).document


def _counts_ok(doc: Document) -> None:
    counts = doc.table("counts")
    assert counts.rows, "the report shows the rows read per table"
    for _table, read, kept, rejected in counts.rows:
        assert read == kept + rejected  # type: ignore[operator]


@pytest.mark.parametrize("ritual", KINDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_every_ritual_on_every_client_ruleset(client: str, ritual: str, tmp_path: Path) -> None:
    doc = _report(client, ritual)
    assert doc.sections[-1].title == "Qualité des données"
    assert len(doc.sections) >= 4
    assert any(t.rows for t in doc.tables()), "a report on demo data shows figures"
    _counts_ok(doc)
    data = to_json(doc)
    json.dumps(data)  # plain JSON data
    write_xlsx(doc, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames[0] == "Rapport"
    assert len(book.sheetnames) == 1 + len(doc.tables()) + (1 if doc.charts() else 0)


def test_the_four_rituals_show_what_the_method_asks() -> None:
    titles = {k: [s.title for s in _report("contech-saas", k).sections] for k in KINDS}
    assert titles["weekly_pipeline"][:5] == [
        "Pipeline par étape",
        "Deals en retard",
        "Critères de sortie manquants",
        "Mouvements depuis la semaine dernière",
        "Prévision vs objectif",
    ]
    assert titles["monthly_coaching"][:4] == [
        "KPI du commercial vs objectifs",
        "Entonnoir : commercial vs équipe",
        "Atteinte et rémunération à date",
        "Deals à risque",
    ]
    assert titles["monthly_business_review"][:4] == [
        "KPI par rôle et équipe vs objectifs",
        "Entonnoir : conversion et jours par étape vs attendus",
        "Taux de gain vs fourchettes des playbooks",
        "Alertes",
    ]
    assert titles["quarterly_review"][:4] == [
        "Atteinte par commercial",
        "Rémunération et budget vs garde-fou",
        "Stratégie : objectifs vs réalisé",
        "Tendances d'une période à l'autre",
    ]
    charts = {c.kind for k in KINDS for c in _report("contech-saas", k).charts()}
    assert {"funnel", "bar", "stacked_bar", "line", "hbar"} <= charts


def test_declared_rituals_map_to_their_kind_and_add_what_they_show() -> None:
    program = _program("services-b2b")
    found = rituals(program)
    assert found["weekly_pipeline"].declared and found["weekly_pipeline"].kind == KINDS[0]
    assert found["monthly_business_review"].kind == KINDS[2]
    assert found["quarterly_review"].shows == ("attainment",)
    assert not found["monthly_coaching"].declared  # the method's, offered anyway
    doc = _report("services-b2b", "weekly_pipeline")
    assert doc.title == "Point hebdo équipe (1h)"
    assert "montre : stale_deals, missing_exit_criteria" in doc.subtitle


def test_an_unknown_ritual_says_which_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReportError, match=r"did you mean 'weekly_pipeline'\?"):
        find_ritual(_program("contech-saas"), "weekly_pipelin")
    code, out, err = run(
        capsys, "report", str(RULESETS / "contech-saas"), "--ritual", "quartely_review",
        "--demo", "50", "--period", "2026-Q1", "--out", "unused.html",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "error: unknown ritual 'quartely_review' (expected one of weekly_pipeline, "
        "monthly_coaching, monthly_business_review, quarterly_review); did you mean "
        "'quarterly_review'?\n"
    )


def test_coaching_needs_a_known_rep(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = [
        "report", str(RULESETS / "fintech"), "--ritual", "monthly_coaching", "--demo", "50",
        "--period", "2026-03", "--out", str(tmp_path / "c.html"),
    ]  # fmt: skip
    code, _, err = run(capsys, *base)
    assert code == 2 and err.startswith("error: the monthly_coaching report is about one rep")
    code, _, err = run(capsys, *base, "--rep", "R001")
    assert code == 2 and "unknown rep 'R001'" in err and "did you mean 'R0001'?" in err
    assert not (tmp_path / "c.html").exists()


def test_movement_counts_the_weeks_stage_events() -> None:
    tables, year = _demo("contech-saas")
    doc = _report("contech-saas", "weekly_pipeline")
    events = tables["stage_events"]
    week = events[
        (events["entered_at"] >= f"{year}-12-25") & (events["entered_at"] <= f"{year}-12-31")
    ]
    entries = dict(doc.table("stage_entries").rows)
    labels = {s.name: s.label for s in _program("contech-saas").compiled.stages.values()}
    wanted = {labels[s]: n for s, n in week["stage"].value_counts().items()}
    assert {k: v for k, v in entries.items() if v} == wanted and sum(wanted.values()) > 0  # type: ignore[arg-type]


def test_rep_narrows_the_deal_lists() -> None:
    tables, year = _demo("contech-saas")
    program = _program("contech-saas")
    rep = _a_rep("contech-saas")
    whole = _report("contech-saas", "weekly_pipeline")
    mine = build_report(
        program, tables, "weekly_pipeline", f"{year}-Q4", dt.date(year, 12, 31), rep=rep
    ).document
    for table in ("stale_deals", "missing_exit_criteria"):
        reps = set(mine.table(table).column("rep_id"))
        assert reps == {rep}, table
        assert len(mine.table(table).rows) < len(whole.table(table).rows)
    assert mine.table("pipeline_by_stage") == whole.table("pipeline_by_stage")


# ----------------------------------------------------------------------------- same figures
def _sheet(book: Any, title: str) -> list[dict[str, Any]]:
    sheet = book[title]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _number(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def test_xlsx_figures_equal_koncept_eval(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The quarterly and business-review workbooks read back equal eval's results."""
    ruleset = str(RULESETS / "contech-saas")
    data = ["--demo", "300", "--period", "2026-Q2", "--as-of", "2026-12-31"]
    code, _, _ = run(capsys, "eval", ruleset, *data, "--format", "xlsx", "--out", str(tmp_path))
    assert code == 0
    evaluated = openpyxl.load_workbook(tmp_path / "results.xlsx")
    for ritual in ("quarterly_review", "monthly_business_review"):
        out = tmp_path / f"{ritual}.xlsx"
        code, _, err = run(capsys, "report", ruleset, "--ritual", ritual, *data, "--out", str(out))
        assert code == 0, err
    quarterly = openpyxl.load_workbook(tmp_path / "quarterly_review.xlsx")
    title = next(t for t in quarterly.sheetnames if t.startswith("Atteinte par commercial"))
    reported = {
        (r["Commercial"], r["Plan"], r["Mesure"]): (
            _number(r["Crédité"]), _number(r["Quota"]), _number(r["Atteinte"]),
            _number(r["Rémunération"]),
        )
        for r in _sheet(quarterly, title)
    }  # fmt: skip
    wanted = {
        (r["rep_id"], r["plan"], r["measure"]): (
            _number(r["credited"]), _number(r["quota"]), _number(r["attainment"]),
            _number(r["payout"]),
        )
        for r in _sheet(evaluated, "payouts_measures")
    }  # fmt: skip
    assert reported == wanted and len(wanted) > 3
    budget = {
        (r["Plan"], r["Période"]): _number(r["Versé"])
        for r in _sheet(quarterly, "Rémunération et budget par plan")
    }
    assert budget == {
        (r["plan"], r["period"]): _number(r["total"]) for r in _sheet(evaluated, "budget")
    }

    review = openpyxl.load_workbook(tmp_path / "monthly_business_review.xlsx")
    funnel = {
        r["Étape"]: (
            r["Deals ayant atteint l'étape"],
            _number(r["Conversion vers l'étape suivante"]),
        )
        for r in _sheet(review, "Conversion et durée par étape")
    }
    labels = {s.name: s.label for s in _program("contech-saas").compiled.stages.values()}
    assert funnel == {
        labels[r["stage"]]: (r["reached"], _number(r["conversion_to_next"]))
        for r in _sheet(evaluated, "funnel")
    }
    kpis: dict[tuple[Any, Any], Decimal | None] = {}
    for title in review.sheetnames:
        if title.startswith("KPI par"):
            for r in _sheet(review, title):
                kpis[(r["KPI"], r["Commercial"])] = _number(r["Valeur"])
    program = _program("contech-saas")
    label = {k: v.label or k for k, v in program.compiled.kpis.items()}
    wanted_kpis = {
        (label[r["kpi"]], r["rep_id"]): _number(r["value"]) for r in _sheet(evaluated, "kpis")
    }
    assert kpis == wanted_kpis
    counts = {
        r["Table"]: (r["Lues"], r["Évaluées"], r["Rejetées"])
        for r in _sheet(review, "Lignes lues, évaluées et rejeté")
    }  # 31 characters
    assert counts == {
        r["table"]: (r["in"], r["out"], r["rejected"]) for r in _sheet(evaluated, "counts")
    }


# ----------------------------------------------------------------------------- real data
@pytest.mark.parametrize("ritual", KINDS)
def test_rituals_on_the_maven_crm_export(
    ritual: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "maven.json"
    rep = ["--rep", "Anna Snelling"] if ritual == "monthly_coaching" else []
    period = "2017-06" if ritual.startswith("monthly") else "2017-Q2"
    code, _, err = run(
        capsys, "report", str(RULESETS / "maven-crm"), "--ritual", ritual, "--data", str(MAVEN),
        "--as-of", "2017-12-31", "--period", period, "--out", str(out), *rep,
    )  # fmt: skip
    assert code == 0, err
    assert "sales_pipeline" not in err or "rejected" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    tables = {t["id"]: t for s in doc["sections"] for t in s["tables"]}
    counts = {r["table"]: r for r in tables["counts"]["rows"]}
    assert counts["deals"]["in"] == 8800
    assert all(r["in"] == r["out"] + r["rejected"] for r in counts.values())
    assert doc["currency"] == "USD"
    assert any(t["rows"] for t in tables.values() if t["id"] != "counts")


def test_rejected_rows_are_counted_in_the_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    program = _program("fintech")
    tables, _ = demo_tables(program, 40, 40, 3)
    deals = tables["deals"].copy()
    deals.loc[0, "amount"] = "douze"
    tables["deals"] = deals
    write(tables, tmp_path / "data")
    out = tmp_path / "weekly.json"
    code, _, err = run(
        capsys, "report", str(RULESETS / "fintech"), "--ritual", "weekly_pipeline",
        "--data", str(tmp_path / "data"), "--period", "2026-Q4", "--as-of", "2026-12-31",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "  deals          40 in =  39 out + 1 rejected\n" in err, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    section = doc["sections"][-1]
    counts = {r["table"]: r for r in section["tables"][0]["rows"]}
    assert counts["deals"] == {"table": "deals", "in": 40, "out": 39, "rejected": 1}
    assert any("'douze'" in p for p in section["paragraphs"])
