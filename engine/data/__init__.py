"""Input tables: read files, apply CRM mappings, validate rows into typed columns.

One module per stage, each importing only the ones before it:

- `read`: files (CSV, XLSX, JSON, Parquet) into tables of text indexed by the row number a user
  sees (`read_table`);
- `mapping`: a CRM mapping renames, translates and derives columns, and `load_inputs` finds the
  tables of a folder through it;
- `parse`: text columns into typed ones (numbers, amounts in cents, dates, yes/no, one_of);
- `validate`: typed columns, an error per invalid cell with its row number, only the valid rows
  kept (`validate_table`).
"""

from __future__ import annotations

from engine.data.mapping import (
    Case,
    CrmMapping,
    MappingError,
    TableMapping,
    apply_mapping,
    load_inputs,
    load_mapping,
)
from engine.data.read import (
    EXTENSIONS,
    DataError,
    loads_json,
    read_records,
    read_table,
    repeated_key,
)
from engine.data.validate import KEYS, RowError, Validated, validate_table

__all__ = [
    "EXTENSIONS",
    "KEYS",
    "Case",
    "CrmMapping",
    "DataError",
    "MappingError",
    "RowError",
    "TableMapping",
    "Validated",
    "apply_mapping",
    "load_inputs",
    "load_mapping",
    "loads_json",
    "read_records",
    "read_table",
    "repeated_key",
    "validate_table",
]
