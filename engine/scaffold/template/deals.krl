# Les champs des deals que les critères de sortie du pipeline lisent (pipeline.krl).

record deal {
  contact_role one_of decision_maker "Décideur", influencer "Influenceur", user "Utilisateur"
  need_identified boolean
  budget_confirmed boolean
  proposal_sent boolean
  contract_signed boolean
}
