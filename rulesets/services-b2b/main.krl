# Services B2B: before, no structured ritual, the sales director steered "au feeling". This
# ruleset gives each role at most 7 result KPIs from the four families (volume, profitability,
# efficiency, quality) and the rituals that report on them.
ruleset services_b2b "Services B2B – rituels et KPI" {
  currency EUR
  rounding half_up 0.01
}

record lead {
  # The CRM's lead status, for the "leads by status" KPI.
  status one_of new "Nouveau", mql "MQL", sql "SQL (RDV)", opportunity "Opportunité convertie"
}

record deal {
  # Acquisition cost of a new customer, split as the finance team books it, and the customer's
  # expected lifetime value (gross margin over the expected life of the account).
  sales_cost money
  marketing_cost money
  lifetime_value money
  # On a renewal: the contract value that came up for renewal.
  previous_amount money
  # The customer's answer to "would you recommend us?", 0 to 10.
  nps_score integer 0..10
  # Exit criteria of the pipeline (pipeline.krl).
  contact_role one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need_identified boolean
  budget_confirmed boolean
  timing_defined boolean
  pain_documented boolean
  stakes_quantified boolean
  demo_done boolean
  demo_feedback one_of positive "Positif", neutral "Neutre", negative "Négatif"
  proposal_sent boolean
  proposal_reviewed boolean
  agreement_scope boolean
  agreement_price boolean
  agreement_timing boolean
  contract_signed boolean
}
