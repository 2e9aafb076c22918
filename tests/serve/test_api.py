"""`koncept serve`: every endpoint on a real server, the same answers as the library and the
command line, and a documented error for every kind of bad request."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import engine
from engine.explain import explain_deal, explain_lead
from engine.output import money_kpis, to_json, write_json
from engine.serve.models import (
    CheckAnswer,
    DealAnswer,
    ErrorBody,
    Explanation,
    LeadAnswer,
    RulesetList,
    StatementAnswer,
    TablesAnswer,
)
from tests.serve.conftest import LEAD, ROOT, RULESETS, Server, koncept, serving

AS_OF = "2026-12-31"
STAGE = "proposal"


@pytest.fixture(scope="module")
def fintech() -> engine.Program:
    return engine.load(RULESETS / "fintech")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo tables of contech-saas as CSV files, with one invalid deal and one invalid lead."""
    folder = tmp_path_factory.mktemp("demo")
    done = koncept(
        "demo", RULESETS / "contech-saas", "--out", folder, "--leads", 300, "--deals", 300
    )
    assert done.returncode == 0, done.stderr
    (folder / "mapping.yaml").unlink()  # canonical tables: nothing to map
    with (folder / "deals.csv").open("a", encoding="utf-8") as deals:
        header = (folder / "deals.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        deals.write(
            ",".join(
                "DX-BAD" if c == "id" else "not-a-number" if c == "amount" else "" for c in header
            )
            + "\n"
        )
    return folder


def _files(folder: Path, suffix: str = ".csv") -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (p.name, p.read_bytes())) for p in sorted(folder.glob(f"*{suffix}"))]


def _without_ruleset(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "ruleset"}


# ----------------------------------------------------------------------------- the API
def test_openapi_documents_every_endpoint(rulesets_server: Server) -> None:
    with rulesets_server.client() as client:
        spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/v1/rulesets",
        "/v1/rulesets/{ruleset_id}",
        "/v1/rulesets/{ruleset_id}/lead",
        "/v1/rulesets/{ruleset_id}/deal",
        "/v1/rulesets/{ruleset_id}/lead/explain",
        "/v1/rulesets/{ruleset_id}/deal/explain",
        "/v1/rulesets/{ruleset_id}/evaluate",
        "/v1/rulesets/{ruleset_id}/statement",
        "/v1/check",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= paths
    evaluate = spec["paths"]["/v1/rulesets/{ruleset_id}/evaluate"]["post"]
    assert set(evaluate["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "ErrorBody" in spec["components"]["schemas"]


def test_rulesets_are_listed_with_their_versions(rulesets_server: Server) -> None:
    with rulesets_server.client() as client:
        listed = RulesetList.model_validate(client.get("/v1/rulesets").json())
        one = client.get("/v1/rulesets/fintech").json()
    ids = [r.id for r in listed.rulesets]
    assert ids == sorted(p.name for p in RULESETS.iterdir() if list(p.glob("*.krl")))
    versions = {r.id: r.version for r in listed.rulesets}
    assert one["version"] == versions["fintech"] and len(one["version"]) == 12
    assert one["currency"] == "EUR" and one["refused"] is None


def test_one_lead_is_the_library_answer(rulesets_server: Server, fintech: engine.Program) -> None:
    with rulesets_server.client() as client:
        answer = client.post("/v1/rulesets/fintech/lead", json=LEAD)
    assert answer.status_code == 200
    got = LeadAnswer.model_validate(answer.json())
    want = fintech.evaluate_lead(LEAD)
    assert got.ruleset.id == "fintech"
    assert (got.lead.id, got.lead.score, got.lead.status) == ("L-77", want.score, want.status)
    assert got.lead.status == "MQL" and got.lead.score == 69
    assert got.lead.points == to_json(want.points)
    assert got.lead.missing == list(want.missing)


def test_one_deal_and_explanations(rulesets_server: Server, fintech: engine.Program) -> None:
    deal = {
        "id": "D-1",
        "status": "open",
        "type": "new_logo",
        "stage": STAGE,
        "amount": "48 000,50",
        "owner": "R1",
        "created_at": "2026-01-05",
        "stage_entered_at": "2026-02-01",
        "m_metrics": 2,
        "m_champion": 1,
    }
    with rulesets_server.client() as client:
        answer = client.post("/v1/rulesets/fintech/deal", params={"as_of": AS_OF}, json=deal)
        said_lead = client.post("/v1/rulesets/fintech/lead/explain", json=LEAD)
        said_deal = client.post(
            "/v1/rulesets/fintech/deal/explain", params={"as_of": AS_OF}, json=deal
        )
    assert answer.status_code == 200, answer.text
    got = DealAnswer.model_validate(answer.json())
    want = fintech.evaluate_deal(deal, dt.date(2026, 12, 31))
    assert got.as_of == dt.date(2026, 12, 31)
    assert got.deal.stage == want.stage and got.deal.days_in_stage == want.days_in_stage
    assert got.deal.exit_ready == want.exit_ready and got.deal.missing == list(want.missing)
    assert got.deal.weighted_value == to_json(want.weighted_value, money=True)
    assert Explanation.model_validate(said_lead.json()).text == explain_lead(fintech, LEAD)
    assert said_deal.json()["text"] == explain_deal(fintech, deal, dt.date(2026, 12, 31))


def test_csv_files_give_what_koncept_eval_gives(rulesets_server: Server, demo: Path) -> None:
    with rulesets_server.client() as client:
        answer = client.post(
            "/v1/rulesets/contech-saas/evaluate",
            params={"as_of": AS_OF, "period": "2026-Q1"},
            files=_files(demo),
        )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    TablesAnswer.model_validate(got)
    done = koncept(
        "eval", RULESETS / "contech-saas", "--data", demo, "--as-of", AS_OF, "--period", "2026-Q1"
    )
    assert done.returncode == 0, done.stderr
    assert _without_ruleset(got) == json.loads(done.stdout)
    deals = got["counts"]["deals"]
    assert deals["in"] == deals["out"] + deals["rejected"] and deals["rejected"] >= 1
    bad = [e for e in got["errors"] if e["table"] == "deals" and e["column"] == "amount"]
    assert bad and bad[0]["value"] == "not-a-number" and bad[0]["row"] == deals["in"] + 1


def test_parquet_files_and_json_rows_give_the_same_answer(
    rulesets_server: Server, demo: Path, tmp_path: Path
) -> None:
    for path in demo.glob("*.csv"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table.to_parquet(tmp_path / f"{path.stem}.parquet")
    rows = {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False).to_dict("records")
        for p in demo.glob("*.csv")
    }
    params = {"as_of": AS_OF, "period": "2026-Q1"}
    with rulesets_server.client() as client:
        from_csv = client.post(
            "/v1/rulesets/contech-saas/evaluate", params=params, files=_files(demo)
        )
        from_parquet = client.post(
            "/v1/rulesets/contech-saas/evaluate", params=params, files=_files(tmp_path, ".parquet")
        )
        from_json = client.post(
            "/v1/rulesets/contech-saas/evaluate",
            json={"tables": rows, "as_of": AS_OF, "period": "2026-Q1"},
        )
    assert from_csv.status_code == from_parquet.status_code == from_json.status_code == 200
    csv_doc, parquet_doc, json_doc = from_csv.json(), from_parquet.json(), from_json.json()
    # Row numbers differ by design (a CSV's first data row is row 2, a JSON record's row 1).
    for doc in (csv_doc, parquet_doc, json_doc):
        doc.pop("errors")
    assert parquet_doc == json_doc
    assert csv_doc == json_doc


def test_statement_is_the_command_line_statement(rulesets_server: Server, tmp_path: Path) -> None:
    done = koncept("demo", RULESETS / "fintech", "--out", tmp_path, "--leads", 50, "--deals", 400)
    assert done.returncode == 0, done.stderr
    rep = pd.read_csv(tmp_path / "reps.csv", dtype=str)["id"].iloc[0]
    cli = koncept(
        "statement", RULESETS / "fintech", "--data", tmp_path, "--rep", rep, "--period", "2026-Q1"
    )
    assert cli.returncode in (0, 1), cli.stderr
    with rulesets_server.client() as client:
        answer = client.post(
            "/v1/rulesets/fintech/statement",
            params={"rep": rep, "period": "2026-Q1"},
            files=_files(tmp_path),
        )
        unknown = client.post(
            "/v1/rulesets/fintech/statement",
            params={"rep": "NOBODY", "period": "2026-Q1"},
            files=_files(tmp_path),
        )
    assert answer.status_code == 200, answer.text
    got = StatementAnswer.model_validate(answer.json())
    # The server names files from the served folder (`fintech/plans.krl`).
    assert got.text == cli.stdout.replace("rulesets/fintech/", "fintech/")
    assert got.ok == (cli.returncode == 0)
    assert unknown.status_code == 422 and "NOBODY" in unknown.json()["message"]


def test_check_gives_located_findings(rulesets_server: Server) -> None:
    # services-b2b extends no template: the files sent are the whole ruleset.
    client = RULESETS / "services-b2b"
    text = (client / "pipeline.krl").read_text(encoding="utf-8")
    files = {p.name: p.read_text(encoding="utf-8") for p in client.glob("*.krl")}
    broken = text.replace("before ", "before propsal_x ", 1) if "before " in text else text + "\n}"
    with rulesets_server.client() as client:
        clean = client.post("/v1/check", json={"files": files}).json()
        found = client.post("/v1/check", json={"files": {**files, "pipeline.krl": broken}}).json()
        bad_name = client.post("/v1/check", json={"files": {"../x.krl": ""}})
    assert CheckAnswer.model_validate(clean).ok and clean["errors"] == 0
    assert not found["ok"] and found["errors"] >= 1
    first = found["diagnostics"][0]
    assert first["path"] == "pipeline.krl" and first["line"] >= 1 and first["code"].startswith("E")
    assert bad_name.status_code == 422


# ----------------------------------------------------------------------------- bad requests
BAD = [
    # (method, path, keyword arguments, status, code)
    ("post", "/v1/rulesets/fintech/lead", {"content": b'{"id": "L1",', "headers":
        {"content-type": "application/json"}}, 400, "malformed_json"),
    ("post", "/v1/rulesets/fintech/lead", {"json": ["not", "an", "object"]}, 422,
        "invalid_request"),
    ("post", "/v1/rulesets/fintech/lead", {"json": {"id": "L1", "x": {"nested": 1}}}, 422,
        "invalid_record"),
    ("post", "/v1/rulesets/fintech/lead", {"content": b'{"id": "L1", "id": "L2"}', "headers":
        {"content-type": "application/json"}}, 422, "invalid_record"),
    ("post", "/v1/rulesets/fintech/evaluate", {"content": b'{"tables": {"leads": [{"id": "L1",'
        b' "budget": "confirmed", "budget": "blocking"}]}}', "headers":
        {"content-type": "application/json"}}, 422, "unreadable_table"),
    ("post", "/v1/rulesets/fintech/lead", {"json": {"id": "L1", "employees": "many"}}, 422,
        "invalid_record"),
    ("post", "/v1/rulesets/fintech/evaluate", {"json": {"tables": {}, "when": 1}}, 422,
        "invalid_request"),
    ("post", "/v1/rulesets/fintech/evaluate", {"json": {"tables": {"deels": []}}}, 422,
        "unknown_table"),
    ("post", "/v1/rulesets/fintech/evaluate", {"json": {"tables": {"leads": [1, 2]}}}, 422,
        "invalid_request"),
    ("post", "/v1/rulesets/fintech/evaluate", {"json": {"tables": {}, "period": "2026-Q5"}}, 422,
        "invalid_period"),
    ("post", "/v1/rulesets/fintech/evaluate", {"content": b"a,b", "headers":
        {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
    ("post", "/v1/rulesets/fintech/evaluate",
        {"files": [("files", ("deals.csv", b"\xff\xfe\x00"))]}, 422, "unreadable_table"),
    ("post", "/v1/rulesets/fintek/lead", {"json": {}}, 404, "unknown_ruleset"),
    ("get", "/v1/nothing", {}, 404, "not_found"),
    ("delete", "/v1/rulesets", {}, 405, "method_not_allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD)
def test_bad_requests_get_their_documented_error(
    rulesets_server: Server, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    with rulesets_server.client() as client:
        answer = client.request(method.upper(), path, **kwargs)
    assert answer.status_code == status, answer.text
    body = ErrorBody.model_validate(answer.json())
    assert body.code == code and body.message
    assert "Traceback" not in answer.text and 'File "' not in answer.text


def test_unknown_ruleset_suggests_a_name(rulesets_server: Server) -> None:
    with rulesets_server.client() as client:
        body = client.post("/v1/rulesets/fintek/lead", json={}).json()
    assert "did you mean `fintech`" in body["message"]


def _raw(url: str, head: bytes, body: bytes = b"", wait: float = 10) -> bytes:
    """Send bytes on a raw connection and read the answer (what a misbehaving client does)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(head + body)
        answer = b""
        while True:  # the head, then the body its Content-Length announces
            head, separator, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            if separator and length and len(body) >= int(length.group(1)):
                return answer
            chunk = connection.recv(65536)
            if not chunk:
                return answer
            answer += chunk


def test_a_1_gb_body_is_refused_before_it_is_read(rulesets_server: Server) -> None:
    head = (
        b"POST /v1/rulesets/fintech/evaluate HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
    )
    started = time.monotonic()
    answer = _raw(rulesets_server.url, head, b'{"tables": {')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    assert time.monotonic() - started < 5


def test_limits_on_body_rows_time_and_slow_clients(tmp_path: Path, demo: Path) -> None:
    args = [
        RULESETS,
        "--max-body-mb",
        "0.05",
        "--max-rows",
        "5",
        "--timeout",
        "0.001",
        "--read-timeout",
        "1",
        "--decision-log",
        "-",
    ]
    with serving(args, tmp_path) as server, server.client() as client:
        big = client.post(
            "/v1/rulesets/fintech/evaluate",
            content=iter([b'{"tables": {"leads": [', b" " * 60_000, b"]}}"]),  # chunked
            headers={"content-type": "application/json"},
        )
        rows = client.post(
            "/v1/rulesets/fintech/evaluate",
            json={"tables": {"leads": [{"id": i} for i in range(6)]}},
        )
        slow = client.post(
            "/v1/rulesets/contech-saas/evaluate",
            json={"tables": {"leads": [{"id": f"L{i}", "budget": "confirmed"} for i in range(5)]}},
        )
        head = (
            b"POST /v1/rulesets/fintech/lead HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        started = time.monotonic()
        late = _raw(server.url, head, b'{"id": "L1"')
        waited = time.monotonic() - started
    assert big.status_code == 413 and big.json()["code"] == "body_too_large"
    assert rows.status_code == 413 and rows.json()["code"] == "too_many_rows"
    assert rows.json()["details"] == {"rows": 6, "limit": 5}
    assert slow.status_code == 504 and slow.json()["code"] == "timeout"
    assert late.startswith(b"HTTP/1.1 408") and b"request_timeout" in late
    assert 0.9 < waited < 10


def test_metrics_and_decision_log(rulesets_server: Server, tmp_path: Path) -> None:
    secret_id = "L-PRIVATE-4242"
    with rulesets_server.client() as client:
        client.post("/v1/rulesets/fintech/lead", json={**LEAD, "id": secret_id})
        client.post(
            "/v1/rulesets/fintech/evaluate",
            json={"tables": {"leads": [{**LEAD, "id": secret_id}, {"id": "L2"}]}},
        )
        client.post("/v1/rulesets/nowhere/lead", json={})
        metrics = client.get("/metrics").text
    assert 'koncept_requests_total{endpoint="/v1/rulesets/{ruleset_id}/lead",status="200"}' in (
        metrics
    )
    assert 'koncept_rows_evaluated_total{table="leads"}' in metrics
    assert 'koncept_errors_total{code="unknown_ruleset"}' in metrics
    assert "koncept_request_seconds_bucket" in metrics
    log = (rulesets_server.log.parent / "decisions.jsonl").read_text(encoding="utf-8")
    entries = [json.loads(line) for line in log.splitlines()]
    assert secret_id not in log and "confirmed" not in log  # no value of the data
    tables = [e for e in entries if e["endpoint"] == "POST /v1/rulesets/{ruleset_id}/evaluate"]
    assert tables and tables[-1]["counts"]["leads"] == {"in": 2, "out": 2, "rejected": 0}
    assert tables[-1]["ruleset"] == "fintech" and tables[-1]["key"] == "local"
    assert {
        "time",
        "key",
        "ruleset",
        "version",
        "endpoint",
        "status",
        "counts",
        "duration_ms",
    } == set(entries[-1])
    assert any(e["status"] == 404 for e in entries)


def test_health_and_readiness(rulesets_server: Server) -> None:
    with rulesets_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
    clients = [p for p in RULESETS.iterdir() if p.is_dir()]
    assert ready["status"] == "ready" and ready["rulesets"] == len(clients)


def test_without_keys_only_this_machine_is_answered() -> None:
    """The guard looks at the client's address (a real server on another address cannot be
    started here, so the app is called in process with another client address)."""
    from engine.serve.app import create_app
    from engine.serve.store import Store

    store = Store(RULESETS / "fintech")
    store.load()
    app = create_app(store)

    async def ask(client_address: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/v1/rulesets")

    import anyio

    outside = anyio.run(ask, "192.0.2.10")
    inside = anyio.run(ask, "127.0.0.1")
    assert outside.status_code == 403 and outside.json()["code"] == "localhost_only"
    assert inside.status_code == 200 and inside.json()["rulesets"][0]["id"] == "fintech"


def test_a_public_address_without_keys_is_refused_at_start() -> None:
    done = koncept("serve", RULESETS, "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 2
    assert "without --keys" in done.stderr and "Traceback" not in done.stderr


def test_json_bodies_keep_money_exact(rulesets_server: Server) -> None:
    rows = [
        {
            "id": "D1",
            "status": "won",
            "type": "new_logo",
            "stage": STAGE,
            "amount": 1234.10,
            "owner": "R1",
            "created_at": "2026-01-05",
            "closed_at": "2026-02-01",
        }
    ]
    payload = json.dumps({"tables": {"deals": rows}, "as_of": AS_OF})
    with rulesets_server.client() as client:
        answer = client.post(
            "/v1/rulesets/fintech/evaluate",
            content=payload.replace("1234.1", "1234.10"),
            headers={"content-type": "application/json"},
        )
    program = engine.load(RULESETS / "fintech")
    want = program.evaluate(deals=pd.DataFrame(rows).astype(str), as_of=dt.date(2026, 12, 31))
    out = io.StringIO()
    write_json(want, out, money_kpis(program.compiled))
    assert _without_ruleset(answer.json()) == json.loads(out.getvalue())


# ----------------------------------------------------------------------------- the README
def test_the_readme_curl_and_javascript_clients_work(rulesets_server: Server) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    curl = next(line for line in readme.splitlines() if line.startswith("curl "))
    done = subprocess.run(
        ["bash", "-c", curl.replace("http://127.0.0.1:8000", rulesets_server.url)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["lead"]["status"] == "SQL" and answer["lead"]["score"] == 100

    client = ROOT / "examples" / "serve" / "client.mjs"
    assert client.read_text(encoding="utf-8") in readme  # the README shows the file as it is
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    ran = subprocess.run(
        ["node", str(client)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "KONCEPT_URL": rulesets_server.url},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("SQL 100 (fintech ")
