# Deal qualification: BANT for short cycles, MEDDPICC for the large deals.

record deal {
  sector one_of industrie "Industrie", services "Services", construction "BTP", immobilier "Immobilier", public "Secteur public", autre "Autre"
  contact_role one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  # BANT answers; the qualification stage's exit criteria reuse them.
  budget_confirmed boolean
  need_identified boolean
  timing_defined boolean
  # MEDDPICC letters: 0 unknown, 1 identified, 2 validated.
  m_metrics integer 0..2
  m_economic_buyer integer 0..2
  m_decision_criteria integer 0..2
  m_decision_process integer 0..2
  m_paper_process integer 0..2
  m_identify_pain integer 0..2
  m_champion integer 0..2
  m_competition integer 0..2
  # Exit criteria of the pipeline (pipeline.krl).
  pain_documented boolean
  stakes_quantified boolean
  demo_done boolean
  demo_feedback one_of positive "Positif", neutral "Neutre", negative "Négatif"
  proposal_sent boolean
  proposal_reviewed boolean
  agreement_scope boolean
  agreement_price boolean
  agreement_timing boolean
  contract_signed boolean
  # Playbook steps (pipeline.krl).
  discovery_workshop_done boolean
  business_case_done boolean
  poc_done boolean
  executive_presentation_done boolean
  usage_analysis_done boolean
  business_review_done boolean
  new_pain_identified boolean
  targeted_proposal_sent boolean
}

# One point per BANT letter; a letter left empty in the CRM scores 0 and is reported missing.
score bant "BANT" on deal max 4 {
  budget "Budget" { when budget_confirmed -> 1, otherwise -> 0 }
  authority "Authority" of contact_role { decision_maker -> 1, otherwise -> 0 }
  need "Need" { when need_identified -> 1, otherwise -> 0 }
  timing "Timing" { when timing_defined -> 1, otherwise -> 0 }
  status {
    qualified "Qualifié" when score >= 3
    unqualified "Non qualifié" otherwise
  }
}

# Eight letters scored 0, 1 or 2: at most 16 points.
score meddpicc "MEDDPICC" on deal max 16 {
  metrics "Metrics" -> m_metrics
  economic_buyer "Economic Buyer" -> m_economic_buyer
  decision_criteria "Decision Criteria" -> m_decision_criteria
  decision_process "Decision Process" -> m_decision_process
  paper_process "Paper Process" -> m_paper_process
  identify_pain "Identify Pain" -> m_identify_pain
  champion "Champion" -> m_champion
  competition "Competition" -> m_competition
  status {
    strong "Fort" when score >= 14
    medium "Moyen" when score >= 8
    weak "Faible" otherwise
  }
}

# BANT below 50K (short cycles); MEDDPICC from 50K included, so a 50K deal gets MEDDPICC.
qualify deal {
  use bant when amount < 50K
  use meddpicc otherwise
}
