"""The report of a fixture run as `koncept test` and the pytest plugin show it: text (one line a
case, then why it failed; coverage with every concept not covered), the documented JSON
document, JUnit XML for CI, and GitHub workflow commands (annotations on the fixture's line)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from dsl.diagnostics import workflow_command
from engine.testing.coverage import Coverage
from engine.testing.runner import CaseResult, Report

__all__ = ["JSON_VERSION", "as_github", "as_json", "as_junit", "text_coverage", "text_result"]

#: Version of the JSON output (docs/testing.md); bumped when a field changes meaning.
JSON_VERSION = 1
_LABELS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "xfail": "XFAIL", "xpass": "XPASS"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def text_result(result: CaseResult) -> str:
    """One case as text: `file:line  STATUS  name`, then why it failed."""
    from engine.testing.compare import render

    case = result.case
    lines = [f"{case.file}:{case.line}  {_LABELS[result.status]:<5}  {case.name}"]
    if result.differences and result.status in ("fail", "xfail"):
        lines.append(render(result.differences, indent="    "))
    if result.message:
        lines.extend(f"    {line}" for line in result.message.splitlines())
    if case.xfail and result.status in ("xfail", "xpass"):
        lines.append(f"    expected to fail: {case.xfail}")
    return "\n".join(lines)


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


# ============================================================================ github
def as_github(report: Report, threshold: float | None = None) -> str:
    """The report as GitHub workflow commands: an error annotation on the fixture file and line
    of each failing case (a warning for an unexpected pass), each invalid fixture file and each
    ruleset under the coverage threshold, then the summary line as plain text."""
    lines = []
    for result in report.results:
        if result.status not in ("fail", "error", "xpass"):
            continue
        case = result.case
        kind = "warning" if result.status == "xpass" else "error"
        body = text_result(result).split("\n", 1)[1:]  # why, without the `file:line` line
        lines.append(
            workflow_command(
                kind,
                "\n".join([case.name, *body]),
                file=case.file,
                line=case.line,
                title=f"koncept test: {_LABELS[result.status]}",
            )
        )
    for problem in report.problems:
        lines.append(
            workflow_command(
                "error",
                problem.message,
                file=problem.path,
                line=problem.line,
                title="koncept test: invalid fixture",
            )
        )
    for item in report.coverage:
        if threshold is not None and item.percent < threshold:
            lines.append(
                workflow_command(
                    "error", text_coverage(item, threshold), title="koncept test: coverage"
                )
            )
    counts = ", ".join(
        f"{report.count(status)} {status}" for status in ("pass", "fail", "error", "xfail", "xpass")
    )
    lines.append(f"{len(report.results)} cases in {report.files} files: {counts}")
    return "".join(f"{line}\n" for line in lines)


# ============================================================================ junit
def as_junit(report: Report, threshold: float | None = None) -> str:
    """The report as JUnit XML: one testsuite per fixture file, one testcase per case."""
    from engine.testing.compare import render

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
