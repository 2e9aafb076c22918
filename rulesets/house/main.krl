# The house method: what every client of the practice shares unless it says otherwise. A client
# starts from it with `extends "../house"` in its header and changes an item with `override`;
# `koncept check --deviations` lists, per client, every item that differs from it.
ruleset house "Méthode maison Koncept" {
  template
  currency EUR
  rounding half_up 0.01
}
