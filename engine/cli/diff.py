"""`koncept diff [BASE [HEAD]] [-- PATHS...]`: review a ruleset change by what it means and
what it does to the data.

BASE and HEAD are git revisions, read with `git archive` into a private folder (the working
tree, index and HEAD are never touched), or two folders. How the words are told apart, like
git does:
  * everything after `--` is a path;
  * before it, the leading words git resolves to a commit are the revisions (at most two); a
    word that is both a revision and an existing path is refused as ambiguous (use `--`);
  * with no revision, exactly two words that are both existing folders are BASE and HEAD
    folders (`koncept diff old/ new/`); otherwise the words are paths;
  * the words after the revisions are paths (`koncept diff main HEAD rulesets/fintech`).
Defaults: BASE is the merge-base of HEAD with the default branch (origin/HEAD, else main, else
master); HEAD is the working tree; the paths are the ruleset folders holding a changed `.krl`
file or `mapping.yaml` (the nearest folder above it whose `.krl` files hold the `ruleset`
header), and the rulesets that extend one of them as a template. A path absent in one version
is an added or removed ruleset.

Exit codes: 0 no gate tripped; 1 a `--fail-on` gate tripped, or a version of a ruleset does
not check (its diagnostics are printed as `koncept check` prints them); 2 usage, unreadable
input, an unknown revision, or not a git repository when revisions are needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli._common import (
    MAPPING_NAMES,
    add_input_arguments,
    cannot_write,
    default_mapping,
    period_text,
    read_inputs,
    report_data_error,
    report_unexpected,
    usage,
)

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from engine.diff.impact import Gate
    from engine.diff.review import Review, RulesetDiff
    from engine.program import Program

__all__ = ["register", "run"]

#: The template folders of an `extends` clause: its quoted paths.
_EXTENDS = re.compile(r'"([^"]+)"')
#: The files a version of the repository is read for.
_ARCHIVED = ("*.krl", *MAPPING_NAMES)


class _Usage(Exception):
    """A usage error found while working out the revisions and paths (exit 2)."""


def _options(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--period",
        type=period_text,
        help="period for KPIs and payouts: 2026-Q1, 2026-H1, 2026-03 or 2026",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="output (text)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the output to FILE")
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="GATE",
        help="exit 1 when: budget (a guardrail breached in HEAD), pay-change (a payout "
        "changes; see --max-change), status-flips=N (more than N leads or deals change "
        "status); repeatable",
    )
    parser.add_argument(
        "--max-change",
        metavar="LIMIT",
        help="with --fail-on pay-change: only a change of a payout beyond LIMIT fails, a share "
        "(2%%) or an amount (500)",
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `diff` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="review a ruleset change: meaning and money",
        usage="koncept diff [BASE [HEAD]] [-- PATHS...] [options]",
        description="Compare two versions of rulesets (git revisions, or two folders): what "
        "changes in meaning, in the ruleset's words, and with --data or --demo what changes "
        "in statuses, KPIs, alerts, payouts and budget. Exit 0: no gate tripped; 1: a "
        "--fail-on gate tripped or a version does not check; 2: usage, unreadable input, "
        "unknown revision, not a git repository.",
        epilog="Words after `--` are paths. Before it, the leading words git resolves to a "
        "commit are BASE and HEAD (a word that is also an existing path is refused: put paths "
        "after `--`); the words after them are paths. With no revision, two existing folders "
        "are compared as BASE and HEAD folders. Defaults: BASE is the merge-base of HEAD with "
        "origin/HEAD, main or master; HEAD is the working tree; PATHS are the rulesets with a "
        "changed .krl file or mapping.yaml, and the rulesets that extend them. See "
        "docs/review.md.",
    )
    parser.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="[BASE [HEAD]] [-- PATHS]",
        help=argparse.SUPPRESS,
    )
    _options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Work out the two versions, compare every ruleset, write the review."""
    try:
        args, words, paths = _split(args)
        gates = _gates(args.fail_on, args.max_change)
    except (_Usage, ValueError) as error:
        return usage(str(error))
    from engine.revisions import RevisionError

    try:
        with tempfile.TemporaryDirectory(prefix="koncept-diff-") as scratch:
            review = _review(args, words, paths, gates, Path(scratch))
            if isinstance(review, int):
                return review
            return _write(review, args)
    except _Usage as error:
        return usage(str(error))
    except RevisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        return report_unexpected(error)


# ----------------------------------------------------------------------------- arguments
def _split(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str], list[str]]:
    """The options written among the words, the words before `--`, and the paths after it."""
    words = list(args.words)
    paths: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, paths = words[:at], words[at + 1 :]
    # Options may follow the words, and the paths too (a path never starts with `--`).
    words = _options_among(args, words)
    paths = _options_among(args, paths)
    if args.data is not None and args.demo is not None:
        raise _Usage("give --data DIR or --demo, not both")
    return args, words, paths


def _options_among(args: argparse.Namespace, words: list[str]) -> list[str]:
    """The words left once the options among them are set on `args`."""
    if not any(w.startswith("--") for w in words):
        return words
    again = argparse.ArgumentParser(prog="koncept diff", add_help=False)
    again.add_argument("words", nargs="*")
    _options(again)
    try:
        more = again.parse_intermixed_args(words)
    except SystemExit:
        raise _Usage("unrecognized arguments (see koncept diff --help)") from None
    defaults = again.parse_args([])
    for name, value in vars(more).items():
        if name != "words" and value != getattr(defaults, name):
            setattr(args, name, [*args.fail_on, *value] if name == "fail_on" else value)
    return list(more.words)


def _gates(names: list[str], max_change: str | None) -> list[Gate]:
    from engine.diff.impact import Gate

    gates: list[Gate] = []
    for name in names:
        text = name.strip().lower()
        if text == "budget":
            gates.append(Gate("budget"))
        elif text == "pay-change":
            limit, percent = _limit(max_change) if max_change else (None, False)
            gates.append(Gate("pay-change", limit, percent))
        elif text.startswith("status-flips"):
            number = text.partition("=")[2]
            if not number.isdigit():
                raise _Usage(f"--fail-on {name}: give the flips allowed, like status-flips=0")
            gates.append(Gate("status-flips", Decimal(number)))
        else:
            raise _Usage(f"--fail-on {name!r}: expected budget, pay-change or status-flips=N")
    if max_change and not any(g.name == "pay-change" for g in gates):
        raise _Usage("--max-change goes with --fail-on pay-change")
    return gates


def _limit(text: str) -> tuple[Decimal, bool]:
    cleaned = text.strip().replace(",", "").replace("_", "")
    percent = cleaned.endswith("%")
    try:
        value = Decimal(cleaned.rstrip("%").strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise _Usage(f"--max-change: expected a share like 2% or an amount like 500, not {text!r}")
    return (value / 100 if percent else value), percent


# ----------------------------------------------------------------------------- versions
class _Side:
    """One version: a commit of the repository, the working tree, or a folder."""

    def __init__(self, label: str, commit: str | None = None, folder: Path | None = None):
        self.label = label
        self.commit = commit
        self.folder = folder


def _review(
    args: argparse.Namespace, words: list[str], paths: list[str], gates: list[Gate], scratch: Path
) -> Review | int:
    from engine import revisions
    from engine.diff.review import Review

    try:
        root: Path | None = revisions.repository_root(Path.cwd())
    except revisions.NotARepository:
        root = None
    revs: list[str] = []
    rest = list(words)
    while rest and len(revs) < 2 and root is not None and _is_revision(root, rest[0]):
        if Path(rest[0]).exists():
            raise _Usage(f"{rest[0]!r} is both a revision and a path; put paths after `--`")
        revs.append(rest.pop(0))
    if not revs and not paths and len(rest) == 2 and all(Path(w).is_dir() for w in rest):
        old, new = (Path(w) for w in rest)
        item = _compare(new.as_posix(), old, new, args, old.as_posix())
        if isinstance(item, int):
            return item
        review = Review(old.as_posix(), new.as_posix(), [item], gates)
        review.trip()
        return review
    if root is None:
        raise revisions.NotARepository(
            f"{Path.cwd()}: not a git repository; to compare two folders: "
            "koncept diff OLD_FOLDER NEW_FOLDER"
        )
    for word in rest:
        # Neither a revision nor a path of the working tree nor of history: say both, as git.
        if not Path(word).exists() and not revs and not _in_any(root, word):
            raise revisions.UnknownRevision(f"{word!r} is neither a revision nor a path of {root}")
    base, head = _sides(root, revs)
    inside = [_inside(root, p) for p in [*rest, *paths]]
    if not inside:
        inside = _changed_rulesets(root, base, head)
    items: list[RulesetDiff] = []
    for path in sorted(dict.fromkeys(inside)):
        before = _materialize(root, base, path, scratch / "base")
        after = _materialize(root, head, path, scratch / "head")
        if before is None and after is None:
            raise _Usage(f"{path}: not found in {base.label} nor in {head.label}")
        roots = (scratch / "base", head.folder or scratch / "head")
        item = _compare(path, before, after, args, roots=roots)
        if isinstance(item, int):
            return item
        items.append(item)
    review = Review(base.label, head.label, items, gates)
    review.trip()
    return review


def _is_revision(root: Path, word: str) -> bool:
    from engine import revisions

    try:
        revisions.resolve(root, word)
    except revisions.UnknownRevision:
        return False
    return True


def _in_any(root: Path, word: str) -> bool:
    from engine import revisions

    inside = _inside(root, word)
    return bool(revisions.git(root, "log", "-1", "--format=%H", "--all", "--", inside))


def _sides(root: Path, revs: list[str]) -> tuple[_Side, _Side]:
    from engine import revisions

    if revs:
        commit = revisions.resolve(root, revs[0])
        base = _Side(_label(revs[0], commit), commit)
    else:
        branch = revisions.default_branch(root)
        head_commit = revisions.resolve(root, "HEAD")
        commit = revisions.merge_base(root, head_commit, revisions.resolve(root, branch))
        base = _Side(f"merge-base with {branch} ({commit[:12]})", commit)
    if len(revs) == 2:
        commit = revisions.resolve(root, revs[1])
        return base, _Side(_label(revs[1], commit), commit)
    return base, _Side("working tree", None, root)


def _label(revision: str, commit: str) -> str:
    """How a report names a revision: `main (1e05b0c04343)`, or the short commit alone."""
    if commit.startswith(revision.lower()):
        return commit[:12]
    return f"{revision} ({commit[:12]})"


def _inside(root: Path, word: str) -> str:
    """A path given on the command line, relative to the repository's top (POSIX)."""
    full = (Path.cwd() / word).resolve()
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        raise _Usage(f"{word}: outside the repository {root}") from None


def _materialize(root: Path, side: _Side, inside: str, scratch: Path) -> Path | None:
    """The ruleset folder of one version, or None when it is absent there."""
    from engine import revisions

    if side.commit is None:
        folder = root / inside
        return folder if _has_rules(folder) else None
    if not revisions.has_path(root, side.commit, inside):
        return None
    if not scratch.exists():
        # Every ruleset file and mapping of the tree, once per version: a ruleset may extend a
        # template in another folder (`extends "../house"`).
        scratch.mkdir(parents=True)
        revisions.archive(root, side.commit, ".", scratch, _ARCHIVED)
    folder = scratch / inside
    return folder if _has_rules(folder) else None


def _has_rules(folder: Path) -> bool:
    if folder.is_file():
        return folder.suffix == ".krl"
    return folder.is_dir() and any(folder.rglob("*.krl"))


def _changed_rulesets(root: Path, base: _Side, head: _Side) -> list[str]:
    """The ruleset folders holding a changed `.krl` file or mapping, and the rulesets that
    extend one of them as a template (`extends "../house"`), in either version."""
    from engine import revisions

    assert base.commit is not None
    changed = [
        p for p in revisions.changed_paths(root, base.commit, head.commit)
        if p.endswith(".krl") or Path(p).name in MAPPING_NAMES
    ]  # fmt: skip
    headers = {**_headers(root, base.commit), **_headers(root, head.commit)}
    homes = {Path(h).parent.as_posix() for h in headers}
    found: set[str] = set()
    for name in changed:
        folder = Path(name).parent
        home = next((f for f in (folder, *folder.parents) if f.as_posix() in homes), folder)
        found.add(home.as_posix())
    grown = True
    while grown:  # a template may extend another one
        grown = False
        for header, text in headers.items():
            home = Path(header).parent
            for template in _EXTENDS.findall(text):
                target = os.path.normpath((home / template).as_posix()).replace(os.sep, "/")
                if target in found and home.as_posix() not in found:
                    found.add(home.as_posix())
                    grown = True
    return sorted(found)


def _headers(root: Path, commit: str | None) -> dict[str, str]:
    """The `.krl` files holding a `ruleset` header (relative to the root), with the header's
    `extends` clause (the text after `extends`, up to the end of its line)."""
    from engine import revisions

    where = [commit] if commit else ["--untracked"]
    listed = revisions.git(
        root, "grep", "-E", r"^[[:space:]]*(ruleset|extends)[[:space:]]", *where, "--", "*.krl"
    )
    found: dict[str, str] = {}
    for line in listed.splitlines():
        if commit:
            line = line.split(":", 1)[1] if ":" in line else line
        name, _, text = line.partition(":")
        entry = found.setdefault(name, "")
        if text.strip().startswith("extends"):
            found[name] = entry + text + "\n"
    return found


# ----------------------------------------------------------------------------- one ruleset
def _compare(
    path: str,
    before: Path | None,
    after: Path | None,
    args: argparse.Namespace,
    before_name: str | None = None,
    roots: tuple[Path | None, Path | None] = (None, None),
) -> RulesetDiff | int:
    """One ruleset compared and evaluated; an exit code when its data cannot be read."""
    from engine.cli.eval import summary
    from engine.data import DataError
    from engine.diff.review import diff_ruleset

    cache: dict[object, tuple[dict[str, pd.DataFrame], dt.date, str, object]] = {}
    shown: list[Any] = []

    def read(
        program: Program, folder: Path
    ) -> tuple[dict[str, pd.DataFrame], dt.date, str, object]:
        key = _data_key(args, folder)
        if key in cache:
            return cache[key]
        local = argparse.Namespace(**vars(args))
        local.ruleset = folder
        inputs = read_inputs(program, local)
        if inputs is None:
            raise _Usage("give --data DIR (a folder of input tables), table files, or --demo")
        if not shown:
            shown.append(inputs)
        cache[key] = (inputs.tables, inputs.as_of, inputs.origin, key)
        return cache[key]

    wanted = args.demo is not None or args.data is not None or _table_files(args)
    try:
        item = diff_ruleset(
            path,
            before,
            after,
            read if wanted else None,
            period=args.period,
            before_name=before_name,
            roots=roots,
        )
    except DataError as error:
        return report_data_error(error)
    for side, text in sorted(item.problems.items()):
        print(f"{path} ({side}) does not check:", file=sys.stderr)
        sys.stderr.write(text)
    if item.results is not None and shown:
        sys.stderr.write(f"{path}: " + summary(item.results[1], shown[0]))
    return item


def _table_files(args: argparse.Namespace) -> bool:
    from engine.schemas import FILE_NAMES

    return any(getattr(args, t, None) for t in FILE_NAMES.values())


def _data_key(args: argparse.Namespace, folder: Path) -> object:
    """Two reads give the same tables when the mapping that reads them is the same."""
    if args.demo is not None:
        return "demo"
    mapping = args.mapping or default_mapping(folder, args.data)
    if mapping is None:
        return None
    try:
        return mapping.read_bytes()
    except OSError:
        return str(mapping)


# ----------------------------------------------------------------------------- output
def _write(review: Review, args: argparse.Namespace) -> int:
    from engine.diff import render
    from engine.files import atomic_file

    if args.format == "json":
        text = render.write_json(review)
    elif args.format == "markdown":
        text = render.write_markdown(review)
    else:
        text = render.write_text(review)
    try:
        if args.out is not None:
            with atomic_file(args.out) as stream:
                stream.write(text)
        else:
            sys.stdout.write(text)
            with contextlib.suppress(BrokenPipeError):
                sys.stdout.flush()
    except OSError as error:
        return cannot_write(error, args.out or "stdout")
    for gate in review.tripped:
        print(f"error: --fail-on {gate.name}: {len(gate.reasons):,} reason(s)", file=sys.stderr)
    return 1 if review.failed else 0
