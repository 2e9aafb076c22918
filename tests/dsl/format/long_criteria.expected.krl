score bmanter "BMANTER" on lead max 100 {
  budget "Budget" { confirmed -> 20, to_validate -> 10, blocking -> 0 }
  authority "Autorité" {
    decision_maker -> 20
    influencer -> 10
    user -> 3
    unknown -> 0
    other -> 0
  }
  market "Market" { when sector in [industrie, services] -> 15, otherwise -> 0 }
  timing "Timing" { when timing_months < 3 -> 15, when timing_months <= 6 -> 8, otherwise -> 2 }
  company "Entreprise" { when employees >= 250 -> 10, when employees >= 50 -> 6, otherwise -> 2 }
  source "Référence" of lead_source {
    referral -> 5
    partner -> 5
    inbound -> 4
    event -> 3
    outbound -> 2
  }
  empty "Vide" {}
  # exactly 100 characters on one line: stays on one line
  edge100 "xxxxxxxxxxxxx" { when employees >= 250 -> 10, when employees >= 50 -> 6, otherwise -> 2 }
  # 101 characters: one case per line
  edge101 "xxxxxxxxxxxxxx" {
    when employees >= 250 -> 10
    when employees >= 50 -> 6
    otherwise -> 2
  }
  # written on several lines but fits in 100 characters: back on one line
  short { a -> 1, b -> 2 }
  metrics -> m_metrics
}
