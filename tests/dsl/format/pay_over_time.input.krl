ruleset t { currency EUR }
role AE { mission "x" }
plan a for AE { effective 2026-01-01 to 2026-12-31  period quarter  pays   monthly  true_up   floor
  draw 1_500   recoverable up to   50%   clawback within 90   days prorata
  measure m { credit amount of deals  commission 5% } }
plan b for AE {supersedes a from 2026-07-01 split by   close_date, period quarter, pays monthly, true_up floor,
  draw 1_500 recoverable up to 50%, clawback within 90 days prorata,
  measure m { credit amount of deals  commission 6% } }
