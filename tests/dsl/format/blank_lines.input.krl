

ruleset acme {


  currency EUR



  rounding half_up 0.01

}
record lead {
  budget one_of confirmed, to_validate
  sector text

  # employees and timing go together


  employees integer
  timing_months number
}



qualify lead {

  use bant when amount < 50K
  use meddpicc otherwise


}


