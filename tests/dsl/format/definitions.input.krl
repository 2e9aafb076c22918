ruleset t "T" { currency EUR }
role AE "AE" { plan p }
# The house curve, shared.
curve   standard "Courbe" { below 80% pay 0%, at 80% pay 50%
  at 100% pay 100%, slope 2 }
rates grid on amount method marginal { [0, 150K) 4%  [150K, ...) 6% }
steps paliers{[0%,80%) 0% [80%, ...) 100%}
plan p "P" for AE { effective 2026-01-01 to 2026-12-31  communicated 2025-12-15  period quarter  target_variable 40K per year
  measure a { credit amount of deals where status == won  quota a  curve   standard }
  measure b { credit amount of deals where status == won  rates grid }
  measure c { credit amount of deals where status == won  quota c  steps paliers }
}
