"""`koncept serve`: the evaluator as an HTTP service (FastAPI on uvicorn).

`store` keeps the served rulesets and their versions (a folder or a git revision, reloaded
atomically), `keys` the hashed API keys, `models` the request and response bodies, `app` the
routes, limits, metrics and decision log.
"""
