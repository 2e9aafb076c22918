"""Mutation testing of the client fixtures: do they catch a changed number in a ruleset?

For each client ruleset (`rulesets/<client>`), every numeric literal is changed one at a time,
up and down by a small step, and every bound is flipped one at a time: a comparison's
strictness (`>` <-> `>=`, `<` <-> `<=`, in conditions, status rules, bonuses, KPI targets and
conversion expectations) and a band's inclusivity (`[` <-> `(`, `)` <-> `]`). Each mutant is
loaded and the client's fixtures (`rulesets/<client>/tests/*.yaml`) run against it; the mutant
is *caught* when a case fails or errors, or when the mutated ruleset no longer loads (the
checker rejects it: reported apart). Cases marked `xfail` are left out.

Steps: a percentage moves by one point (80% -> 79%, 81%; 12.5% -> 12.4%, 12.6%); a duration by
one day (14d -> 13d, 15d; 26w -> 181d, 183d); an amount of 1,000 or more by 1% (50K -> 49500,
50500); another whole number by 1 (70 -> 69, 71); a decimal by one unit of its last digit
(1.5 -> 1.4, 1.6; 0.01 -> 0.00, 0.02).

    python benchmarks/mutations.py                      # every client
    python benchmarks/mutations.py fintech maven-crm --jobs 2 --json mutations.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsl import nodes as n  # noqa: E402
from dsl.parser import parse, read_source  # noqa: E402

#: Declarations the engine never evaluates: a mutant there cannot change any result.
DESCRIPTIVE = (n.Strategy,)
_SHADOWED = "equivalent: an earlier case of the first-match criterion takes these values"
#: Mutants that cannot change any result, and why: (file name, source line, before, after).
EQUIVALENT = {
    ("leads.krl", "when timing_months in 3..6 -> 8", "3", "2"): _SHADOWED + " (< 3)",
    ("leads.krl", "when timing_months > 6 -> 2", ">", ">="): _SHADOWED + " (3..6 holds 6)",
    ("leads.krl", "when timing_months > 6 -> 2", "6", "5"): _SHADOWED + " (3..6 holds (5, 6])",
    ("leads.krl", "when employees in 50..249 -> 6", "249", "250"): _SHADOWED + " (>= 250)",
    ("plans.krl", "[0%, 80%) 0%", "0%", "1%"): (
        "equivalent: under the 80% gate nothing is paid, whatever the step's rate"
    ),
    ("team.krl", "[0%, 80%) 0%", "0%", "1%"): (
        "equivalent: with the floor at 80% only what lies above 80% earns, so the rate of the "
        "band under it applies to nothing"
    ),
}
_FLIP = {">": ">=", ">=": ">", "<": "<=", "<=": "<"}
_NUMBER = re.compile(r"^(?P<num>\d[\d_]*(?:\.\d+)?)(?P<suffix>[KkMm]?)(?P<rest>.*)$", re.S)


@dataclasses.dataclass(frozen=True, slots=True)
class Mutant:
    """One change to one file: where, the text before and after, what kind of change."""

    file: str
    line: int
    start: int
    end: int
    before: str
    after: str
    kind: str  # number, percent, duration, strictness, inclusivity
    context: str  # the declaration it is in (`score bmanter`, `plan ae_2026`...)
    descriptive: bool
    source: str = ""  # the text of the line, trimmed

    def explanation(self) -> str:
        """Why the mutant cannot be caught, when it is a known equivalent or descriptive one."""
        if self.descriptive:
            return "not evaluated: the strategy block is descriptive, the engine never reads it"
        key = (Path(self.file).name, self.source, self.before, self.after)
        return EQUIVALENT.get(key, "")

    def label(self) -> str:
        """`file:line: before -> after (kind, in context)`."""
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.before} -> {self.after} ({self.kind}, {self.context})"


# ============================================================================ finding mutants
def _walk(node: Any) -> Iterator[Any]:
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        yield node
        for item in dataclasses.fields(node):
            yield from _walk(getattr(node, item.name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _walk(item)


def _fmt(value: Decimal) -> str:
    text = f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"
    return text


def literal_steps(text: str, kind: str) -> list[str]:
    """The two mutated spellings of a literal (see the module note)."""
    if kind == "duration":
        match = re.match(r"^(\d+)([dw])$", text.strip())
        if not match:
            return []
        days = int(match[1]) * (7 if match[2] == "w" else 1)
        return [f"{days - 1}d", f"{days + 1}d"]
    if kind == "percent":
        value = Decimal(text.strip().rstrip("%").replace("_", ""))
        unit = Decimal(1).scaleb(value.as_tuple().exponent) if value.as_tuple().exponent < 0 else 1
        return [f"{_fmt(value - unit)}%", f"{_fmt(value + unit)}%"]
    match = _NUMBER.match(text.strip())
    if not match:
        return []
    raw = Decimal(match["num"].replace("_", ""))
    scale = {"": 1, "k": 1000, "m": 1_000_000}[match["suffix"].lower()]
    value = raw * scale
    rest = match["rest"]
    if value >= 1000:
        step = value / 100
        return [f"{_fmt(value - step)}{rest}", f"{_fmt(value + step)}{rest}"]
    exponent = raw.as_tuple().exponent
    if isinstance(exponent, int) and exponent < 0:
        # A decimal keeps its places: 0.01 -> 0.00 and 0.02.
        unit = Decimal(1).scaleb(exponent)
        return [f"{raw - unit:f}{rest}", f"{raw + unit:f}{rest}"]
    return [f"{_fmt(raw - 1)}{rest}", f"{_fmt(raw + 1)}{rest}"]


def find_mutants(folder: Path) -> list[Mutant]:
    """Every mutant of the `.krl` files of a ruleset folder, in file order."""
    found: list[Mutant] = []
    for path in sorted(folder.glob("*.krl")):
        source, _ = read_source(path)
        assert source is not None
        parsed = parse(source)
        assert parsed.module is not None, f"{path} does not parse"
        text = source.text
        shown = path.relative_to(ROOT).as_posix()
        for declaration in parsed.module.declarations:
            context = _context(declaration)
            descriptive = isinstance(declaration, DESCRIPTIVE)
            for node in _walk(declaration):
                for start, end, before, after, kind in _sites(node, text):
                    line = text.count("\n", 0, start) + 1
                    source_line = text.splitlines()[line - 1].strip()
                    found.append(
                        Mutant(
                            shown,
                            line,
                            start,
                            end,
                            before,
                            after,
                            kind,
                            context,
                            descriptive,
                            source_line,
                        )
                    )
    return found


def _context(declaration: Any) -> str:
    kind = type(declaration).__name__.lower()
    name = getattr(declaration, "name", None)
    return f"{kind} {name.name}" if name is not None and hasattr(name, "name") else kind


def _sites(node: Any, text: str) -> Iterator[tuple[int, int, str, str, str]]:
    if isinstance(node, (n.Number, n.Percent, n.Duration)):
        kind = {n.Number: "number", n.Percent: "percent", n.Duration: "duration"}[type(node)]
        before = text[node.span.start : node.span.end]
        for after in literal_steps(before, kind):
            yield node.span.start, node.span.end, before, after, kind
    elif isinstance(node, n.Binary) and node.op in _FLIP:
        yield from _operator(text, node.left.span.end, node.right.span.start, node.op)
    elif isinstance(node, n.Bonus) and node.op in _FLIP:
        yield from _operator(text, node.amount.span.end, node.level.span.start, node.op)
    elif isinstance(node, n.Target) and node.op in _FLIP:
        yield from _operator(text, node.span.start, node.value.span.start, node.op)
    elif isinstance(node, n.ExpectConversion) and node.op in _FLIP:
        yield from _operator(text, node.target.span.end, node.value.span.start, node.op)
    elif isinstance(node, n.Band):
        start = node.span.start
        opening = text[start]
        yield start, start + 1, opening, "(" if opening == "[" else "[", "inclusivity"
        if node.high is None:
            return  # `[x, ...)` has no upper bound to include or exclude
        after = node.high.span.end
        close = min(i for i in (text.find(")", after), text.find("]", after)) if i >= 0)
        closing = text[close]
        yield close, close + 1, closing, "]" if closing == ")" else ")", "inclusivity"


def _operator(text: str, low: int, high: int, op: str) -> Iterator[tuple[int, int, str, str, str]]:
    between = text[low:high]
    match = re.search(r"(>=|<=|>|<)", between)
    if match and match[1] == op:
        start = low + match.start(1)
        yield start, start + len(op), op, _FLIP[op], "strictness"


# ============================================================================ running them
_STATE: dict[str, Any] = {}


def _init(client: str) -> None:
    from engine.testing import Runner, load_fixture  # noqa: F401

    folder = ROOT / "rulesets" / client
    cases = []
    for path in sorted((folder / "tests").glob("*.y*ml")):
        fixture = load_fixture(path)
        if fixture.problems:
            raise SystemExit("\n".join(str(p) for p in fixture.problems))
        cases.extend(c for c in fixture.cases if c.xfail is None)
    _STATE.update(client=client, folder=folder, cases=cases, killers=[])


def _run(mutant: Mutant) -> tuple[Mutant, str, str]:
    """(mutant, outcome, why): outcome `caught`, `rejected` (does not load) or `survived`."""
    from engine.loader import RulesetError, load
    from engine.testing import Runner

    folder: Path = _STATE["folder"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        copy.mkdir()
        for path in folder.glob("*.krl"):
            shutil.copy(path, copy / path.name)
        target = copy / Path(mutant.file).name
        text = target.read_text(encoding="utf-8")
        target.write_text(text[: mutant.start] + mutant.after + text[mutant.end :], "utf-8")
        try:
            program = load(copy)
        except RulesetError as error:
            first = next((d for d in error.diagnostics), None)
            return mutant, "rejected", f"{first.code}: {first.message}" if first else "rejected"
    runner = Runner({folder: program})
    cases = _STATE["cases"]
    killers: list[int] = _STATE["killers"]
    # Cases that caught earlier mutants catch most of the others: try them first, latest first.
    order = killers + [i for i in range(len(cases)) if i not in killers]
    for index in order:
        result = runner.run(cases[index])
        if result.status in ("fail", "error"):
            if index in killers:
                killers.remove(index)
            killers.insert(0, index)
            return mutant, "caught", f"{cases[index].file}:{cases[index].line} {cases[index].name}"
    return mutant, "survived", ""


def mutate_client(client: str, jobs: int) -> dict[str, Any]:
    """Run every mutant of one client; the figures and the survivors."""
    folder = ROOT / "rulesets" / client
    mutants = find_mutants(folder)
    start = time.perf_counter()
    _init(client)
    baseline = _baseline()
    if baseline:
        raise SystemExit(f"{client}: the fixtures fail on the unmutated ruleset:\n{baseline}")
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs, _init, (client,)) as pool:
            results = pool.map(_run, mutants, chunksize=4)
    else:
        results = [_run(m) for m in mutants]
    caught = [r for r in results if r[1] == "caught"]
    rejected = [r for r in results if r[1] == "rejected"]
    survived = [r for r in results if r[1] == "survived"]
    return {
        "client": client,
        "mutants": len(mutants),
        "caught": len(caught),
        "rejected": len(rejected),
        "survived": len(survived),
        "cases": len(_STATE["cases"]),
        "seconds": round(time.perf_counter() - start, 1),
        "explained": sum(1 for m, _, _ in survived if m.explanation()),
        "survivors": [
            {**dataclasses.asdict(m), "label": m.label(), "why": m.explanation()}
            for m, _, _ in survived
        ],
        "rejections": [{"label": m.label(), "why": why} for m, _, why in rejected],
    }


def _baseline() -> str:
    from engine.testing import Runner

    runner = Runner()
    failed = [runner.run(c) for c in _STATE["cases"]]
    return "\n".join(
        f"{r.case.file}:{r.case.line} {r.case.name}: {r.status}"
        for r in failed
        if r.status in ("fail", "error")
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutation analysis and print the share of mutants caught per client."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clients", nargs="*", help="client folders under rulesets/ (default: all)")
    parser.add_argument("--jobs", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--json", type=Path, help="write the full results as JSON")
    args = parser.parse_args(argv)
    clients = args.clients or sorted(
        p.name for p in (ROOT / "rulesets").iterdir() if (p / "tests").is_dir()
    )
    reports = []
    for client in clients:
        report = mutate_client(client, args.jobs)
        reports.append(report)
        killed = report["caught"] + report["rejected"]
        share = 100 * killed / report["mutants"] if report["mutants"] else 100.0
        print(
            f"{client}: {killed}/{report['mutants']} mutants caught ({share:.1f}%): "
            f"{report['caught']} by a fixture, {report['rejected']} rejected by the checker, "
            f"{report['survived']} survived ({report['cases']} cases, {report['seconds']} s)",
            flush=True,
        )
        for survivor in report["survivors"]:
            why = f"\n      {survivor['why']}" if survivor["why"] else "  (not explained)"
            print(f"  survived: {survivor['label']}{why}", flush=True)
    total = sum(r["mutants"] for r in reports)
    killed = sum(r["caught"] + r["rejected"] for r in reports)
    explained = sum(r["explained"] for r in reports)
    if total:
        print(
            f"all clients: {killed}/{total} mutants caught ({100 * killed / total:.1f}%); "
            f"{explained} of the {total - killed} survivors cannot change a result (equivalent "
            f"or never evaluated): {killed}/{total - explained} of the others caught "
            f"({100 * killed / max(1, total - explained):.1f}%)"
        )
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", "utf-8")
    # Success when every survivor is explained: nothing a fixture could have caught escaped.
    return 0 if killed + explained == total else 1


if __name__ == "__main__":
    sys.exit(main())
