"""dqn_ref/training/build.py: the parts a config asks for, and the configs that could not learn."""

from __future__ import annotations

from pathlib import Path

import pytest

from dqn_ref.errors import DQNRefError
from dqn_ref.presets import cartpole
from dqn_ref.training.train import train


def test_an_n_step_run_that_could_not_sample_is_a_one_line_error_before_training() -> None:
    """--n-step 5 --learning-starts 0 would make the first update redraw forever (no transition
    of 5 stored steps exists yet); it is refused before anything runs, naming the fix. From
    n_step x num_envs stored transitions on, some copy holds n of its own, so the run is valid."""
    with pytest.raises(DQNRefError, match="raise learning_starts to at least 20") as error:
        cartpole.replace(n_step=5, learning_starts=0, num_envs=4)
    assert "\n" not in str(error.value)
    with pytest.raises(DQNRefError, match="raise buffer_size to at least 20"):
        cartpole.replace(n_step=5, learning_starts=20, num_envs=4, buffer_size=19, batch_size=8)
    cartpole.replace(n_step=5, learning_starts=20, num_envs=4)
    cartpole.replace(n_step=1, learning_starts=0, num_envs=4)


def test_the_smallest_valid_n_step_start_trains(tmp_path: Path) -> None:
    """At learning_starts = n_step x num_envs the first update finds a complete transition."""
    config = cartpole.replace(
        n_step=5,
        num_envs=4,
        learning_starts=20,
        batch_size=8,
        buffer_size=200,
        total_steps=60,
        eval_interval=0,
        final_eval_episodes=0,
    )
    result = train(config, tmp_path / "run", progress=False)
    assert result.updates > 0
