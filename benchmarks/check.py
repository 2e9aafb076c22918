"""How fast `koncept check` is: the client rulesets end to end, and a generated 5,000-line ruleset.

Run: `python benchmarks/check.py` (from the repository root, in the project's venv).
Goals (issue 2): `koncept check` on the four client rulesets under 0.5 s wall time including
interpreter start-up; parse + check of a 5,000-line ruleset under 0.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from dsl.check import check
from dsl.parser import parse
from dsl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("contech-saas", "fintech", "industrie-services", "services-b2b")


def generated_ruleset(lines: int) -> str:
    """A valid ruleset of about `lines` lines: scores, pipelines, KPIs and plans, repeated."""
    out = [
        'ruleset generated "Généré" {',
        "  currency EUR",
        "  rounding half_up 0.01",
        "}",
        "record lead {",
        '  budget one_of confirmed "Confirmé", to_validate "À valider", blocking "Bloquant"',
        "  employees integer",
        "  timing_months number",
        "}",
        "record deal {",
        "  need_identified boolean",
        "  budget_confirmed boolean",
        "}",
    ]
    block = 0
    while len(out) < lines:
        block += 1
        out += [
            f'score s{block} "Score {block}" on lead max 45 {{',
            '  budget "Budget" { confirmed -> 20, to_validate -> 10, blocking -> 0 }',
            '  size "Taille" {',
            "    when employees >= 250 -> 10",
            "    when employees >= 50 -> 6",
            "    otherwise -> 2",
            "  }",
            '  timing "Timing" {',
            "    when timing_months < 3 -> 15",
            "    when timing_months <= 6 -> 8",
            "    otherwise -> 2",
            "  }",
            "  status {",
            "    SQL when score > 30",
            "    MQL otherwise",
            "  }",
            "}",
            f"pipeline p{block} on deal {{",
            f"  stage a{block} {{",
            "    probability 10%",
            "    max_days 14d",
            "    exit need: need_identified",
            "  }",
            f"  stage b{block} {{",
            "    probability 40%",
            "    max_days 21d",
            "    exit budget: budget_confirmed and amount > 10K",
            "  }",
            f"  expect conversion a{block} -> b{block} >= 50%",
            "}",
            f'kpi k{block} "Taux {block}" on deal = '
            "count(status == won) / count(status in [won, lost]) target >= 30%",
        ]
    # Several scores on the lead: the qualification says which one scores each lead.
    routes = [f"  use s{i} when employees < {i * 10}" for i in range(1, block)]
    out += ["qualify lead {", *routes, f"  use s{block} otherwise", "}"]
    return "\n".join(out) + "\n"


def time_parse_and_check(text: str, repeat: int = 5) -> float:
    """Best-of-`repeat` seconds to parse and check one source text."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        parsed = parse(SourceFile("generated.krl", text))
        assert parsed.module is not None, parsed.diagnostics[:3]
        result = check([parsed.module], strict=True)
        timings.append(time.perf_counter() - start)
        assert not result.diagnostics, result.diagnostics[:3]
    return min(timings)


def time_cli(repeat: int = 5) -> tuple[float, float]:
    """Median and best wall time of `koncept check --strict` on the four clients (a new process)."""
    paths = [str(ROOT / "rulesets" / client) for client in CLIENTS]
    command = [sys.executable, "-m", "engine.cli.main", "check", "--strict", *paths]
    subprocess.run(command, check=True, cwd=ROOT)  # warm the OS cache and Lark's table cache
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), min(timings)


def main() -> None:
    """Print the figures."""
    text = generated_ruleset(5000)
    line_count = text.count("\n")
    best = time_parse_and_check(text)
    median_cli, best_cli = time_cli()
    print(
        f"parse + check, generated ruleset of {line_count:,} lines: "
        f"{best * 1000:.0f} ms (best of 5)"
    )
    print(
        f"koncept check --strict on {len(CLIENTS)} client rulesets, wall time incl. start-up: "
        f"{median_cli * 1000:.0f} ms median, {best_cli * 1000:.0f} ms best (5 runs)"
    )


if __name__ == "__main__":
    main()
