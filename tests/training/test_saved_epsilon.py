"""An explicit epsilon of 0 for a saved run is greedy, never "not given": `eval --epsilon 0`,
evaluate_saved_run, SavedAgent.evaluate and SavedAgent.record at 0 play the greedy policy of a
run whose own eval_epsilon is 1 (every action random),
spec/reliability.md#evaluation-of-a-saved-run. The greedy returns are worked out independently:
the checkpoint's network, the final evaluation's environments and generator, evaluate() at 0."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import dqn_ref
from dqn_ref.config import DQNConfig
from dqn_ref.evaluate import evaluate, evaluation_envs, final_evaluation_generator
from dqn_ref.presets import cartpole
from dqn_ref.run.main import main
from dqn_ref.training.checkpoint import load_checkpoint, restore_agent
from dqn_ref.training.saved_run import evaluate_saved_run
from dqn_ref.training.train import train

CPU = torch.device("cpu")
EPISODES = 4
CONFIG = cartpole.replace(
    num_envs=1,
    total_steps=300,
    learning_starts=100,
    buffer_size=1_000,
    eval_interval=0,
    eval_epsilon=1.0,  # the run's own evaluations act at random
    final_eval_episodes=EPISODES,
    tensorboard=False,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "run"
    train(CONFIG, folder, progress=False)
    return folder


def returns_at(run_dir: Path, epsilon: float, episodes: int) -> np.ndarray:
    """The checkpoint's network played under the final evaluation's protocol at `epsilon`."""
    _, agent = restore_agent(load_checkpoint(run_dir / "checkpoint.pt"), CPU)
    config: DQNConfig = CONFIG.replace(final_eval_episodes=episodes)
    envs = evaluation_envs(config, final=True)
    try:
        generator = final_evaluation_generator(config, CPU)
        return evaluate(agent.online_net, envs, epsilon, generator, CPU)
    finally:
        envs.close()


def test_evaluating_a_saved_run_at_epsilon_0_is_greedy(run_dir: Path) -> None:
    """evaluate_saved_run and SavedAgent.evaluate at 0 give the greedy returns; the run's own
    eval_epsilon (1, every action random) gives other returns, so the two cannot be confused."""
    greedy = returns_at(run_dir, 0.0, EPISODES)
    random = returns_at(run_dir, 1.0, EPISODES)
    assert not np.array_equal(greedy, random)
    config, summary = evaluate_saved_run(run_dir, None, 0.0, CPU)
    assert config.eval_epsilon == 0.0
    assert (summary.mean, summary.min, summary.max) == (greedy.mean(), greedy.min(), greedy.max())
    api = dqn_ref.load(run_dir, "cpu").evaluate(epsilon=0)
    assert (api.mean, api.episodes) == (greedy.mean(), EPISODES)
    assert dqn_ref.load(run_dir, "cpu").evaluate().mean == random.mean()  # the run's default


def test_eval_command_with_epsilon_0_is_greedy(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval RUN --epsilon 0` prints epsilon 0 and the greedy mean."""
    greedy = returns_at(run_dir, 0.0, EPISODES)
    assert main(["eval", str(run_dir), "--epsilon", "0", "--device", "cpu"]) == 0
    line = capsys.readouterr().out
    match = re.search(r"\(epsilon ([\d.]+), seed 0\): mean ([-\d.]+),", line)
    assert match is not None, line
    assert (float(match[1]), match[2]) == (0.0, f"{greedy.mean():.1f}")


def test_recording_a_saved_run_at_epsilon_0_films_the_greedy_episode(run_dir: Path) -> None:
    """record(epsilon=0) plays the final evaluation's first episode greedily: the return of a
    one-episode greedy evaluation, not the random one of the run's eval_epsilon."""
    (greedy,) = returns_at(run_dir, 0.0, 1)
    (random,) = returns_at(run_dir, 1.0, 1)
    assert greedy != random
    agent = dqn_ref.load(run_dir, "cpu")
    assert agent.record(epsilon=0).episode_return == greedy
    assert agent.record().episode_return == random
