# Roles and their KPIs: never more than 7 per role, results rather than activity.

kpi new_logo_acv "ACV New Logos signé" family volume on deal = sum(amount where won_new_logo)

kpi upsell_acv "ACV Upsell signé" family volume on deal = sum(amount where won_upsell)

# The lower end of the New Logo playbook's expected win rate.
kpi win_rate "Taux de closing" family efficiency on deal = count(status == won) / count(status in [won, lost]) target >= 30%

kpi demo_to_proposal "Conversion Démo → Proposition" family efficiency on deal = count(reached(proposal)) / count(reached(demo)) target >= 50%

# Median, so one 12-month New Logo does not hide the usual cycle; 26 weeks is the 6 months of
# the pipeline's "3-6 mois".
kpi sales_cycle "Cycle de vente médian" family efficiency on deal = median(close_date - created_at where status == won) target <= 26w

kpi qualified_opportunities "Opportunités qualifiées" family volume on deal = count(reached(qualification))

# The share of the leads BMANTER sends to the AEs (SQL: above 70/100), from the status the engine
# computed for each lead.
kpi sql_rate "Taux de leads SQL" family quality on lead = count(status == SQL) / count()

# The 5-10M€ scale-up team of the method, 100% direct. Only the AE plan is in the brief.
role SDR "SDR / BDR" {
  mission "Qualification d'opportunités"
  kpis qualified_opportunities, sql_rate
}

role AE "Account Executive" {
  mission "Closing New Business + Upsell"
  kpis new_logo_acv, upsell_acv, win_rate, demo_to_proposal, sales_cycle
  plan ae_2026
}
