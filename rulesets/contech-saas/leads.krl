# Lead management: the BMANTER score (the Koncept adaptation of BANT), out of 100 points.

record lead {
  budget one_of confirmed "Confirmé", to_validate "À valider", blocking "Bloquant"
  # The brief names two target sectors, industrie and services, not a closed list: a lead from
  # any other sector (retail, banque, santé...) scores 0 on Market and is evaluated.
  sector text
  authority one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need one_of urgent "Urgent", medium_term "Moyen terme", exploration "Exploration"
  timing_months number
  employees integer
  # Narrows the canonical `source` text column to the acquisition channels the score knows.
  source one_of referral "Recommandation", partner "Partenaire", inbound "Inbound", event "Événement", outbound "Outbound"
}

score bmanter "BMANTER" on lead max 100 {
  budget "Budget" { confirmed -> 20, to_validate -> 10, blocking -> 0 }
  market "Market" { when sector in ["industrie", "services"] -> 15, otherwise -> 0 }
  authority "Authority" { decision_maker -> 20, influencer -> 10, user -> 3 }
  need "Need" { urgent -> 15, medium_term -> 8, exploration -> 2 }
  # "3 to 6 inclusive": the range 3..6 includes both ends; 2.5 months is < 3, 6.5 is > 6.
  timing "Timing" {
    when timing_months < 3 -> 15
    when timing_months in 3..6 -> 8
    when timing_months > 6 -> 2
  }
  # First match wins: 250 and more, then 50 to 249, then the small companies.
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
  # The method: leads above 70/100 go to the AEs. Exactly 70 stays MQL (strictly greater).
  status {
    SQL "Sales Qualified Lead" when score > 70
    MQL "Marketing Qualified Lead" otherwise
  }
}
