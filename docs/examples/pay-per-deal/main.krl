# Pay per deal, the worked example of docs/language.md ("Pay per deal"): each credited deal's
# share of each measure's payout, to the cent. `koncept test docs/examples/pay-per-deal` runs it.
ruleset pay_per_deal "Exemple : rémunération par affaire" {
  currency EUR
  rounding half_up 0.01
}

role AE "Account Executive" {
  mission "Signer de nouveaux clients"
  plan ae_marginal
}
