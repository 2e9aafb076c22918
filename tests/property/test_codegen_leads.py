"""The generated lead evaluator (`engine.codegen`) equals the reference (`engine.record`) on
generated rulesets and their leads: results with their types, or the same RecordError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paths
from generate import Dataset, Ruleset, scenarios
from hypothesis import HealthCheck, Phase, given, note, settings

from engine.codegen import lead_function
from engine.record import LeadEvaluator, RecordError

QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
FAST = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)


def _outcome(evaluate: Any, lead: dict[str, Any]) -> Any:
    try:
        result = evaluate(lead)
    except RecordError as error:
        return ("RecordError", error.errors)
    return paths.typed(
        [result.id, result.score, result.status, dict(result.points), result.missing,
         result.alerts, dict(result.scores)]
    )  # fmt: skip


def _profile() -> settings:
    if settings.get_current_profile_name() not in ("default", "ci"):
        return settings(deadline=None, suppress_health_check=QUIET)
    return settings(max_examples=30, deadline=None, phases=FAST, suppress_health_check=QUIET)


@_profile()
@given(scenarios())
def test_generated_leads_evaluate_as_the_reference(scenario: tuple[Ruleset, Dataset]) -> None:
    ruleset, data = scenario
    if not ruleset.valid or not paths.check(Path("."), {"generated.krl": ruleset.text}).ok:
        return
    note(ruleset.text)
    program = paths.load({"generated.krl": ruleset.text})
    reference = LeadEvaluator(program.compiled)
    generated = lead_function(program.compiled, reference.reader)
    assert generated is not None
    frame = data.tables["leads"]
    leads = [
        {str(k): v for k, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]
    # As text cells, and as an application holds them (the valid rows, typed).
    for lead in [*leads, *program.validate(leads=frame).records("leads")]:
        assert _outcome(generated, lead) == _outcome(reference, lead), lead
