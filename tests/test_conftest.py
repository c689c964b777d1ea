"""The root conftest.py: a bare `pytest --benchmark-only` collects the benchmarks, and a bare
`pytest` still collects the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def collected(*flags: str) -> list[str]:
    """The node ids a pytest run from the project root would collect, without running them."""
    pytest.importorskip("pytest_benchmark")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_benchmark_only_from_the_root_collects_the_benchmarks() -> None:
    ids = collected("--benchmark-only")
    assert ids and all(node_id.startswith("bench/") for node_id in ids)
    assert any("test_cartpole_loop.py" in node_id for node_id in ids)


def test_given_paths_are_kept_under_benchmark_only() -> None:
    ids = collected("--benchmark-only", "tests/test_solve.py")
    assert ids and all(node_id.startswith("tests/test_solve.py::") for node_id in ids)
