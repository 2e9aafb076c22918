# Le parcours de vente : chaque étape a sa probabilité, sa durée maximale (au-delà, le deal
# est signalé comme en retard) et ses critères de sortie.

pipeline sales "Parcours de vente" on deal {
  stage detection "Détection" {
    probability 10%
    max_days 14d
    exit decision_contact "Contact établi avec un décideur ou un influenceur": contact_role in [decision_maker, influencer]
    action "Premier échange de qualification (15-30 min)"
  }
  stage qualification "Qualification" {
    probability 25%
    max_days 21d
    exit need "Besoin identifié": need_identified
    exit budget "Budget confirmé": budget_confirmed
    action "Appel de qualification BANT"
  }
  stage proposal "Proposition commerciale" {
    probability 60%
    max_days 21d
    exit proposal_sent "Proposition envoyée": proposal_sent
    action "Présentation de la proposition (30-60 min)"
  }
  stage signature "Signature" {
    probability 90%
    max_days 14d
    exit contract_signed "Contrat signé": contract_signed
    action "Envoi du contrat et suivi de la signature"
  }
}
