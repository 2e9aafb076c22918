# SPIFFs and ramps (issue 10), on one monthly AE plan: a linear curve on the month's quota, a
# ramp for new hires, and a SPIFF on the launch of product X. The worked examples of
# docs/language.md ("SPIFFs, ramps and quota relief") are its fixtures (tests/pay.yaml).
ruleset spiff_ramp "SPIFF et montée en charge" {
  currency EUR
}

record deal {
  product text
}

role AE "Account Executive" {
  plan ae_monthly
}

plan ae_monthly "AE – prime mensuelle" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period month
  target_variable 24K per year
  # Month 1 of tenure (the month of hire) at 50% of quota, month 2 at 75%, then 100%.
  ramp 50%, 75%, 100%
  # Pays attainment x 2,000 (the month's target), whatever the SPIFFs pay.
  measure bookings "CA signé" {
    credit amount of deals where status == won
    quota bookings
    curve {
      at 0% pay 0%
      at 100% pay 100%
      slope 1
    }
  }
  # 500 per won deal of product X closed in March or April, at most 1,500 a month.
  spiff launch_x "Lancement produit X" {
    500 per deal where status == won and product == "X"
    from 2026-03-01 to 2026-04-30
    cap 1500
  }
}
