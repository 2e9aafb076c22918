# Deal qualification: BANT for short cycles, MEDDPICC for the large deals.

# The MEDDPICC grid and the fields of the sales path's exit criteria are the house method's
# (../house/deals.krl); the deal's sector and the playbooks' steps are this client's.
record deal {
  sector one_of industrie "Industrie", services "Services", construction "BTP", immobilier "Immobilier", public "Secteur public", autre "Autre"
  # Playbook steps (pipeline.krl).
  discovery_workshop_done boolean
  business_case_done boolean
  poc_done boolean
  executive_presentation_done boolean
  usage_analysis_done boolean
  business_review_done boolean
  new_pain_identified boolean
  targeted_proposal_sent boolean
}

# What "signed" means for each type of deal, written once: the KPIs of team.krl and the pay
# measures of plans.krl read the same definitions, so they always count the same deals.
define won_new_logo "New Logo signé" on deal = type == new_logo and status == won

define won_upsell "Upsell signé" on deal = type == upsell and status == won

define won_renewal "Renouvellement signé" on deal = type == renewal and status == won

# One point per BANT letter; a letter left empty in the CRM scores 0 and is reported missing.
score bant "BANT" on deal max 4 {
  budget "Budget" { when budget_confirmed -> 1, otherwise -> 0 }
  authority "Authority" of contact_role { decision_maker -> 1, otherwise -> 0 }
  need "Need" { when need_identified -> 1, otherwise -> 0 }
  timing "Timing" { when timing_defined -> 1, otherwise -> 0 }
  status {
    qualified "Qualifié" when score >= 3
    unqualified "Non qualifié" otherwise
  }
}

# BANT below 50K (short cycles); MEDDPICC from 50K included, so a 50K deal gets MEDDPICC.
override qualify deal {
  use bant when amount < 50K
  use meddpicc otherwise
}
