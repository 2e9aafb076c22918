# Specialised roles: 2 SDR (prospecting and qualification), 3 AE (closing only), 1 AM (renewals
# and upsell of the installed base). Headcount lives in the reps table, not here.

kpi sdr_opportunities "Opportunités qualifiées créées par les SDR" family volume on deal = count(sdr_id is not missing and reached(qualification))

kpi bookings "CA signé" family volume on deal = sum(amount where status == won)

kpi win_rate "Taux de closing" family efficiency on deal = count(status == won) / count(status in [won, lost])

# Share of AEs at or above 100% of their bookings quota; 55% at the diagnosis.
kpi quota_attainment "Quota attainment" family efficiency on rep = count(attainment(bookings) >= 100%) / count(attainment(bookings) is not missing) target > 55%

kpi upsell_revenue "CA Upsell base installée" family volume on deal = sum(amount where type == upsell and status == won)

kpi renewal_rate "Taux de renouvellement" family quality on deal = count(type == renewal and status == won) / count(type == renewal and status in [won, lost])

# Customer churn was 35% at the diagnosis: the target is to get below it.
kpi churn "Churn client" family quality on deal = count(type == renewal and status == lost) / count(type == renewal and status in [won, lost]) target < 35%

role SDR "Sales Development Representative" {
  mission "Prospection et qualification d'opportunités"
  kpis sdr_opportunities
  plan fintech_sdr
}

# Paid on the after plan (first); the before plan is computed beside it on the same data so the
# client sees both costs.
role AE "Account Executive" {
  mission "Closing uniquement"
  kpis bookings, win_rate, quota_attainment
  plan fintech_after, fintech_before
}

role AM "Account Manager" {
  mission "Renouvellement et upsell de la base installée"
  kpis renewal_rate, churn, upsell_revenue
}
