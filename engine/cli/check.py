"""`koncept check PATHS [--format text|json] [--strict]`: every finding; silent when clean."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dsl.diagnostics import Severity, render_all, render_json
from dsl.workspace import load_workspace


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `check` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="check rulesets for errors and warnings",
        description="Parse and check .krl rulesets. Prints nothing when they are clean. "
        "Exit 0: no error; 1: errors (or warnings with --strict); 2: usage or unreadable input.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="ruleset files or folders"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the rulesets; print findings to stdout (json) or stderr (text)."""
    workspace = load_workspace(args.paths, strict=args.strict)
    diagnostics = workspace.diagnostics
    if args.format == "json":
        print(render_json(diagnostics))
    elif diagnostics:
        sys.stderr.write(render_all(diagnostics, workspace.sources))
    if workspace.unreadable:
        return 2
    return 1 if any(d.severity is Severity.ERROR for d in diagnostics) else 0
