# The method's seven-stage path. The brief fixes no durations or probabilities: these are the
# method's reference values (as in contech-saas), needed for the weekly review's stale deals,
# to recalibrate on the client's own history.

pipeline sales "Parcours de vente" on deal {
  stage detection "Détection" {
    probability 5%
    max_days 14d
    exit decision_contact "Contact établi avec décideur ou influenceur": contact_role in [decision_maker, influencer]
    action "Premier échange de qualification (15-30 min)"
  }
  stage qualification "Qualification" {
    probability 10%
    max_days 21d
    exit need "Besoin identifié": need_identified
    exit budget "Budget confirmé": budget_confirmed
    exit timing "Timing défini": timing_defined
    action "Appel de qualification structuré (BANT, MEDDPICC ou autre)"
  }
  stage discovery "Découverte approfondie" {
    probability 20%
    max_days 21d
    exit pain "Problématique détaillée": pain_documented
    exit stakes "Enjeux chiffrés": stakes_quantified
    action "Atelier découverte (1-2h avec plusieurs interlocuteurs)"
  }
  stage demo "Démonstration" {
    probability 40%
    max_days 14d
    exit demo_done "Démo personnalisée effectuée": demo_done
    exit positive_feedback "Feedback positif": demo_feedback == positive
    action "Démo produit adaptée aux enjeux identifiés"
  }
  stage proposal "Proposition commerciale" {
    probability 60%
    max_days 14d
    exit proposal_sent "Proposition envoyée": proposal_sent
    exit proposal_reviewed "Relecture effectuée": proposal_reviewed
    action "Présentation de la proposition (30-60 min)"
  }
  stage negotiation "Négociation" {
    probability 80%
    max_days 30d
    exit scope_agreed "Accord sur le périmètre": agreement_scope
    exit price_agreed "Accord sur le prix": agreement_price
    exit timing_agreed "Accord sur le timing": agreement_timing
    action "Traitement des objections, ajustements si nécessaire"
  }
  stage signature "Signature" {
    probability 95%
    max_days 14d
    exit contract_signed "Contrat signé": contract_signed
    action "Envoi du contrat, suivi de la signature, onboarding client"
  }
  # The method's example: 30% demo -> proposal against 50% expected means dig into the demos.
  expect conversion demo -> proposal >= 50%
}
