"""`koncept init CLIENT [--from TEMPLATE] [--dir FOLDER] [--koncept-repo OWNER/NAME]`: a new
client folder that checks, formats and tests clean as created."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.scaffold import DEFAULT_REPOSITORY, ScaffoldError, scaffold


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `init` subcommand."""
    parser = subparsers.add_parser(
        "init",
        help="create a client folder: ruleset, fixtures, mapping, README and CI files",
        description="Create the folder of a new client: header, records, pipeline, scores, "
        "team and plans .krl files, tests/ fixtures, mapping.yaml, a README (in French), a "
        "GitHub workflow using the Koncept Rules action and a pre-commit config. It checks, "
        "formats and tests clean as created. --from copies an existing client's folder "
        "instead, its ruleset id renamed. Exit 0: created; 2: usage error, an invalid client "
        "id, a folder that exists and is not empty, or a template that does not check.",
    )
    parser.add_argument(
        "client", metavar="CLIENT", help="the client id (a ruleset name: acme_corp)"
    )
    parser.add_argument(
        "--from",
        dest="template",
        type=Path,
        metavar="TEMPLATE",
        help="copy this ruleset folder (e.g. rulesets/fintech) instead of the generic template",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        metavar="FOLDER",
        help="the folder to create (default: CLIENT in the current folder)",
    )
    parser.add_argument(
        "--koncept-repo",
        default=DEFAULT_REPOSITORY,
        metavar="OWNER/NAME",
        help=f"the GitHub repository of Koncept Rules the CI files use ({DEFAULT_REPOSITORY})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the folder; print what was written and the next steps."""
    from engine import installed_version

    target: Path = args.dir or Path(args.client)
    version = installed_version()
    revision = f"v{version}" if version != "unknown" else "main"
    try:
        files = scaffold(
            args.client,
            target,
            source=args.template,
            repository=args.koncept_repo,
            revision=revision,
        )
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot create {target}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"created {target} ({len(files)} files) for client {args.client}")
    print(f"next: koncept check --strict {target} && koncept test {target}")
    return 0
