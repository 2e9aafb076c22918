# KPIs, the AE role and the quarterly adjustment.

kpi revenue "CA réalisé" family volume on deal = sum(amount where status == won)

kpi gross_margin "Marge brute" family profitability on deal = sum(gross_margin where status == won)

kpi margin_rate "Taux de marge" family profitability on deal = sum(gross_margin where status == won) / sum(amount where status == won) target >= 15%

kpi low_margin_share "Part du CA signé sous 15 % de marge" family profitability on deal = sum(amount where status == won and margin_rate < 15%) / sum(amount where status == won)

role AE "Account Executive" {
  mission "Vendre de la marge, pas seulement du volume"
  kpis revenue, gross_margin, margin_rate, low_margin_share
  plan ae_margin
}

# "If a rep is at 40% of objective in Q2, we don't let them sink until December": flagged for
# review at the end of Q2, strictly under 40% of the bookings quota.
alert q2_under_40 "Sous 40 % de l'objectif à fin T2" on rep when period == "2026-Q2" and attainment(bookings) < 40% severity warning

# A won deal under the 15% floor earns no commission: the manager should see it.
alert low_margin_deal "Deal signé sous 15 % de marge" on deal when status == won and margin_rate < 15% severity info
