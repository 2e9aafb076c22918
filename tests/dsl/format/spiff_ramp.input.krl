ruleset t { currency EUR }
plan p for AE {
  period month
  ramp 50%,75% , 100%,   # month 1, 2, then 3
  measure m { credit amount of deals where status==won quota m commission 5% }
  # a one-line SPIFF from the issue
  spiff launch_x "Lancement produit X" { 500 per deal where status == won and product == "X" from 2026-03-01 to 2026-04-30 cap 5000 }
  spiff other {
    250 EUR per deal where (status == won) dated created_at,   # by creation date
    from 2026-05-01 to 2026-05-31
  }
}
