# Quarterly tiers, retroactive: the tier reached pays on the whole quarter. Paid each month on
# the quarter to date: with a 100,000 quota and bookings of 60,000 / 50,000 / 20,000, the
# payments are 6,000 / 10,500 / 9,500 (February: 16,500 due on 110,000 at 15%, minus 6,000
# paid; 3,000 of it is the catch-up on January's 60,000 now at 15%).
plan ae_retro "AE – paliers trimestriels payés chaque mois" for AE {
  effective 2026-01-01 to 2026-12-31
  period quarter
  pays monthly
  true_up recover
  measure bookings "CA signé" {
    credit amount of deals where status == won
    quota bookings
    rates method retroactive {
      [0%, 100%) 10%
      [100%, 120%) 15%
      [120%, ...) 20%
    }
  }
}

# The same tiers, marginal: each tier pays only the euros inside it, so the same bookings pay
# 6,000 / 5,500 / 3,500 (no catch-up: January's euros stay in the first tier).
plan am_marginal "AM – paliers marginaux payés chaque mois" for AM {
  effective 2026-01-01 to 2026-12-31
  period quarter
  pays monthly
  measure bookings "CA signé" {
    credit amount of deals where status == won
    quota bookings
    rates method marginal {
      [0%, 100%) 10%
      [100%, 120%) 15%
      [120%, ...) 20%
    }
  }
}

# A monthly 5% commission with a guaranteed draw of 1,500 a month, recoverable from later
# months: at most half of a month's commission, and never below the draw. Bookings of 10,000 /
# 40,000 / 60,000 earn 500 / 2,000 / 3,000: January pays 1,500 (1,000 advanced), February
# 1,500 (500 recovered: 2,000 - 1,500), March 2,500 (the last 500 recovered).
plan isr_draw "Inside sales – commission avec avance garantie" for ISR {
  effective 2026-01-01 to 2026-12-31
  period month
  draw 1500 recoverable up to 50%
  measure bookings "CA signé" {
    credit amount of deals where status == won
    commission 5%
  }
}

# A deal cancelled within 90 days of its signature gives back its commission pro rata of the
# window left: cancelled 45 days after, half. Recovered in the payment of the cancellation.
plan kam_clawback "KAM – commission avec reprise sur annulation" for KAM {
  effective 2026-01-01 to 2026-12-31
  period quarter
  clawback within 90 days prorata
  measure bookings "CA signé" {
    credit amount of deals where status == won
    commission 10%
  }
}

# A plan change on 1 July inside a yearly plan: the second version raises the rates and
# supersedes the first from that day, paying the deals closed from then on; each version's
# quota is its share of the year's days (181 and 184 of 365). Paid each quarter on the year
# to date; what was paid under the first version counts as paid under the second.
plan csm_2026 "CSM – commission 2026" for CSM {
  effective 2026-01-01 to 2026-12-31
  period year
  pays quarterly
  measure renewals "Renouvellements" {
    credit amount of deals where status == won
    quota renewals
    rates method retroactive {
      [0%, 100%) 5%
      [100%, ...) 8%
    }
  }
}

plan csm_2026_h2 "CSM – commission 2026, taux de juillet" for CSM {
  supersedes csm_2026 from 2026-07-01 split by close_date
  period year
  pays quarterly
  measure renewals "Renouvellements" {
    credit amount of deals where status == won
    quota renewals
    rates method retroactive {
      [0%, 100%) 6%
      [100%, ...) 10%
    }
  }
}

# The same change, split by days: each version pays the whole year's deals at its own rates,
# times its share of the year's days.
plan se_2026 "Solutions engineer – prime 2026" for SE {
  effective 2026-01-01 to 2026-12-31
  period year
  measure renewals "Renouvellements" {
    credit amount of deals where status == won
    commission 5%
  }
}

plan se_2026_h2 "Solutions engineer – prime 2026, taux de juillet" for SE {
  supersedes se_2026 from 2026-07-01 split by days
  period year
  measure renewals "Renouvellements" {
    credit amount of deals where status == won
    commission 6%
  }
}
