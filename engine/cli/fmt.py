"""`koncept fmt [--check | --diff | --write] PATHS`: the canonical layout of .krl files."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsl.diagnostics import render_all, sort_diagnostics
from dsl.formatter import format_text
from dsl.parser import read_source, ruleset_files
from dsl.source import SourceFile
from engine.files import atomic_file


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `fmt` subcommand."""
    parser = subparsers.add_parser(
        "fmt",
        help="format rulesets in the canonical layout",
        description="Format .krl files in the one canonical layout, comments kept. Without a "
        "flag, print the formatted text of one file. The formatter re-parses its own output and "
        "refuses to touch a file whose meaning would change. Exit 0: nothing to do; 1: files "
        "would change (--check, --diff); 2: usage error, unreadable file or syntax error.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="ruleset files or folders"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        dest="mode",
        action="store_const",
        const="check",
        help="list the files that would be reformatted; exit 1 if any",
    )
    mode.add_argument(
        "--diff",
        dest="mode",
        action="store_const",
        const="diff",
        help="print what would change as unified diffs; exit 1 if anything would",
    )
    mode.add_argument(
        "--write",
        dest="mode",
        action="store_const",
        const="write",
        help="rewrite the files that are not formatted, in place",
    )
    parser.set_defaults(func=run, mode=None)


def run(args: argparse.Namespace) -> int:
    """Format the named files as the mode says; diagnostics go to stderr."""
    mode: str | None = args.mode
    files, diagnostics = ruleset_files(args.paths)
    if mode is None and len(files) > 1:
        print(
            f"koncept fmt: {len(files)} files given; printing is for one file, "
            "use --write, --check or --diff for several",
            file=sys.stderr,
        )
        return 2
    if not files and not diagnostics:
        print("koncept fmt: no .krl files found", file=sys.stderr)
        return 2
    sources: dict[str, SourceFile] = {}
    failed = False
    changed = 0
    for path in files:
        source, problems = read_source(path, str(path))
        diagnostics.extend(problems)
        if source is None:
            continue
        sources[source.path] = source
        result = format_text(source.text, source.path)
        diagnostics.extend(result.diagnostics)
        if result.output is None:
            continue
        if mode is None:
            sys.stdout.write(result.output)
            continue
        if result.output == source.text:
            continue
        changed += 1
        if mode == "check":
            print(f"would reformat {source.path}")
        elif mode == "diff":
            sys.stdout.writelines(_diff(source.text, result.output, source.path))
        else:
            try:
                with atomic_file(path, newline="") as stream:
                    stream.write(result.output)
            except OSError as error:
                print(f"koncept fmt: cannot write {path}: {error.strerror}", file=sys.stderr)
                failed = True
                continue
            print(f"reformatted {source.path}")
    if diagnostics:
        sys.stderr.write(render_all(sort_diagnostics(diagnostics), sources))
    if diagnostics or failed:
        return 2
    return 1 if changed and mode in ("check", "diff") else 0


def _diff(before: str, after: str, path: str) -> Iterator[str]:
    """A unified diff whose every line ends with a newline, even the file's last one."""
    lines = difflib.unified_diff(
        _lines(before),
        _lines(after),
        fromfile=f"{path} (original)",
        tofile=f"{path} (formatted)",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    # Only `\n` ends a line in a ruleset; str.splitlines would also split on `\r` or `\x0c`.
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
