# Deals: the MEDDPICC grid of the method and the fields the sales path's exit criteria read.

record deal {
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
}

# Eight letters scored 0, 1 or 2: at most 16 points; strong from 14, medium from 8.
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

# Every deal is qualified with MEDDPICC unless the client routes some elsewhere.
qualify deal {
  use meddpicc otherwise
}
