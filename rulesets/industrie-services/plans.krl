# AE variable pay: a commission on margin, plus a bookings bonus against a quota that follows
# the territory's potential.

plan ae_margin "AE – commission sur marge 2026" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  # 10% of the gross margin of each won deal, unless the deal's margin rate is under 15%
  # (15% exactly earns). Rep A: 400,000 x 10% = 40,000; rep B: 150,000 x 10% = 15,000.
  measure margin "Marge brute" {
    credit gross_margin of deals where status == won and margin_rate >= 15%
    commission 10%
  }
  # Same objective for everyone would be unfair: 250,000 per quarter times the territory's
  # potential (idf 1.3 -> 325,000; bre 0.7 -> 175,000). Bookings are all won amount.
  measure bookings "Prise de commandes" {
    credit amount of deals where status == won
    quota formula 250K EUR * territory.potential
    bonus 2_000 when attainment >= 100%
  }
}
