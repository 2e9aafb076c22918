strategy "De 5M€ à 8M€" {
  target revenue 8M from 5.5M
  growth new_logo 60% when type == new_logo and amount > 50K€
  growth upsell 12.5% when amount >= 40_000 EUR and amount < 1.5M $
  focus sector in ["Industrie \"lourde\"", "Services\\Conseil", "a\tb"]
}
pipeline nb "Cycle \"B2B\" moyen (3-6 mois)" on deal {
  stage detection "Détection" { probability 5%, max_days 14d, action "Qualifier — 15 à 30 min" }
  stage demo { max_days 2w, probability 40% exit done: demo_date >= 2026-01-01 }
}
plan p "AE – prime" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  measure m { credit count of deals rates method retroactive { [0%, 100%) 10%, [100%, 120%] 15%, (120%, ...) 20% } accelerator -0.5 above 100% bonus 2_000 when attainment >= 100% }
  budget guardrail 110%
}
