"""Benchmark: `koncept serve` under a bounded load on 127.0.0.1 (fixed request counts; it stops
by itself and stops the server).

    .venv/bin/python benchmarks/serve.py [--rate 500] [--leads 10000] [--batches 20]
                                         [--batch-rows 10000] [--memory 100000]

Three parts, against a real server process started here (`koncept serve rulesets/`):
  1. one lead per request (`POST /v1/rulesets/contech-saas/lead`) at a sustained open-loop rate:
     each request is due at a fixed time, and its latency counts from that time, so a server
     that falls behind is charged for the wait (no coordinated omission). p50, p90, p99, max;
     baseline in the same run: `Program.evaluate_lead` in process, per lead.
  2. batches of N leads as a Parquet file (`POST .../evaluate`, multipart): rows per second,
     one request at a time and two at once; baseline in the same run: `Program.evaluate` on the
     same rows in process (read from the same Parquet file).
  3. memory: the server's RSS after 10,000 and after `--memory` requests (closed loop, 8
     connections): a leak shows as growth between the two.
The load generator is asyncio on raw HTTP/1.1 keep-alive connections: cheap enough to leave
the server most of a core on a 2-core machine. Not a test: the figures go in the notes.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.demo import demo_tables  # noqa: E402
from engine.loader import load  # noqa: E402

RULESET = "contech-saas"


# ----------------------------------------------------------------------------- the server
def start_server(decision_log: Path | None) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "serve", str(ROOT / "rulesets"), "--port",
         str(port), "--decision-log", str(decision_log or "-")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if connection.recv(100).startswith(b"HTTP/1.1 200"):
                    return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- a raw client
class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length)
        return status, body


def post(path: str, body: bytes, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# ----------------------------------------------------------------------------- 1. latency
async def latency(port: int, leads: list[bytes], rate: float, connections: int) -> dict[str, float]:
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    times: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(i: int, due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        status, _ = await connection.request(leads[i])
        times.append(time.perf_counter() - due)
        errors += status != 200
        pool.put_nowait(connection)

    # Each request starts when it is due (tasks made as they come due, not all up front).
    running: set[asyncio.Task[None]] = set()
    for i in range(len(leads)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().writer.close()
    return {
        "requests": len(times),
        "errors": errors,
        "rate": len(times) / elapsed,
        "p50_ms": percentile(times, 0.50) * 1000,
        "p90_ms": percentile(times, 0.90) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
        "max_ms": max(times) * 1000,
    }


# ----------------------------------------------------------------------------- 2. batches
def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "koncept-bench-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="leads"; filename="{name}"\r\n'
            "Content-Type: application/vnd.apache.parquet\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def batches(port: int, raw: bytes, count: int, parallel: int) -> tuple[float, int]:
    async def worker(share: int) -> int:
        connection = await Connection.open(port)
        bad = 0
        for _ in range(share):
            status, _ = await connection.request(raw)
            bad += status != 200
        connection.writer.close()
        return bad

    started = time.perf_counter()
    bad = await asyncio.gather(*(worker(count // parallel) for _ in range(parallel)))
    return time.perf_counter() - started, sum(bad)


# ----------------------------------------------------------------------------- 3. memory
async def closed_loop(port: int, leads: list[bytes], count: int, connections: int) -> int:
    async def worker(share: int, offset: int) -> int:
        connection = await Connection.open(port)
        bad = 0
        for i in range(share):
            status, _ = await connection.request(leads[(offset + i) % len(leads)])
            bad += status != 200
        connection.writer.close()
        return bad

    share = count // connections
    return sum(await asyncio.gather(*(worker(share, k * share) for k in range(connections))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500, help="lead requests per second (500)")
    parser.add_argument("--leads", type=int, default=10_000, help="lead requests timed (10,000)")
    parser.add_argument("--connections", type=int, default=32, help="connections for part 1")
    parser.add_argument("--batches", type=int, default=20, help="batch requests (20)")
    parser.add_argument("--batch-rows", type=int, default=10_000, help="rows per batch (10,000)")
    parser.add_argument("--memory", type=int, default=100_000, help="requests for part 3")
    parser.add_argument("--parts", default="123", help="parts to run (123)")
    parser.add_argument(
        "--no-decision-log", action="store_true", help="run the server without its decision log"
    )
    args = parser.parse_args()

    program = load(ROOT / "rulesets" / RULESET)
    tables, _ = demo_tables(program, args.batch_rows, 0, seed=3)
    frame = tables["leads"]
    records = [{k: v for k, v in row.items() if v is not None and v == v}
               for row in frame.head(2000).to_dict("records")]  # fmt: skip
    lead_requests = [
        post(
            f"/v1/rulesets/{RULESET}/lead", json.dumps(r, default=str).encode(), "application/json"
        )
        for r in records
    ]
    parquet = io.BytesIO()
    frame.astype("string").to_parquet(parquet)
    body, content_type = multipart("leads.parquet", parquet.getvalue())
    batch = post(f"/v1/rulesets/{RULESET}/evaluate", body, content_type)

    # Baselines, in process, same data.
    started = time.perf_counter()
    for _ in range(5):
        for record in records:
            program.evaluate_lead(record)
    per_lead_us = (time.perf_counter() - started) / (5 * len(records)) * 1e6
    from_parquet = pd.read_parquet(io.BytesIO(parquet.getvalue()))
    program.evaluate(leads=from_parquet)  # warm
    started = time.perf_counter()
    for _ in range(3):
        program.evaluate(leads=pd.read_parquet(io.BytesIO(parquet.getvalue())))
    library_batch = (time.perf_counter() - started) / 3

    # The decision log is on, as in operation: one JSON line per request, to a file.
    log = Path(tempfile.mkdtemp(prefix="koncept-bench-")) / "decisions.jsonl"
    process, port = start_server(None if args.no_decision_log else log)
    try:
        asyncio.run(closed_loop(port, lead_requests, 2000, 8))  # warm up
        print(f"koncept serve on 127.0.0.1:{port}, pid {process.pid}; {os.cpu_count()} cores")
        if "1" in args.parts:
            part_latency(args, port, lead_requests, per_lead_us)
        if "2" in args.parts:
            part_batches(args, port, batch, library_batch)
        if "3" in args.parts:
            part_memory(args, port, lead_requests, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(log.parent, ignore_errors=True)


def part_latency(
    args: argparse.Namespace, port: int, lead_requests: list[bytes], per_lead_us: float
) -> None:
    print(f"\n1. one lead per request, open loop at {args.rate:g}/s, {args.leads:,} requests")
    requests = _cycle(lead_requests, args.leads)
    found = asyncio.run(latency(port, requests, args.rate, args.connections))
    print(
        f"   achieved {found['rate']:.0f}/s, errors {found['errors']}, "
        f"p50 {found['p50_ms']:.2f} ms, p90 {found['p90_ms']:.2f} ms, "
        f"p99 {found['p99_ms']:.2f} ms, max {found['max_ms']:.1f} ms"
    )
    print(f"   baseline: Program.evaluate_lead in process {per_lead_us:.1f} us per lead")


def part_batches(args: argparse.Namespace, port: int, batch: bytes, library_batch: float) -> None:
    print(f"\n2. batches of {args.batch_rows:,} leads as Parquet, {args.batches} requests")
    for parallel in (1, 2):
        seconds, bad = asyncio.run(batches(port, batch, args.batches, parallel))
        rows = args.batch_rows * (args.batches // parallel) * parallel
        print(
            f"   {parallel} at once: {rows / seconds:,.0f} rows/s "
            f"({seconds / (rows / args.batch_rows) * 1000:.0f} ms per batch), errors {bad}"
        )
    print(
        f"   baseline: Program.evaluate in process {args.batch_rows / library_batch:,.0f} "
        f"rows/s ({library_batch * 1000:.0f} ms per batch)"
    )


def part_memory(args: argparse.Namespace, port: int, lead_requests: list[bytes], pid: int) -> None:
    print(f"\n3. memory over {args.memory:,} lead requests (closed loop, 8 connections)")
    asyncio.run(closed_loop(port, lead_requests, 10_000, 8))
    after_10k = rss_mb(pid)
    started = time.perf_counter()
    bad = asyncio.run(closed_loop(port, lead_requests, args.memory - 10_000, 8))
    seconds = time.perf_counter() - started
    after_all = rss_mb(pid)
    print(
        f"   RSS after 10,000: {after_10k:.1f} MB; after {args.memory:,}: {after_all:.1f} MB "
        f"({after_all - after_10k:+.1f} MB); {(args.memory - 10_000) / seconds:,.0f} "
        f"requests/s closed loop, errors {bad}"
    )


def _cycle(items: list[bytes], count: int) -> list[bytes]:
    return [items[i % len(items)] for i in range(count)]


if __name__ == "__main__":
    main()
