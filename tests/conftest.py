"""Shared pytest setup: hypothesis profiles.

"ci" (the default) has no deadline (a first call may compile or import) and a modest number of
examples, derandomised so a run is reproducible; "dev" explores more and randomly:
`pytest --hypothesis-profile=dev` (hypothesis's pytest plugin overrides the default loaded here).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")
