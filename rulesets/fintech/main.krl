# FinTech B2B. The diagnosis: turnover 40%, quota attainment 55%, variable budget +60% over
# forecast. The three workstreams: a step bonus with a trigger at 80% instead of a pure 5%
# commission (plans.krl), specialised roles (team.krl), MEDDPICC on every deal (the house
# method's qualification, unchanged). The sales path and the MEDDPICC grid are the house's, as
# they are: no override.
ruleset fintech "FinTech B2B" {
  extends "../house"
  currency EUR
  rounding half_up 0.01
}
