# Industrie – Services B2B: not SaaS, so the sales team is steered by gross margin, not revenue
# alone. The method's example: rep A books 1M€ at 40% margin (400K€ of gross margin), rep B 1M€
# at 15% (150K€); paid on revenue they would earn the same.
ruleset industrie_services "Industrie – Services B2B" {
  currency EUR
  rounding half_up 0.01
}

# No client fields: `cost` (direct costs) is a canonical deal column, and the engine derives
# gross_margin (amount - cost) and margin_rate (gross_margin / amount) from it. Territory
# potentials (idf 1.3, ara 1.0, hdf 0.9, bre 0.7 in the sample) come from the territories
# table, joined on the rep's territory.
