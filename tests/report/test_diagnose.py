"""`koncept diagnose`: the five dimensions of the method with their levels and facts, the three
priorities, every figure taken from the engine's results, and the HTML in headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import engine
from engine.cli.main import main
from engine.demo import demo_tables
from engine.diagnose import DIMENSIONS, diagnose, diagnosis_document
from tests.report.browser import assert_drawn_offline, open_page

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
CLIENTS = sorted(p.name for p in RULESETS.iterdir() if p.is_dir())
SEED_NAMES = [
    "Stratégie commerciale",
    "Structure de l'équipe",
    "Processus de vente",
    "Systèmes et outils",
    "Plan de rémunération",
]


def diag_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    return code, out, err


def diag_table(text: str) -> pd.DataFrame:
    lines = [line.split(",") for line in textwrap.dedent(text).strip().splitlines()]
    return pd.DataFrame(
        {name: [row[i] or None for row in lines[1:]] for i, name in enumerate(lines[0])},
        dtype=object,
    )


def test_the_dimensions_are_the_seed_s_five() -> None:
    assert [title for _, title, _ in DIMENSIONS] == SEED_NAMES


@pytest.mark.parametrize("client", CLIENTS)
def test_every_client_is_diagnosed_on_demo_data(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diag_run(capsys, str(RULESETS / client), "--demo", "120")
    assert code == 0, err
    for name in SEED_NAMES:
        assert name in out
    assert "Trois chantiers prioritaires" in out
    target = tmp_path / "diag.json"
    code, _, err = diag_run(capsys, str(RULESETS / client), "--demo", "120", "--out", str(target))
    assert code == 0, err
    document = json.loads(target.read_text(encoding="utf-8"))
    tables = {t["id"]: t for s in document["sections"] for t in s["tables"]}
    scorecard = tables["scorecard"]["rows"]
    assert [r["dimension"] for r in scorecard] == SEED_NAMES
    assert all(0 <= r["level"] <= 3 and r["met"] <= r["measured"] for r in scorecard)
    assert 1 <= len(tables["priorities"]["rows"]) <= 3


def test_the_figures_are_the_engine_s() -> None:
    """Stale and exit-ready shares, rejected rows and budget used: from `Program.evaluate`."""
    program = engine.load(RULESETS / "contech-saas")
    tables, year = demo_tables(program, 200, 200, 3)
    as_of = dt.date(year, 12, 31)
    diagnosis = diagnose(program, tables, as_of=as_of)
    results = program.evaluate(**tables, as_of=as_of)
    facts = {c.label: c for d in diagnosis.dimensions for c in d.criteria}
    open_ids = set(tables["deals"].loc[tables["deals"]["status"] == "open", "id"])
    open_deals = results.deals[results.deals["id"].isin(open_ids)]
    stale = open_deals["stale"].dropna()
    late = facts["Deals ouverts en retard (au-delà de la durée de l'étape)"]
    assert late.number == Decimal(int(stale.sum())) / Decimal(len(stale))
    assert f"({int(stale.sum())} sur {len(stale)})" in late.value
    budget = results.budget[results.budget["paid"].astype(bool)]
    used = sum(Decimal(t) for t in budget["total"]) / sum(Decimal(b) for b in budget["budget"])
    assert facts["Budget variable consommé (payé / variable cible)"].number == used
    # ConTech pays 60/30/10 for a 60/40 growth: within 10 points, aligned.
    assert facts["Poids de la paie alignés sur la stratégie (écart ≤ 10 points)"].met is True
    assert diagnosis.dimensions[0].level == 3  # its strategy is declared in full and tracked


def test_dirty_crm_data_lowers_systems_and_becomes_a_priority() -> None:
    program = engine.load(RULESETS / "fintech")
    deals = diag_table("""
        id,rep_id,amount,close_date,status,stage,type
        D1,A1,1000,2026-01-10,won,signature,new_logo
        D1,A1,2000,2026-01-11,won,signature,new_logo
        D2,A1,abc,2026-01-12,won,signature,new_logo
        D3,A1,3000,2026-01-13,open,demo,new_logo
    """)
    reps = diag_table("""
        id,role
        A1,AE
    """)
    diagnosis = diagnose(program, {"deals": deals, "reps": reps}, as_of=dt.date(2026, 3, 31))
    systems = diagnosis.dimensions[3]
    facts = {c.label: c for c in systems.criteria}
    assert facts["Aucun identifiant en double"].met is False
    assert facts["Aucun identifiant en double"].value == "2 doublon(s)"
    rejected = facts["Lignes refusées à la validation"]
    assert rejected.met is False and "(3 sur 5)" in rejected.value
    assert systems.level == 1
    assert any(d.key == "systems" for d, _ in diagnosis.priorities)
    assert diagnosis.dimensions[0].level == 0  # FinTech declares no strategy


def test_pay_weights_against_the_strategy() -> None:
    text = textwrap.dedent("""
        ruleset t "T" { currency EUR }
        strategy {
          growth new_logo 70% when type == new_logo
          growth upsell 30% when type == upsell
        }
        role AE { mission "Closing" plan p }
        plan p for AE {
          period quarter
          target_variable 40K per year
          measure new_logo weight 20% {
            credit amount of deals where type == new_logo and status == won
            quota new_logo
            steps { [0%, 100%) 0% [100%, ...) 100% }
          }
          measure upsell weight 80% {
            credit amount of deals where type == upsell and status == won
            quota upsell
            steps { [0%, 100%) 0% [100%, ...) 100% }
          }
        }
    """)
    program = engine.load_text(text)
    diagnosis = diagnose(program, {"reps": diag_table("id,role\nA1,AE")})
    pay = diagnosis.dimensions[4]
    aligned = next(c for c in pay.criteria if c.label.startswith("Poids de la paie"))
    assert aligned.met is False
    assert "new_logo : stratégie 70,0 %, paie 20,0 %" in aligned.value
    assert pay.level < 3


def test_bad_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = diag_run(capsys, str(RULESETS / "fintech"))
    assert code == 2 and "--data" in err
    code, _, err = diag_run(capsys, str(RULESETS / "fintech"), "--demo", "50", "--out",
                            str(tmp_path / "x.pdf"))  # fmt: skip
    assert code == 2 and ".html, .xlsx or .json" in err


def test_the_diagnosis_html_opens_offline_in_chromium(
    browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diagnostic.html"
    code, _, err = diag_run(capsys, str(RULESETS / "contech-saas"), "--demo", "120", "--out",
                            str(out))  # fmt: skip
    assert code == 0, err
    shot = tmp_path / "diagnose-contech.png"
    assert_drawn_offline(open_page(browser, out, shot), out, shot, charts=1)
    html = out.read_text(encoding="utf-8")
    for name in SEED_NAMES:
        assert name.replace("'", "&#x27;") in html or name in html


def test_the_document_has_a_section_per_dimension() -> None:
    program = engine.load(RULESETS / "services-b2b")
    tables, year = demo_tables(program, 80, 80, 0)
    document = diagnosis_document(diagnose(program, tables, as_of=dt.date(year, 12, 31)))
    assert [s.title for s in document.sections] == ["Synthèse", *SEED_NAMES]
