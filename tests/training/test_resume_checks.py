"""dqn_ref/training/resume_checks.py's finished-run check (spec/reliability.md#resume): a run is
finished when its loop is done, by total_steps or by total_episodes, and summary.json is
written; resume refuses it in one line and changes no file."""

from __future__ import annotations

from pathlib import Path

import pytest

import dqn_ref.training.train as train_module
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import cartpole
from dqn_ref.training.resume_checks import check_run_not_finished

BY_EPISODES = cartpole.replace(total_steps=10_000, total_episodes=5)


@pytest.mark.parametrize(
    ("step", "episode", "finished"),
    [(300, 5, True), (300, 4, False), (10_000, 2, True), (9_999, 4, False)],
)
def test_a_run_is_finished_at_its_step_or_its_episode_limit(
    tmp_path: Path, step: int, episode: int, finished: bool
) -> None:
    """total_steps 10,000 and total_episodes 5: 5 episodes at step 300 end the loop as surely as
    10,000 steps do; with summary.json written, either is a finished run."""
    (tmp_path / "summary.json").write_text("{}")
    counters = {"step": step, "episode": episode, "updates": 0}
    if finished:
        with pytest.raises(DQNRefError, match="holds a finished run"):
            check_run_not_finished(tmp_path, BY_EPISODES, counters, metrics_rows=0)
    else:
        check_run_not_finished(tmp_path, BY_EPISODES, counters, metrics_rows=0)
    (tmp_path / "summary.json").unlink()  # killed before its summary: not finished
    check_run_not_finished(tmp_path, BY_EPISODES, counters, metrics_rows=0)


def test_resume_refuses_a_run_that_ended_at_its_episode_limit(tmp_path: Path) -> None:
    """A real run of 3 episodes (total_steps far off) ends by its episode limit; resume refuses
    it and leaves every file's bytes as they were."""
    config = cartpole.replace(
        num_envs=1,
        total_steps=100_000,
        total_episodes=3,
        eval_interval=0,
        final_eval_episodes=1,
        tensorboard=False,
    )
    run_dir = tmp_path / "run"
    result = train_module.train(config, run_dir, progress=False)
    assert result.episodes == 3 and result.steps < config.total_steps
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    with pytest.raises(DQNRefError, match="holds a finished run"):
        train_module.resume(run_dir, progress=False)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
