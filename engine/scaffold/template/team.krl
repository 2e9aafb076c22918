# Les KPI de l'équipe et les rôles : qui est suivi sur quoi, et payé par quel plan.

kpi bookings "CA signé" family volume on deal = sum(amount where status == won)

kpi win_rate "Taux de closing" family efficiency on deal = count(status == won) / count(status in [won, lost]) target >= 25%

role AE "Account Executive" {
  mission "Signer de nouveaux clients"
  kpis bookings, win_rate
  plan ae_plan
}
