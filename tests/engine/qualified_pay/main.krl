# Credits that read the deals' computed results (issue 11): the AE is credited only the won
# deals their qualification says are qualified (BANT under 20K, MEDDPICC from 20K), and a SPIFF
# pays the won deals qualified by a strong MEDDPICC. Nothing deciding a qualification reads
# `stale`, `exit_ready` or `days_in_stage`: pay does not depend on the day it is computed.
ruleset qualified_pay "Crédit des affaires qualifiées" {
  currency EUR
}

record deal {
  budget_ok boolean
  pain_identified boolean
  metrics_ok boolean
  economic_buyer boolean
  champion boolean
  decision_process boolean
}

score bant "BANT" on deal max 3 {
  budget "Budget" { when budget_ok -> 1 }
  authority "Décideur" { when economic_buyer -> 1 }
  need "Besoin" { when pain_identified -> 1 }
  status {
    qualified "Qualifiée" when score >= 2
    to_qualify "À qualifier" otherwise
  }
}

score meddpicc "MEDDPICC" on deal max 100 {
  metrics "Metrics" { when metrics_ok -> 20 }
  economic_buyer "Economic buyer" { when economic_buyer -> 30 }
  champion "Champion" { when champion -> 30 }
  decision "Decision process" { when decision_process -> 20 }
  status {
    # No champion, no qualification, whatever the total.
    qualified "Qualifiée" when score >= 50 and meddpicc.champion > 0
    to_qualify "À qualifier" otherwise
  }
}

qualify deal {
  use bant when amount < 20K
  use meddpicc otherwise
}

role AE "Account Executive" {
  plan ae_qualified
}

plan ae_qualified "AE – commission sur affaires qualifiées" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  # 5% of the won deals that are qualified, whichever score qualifies them.
  measure bookings "CA qualifié" {
    credit amount of deals where status == won and qualification_status == qualified
    commission 5%
  }
  # 300 per won deal qualified by MEDDPICC with 70 points or more, in the first half-year.
  spiff strong_meddpicc "MEDDPICC solide" {
    300 per deal where status == won and framework == meddpicc and meddpicc.score >= 70
    from 2026-01-01 to 2026-06-30
  }
}
