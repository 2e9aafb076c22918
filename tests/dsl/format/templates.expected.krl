ruleset client "Client" {
  currency EUR
  extends "../house", "../saas"
}

# The client's own qualification call.
override pipeline sales on deal {
  stage qualification {
    probability 10%
    action "Appel BANT"
  }
}

override kpi win_rate on deal = count(status == won) / count(status in [won, lost]) target >= 30%
