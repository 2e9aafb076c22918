# Deals: who created them (the SDR credit), MEDDPICC on every deal, and the exit criteria of
# the sales path.

record deal {
  # The SDR who created the opportunity; empty when an AE sourced it.
  sdr_id text
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
  contact_role one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need_identified boolean
  budget_confirmed boolean
  timing_defined boolean
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
}

# The same MEDDPICC grid and bands as contech-saas (strong from 14/16, medium from 8).
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

# Stronger qualification to cut churn: MEDDPICC whatever the amount.
qualify deal {
  use meddpicc otherwise
}
