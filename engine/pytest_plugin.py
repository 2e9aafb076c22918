"""pytest plugin (entry point `koncept`): ruleset fixture files are collected as test items.

`pytest rulesets/` collects every `rulesets/<client>/tests/*.yaml` file; each case is one item
named after the case, located at its line, run through both evaluators like `koncept test`
does, and a failure shows the same wanted-vs-got diff. A case marked `xfail` in its fixture is
an xfail item (non-strict: a case that starts passing shows as XPASS).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from engine.testing import Case, CaseResult, Problem, Runner

_RUNNER = pytest.StashKey["Runner"]()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """A fixture file (YAML in a ruleset's `tests/` folder) becomes a collector of cases."""
    from engine.testing import is_fixture_path

    if is_fixture_path(file_path):
        return FixtureFile.from_parent(parent, path=file_path)
    return None


def _runner(config: pytest.Config) -> Runner:
    """One runner per session, so each ruleset is loaded once."""
    from engine.testing import Runner

    if _RUNNER not in config.stash:
        config.stash[_RUNNER] = Runner()
    return config.stash[_RUNNER]


class FixtureFile(pytest.File):
    """The cases of one fixture file (and its problems, each an item that fails)."""

    def collect(self) -> Iterator[pytest.Item]:
        """One item per case; an invalid file gives one failing item per problem."""
        from engine.testing import load_fixture

        fixture = load_fixture(self.path)
        for problem in fixture.problems:
            yield ProblemItem.from_parent(
                self, name=f"invalid fixture (line {problem.line})", problem=problem
            )
        for case in fixture.cases:
            item = CaseItem.from_parent(self, name=case.name, case=case)
            if case.xfail is not None:
                item.add_marker(pytest.mark.xfail(reason=case.xfail, strict=False))
            yield item


class CaseFailed(Exception):
    """A case whose results differ from what it wants, or that could not run."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.case.name)
        self.result = result


class CaseItem(pytest.Item):
    """One fixture case as a test item."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        """Run the case; raise with the diff when it fails."""
        result = _runner(self.config).run(self.case)
        if result.status in ("fail", "error", "xfail"):
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The same text as `koncept test` prints for the case."""
        if isinstance(excinfo.value, CaseFailed):
            from engine.testing.report import text_result

            return text_result(excinfo.value.result)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the case is: its file and line."""
        return self.path, self.case.line - 1, f"{self.case.file}:{self.case.line}: {self.name}"


class ProblemItem(pytest.Item):
    """A problem of a fixture file (invalid YAML, a schema error), reported as a failure."""

    def __init__(self, *, problem: Problem, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        """Always fails: the file must be fixed."""
        raise ValueError(str(self.problem))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The problem, located."""
        return f"{self.problem}  (invalid fixture)"

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the problem is."""
        return self.path, self.problem.line - 1, str(self.problem)
