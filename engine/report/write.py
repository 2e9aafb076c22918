"""A document to a file, by the file's name: `.html` (or `.htm`), `.xlsx`, `.json` (exact
figures), or a path without a suffix for a folder of CSV files, one per table, in a CSV
dialect. The one writer of `koncept report`, `simulate` and `diagnose`."""

from __future__ import annotations

import json
from pathlib import Path

from engine.files import atomic_file
from engine.report.document import Document, to_json
from engine.report.html import write_html
from engine.report.spreadsheet import csv_dialect, write_csv_tables
from engine.report.xlsx import write_xlsx

__all__ = ["OUTPUT_KINDS", "write_document"]

#: The file suffixes a document is written as, and how.
OUTPUT_KINDS = {".html": "html", ".htm": "html", ".xlsx": "xlsx", ".json": "json"}


def write_document(document: Document, path: Path, dialect: str = "standard") -> list[Path]:
    """Write the document as `path` says (see the module); the files written."""
    kind = OUTPUT_KINDS.get(path.suffix.lower()) if path.suffix else "csv"
    if kind == "html":
        write_html(document, path)
    elif kind == "xlsx":
        write_xlsx(document, path)
    elif kind == "json":
        with atomic_file(path) as stream:
            json.dump(to_json(document), stream, ensure_ascii=False, indent=2)
            stream.write("\n")
    elif kind == "csv":
        return write_csv_tables(document, path, csv_dialect(dialect))
    else:
        raise ValueError(f"{path}: write a .html, .xlsx or .json file, or a folder (CSV)")
    return [path]
