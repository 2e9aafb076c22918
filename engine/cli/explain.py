"""`koncept explain RULESET (--lead ID | --deal ID) --data DIR | --demo [N]`: one record, in words.

Finds the record in its input table (mapped like `koncept eval` maps it), validates it the same
way, and prints the explanation of `engine.explain`: the score and status with the rule behind
each point, or the deal's stage, exit criteria, days in stage, weighted value, qualification and
playbook. Exit 0: explained; 1: the ruleset has errors, the id is not in the table, or its row is
invalid (the reasons are listed); 2: usage, unreadable or unusable input.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsl.diagnostics import close_names
from engine.cli._common import (
    add_input_arguments,
    load_program,
    read_inputs,
    report_data_error,
    report_unexpected,
)

if TYPE_CHECKING:
    import pandas as pd

    from engine.cli._common import Inputs
    from engine.program import Program

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `explain` subcommand."""
    parser = subparsers.add_parser(
        "explain",
        help="explain one lead or deal in plain words",
        description="Explain why a lead has its score and status, or where a deal stands "
        "(stage, exit criteria, days in stage, weighted value, qualification, playbook), with "
        "the ruleset's labels. Exit 0: explained; 1: ruleset errors, unknown id or invalid row; "
        "2: usage or input error.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--lead", metavar="ID", help="the lead's id")
    which.add_argument("--deal", metavar="ID", help="the deal's id")
    add_input_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the explanation of the record."""
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    try:
        return _explain(program, args)
    except Exception as error:
        return report_unexpected(error)


def _explain(program: Program, args: argparse.Namespace) -> int:
    from engine.data import DataError
    from engine.record import RecordError

    try:
        inputs = read_inputs(program, args)
    except DataError as error:
        return report_data_error(error)
    if inputs is None:
        return 2
    table, wanted = ("leads", args.lead) if args.lead is not None else ("deals", args.deal)
    frame = inputs.tables.get(table)
    if frame is None:
        print(f"error: {inputs.origin}: no {table} table", file=sys.stderr)
        return 2
    if "id" not in frame.columns:
        print(f"error: {inputs.origin}: the {table} table has no id column", file=sys.stderr)
        return 2
    ids = frame["id"].astype("str").str.strip()
    rows = frame[(ids == wanted.strip()).to_numpy(dtype=bool, na_value=False)]
    if rows.empty:
        print(f"error: {_unknown(table, wanted, ids)}", file=sys.stderr)
        return 1
    events = _events(inputs, wanted.strip()) if table == "deals" else None
    rejected = _rejected(program, table, rows, events, inputs)
    if rejected:
        print(rejected, file=sys.stderr, end="")
        return 1
    record = _record(rows)
    from engine.explain import explain_deal, explain_lead

    try:
        if table == "leads":
            text = explain_lead(program, record)
        else:
            event_rows = (
                [] if events is None else [_record(events.iloc[[i]]) for i in range(len(events))]
            )
            text = explain_deal(program, record, inputs.as_of, event_rows)
    except RecordError as error:
        print(f"error: {table[:-1]} {wanted!r}: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def _unknown(table: str, wanted: str, ids: pd.Series[Any]) -> str:
    """`deal 'D-01' is not in the deals table (1,000 rows); did you mean 'D0001'?`"""
    known = [str(i) for i in ids.dropna().unique().tolist()]
    # The same id written another way first (L-001, l0001, L1), then ids that look alike.
    key = _id_key(wanted)
    close = [i for i in known if _id_key(i) == key][:3]
    if not close:
        # Comparing with millions of ids is slow: only ids of about the same length can be close.
        near = [i for i in known if abs(len(i) - len(wanted)) <= 2]
        close = close_names(wanted, near, most=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    rows = f"{len(ids):,} row{'' if len(ids) == 1 else 's'}"
    return f"{table[:-1]} {wanted!r} is not in the {table} table ({rows}){hint}"


def _id_key(text: str) -> str:
    """An id without case, separators or leading zeros in its numbers: `L-001` -> `l1`."""
    compact = re.sub(r"[\s_\-./]", "", text.lower())
    return re.sub(r"(?<!\d)0+(?=\d)", "", compact)


def _events(inputs: Inputs, deal_id: str) -> pd.DataFrame | None:
    events = inputs.tables.get("stage_events")
    if events is None or "deal_id" not in events.columns:
        return None
    mine = events["deal_id"].astype("str").str.strip() == deal_id
    return events[mine.to_numpy(dtype=bool, na_value=False)]


def _rejected(
    program: Program,
    table: str,
    rows: pd.DataFrame,
    events: pd.DataFrame | None,
    inputs: Inputs,
) -> str:
    """The validation errors of the record's rows (as `koncept eval` reports them), or ''."""
    if table == "leads":
        results = program.evaluate(leads=rows, as_of=inputs.as_of)
    else:
        results = program.evaluate(deals=rows, stage_events=events, as_of=inputs.as_of)
    errors = results.errors[results.errors["table"] == table]
    if errors.empty:
        return ""
    what = f"{table[:-1]} {str(rows['id'].iloc[0]).strip()!r}"
    lines = [f"error: {what} is left out of the evaluation; its row is invalid:"]
    for row, column, value, message in errors[["row", "column", "value", "message"]].itertuples(
        index=False
    ):
        where = f"row {int(row)}" if row is not None and row == row else table
        cell = f", {column}" if column is not None and column == column else ""
        shown = f" = {value!r}" if value is not None and value == value else ""
        lines.append(f"  {where}{cell}{shown}: {message}")
    return "\n".join(lines) + "\n"


def _record(rows: pd.DataFrame) -> dict[str, Any]:
    first = rows.iloc[0]
    return {str(name): first[name] for name in rows.columns}
