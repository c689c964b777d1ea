"""`pytest --benchmark-only` from the project root runs the benchmarks in bench/.

testpaths (pyproject.toml) makes a bare `pytest` collect tests/, whose tests the benchmark plugin
would all skip under --benchmark-only; with that flag and no paths given, bench/ is collected
instead. `pytest bench --benchmark-only` (tox -e bench) and a bare `pytest` are unchanged.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    benchmark_only = config.getoption("benchmark_only", default=False)
    if benchmark_only and config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        config.args = [str(config.rootpath / "bench")]
