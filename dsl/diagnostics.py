"""Diagnostics: one type for every finding, rendered as text with a caret or as JSON."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dsl.source import SourceFile, Span


class Severity(StrEnum):
    """How bad a finding is; `--strict` turns warnings into errors."""

    ERROR = "error"
    WARNING = "warning"


#: Every code the tools emit, with a short title. Codes are stable: never renumber one.
CODES: dict[str, str] = {
    # input and limits
    "E001": "unreadable input",
    "E002": "invalid UTF-8",
    "E003": "input too large",
    "E004": "nesting too deep",
    "E005": "ruleset header missing or repeated",
    # syntax
    "E101": "unexpected token",
    "E102": "unexpected end of file",
    "E103": "invalid character",
    "E104": "single `=` in a comparison",
    "E105": "unclosed brace",
    "E106": "decimal comma",
    "E107": "invalid literal",
    "E108": "repeated setting",
    # names
    "E201": "unknown field",
    "E202": "unknown stage",
    "E203": "unknown score",
    "E204": "unknown plan",
    "E205": "unknown role",
    "E206": "unknown KPI",
    "E207": "duplicate definition",
    "E208": "unknown record",
    "E209": "unknown value",
    "E210": "unknown keyword value",
    "E211": "unknown function",
    "E212": "unknown measure",
    "E213": "unknown report",
    "E214": "not available in this context",
    "E215": "ambiguous declarations",
    "E216": "unknown named table or curve",
    "E217": "override of an unknown item",
    "E218": "templates extend each other",
    "E219": "template not found",
    "E220": "definition refers to itself",
    # types
    "E301": "type mismatch",
    "E302": "condition is not a boolean",
    "E303": "wrong number of arguments",
    # tables and structure
    "E401": "tier bands have a gap or an overlap",
    "E402": "measure weights do not sum to 100%",
    "E403": "score cannot reach its maximum",
    "E404": "status threshold cannot be reached",
    "E405": "unreachable case",
    "E406": "stage without exit criterion",
    "E407": "too many KPIs for a role",
    "E408": "invalid plan",
    "E409": "invalid bounds",
    "E410": "share over 100%",
    # domain lints
    "W501": "activity count used as a KPI",
    "W502": "objectives communicated after the period starts",
    "W503": "payout can decrease as attainment rises",
    "W504": "case can never match",
    "W505": "named definition never used",
    "W506": "strategy shares do not add up to 100%",
    "W509": "pay setting with no effect",
    # tools
    "E901": "formatter would change the meaning",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding: a stable code, a severity, a message, where it is, and how to fix it."""

    code: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    help: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        """Sort by file, then position, then code."""
        return (self.span.path, self.span.start, self.span.end, self.code)

    def as_error(self) -> Diagnostic:
        """The same finding, as an error (for `--strict`)."""
        return Diagnostic(self.code, self.message, self.span, Severity.ERROR, self.help)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict with 1-based positions."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.span.path,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "help": self.help,
        }


def close_names(
    name: str, candidates: Iterable[str], *, fold_case: bool = False, most: int = 1
) -> list[str]:
    """The candidates closest to a misspelt name, closest first (at most `most`): the one
    "did you mean" of the project (ruleset names, data values, columns, ids). With `fold_case`
    the comparison ignores case (data values: `Won` for `won`)."""
    pool = sorted(set(candidates))
    if fold_case:
        lowered = {c.lower(): c for c in pool}
        found = difflib.get_close_matches(name.lower(), list(lowered), n=most, cutoff=0.6)
        return [lowered[f] for f in found]
    matches = difflib.get_close_matches(name, pool, n=most, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        matches = [lowered[name.lower()]] if name.lower() in lowered else []
    return matches


def closest(name: str, candidates: Iterable[str], *, fold_case: bool = False) -> str | None:
    """The candidate closest to a misspelt name, or None when nothing is close."""
    found = close_names(name, candidates, fold_case=fold_case)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' help line for a misspelt name, or None when nothing is close."""
    found = closest(name, candidates)
    return f"did you mean `{found}`?" if found else None


def either(words: Sequence[str]) -> str:
    """`a, b or c`: the alternatives a message lists."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """All findings in file and position order, without exact repeats."""
    unique = {(d.code, d.message, d.span, d.severity, d.help): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render(diagnostic: Diagnostic, sources: Mapping[str, SourceFile]) -> str:
    """`path:line:col: error[code]: message`, the source line, a caret under the span, help."""
    span = diagnostic.span
    head = (
        f"{span.path}:{span.line}:{span.column}: "
        f"{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    )
    lines = [head]
    source = sources.get(span.path)
    if source is not None and source.text:
        text = source.line_text(span.line)
        gutter = f"{span.line:>4} | "
        width = (
            span.end_column - span.column
            if span.end_line == span.line
            else len(text) - span.column + 1
        )
        # Control characters would garble a terminal; show them as a visible placeholder.
        shown = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text)
        lines.append(gutter + shown)
        lines.append(" " * (len(gutter) + span.column - 1) + "^" * max(1, width))
    if diagnostic.help:
        lines.append(f"  help: {diagnostic.help}")
    return "\n".join(lines)


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, SourceFile]) -> str:
    """Every finding rendered as text, separated by blank lines, with a closing count."""
    items = list(diagnostics)
    blocks = [render(d, sources) for d in items]
    errors = sum(d.severity is Severity.ERROR for d in items)
    warnings = len(items) - errors
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return "\n\n".join([*blocks, summary]) + "\n"


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Every finding as a JSON document: `{"diagnostics": [...]}`."""
    return json.dumps(
        {"diagnostics": [d.to_json() for d in diagnostics]}, ensure_ascii=False, indent=2
    )


def workflow_command(kind: str, message: str, **properties: object) -> str:
    """A GitHub Actions workflow command, `::error file=F,line=L,title=T::message`: the one
    place its escaping is written (`%`, CR and LF in the message; also `:` and `,` in the
    properties, as GitHub documents). Properties that are None are left out."""
    shown = ",".join(
        f"{name}={_escape_property(str(value))}"
        for name, value in properties.items()
        if value is not None
    )
    return f"::{kind}{' ' + shown if shown else ''}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """Every finding as a GitHub workflow command (`--format github`): an annotation on the
    file and line of the pull request, the help on a second line of the message."""
    lines = []
    for d in diagnostics:
        span = d.span
        message = f"{d.message}\nhelp: {d.help}" if d.help else d.message
        lines.append(
            workflow_command(
                d.severity.value,
                message,
                file=span.path,
                line=span.line,
                endLine=span.end_line,
                col=span.column,
                endColumn=span.end_column,
                title=f"{d.code} {CODES.get(d.code, '')}".rstrip(),
            )
        )
    return "".join(f"{line}\n" for line in lines)
