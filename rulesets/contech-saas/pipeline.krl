# The sales path, from detection to signature (cycle B2B moyen, 3 to 6 months), and the
# playbooks by type of deal.

# The house's seven stages (../house/pipeline.krl) with this client's probabilities and stale
# thresholds, its qualification call (BANT or MEDDPICC by amount) and its post-demo follow-up.
override pipeline sales "Cycle B2B moyen (3-6 mois)" on deal {
  stage detection {
    probability 5%
    max_days 14d
  }
  stage qualification {
    probability 10%
    max_days 21d
    action "Appel de qualification structuré (BANT ou MEDDPICC selon le montant)"
  }
  stage discovery {
    probability 20%
    max_days 21d
  }
  stage demo {
    probability 40%
    max_days 14d
    action "Démo produit adaptée aux enjeux identifiés"
    action "Relance post-démo (modèle \"Email de relance post-démo\")"
  }
  stage proposal {
    probability 60%
    max_days 14d
  }
  stage negotiation {
    probability 80%
    max_days 30d
  }
  stage signature {
    probability 95%
    max_days 14d
  }
  expect conversion demo -> proposal >= 50%
}

# Deal complexe, cycle long (6-12 mois), plusieurs décideurs.
playbook new_logo_large "New Logo > 100K€ ACV" on deal when type == new_logo and amount > 100K {
  require multi_threading "Multi-threading (au moins 3 interlocuteurs)": contacts >= 3 before proposal
  require discovery_workshop "Atelier découverte (2h, 4-6 personnes)": discovery_workshop_done before demo
  require business_case "Business case (ROI chiffré)": business_case_done before proposal
  # "si applicable": recommended, never blocking.
  recommend poc "Proof of Concept": poc_done
  require executive_presentation "Présentation exécutive (comex, 30 min max)": executive_presentation_done before signature
  expect win_rate 30%..40%
}

# Client existant, usage satisfaisant. The brief lists the steps without stages; each is due
# before the stage that builds on it: usage and value shown before discovery, the new pain
# before the demo, the targeted offer before negotiating.
playbook upsell_base "Upsell base installée" on deal when type == upsell {
  require usage_analysis "Analyse d'usage (équipes non équipées)": usage_analysis_done before discovery
  require business_review "Business review trimestrielle": business_review_done before discovery
  require new_pain "Identification du pain": new_pain_identified before demo
  require targeted_proposal "Proposition ciblée": targeted_proposal_sent before negotiation
  expect win_rate 50%..60%
}

# CRM hygiene, reviewed with the pipeline.
# A won deal is credited to the AE; without a signed contract the credit is disputable.
alert won_without_contract "Deal gagné sans contrat signé" on deal when status == won and contract_signed == false severity warning

# The demo stage needs the customer's feedback to exit.
alert demo_without_feedback "Démo faite sans feedback client" on deal when demo_done == true and demo_feedback is missing severity info

# A large open deal (above the New Logo playbook's 100K€) whose MEDDPICC is weak (under 8 of
# 16): the qualification the engine computed, read as a field.
alert large_deal_weak_meddpicc "Deal > 100K€ avec un MEDDPICC faible" on deal when status == open and amount > 100K and qualification_status == weak severity warning

# An open deal expected to close before the 2026 plan started is out of date: it would never
# be credited to a 2026 quarter as it stands.
alert close_date_before_plan "Deal ouvert avec une date de closing avant 2026" on deal when status == open and close_date < 2026-01-01 severity info
