"""Program.evaluate with plans: payouts, attainment for rep alerts, KPI targets met exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import engine

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"


@pytest.fixture(scope="module")
def industrie() -> engine.Program:
    return engine.load(RULESETS / "industrie-services")


def deal(**fields: str) -> dict[str, str]:
    base = {
        "type": "new_logo",
        "stage": "signature",
        "status": "won",
        "close_date": "2026-05-10",
        "created_at": "2026-01-10",
        "stage_entered_at": "2026-05-01",
    }
    return {**base, **fields}


def test_payouts_attainment_alert_and_exact_kpi_target(industrie: engine.Program) -> None:
    reps = pd.DataFrame(
        [
            {"id": "A", "name": "Rep A", "role": "AE", "territory": "idf"},
            {"id": "B", "name": "Rep B", "role": "AE", "territory": "bre"},
        ]
    )
    territories = pd.DataFrame(
        [
            {"id": "idf", "name": "IDF", "potential": "1.3"},
            {"id": "bre", "name": "BRE", "potential": "0.7"},
        ]
    )
    deals = pd.DataFrame(
        [
            deal(id="D1", rep_id="A", amount="1000000", cost="600000"),  # 40% margin
            deal(id="D2", rep_id="B", amount="50000", cost="42500"),  # exactly 15%
        ]
    )
    results = industrie.evaluate(
        deals=deals,
        reps=reps,
        territories=territories,
        period="2026-Q2",
        as_of=dt.date(2026, 6, 30),
    )
    # A: 10% of 400,000 margin + 2,000 bonus (1M >= 250K x 1.3); B: 10% of 7,500, 28.6% of quota.
    assert results.payouts[["rep_id", "plan", "payout"]].values.tolist() == [
        ["A", "ae_margin", "42000.00"],
        ["B", "ae_margin", "750.00"],
    ]
    review = results.alerts[results.alerts["subject"] == "q2_under_40"]
    assert review["id"].tolist() == ["B"]
    margin = results.kpis[(results.kpis["kpi"] == "margin_rate") & (results.kpis["rep_id"] == "B")]
    assert margin["met"].tolist() == [True]
    assert results.errors.empty


def test_no_reps_table_means_no_pay_and_no_pay_errors(industrie: engine.Program) -> None:
    deals = pd.DataFrame([deal(id="D1", rep_id="A", amount="1000", cost="10")])
    results = industrie.evaluate(deals=deals, period="2026-Q2", as_of=dt.date(2026, 6, 30))
    assert results.payouts.empty and results.budget.empty
    assert results.errors.empty
