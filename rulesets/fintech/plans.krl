# Variable pay. Before: a pure 5% commission, no cap, which let the variable budget overrun by
# 60%. After: a step bonus (paliers) on a target variable, triggered at 80% of quota.

plan fintech_before "Avant – commission pure 5 %" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  measure bookings "CA signé" {
    credit amount of deals where status == won
    commission 5%
  }
}

# 7,500 per quarter at target. Steps are retroactive: the step reached pays on the whole
# quarter, e.g. 95% pays 75% x 7,500 = 5,625.00 and exactly 80% pays 3,750.00. From 100% the
# accelerator adds 2 x (attainment - 100%): 120% pays (100% + 40%) x 7,500 = 10,500.00.
plan fintech_after "Après – prime par paliers" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  target_variable 30K per year
  # One measure, so the plan cap is the measure's: at most 15,000 per quarter.
  cap 200%
  # The brief's problem was a +60% overrun; alert past +5% of the budgeted target variable
  # (the controlled overrun the method reports after its plan redesigns).
  budget guardrail 105%
  measure bookings "CA signé vs objectif" {
    credit amount of deals where status == won
    quota bookings
    # The method's "seuil de déclenchement à 80%": a gate, so 80% pays its step in full.
    threshold 80% gate
    steps {
      [0%, 80%) 0%
      [80%, 90%) 50%
      [90%, 100%) 75%
      [100%, ...) 100%
    }
    accelerator 2 above 100%
  }
}

# 150 for each opportunity an SDR created that reaches the qualification stage, credited to
# that SDR in the period the deal entered qualification. A deal whose events skip qualification
# has no such date: it is reported as missing, not credited silently.
plan fintech_sdr "SDR – prime par opportunité qualifiée" for SDR {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  measure qualified_opportunities "Opportunités qualifiées" {
    credit count of deals where sdr_id is not missing and reached(qualification) to sdr_id dated entered_at(qualification)
    per_unit 150
  }
}
