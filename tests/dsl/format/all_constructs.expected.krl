ruleset a "x" {
  currency EUR
  rounding half_up 0.01
}

record lead {
  budget one_of confirmed "C", to_validate
  timing_months number
  employees integer 0..10
  x integer -5..5
}

score b "B" on lead max 100 {
  budget "Budget" { confirmed -> 20, to_validate -> -10 }
  timing { when timing_months < 3 -> 15, when timing_months in 3..6 -> 8, otherwise -> 2 }
  m -> m_metrics
  status {
    knockout disq when budget == blocking
    SQL when score > 70
    MQL otherwise
  }
}

kpi w "T" on deal = count(status == won) / count(status in [won, lost]) - 3 - -2 target >= 30%

plan p for AE {
  period quarter
  target_variable 40K EUR per year
  measure n weight 60% {
    credit amount - cost of deals where type == new_logo and status == won
    quota new_logo
    curve {
      below 80% pay 0%
      at 80% pay 50%
      slope 1.5 to 130%
      slope 2
    }
    cap 200%
  }
  measure r {
    credit count of deals where reached(qualification) to sdr_id
    rates on amount method marginal {
      [0, 100K) 10%
      [100K, ...) 15%
    }
    threshold 80% gate
  }
}

alert a on deal when x == 3 and d is not missing and date >= 2026-01-01 and count > 3 and 50K€ < 3

pipeline p on deal {
  stage s "S" {
    probability 5%
    max_days 14d
    exit a "b": x in [a, b]
    action "x"
  }
  expect conversion a -> b >= 50%
}

playbook x on deal when type == new_logo and amount > 100K {
  require a: contacts >= 3 before proposal
  recommend poc: poc_done
  expect win_rate 30%..40%
}

role AE "x" {
  mission "m"
  kpis a, b
  plan p, q
}

ritual w every week {
  show a, b
}

strategy "x" {
  target revenue 8M from 5M
  growth n 60% when type == new_logo
  focus sector in ["a"]
  channel direct 100%
}

qualify deal {
  use bant when amount < 50K
  use meddpicc otherwise
}
