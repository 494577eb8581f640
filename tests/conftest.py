"""Shared pytest setup: hypothesis profiles, and a private kernel cache per test module.

"ci" (the default) has no deadline (a first call may compile or import) and a modest number of
examples, derandomised so a run is reproducible; "dev" explores more and randomly:
`pytest --hypothesis-profile=dev` (hypothesis's pytest plugin overrides the default loaded here).
"""

from __future__ import annotations

import pytest
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


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """Compiled kernels of each test module live in a temporary directory (it is also the
    default cache dir while the module runs), so tests never touch the user's cache."""
    base = tmp_path_factory.mktemp("kernel_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(base))
        yield base / "symnum" / "kernels"
