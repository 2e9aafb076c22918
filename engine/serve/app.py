"""The HTTP API of `koncept serve` (FastAPI): the library's answers, for tools in any language.

Every route is under `/v1`, answers JSON, and names the ruleset version that computed it:

    GET  /v1/rulesets                        the rulesets this caller may use, with versions
    GET  /v1/rulesets/{id}                   one of them (and its last refused version)
    POST /v1/rulesets/{id}/lead              one lead (the record path): score, status, points
    POST /v1/rulesets/{id}/deal?as_of=       one deal: stage readiness, qualification, playbook
    POST /v1/rulesets/{id}/lead/explain      one lead explained in French
    POST /v1/rulesets/{id}/deal/explain      one deal explained in French
    POST /v1/rulesets/{id}/evaluate          tables (JSON rows, or CSV/XLSX/JSON/Parquet files
                                             in multipart form data): `koncept eval`'s document
    POST /v1/rulesets/{id}/statement?rep=&period=   a rep's pay statement, from tables
    POST /v1/check                           ruleset files sent as text: the checker's findings
    GET  /healthz  /readyz  /metrics         liveness, readiness, Prometheus metrics

Errors are `{code, message, details}` with the status codes documented in docs/serve.md; a
failure of ours is a 500 with no trace in the answer (the trace goes to the server's log).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import ipaddress
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException

from dsl.diagnostics import Severity, did_you_mean
from engine import installed_version
from engine.serve.keys import ALL, ApiKey, KeyRing
from engine.serve.models import (
    CheckAnswer,
    CheckRequest,
    DealAnswer,
    ErrorBody,
    Explanation,
    LeadAnswer,
    RulesetList,
    RulesetOut,
    StatementAnswer,
    TablesAnswer,
    TablesRequest,
)
from engine.serve.store import Snapshot, Store, Version

__all__ = ["ApiError", "Limits", "create_app"]

log = logging.getLogger("koncept.serve")
T = TypeVar("T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The caller when no key file is given: this machine only, every ruleset.
LOCAL = ApiKey("local", "", frozenset({ALL}))
#: Input tables an evaluation reads (`splits` too: statements credit shared deals).
TABLES = (
    "leads", "deals", "stage_events", "reps", "quotas", "territories", "splits", "quota_relief",
    "cancellations",
)  # fmt: skip
_EXTENSIONS = {
    "text/csv": ".csv",
    "application/json": ".json",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may ask; beyond it the answer is a documented error, not a slow death."""

    #: Bytes of a request body (413 beyond, without reading the rest).
    max_body: int = 64 * 1024 * 1024
    #: Input rows of one request, all tables together (413 beyond).
    max_rows: int = 1_000_000
    #: Seconds an evaluation may run (504 beyond).
    timeout: float = 60.0
    #: Seconds to receive a whole body (408 beyond: a client too slow to send it).
    read_timeout: float = 30.0


class ApiError(Exception):
    """An answer other than success: status, stable code, sentence, details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class _Metrics:
    requests: Counter
    latency: Histogram
    rows: Counter
    errors: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> _Metrics:
        return cls(
            Counter(
                "koncept_requests", "HTTP requests answered", ["endpoint", "status"],
                registry=registry,
            ),
            Histogram(
                "koncept_request_seconds", "Time to answer a request", ["endpoint"],
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            Counter(
                "koncept_rows_evaluated", "Input rows evaluated (rejected rows excluded)",
                ["table"], registry=registry,
            ),
            Counter("koncept_errors", "Error answers by code", ["code"], registry=registry),
        )  # fmt: skip


class _DecisionLog:
    """One JSON line per answered `/v1` request: who, which ruleset and version, what was
    counted, how long. Never a value of the data (no ids, no amounts)."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def write(self, entry: Mapping[str, Any]) -> None:
        if self.stream is None:
            return
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self.lock:
            self.stream.write(line)
            self.stream.flush()


def create_app(
    store: Store,
    keys: KeyRing | None = None,
    limits: Limits = Limits(),
    decisions: IO[str] | None = None,
    watch: bool = False,
) -> FastAPI:
    """The ASGI app answering from `store`. Without `keys` only this machine is answered;
    `watch` reloads the rulesets when their files (or the git refs) change."""
    registry = CollectorRegistry()
    metrics = _Metrics.create(registry)
    decision_log = _DecisionLog(decisions)
    heavy: list[anyio.CapacityLimiter] = []  # made in the event loop, on first use

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not watch:
            yield
            return
        stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_watch, store, stop)
            yield
            stop.set()
            tasks.cancel_scope.cancel()

    app = FastAPI(
        title="Koncept Rules",
        version=installed_version(),
        summary="Evaluate sales rulesets: leads, deals, tables, explanations, pay statements.",
        lifespan=lifespan,
        responses={
            401: {"model": ErrorBody, "description": "no API key, or an unknown one"},
            403: {"model": ErrorBody, "description": "this key may not use that ruleset"},
            413: {"model": ErrorBody, "description": "body or rows over the limit"},
            422: {"model": ErrorBody, "description": "input that cannot be used"},
        },
    )

    # ------------------------------------------------------------------ errors
    def error_response(
        status: int, code: str, message: str, details: Any = None, headers: Any = None
    ) -> JSONResponse:
        metrics.errors.labels(code).inc()
        body = {"code": code, "message": message, "details": details}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return error_response(error.status, error.code, error.message, error.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in error.errors()
        ]  # the values sent are not echoed: they may be personal data
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            return error_response(400, "malformed_json", "the body is not valid JSON", problems)
        first = problems[0] if problems else {"where": "", "message": "invalid"}
        message = f"{first['where']}: {first['message']}" if first["where"] else first["message"]
        return error_response(422, "invalid_request", message, problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(error.status_code, f"http_{error.status_code}")
        message = "no such endpoint (see /docs)" if error.status_code == 404 else str(error.detail)
        return error_response(error.status_code, code, message, None, error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server logged it")

    # ------------------------------------------------------------------ who and what
    # Dependencies are `async`: FastAPI would run plain functions in a worker thread, two
    # thread hops per request for work of a few microseconds.
    async def caller(request: Request) -> ApiKey:
        if keys is None:
            return LOCAL
        secret = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        if secret is None and bearer[:7].lower() == "bearer ":
            secret = bearer[7:].strip()
        if not secret:
            raise ApiError(401, "unauthorized", "send an API key: `Authorization: Bearer <key>`")
        found = keys.find(secret)
        if found is None:
            raise ApiError(401, "unauthorized", "unknown API key")
        _note(request, key=found.id)
        return found

    async def ruleset(ruleset_id: str, request: Request, key: ApiKey = Depends(caller)) -> Version:  # noqa: B008
        snapshot: Snapshot = store.current  # read once: one version for the whole answer
        version = snapshot.rulesets.get(ruleset_id)
        if not key.allows(ruleset_id):
            # Names nothing: not even whether such a ruleset exists.
            raise ApiError(403, "forbidden", "this API key may not use that ruleset")
        if version is None:
            allowed = [r for r in snapshot.rulesets if key.allows(r)]
            hint = did_you_mean(ruleset_id, allowed)
            raise ApiError(404, "unknown_ruleset", f"no ruleset {ruleset_id!r}" + (
                f"; {hint}" if hint else ""
            ), {"rulesets": allowed})  # fmt: skip
        _note(request, ruleset=version.id, version=version.version)
        return version

    async def work(function: Callable[[], T]) -> T:
        """Run an evaluation in a worker thread within the time limit."""
        if not heavy:
            # As many evaluations at once as cores; the others wait (within the time limit).
            heavy.append(anyio.CapacityLimiter(max(1, os.cpu_count() or 1)))
        try:
            with anyio.fail_after(limits.timeout):
                return await anyio.to_thread.run_sync(
                    function, abandon_on_cancel=True, limiter=heavy[0]
                )
        except TimeoutError:
            raise ApiError(
                504, "timeout", f"the evaluation took longer than {limits.timeout:g} s"
            ) from None

    # ------------------------------------------------------------------ operations
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": ErrorBody}})
    async def readyz() -> Response:
        """Some ruleset is loaded and served."""
        served = len(store.current.rulesets)
        if not served:
            return error_response(503, "not_ready", "no ruleset is loaded")
        return JSONResponse({"status": "ready", "rulesets": served})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics: requests, latency, rows evaluated, errors by code."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ rulesets
    @app.get("/v1/rulesets", response_model=RulesetList, tags=["rulesets"])
    async def rulesets(key: ApiKey = Depends(caller)) -> dict[str, Any]:  # noqa: B008
        """The rulesets this key may use, with the version served and the last refused one."""
        snapshot = store.current
        return {
            "rulesets": [
                _ruleset_out(v, snapshot) for i, v in snapshot.rulesets.items() if key.allows(i)
            ]
        }

    @app.get("/v1/rulesets/{ruleset_id}", response_model=RulesetOut, tags=["rulesets"])
    async def one_ruleset(version: Version = Depends(ruleset)) -> dict[str, Any]:  # noqa: B008
        """One ruleset: its version, commit, currency, and the last version refused."""
        return _ruleset_out(version, store.current)

    # ------------------------------------------------------------------ one record
    @app.post(
        "/v1/rulesets/{ruleset_id}/lead",
        response_model=LeadAnswer,
        tags=["records"],
        openapi_extra=RECORD_BODY,
    )
    async def lead(
        record: dict[str, object] = Depends(_record_body),  # noqa: B008
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> dict[str, Any]:
        """Score and classify one lead, as `Program.evaluate_lead` does."""
        result = _record(lambda: version.program.evaluate_lead(record))
        return {"ruleset": _ref(version), "lead": _fields(result)}

    @app.post(
        "/v1/rulesets/{ruleset_id}/deal",
        response_model=DealAnswer,
        tags=["records"],
        openapi_extra=RECORD_BODY,
    )
    async def deal(
        record: dict[str, object] = Depends(_record_body),  # noqa: B008
        as_of: dt.date | None = Query(None, description="the day days are counted to (today)"),  # noqa: B008
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> dict[str, Any]:
        """Pipeline, qualification and playbook of one deal, as `Program.evaluate_deal`."""
        from engine.output import to_json

        day = as_of or dt.date.today()
        result = _record(lambda: version.program.evaluate_deal(record, day))
        out = {**_fields(result), "weighted_value": to_json(result.weighted_value, money=True)}
        return {"ruleset": _ref(version), "as_of": day, "deal": out}

    @app.post(
        "/v1/rulesets/{ruleset_id}/lead/explain",
        response_model=Explanation,
        tags=["records"],
        openapi_extra=RECORD_BODY,
    )
    async def explain_lead(
        record: dict[str, object] = Depends(_record_body),  # noqa: B008
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> dict[str, Any]:
        """One lead in French: each point traced to its rule and values."""
        from engine.explain import explain_lead as explain

        text = _record(lambda: explain(version.program, record))
        return {"ruleset": _ref(version), "text": text}

    @app.post(
        "/v1/rulesets/{ruleset_id}/deal/explain",
        response_model=Explanation,
        tags=["records"],
        openapi_extra=RECORD_BODY,
    )
    async def explain_deal(
        record: dict[str, object] = Depends(_record_body),  # noqa: B008
        as_of: dt.date | None = Query(None),  # noqa: B008
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> dict[str, Any]:
        """One deal in French, as of a day: stage criteria, qualification, playbook."""
        from engine.explain import explain_deal as explain

        day = as_of or dt.date.today()
        text = _record(lambda: explain(version.program, record, day))
        return {"ruleset": _ref(version), "text": text}

    # ------------------------------------------------------------------ tables
    tables_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": TablesRequest.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "one file per table, named as in a data folder "
                        "(`deals.csv`, `leads.parquet`) or by the ruleset's mapping.yaml",
                        "additionalProperties": {"type": "string", "format": "binary"},
                    }
                },
            },
        }
    }

    @app.post(
        "/v1/rulesets/{ruleset_id}/evaluate",
        response_model=TablesAnswer,
        tags=["tables"],
        openapi_extra=tables_body,
    )
    async def evaluate(
        request: Request,
        as_of: dt.date | None = Query(None, description="the day days are counted to (today)"),  # noqa: B008
        period: str | None = Query(None, description="2026-Q1, 2026-03, 2026-H1 or 2026"),
        mapping: bool | None = Query(
            None,
            description="apply the ruleset's mapping.yaml (default: yes for files, no for "
            "JSON rows)",
        ),
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> Response:
        """Validate and evaluate whole tables, as `koncept eval` does: invalid rows are in
        `errors` and left out, `counts` says `in = out + rejected` for each table."""
        from engine.output import money_kpis, write_json

        sent = await _tables(request, version, mapping, limits)
        day = sent.as_of or as_of or dt.date.today()
        asked = _period(sent.period or period)
        program = version.program

        def run() -> str:
            results = program.evaluate(**sent.tables, as_of=day, period=asked)
            for counts in results.counts.values():
                metrics.rows.labels(counts.table).inc(counts.rows_out)
            _note(
                request,
                counts={
                    c.table: {"in": c.rows_in, "out": c.rows_out, "rejected": c.rejected}
                    for c in results.counts.values()
                },
            )
            out = io.StringIO()
            write_json(results, out, money_kpis(program.compiled), head={"ruleset": _ref(version)})
            return out.getvalue()

        return Response(await work(run), media_type="application/json")

    @app.post(
        "/v1/rulesets/{ruleset_id}/statement",
        response_model=StatementAnswer,
        tags=["tables"],
        openapi_extra=tables_body,
    )
    async def statement(
        request: Request,
        rep: str = Query(..., description="the rep's id (reps table)"),
        period: str = Query(..., description="2026-Q1, 2026-03, 2026-H1 or 2026"),
        mapping: bool | None = Query(None),
        version: Version = Depends(ruleset),  # noqa: B008
    ) -> dict[str, Any]:
        """A rep's variable-pay statement for a period, in French, from the pay tables."""
        from engine.money import format_money
        from engine.statement import build_statement

        sent = await _tables(request, version, mapping, limits)
        asked = _period(period)
        assert asked is not None

        def run() -> Any:
            try:
                return build_statement(version.program, sent.tables, rep, asked)
            except ValueError as error:
                raise ApiError(422, "invalid_request", str(error)) from None

        found = await work(run)
        return {
            "ruleset": _ref(version),
            "rep": rep,
            "period": asked,
            "ok": found.ok,
            "totals": {k: format_money(Decimal(v)) for k, v in found.totals.items()},
            "text": found.text,
        }

    # ------------------------------------------------------------------ check
    @app.post("/v1/check", response_model=CheckAnswer, tags=["rulesets"])
    async def check(
        body: CheckRequest,
        key: ApiKey = Depends(caller),  # noqa: B008
    ) -> dict[str, Any]:
        """Check ruleset files sent as text; the findings of `koncept check --format json`."""
        return await work(lambda: _check(body))

    # Every request: pure ASGI, so that it sees the body before any route reads it.
    app.add_middleware(
        _Guard,
        local_only=keys is None,
        limits=limits,
        metrics=metrics,
        decisions=decision_log,
        error_response=error_response,
    )
    return app


# ---------------------------------------------------------------------------------------------
class _Guard:
    """Pure ASGI middleware: localhost only without keys, the body limit and read timeout
    (before any route reads a byte), metrics and the decision log for every request."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        local_only: bool,
        limits: Limits,
        metrics: _Metrics,
        decisions: _DecisionLog,
        error_response: Callable[..., JSONResponse],
    ) -> None:
        self.app = app
        self.local_only = local_only
        self.limits = limits
        self.metrics = metrics
        self.decisions = decisions
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        notes: dict[str, Any] = {}
        scope["koncept"] = notes

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                body, refusal = await self._body(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, sending)
                return

            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, sending)
        finally:
            self._account(scope, status[0], time.perf_counter() - started, notes)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        if self.local_only and not _loopback(scope.get("client")):
            return self.error_response(
                403, "localhost_only", "this server has no API keys: it answers this machine only"
            )
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                return self.error_response(400, "bad_request", "Content-Length is not a number")
            if size > self.limits.max_body:
                return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return self.error_response(
            413,
            "body_too_large",
            f"the body is over the limit of {self.limits.max_body:,} bytes",
            {"limit": self.limits.max_body},
            {"Connection": "close"},
        )

    async def _body(self, scope: Scope, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        """The whole body within the size limit and the read timeout."""
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return b"", None
        chunks: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(self.limits.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.limits.max_body:
                        return b"", self._too_large()
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            return b"", self.error_response(
                408,
                "request_timeout",
                f"the body was not received within {self.limits.read_timeout:g} s",
                None,
                {"Connection": "close"},
            )
        return b"".join(chunks), None

    def _account(self, scope: Scope, status: int, seconds: float, notes: Mapping[str, Any]) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(endpoint, str(status)).inc()
        self.metrics.latency.labels(endpoint).observe(seconds)
        if endpoint.startswith("/v1"):
            self.decisions.write(
                {
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "key": notes.get("key", "local" if self.local_only else None),
                    "ruleset": notes.get("ruleset"),
                    "version": notes.get("version"),
                    "endpoint": f"{scope.get('method')} {endpoint}",
                    "status": status,
                    "counts": notes.get("counts"),
                    "duration_ms": round(seconds * 1000, 3),
                }
            )


# ---------------------------------------------------------------------------------------------
#: The body of the record routes: one lead or deal, as a CSV row or a CRM gives its fields.
RECORD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "number"},
                            {"type": "boolean"},
                            {"type": "null"},
                        ]
                    },
                },
                "example": {"id": "L1", "budget": "confirmed", "employees": 120},
            }
        },
    }
}


async def _record_body(request: Request) -> dict[str, object]:
    """One record, read as the JSON readers read a row: numbers as written, a field written
    twice or a nested value refused (never silently the last one)."""
    from engine.data import loads_json, repeated_key

    body = await request.body()
    try:
        document = loads_json(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object of fields")
    twice = repeated_key(document)
    if twice is not None:
        raise ApiError(
            422,
            "invalid_record",
            f"{twice}: written twice",
            [{"field": twice, "message": "written twice"}],
        )
    for field, value in document.items():
        if isinstance(value, dict | list):
            message = "nested values are not supported"
            raise ApiError(
                422, "invalid_record", f"{field}: {message}", [{"field": field, "message": message}]
            )
    return dict(document)


@dataclass(frozen=True, slots=True)
class _Sent:
    tables: dict[str, Any]
    as_of: dt.date | None = None
    period: str | None = None


async def _tables(
    request: Request, version: Version, mapping: bool | None, limits: Limits
) -> _Sent:
    """The input tables of a request, read as `koncept eval` reads a data folder."""
    from engine.data import (
        DataError,
        MappingError,
        apply_mapping,
        load_inputs,
        loads_json,
        read_records,
    )

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    crm = version.mapping
    try:
        if kind == "multipart/form-data":
            with tempfile.TemporaryDirectory(prefix="koncept-upload-") as folder:
                overrides = await _save_uploads(request, Path(folder))
                use = crm if (mapping is None or mapping) else None
                tables = await anyio.to_thread.run_sync(lambda: load_inputs(folder, use, overrides))
            sent = _Sent(tables)
        elif kind in ("application/json", ""):
            body = await request.body()
            try:
                document = loads_json(body or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ApiError(
                    400, "malformed_json", f"the body is not valid JSON: {error}"
                ) from None
            envelope = TablesRequest.model_validate(document)
            _known_tables(envelope.tables)
            rows = sum(len(r) for r in envelope.tables.values())
            _rows_limit(rows, limits)
            raw = document["tables"]
            tables = {name: read_records(raw[name], f"tables.{name}") for name in envelope.tables}
            if mapping and crm is not None:
                tables = apply_mapping(tables, crm)
            sent = _Sent(tables, envelope.as_of, envelope.period)
        else:
            raise ApiError(
                415, "unsupported_media_type",
                "send JSON rows (application/json) or files (multipart/form-data)",
            )  # fmt: skip
    except MappingError as error:
        raise ApiError(
            422, "unreadable_table", str(error), {"problems": list(error.messages)}
        ) from None
    except DataError as error:
        where = Path(error.path).name if "/" in error.path else error.path
        raise ApiError(
            422, "unreadable_table", f"{where}: {error.reason}", {"where": where}
        ) from None
    except RequestValidationError:
        raise
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        errors = getattr(error, "errors", None)
        if callable(errors):
            raise RequestValidationError(
                [{**e, "loc": ("body", *e.get("loc", ()))} for e in errors()]
            ) from None
        raise
    if kind == "multipart/form-data":
        _rows_limit(sum(len(t) for t in sent.tables.values()), limits)
    return sent


async def _save_uploads(request: Request, folder: Path) -> dict[str, Path]:
    """Write the uploaded files into a private folder; a part named after a table is that
    table whatever its file name (`--deals FILE`), others are found by name as in `--data`."""
    form = await request.form(max_files=32, max_fields=32)
    overrides: dict[str, Path] = {}
    for field, value in form.multi_items():
        if isinstance(value, str):
            continue
        name = Path(value.filename or field).name or field
        suffix = Path(name).suffix.lower() or _EXTENSIONS.get(
            (value.content_type or "").split(";")[0], ""
        )
        stem = Path(name).stem or field
        target = folder / f"{stem}{suffix}"
        target.write_bytes(await value.read())
        if field in TABLES:
            overrides[field] = target
    if not overrides and not any(folder.iterdir()):
        raise ApiError(422, "no_tables", "no file in the form (send one file per table)")
    return overrides


def _known_tables(tables: Mapping[str, Any]) -> None:
    for name in tables:
        if name not in TABLES:
            hint = did_you_mean(name, TABLES)
            raise ApiError(
                422, "unknown_table",
                f"unknown table {name!r}" + (f"; {hint}" if hint else ""),
                {"tables": list(TABLES)},
            )  # fmt: skip


def _rows_limit(rows: int, limits: Limits) -> None:
    if rows > limits.max_rows:
        raise ApiError(
            413, "too_many_rows",
            f"{rows:,} rows sent; the limit is {limits.max_rows:,} per request",
            {"rows": rows, "limit": limits.max_rows},
        )  # fmt: skip


def _period(text: str | None) -> str | None:
    from engine.periods import parse_period

    if text is None:
        return None
    try:
        return parse_period(text).id
    except ValueError as error:
        raise ApiError(422, "invalid_period", str(error)) from None


def _record(function: Callable[[], T]) -> T:
    """Evaluate one record; a field that cannot be read is a 422 naming field and reason."""
    from engine.record import RecordError

    try:
        return function()
    except RecordError as error:
        details = [{"field": column, "message": message} for column, _, message in error.errors]
        raise ApiError(422, "invalid_record", str(error), details) from None


def _check(body: CheckRequest) -> dict[str, Any]:
    from dsl.parser import MAX_FILE_BYTES, MAX_FILES
    from dsl.source import SourceFile
    from dsl.workspace import check_sources

    if not body.files:
        raise ApiError(422, "invalid_request", "no file to check (files: {name: text})")
    if len(body.files) > MAX_FILES:
        raise ApiError(413, "too_many_files", f"at most {MAX_FILES:,} files per check")
    for name, text in body.files.items():
        if not name.endswith(".krl") or "/" in name or "\\" in name:
            raise ApiError(422, "invalid_request", f"{name!r}: a file name ending in .krl")
        if len(text.encode()) > MAX_FILE_BYTES:
            raise ApiError(413, "file_too_large", f"{name}: over {MAX_FILE_BYTES:,} bytes")
    sources = [SourceFile(name, text) for name, text in sorted(body.files.items())]
    loaded = check_sources(Path("."), sources, strict=body.strict)
    found = [d.to_json() for d in loaded.diagnostics]
    errors = sum(1 for d in loaded.diagnostics if d.severity is Severity.ERROR)
    return {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(found) - errors,
        "diagnostics": found,
    }


def _fields(result: Any) -> dict[str, Any]:
    """A lead's or deal's result as JSON values, field by field (the output contract's)."""
    from engine.output import to_json

    return {name: to_json(getattr(result, name)) for name in result.__dataclass_fields__}


def _ref(version: Version) -> dict[str, Any]:
    return {"id": version.id, "version": version.version, "commit": version.commit}


def _ruleset_out(version: Version, snapshot: Snapshot) -> dict[str, Any]:
    refusal = snapshot.refused.get(version.id)
    model = version.program.model
    return {
        **_ref(version),
        "name": getattr(model, "name", None),
        "currency": version.program.compiled.currency or None,
        "loaded_at": version.loaded_at,
        "refused": None
        if refusal is None
        else {
            "version": refusal.version,
            "commit": refusal.commit,
            "at": refusal.at,
            "message": refusal.message,
            "diagnostics": [d.to_json() for d in refusal.diagnostics],
        },
    }


def _note(request: Request, **values: Any) -> None:
    notes = request.scope.get("koncept")
    if notes is not None:
        notes.update(values)


def _loopback(client: Any) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _watch(store: Store, stop: anyio.Event) -> None:
    """Reload on every change of the served files (or of the repository's refs)."""
    import watchfiles

    async for _changes in watchfiles.awatch(store.watched, stop_event=stop, debounce=200):
        before = store.current
        try:
            after = await anyio.to_thread.run_sync(store.reload)
        except Exception:
            log.exception("reload failed; still serving the versions loaded before")
            continue
        _log_changes(before, after)
        gc.freeze()  # the new versions live on: keep them out of full collections (cli.serve)


def _log_changes(before: Snapshot, after: Snapshot) -> None:
    for ruleset_id, version in after.rulesets.items():
        old = before.rulesets.get(ruleset_id)
        if old is None:
            log.info("serving %s version %s", ruleset_id, version.version)
        elif old.digest != version.digest:
            log.info("reloaded %s: version %s -> %s", ruleset_id, old.version, version.version)
    for ruleset_id, refusal in after.refused.items():
        if before.refused.get(ruleset_id) != refusal:
            kept = after.rulesets.get(ruleset_id)
            log.warning(
                "refused %s version %s: %s (%s)", ruleset_id, refusal.version, refusal.message,
                f"still serving {kept.version}" if kept else "not served",
            )  # fmt: skip
    for ruleset_id in before.rulesets.keys() - after.rulesets.keys():
        log.info("stopped serving %s (its folder is gone)", ruleset_id)
