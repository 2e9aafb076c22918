# The rituals and what each one reports. The monthly individual coaching (30 min to 1h per rep)
# is a conversation, not a report, so it has no ritual here.

ritual weekly_pipeline "Point hebdo équipe (1h)" every week {
  show stale_deals, missing_exit_criteria
}

ritual monthly_business_review "Business review mensuelle (2h)" every month {
  show kpis, alerts
}

ritual quarterly_review "Revue trimestrielle (demi-journée)" every quarter {
  show attainment
}

# Alerts for the monthly business review.
# A deal past its stage's maximum days, or that cannot leave its stage yet.
alert deal_at_risk "Deal à risque" on deal when status == open and (stale or not exit_ready) severity warning

# A renewal with a detractor (NPS answer 0 to 6) needs the AM before the renewal date.
alert detractor_renewal "Renouvellement d'un client détracteur" on deal when type == renewal and status == open and nps_score <= 6 severity warning

# Open deals without an amount make the pipeline value wrong.
alert missing_amount "Deal ouvert sans montant" on deal when status == open and amount is missing severity info
