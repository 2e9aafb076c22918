"""`koncept simulate`'s goal (issue 12): the 0-200% curve of a 3-measure plan in 1% steps under
1 s. Times contech-saas's AE plan (new_logo, upsell, renewal on a curve with a cap) through
`engine.simulate.pay_curve` (the engine's `pay_plan` at each attainment), after checking three
points against the brief; then the cost at a 1,000-quantile normal law, and the whole command
(interpreter start-up included) writing HTML with its charts.

    .venv/bin/python benchmarks/simulate.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository first: `benchmarks/engine.py` would otherwise stand for the `engine` package.
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (5)")
    args = parser.parse_args()

    from engine.loader import load
    from engine.simulate import (
        attainment_grid,
        normal_distribution,
        pay_curve,
        reference_quotas,
        synthetic_cost,
    )

    program = load(ROOT / "rulesets" / "contech-saas")
    plan = program.book.plans["ae_2026"]
    quotas = reference_quotas(plan, {}, {})
    grid = attainment_grid(Decimal("0.01"))
    curve = pay_curve(plan, quotas, grid)
    # The brief: 50% of the 10,000 quarterly target at 80%, 100% at 100%, capped at 200%.
    expected = {"0.8": "5000.00", "1": "10000.00", "2": "20000.00"}
    for level, total in expected.items():
        assert curve.at(Decimal(level)).total == Decimal(total), (level, curve.at(Decimal(level)))

    def best(run: object) -> tuple[float, float]:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times), statistics.median(times)

    low, mid = best(lambda: pay_curve(plan, quotas, grid))
    print(
        f"curve 0-200% in 1% steps, 3 measures ({len(grid)} points x 3): "
        f"best {low * 1000:.1f} ms, median {mid * 1000:.1f} ms  (goal < 1000 ms)"
    )
    law = normal_distribution(Decimal("0.9"), Decimal("0.25"))
    low, mid = best(lambda: synthetic_cost(plan, law, quotas))
    print(
        f"cost at a normal law (1,000 quantiles): best {low * 1000:.1f} ms, "
        f"median {mid * 1000:.1f} ms"
    )
    with tempfile.TemporaryDirectory() as place:
        out = Path(place) / "curve.html"
        command = [
            sys.executable,
            "-m",
            "engine.cli.main",
            "simulate",
            str(ROOT / "rulesets" / "contech-saas"),
            "--plan",
            "ae_2026",
            "--distribution",
            "normal:90%,25%",
            "--out",
            str(out),
        ]
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        print(
            f"koncept simulate ... --out curve.html (start-up, curves, cost, 4 SVG charts): "
            f"best {min(times):.2f} s, median {statistics.median(times):.2f} s"
        )


if __name__ == "__main__":
    main()
