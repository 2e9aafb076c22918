"""Ruleset fixtures: load YAML test files, run each case through both evaluators, measure coverage.

A fixture file (`rulesets/<client>/tests/*.yaml`, format in docs/testing.md, JSON Schema in
`schemas/fixture.schema.json`) holds cases: inputs (inline records, or tables inline or by file),
an optional `as_of` and `period`, and what the case wants from the results. Table-driven cases
(one template, many `rows`) keep boundary sweeps short.

Every case runs through both evaluators: the per-record path (`evaluate_lead`, `evaluate_deal`,
`engine.plans.pay_rep`), which is the reference the wanted values are checked against, and the
table path (`Program.evaluate`, `engine.payouts`). Whenever both compute the same thing they
must agree, field by field; a disagreement is an error of the engine, reported as such, never a
test failure of the client's ruleset.

Coverage is by business concept: which criteria cases, statuses, routes, exit criteria, stale
limits, playbook requirements, tier bands, steps, curve segments, caps, thresholds,
accelerators, bonuses, KPI targets and alerts the cases exercised, each with its `file:line`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import yaml

from engine.diff import Difference, compare, native, plain, same
from engine.results import (
    ALERT_COLUMNS,
    BUDGET_COLUMNS,
    DEAL_COLUMNS,
    ERROR_COLUMNS,
    FUNNEL_COLUMNS,
    KPI_COLUMNS,
    LEAD_COLUMNS,
    MEASURE_FIELDS,
    NO_TRACE,
    PAYOUT_COLUMNS,
    Results,
    Trace,
)

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program

__all__ = [
    "STATUSES",
    "Case",
    "CaseResult",
    "Concept",
    "Coverage",
    "FixtureFile",
    "Problem",
    "Report",
    "Runner",
    "discover",
    "fixture_schema",
    "load_fixture",
    "run",
]

#: Case outcomes: passed, wanted values differ, could not run (or the engine's two paths
#: disagree), failed as expected (`xfail`), passed although expected to fail.
STATUSES = ("pass", "fail", "error", "xfail", "xpass")
#: Input keys of a case -> (input table, record name). `lead` and `deal` are one record.
INPUTS: dict[str, tuple[str, str]] = {
    "lead": ("leads", "lead"),
    "leads": ("leads", "lead"),
    "deal": ("deals", "deal"),
    "deals": ("deals", "deal"),
    "stage_events": ("stage_events", "stage_event"),
    "reps": ("reps", "rep"),
    "quotas": ("quotas", "quota"),
    "territories": ("territories", "territory"),
    "splits": ("splits", "split"),
}
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
PLACEHOLDER = r"^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$"
#: A record key that repeats the record (rate boundaries need e.g. 5 won deals of 17).
REPEAT = "_repeat"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


# ============================================================================ the JSON Schema
def fixture_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a fixture file (published in schemas/)."""
    scalar = {"type": ["string", "number", "boolean", "null"]}
    record = {
        "description": "One input record: column -> value (text, number, true/false or null).",
        "type": "object",
        "propertyNames": {"anyOf": [{"pattern": NAME}, {"pattern": PLACEHOLDER}]},
        "additionalProperties": scalar,
    }
    table = {
        "description": "An input table: a list of records, or a file (CSV, XLSX, JSON, Parquet) "
        "relative to the fixture file.",
        "oneOf": [
            {"type": "array", "items": {"$ref": "#/$defs/record"}},
            {
                "type": "object",
                "properties": {"file": {"type": "string", "minLength": 1}},
                "required": ["file"],
                "additionalProperties": False,
            },
        ],
    }

    def row(fields: Sequence[str], required: Sequence[str] = (), **more: Any) -> dict[str, Any]:
        properties: dict[str, Any] = {name: {} for name in fields}
        properties.update(more)
        found: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            found["required"] = list(required)
        return found

    def rows(item: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": item}

    def typed(kind: str, description: str) -> dict[str, Any]:
        # A typed field may also hold a `$name` a table-driven row fills in.
        return {
            "description": description,
            "anyOf": [{"type": kind}, {"$ref": "#/$defs/placeholder"}],
        }

    lead = row(
        LEAD_COLUMNS,
        points=typed("object", "criterion -> points (only those listed)"),
        missing=typed("array", "undecided criteria, in any order"),
        alerts=typed("array", "names of the alerts the lead raises (all)"),
    )
    deal = row(
        DEAL_COLUMNS,
        missing=typed("array", "unmet exit criteria of the deal's stage, in any order"),
        skipped=typed("array", "earlier stages with unmet criteria, in any order"),
        playbook_missing=typed("array", "due playbook requirements not met, in any order"),
        playbook_conflict=typed(
            "array", "the playbooks that all apply to the deal (it then gets none), in any order"
        ),
        alerts=typed("array", "names of the alerts the deal raises (all)"),
    )
    measure = row(MEASURE_FIELDS, ["measure"])
    want = row(
        (),
        lead=lead,
        leads=rows({**lead, "required": ["id"]}),
        deal=deal,
        deals=rows({**deal, "required": ["id"]}),
        funnel=rows(row(FUNNEL_COLUMNS, ["stage"])),
        kpis=rows(row(KPI_COLUMNS, ["kpi"])),
        alerts=rows(
            row(
                ALERT_COLUMNS,
                raised=typed("boolean", "false: no such alert is raised"),
            )
        ),
        errors=rows(row(ERROR_COLUMNS)),
        payouts=rows(row((*PAYOUT_COLUMNS, "paid"), ["rep_id"], measures=rows(measure))),
        budget=rows(row(BUDGET_COLUMNS, ["plan"])),
        statement=row(
            ("rep", "period"),
            ["rep", "lines"],
            lines={"type": "array", "items": {"type": "string"}, "minItems": 1},
        ),
        error={
            "type": "string",
            "minLength": 1,
            "description": "the single lead or deal is rejected with a message containing this",
        },
    )
    want["minProperties"] = 1
    defaults = {
        "description": "Record name -> values every inline record of that kind starts from.",
        "type": "object",
        "propertyNames": {"enum": sorted({record for _, record in INPUTS.values()})},
        "additionalProperties": {"$ref": "#/$defs/record"},
    }
    date = {"type": "string", "pattern": _DATE}
    case: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "note": {"type": "string"},
            "as_of": date,
            "period": {"type": "string"},
            "defaults": {"$ref": "#/$defs/defaults"},
            "xfail": {
                "type": "string",
                "minLength": 1,
                "description": "expected to fail, and why (an engine bug, with its report)",
            },
            "lead": {"$ref": "#/$defs/record"},
            "deal": {"$ref": "#/$defs/record"},
            **{name: {"$ref": "#/$defs/table"} for name in INPUTS if name not in ("lead", "deal")},
            "want": {"$ref": "#/$defs/want"},
            "columns": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                "minItems": 1,
                "uniqueItems": True,
            },
            "rows": {
                "description": "Table-driven case: one case per row, `$name` in the case "
                "replaced by the row's value (rows are mappings, or lists under `columns`).",
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [{"type": "object"}, {"type": "array"}]},
            },
        },
        "required": ["name", "want"],
        "additionalProperties": False,
        "not": {"anyOf": [{"required": ["lead", "leads"]}, {"required": ["deal", "deals"]}]},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:koncept-rules:schema:fixture",
        "title": "Ruleset fixture",
        "description": "Test cases of a client ruleset (rulesets/<client>/tests/*.yaml): inputs "
        "and the results they must give. See docs/testing.md.",
        "type": "object",
        "properties": {
            "ruleset": {
                "type": "string",
                "description": "The ruleset folder or file, relative to this file (default: the "
                "folder holding tests/).",
            },
            "as_of": date,
            "period": {"type": "string"},
            "defaults": {"$ref": "#/$defs/defaults"},
            "cases": {"type": "array", "items": {"$ref": "#/$defs/case"}, "minItems": 1},
        },
        "required": ["cases"],
        "additionalProperties": False,
        "$defs": {
            "placeholder": {
                "description": "`$name` or `${name}`: a column of a table-driven case's rows.",
                "type": "string",
                "pattern": PLACEHOLDER,
            },
            "record": record,
            "table": table,
            "defaults": defaults,
            "want": want,
            "case": case,
        },
    }


# ============================================================================ reading YAML
class _Loader(yaml.SafeLoader):
    """YAML as the fixtures mean it: dates stay text (the engine reads them), numbers with a
    fraction are exact Decimals, only true/false are booleans, a repeated key is an error."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node))
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        return loader.construct_yaml_float(node)  # .inf, .nan
    return value if value.is_finite() else float(value)


def _mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    assert isinstance(node, yaml.MappingNode)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"repeated key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a fixture file itself (not with a case's results): where and what."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Case:
    """One test case, ready to run: its inputs (records as given), dates and what it wants."""

    file: str
    line: int
    name: str
    note: str
    ruleset: Path
    inputs: Mapping[str, tuple[Mapping[str, Any], ...]]
    want: Mapping[str, Any]
    as_of: dt.date | None = None
    period: str | None = None
    xfail: str | None = None
    #: Tables given as files: input table -> path (read when the case runs).
    files: Mapping[str, Path] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """`file::name`, unique in a run."""
        return f"{self.file}::{self.name}"


@dataclass(frozen=True, slots=True)
class FixtureFile:
    """A fixture file: its cases, the ruleset they test, and what is wrong with the file."""

    path: str
    ruleset: Path
    cases: tuple[Case, ...]
    problems: tuple[Problem, ...]


def load_fixture(path: str | Path) -> FixtureFile:
    """Read and validate a fixture file; problems are located by line (never raised)."""
    path = Path(path)
    shown = _shown(path)
    default_ruleset = path.parent.parent if path.parent.name == "tests" else path.parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return FixtureFile(
            shown, default_ruleset, (), (Problem(shown, 1, f"cannot read: {reason}"),)
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error)
        return FixtureFile(
            shown, default_ruleset, (), (Problem(shown, line, f"not valid YAML: {reason}"),)
        )
    finally:
        loader.dispose()
    validator = _validator()
    problems = sorted(
        (
            Problem(shown, _line(root, list(error.absolute_path)), _schema_message(error))
            for error in validator.iter_errors(data)
        ),
        key=lambda p: (p.line, p.message),
    )
    if problems:
        return FixtureFile(shown, default_ruleset, (), tuple(_unique(problems)))
    assert isinstance(data, dict)
    ruleset = (path.parent / data["ruleset"]) if "ruleset" in data else default_ruleset
    cases: list[Case] = []
    found: list[Problem] = []
    names: dict[str, int] = {}
    for index, raw in enumerate(data["cases"]):
        for case in _expand(raw, root, index, data, shown, path, ruleset, found):
            if case.name in names:
                found.append(
                    Problem(
                        shown,
                        case.line,
                        f"case name {case.name!r} is used twice (first at line {names[case.name]})",
                    )
                )
                continue
            names[case.name] = case.line
            cases.append(case)
    return FixtureFile(shown, ruleset, tuple(cases), tuple(found))


def _validator() -> Any:
    return jsonschema.Draft202012Validator(fixture_schema())


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _line(root: yaml.Node | None, where: Sequence[str | int]) -> int:
    """The line of the value at `where` (keys and list positions) in the composed YAML."""
    node = root
    if node is None:
        return 1
    for part in where:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _schema_message(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        import difflib

        key = str(extra[0]) if extra else "?"
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f" (expected one of {', '.join(allowed)})"
        )
        return f"{where}: unknown key {key!r}{hint}"
    if error.validator == "required":
        return f"{where}: {error.message.replace('is a required property', 'is required')}"
    if error.validator == "not":
        return f"{where}: give `lead` or `leads` (`deal` or `deals`), not both"
    if error.validator == "pattern" and schema.get("pattern") == _DATE:
        return f"{where}: {error.instance!r} is not a date like 2026-03-31"
    if error.validator == "oneOf":
        return f"{where}: expected a list of records or {{file: path}}"
    if error.validator == "anyOf":
        kinds = [e for e in error.context or () if e.validator == "type"]
        if kinds:
            return _schema_message(kinds[0])
    if error.validator == "type":
        names = (
            error.validator_value
            if isinstance(error.validator_value, list)
            else [error.validator_value]
        )
        words = {"object": "a mapping", "array": "a list", "string": "text", "number": "a number",
                 "boolean": "true/false", "null": "null"}  # fmt: skip
        return f"{where}: expected {' or '.join(words.get(str(n), str(n)) for n in names)}"
    if error.validator == "minProperties" and "want" in error.absolute_path:
        return f"{where}: say what the case wants (lead, deals, payouts, error...)"
    return f"{where}: {error.message}"


# ============================================================================ table-driven cases
def _expand(
    raw: Mapping[str, Any],
    root: yaml.Node | None,
    index: int,
    data: Mapping[str, Any],
    shown: str,
    path: Path,
    ruleset: Path,
    problems: list[Problem],
) -> Iterator[Case]:
    """One case, or one per row of a table-driven case."""
    line = _line(root, ["cases", index])
    if "rows" not in raw:
        yield from _case(raw, data, shown, path, ruleset, line, problems)
        return
    columns = raw.get("columns")
    template = {k: v for k, v in raw.items() if k not in ("rows", "columns")}
    for number, row in enumerate(raw["rows"]):
        row_line = _line(root, ["cases", index, "rows", number])
        if isinstance(row, list):
            if columns is None or len(row) != len(columns):
                size = "no `columns`" if columns is None else f"{len(columns)} columns"
                problems.append(
                    Problem(shown, row_line, f"row has {len(row)} values, case has {size}")
                )
                continue
            values = dict(zip(columns, row, strict=True))
        else:
            values = {str(k): v for k, v in row.items()}
        try:
            filled = _substitute(template, values)
            invalid = [
                f"row {number + 1}: {_schema_message(e)}"
                for e in _validator().iter_errors({"cases": [filled]})
            ]
        except KeyError as error:
            problems.append(
                Problem(shown, row_line, f"${error.args[0]} is not a column of this row")
            )
            continue
        except ValueError as error:
            problems.append(Problem(shown, row_line, str(error)))
            continue
        if invalid:
            problems.extend(Problem(shown, row_line, message) for message in invalid)
            continue
        if filled["name"] == template["name"]:
            shown_values = ", ".join(f"{k}={plain(v)}" for k, v in values.items())
            filled["name"] = f"{template['name']} [{shown_values}]"
        yield from _case(filled, data, shown, path, ruleset, row_line, problems)


_WHOLE = re.compile(PLACEHOLDER)


def _substitute(value: Any, row: Mapping[str, Any]) -> Any:
    """`$name` replaced by the row's value: typed when it is the whole text, else as text."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return row[value.strip("${}")]
        if "$" not in value:
            return value
        try:
            texts = {k: "null" if v is None else str(plain(v)) for k, v in row.items()}
            return Template(value).substitute(texts)
        except ValueError:
            raise ValueError(
                f"bad placeholder in {value!r} (write $name or ${{name}}; $$ for $)"
            ) from None
    if isinstance(value, Mapping):
        return {_substitute(k, row): _substitute(v, row) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, row) for v in value]
    return value


def _case(
    raw: Mapping[str, Any],
    data: Mapping[str, Any],
    shown: str,
    path: Path,
    ruleset: Path,
    line: int,
    problems: list[Problem],
) -> Iterator[Case]:
    name = str(raw["name"])
    defaults: dict[str, dict[str, Any]] = {}
    for source in (data.get("defaults") or {}, raw.get("defaults") or {}):
        for record, values in source.items():
            defaults[record] = {**defaults.get(record, {}), **values}
    inputs: dict[str, tuple[Mapping[str, Any], ...]] = {}
    files: dict[str, Path] = {}
    for key, (table, record) in INPUTS.items():
        if key not in raw:
            continue
        given = raw[key]
        if isinstance(given, Mapping) and "file" in given and key not in ("lead", "deal"):
            files[table] = path.parent / str(given["file"])
            continue
        records = [given] if key in ("lead", "deal") else list(given)
        base = defaults.get(record, {})
        filled: list[dict[str, Any]] = []
        for item in records:
            one = {**base, **item}
            count = one.pop(REPEAT, 1)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                problems.append(Problem(shown, line, f"{REPEAT} takes a whole number from 0"))
                return
            if REPEAT in item:
                filled.extend(_repeated(one, count))
            else:
                filled.append(one)
        if key in ("lead", "deal"):
            filled[0].setdefault("id", "L1" if key == "lead" else "D1")
        inputs[table] = tuple(filled)
    want = dict(raw["want"])
    single = {"lead": "leads", "deal": "deals"}
    for key, table in single.items():
        if key in want and table not in inputs and table not in files:
            problems.append(Problem(shown, line, f"want.{key} needs a `{key}` to evaluate"))
            return
    if "error" in want and len(inputs.get("leads", ())) + len(inputs.get("deals", ())) != 1:
        problems.append(Problem(shown, line, "want.error needs exactly one `lead` or `deal`"))
        return
    as_of_text = raw.get("as_of", data.get("as_of"))
    try:
        as_of = dt.date.fromisoformat(as_of_text) if as_of_text else None
    except ValueError:
        problems.append(Problem(shown, line, f"as_of {as_of_text!r} is not a date"))
        return
    period = raw.get("period", data.get("period"))
    yield Case(
        shown,
        line,
        name,
        str(raw.get("note", "")).strip(),
        ruleset,
        inputs,
        want,
        as_of,
        None if period is None else str(period),
        raw.get("xfail"),
        files,
    )


def _repeated(record: Mapping[str, Any], count: int) -> Iterator[dict[str, Any]]:
    """`_repeat: N`: N copies of a record (0: none), `id`, `deal_id` and `rep_id` suffixed -1..-N
    (so repeated reps, their quotas and their deals still match one to one)."""
    for number in range(1, count + 1):
        copy = dict(record)
        for name in ("id", "deal_id", "rep_id"):
            if copy.get(name) is not None:
                copy[name] = f"{copy[name]}-{number}"
        yield copy


# ============================================================================ discovery
def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Fixture files under the paths: `*.yaml` / `*.yml` files in `tests/` folders (a file named
    directly is taken as it is). Hidden folders and virtual environments are skipped."""
    found: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(_walk(path))
        else:
            problems.append(Problem(str(path), 1, "no such file or folder"))
    return sorted(dict.fromkeys(found)), problems


def is_fixture_path(path: Path) -> bool:
    """Whether a path looks like a fixture file: YAML in a `tests/` folder of a ruleset."""
    return (
        path.suffix in (".yaml", ".yml")
        and path.parent.name == "tests"
        and any(path.parent.parent.glob("*.krl"))
    )


def _walk(folder: Path) -> Iterator[Path]:
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS and d != "venv"
        )
        for name in sorted(files):
            path = Path(here) / name
            if is_fixture_path(path):
                yield path


# ============================================================================ running
@dataclass(frozen=True, slots=True)
class CaseResult:
    """What happened to one case: status, the differences (fail) or the message (error)."""

    case: Case
    status: str
    differences: tuple[Difference, ...] = ()
    message: str = ""
    duration: float = 0.0
    hits: frozenset[tuple[tuple[str, ...], str]] = frozenset()

    @property
    def ok(self) -> bool:
        """Whether the run may succeed with this case (pass, xfail or xpass)."""
        return self.status in ("pass", "xfail", "xpass")


class EngineError(Exception):
    """The per-record and the table path disagree: a bug of the engine, not of the ruleset."""


class Runner:
    """Runs cases; loads each ruleset once. `programs` overrides the ruleset of a folder
    (the mutation script runs the fixtures against mutated rulesets this way)."""

    def __init__(self, programs: Mapping[Path, Program] | None = None) -> None:
        self._programs: dict[Path, Program | str] = {
            path.resolve(): program for path, program in (programs or {}).items()
        }
        self._tracers: dict[int, _Tracer] = {}

    def program(self, ruleset: Path) -> Program | str:
        """The compiled ruleset, or the rendered diagnostics when it cannot be loaded."""
        key = ruleset.resolve()
        if key not in self._programs:
            from engine.loader import RulesetError, load

            try:
                self._programs[key] = load(ruleset)
            except RulesetError as error:
                self._programs[key] = "the ruleset does not load:\n" + error.render().rstrip()
        return self._programs[key]

    def run(self, case: Case, *, trace: bool = False) -> CaseResult:
        """Run one case through both evaluators and check what it wants."""
        start = time.perf_counter()
        program = self.program(case.ruleset)
        if isinstance(program, str):
            return self._done(case, "error", message=program, start=start)
        try:
            got, hits = self._evaluate(program, case, trace)
        except EngineError as error:
            return self._done(case, "error", message=f"engine error: {error}", start=start)
        except _InputError as error:
            return self._done(case, "error", message=str(error), start=start)
        except Exception as error:  # the engine crashed: an error, with where it crashed
            where = traceback.extract_tb(error.__traceback__)[-1]
            return self._done(
                case,
                "error",
                message=f"engine crashed: {type(error).__name__}: {error} "
                f"({Path(where.filename).name}:{where.lineno})",
                start=start,
            )
        differences = tuple(check(case.want, got))
        status = "fail" if differences else "pass"
        return self._done(case, status, differences, start=start, hits=hits)

    def _done(
        self,
        case: Case,
        status: str,
        differences: tuple[Difference, ...] = (),
        *,
        message: str = "",
        start: float,
        hits: frozenset[tuple[tuple[str, ...], str]] = frozenset(),
    ) -> CaseResult:
        if case.xfail is not None:
            status = "xpass" if status == "pass" else "xfail"
        return CaseResult(case, status, differences, message, time.perf_counter() - start, hits)

    # ------------------------------------------------------------------ evaluation
    def _evaluate(
        self, program: Program, case: Case, trace: bool
    ) -> tuple[dict[str, Any], frozenset[tuple[tuple[str, ...], str]]]:
        as_of = case.as_of or dt.date.today()
        records = dict(case.inputs)
        frames: dict[str, pd.DataFrame] = {}
        for table, rows in records.items():
            frames[table] = _frame(rows)
        for table, file in case.files.items():
            from engine.data import DataError, read_table

            try:
                frames[table] = read_table(file)
            except DataError as error:
                raise _InputError(f"cannot read {table}: {error}") from None
            records[table] = tuple(_frame_records(frames[table]))
        results = program.evaluate(
            leads=frames.get("leads"),
            deals=frames.get("deals"),
            stage_events=frames.get("stage_events"),
            reps=frames.get("reps"),
            quotas=frames.get("quotas"),
            territories=frames.get("territories"),
            splits=frames.get("splits"),
            as_of=as_of,
            period=case.period,
        )
        got: dict[str, Any] = {}
        tracer = self._tracer(program) if trace else None
        hits: set[tuple[tuple[str, ...], str]] = set()
        leads, lead_errors = _leads(program, records.get("leads", ()), results, tracer, hits)
        has_history = "stage_events" in records
        deals, deal_errors = _deals(
            program, records.get("deals", ()), results, as_of, has_history, tracer, hits
        )
        got["leads"], got["deals"] = leads, deals
        got["record_errors"] = {**lead_errors, **deal_errors}
        got["funnel"] = _rows(results.funnel)
        got["kpis"] = _rows(results.kpis)
        got["alerts"], got["errors"] = _rows(results.alerts), _rows(results.errors)
        got["payouts"], got["budget"] = [], []
        if "reps" in frames and program.model.plans:
            got["payouts"] = self._pay(program, frames, results, case, tracer, hits)
            got["budget"] = _rows(results.budget)
            if tracer is not None:
                tracer.budget(got["budget"], hits)
        if "statement" in case.want:
            got["statement"] = self._statement(program, frames, case)
        if tracer is not None:
            tracer.tables(got, records.get("deals", ()), hits)
        return got, frozenset(hits)

    def _tracer(self, program: Program) -> _Tracer:
        found = self._tracers.get(id(program))
        if found is None:
            found = self._tracers[id(program)] = _Tracer(program)
        return found

    def _pay(
        self,
        program: Program,
        frames: Mapping[str, pd.DataFrame],
        results: Results,
        case: Case,
        tracer: _Tracer | None,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> list[dict[str, Any]]:
        """Payouts of the per-record path, rep by rep, checked equal to the table path's."""
        from engine.pay.format import payout_row
        from engine.pay.reference import pay_everyone
        from engine.periods import parse_period

        inputs = program.validate(
            **{k: v for k, v in frames.items() if k not in ("leads", "splits")}
        )
        territories = {str(t["id"]): t for t in inputs.records("territories")}
        found, _ = pay_everyone(
            program.book,
            program.compiled,
            reps=inputs.records("reps"),
            deals=inputs.records("deals"),
            quotas=inputs.records("quotas"),
            territories=territories,
            splits=_frame_records(frames.get("splits")),
            stage_events=inputs.records("stage_events"),
            period=parse_period(case.period) if case.period else None,
        )
        reference: dict[tuple[str, str, str], dict[str, Any]] = {}
        for payment in found:
            paid = payment.outcome.payout
            if paid is None:
                continue
            if tracer is not None:
                tracer.payout(paid, hits)
            reference[(paid.rep_id, paid.plan, paid.period)] = plain(payout_row(paid))
        vector = {
            (str(r["rep_id"]), str(r["plan"]), str(r["period"])): plain(r)
            for r in _rows(results.payouts)
        }
        for key in sorted(set(reference) | set(vector)):
            one, other = reference.get(key), vector.get(key)
            if one is None or other is None or one != other:
                raise EngineError(
                    f"payouts of {' '.join(key)}: per-record path {_brief(one)}, "
                    f"table path {_brief(other)}"
                )
        return [reference[key] for key in sorted(reference)]

    def _statement(
        self, program: Program, frames: Mapping[str, pd.DataFrame], case: Case
    ) -> dict[str, Any]:
        from engine.statement import build_statement

        wanted = case.want["statement"]
        period = str(wanted.get("period") or case.period or "")
        if not period:
            raise _InputError("want.statement needs a period (on the case or the statement)")
        statement = build_statement(program, dict(frames), str(wanted["rep"]), period)
        return {"rep": wanted["rep"], "period": period, "text": statement.text}


class _InputError(Exception):
    """A case whose inputs cannot be used (a table file that cannot be read...)."""


def _brief(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "no row"
    measures = "; ".join(f"{m['measure']} {m['payout']}" for m in row.get("measures", ()))
    return f"{row['payout']} ({measures})"


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Inline records as a table of text cells, as a CSV export would give them."""
    import pandas as pd

    columns = list(dict.fromkeys(key for row in rows for key in row))
    data = [[_text(row.get(c)) for c in columns] for row in rows]
    return pd.DataFrame(data, columns=columns, dtype=object)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _frame_records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    names = [str(c) for c in frame.columns]
    return [
        {name: native(value) for name, value in zip(names, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _frame_records(frame)


def _ids(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = _text(record.get("id"))
        if key is not None:
            counts[key.strip()] = counts.get(key.strip(), 0) + 1
    return counts


def _per_record(
    kind: str,
    program: Program,
    evaluate: Callable[[Mapping[str, Any]], tuple[Any, Trace]],
    records: Sequence[Mapping[str, Any]],
    results: Any,
    compared: tuple[str, ...],
    compare_alerts: bool,
) -> tuple[list[tuple[Mapping[str, Any], str, Any, dict[str, Any], Any, Trace]], dict[str, str]]:
    """Run each record through the per-record path and check it against the table path.

    Returns (record, id, result, wanted-shaped fields, table row) for every record the
    per-record path accepts, and the reasons of those it rejects. A record whose id is unique
    must be accepted or rejected by both paths alike, with the same `compared` fields.
    """
    from engine.record import RecordError

    columns = LEAD_COLUMNS if kind == "lead" else DEAL_COLUMNS
    table = {str(r["id"]): r for r in _rows(getattr(results, f"{kind}s"))}
    rejected = _rejected(results, f"{kind}s", records)
    alerts = _alerts_by_id(results)
    counts = _ids(records)
    accepted: list[tuple[Mapping[str, Any], str, Any, dict[str, Any], Any, Trace]] = []
    errors: dict[str, str] = {}
    for record in records:
        key = (_text(record.get("id")) or "").strip()
        try:
            one, trace = evaluate(record)
        except RecordError as error:
            errors[key] = str(error)
            if counts.get(key) == 1 and key not in rejected:
                raise EngineError(
                    f"{kind} {key}: the per-record path rejects it ({error}), the table path "
                    "accepts it"
                ) from None
            continue
        got = {name: getattr(one, name) for name in columns}
        got["alerts"] = list(one.alerts)
        row = None
        if counts.get(key) == 1:
            if key in rejected:
                raise EngineError(
                    f"{kind} {key}: the table path rejects it ({rejected[key]}), the per-record "
                    "path accepts it"
                )
            row = table.get(key)
            _same_row(kind, key, got, row, compared)
            if compare_alerts:
                _same_alerts(kind, key, one.alerts, alerts.get(key, ()), program)
        accepted.append((record, key, one, got, row, trace))
    return accepted, errors


def _leads(
    program: Program,
    records: Sequence[Mapping[str, Any]],
    results: Any,
    tracer: _Tracer | None,
    hits: set[tuple[tuple[str, ...], str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Lead results of the per-record path by id, checked against the table path."""
    evaluate = program.trace_lead if tracer is not None else _untraced(program.evaluate_lead)
    accepted, errors = _per_record("lead", program, evaluate, records, results, LEAD_COLUMNS, True)
    found: dict[str, dict[str, Any]] = {}
    for _, key, one, got, _, trace in accepted:
        found[key] = got
        if tracer is not None:
            tracer.lead(one, trace, hits)
    return found, errors


def _untraced(
    evaluate: Callable[[Mapping[str, Any]], Any],
) -> Callable[[Mapping[str, Any]], tuple[Any, Trace]]:
    return lambda record: (evaluate(record), NO_TRACE)


def _deals(
    program: Program,
    records: Sequence[Mapping[str, Any]],
    results: Any,
    as_of: dt.date,
    has_history: bool,
    tracer: _Tracer | None,
    hits: set[tuple[tuple[str, ...], str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Deal results of the per-record path by id, checked against the table path (which alone
    reads stage events: with events, fields the history changes are not compared)."""
    history_fields = ("days_in_stage", "stale")
    fields = tuple(f for f in DEAL_COLUMNS if not (has_history and f in history_fields))
    if tracer is not None:
        evaluate = lambda record: program.trace_deal(record, as_of)  # noqa: E731
    else:
        evaluate = _untraced(lambda record: program.evaluate_deal(record, as_of))
    accepted, errors = _per_record(
        "deal", program, evaluate, records, results, fields, not has_history
    )
    found: dict[str, dict[str, Any]] = {}
    for record, key, one, got, row, trace in accepted:
        if has_history and row is not None:
            # The table path knows the history: its days in stage are the reference then.
            got.update({name: row[name] for name in history_fields})
        found[key] = got
        if tracer is not None:
            tracer.deal(record, one, trace, hits)
    return found, errors


def _rejected(results: Any, table: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Ids of the rows the table path left out, with the first reason (rows are numbered 1..)."""
    found: dict[str, str] = {}
    for error in _rows(results.errors):
        if error["table"] != table or error["row"] is None:
            continue
        position = int(error["row"]) - 1
        if 0 <= position < len(records):
            key = (_text(records[position].get("id")) or "").strip()
            found.setdefault(key, f"{error['column']}: {error['message']}")
    return found


def _alerts_by_id(results: Any) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for row in _rows(results.alerts):
        if row["kind"] == "alert" and row["id"] is not None:
            found.setdefault(str(row["id"]), []).append(str(row["subject"]))
    return {key: tuple(value) for key, value in found.items()}


def _same_row(
    subject: str,
    key: str,
    one: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    fields: Sequence[str],
) -> None:
    if row is None:
        raise EngineError(f"{subject} {key}: the table path has no result for it")
    for name in fields:
        mine, theirs = plain(one[name]), plain(row[name])
        if mine != theirs or type(mine) is not type(theirs):
            raise EngineError(
                f"{subject} {key}: {name} is {mine!r} by the per-record path, {theirs!r} by the "
                "table path"
            )


def _same_alerts(
    subject: str,
    key: str,
    mine: Sequence[str],
    theirs: Sequence[str],
    program: Program,
) -> None:
    if sorted(mine) != sorted(theirs):
        raise EngineError(
            f"{subject} {key}: alerts {list(mine)} by the per-record path, {list(theirs)} by "
            "the table path"
        )


# ============================================================================ wanted vs got
def check(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    """Every difference between what a case wants and what the engine gave."""
    for key, wanted in want.items():
        if isinstance(wanted, list) and not wanted and key not in ("alerts", "errors"):
            # An empty list wants no rows at all (a subset of nothing would check nothing).
            rows = list(got[key].values()) if isinstance(got.get(key), Mapping) else got[key]
            if rows:
                yield Difference(key, [], rows, "the case wants no rows")
            continue
        if key in ("lead", "deal"):
            table = got[f"{key}s"]
            rejected = got["record_errors"]
            if len(table) == 1:
                yield from compare(wanted, next(iter(table.values())), key)
            else:
                message = next(iter(rejected.values()), "no result")
                yield Difference(key, wanted, None, f"rejected: {message}")
        elif key in ("leads", "deals"):
            for item in wanted:
                ident = str(item["id"])
                label = f"{key}[{ident}]"
                if ident in got[key]:
                    yield from compare(item, got[key][ident], label)
                else:
                    why = got["record_errors"].get(ident)
                    yield Difference(label, item, None, f"rejected: {why}" if why else "no such id")
        elif key == "error":
            messages = list(got["record_errors"].values())
            if not messages or str(wanted) not in messages[0]:
                yield Difference(
                    "error",
                    wanted,
                    messages[0] if messages else None,
                    "the message does not say it" if messages else "the record is accepted",
                )
        elif key == "funnel":
            yield from _keyed(key, wanted, got[key], ("stage",))
        elif key == "kpis":
            yield from _kpis(wanted, got[key])
        elif key == "payouts":
            yield from _keyed(key, wanted, got[key], ("rep_id", "plan", "period"))
        elif key == "budget":
            yield from _keyed(key, wanted, got[key], ("plan", "period"))
        elif key == "alerts":
            yield from _alerts(wanted, got[key])
        elif key == "errors":
            yield from _errors(wanted, got[key])
        elif key == "statement":
            yield from _statement(wanted, got[key])


def _keyed(
    name: str,
    wanted: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
) -> Iterator[Difference]:
    for item in wanted:
        given = [k for k in keys if k in item]
        label = f"{name}[{' '.join(str(plain(item[k])) for k in given)}]"
        matches = [r for r in rows if all(same(item[k], r.get(k)) for k in given)]
        if not matches:
            yield Difference(label, item, None, "no such row")
        elif len(matches) > 1:
            missing = [k for k in keys if k not in item]
            yield Difference(
                label,
                item,
                None,
                f"{len(matches)} rows match: give {' and '.join(missing)}",
            )
        else:
            yield from compare(item, matches[0], label)


def _kpis(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    for item in wanted:
        rep = item.get("rep_id")
        who = f"rep {rep}" if rep is not None else "team"
        label = f"kpis[{item['kpi']}{' ' + str(item['role']) if 'role' in item else ''} {who}]"
        matches = [
            r
            for r in rows
            if same(item["kpi"], r["kpi"])
            and ("role" not in item or same(item["role"], r["role"]))
            and same(rep, r["rep_id"])
        ]
        if not matches:
            yield Difference(label, item, None, "no such row")
        for row in matches:
            yield from compare(item, row, label)


def _matches(item: Mapping[str, Any], row: Mapping[str, Any], text: Sequence[str]) -> bool:
    for key, value in item.items():
        if key == "raised":
            continue
        if key in text and isinstance(value, str) and row.get(key) is not None:
            if value not in str(row[key]):
                return False
        elif not same(value, row.get(key)):
            return False
    return True


def _alerts(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    for index, item in enumerate(wanted):
        raised = item.get("raised", True)
        label = f"alerts[{item.get('subject', index)}]"
        found = [r for r in rows if _matches(item, r, ("message",))]
        if raised and not found:
            near = [r for r in rows if same(item.get("subject"), r.get("subject"))]
            yield Difference(label, item, near or rows or None, "not raised")
        elif not raised and found:
            yield Difference(label, item, found, "raised, but the case wants it not raised")


def _errors(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    free = list(rows)
    for index, item in enumerate(wanted):
        match = next((r for r in free if _matches(item, r, ("message",))), None)
        if match is None:
            yield Difference(f"errors[{index}]", item, free or None, "no such error")
        else:
            free.remove(match)
    for row in free:
        yield Difference("errors[+]", None, row, "an error the case does not want")


def _statement(wanted: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    text = str(got["text"])
    lines = [line.strip() for line in text.splitlines()]
    position = 0
    for line in wanted["lines"]:
        target = " ".join(str(line).split())
        found = next(
            (i for i in range(position, len(lines)) if " ".join(lines[i].split()) == target),
            None,
        )
        if found is None:
            yield Difference(
                f"statement[{got['rep']} {got['period']}]",
                "\n".join(wanted["lines"]),
                text,
                f"line not found (in order): {target}",
            )
            return
        position = found + 1


# ============================================================================ coverage
@dataclass(frozen=True, slots=True)
class Concept:
    """A business concept of a ruleset that fixtures should exercise, and the outcomes needed
    (an exit criterion must be seen met and unmet, a band reached...)."""

    key: tuple[str, ...]
    kind: str
    text: str
    path: str
    line: int
    outcomes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """Concept coverage of one ruleset: what is covered, and what is not (with the outcomes
    still missing)."""

    ruleset: str
    concepts: tuple[Concept, ...]
    missing: Mapping[tuple[str, ...], tuple[str, ...]]

    @property
    def total(self) -> int:
        """Number of concepts."""
        return len(self.concepts)

    @property
    def covered(self) -> int:
        """Concepts with every outcome seen."""
        return self.total - len(self.missing)

    @property
    def percent(self) -> float:
        """Covered share, in percent (100 for a ruleset without concepts)."""
        return 100.0 if not self.total else 100.0 * self.covered / self.total

    def uncovered(self) -> list[tuple[Concept, tuple[str, ...]]]:
        """Concepts not fully covered, by file and line, with the outcomes never seen."""
        return [(c, self.missing[c.key]) for c in self.concepts if c.key in self.missing]


def catalog(program: Program) -> tuple[Concept, ...]:
    """Every concept of a ruleset, in file and line order."""
    from dsl import nodes as n

    model = program.model
    found: list[Concept] = []
    sources: dict[str, list[str]] = {}

    def text(span: Any) -> str:
        """The source text of a span's first line (what the reader sees at file:line)."""
        if span.path not in sources:
            try:
                sources[span.path] = Path(span.path).read_text(encoding="utf-8").splitlines()
            except OSError:
                sources[span.path] = []
        lines = sources[span.path]
        line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        end = span.end_column - 1 if span.end_line == span.line else len(line)
        return " ".join(line[span.column - 1 : end].split()) or line.strip()

    def add(key: tuple[str, ...], kind: str, node: Any, outcomes: tuple[str, ...],
            shown: str) -> None:  # fmt: skip
        found.append(Concept(key, kind, shown, node.span.path, node.span.line, outcomes))

    both, reached = ("met", "unmet"), ("reached", "not reached")
    for score in model.scores.values():
        name = score.name.name
        for criterion in score.criteria:
            cname = criterion.name.name
            if isinstance(criterion, n.FieldCriterion):
                add(("field", name, cname), "criterion", criterion, ("scored",),
                    f"{name}: {text(criterion.span)}")  # fmt: skip
                continue
            for j, case in enumerate(criterion.cases):
                add(("case", name, cname, str(j)), "criterion case", case, ("matched",),
                    f"{name}.{cname}: {text(case.span)}")  # fmt: skip
        for status in score.statuses:
            add(("status", name, status.name.name), "status", status, ("given",),
                f"{name}: {text(status.span)}")  # fmt: skip
    for subject, qualify in model.qualifications.items():
        for i, route in enumerate(qualify.routes):
            add(("route", subject, str(i)), "route", route, ("chosen",),
                f"qualify {subject}: {text(route.span)}")  # fmt: skip
    for pipeline in model.pipelines.values():
        for entry in pipeline.items:
            if isinstance(entry, n.ExpectConversion):
                add(("conversion", entry.source.name, entry.target.name), "expectation", entry,
                    both, text(entry.span))  # fmt: skip
                continue
            stage = entry.name.name
            for part in entry.items:
                if isinstance(part, n.ExitCriterion):
                    add(("exit", stage, part.name.name), "exit criterion", part, both,
                        f"{stage}: exit {part.name.name}")  # fmt: skip
                elif isinstance(part, n.MaxDays):
                    add(("max_days", stage), "max days", part, ("stale", "not stale"),
                        f"{stage}: {text(part.span)}")  # fmt: skip
    for playbook in model.playbooks.values():
        pname = playbook.name.name
        add(("playbook", pname), "playbook", playbook, ("applied",), f"playbook {pname}")
        for item in playbook.items:
            if isinstance(item, n.Requirement):
                add(("require", pname, item.name.name), "playbook requirement", item, both,
                    f"{pname}: {item.kind} {item.name.name}")  # fmt: skip
            else:
                add(("win_rate", pname), "expectation", item, ("inside", "outside"),
                    f"{pname}: {text(item.span)}")  # fmt: skip
    for kpi in model.kpis.values():
        kname = kpi.name.name
        if kpi.target is not None:
            add(("kpi", kname), "kpi target", kpi, both, f"{kname}: {text(kpi.target.span)}")
        else:
            add(("kpi", kname), "kpi", kpi, ("computed",), kname)
    for alert in model.alerts.values():
        add(("alert", alert.name.name), "alert", alert, ("raised",), f"alert {alert.name.name}")
    for plan in model.plans.values():
        pname = plan.name.name
        for plan_item in plan.items:
            if isinstance(plan_item, n.Cap):
                add(("plan_cap", pname), "cap", plan_item, reached,
                    f"{pname}: {text(plan_item.span)}")  # fmt: skip
            elif isinstance(plan_item, n.BudgetGuardrail):
                add(("guardrail", pname), "cap", plan_item, ("over", "under"),
                    f"{pname}: {text(plan_item.span)}")  # fmt: skip
        for measure in plan.measures:
            mkey = (pname, measure.name.name)
            where = f"{pname}.{measure.name.name}"
            for part_ in measure.items:
                shown = f"{where}: {text(part_.span)}"
                if isinstance(part_, n.Commission):
                    add(("commission", *mkey), "commission", part_, ("paid",), shown)
                elif isinstance(part_, n.PerUnit):
                    add(("per_unit", *mkey), "per unit", part_, ("paid",), shown)
                elif isinstance(part_, (n.Rates, n.Steps)):
                    kind = "step" if isinstance(part_, n.Steps) else "tier band"
                    for i, band in enumerate(part_.bands):
                        add(("band", *mkey, str(i)), kind, band, ("reached",),
                            f"{where}: {text(band.span)}")  # fmt: skip
                elif isinstance(part_, n.Curve):
                    for i, point in enumerate(part_.points):
                        add(("curve", *mkey, str(i)), "curve segment", point, ("reached",),
                            f"{where}: {text(point.span)}")  # fmt: skip
                elif isinstance(part_, n.Threshold):
                    add(("threshold", *mkey), "threshold", part_, reached, shown)
                elif isinstance(part_, n.Accelerator):
                    add(("accelerator", *mkey), "accelerator", part_, reached, shown)
                elif isinstance(part_, n.Cap):
                    add(("cap", *mkey), "cap", part_, reached, shown)
                elif isinstance(part_, n.Bonus):
                    add(("bonus", *mkey), "bonus", part_, ("won", "not won"), shown)
    found.sort(key=lambda c: (c.path, c.line))
    return tuple(found)


def coverage(
    ruleset: str, program: Program, hits: Iterable[tuple[tuple[str, ...], str]]
) -> Coverage:
    """Concept coverage of a ruleset from the hits of the cases run on it."""
    seen: dict[tuple[str, ...], set[str]] = {}
    for key, outcome in hits:
        seen.setdefault(key, set()).add(outcome)
    concepts = catalog(program)
    missing = {
        c.key: tuple(o for o in c.outcomes if o not in seen.get(c.key, set())) for c in concepts
    }
    return Coverage(ruleset, concepts, {k: v for k, v in missing.items() if v})


class _Tracer:
    """Records which concepts one evaluation exercised, from what the evaluators report: the
    per-record path's traces (route, case of each criterion, playbook items due), results
    (status, exits, staleness) and the payout parts (band, curve point, threshold...)."""

    def __init__(self, program: Program) -> None:
        self.compiled = program.compiled
        self.qualified = frozenset(program.model.qualifications)

    def _score(
        self,
        subject: str,
        trace: Trace,
        status: str | None,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        score = trace.score
        if score is None:
            return
        if trace.route is not None and subject in self.qualified:
            hits.add((("route", subject, str(trace.route)), "chosen"))
        for criterion in self.compiled.scores[score].criteria:
            case = trace.cases.get(criterion.name)
            if case is None or case < 0:
                continue
            if criterion.field is not None:
                hits.add((("field", score, criterion.name), "scored"))
            else:
                hits.add((("case", score, criterion.name, str(case)), "matched"))
        if status is not None:
            hits.add((("status", score, status), "given"))

    def lead(self, one: Any, trace: Trace, hits: set[tuple[tuple[str, ...], str]]) -> None:
        """Route, criteria cases and status of one lead."""
        self._score("lead", trace, one.status, hits)

    def deal(
        self,
        record: Mapping[str, Any],
        one: Any,
        trace: Trace,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        """Route, qualification cases and status, exits, stale, playbook of one deal."""
        self._score("deal", trace, one.qualification_status, hits)
        stage = self.compiled.stages.get(one.stage) if one.stage else None
        if stage is not None:
            for exit_ in stage.exits:
                met = "unmet" if exit_.name in one.missing else "met"
                hits.add((("exit", stage.name, exit_.name), met))
            is_open = (_text(record.get("status")) or "").strip() == "open"
            if stage.max_days is not None and one.stale is not None and is_open:
                hits.add((("max_days", stage.name), "stale" if one.stale else "not stale"))
        if one.playbook is not None:
            hits.add((("playbook", one.playbook), "applied"))
            for item, done in trace.items.items():
                hits.add((("require", one.playbook, item), "met" if done else "unmet"))

    def payout(self, paid: Any, hits: set[tuple[tuple[str, ...], str]]) -> None:
        """Bands, steps, curve points, thresholds, accelerators, bonuses and caps of a payout,
        as its parts name them."""
        plan = paid.plan
        if paid.plan_cap is not None:
            hits.add((("plan_cap", plan), "reached" if paid.cap_adjustment else "not reached"))
        for line in paid.measures:
            key = (plan, line.measure)
            for part in line.parts:
                kind = part.kind
                reached = "reached" if part.reached else "not reached"
                if part.band is not None:
                    # The band that applied (under a closed gate: the one the value lies in).
                    hits.add((("band", *key, str(part.band.index)), "reached"))
                if kind in ("commission", "per_unit") and part.base:
                    hits.add(((kind, *key), "paid"))
                elif kind == "curve" and part.point is not None:
                    hits.add((("curve", *key, str(part.point)), "reached"))
                elif kind in ("gate", "floor"):
                    hits.add((("threshold", *key), reached))
                elif kind in ("accelerator", "cap"):
                    hits.add(((kind, *key), reached))
                elif kind == "bonus":
                    hits.add((("bonus", *key), "won" if part.reached else "not won"))

    def budget(
        self, rows: Sequence[Mapping[str, Any]], hits: set[tuple[tuple[str, ...], str]]
    ) -> None:
        """Budget guardrails over or under."""
        for row in rows:
            if row.get("guardrail") is not None and row.get("budget") is not None:
                hits.add((("guardrail", str(row["plan"])), "over" if row["alert"] else "under"))

    def tables(
        self,
        got: Mapping[str, Any],
        deals: Sequence[Mapping[str, Any]],
        hits: set[tuple[tuple[str, ...], str]],
    ) -> None:
        """Concepts only the table path shows: conversion expectations, win rates, KPIs,
        alerts."""
        alerts = got["alerts"]
        raised = {(a["kind"], str(a["subject"])) for a in alerts}
        for kind, subject in raised:
            if kind == "alert":
                hits.add((("alert", subject), "raised"))
        for lead in got["leads"].values():
            for name in lead.get("alerts", ()):
                hits.add((("alert", name), "raised"))
        for deal in got["deals"].values():
            for name in deal.get("alerts", ()):
                hits.add((("alert", name), "raised"))
        reached = {row["stage"]: row["reached"] for row in got["funnel"]}
        for pipeline in self.compiled.pipelines.values():
            for expect in pipeline.expectations:
                subject = f"{expect.source}->{expect.target}"
                if ("conversion", subject) in raised:
                    hits.add((("conversion", expect.source, expect.target), "unmet"))
                elif reached.get(expect.source):
                    hits.add((("conversion", expect.source, expect.target), "met"))
        statuses = {str(d.get("id")): d.get("status") for d in deals}
        for playbook in self.compiled.playbooks:
            if playbook.win_rate is None:
                continue
            closed = [
                key
                for key, deal in got["deals"].items()
                if deal["playbook"] == playbook.name and statuses.get(key) in ("won", "lost")
            ]
            if ("win_rate", playbook.name) in raised:
                hits.add((("win_rate", playbook.name), "outside"))
            elif closed:
                hits.add((("win_rate", playbook.name), "inside"))
        for row in got["kpis"]:
            key = ("kpi", str(row["kpi"]))
            if row["met"] is True:
                hits.add((key, "met"))
            elif row["met"] is False:
                hits.add((key, "unmet"))
            if row["value"] is not None:
                hits.add((key, "computed"))


# ============================================================================ a whole run
@dataclass(frozen=True, slots=True)
class Report:
    """The results of a run: every case, the fixture files' problems, coverage per ruleset."""

    results: tuple[CaseResult, ...]
    problems: tuple[Problem, ...]
    coverage: tuple[Coverage, ...] = ()
    files: int = 0
    duration: float = 0.0

    def count(self, status: str) -> int:
        """Number of cases with this status."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        """No failed or errored case and no problem in a fixture file."""
        return not self.problems and all(r.ok for r in self.results)


def matches(case: Case, pattern: str | None) -> bool:
    """Whether `-k PATTERN` selects the case: every word of the pattern appears in its id
    (case-insensitive); a word starting with `-` must not."""
    if not pattern:
        return True
    text = case.id.lower()
    for word in pattern.lower().split():
        if word.startswith("-") and len(word) > 1:
            if word[1:] in text:
                return False
        elif word not in text:
            return False
    return True


def run(
    paths: Sequence[str | Path],
    *,
    pattern: str | None = None,
    with_coverage: bool = False,
    runner: Runner | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
) -> Report:
    """Collect the fixture files under the paths and run their (selected) cases."""
    start = time.perf_counter()
    runner = runner or Runner()
    files, problems = discover(paths)
    fixtures = [load_fixture(path) for path in files]
    problems.extend(p for f in fixtures for p in f.problems)
    results: list[CaseResult] = []
    hits: dict[Path, set[tuple[tuple[str, ...], str]]] = {}
    for fixture in fixtures:
        for case in fixture.cases:
            if not matches(case, pattern):
                continue
            result = runner.run(case, trace=with_coverage)
            results.append(result)
            hits.setdefault(case.ruleset.resolve(), set()).update(result.hits)
            if on_result is not None:
                on_result(result)
    reports: list[Coverage] = []
    if with_coverage:
        for ruleset, seen in sorted(hits.items()):
            program = runner.program(ruleset)
            if not isinstance(program, str):
                reports.append(coverage(_shown(ruleset), program, seen))
    return Report(
        tuple(results), tuple(problems), tuple(reports), len(files), time.perf_counter() - start
    )
