"""The linearity guard of benchmarks/scale.py on small sizes: doubling reps (at the same deals,
and with the deals) must not much more than double the time of any stage (a quadratic step
quadruples it).

Before 873f62f, KPIs per rep found each owner with a list search: this guard measured 5.4x for
deals + KPIs at these sizes; a linear stage measures about 1-2.3x. The bound (3.5x, medians of
3 runs) leaves room for a shared machine without letting a quadratic step through.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_stage_grows_linearly_with_reps_and_deals() -> None:
    ratios = _load().guard(n_reps=2_000, n_deals=8_000)
    stages = ("validation", "pay", "deals+kpis")
    assert set(ratios) == {f"{s} x2 {what}" for s in stages for what in ("reps", "all")}
    assert all(ratio < 3.5 for ratio in ratios.values()), ratios


def test_sizes_read_as_the_flags_write_them() -> None:
    scale = _load()
    assert scale.sizes("100k, 1M,10M,2500") == [100_000, 1_000_000, 10_000_000, 2_500]
    assert [scale.shown(n) for n in (100_000, 1_000_000, 2_500)] == ["100k", "1M", "2500"]
