"""One ruleset at two versions (two folders): loaded, compared in meaning, evaluated on the same
inputs. Where the folders come from (git revisions, plain folders) is the caller's business."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.diff.impact import Gate, Impact, compare_results, evaluate_both, trip_gates
from engine.diff.meaning import Change, compare_models

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program
    from engine.results import Results

__all__ = ["Reader", "Review", "RulesetDiff", "diff_ruleset"]

#: Reads (or generates) the input tables for a program whose ruleset sits in a folder:
#: returns the tables, the evaluation date, where they came from, and an object that says
#: whether two reads give the same tables (equal keys: the first read is used for both).
Reader = Callable[["Program", Path], tuple[dict[str, "pd.DataFrame"], dt.date, str, object]]


@dataclass(slots=True)
class RulesetDiff:
    """One ruleset compared: `status` is changed, unchanged, added, removed or error."""

    path: str
    status: str
    changes: list[Change] = field(default_factory=list)
    impact: Impact | None = None
    origin: str | None = None
    #: The diagnostics of a version that does not check, as `koncept check` prints them.
    problems: dict[str, str] = field(default_factory=dict)
    results: tuple[Results, Results] | None = None


@dataclass(slots=True)
class Review:
    """Every ruleset compared between two versions, and the gates asked for and tripped."""

    base: str
    head: str
    rulesets: list[RulesetDiff]
    gates: list[Gate] = field(default_factory=list)
    tripped: list[Gate] = field(default_factory=list)

    def trip(self) -> None:
        """Set `tripped`: each gate some ruleset's impact trips, with every reason
        (`<ruleset>: <reason>`); `status-flips=N` counts per ruleset."""
        found: dict[str, Gate] = {}
        for item in self.rulesets:
            if item.impact is None:
                continue
            for gate in trip_gates(item.impact, self.gates):
                before = found[gate.name].reasons if gate.name in found else ()
                reasons = (*before, *(f"{item.path}: {r}" for r in gate.reasons))
                found[gate.name] = dataclasses.replace(gate, reasons=reasons)
        self.tripped = list(found.values())

    @property
    def failed(self) -> bool:
        """A gate tripped or a version does not check: exit 1."""
        return bool(self.tripped) or any(r.status == "error" for r in self.rulesets)


def diff_ruleset(
    path: str,
    before: Path | None,
    after: Path | None,
    read: Reader | None = None,
    *,
    period: str | None = None,
    before_name: str | None = None,
    roots: tuple[Path | None, Path | None] = (None, None),
) -> RulesetDiff:
    """Compare a ruleset's two folders (None: absent in that version), and evaluate both on
    the inputs `read` gives (no impact without it). Files are named `path/<file>` (the base's
    `before_name/<file>` when given); a file elsewhere (a template's) is named relative to the
    version's copy of the repository (`roots`: base, head) when it lies in it. Raises what
    `read` raises for bad data."""
    from engine.loader import RulesetError, load_as
    from engine.output import money_kpis

    if before is None and after is None:
        return RulesetDiff(path, "unchanged")
    if before is None or after is None:
        return RulesetDiff(path, "added" if before is None else "removed")
    programs: dict[str, Program] = {}
    found = RulesetDiff(path, "error")
    for side, folder, name in (("base", before, before_name or path), ("head", after, path)):
        try:
            programs[side] = load_as(folder, name)
        except RulesetError as error:
            found.problems[side] = error.render()
    if found.problems:
        return found
    old, new = programs["base"], programs["head"]
    found.changes = [
        dataclasses.replace(
            c, before_at=_relative(c.before_at, roots[0]), after_at=_relative(c.after_at, roots[1])
        )
        for c in compare_models(old.model, new.model)
    ]
    found.status = "changed" if found.changes else "unchanged"
    if read is None:
        return found
    tables, as_of, origin, key = read(new, after)
    before_tables, _, _, before_key = read(old, before)
    results = evaluate_both(
        old,
        new,
        before_tables if before_key != key else tables,
        tables,
        as_of=as_of,
        period=period,
    )
    found.results = results
    found.origin = origin
    found.impact = compare_results(*results, money_kpis(new.compiled))
    return found


def _relative(at: str | None, root: Path | None) -> str | None:
    """`file:line` with the file relative to the root when it lies under it."""
    if at is None or root is None:
        return at
    path, _, line = at.rpartition(":")
    try:
        return f"{Path(path).resolve().relative_to(root.resolve()).as_posix()}:{line}"
    except ValueError:
        return at
