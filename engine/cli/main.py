"""`koncept`: the entry point; dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

#: Subcommands in help order; each module has `register(subparsers)` and `run(args) -> int`.
SUBCOMMANDS = (
    "check",
    "fmt",
    "eval",
    "explain",
    "schema",
    "statement",
    "test",
    "demo",
    "serve",
    "completion",
)


class _VersionAction(argparse._VersionAction):
    """`--version`, with the version looked up only when asked for.

    importlib.metadata takes about 30 ms to import: every other command would pay for it if the
    version string were built with the parser.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from engine import installed_version

        self.version = f"%(prog)s {installed_version()}"
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand that is installed."""
    parser = argparse.ArgumentParser(
        prog="koncept",
        description="Sales-performance rules as code: check, format and evaluate .krl rulesets.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print the installed version and exit"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"engine.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"engine.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `koncept` with argv; returns the exit code (0 ok, 1 findings, 2 usage or input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
