# Rémunération variable des AE : une prime par paliers sur l'atteinte du quota trimestriel de
# CA signé, 6 000 par trimestre à 100 %. Les paliers sont rétroactifs : 95 % paie 75 % de la
# cible (4 500,00) ; sous 80 %, rien.

plan ae_plan "AE – prime par paliers" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  target_variable 24K per year
  budget guardrail 105%
  measure bookings "CA signé vs objectif" {
    credit amount of deals where status == won
    quota bookings
    steps {
      [0%, 80%) 0%
      [80%, 90%) 50%
      [90%, 100%) 75%
      [100%, 120%) 100%
      [120%, ...) 150%
    }
  }
}
