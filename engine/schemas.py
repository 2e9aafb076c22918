"""JSON Schemas (draft 2020-12) of the canonical input tables and of CRM mapping files.

The table schemas are built from `dsl.canonical.TABLES`, extended by the columns a ruleset's
`record` declarations add or narrow, so the checker, the validator and the published files in
`schemas/` cannot disagree. A schema describes one row (one JSON object of a records list); CSV
and spreadsheet cells are all text, so the data layer is more lenient than these schemas about
how numbers and dates are written (see `engine.data`).

`python -m engine.schemas --write schemas/` regenerates the published files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsl.canonical import DERIVED_NAMES, TABLES, Column
from dsl.diagnostics import closest
from dsl.model import Model
from dsl.types import range_text
from engine.results import (
    ALERT_COLUMNS,
    BUDGET_COLUMNS,
    DEAL_COLUMNS,
    ERROR_COLUMNS,
    FUNNEL_COLUMNS,
    KPI_COLUMNS,
    LEAD_COLUMNS,
    MEASURE_FIELDS,
    PAYMENT_COLUMNS,
    PAYOUT_COLUMNS,
    PAYOUT_LINE_COLUMNS,
    STRATEGY_COLUMNS,
)

__all__ = [
    "DRAFT",
    "FILE_NAMES",
    "PRESETS",
    "RECORD_NAMES",
    "main",
    "mapping_schema",
    "merge_columns",
    "schema_files",
    "table_schema",
]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: record name (as in `TABLES` and rulesets) -> input table name (as in files and mappings).
FILE_NAMES: dict[str, str] = {
    "lead": "leads",
    "deal": "deals",
    "stage_event": "stage_events",
    "rep": "reps",
    "quota": "quotas",
    "territory": "territories",
    "quota_relief": "quota_relief",
    "cancellation": "cancellations",
}
#: input table name -> record name.
RECORD_NAMES: dict[str, str] = {plural: record for record, plural in FILE_NAMES.items()}

#: CRM presets shipped in `engine/presets/`.
PRESETS = ("salesforce", "hubspot")

# Canonical text forms; the data layer also accepts `1 234,56`, `31/12/2026`, `oui`...
_NUMERIC_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_PERCENT_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?( ?%)?$"
_MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def declared_columns(model: Model, record: str) -> tuple[Column, ...]:
    """The columns of `record` a ruleset declares, in every `record` block (read from input,
    not computed)."""
    return tuple(
        Column(f.name.name, f.type.name, False, tuple(o.name.name for o in f.type.options))
        for block in model.declared_records.get(record, ())
        for f in block.fields
        if f.name.name not in DERIVED_NAMES
    )


def table_columns(model: Model, record: str) -> tuple[Column, ...]:
    """The columns a table is validated against: canonical, extended by `record` declarations."""
    return merge_columns(record, declared_columns(model, record))


def effective_schema(model: Model, table: str) -> dict[str, Any]:
    """The JSON Schema of one row of `table` (`deals` or `deal`) for this ruleset."""
    record = RECORD_NAMES.get(table, table)
    schema = table_schema(record, declared_columns(model, record))
    ruleset = model.ruleset.name.name if model.ruleset is not None else None
    if ruleset:
        schema["$id"] = f"{schema['$id']}:{ruleset}"
        schema["title"] = f"{record} ({ruleset})"
    stages = list(model.stages)
    stage = schema["properties"].get("stage")
    if stages and stage is not None and record in ("deal", "stage_event"):
        # Validation refuses a stage the pipelines do not declare.
        required = "stage" in schema["required"]
        stage.pop("type", None)
        stage["enum"] = stages if required else [*stages, None]
        stage["description"] += ": a stage of the ruleset's pipelines"
    fields = model.records.get(record, {})
    for name, prop in schema["properties"].items():
        kind = fields.get(name)
        if kind is None:
            continue
        if kind.range is not None and kind.kind in ("integer", "number", "percent", "money"):
            low, high = kind.range
            # Whole bounds as integers so `integer 0..2` reads as it is written.
            prop["minimum"] = int(low) if low == low.to_integral_value() else float(low)
            prop["maximum"] = int(high) if high == high.to_integral_value() else float(high)
            prop["description"] += f", {range_text(low, high)}"
        if kind.labels:
            shown = ", ".join(f"{option} ({label})" for option, label in kind.labels)
            prop["description"] += f": {shown}"
    return schema


def merge_columns(table: str, extra: tuple[Column, ...] = ()) -> tuple[Column, ...]:
    """The canonical columns of `table` with a ruleset's added or narrowed columns applied."""
    record = _record_name(table)
    merged = {column.name: column for column in TABLES[record]}
    for column in extra:
        base = merged.get(column.name)
        # A record declaration may narrow a column but never make a required one optional.
        required = column.required or (base is not None and base.required)
        merged[column.name] = Column(column.name, column.type, required, column.options)
    return tuple(merged.values())


def table_schema(table: str, extra: tuple[Column, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of one row of `table` (`deal` or `deals`), extended by `extra` columns."""
    record = _record_name(table)
    columns = merge_columns(record, extra)
    return {
        "$schema": DRAFT,
        "$id": f"urn:koncept-rules:schema:{record}",
        "title": record,
        "description": (
            f"One row of the {FILE_NAMES[record]} input table ({FILE_NAMES[record]}.csv, .xlsx, "
            ".json or .parquet). Columns not listed are kept as the client's own fields."
        ),
        "type": "object",
        "properties": {column.name: _column_schema(column) for column in columns},
        "required": [column.name for column in columns if column.required],
        "additionalProperties": True,
    }


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of a CRM mapping file (YAML): renamed columns, translated values."""
    tables = list(RECORD_NAMES)
    scalar = {"type": ["string", "number", "boolean"]}
    return {
        "$schema": DRAFT,
        "$id": "urn:koncept-rules:schema:mapping",
        "title": "CRM mapping",
        "description": (
            "Translates a CRM export into the canonical input tables: which file holds a table, "
            "which source column becomes which canonical column(s), how source values translate, "
            "defaults for missing cells, columns derived from conditions, and tables built from "
            "the distinct values of another table."
        ),
        "type": "object",
        "properties": {
            "preset": {
                "description": "Start from a shipped CRM mapping; this file's entries win.",
                "enum": list(PRESETS),
            },
            "tables": {
                "type": "object",
                "propertyNames": {"enum": tables},
                "additionalProperties": {"$ref": "#/$defs/table"},
            },
        },
        "additionalProperties": False,
        "$defs": {
            "name": {"type": "string", "pattern": _NAME_PATTERN},
            "scalar": scalar,
            "targets": {
                "description": "One canonical column, or several filled from the same source.",
                "oneOf": [
                    {"$ref": "#/$defs/name"},
                    {
                        "type": "array",
                        "items": {"$ref": "#/$defs/name"},
                        "minItems": 1,
                        "uniqueItems": True,
                    },
                ],
            },
            "table": {
                "type": "object",
                "properties": {
                    "file": {
                        "description": "File name in the data folder (default: <table>.<ext>).",
                        "type": "string",
                        "minLength": 1,
                    },
                    "from": {
                        "description": "Build this table from the distinct rows of another one.",
                        "enum": tables,
                    },
                    "columns": {
                        "description": "Source column -> canonical column(s).",
                        "type": "object",
                        "additionalProperties": {"$ref": "#/$defs/targets"},
                    },
                    "values": {
                        "description": "Canonical column -> {source value: canonical value}.",
                        "type": "object",
                        "propertyNames": {"$ref": "#/$defs/name"},
                        "additionalProperties": {
                            "type": "object",
                            "additionalProperties": {
                                "type": ["string", "number", "boolean", "null"]
                            },
                        },
                    },
                    "defaults": {
                        "description": "Canonical column -> value used where the cell is empty.",
                        "type": "object",
                        "propertyNames": {"$ref": "#/$defs/name"},
                        "additionalProperties": scalar,
                    },
                    "derive": {
                        "description": (
                            "Canonical column -> cases tested in order on the source columns; "
                            "the first whose `when` holds gives the value."
                        ),
                        "type": "object",
                        "propertyNames": {"$ref": "#/$defs/name"},
                        "additionalProperties": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/$defs/case"},
                        },
                    },
                },
                "additionalProperties": False,
                "not": {"required": ["file", "from"]},
            },
            "case": {
                "type": "object",
                "properties": {
                    "when": {
                        "description": "Source column -> value or list of values (any matches).",
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {
                            "description": "A value, or a list of values of which any matches.",
                            "oneOf": [
                                {"$ref": "#/$defs/scalar"},
                                {
                                    "type": "array",
                                    "items": {"$ref": "#/$defs/scalar"},
                                    "minItems": 1,
                                },
                            ],
                        },
                    },
                    "then": {"type": ["string", "number", "boolean", "null"]},
                },
                "required": ["then"],
                "additionalProperties": False,
            },
        },
    }


# ----------------------------------------------------------------------------- fixtures
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
    "quota_relief": ("quota_relief", "quota_relief"),
    "cancellations": ("cancellations", "cancellation"),
}
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
PLACEHOLDER = r"^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$"
#: A record key that repeats the record (rate boundaries need e.g. 5 won deals of 17).
REPEAT = "_repeat"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


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
        scores=typed("object", "score -> total, every score of the lead (only those listed)"),
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
        scores=typed("object", "score -> total, every score of the deal (only those listed)"),
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
        payments=rows(row(PAYMENT_COLUMNS, ["rep_id"])),
        payout_lines=rows(row(PAYOUT_LINE_COLUMNS, ["deal_id"])),
        strategy=rows(row(STRATEGY_COLUMNS, ["kind"])),
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
    date = {"type": "string", "pattern": DATE_PATTERN}
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


def schema_files() -> dict[str, dict[str, Any]]:
    """File name -> schema for every published schema (`deal.schema.json`, `mapping...`)."""
    files = {f"{record}.schema.json": table_schema(record) for record in FILE_NAMES}
    files["mapping.schema.json"] = mapping_schema()
    files["fixture.schema.json"] = fixture_schema()
    files["diff.schema.json"] = diff_schema()
    return files


def diff_schema() -> dict[str, Any]:
    """The JSON document `koncept diff --format json` writes (`engine.diff.render.to_json`)."""
    text = {"type": "string"}
    maybe_text = {"type": ["string", "null"]}
    money = {"type": "string", "pattern": _MONEY_PATTERN}
    maybe_money = {"type": ["string", "null"], "pattern": _MONEY_PATTERN}
    flag = {"type": ["boolean", "null"]}
    cell = {"type": ["string", "number", "boolean", "null"]}

    def row(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": list(properties),
            "additionalProperties": False,
            "properties": properties,
        }

    def rows(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": row(properties)}

    change = row({
        "kind": {"enum": ["changed", "renamed", "reordered", "added", "removed"]},
        "where": {"type": "array", "items": text},
        "what": maybe_text, "before": maybe_text, "after": maybe_text,
        "before_at": maybe_text, "after_at": maybe_text, "text": text,
    })  # fmt: skip
    impact = row({
        "data": maybe_text,
        "as_of": {"type": ["string", "null"], "pattern": _DATE_PATTERN},
        "period": maybe_text,
        "leads": row({
            "count": {"type": "integer"},
            "transitions": rows({"from": maybe_text, "to": maybe_text,
                                 "count": {"type": "integer"},
                                 "ids": {"type": "array", "items": text}}),
        }),
        "deals": row({
            "count": {"type": "integer"},
            "changes": rows({"id": text, "changes": {
                "type": "object",
                "additionalProperties": row({"before": cell, "after": cell}),
            }}),
        }),
        "kpis": rows({"kpi": text, "role": maybe_text, "rep_id": maybe_text, "before": cell,
                      "after": cell, "met_before": flag, "met_after": flag}),
        "alerts": rows({"change": {"enum": ["raised", "cleared"]}, "kind": text,
                        "subject": text, "id": maybe_text, "message": text,
                        "severity": maybe_text}),
        "payouts": row({
            "total_before": money, "total_after": money, "delta": money,
            "changes": rows({"rep_id": text, "plan": text, "period": text,
                             "paid": {"type": "boolean"}, "before": maybe_money,
                             "after": maybe_money, "delta": money,
                             "percent": {"type": ["string", "null"]}}),
        }),
        "budget": rows({"plan": text, "period": text, "before": maybe_money,
                        "after": maybe_money, "delta": money, "budget_before": maybe_money,
                        "budget_after": maybe_money, "guardrail": maybe_text,
                        "alert_before": {"type": "boolean"}, "alert_after": {"type": "boolean"},
                        "message": maybe_text}),
        "errors": rows({"table": text, "row": {"type": ["integer", "null"]},
                        "column": maybe_text, "value": cell, "message": text, "text": text}),
    })  # fmt: skip
    return {
        "$schema": DRAFT,
        "$id": "urn:koncept-rules:schema:diff",
        "title": "koncept diff --format json",
        "description": "Two versions of rulesets compared: changes in meaning, in the "
        "ruleset's words with file:line on both sides, and the impact on the same input "
        "data (statuses, deals, KPIs, alerts, payouts and budget; money as exact strings).",
        **row({
            "base": text,
            "head": text,
            "failed": {"type": "boolean"},
            "rulesets": rows({
                "path": text,
                "status": {"enum": ["changed", "unchanged", "added", "removed", "error"]},
                "changes": {"type": "array", "items": change},
                "diagnostics": {"type": "object", "additionalProperties": text},
                "impact": {"oneOf": [{"type": "null"}, impact]},
            }),
            "gates": rows({"gate": text, "tripped": {"type": "boolean"},
                           "reasons": {"type": "array", "items": text}}),
        }),
    }  # fmt: skip


def dumps(schema: dict[str, Any]) -> str:
    """Serialise a schema the way the published files are written."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the published schemas: `python -m engine.schemas --write schemas/`."""
    parser = argparse.ArgumentParser(prog="python -m engine.schemas", description=main.__doc__)
    parser.add_argument("--write", metavar="DIR", required=True, type=Path)
    args = parser.parse_args(argv)
    folder: Path = args.write
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in schema_files().items():
        (folder / name).write_text(dumps(schema), encoding="utf-8")
    return 0


def _record_name(table: str) -> str:
    record = RECORD_NAMES.get(table, table)
    if record not in TABLES:
        known = list(TABLES) + list(RECORD_NAMES)
        close = closest(table, known)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ValueError(f"unknown table {table!r} (expected one of {', '.join(TABLES)}){hint}")
    return record


def _column_schema(column: Column) -> dict[str, Any]:
    schema: dict[str, Any]
    if column.type == "text":
        schema = {"type": "string"}
    elif column.type == "number":
        schema = {"type": ["number", "string"], "pattern": _NUMERIC_PATTERN}
    elif column.type == "percent":
        schema = {"type": ["number", "string"], "pattern": _PERCENT_PATTERN}
    elif column.type == "integer":
        schema = {"type": "integer"}
    elif column.type == "money":
        schema = {"type": ["number", "string"], "pattern": _MONEY_PATTERN}
    elif column.type == "boolean":
        schema = {"type": "boolean"}
    elif column.type == "date":
        schema = {"type": "string", "format": "date", "pattern": _DATE_PATTERN}
    elif column.type == "one_of":
        if not column.options:
            raise ValueError(f"column {column.name!r} is one_of without options")
        schema = {"enum": list(column.options)}
    else:
        raise ValueError(f"column {column.name!r} has unknown type {column.type!r}")
    if not column.required:
        schema = _nullable(schema)
    required = " (required)" if column.required else ""
    return {"description": f"{column.type}{required}", **schema}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


if __name__ == "__main__":
    sys.exit(main())
