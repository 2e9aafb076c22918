ruleset   acme"Acme – SaaS"{currency EUR,rounding half_up 0.01,}
record deal{status one_of won,lost,open    amount money
        type one_of new_logo "New logo",upsell   "Upsell" ,renewal
   contacts integer   0 .. 50}
    kpi   win_rate "Taux de closing"on deal=count(status==won)/count(status in[won,lost])target>=30%
role AE"Account Executive"{mission"Closing",kpis win_rate   ,bookings plan ae_2026}
plan ae_2026 for AE{period quarter,target_variable 40K   EUR per year
measure bookings weight 100%{credit amount of deals where status==won
curve{below 80%pay 0%,at 80%pay 50%,at 100% pay 100%,slope 1.5 to 130%,slope 2}cap 200%}}
alert   big_deal on deal when amount>100K    and type==new_logo severity   warning
