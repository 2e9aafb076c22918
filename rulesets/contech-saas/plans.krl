# AE variable pay 2026: 40,000 per year at target, paid each quarter (10,000), split over three
# measures so the plan rewards what the strategy wants (New Logos first).

# The curve of the three AE measures: below 80% nothing; 50% at 80%, straight to 100% at 100%;
# then 1.5 points per point up to 130% (145% paid), 2 points per point above. With `cap 200%`,
# never more than twice the measure's target (reached at 157.5% attainment).
curve standard "Courbe AE standard" {
  below 80% pay 0%
  at 80% pay 50%
  at 100% pay 100%
  slope 1.5 to 130%
  slope 2
}

plan ae_2026 "AE – prime variable 2026" for AE {
  effective 2026-01-01 to 2026-12-31
  # Objectives known before the year starts (French case law).
  communicated 2025-12-15
  period quarter
  target_variable 40K per year
  # The brief is silent on arrivals during a quarter; prorata temporis is the French practice.
  proration daily
  # A new AE ramps up: 50% of quota in the first month of tenure (the month of hire), 75% in
  # the second, the full quota from the third; a quarter takes the mean of its months.
  ramp 50%, 75%, 100%
  # The three measures share the curve `standard` (above), each capped at 200% of its target.
  measure new_logo "New Logos" weight 60% {
    credit amount of deals where won_new_logo
    quota new_logo
    curve standard
    cap 200%
  }
  measure upsell "Upsell" weight 30% {
    credit amount of deals where won_upsell
    quota upsell
    curve standard
    cap 200%
  }
  measure renewal "Renouvellements" weight 10% {
    credit amount of deals where won_renewal
    quota renewal
    curve standard
    cap 200%
  }
}
