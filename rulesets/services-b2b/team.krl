# Two roles, 7 KPIs each (the method's maximum), and the plans whose quotas give the quarterly
# review its attainment per rep.

role AE "Account Executive" {
  mission "Closing des nouveaux clients"
  kpis revenue, deals_won, sql_leads, cac, quota_attainment, demo_to_proposal, sales_cycle
  plan ae_services
}

role AM "Account Manager" {
  mission "Renouvellement et expansion de la base installée"
  kpis installed_base_revenue, gross_margin, ltv_cac, base_attainment, churn, nps, renewal_rate
  plan am_services
}

# The brief fixes no pay: these plans exist so that attainment (credited / quota) is defined.
# Their rates are the worked examples of docs/language.md (tier methods, gate or floor), so the
# documented figures can be reproduced on this ruleset.

# Marginal (tax-bracket) rates: each band's rate applies to the part of the bookings inside it.
# Quota 100K and 130K booked: 100K x 10% + 20K x 15% + 10K x 20% = 15,000 (a retroactive
# table would pay 130K x 20% = 26,000).
plan ae_services "AE – commission par tranches" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  measure bookings "Prise de commandes" {
    credit amount of deals where status == won
    quota bookings
    rates on attainment method marginal {
      [0%, 100%) 10%
      [100%, 120%) 15%
      [120%, ...) 20%
    }
  }
}

# Retroactive rates with a floor at 80%: only what lies above 80% of the quota earns, at the
# rate of the band reached. 80K on a 100K quota pays 0 (a gate would pay 80K x 8% = 6,400).
plan am_services "AM – commission base installée" for AM {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  measure installed_base "Base installée (upsell + renouvellements)" {
    credit amount of deals where type in [upsell, renewal] and status == won
    quota installed_base
    rates method retroactive {
      [0%, 80%) 0%
      [80%, 100%) 8%
      [100%, 120%) 12%
      [120%, ...) 15%
    }
    threshold 80% floor
  }
}
