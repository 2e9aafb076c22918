r"""`koncept`: the entry point; dispatches to one module per subcommand.

Output the terminal cannot show: stdout and stderr keep their encoding (UTF-8, or what
PYTHONIOENCODING or the console says), and a character it has no byte for is written as a
Python escape (`\u2265` for `≥` on a cp1252 console) instead of stopping the command. JSON
output on such a stream uses JSON's own `\uXXXX` escapes, so it stays valid JSON.

Output that cannot be written (a full disk, a closed stdout) ends the command with one line,
`error: cannot write <where>: <reason>`, and exit 2; a reader that stops early (`| head`) is
not an error. Ctrl-C exits 130 and leaves no partial output file (`engine.output`).
"""

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
    "report",
    "simulate",
    "diagnose",
    "test",
    "diff",
    "init",
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
    _prepare_streams()
    try:
        code = int(args.func(args))
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, ValueError) as error:
        from engine.cli._common import cannot_write, is_write_error

        if not is_write_error(error):
            raise
        return cannot_write(error)
    return code


class _ClosedStream:
    """Stands for a standard stream that was closed when `koncept` started (`>&-`): writing to
    it fails as writing to a closed descriptor does, so the command says it cannot write."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text: str) -> int:
        import errno

        raise OSError(errno.EBADF, "the stream is closed")

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise ValueError("the stream is closed")


def _prepare_streams() -> None:
    """Closed streams fail when written to; unencodable characters are escaped (see above)."""
    import io

    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        sys.stderr = io.StringIO()  # nowhere to report: keep the messages from failing
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
