"""`koncept check PATHS [--format text|json|github] [--strict] [--deviations]`: every finding;
silent when clean. `--deviations` lists where rulesets differ from the templates they extend."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dsl.diagnostics import Severity, render_all, render_github, render_json
from dsl.templates import deviation_rows, render_deviations
from dsl.workspace import Workspace, load_workspace


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
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="output format (github: workflow commands, annotations in a GitHub Action)",
    )
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument(
        "--deviations",
        action="store_true",
        help="list, per ruleset that extends a template, every item that differs from it "
        "(on stdout, as text or JSON; findings then go to stderr as text)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the rulesets; print findings to stdout (json, github) or stderr (text)."""
    workspace = load_workspace(args.paths, strict=args.strict)
    diagnostics = workspace.diagnostics
    if args.deviations:
        _deviations(workspace, as_json=args.format == "json")
        if diagnostics:
            sys.stderr.write(render_all(diagnostics, workspace.sources))
    elif args.format == "json":
        print(render_json(diagnostics))
    elif args.format == "github":
        sys.stdout.write(render_github(diagnostics))
    elif diagnostics:
        sys.stderr.write(render_all(diagnostics, workspace.sources))
    if workspace.unreadable:
        return 2
    return 1 if any(d.severity is Severity.ERROR for d in diagnostics) else 0


def _deviations(workspace: Workspace, *, as_json: bool) -> None:
    """Each ruleset that extends a template: the items where it differs, both sides located."""
    found = []
    for loaded in workspace.rulesets:
        header = loaded.result.model.ruleset if loaded.result is not None else None
        if header is None or not header.extends:
            continue
        templates = [t.path for t in header.extends]
        found.append((str(loaded.folder), templates, loaded.deviations))
    if as_json:
        rows = [
            {"ruleset": name, "extends": templates, "deviations": deviation_rows(deviations)}
            for name, templates, deviations in found
        ]
        print(json.dumps({"rulesets": rows}, ensure_ascii=False, indent=2))
        return
    for name, templates, deviations in found:
        sys.stdout.write(render_deviations(name, templates, deviations))
