"""The published JSON Schemas: generated from the canonical tables, and they accept real rows."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dsl.canonical import TABLES, Column
from engine.schemas import dumps, main, mapping_schema, schema_files, table_schema

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "engine" / "presets"


def test_published_files_equal_the_generated_schemas() -> None:
    published = sorted(path.name for path in (ROOT / "schemas").glob("*.schema.json"))
    assert published == sorted(schema_files())
    for name, schema in schema_files().items():
        assert (ROOT / "schemas" / name).read_text(encoding="utf-8") == dumps(schema), (
            f"schemas/{name} is stale: run `python -m engine.schemas --write schemas/`"
        )


def test_write_command_writes_every_schema(tmp_path: Path) -> None:
    assert main(["--write", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(schema_files())


@pytest.mark.parametrize("name", sorted(schema_files()))
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema_files()[name])


def test_deal_schema_types_and_nullability() -> None:
    schema = table_schema("deal")
    properties = schema["properties"]
    assert schema["required"] == ["id", "status"]
    assert list(properties) == [column.name for column in TABLES["deal"]]
    assert properties["id"]["type"] == "string"
    assert properties["status"]["enum"] == ["open", "won", "lost"]
    assert properties["type"]["enum"] == ["new_logo", "upsell", "renewal", None]
    assert properties["amount"]["type"] == ["number", "string", "null"]
    assert properties["contacts"]["type"] == ["integer", "null"]
    assert properties["close_date"]["format"] == "date"
    assert table_schema("deals") == schema  # the input table name works too


def test_rows_are_checked_by_the_table_schema() -> None:
    validator = jsonschema.Draft202012Validator(table_schema("deal"))
    good = {"id": "D1", "status": "won", "amount": "1234.50", "close_date": "2026-03-31",
            "contacts": 3, "type": None, "budget_confirmed": True}  # fmt: skip
    assert list(validator.iter_errors(good)) == []
    bad = {"id": "D1", "status": "wonn", "amount": "12,5", "close_date": "31/03/2026"}
    messages = sorted(error.message for error in validator.iter_errors(bad))
    assert messages == [
        "'12,5' does not match '^-?\\\\d+(\\\\.\\\\d+)?$'",
        "'31/03/2026' does not match '^\\\\d{4}-\\\\d{2}-\\\\d{2}$'",
        "'wonn' is not one of ['open', 'won', 'lost']",
    ]


def test_record_declarations_extend_and_narrow() -> None:
    extra = (
        Column("stage", "one_of", options=("detection", "demo")),
        Column("budget_confirmed", "boolean", required=True),
        Column("status", "one_of", options=("open", "won", "lost")),  # cannot drop `required`
        Column("margin_target", "percent"),
    )
    schema = table_schema("deal", extra)
    assert schema["properties"]["stage"]["enum"] == ["detection", "demo", None]
    assert schema["properties"]["budget_confirmed"]["type"] == "boolean"
    assert schema["properties"]["margin_target"]["type"] == ["number", "string", "null"]
    assert schema["required"] == ["id", "status", "budget_confirmed"]


def test_unknown_table_suggests_a_name() -> None:
    with pytest.raises(ValueError) as info:
        table_schema("dael")
    assert str(info.value) == (
        "unknown table 'dael' (expected one of lead, deal, stage_event, rep, quota, territory, "
        "quota_relief, cancellation); did you mean 'deal'?"
    )


@pytest.mark.parametrize("preset", ["salesforce", "hubspot"])
def test_presets_follow_the_mapping_schema(preset: str) -> None:
    data = yaml.safe_load((PRESETS / f"{preset}.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(mapping_schema()).validate(data)


def test_mapping_schema_accepts_the_maven_mapping_shape() -> None:
    mapping = {
        "tables": {
            "deals": {
                "file": "sales_pipeline.csv",
                "columns": {"opportunity_id": "id", "deal_stage": ["stage", "status"]},
                "values": {"status": {"Won": "won", "Lost": "lost"}},
                "defaults": {"type": "new_logo"},
                "derive": {"status": [{"when": {"IsWon": [True, "1"]}, "then": "won"}]},
            },
            "territories": {"from": "reps", "columns": {"territory": ["id", "name"]}},
        }
    }
    jsonschema.Draft202012Validator(mapping_schema()).validate(mapping)
    both = {"tables": {"reps": {"file": "a.csv", "from": "deals"}}}
    assert not jsonschema.Draft202012Validator(mapping_schema()).is_valid(both)


def test_published_mapping_schema_is_json() -> None:
    text = (ROOT / "schemas" / "mapping.schema.json").read_text(encoding="utf-8")
    assert json.loads(text)["title"] == "CRM mapping"
