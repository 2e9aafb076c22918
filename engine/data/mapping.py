"""CRM mappings: find the input files of a folder, rename and translate a CRM export's columns.

A mapping file (YAML, checked against `engine.schemas.mapping_schema()`) says, per canonical
table, which file holds it (or which table it is built `from`), which export column feeds which
canonical column, how values translate, and which columns are derived or defaulted. A preset
(`salesforce`, `hubspot`) gives the common part; the client's file wins entry by entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pandas as pd
import yaml

from dsl.diagnostics import closest
from engine.data.read import EXTENSIONS, UNREADABLE, Bools, DataError, read_table
from engine.schemas import FILE_NAMES, PRESETS, RECORD_NAMES, mapping_schema

__all__ = [
    "MAX_YAML_ALIASES",
    "MAX_YAML_VALUES",
    "BoundedLoader",
    "Case",
    "CrmMapping",
    "MappingError",
    "TableMapping",
    "YamlLimitError",
    "apply_mapping",
    "load_inputs",
    "load_mapping",
]

_PRESET_DIR = Path(__file__).parent.parent / "presets"


class MappingError(DataError):
    """A CRM mapping file that does not follow the mapping schema; one located message each."""

    def __init__(self, path: str | Path, messages: Sequence[str]) -> None:
        super().__init__(path, "\n".join(messages))
        self.messages = tuple(messages)

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class Case:
    """One case of a derived column: `then` where every `when` source column has a listed value."""

    when: tuple[tuple[str, tuple[str, ...]], ...]
    then: str | None


@dataclass(frozen=True, slots=True)
class TableMapping:
    """How one canonical table is found and translated from a CRM export."""

    file: str | None = None
    source: str | None = None  # `from:` build the table from another table's distinct values
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    values: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    derive: Mapping[str, tuple[Case, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CrmMapping:
    """A loaded CRM mapping: input table name (`deals`) -> its `TableMapping`."""

    tables: Mapping[str, TableMapping]
    preset: str | None = None


# ---------------------------------------------------------------------------------------------
# Finding the input files


def load_inputs(
    data_dir: str | Path,
    mapping: CrmMapping | str | Path | None = None,
    overrides: Mapping[str, str | Path] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the canonical tables of a folder (`deals.csv`, `leads.xlsx`...), mapped if asked."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(folder, "data folder not found" if not folder.exists() else "not a folder")
    if mapping is not None and not isinstance(mapping, CrmMapping):
        mapping = load_mapping(mapping)
    chosen = {_input_table(name, folder): Path(path) for name, path in (overrides or {}).items()}
    present = {entry.name.lower(): entry for entry in folder.iterdir() if entry.is_file()}
    frames: dict[str, pd.DataFrame] = {}
    for table in FILE_NAMES.values():
        table_mapping = mapping.tables.get(table) if mapping else None
        if table in chosen:
            path = chosen[table]
        elif table_mapping is not None and table_mapping.source is not None:
            continue  # built by apply_mapping from another table
        elif table_mapping is not None and table_mapping.file is not None:
            path = folder / table_mapping.file
            if not path.is_file():
                raise DataError(path, f"file named by the mapping for {table} not found")
        else:
            found = [present[f"{table}{ext}"] for ext in EXTENSIONS if f"{table}{ext}" in present]
            if not found:
                continue
            if len(found) > 1:
                names = " and ".join(p.name for p in found)
                raise DataError(folder, f"both {names} found for {table}: keep one")
            path = found[0]
        frames[table] = read_table(path)
    return apply_mapping(frames, mapping) if mapping else frames


def _input_table(name: str, where: Path) -> str:
    table = name.replace("-", "_")
    table = FILE_NAMES.get(table, table)
    if table not in RECORD_NAMES:
        close = closest(table, RECORD_NAMES)
        hint = f"; did you mean {close!r}?" if close else ""
        raise DataError(
            where, f"unknown input table {name!r} (expected one of {', '.join(RECORD_NAMES)}){hint}"
        )
    return table


# ---------------------------------------------------------------------------------------------
# CRM mappings


def load_mapping(path: str | Path) -> CrmMapping:
    """Load a CRM mapping file (YAML), check it against `mapping_schema()`, merge its preset."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataError(path, error.strerror or str(error)) from None
    raw = _load_yaml(path, text)
    mapping = _mapping_from(raw)
    if mapping.preset is None:
        return mapping
    preset_path = _PRESET_DIR / f"{mapping.preset}.yaml"
    preset_raw = _load_yaml(preset_path, preset_path.read_text(encoding="utf-8"))
    return _mapping_from(_merge(preset_raw, raw))


#: Aliases (`*name`) a YAML file (mapping or fixture) may use.
MAX_YAML_ALIASES = 1_000
#: Values (mappings, lists and scalars) a YAML file may hold once its aliases are expanded: a
#: few lines of nested aliases (a "billion laughs") would otherwise take minutes and gigabytes.
MAX_YAML_VALUES = 1_000_000


class YamlLimitError(yaml.composer.ComposerError):
    """A YAML file over `MAX_YAML_ALIASES` or `MAX_YAML_VALUES`."""


class BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses more than `MAX_YAML_ALIASES` aliases, or a document that
    holds more than `MAX_YAML_VALUES` values once they are expanded."""

    _aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise YamlLimitError(
                    None,
                    None,
                    f"more than {MAX_YAML_ALIASES:,} aliases (*name) in the file",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
        return super().compose_node(parent, index)

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None and self._aliases and expanded_size(node) > MAX_YAML_VALUES:
            raise YamlLimitError(
                None,
                None,
                f"the file's aliases (*name) expand to more than {MAX_YAML_VALUES:,} values",
                node.start_mark,
            )
        return node


def expanded_size(root: yaml.Node) -> int:
    """The values a composed YAML document holds with every alias expanded (each node's size
    computed once, so this is quick however large the answer)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if ready:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), 1 << 62)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _load_yaml(path: Path, text: str) -> dict[str, Any]:
    loader: BoundedLoader | None = None
    try:
        loader = BoundedLoader(text)  # refuses control characters already
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        reason = getattr(error, "problem", None) or str(error)
        words = "" if isinstance(error, YamlLimitError) else "not valid YAML: "
        raise MappingError(path, [f"{place}: {words}{reason}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    repeated = _repeated_keys(path, root)
    if repeated:
        raise MappingError(path, repeated)
    data = {} if data is None else _string_keys(data)
    validator = jsonschema.Draft202012Validator(mapping_schema())
    located: list[tuple[tuple[int, int], str]] = []
    for problem in validator.iter_errors(data):
        where, message = _describe(problem)
        line, column = _locate(root, where)
        dotted = ".".join(str(part) for part in where) or "(top level)"
        located.append(((line, column), f"{path}:{line}:{column}: {dotted}: {message}"))
    if not located and isinstance(data, dict):
        located.extend(_conflicts(path, root, data))
    if located:
        raise MappingError(path, [message for _, message in sorted(located)])
    if not isinstance(data, dict):  # the schema requires an object; this narrows the type
        raise MappingError(path, [f"{path}:1:1: expected a mapping"])
    return data


def _repeated_keys(path: Path, root: yaml.Node | None) -> list[str]:
    """A located message per key written twice in one YAML mapping (YAML keeps the last)."""
    found: list[tuple[tuple[int, int], str]] = []
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        line, column = key.start_mark.line + 1, key.start_mark.column + 1
                        found.append(
                            (
                                (line, column),
                                f"{path}:{line}:{column}: key {key.value!r} appears twice in "
                                "this mapping (only the last would be kept)",
                            )
                        )
                    keys.add(key.value)
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return [message for _, message in sorted(found)]


def _conflicts(
    path: Path, root: yaml.Node | None, data: dict[str, Any]
) -> list[tuple[tuple[int, int], str]]:
    """What the schema cannot say: two export columns feeding one canonical column (only the
    last would be kept), a table built `from` itself or from a table built from it."""
    located: list[tuple[tuple[int, int], str]] = []

    def report(where: list[str | int], message: str) -> None:
        line, column = _locate(root, where)
        dotted = ".".join(str(part) for part in where)
        located.append(((line, column), f"{path}:{line}:{column}: {dotted}: {message}"))

    tables: dict[str, Any] = data.get("tables") or {}
    for name, entry in tables.items():
        fed: dict[str, str] = {}
        for source, targets in (entry.get("columns") or {}).items():
            for target in [targets] if isinstance(targets, str) else targets:
                if target in fed:
                    report(
                        ["tables", name, "columns", source],
                        f"{fed[target]!r} and {source!r} both feed column {target!r}: keep one",
                    )
                else:
                    fed[target] = source
    origins = {name: entry.get("from") for name, entry in tables.items() if entry.get("from")}
    for name, origin in origins.items():
        chain = [name]
        while origin in origins and origin not in chain:
            chain.append(origin)
            origin = origins[origin]
        if origin == name:
            shown = " <- ".join([*chain, name]) if len(chain) > 1 else name
            words = "from itself" if len(chain) == 1 else f"in a circle ({shown})"
            report(["tables", name, "from"], f"table {name!r} is built {words}")
    return located


def _string_keys(value: Any) -> Any:
    # YAML reads `true:` or `1:` keys as bool/int; mapping keys are source values, always text.
    if isinstance(value, dict):
        return {_text(key) or "": _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(error: jsonschema.ValidationError) -> tuple[list[str | int], str]:
    where: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        key = extra[0] if extra else "?"
        close = closest(key, allowed)
        hint = f"; did you mean {close!r}?" if close else f" (expected {', '.join(allowed)})"
        return [*where, key], f"unknown key {key!r}{hint}"
    if "propertyNames" in error.relative_schema_path and error.validator == "enum":
        options = [str(option) for option in error.validator_value]
        close = closest(str(error.instance), options)
        hint = f"; did you mean {close!r}?" if close else ""
        return [*where, str(error.instance)], (
            f"unknown table {error.instance!r} (expected one of {', '.join(options)}){hint}"
        )
    if error.validator == "enum":
        options = [str(option) for option in error.validator_value]
        close = closest(str(error.instance), options)
        hint = f"; did you mean {close!r}?" if close else ""
        return where, f"{error.instance!r} is not one of {', '.join(options)}{hint}"
    if error.validator == "pattern":
        if "propertyNames" in error.relative_schema_path:
            where = [*where, str(error.instance)]
        return where, (
            f"{error.instance!r} is not a column name (letters, digits and _, not starting with a "
            "digit)"
        )
    if error.validator == "oneOf":
        # When a branch fits the shape (a list of names), its own deeper error says more.
        deeper = [e for e in error.context or () if len(e.absolute_path) > len(where)]
        if deeper:
            return _describe(deeper[0])
        return where, f"{error.instance!r} is not valid here: {schema.get('description', '')}"
    if error.validator == "not":
        return where, "give either `file` or `from`, not both"
    if error.validator == "type":
        expected = error.validator_value
        names = [str(n) for n in (expected if isinstance(expected, list) else [expected])]
        return where, f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}"
    return where, error.message


_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "boolean": "true/false",
    "null": "nothing",
}


def _locate(root: yaml.Node | None, where: Sequence[str | int]) -> tuple[int, int]:
    if root is None:
        return 1, 1
    node: yaml.Node = root
    for step, part in enumerate(where):
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value).lower() == str(part).lower():
                    # The last step stops at the key: its line is where the reader looks.
                    child = key if step == len(where) - 1 else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    # The client file wins entry by entry: one renamed column or one translated value at a time.
    tables = {name: dict(entry) for name, entry in base.get("tables", {}).items()}
    for name, entry in override.get("tables", {}).items():
        merged = tables.setdefault(name, {})
        for key, value in entry.items():
            if key == "columns":
                merged[key] = {**_unclaimed(merged.get(key, {}), value), **value}
            elif key in ("defaults", "derive"):
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "values":
                values = dict(merged.get("values", {}))
                for column, translation in value.items():
                    values[column] = {**values.get(column, {}), **translation}
                merged["values"] = values
            else:
                merged[key] = value
    return {"preset": override.get("preset"), "tables": tables}


def _unclaimed(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The preset's columns less the canonical columns the client's file feeds itself: its
    source wins, rather than two export columns feeding one column."""
    claimed = {t for targets in override.values() for t in _targets(targets)}
    kept: dict[str, Any] = {}
    for source, targets in base.items():
        left = [t for t in _targets(targets) if t not in claimed or source in override]
        if left:
            kept[source] = left[0] if isinstance(targets, str) else left
    return kept


def _targets(targets: str | list[str]) -> list[str]:
    return [targets] if isinstance(targets, str) else list(targets)


def _mapping_from(raw: dict[str, Any]) -> CrmMapping:
    tables: dict[str, TableMapping] = {}
    for name, entry in raw.get("tables", {}).items():
        columns = tuple(
            (source, (targets,) if isinstance(targets, str) else tuple(targets))
            for source, targets in entry.get("columns", {}).items()
        )
        values = {
            column: {source: _text(target) for source, target in translation.items()}
            for column, translation in entry.get("values", {}).items()
        }
        defaults = {
            column: _text(value) or "" for column, value in entry.get("defaults", {}).items()
        }
        derive = {
            column: tuple(_case(case) for case in cases)
            for column, cases in entry.get("derive", {}).items()
        }
        tables[name] = TableMapping(
            file=entry.get("file"),
            source=entry.get("from"),
            columns=columns,
            values=values,
            defaults=defaults,
            derive=derive,
        )
    preset = raw.get("preset")
    return CrmMapping(tables=tables, preset=preset if preset in PRESETS else None)


def _case(raw: dict[str, Any]) -> Case:
    when = tuple(
        (
            column,
            tuple(
                (_text(v) or "").lower() for v in (value if isinstance(value, list) else [value])
            ),
        )
        for column, value in raw.get("when", {}).items()
    )
    return Case(when=when, then=_text(raw["then"]))


def apply_mapping(
    frames: Mapping[str, pd.DataFrame], mapping: CrmMapping
) -> dict[str, pd.DataFrame]:
    """Rename columns, translate values, derive columns and tables; unmapped tables pass through."""
    result = dict(frames)
    for table, table_mapping in mapping.tables.items():
        if table_mapping.source is None and table in frames:
            result[table] = _map_frame(frames[table], table_mapping, keep_others=True)
    # A file given for the table wins over deriving it: real data beats a derived list.
    waiting = {
        table: table_mapping
        for table, table_mapping in mapping.tables.items()
        if table_mapping.source is not None and table not in frames
    }
    while waiting:  # a table built from a table built from another: in the order they can be
        ready = [table for table, m in waiting.items() if m.source in result]
        if not ready:
            break  # built from tables not given (load_mapping refuses circles)
        for table in ready:
            table_mapping = waiting.pop(table)
            origin = result[str(table_mapping.source)]
            used = [name for name, _ in table_mapping.columns if name in origin.columns]
            distinct = origin[used].dropna(how="all").drop_duplicates()
            result[table] = _map_frame(distinct, table_mapping, keep_others=False)
    return result


def _map_frame(frame: pd.DataFrame, mapping: TableMapping, *, keep_others: bool) -> pd.DataFrame:
    mapped: dict[str, pd.Series[Any]] = {}
    for source, targets in mapping.columns:
        if source in frame.columns:
            for target in targets:
                mapped[target] = frame[source]
    if keep_others:
        sources = {source for source, _ in mapping.columns}
        for name in frame.columns:
            if name not in sources and name not in mapped:
                mapped[name] = frame[name]
    for column, translation in mapping.values.items():
        if column in mapped:
            text = mapped[column]
            # Values the mapping does not list pass through, so validation reports them by row.
            hit = text.isin(list(translation))
            translated = text.map(dict(translation)).astype("str")
            mapped[column] = translated.where(hit, text)
    for column, cases in mapping.derive.items():
        derived = _derive(frame, cases)
        if derived is not None:
            values, decided = derived
            previous = mapped.get(column)
            mapped[column] = values if previous is None else values.where(decided, previous)
    for column, default in mapping.defaults.items():
        previous = mapped.get(column)
        filler = pd.Series(default, index=frame.index, dtype="str")
        mapped[column] = filler if previous is None else previous.fillna(default)
    result = pd.DataFrame(mapped, index=frame.index)
    unreadable = frame.attrs.get(UNREADABLE)
    if unreadable and keep_others:
        # Cells the reader could not read keep their rows' errors, under the mapped names.
        names = {source: targets[0] for source, targets in mapping.columns if targets}
        result.attrs[UNREADABLE] = tuple(
            (row, names.get(column, column), reason) for row, column, reason in unreadable
        )
    return result


def _derive(frame: pd.DataFrame, cases: tuple[Case, ...]) -> tuple[pd.Series[Any], Bools] | None:
    referenced = {column for case in cases for column, _ in case.when}
    if referenced and not referenced & set(frame.columns):
        return None  # the export has none of the columns: leave the column to the mapping
    lowered = {name: frame[name].str.lower() for name in referenced if name in frame.columns}
    values = pd.Series(pd.NA, index=frame.index, dtype="str")
    decided = np.zeros(len(frame), dtype=bool)
    for case in cases:
        holds = np.ones(len(frame), dtype=bool)
        for column, accepted in case.when:
            text = lowered.get(column)
            # A condition on a column the export lacks never holds.
            holds &= (
                text.isin(list(accepted)).to_numpy() if text is not None else np.zeros_like(holds)
            )
        take = holds & ~decided
        if case.then is not None:
            values = values.mask(take, case.then)
        decided |= take
    return values, decided
