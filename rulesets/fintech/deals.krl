# Deals: who created them (the SDR credit). MEDDPICC on every deal and the exit criteria of the
# sales path come from the house method (../house/deals.krl).

record deal {
  # The SDR who created the opportunity; empty when an AE sourced it. The SDR plan credits
  # deals when they reach `qualification`.
  sdr_id text
}
