role agent "Sales agent" {
  mission "Signer les opportunités de son portefeuille"
  kpis won_value, win_rate
  plan agent_2017
}

# Every agent, per quarter of 2017: 5% of won close_value, plus 1,000 when the quarter's won
# value reaches the quota of 100,000 (attainment >= 100%).
plan agent_2017 "Commission agents 2017" for agent {
  effective 2017-01-01 to 2017-12-31
  communicated 2016-12-15
  period quarter
  measure commission "Commission 5 %" {
    credit amount of deals where status == won
    commission 5%
  }
  measure quarter_bonus "Prime trimestre 100K" {
    credit amount of deals where status == won
    quota formula 100K USD
    bonus 1_000 USD when attainment >= 100%
  }
}
