# Marketo-style lead routing: a FIT score (who the lead is) and a BEHAVIOR score (what the lead
# did), each with its own points and maximum. A lead is MQL when both are high enough.
ruleset marketo "Routage Marketo (FIT + BEHAVIOR)" {
  currency EUR
}

record lead {
  employees integer
  role one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  pricing_visits integer
  demo_requested boolean
  webinar_attended boolean
}

score fit "FIT" on lead max 50 {
  size "Taille" { when employees >= 250 -> 30, when employees in 50..249 -> 15, otherwise -> 5 }
  role "Rôle" { decision_maker -> 20, influencer -> 10, otherwise -> 0 }
}

score behavior "BEHAVIOR" on lead max 80 {
  pricing "Visites de la page tarifs" {
    when pricing_visits >= 3 -> 30
    when pricing_visits in 1..2 -> 15
  }
  demo "Démo demandée" { when demo_requested -> 40 }
  webinar "Webinar suivi" { when webinar_attended -> 10 }
  status {
    MQL "Marketing Qualified Lead" when fit.score >= 30 and behavior.score >= 50
    nurture "Nurturing" otherwise
  }
}

# The statuses are BEHAVIOR's: it qualifies every lead, reading FIT's total.
qualify lead {
  use behavior otherwise
}

kpi mql_rate "Taux de MQL" family quality on lead = count(status == MQL) / count() target >= 20%

alert hot_but_small "Lead très engagé hors cible" on lead when behavior.score >= 50 and fit.size <= 5 severity info
