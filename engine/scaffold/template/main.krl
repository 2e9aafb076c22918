# Règles commerciales de __client__, créées par `koncept init`. Un dossier est un ruleset :
# ce fichier porte l'en-tête ; leads.krl, deals.krl, pipeline.krl, team.krl et plans.krl le
# reste. Remplacez les exemples par ce que dit le brief du client.
ruleset __client__ "__client__" {
  currency EUR
  rounding half_up 0.01
}
