"""`koncept serve PATH`: the evaluator as an HTTP API (see `engine.serve.app` and docs/serve.md).

    koncept serve rulesets/                         every client ruleset of a folder
    koncept serve rulesets/ --ref v2026.03          the same files at a git tag or branch
    koncept serve rulesets/ --keys keys.yaml --host 0.0.0.0
    koncept serve --keys keys.yaml --new-key crm-webhook --allow contech-saas

Exit codes: 0 stopped cleanly; 1 no ruleset could be loaded; 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import sys
from pathlib import Path
from typing import IO, Any

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="serve rulesets over HTTP (JSON API, OpenAPI at /docs)",
        description="Answer HTTP requests with the evaluator: one lead or deal, whole tables, "
        "explanations, statements, checks. PATH is a folder of client rulesets (or one "
        "ruleset); with --ref, the files of that git branch, tag or commit. Without --keys "
        "only this machine is answered. Exit 0: stopped; 1: no ruleset loaded; 2: usage.",
    )
    parser.add_argument("path", type=Path, nargs="?", metavar="PATH", help="rulesets folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument("--ref", help="serve PATH as it is at this git branch, tag or commit")
    parser.add_argument(
        "--reload",
        action="store_true",
        help="reload a ruleset when its files (or the git refs) change; a version that does "
        "not check is refused and the old one keeps serving",
    )
    parser.add_argument("--keys", type=Path, metavar="FILE", help="API keys file (YAML, hashed)")
    parser.add_argument(
        "--new-key",
        metavar="ID",
        help="make a new API key named ID, add its hash to --keys FILE, print the key, exit",
    )
    parser.add_argument(
        "--allow",
        default="*",
        metavar="IDS",
        help="with --new-key: rulesets the key may use, comma-separated (*: all)",
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=64, metavar="MB", help="largest body (64 MB)"
    )
    parser.add_argument(
        "--max-rows", type=int, default=1_000_000, help="most input rows per request (1,000,000)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60, metavar="S", help="longest evaluation (60 s)"
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=30,
        metavar="S",
        help="longest wait for a request's body (30 s; slower clients get 408)",
    )
    parser.add_argument(
        "--decision-log",
        type=Path,
        metavar="FILE",
        help="append one JSON line per /v1 request here (default: stderr; `-` for none)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the server (or make a key) and run until interrupted."""
    if args.new_key is not None:
        return _new_key(args)
    if args.path is None:
        print("error: give the rulesets folder to serve", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port}: expected 0 to 65535", file=sys.stderr)
        return 2
    if min(args.max_rows, args.timeout, args.read_timeout, args.max_body_mb) <= 0:
        print(
            "error: --max-rows, --timeout, --read-timeout and --max-body-mb must be positive",
            file=sys.stderr,
        )
        return 2
    keys = None
    if args.keys is not None:
        from engine.serve.keys import KeyFileError, load_keys

        try:
            keys = load_keys(args.keys)
        except KeyFileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    elif not _is_loopback(args.host):
        print(
            f"error: --host {args.host} without --keys: a server with no API keys answers this "
            "machine only; give --keys FILE (`koncept serve --keys FILE --new-key ID`)",
            file=sys.stderr,
        )
        return 2
    return _serve(args, keys)


def _serve(args: argparse.Namespace, keys: Any) -> int:
    import uvicorn

    from engine.serve.app import Limits, create_app
    from engine.serve.store import SourceError, Store

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        store = Store(args.path, args.ref)
        snapshot = store.load()
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for refusal in snapshot.refused.values():
        print(f"refused {refusal.id}: {refusal.message}", file=sys.stderr)
    if not snapshot.rulesets:
        print(f"error: no ruleset could be loaded from {args.path}", file=sys.stderr)
        return 1
    # What is loaded now lives as long as the server: out of the collector's full passes,
    # which would otherwise walk every compiled ruleset and stall a request now and then.
    gc.collect()
    gc.freeze()
    served = ", ".join(f"{v.id} {v.version}" for v in snapshot.rulesets.values())
    origin = f"{args.path} at {args.ref} ({snapshot.commit[:12]})" if snapshot.commit else args.path
    print(f"serving {len(snapshot.rulesets)} ruleset(s) from {origin}: {served}", file=sys.stderr)
    if keys is None:
        print("no --keys: answering requests from this machine only", file=sys.stderr)
    else:
        print(f"{len(keys.by_hash)} API key(s) from {args.keys}", file=sys.stderr)
    decisions = _decision_stream(args.decision_log)
    limits = Limits(
        max_body=int(args.max_body_mb * 1024 * 1024),
        max_rows=args.max_rows,
        timeout=args.timeout,
        read_timeout=args.read_timeout,
    )
    app = create_app(store, keys, limits, decisions, watch=args.reload)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,  # the decision log says what was asked, without the query string
        timeout_keep_alive=5,
        server_header=False,
    )
    print(
        f"listening on http://{_url_host(args.host)}:{args.port} (docs at /docs)", file=sys.stderr
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if decisions not in (None, sys.stderr):
            decisions.close()
    return 0


def _new_key(args: argparse.Namespace) -> int:
    from engine.serve.keys import KeyFileError, add_key

    if args.keys is None:
        print("error: --new-key needs --keys FILE (where its hash is kept)", file=sys.stderr)
        return 2
    rulesets = [r.strip() for r in args.allow.split(",") if r.strip()]
    try:
        secret = add_key(args.keys, args.new_key, rulesets)
    except KeyFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(secret)
    print(
        f"key {args.new_key!r} added to {args.keys} (only its hash is kept: copy the key now)",
        file=sys.stderr,
    )
    return 0


def _decision_stream(path: Path | None) -> IO[str] | None:
    if path is None:
        return sys.stderr
    if str(path) == "-":
        return None
    return path.open("a", encoding="utf-8")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
