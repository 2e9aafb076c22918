"""`koncept test [PATHS] [-k PATTERN] [--format text|json|junit] [--coverage [--threshold N]]
[--fail-on-empty]`: run the rulesets' fixture files, both evaluators, with concept coverage."""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.testing import CaseResult, Coverage, Report

#: Version of the JSON output (docs/testing.md); bumped when a field changes meaning.
JSON_VERSION = 1
_LABELS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "xfail": "XFAIL", "xpass": "XPASS"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `test` subcommand."""
    parser = subparsers.add_parser(
        "test",
        help="run the rulesets' fixture files (both evaluators), with concept coverage",
        description="Run the test cases of `tests/*.yaml` fixture files found under PATHS "
        "(default: the current folder). Every case runs through the per-record and the table "
        "evaluator. Exit 0: every case passed; 1: a case failed or errored, coverage is under "
        "the threshold, or no case ran with --fail-on-empty; 2: usage error or an invalid "
        "fixture file.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="fixture files or folders to search"
    )
    parser.add_argument(
        "-k",
        dest="pattern",
        metavar="PATTERN",
        help="run the cases whose `file::name` contains every word (`-word`: does not contain)",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "junit"), default="text", help="output format"
    )
    parser.add_argument(
        "--coverage", action="store_true", help="report concept coverage per ruleset"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="N",
        help="fail when a ruleset's concept coverage is under N percent (implies --coverage)",
    )
    parser.add_argument(
        "--fail-on-empty", action="store_true", help="fail when no case is selected"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the cases and print the report; the exit code says how it went."""
    from engine.testing import run as run_cases

    if args.threshold is not None and not 0 <= args.threshold <= 100:
        print("error: --threshold takes a percentage between 0 and 100", file=sys.stderr)
        return 2
    with_coverage = bool(args.coverage or args.threshold is not None)
    paths = args.paths or [Path(".")]
    live = args.format == "text"
    report = run_cases(
        paths,
        pattern=args.pattern,
        with_coverage=with_coverage,
        on_result=_print_result if live else None,
    )
    below = [
        c for c in report.coverage if args.threshold is not None and c.percent < args.threshold
    ]
    if args.format == "json":
        print(json.dumps(as_json(report, args.threshold), indent=2, ensure_ascii=False))
    elif args.format == "junit":
        sys.stdout.write(as_junit(report, args.threshold))
    else:
        _print_summary(report, args.threshold, args.fail_on_empty)
    if report.problems:
        return 2
    if not report.ok or below:
        return 1
    return 1 if args.fail_on_empty and not report.results else 0


# ============================================================================ text
def _print_result(result: CaseResult) -> None:
    print(text_result(result), flush=True)


def text_result(result: CaseResult) -> str:
    """One case as text: `file:line  STATUS  name`, then why it failed."""
    from engine.diff import render

    case = result.case
    lines = [f"{case.file}:{case.line}  {_LABELS[result.status]:<5}  {case.name}"]
    if result.differences and result.status in ("fail", "xfail"):
        lines.append(render(result.differences, indent="    "))
    if result.message:
        lines.extend(f"    {line}" for line in result.message.splitlines())
    if case.xfail and result.status in ("xfail", "xpass"):
        lines.append(f"    expected to fail: {case.xfail}")
    return "\n".join(lines)


def _print_summary(report: Report, threshold: float | None, fail_on_empty: bool) -> None:
    for problem in report.problems:
        print(f"{problem}  (invalid fixture)")
    for item in report.coverage:
        print(text_coverage(item, threshold))
    counts = [
        f"{report.count(status)} {word}"
        for status, word in (
            ("pass", "passed"),
            ("fail", "failed"),
            ("error", "errors"),
            ("xfail", "xfailed"),
            ("xpass", "xpassed"),
        )
        if report.count(status) or status == "pass"
    ]
    files = f"{report.files} file{'s' if report.files != 1 else ''}"
    cases = len(report.results)
    if not cases:
        empty = "no test case selected" + (" (--fail-on-empty)" if fail_on_empty else "")
        print(f"{empty} in {files}")
        return
    print(f"{cases} case{'s' if cases != 1 else ''} in {files}: {', '.join(counts)} "
          f"({report.duration:.2f} s)")  # fmt: skip


def text_coverage(item: Coverage, threshold: float | None = None) -> str:
    """A ruleset's coverage: the figure, then every concept not covered, by file and line."""
    verdict = ""
    if threshold is not None:
        verdict = (
            "  ok" if item.percent >= threshold else f"  under the threshold of {threshold:g}%"
        )
    lines = [
        f"coverage {item.ruleset}: {item.percent:.1f}% of concepts "
        f"({item.covered}/{item.total}){verdict}"
    ]
    for concept, missing in item.uncovered():
        lines.append(
            f"  {concept.path}:{concept.line}: {concept.kind} `{_short(concept.text)}`: "
            f"never {' / never '.join(missing)}"
        )
    return "\n".join(lines)


def _short(text: str, size: int = 72) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# ============================================================================ json
def as_json(report: Report, threshold: float | None = None) -> dict[str, Any]:
    """The report as the documented JSON document (docs/testing.md)."""
    return {
        "version": JSON_VERSION,
        "summary": {
            "files": report.files,
            "cases": len(report.results),
            **{
                status: report.count(status)
                for status in ("pass", "fail", "error", "xfail", "xpass")
            },
            "problems": len(report.problems),
            "duration": round(report.duration, 3),
            "ok": report.ok,
        },
        "cases": [
            {
                "id": r.case.id,
                "file": r.case.file,
                "line": r.case.line,
                "name": r.case.name,
                "status": r.status,
                "duration": round(r.duration, 4),
                "differences": [d.as_dict() for d in r.differences],
                "message": r.message or None,
                "xfail": r.case.xfail,
            }
            for r in report.results
        ],
        "problems": [
            {"file": p.path, "line": p.line, "message": p.message} for p in report.problems
        ],
        "coverage": [
            {
                "ruleset": c.ruleset,
                "covered": c.covered,
                "total": c.total,
                "percent": round(c.percent, 2),
                "ok": None if threshold is None else c.percent >= threshold,
                "uncovered": [
                    {
                        "kind": concept.kind,
                        "text": concept.text,
                        "file": concept.path,
                        "line": concept.line,
                        "missing": list(missing),
                    }
                    for concept, missing in c.uncovered()
                ],
            }
            for c in report.coverage
        ],
    }


# ============================================================================ junit
def as_junit(report: Report, threshold: float | None = None) -> str:
    """The report as JUnit XML: one testsuite per fixture file, one testcase per case."""
    from engine.diff import render

    root = ET.Element("testsuites", name="koncept test")
    suites: dict[str, ET.Element] = {}

    def suite(name: str) -> ET.Element:
        if name not in suites:
            suites[name] = ET.SubElement(root, "testsuite", name=name, file=name)
        return suites[name]

    for result in report.results:
        case = result.case
        element = ET.SubElement(
            suite(case.file),
            "testcase",
            classname=_classname(case.file),
            name=_clean(case.name),
            file=case.file,
            line=str(case.line),
            time=f"{result.duration:.4f}",
        )
        if result.status == "fail":
            text = render(result.differences, indent="")
            failure = ET.SubElement(
                element,
                "failure",
                message=f"{len(result.differences)} field(s) differ",
                type="fail",
            )
            failure.text = _clean(text)
        elif result.status == "error":
            error = ET.SubElement(
                element, "error", message=_clean(result.message.splitlines()[0]), type="error"
            )
            error.text = _clean(result.message)
        elif result.status == "xfail":
            ET.SubElement(element, "skipped", message=_clean(f"xfail: {case.xfail}"))
        elif result.status == "xpass":
            ET.SubElement(element, "system-out").text = _clean(f"xpass: {case.xfail}")
    for problem in report.problems:
        element = ET.SubElement(
            suite(problem.path),
            "testcase",
            classname=_classname(problem.path),
            name=f"fixture file (line {problem.line})",
            file=problem.path,
            line=str(problem.line),
            time="0",
        )
        error = ET.SubElement(element, "error", message=_clean(problem.message), type="fixture")
        error.text = _clean(str(problem))
    if report.coverage:
        covered = ET.SubElement(root, "testsuite", name="coverage")
        for item in report.coverage:
            element = ET.SubElement(
                covered, "testcase", classname="coverage", name=item.ruleset, time="0"
            )
            properties = ET.SubElement(element, "properties")
            ET.SubElement(properties, "property", name="percent", value=f"{item.percent:.2f}")
            if threshold is not None and item.percent < threshold:
                failure = ET.SubElement(
                    element,
                    "failure",
                    type="coverage",
                    message=f"{item.percent:.1f}% of concepts, under {threshold:g}%",
                )
                failure.text = _clean(text_coverage(item, threshold))
    total_time = 0.0
    for element in root:
        cases = element.findall("testcase")
        element.set("tests", str(len(cases)))
        element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        element.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        element.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
        seconds = sum(float(c.get("time", "0")) for c in cases)
        element.set("time", f"{seconds:.4f}")
        total_time += seconds
    for name in ("tests", "failures", "errors", "skipped"):
        root.set(name, str(sum(int(e.get(name, "0")) for e in root)))
    root.set("time", f"{total_time:.4f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _classname(path: str) -> str:
    return Path(path).with_suffix("").as_posix().replace("/", ".")


def _clean(text: str) -> str:
    """Text without the control characters XML 1.0 cannot hold."""
    return _CONTROL.sub("", text)
