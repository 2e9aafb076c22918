# Acme ruleset: the header comment of the file
# spans two lines

ruleset acme "Acme" {  # after an opening brace
  # before the first setting
  currency EUR  # at the end of a setting
  rounding half_up 0.01
  # before a closing brace
}  # after a closing brace
# before a declaration, without a blank line
record deal {
  amount money
  type one_of new_logo "New logo",  # inside a one_of that fits on one line
    upsell
}

score bant "BANT" on lead {
  # before a criterion
  budget "Budget" { confirmed -> 20, to_validate -> 10 }  # after a one-line criterion
  need "Need" {
    urgent -> 15  # a comment keeps a short criterion on several lines
    exploration -> 2
  }
  status {  # after `status {`
    SQL when score > 70
    # between two statuses
    MQL otherwise
    # at the end of the status block
  }  # after the status block
  # at the end of the score
}

alert big on deal when amount > 100K  # first condition
  # an own-line comment inside an expression
  and type == new_logo  # second condition

ritual weekly every week {
  # nothing to show yet
}

# at the end of the file
