"""Fixture files of `koncept test`: their format, reading them with line numbers, discovery.

A fixture file (`rulesets/<client>/tests/*.yaml`, format in docs/testing.md, JSON Schema in
`schemas/fixture.schema.json`) holds cases: inputs (inline records, or tables inline or by file),
an optional `as_of` and `period`, and what the case wants from the results. Table-driven cases
(one template, many `rows`) keep boundary sweeps short.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from string import Template
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import yaml

from dsl.diagnostics import closest
from engine.data.mapping import BoundedLoader, YamlLimitError
from engine.schemas import DATE_PATTERN, INPUTS, PLACEHOLDER, REPEAT, fixture_schema
from engine.testing.compare import plain

__all__ = [
    "MAX_CASE_RECORDS",
    "Case",
    "FixtureFile",
    "Problem",
    "cell_text",
    "discover",
    "fixture_schema",
    "is_fixture_path",
    "load_fixture",
    "shown_path",
]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


# ============================================================================ reading YAML
#: Inline records a case may hold once `_repeat` has copied them.
MAX_CASE_RECORDS = 100_000


class _Loader(BoundedLoader):
    """YAML as the fixtures mean it: dates stay text (the engine reads them), numbers with a
    fraction are exact Decimals, only true/false are booleans, a repeated key is an error,
    aliases are bounded (`MAX_YAML_ALIASES`, `MAX_YAML_VALUES`)."""


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


def cell_text(value: Any) -> str | None:
    """A fixture value as the text of a CSV cell (None stays None)."""
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
    shown = shown_path(path)
    default_ruleset = path.parent.parent if path.parent.name == "tests" else path.parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return FixtureFile(
            shown, default_ruleset, (), (Problem(shown, 1, f"cannot read: {reason}"),)
        )
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # refuses control characters already
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error)
        words = "" if isinstance(error, YamlLimitError) else "not valid YAML: "
        return FixtureFile(shown, default_ruleset, (), (Problem(shown, line, f"{words}{reason}"),))
    finally:
        if loader is not None:
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
    if "ruleset" in data and not _is_ruleset(ruleset):
        # Never loaded: loading any file would echo its first line in the parse error.
        problem = Problem(
            shown,
            _line(root, ["ruleset"]),
            f"ruleset: {data['ruleset']!r} is not a ruleset (a .krl file, or a folder holding "
            ".krl files)",
        )
        return FixtureFile(shown, default_ruleset, (), (problem,))
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


def _is_ruleset(path: Path) -> bool:
    """Whether `ruleset:` names a `.krl` file or a folder holding `.krl` files."""
    try:
        if path.is_file():
            return path.suffix == ".krl"
        return path.is_dir() and any(p.is_file() for p in path.glob("*.krl"))
    except OSError:
        return False


def _validator() -> Any:
    return jsonschema.Draft202012Validator(fixture_schema())


def shown_path(path: Path) -> str:
    """A path as a run shows it: relative to the current folder when under it."""
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
        key = str(extra[0]) if extra else "?"
        close = closest(key, allowed)
        hint = f"; did you mean {close!r}?" if close else f" (expected one of {', '.join(allowed)})"
        return f"{where}: unknown key {key!r}{hint}"
    if error.validator == "required":
        return f"{where}: {error.message.replace('is a required property', 'is required')}"
    if error.validator == "not":
        return f"{where}: give `lead` or `leads` (`deal` or `deals`), not both"
    if error.validator == "pattern" and schema.get("pattern") == DATE_PATTERN:
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
    held = 0  # inline records of the case, repeats counted
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
            held += count if REPEAT in item else 1
            if held > MAX_CASE_RECORDS:
                problems.append(
                    Problem(
                        shown,
                        line,
                        f"the case holds more than {MAX_CASE_RECORDS:,} records "
                        f"({REPEAT}: {count:,}); give a large table as a file",
                    )
                )
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
