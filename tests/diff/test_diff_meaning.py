"""The meaning diff on the client rulesets: each construct of the issue, in the ruleset's words,
with `file:line` on both sides; and what is not a change (spelling, layout, comments, order of
declarations and files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.diff.meaning import Change, compare_models
from engine.loader import load_as

ROOT = Path(__file__).resolve().parents[2]


def changes(tmp_path: Path, client: str, edits: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The changes in meaning of `client` after text edits (file -> [(old, new)])."""
    shutil.copytree(ROOT / "rulesets", tmp_path / "a")
    shutil.copytree(ROOT / "rulesets", tmp_path / "b")
    for name, pairs in edits.items():
        path = tmp_path / "b" / name
        text = path.read_text(encoding="utf-8")
        for old, new in pairs:
            assert old in text, old
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    before = load_as(tmp_path / "a" / client, f"rulesets/{client}")
    after = load_as(tmp_path / "b" / client, f"rulesets/{client}")
    return [_line(c) for c in compare_models(before.model, after.model)]


def _line(change: Change) -> str:
    return f"{change.text()}  @{change.before_at}|{change.after_at}"


def test_pipeline_qualification_playbooks_and_plans(tmp_path: Path) -> None:
    found = changes(
        tmp_path,
        "contech-saas",
        {
            "contech-saas/pipeline.krl": [
                ("probability 40%", "probability 45%"),
                ("max_days 30d", "max_days 20d"),
                ("expect win_rate 30%..40%", "expect win_rate 30%..45%"),
            ],
            "contech-saas/deals.krl": [
                ("use bant when amount < 50K", "use bant when amount < 60K")
            ],
            "contech-saas/plans.krl": [
                ("slope 1.5 to 130%", "slope 1.6 to 130%"),
                ("communicated 2025-12-15", "communicated 2025-12-20"),
                ("proration daily", "proration none"),
                ('measure upsell "Upsell" weight 30%', 'measure upsell "Upsell" weight 25%'),
                ('"Renouvellements" weight 10%', '"Renouvellements" weight 15%'),
            ],
        },
    )
    here = "rulesets/contech-saas"
    wanted = [
        f"qualify deal, use bant: when amount < 50K -> amount < 60K  @{here}/deals.krl:40",
        f"pipeline sales, stage demo: probability 40% -> probability 45%  @{here}/pipeline.krl:21",
        f"pipeline sales, stage negotiation: max_days 30d -> max_days 20d  @{here}/pipeline.krl:32",
        "playbook new_logo_large: expect win_rate 30%..40% -> expect win_rate 30%..45%"
        f"  @{here}/pipeline.krl:49",
        f"plan ae_2026: communicated 2025-12-15 -> communicated 2025-12-20  @{here}/plans.krl:18",
        f"plan ae_2026: proration daily -> proration none  @{here}/plans.krl:22",
        # The shared curve `standard` is each measure's: its change shows in each, and once
        # in the definition.
        "plan ae_2026, measure new_logo, curve: slope 1.5 to 130% -> slope 1.6 to 130%"
        f"  @{here}/plans.krl:11",
        f"plan ae_2026, measure upsell: weight 30% -> 25%  @{here}/plans.krl:33",
        "plan ae_2026, measure upsell, curve: slope 1.5 to 130% -> slope 1.6 to 130%"
        f"  @{here}/plans.krl:11",
        f"plan ae_2026, measure renewal: weight 10% -> 15%  @{here}/plans.krl:39",
        "plan ae_2026, measure renewal, curve: slope 1.5 to 130% -> slope 1.6 to 130%"
        f"  @{here}/plans.krl:11",
        f"curve standard, curve: slope 1.5 to 130% -> slope 1.6 to 130%  @{here}/plans.krl:11",
    ]
    assert [f.split("|")[0] for f in found] == wanted
    assert all(f.split("@")[1].split("|")[0] == f.split("|")[1] for f in found)


def test_statuses_knockouts_caps_guardrail_and_order(tmp_path: Path) -> None:
    found = changes(
        tmp_path,
        "fintech",
        {
            "fintech/leads.krl": [("knockout disqualified", "disqualified")],
            "fintech/plans.krl": [
                ("budget guardrail 105%", "budget guardrail 110%"),
                ("cap 200%", "cap 150%"),
                ("accelerator 2 above 100%", "accelerator 3 above 100%"),
                ("per_unit 150", "per_unit 175"),
                ("[0%, 80%) 0%\n      [80%, 90%) 50%", "[0%, 85%) 0%\n      [85%, 90%) 50%"),
            ],
        },
    )
    texts = [f.split("  @")[0] for f in found]
    assert texts == [
        "score bmanter, status disqualified: knockout yes -> no",
        "plan fintech_after: cap 200% -> cap 150%",
        "plan fintech_after: budget guardrail 105% -> budget guardrail 110%",
        "plan fintech_after, measure bookings, steps: [0%, 80%) 0% -> [0%, 85%) 0%",
        "plan fintech_after, measure bookings, steps: [80%, 90%) 50% -> [85%, 90%) 50%",
        "plan fintech_after, measure bookings: accelerator 2 above 100%"
        " -> accelerator 3 above 100%",
        "plan fintech_sdr, measure qualified_opportunities: per_unit 150 -> per_unit 175",
    ]


def test_kpis_alerts_and_stage_items(tmp_path: Path) -> None:
    found = changes(
        tmp_path,
        "contech-saas",
        {
            "contech-saas/team.krl": [("target >= 30%", "target >= 35%")],
            "contech-saas/pipeline.krl": [
                ("== false severity warning", "== false severity critical"),
                ("    max_days 14d\n", "    max_days 15d\n"),
            ],
        },
    )  # fmt: skip
    here = "rulesets/contech-saas"
    assert [f.split("|")[0] for f in found] == [
        f"pipeline sales, stage detection: max_days 14d -> max_days 15d  @{here}/pipeline.krl:9",
        f"kpi win_rate: target >= 30% -> target >= 35%  @{here}/team.krl:8",
        f"alert won_without_contract: severity warning -> critical  @{here}/pipeline.krl:65",
    ]


def test_no_change_in_meaning(tmp_path: Path) -> None:
    """Spelling of numbers, spacing, comments, and declarations moved to another file."""
    shutil.copytree(ROOT / "rulesets", tmp_path / "a")
    shutil.copytree(ROOT / "rulesets", tmp_path / "b")
    plans = tmp_path / "b/fintech/plans.krl"
    text = plans.read_text(encoding="utf-8")
    text = text.replace("target_variable 30K per year", "target_variable 30_000   per year # !")
    text = text.replace("# Variable pay.", "# Rémunération variable.")
    sdr_start = text.index("plan fintech_sdr")
    (tmp_path / "b/fintech/sdr.krl").write_text(text[sdr_start:], encoding="utf-8")
    plans.write_text(text[:sdr_start], encoding="utf-8")
    before = load_as(tmp_path / "a/fintech", "rulesets/fintech")
    after = load_as(tmp_path / "b/fintech", "rulesets/fintech")
    assert compare_models(before.model, after.model) == []


@pytest.mark.parametrize("client", ["contech-saas", "fintech", "maven-crm", "services-b2b"])
def test_a_ruleset_against_itself(client: str) -> None:
    model = load_as(ROOT / "rulesets" / client, client).model
    assert compare_models(model, model) == []
