"""`koncept diff`: what a ruleset change means (`meaning`) and what it does to data (`impact`),
written for a terminal, a pull-request comment or a program (`render`)."""
