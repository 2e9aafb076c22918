"""Ruleset fixtures: load YAML test files, run each case through both evaluators, measure coverage.

One module per stage, each importing only the ones before it:

- `fixtures`: the fixture format (JSON Schema, YAML read with line numbers, table-driven cases
  and `$placeholders`) and discovery of fixture files;
- `expect`: what a case wants against what it got (`check`);
- `coverage`: concept coverage of a ruleset, from the evaluators' traces;
- `runner`: a case through both evaluators, which must agree (`Runner`), and a whole run (`run`).
"""

from __future__ import annotations

from engine.testing.coverage import Coverage
from engine.testing.fixtures import Case, Problem, fixture_schema, is_fixture_path, load_fixture
from engine.testing.runner import CaseResult, Report, Runner, run

__all__ = [
    "Case",
    "CaseResult",
    "Coverage",
    "Problem",
    "Report",
    "Runner",
    "fixture_schema",
    "is_fixture_path",
    "load_fixture",
    "run",
]
