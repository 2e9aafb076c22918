from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import (
    FieldRef,
    KpiIR,
)
from engine.results import (
    KPI_COLUMNS,
)
from engine.schemas import FILE_NAMES
from engine.vector.context import (
    Alerts,
    Context,
)
from engine.vector.expr import (
    OPS,
    Groups,
    python_values,
)
from engine.vector.frame import Frame
from engine.vector.values import (
    Array,
    Bools,
    date_days,
    full_known,
    truth,
)


def in_period(ctx: Context, subject: str, frame: Frame) -> Bools:
    """Rows a period covers: leads created in it; deals closed in it, or open then."""
    n = frame.n
    if ctx.bounds is None:
        return np.ones(n, dtype=bool)
    start, end = (date_days(d) for d in ctx.bounds)
    if subject == "deal":
        close = frame.field(FieldRef("close_date", "date"))
        created = frame.field(FieldRef("created_at", "date"))
        closed_in = full_known(close, n) & (close.values >= start) & (close.values <= end)
        created_before = ~full_known(created, n) | (created.values <= end)
        return np.where(frame.matches("status", "open"), created_before, closed_in)
    if subject == "lead":
        created = frame.field(FieldRef("created_at", "date"))
        return full_known(created, n) & (created.values >= start) & (created.values <= end)
    return np.ones(n, dtype=bool)


def kpi_rows(
    ctx: Context,
    valid: Mapping[str, pd.DataFrame],
    deal_frame: Frame | None,
    alerts: Alerts,
) -> pd.DataFrame:
    """KPI values per role, rep and team (all reps of a role), against their targets."""
    compiled = ctx.compiled
    reps = valid.get("reps")
    columns: dict[str, list[Any]] = {name: [] for name in KPI_COLUMNS}
    used: set[str] = set()
    frames: dict[str, Frame] = {}
    if deal_frame is not None:
        frames["deal"] = deal_frame
    for record, table in FILE_NAMES.items():
        if record != "deal" and table in valid:
            # Leads as evaluated (their status and scores), other tables as read.
            evaluated = ctx.frames.get(record)
            frames[record] = (
                evaluated if evaluated is not None else ctx.table_frame(record, valid[table])
            )
    inside: dict[str, Bools] = {}  # each record's rows in the period, for all its KPIs

    def rows(record: str) -> tuple[Frame, Bools]:
        if record not in inside:
            inside[record] = in_period(ctx, record, frames[record])
        return frames[record], inside[record]

    members_of = _members(reps)
    for role, names in compiled.roles.items():
        members = members_of.get(role, [])
        for name in names:
            kpi = compiled.kpis.get(name)
            if kpi is None or kpi.subject not in frames:
                continue
            used.add(name)
            _kpi_rows(ctx, kpi, role, members, *rows(kpi.subject), reps, columns)
    for name, kpi in compiled.kpis.items():
        if name not in used and kpi.subject in frames:
            _kpi_rows(ctx, kpi, None, [], *rows(kpi.subject), None, columns)
    for kpi_name, role, rep_id, value, target, met in zip(
        *(columns[name] for name in KPI_COLUMNS), strict=True
    ):
        if met is False:
            kpi = compiled.kpis[kpi_name]
            who = rep_id or (f"team {role}" if role else "all")
            alerts.append(
                {
                    "kind": "kpi",
                    "subject": kpi_name,
                    "id": rep_id or role,
                    "message": (
                        f"{kpi.label or kpi.name} ({who}): {_show(value)}, "
                        f"target {kpi.target_op} {_show(target)}"
                    ),
                    "severity": "warning",
                }
            )
    if not columns["kpi"]:
        return pd.DataFrame(columns=list(KPI_COLUMNS))
    # Built as rows were before (a list of rows): each column's type inferred the same way.
    return pd.DataFrame(
        {name: pd.Series(values, dtype=object).infer_objects() for name, values in columns.items()}
    )


def _members(reps: pd.DataFrame | None) -> dict[str, list[str]]:
    """The ids of each role's reps, sorted: one pass over the reps table for all roles."""
    if reps is None or "role" not in reps.columns or "id" not in reps.columns:
        return {}
    found: dict[str, list[str]] = {}
    for role, rep in zip(reps["role"].tolist(), reps["id"].tolist(), strict=True):
        if isinstance(role, str) and isinstance(rep, str):
            found.setdefault(role, []).append(rep)
    return {role: sorted(ids) for role, ids in found.items()}


def _kpi_rows(
    ctx: Context,
    kpi: KpiIR,
    role: str | None,
    members: list[str],
    frame: Frame,
    inside: Bools,
    reps: pd.DataFrame | None,
    columns: dict[str, list[Any]],
) -> None:
    """The rows of one KPI (each member of the role, then the team), added to `columns`;
    `inside`: the frame's rows in the period."""
    function = ctx.compiler(kpi.subject).compile(kpi.value)

    def values(codes: Array, count: int) -> list[Any]:
        v = function(Groups(frame, codes, count))
        known = full_known(v, count)
        found = np.broadcast_to(v.values, (count,))
        return python_values(found, known, kpi.value.kind, kpi.value.scale)

    rep_ids: list[str | None] = []
    found: list[Any] = []
    owner = "id" if kpi.subject == "rep" else "rep_id"
    if role is not None and reps is not None and owner in frame.data.columns:
        codes, owners = frame.codes(owner)
        # rep index of each record's owner, -1 when not a member of the role (a dict: a list
        # lookup per owner was quadratic in the number of reps)
        position = {rep: index for index, rep in enumerate(members)}
        member_of = np.asarray([position.get(o, -1) for o in owners] + [-1], dtype=np.int64)[
            np.where(codes < 0, len(owners), codes)
        ]
        found = values(np.where(inside, member_of, -1), len(members))
        rep_ids = list(members)
        team = values(np.where(inside & (member_of >= 0), 0, -1), 1)
    else:
        team = values(np.where(inside, 0, -1), 1)
    rep_ids.append(None)
    found.append(team[0])
    target = kpi.target.value if kpi.target is not None else None
    compare = OPS[kpi.target_op] if target is not None and kpi.target_op is not None else None
    met: list[bool | None] = [None] * len(found)
    if compare is not None:
        # A float value (a ratio) meets an exact target as a float, as everywhere else:
        # 7,500 / 50,000 must meet `target >= 15%`.
        exact_bound, float_bound = target, float(target)  # type: ignore[arg-type]
        met = [
            None
            if value is None
            else bool(compare(value, float_bound if isinstance(value, float) else exact_bound))
            for value in found
        ]
    n = len(found)
    columns["kpi"].extend([kpi.name] * n)
    columns["role"].extend([role] * n)
    columns["rep_id"].extend(rep_ids)
    columns["value"].extend(found)
    columns["target"].extend([target] * n)
    columns["met"].extend(met)


def other_alerts(ctx: Context, valid: Mapping[str, pd.DataFrame], alerts: Alerts) -> None:
    """`alert` declarations on the other tables (reps, quotas...)."""
    for alert in ctx.compiled.alerts:
        table = FILE_NAMES.get(alert.subject, "")
        if alert.subject in ("lead", "deal") or table not in valid:
            continue
        data = valid[table]
        frame = ctx.table_frame(alert.subject, data)
        holds = truth(ctx.compiler(alert.subject).compile(alert.condition)(frame), frame.n)
        if "id" in data.columns:
            ids = data["id"][holds]
        else:
            ids = pd.Series(np.flatnonzero(holds) + 1).astype(str)
        alerts.records(alert.name, alert.label, alert.severity, ids)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
