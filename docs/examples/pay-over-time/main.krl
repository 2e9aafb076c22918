# Pay over time, the worked examples of docs/language.md ("Pay over time"): a quarterly plan
# paid each month with true-ups (retroactive and marginal tiers), a guaranteed draw, and
# clawbacks of cancelled deals. `koncept test docs/examples/pay-over-time` runs them.
ruleset pay_over_time "Exemples : paiement dans le temps" {
  currency EUR
  rounding half_up 0.01
}

role AE "Account Executive" {
  mission "Signer de nouveaux clients"
  plan ae_retro
}

role AM "Account Manager" {
  mission "Développer les clients existants"
  plan am_marginal
}

role ISR "Inside Sales" {
  mission "Signer les petits comptes"
  plan isr_draw
}

role KAM "Key Account Manager" {
  mission "Fidéliser les grands comptes"
  plan kam_clawback
}

role CSM "Customer Success Manager" {
  mission "Renouveler et étendre les contrats"
  plan csm_2026
}

role SE "Solutions Engineer" {
  mission "Porter l'avant-vente technique"
  plan se_2026
}
