# The export has two open stages; Won and Lost are outcomes (deal status), not stages.
# Probabilities and durations are not in the brief: 60% is about the export's own win rate on
# closed deals (4,238 won of 6,711), the durations are the consultant's first proposal.
pipeline sales "Cycle de vente Maven" on deal {
  stage prospecting "Prospecting" {
    probability 10%
    max_days 30d
    exit account_known "Compte identifié": account is not missing
    action "Identifier le compte et le besoin"
  }
  stage engaging "Engaging" {
    probability 60%
    max_days 90d
    exit product_chosen "Produit choisi": product is not missing
    action "Proposition chiffrée et négociation"
  }
  expect conversion prospecting -> engaging >= 50%
}

kpi won_value "CA signé" family volume on deal = sum(amount where status == won) target >= 100K USD

kpi win_rate "Taux de closing" family efficiency on deal = count(status == won) / count(status in [won, lost]) target >= 60%
