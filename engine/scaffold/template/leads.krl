# Qualification des leads : un score BANT sur 100, SQL à partir de 70 points, un budget
# bloquant disqualifie quel que soit le score.

record lead {
  budget one_of confirmed "Confirmé", to_validate "À valider", blocking "Bloquant"
  authority one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need one_of urgent "Urgent", medium_term "Moyen terme", exploration "Exploration"
  timing_months number
}

score bant "BANT" on lead max 100 {
  budget "Budget" { confirmed -> 30, to_validate -> 15, blocking -> 0 }
  authority "Autorité" { decision_maker -> 30, influencer -> 15, user -> 5 }
  need "Besoin" { urgent -> 20, medium_term -> 10, exploration -> 0 }
  timing "Délai" { when timing_months < 3 -> 20, when timing_months in 3..6 -> 10, otherwise -> 0 }
  # Le knock-out est évalué en premier : un budget bloquant disqualifie même à 80 points.
  status {
    knockout disqualified "Disqualifié" when budget == blocking
    SQL "Sales Qualified Lead" when score >= 70
    MQL "Marketing Qualified Lead" otherwise
  }
}
