# ConTech – SaaS B2B: from 5M€ to 8M€ of revenue.
# One folder is one ruleset: this file holds the header and the strategy; leads.krl, deals.krl,
# pipeline.krl, team.krl and plans.krl hold the rest.
ruleset contech_saas "ConTech – SaaS B2B" {
  extends "../house"
  currency EUR
  rounding half_up 0.01
}

# The deal amount is its ACV (annual contract value), as the CRM exports it, so "New Logos with
# ACV > 50K" reads `amount > 50K`. `koncept eval` measures each line on the period's won deals
# (the strategy table) and raises an alert for a share more than 5 points off its target.
strategy "De 5M€ à 8M€" {
  target revenue 8M€ from 5M€
  growth new_logo 60% when type == new_logo and amount > 50K
  growth upsell 40% when type == upsell and amount > 20K
  focus sector in [industrie, services]
  # 100% direct: no partner channel.
  channel direct 100%
  tolerance 5 pts
}

# The sales channel the strategy's channel mix reads: text, as the brief names no closed list
# (direct, partner...), so a deal from another channel is measured, not rejected.
record deal {
  channel text
}
