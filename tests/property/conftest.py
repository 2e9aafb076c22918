"""Hypothesis profiles of the property tests: `pytest tests/property --hypothesis-profile=deep`
runs a long search (the tests run 40 examples each otherwise)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
