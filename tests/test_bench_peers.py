"""bench/peers.py's documented command in a short form: dqn_ref's RL-Zoo preset and SB3 with
RL-Zoo's, run by seed and merged into one report (needs the peers extra)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sb3_dqn import RL_ZOO, sb3_available

pytestmark = pytest.mark.skipif(not sb3_available(), reason="the peers extra is absent")
ROOT = Path(__file__).resolve().parent.parent
SHORT = ["--env", "mountaincar", "--workers", "1", "--steps", "200", "--sb3-steps", "200"]


def peers(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.peers", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )


def test_peers_runs_an_rl_zoo_environment_by_seed_and_merges_the_seeds(tmp_path: Path) -> None:
    for seed in ("0", "1"):
        result = peers(
            *SHORT, "--seeds", seed, "--eval-interval", "100", "--out", str(tmp_path / seed)
        )
        assert result.returncode == 0, result.stderr
    merged = peers(
        "--merge", str(tmp_path / "0"), str(tmp_path / "1"), "--out", str(tmp_path / "m")
    )
    assert merged.returncode == 0, merged.stderr
    assert "MountainCar-v0: dqn_ref's mountaincar preset" in merged.stdout
    assert "solved at mean >= -110" in merged.stdout
    payload = json.loads((tmp_path / "m").read_text())
    assert payload["seeds"] == [0, 1]
    assert sorted((run["seed"], run["implementation"]) for run in payload["runs"]) == [
        (0, "dqn_ref"),
        (0, "sb3"),
        (1, "dqn_ref"),
        (1, "sb3"),
    ]
    assert payload["aggregate"]["sb3"]["runs"] == 2
    assert payload["sb3_kwargs"] == json.loads(json.dumps(RL_ZOO["mountaincar"][1]))
    # SB3 collects train_freq (16) steps at a time, so it may pass its length by up to 15.
    for run in payload["runs"]:
        assert run["steps"] == 200 if run["implementation"] == "dqn_ref" else run["steps"] < 216

    # Seeds of different comparisons, or a seed twice, are not reported together.
    other = peers(
        *SHORT[:-1], "150", "--seeds", "2", "--eval-interval", "100", "--out", str(tmp_path / "2")
    )
    assert other.returncode == 0, other.stderr
    refused = peers("--merge", str(tmp_path / "0"), str(tmp_path / "2"))
    assert refused.returncode != 0 and "--merge files differ in sb3_steps" in refused.stderr
    twice = peers("--merge", str(tmp_path / "0"), str(tmp_path / "0"))
    assert twice.returncode != 0 and "repeat a seed" in twice.stderr
