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
    python_value,
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
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    frames: dict[str, Frame] = {}
    if deal_frame is not None:
        frames["deal"] = deal_frame
    for record, table in FILE_NAMES.items():
        if record != "deal" and table in valid:
            frames[record] = ctx.table_frame(record, valid[table])
    for role, names in compiled.roles.items():
        members: list[str] = []
        if reps is not None and "role" in reps.columns:
            chosen = reps[reps["role"] == role]
            members = sorted(str(i) for i in chosen["id"].dropna())
        for name in names:
            kpi = compiled.kpis.get(name)
            if kpi is None or kpi.subject not in frames:
                continue
            used.add(name)
            rows.extend(_kpi_rows(ctx, kpi, role, members, frames[kpi.subject], reps))
    for name, kpi in compiled.kpis.items():
        if name not in used and kpi.subject in frames:
            rows.extend(_kpi_rows(ctx, kpi, None, [], frames[kpi.subject], None))
    for row in rows:
        if row["met"] is False:
            kpi = compiled.kpis[row["kpi"]]
            who = row["rep_id"] or (f"team {row['role']}" if row["role"] else "all")
            alerts.append(
                {
                    "kind": "kpi",
                    "subject": row["kpi"],
                    "id": row["rep_id"] or row["role"],
                    "message": (
                        f"{kpi.label or kpi.name} ({who}): {_show(row['value'])}, "
                        f"target {kpi.target_op} {_show(row['target'])}"
                    ),
                    "severity": "warning",
                }
            )
    return pd.DataFrame(rows, columns=list(KPI_COLUMNS))


def _kpi_rows(
    ctx: Context,
    kpi: KpiIR,
    role: str | None,
    members: list[str],
    frame: Frame,
    reps: pd.DataFrame | None,
) -> list[dict[str, Any]]:
    inside = in_period(ctx, kpi.subject, frame)
    function = ctx.compiler(kpi.subject).compile(kpi.value)

    def values(codes: Array, count: int) -> list[Any]:
        v = function(Groups(frame, codes, count))
        known = full_known(v, count)
        found = np.broadcast_to(v.values, (count,))
        return [
            python_value(found[i], kpi.value.kind, kpi.value.scale) if known[i] else None
            for i in range(count)
        ]

    found: list[tuple[str | None, Any]] = []
    owner = "id" if kpi.subject == "rep" else "rep_id"
    if role is not None and reps is not None and owner in frame.data.columns:
        codes, owners = frame.codes(owner)
        # rep index of each record's owner, -1 when not a member of the role (a dict: a list
        # lookup per owner was quadratic in the number of reps)
        position = {rep: index for index, rep in enumerate(members)}
        member_of = np.asarray([position.get(o, -1) for o in owners] + [-1], dtype=np.int64)[
            np.where(codes < 0, len(owners), codes)
        ]
        per_rep = values(np.where(inside, member_of, -1), len(members))
        found.extend(zip(members, per_rep, strict=True))
        team = values(np.where(inside & (member_of >= 0), 0, -1), 1)
    else:
        team = values(np.where(inside, 0, -1), 1)
    found.append((None, team[0]))
    target = kpi.target.value if kpi.target is not None else None
    rows: list[dict[str, Any]] = []
    for rep_id, value in found:
        met = None
        if value is not None and target is not None and kpi.target_op is not None:
            # A float value (a ratio) meets an exact target as a float, as everywhere else:
            # 7,500 / 50,000 must meet `target >= 15%`.
            bound = float(target) if isinstance(value, float) else target
            met = bool(OPS[kpi.target_op](value, bound))
        rows.append(
            {
                "kpi": kpi.name,
                "role": role,
                "rep_id": rep_id,
                "value": value,
                "target": target,
                "met": met,
            }
        )
    return rows


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
