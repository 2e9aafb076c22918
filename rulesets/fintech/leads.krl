# Lead management: the same BMANTER criteria as contech-saas, with two differences: a blocking
# budget disqualifies whatever the score, and 70 points is already SQL.

record lead {
  budget one_of confirmed "Confirmé", to_validate "À valider", blocking "Bloquant"
  # Free text in this CRM: compared with quoted values.
  sector text
  authority one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need one_of urgent "Urgent", medium_term "Moyen terme", exploration "Exploration"
  timing_months number
  employees integer
  source one_of referral "Recommandation", partner "Partenaire", inbound "Inbound", event "Événement", outbound "Outbound"
}

score bmanter "BMANTER" on lead max 100 {
  budget "Budget" { confirmed -> 20, to_validate -> 10, blocking -> 0 }
  market "Market" { when sector in ["industrie", "services"] -> 15, otherwise -> 0 }
  authority "Authority" { decision_maker -> 20, influencer -> 10, user -> 3 }
  need "Need" { urgent -> 15, medium_term -> 8, exploration -> 2 }
  timing "Timing" {
    when timing_months < 3 -> 15
    when timing_months in 3..6 -> 8
    when timing_months > 6 -> 2
  }
  company "Entreprise" {
    when employees >= 250 -> 10
    when employees in 50..249 -> 6
    otherwise -> 2
  }
  reference "Référence" of source {
    referral -> 5
    partner -> 5
    inbound -> 4
    event -> 3
    outbound -> 2
  }
  # The knock-out is checked first: a blocking budget is disqualified even at 80 points.
  status {
    knockout disqualified "Disqualifié" when budget == blocking
    SQL "Sales Qualified Lead" when score >= 70
    MQL "Marketing Qualified Lead" otherwise
  }
}
