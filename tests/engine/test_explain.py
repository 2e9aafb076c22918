"""`koncept explain` and `engine.explain`: a lead's score and a deal's position in plain French.

Whole texts are asserted: every line names the ruleset's label, the points or the verdict, and
the rule and values behind it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import engine
from engine.cli.main import main
from engine.explain import explain_deal, explain_lead

ROOT = Path(__file__).resolve().parents[2]
CONTECH = str(ROOT / "rulesets" / "contech-saas")
AS_OF = dt.date(2026, 3, 31)

LEADS = """\
id,created_at,source,budget,sector,authority,need,timing_months,employees
L-001,2026-02-01,outbound,confirmed,industrie,decision_maker,urgent,,12
L-002,2026-02-02,inbound,confrimed,services,user,exploration,8,40
L-003,2026-02-03,event,to_validate,services,user,exploration,8,40
L-003,2026-02-04,event,to_validate,services,user,exploration,8,40
"""
DEALS = """\
id,rep_id,type,amount,stage,stage_entered_at,status,contacts,contact_role,need_identified,\
budget_confirmed,timing_defined,pain_documented,stakes_quantified,demo_done,demo_feedback,\
discovery_workshop_done,poc_done,m_metrics,m_economic_buyer,m_decision_criteria,\
m_decision_process,m_paper_process,m_identify_pain,m_champion,m_competition
D-001,R1,new_logo,120000,demo,2026-03-01,open,2,decision_maker,true,true,true,true,false,true,,\
false,false,2,2,2,1,1,2,2,2
D-002,R1,upsell,18000,qualification,,open,1,influencer,true,,false,,,,,,,,,,,,,,
"""
EVENTS = """\
deal_id,stage,entered_at
D-002,detection,2026-02-01
D-002,qualification,2026-02-20
D-002,qualification,2026-03-05
"""

LEAD_TEXT = """\
Lead L-001 : SQL (74 > 70).
  Score BMANTER : 74 / 100
  Budget : 20 (Confirmé)
  Market : 15 (sector = industrie ; sector dans [industrie, services])
  Authority : 20 (Décideur)
  Need : 15 (Urgent)
  Entreprise : 2 (employees = 12 ; sinon)
  Référence : 2 (Outbound)
  Non décidé : Timing (timing_months manquant)
"""

DEAL_TEXT = """\
Deal D-001 (en cours, 120 000,00 €) : étape Démonstration (demo) du pipeline « Cycle B2B moyen \
(3-6 mois) ».
  Critères de sortie : 1/2 remplis, pas prêt à sortir.
    ✓ Démo personnalisée effectuée
    ✗ Feedback positif (demo_feedback manquant)
  Étapes précédentes passées sans leurs critères :
    Découverte approfondie : Enjeux chiffrés
  Jours dans l'étape : 30 (max 14) : en retard de 16 jours
  Valeur pondérée : 48 000,00 € (120 000,00 € × 40 %)
  Qualification : MEDDPICC (sinon) : 14 / 16, Fort (14 ≥ 14)
    Metrics : 2 (m_metrics = 2)
    Economic Buyer : 2 (m_economic_buyer = 2)
    Decision Criteria : 2 (m_decision_criteria = 2)
    Decision Process : 1 (m_decision_process = 1)
    Paper Process : 1 (m_paper_process = 1)
    Identify Pain : 2 (m_identify_pain = 2)
    Champion : 2 (m_champion = 2)
    Competition : 2 (m_competition = 2)
  Autres scores : BANT 4 / 4
  Playbook : New Logo > 100K€ ACV (type = new_logo et amount > 100 000 ; type = new_logo, \
amount = 120 000,00 €)
    · Multi-threading (au moins 3 interlocuteurs) (requis avant Proposition commerciale, pas \
encore dû)
    ✗ Atelier découverte (2h, 4-6 personnes) (requis avant Démonstration ; \
discovery_workshop_done = non)
    · Business case (ROI chiffré) (requis avant Proposition commerciale, pas encore dû)
    Recommandé : Proof of Concept (pas fait)
    · Présentation exécutive (comex, 30 min max) (requis avant Signature, pas encore dû)
  Alertes : Démo faite sans feedback client (info)
"""


@pytest.fixture(scope="module")
def contech() -> engine.Program:
    return engine.load(CONTECH)


@pytest.fixture(scope="module")
def fintech() -> engine.Program:
    return engine.load(ROOT / "rulesets" / "fintech")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for name, text in (("leads", LEADS), ("deals", DEALS), ("stage_events", EVENTS)):
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------- the CLI
def test_explain_a_lead(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, "explain", CONTECH, "--lead", "L-001", "--data", str(data)) == (
        0, LEAD_TEXT, "",
    )  # fmt: skip


def test_explain_a_deal(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    argv = ("explain", CONTECH, "--deal", "D-001", "--data", str(data), "--as-of", "2026-03-31")
    assert run(capsys, *argv) == (0, DEAL_TEXT, "")


def test_a_deal_without_entry_date_uses_its_stage_events_like_eval(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    argv = ("--data", str(data), "--as-of", "2026-03-31")
    code, out, _ = run(capsys, "explain", CONTECH, "--deal", "D-002", *argv)
    assert code == 0
    # The latest event at its current stage: 2026-03-05, 26 days before the as-of date.
    assert "  Jours dans l'étape : 26 (max 21) : en retard de 5 jours\n" in out
    assert out.splitlines()[1:5] == [
        "  Critères de sortie : 1/3 remplis, pas prêt à sortir.",
        "    ✓ Besoin identifié",
        "    ✗ Budget confirmé (budget_confirmed manquant)",
        "    ✗ Timing défini (timing_defined = non)",
    ]
    assert "  Playbook : Upsell base installée (type = upsell)\n" in out
    _, document, _ = run(capsys, "eval", CONTECH, *argv)
    (deal,) = [d for d in json.loads(document)["deals"] if d["id"] == "D-002"]
    assert deal["days_in_stage"] == 26 and deal["stale"] is True


def test_unknown_id_suggests_the_close_ones(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, "explain", CONTECH, "--lead", "L001", "--data", str(data)) == (
        1, "", "error: lead 'L001' is not in the leads table (4 rows); did you mean 'L-001'?\n",
    )  # fmt: skip
    assert run(capsys, "explain", CONTECH, "--deal", "D-0O1", "--data", str(data)) == (
        1, "", "error: deal 'D-0O1' is not in the deals table (2 rows); did you mean 'D-001' or "
        "'D-002'?\n",
    )  # fmt: skip
    assert run(capsys, "explain", CONTECH, "--deal", "XYZ", "--data", str(data)) == (
        1, "", "error: deal 'XYZ' is not in the deals table (2 rows)\n",
    )  # fmt: skip


def test_an_invalid_row_is_not_explained(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, "explain", CONTECH, "--lead", "L-002", "--data", str(data)) == (
        1,
        "",
        "error: lead 'L-002' is left out of the evaluation; its row is invalid:\n"
        "  row 3, budget = 'confrimed': 'confrimed' is not one of confirmed, to_validate, "
        "blocking; did you mean 'confirmed'?\n",
    )


def test_a_repeated_id_is_not_explained(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert run(capsys, "explain", CONTECH, "--lead", "L-003", "--data", str(data)) == (
        1,
        "",
        "error: lead 'L-003' is left out of the evaluation; its row is invalid:\n"
        "  row 4, id = 'L-003': duplicate id 'L-003' (also on row 5)\n"
        "  row 5, id = 'L-003': duplicate id 'L-003' (also on row 4)\n",
    )


def test_missing_table_and_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(LEADS, encoding="utf-8")
    assert run(capsys, "explain", CONTECH, "--deal", "D-001", "--data", str(tmp_path)) == (
        2, "", f"error: {tmp_path}: no deals table\n",
    )  # fmt: skip
    code, out, err = run(capsys, "explain", CONTECH, "--data", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.endswith("koncept explain: error: one of the arguments --lead --deal is required\n")


def test_explain_on_demo_data_agrees_with_eval(capsys: pytest.CaptureFixture[str]) -> None:
    _, document, _ = run(capsys, "eval", CONTECH, "--demo", "50")
    leads = json.loads(document)["leads"]
    for lead in leads[:5]:
        code, out, err = run(capsys, "explain", CONTECH, "--demo", "50", "--lead", lead["id"])
        assert (code, err) == (0, "")
        first, second = out.splitlines()[:2]
        assert first.startswith(f"Lead {lead['id']} : {lead['status']} ({lead['score']} ")
        assert second == f"  Score BMANTER : {lead['score']} / 100"


# ----------------------------------------------------------------------------- the module
def test_knockout_and_otherwise_statuses(fintech: engine.Program) -> None:
    lead = {
        "id": "L1", "budget": "blocking", "sector": "industrie", "authority": "decision_maker",
        "need": "urgent", "timing_months": 2, "employees": 300, "source": "referral",
    }  # fmt: skip
    assert explain_lead(fintech, lead) == (
        "Lead L1 : disqualified (élimination : budget = blocking).\n"
        "  Score BMANTER : 80 / 100\n"
        "  Budget : 0 (Bloquant)\n"
        "  Market : 15 (sector = industrie ; sector dans [industrie, services])\n"
        "  Authority : 20 (Décideur)\n"
        "  Need : 15 (Urgent)\n"
        "  Timing : 15 (timing_months = 2 ; timing_months < 3)\n"
        "  Entreprise : 10 (employees = 300 ; employees ≥ 250)\n"
        "  Référence : 5 (Recommandation)\n"
    )
    cold = {**lead, "budget": "to_validate", "authority": "user", "need": "exploration",
            "source": "outbound", "timing_months": 2.5}  # fmt: skip
    assert explain_lead(fintech, cold).splitlines()[0] == "Lead L1 : MQL (57 < 70)."
    assert "  Timing : 15 (timing_months = 2,5 ; timing_months < 3)" in explain_lead(fintech, cold)


def test_exactly_70_stays_mql(contech: engine.Program) -> None:
    lead = {
        "id": "L70", "budget": "confirmed", "sector": "industrie", "authority": "influencer",
        "need": "urgent", "timing_months": 8, "employees": 60, "source": "outbound",
    }  # fmt: skip
    text = explain_lead(contech, lead)
    assert text.splitlines()[:2] == ["Lead L70 : MQL (70 ≤ 70).", "  Score BMANTER : 70 / 100"]
    assert "  Entreprise : 6 (employees = 60 ; employees entre 50 et 249)\n" in text
    text = explain_lead(contech, {**lead, "source": "partner"})
    assert text.splitlines()[0] == "Lead L70 : SQL (73 > 70)."


def test_a_closed_deal_is_never_late(contech: engine.Program) -> None:
    deal = {
        "id": "D9", "type": "renewal", "amount": "30000", "stage": "signature",
        "stage_entered_at": "2026-01-02", "status": "won", "contract_signed": "true",
        "contact_role": "user",
    }  # fmt: skip
    lines = explain_deal(contech, deal, AS_OF).splitlines()
    assert lines[0] == (
        "Deal D9 (gagné, 30 000,00 €) : étape Signature (signature) du pipeline « Cycle B2B "
        "moyen (3-6 mois) »."
    )
    assert "  Jours dans l'étape : 88 (max 14) : deal clos, jamais en retard" in lines
    assert "  Valeur pondérée : 28 500,00 € (30 000,00 € × 95 %)" in lines
    assert lines[-7:] == [
        "  Qualification : BANT (amount < 50 000 ; amount = 30 000,00 €) : 0 / 4, Non qualifié "
        "(0 < 3)",
        "    Authority : 0 (Utilisateur, autre valeur)",
        "    Non décidé : Budget (budget_confirmed manquant)",
        "    Non décidé : Need (need_identified manquant)",
        "    Non décidé : Timing (timing_defined manquant)",
        "  Autres scores : MEDDPICC 0 / 16",
        "  Playbook : aucun ne s'applique",
    ]


def test_a_deal_without_stage_or_amount(contech: engine.Program) -> None:
    assert explain_deal(contech, {"id": "D8", "status": "open"}, AS_OF) == (
        "Deal D8 (en cours) : pas d'étape connue (stage = manquant).\n"
        "  Qualification : aucun cadre choisi (amount manquant)\n"
        "  Playbook : aucun ne s'applique\n"
    )


def test_an_unreadable_record_raises_like_evaluate(contech: engine.Program) -> None:
    with pytest.raises(engine.RecordError, match=r"^budget: 'confrimed' is not one of"):
        explain_lead(contech, {"id": "L1", "budget": "confrimed"})


def test_unexpected_failure_is_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("stage")

    monkeypatch.delenv("KONCEPT_DEBUG", raising=False)
    monkeypatch.setattr(engine.Program, "evaluate", broken)
    assert run(capsys, "explain", CONTECH, "--deal", "D-001", "--data", str(data)) == (
        2, "", "error: the evaluation stopped on unexpected input (KeyError: 'stage'); set "
        "KONCEPT_DEBUG=1 to see where\n",
    )  # fmt: skip
