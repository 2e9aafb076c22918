# The KPIs, one per line: family, definition, target. The brief fixes only LTV/CAC > 3; the
# other targets are starting values to validate with the client at the first business review.
# Never activity counts (calls, emails, demo time): results, not agitation.

# Volume
kpi revenue "CA réalisé" family volume on deal = sum(amount where status == won) target >= 1M

kpi deals_won "Deals signés" family volume on deal = count(status == won) target >= 12

kpi installed_base_revenue "CA base installée (upsell + renouvellements)" family volume on deal = sum(amount where status == won and type not in [new_logo]) target >= 400K

# One count per status would exceed the 7 KPIs: the KPI follows the leads that became
# meetings or opportunities (SQL and beyond).
kpi sql_leads "Leads SQL (RDV) et opportunités" family volume on lead = count(status in [sql, opportunity]) target >= 60

# Profitability
kpi gross_margin "Marge brute" family profitability on deal = sum(gross_margin where status == won) target >= 300K

# Sales plus marketing spend per new customer won.
kpi cac "CAC (coût d'acquisition client)" family profitability on deal = (sum(sales_cost where type == new_logo and status == won) + sum(marketing_cost where type == new_logo and status == won)) / count(type == new_logo and status == won) target <= 15K

kpi ltv_cac "Ratio LTV/CAC" family profitability on deal = sum(lifetime_value where type == new_logo and status == won) / (sum(sales_cost where type == new_logo and status == won) + sum(marketing_cost where type == new_logo and status == won)) target > 3

# Efficiency
# Share of reps at or above 100% of their quota in the period.
kpi quota_attainment "Quota attainment" family efficiency on rep = count(attainment(bookings) >= 100%) / count(attainment(bookings) is not missing) target >= 80%

kpi base_attainment "Atteinte objectif base installée" family efficiency on rep = count(attainment(installed_base) >= 100%) / count(attainment(installed_base) is not missing) target >= 80%

# Cohort conversion: deals that reached the proposal among those that reached the demo.
kpi demo_to_proposal "Conversion Démo → Proposition" family efficiency on deal = count(reached(proposal)) / count(reached(demo)) target >= 50%

kpi sales_cycle "Cycle de vente moyen" family efficiency on deal = mean(close_date - created_at where status == won) target <= 180d

# Quality
kpi churn "Taux de churn" family quality on deal = count(type == renewal and status == lost) / count(type == renewal and status in [won, lost]) target <= 10%

# NPS in points (-100 to 100): promoters (9-10) minus detractors (0-6), over the answers.
kpi nps "NPS" family quality on deal = (count(nps_score >= 9) - count(nps_score <= 6)) / count(nps_score is not missing) * 100 target >= 30

# In value: renewed amount over the amount that came up for renewal.
kpi renewal_rate "Taux de renouvellement" family quality on deal = sum(amount where type == renewal and status == won) / sum(previous_amount where type == renewal and status in [won, lost]) target >= 90%
