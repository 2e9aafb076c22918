# Marginal tiers on the amount booked in the quarter: 4% up to 150,000, 6% above. A rep at
# 145,000 who closes a 20,000 deal earns 5,000 x 4% + 15,000 x 6% = 1,100.00 on that deal,
# within a quarter paying 150,000 x 4% + 15,000 x 6% = 6,900.00.
plan ae_marginal "AE – commission marginale" for AE {
  effective 2026-01-01 to 2026-12-31
  period quarter
  measure bookings "CA signé" {
    credit amount of deals where status == won
    rates on amount method marginal {
      [0, 150000) 4%
      [150000, ...) 6%
    }
  }
}
