# The method's seven-stage sales path: each stage with the criteria a deal must meet to leave it
# and what the rep does there. No durations or probabilities: they are the client's (from its
# own cycle and history), so a client that has them adds them in an `override`.

pipeline sales "Parcours de vente" on deal {
  stage detection "Détection" {
    exit decision_contact "Contact établi avec décideur ou influenceur": contact_role in [decision_maker, influencer]
    action "Premier échange de qualification (15-30 min)"
  }
  stage qualification "Qualification" {
    exit need "Besoin identifié": need_identified
    exit budget "Budget confirmé": budget_confirmed
    exit timing "Timing défini": timing_defined
    action "Appel de qualification MEDDPICC"
  }
  stage discovery "Découverte approfondie" {
    exit pain "Problématique détaillée": pain_documented
    exit stakes "Enjeux chiffrés": stakes_quantified
    action "Atelier découverte (1-2h avec plusieurs interlocuteurs)"
  }
  stage demo "Démonstration" {
    exit demo_done "Démo personnalisée effectuée": demo_done
    exit positive_feedback "Feedback positif": demo_feedback == positive
    action "Démo produit adaptée aux enjeux identifiés"
  }
  stage proposal "Proposition commerciale" {
    exit proposal_sent "Proposition envoyée": proposal_sent
    exit proposal_reviewed "Relecture effectuée": proposal_reviewed
    action "Présentation de la proposition (30-60 min)"
  }
  stage negotiation "Négociation" {
    exit scope_agreed "Accord sur le périmètre": agreement_scope
    exit price_agreed "Accord sur le prix": agreement_price
    exit timing_agreed "Accord sur le timing": agreement_timing
    action "Traitement des objections, ajustements si nécessaire"
  }
  stage signature "Signature" {
    exit contract_signed "Contrat signé": contract_signed
    action "Envoi du contrat, suivi de la signature, onboarding client"
  }
}
