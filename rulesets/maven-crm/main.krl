# Maven CRM: a real public export (fictitious B2B hardware seller), amounts in USD.
# The files in ../../examples/maven-crm are read as they are; mapping.yaml translates
# their columns and values, and the engine reports their quirks row by row.
ruleset maven_crm "Maven CRM – matériel B2B (export réel 2017)" {
  currency USD
  rounding half_up 0.01
}

record deal {
  # The export spells one product two ways (`GTXPro` in the pipeline, `GTX Pro` in the product
  # list); mapping.yaml folds both into gtx_pro, so a typo in a new export is reported by row.
  product one_of gtx_basic "GTX Basic", gtx_pro "GTX Pro", gtx_plus_basic "GTX Plus Basic", gtx_plus_pro "GTX Plus Pro", mg_special "MG Special", mg_advanced "MG Advanced", gtk_500 "GTK 500"
}

record rep {
  team text
}
