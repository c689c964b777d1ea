"""A resume that starts fresh environments (spec/reliability.md#resume: ale-py's games do not
pickle), on a tiny Pong run: the fresh copies start new episodes, so the replay's open episodes
must end there (each copy's next frame stack is the new episode's own), the loop's resetting
flags must be the fresh copies' (none is autoresetting), and the episodes in progress are dropped
unlogged. Everything the fresh start does not change must agree with the run never stopped:
counters, episodes, the evaluation's generator. Episodes are cut at 10 agent steps, which no Pong
point comes within, so every logged episode lasts exactly 10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dqn_ref.training.build as build
import dqn_ref.training.checkpoint as checkpoint_module
import dqn_ref.training.train as train_module
from dqn_ref.config import DQNConfig
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.loop import updates_due
from dqn_ref.presets import cartpole, get_preset
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.metrics import read_metrics
from tests.training.resume_state import StopAt, differing, groups

EPISODE_STEPS = 10
CONFIG = get_preset("pong").replace(
    num_envs=2,
    total_steps=60,
    max_episode_steps=EPISODE_STEPS,
    learning_starts=20,
    batch_size=4,
    train_frequency=4,
    buffer_size=400,  # 200 slots a copy: every frame of the run stays
    target_update_interval=16,
    eval_interval=20,
    eval_episodes=1,
    eval_max_episode_steps=EPISODE_STEPS,
    eval_epsilon=0.5,
    final_eval_episodes=0,
    torch_threads=1,
    checkpoint_replay=True,
    tensorboard=False,
)


class Recorded:
    """Every transition added to the run's frame replay, per copy, in order: (obs, next_obs)."""

    def __init__(self) -> None:
        self.added: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {0: [], 1: []}
        self.buffers: list[FrameReplayBuffer] = []


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Train with a frame replay that records what it is given; no curve (not looked at)."""
    record = Recorded()

    class RecordingFrameReplay(FrameReplayBuffer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            record.buffers.append(self)

        def add(self, obs: Any, action: Any, reward: Any, next_obs: Any, terminated: Any,
                *, episode_end: Any, env_ids: Any = None) -> None:  # fmt: skip
            columns = range(self.num_envs) if env_ids is None else env_ids
            for row, column in enumerate(columns):
                record.added[int(column)].append((np.array(obs[row]), np.array(next_obs[row])))
            super().add(obs, action, reward, next_obs, terminated, episode_end=episode_end,
                        env_ids=env_ids)  # fmt: skip

    monkeypatch.setattr(build, "FrameReplayBuffer", RecordingFrameReplay)
    monkeypatch.setattr(train_module, "plot_curve", lambda *_: None)
    return record


def stop_and_resume(config: DQNConfig, run_dir: Path, stop_at: int) -> tuple[dict[str, Any], Any]:
    """Stop at `stop_at` agent steps, then resume; the loop state it stopped with, the result."""
    with pytest.raises(TrainingInterruptedError):
        train_module.train(config, run_dir, progress=False, stop=StopAt(stop_at))
    stopped = load_checkpoint(run_dir / "checkpoint.pt")["loop"]
    return stopped, train_module.resume(run_dir, progress=False)


def train_rows(run_dir: Path) -> list[dict[str, str]]:
    return [row for row in read_metrics(run_dir / "metrics.csv") if row["kind"] == "train"]


def test_after_a_fresh_start_mid_episode_each_stored_frame_stack_is_the_one_played(
    tmp_path: Path, recorded: Recorded
) -> None:
    """Stopped at step 30, half-way through each copy's second episode (15 steps each: 10, then
    5): the resumed copies start new episodes, and every transition the buffer holds, those before
    the resume and after it, gives back the very stacks (s, s') the copy played, the first after
    the resume included (not the old episode's last frames with the new one's first). The dropped
    episodes are not logged; every logged one lasts 10 steps: one each before, one each after."""
    config = CONFIG.replace(total_steps=50, eval_interval=0)
    stopped, result = stop_and_resume(config, tmp_path / "run", 30)
    assert stopped["episode_length"].tolist() == [5, 5]
    assert (result.steps, result.updates, result.updates_skipped) == (
        50,
        updates_due(config, 50),
        0,
    )
    buffer = recorded.buffers[-1]
    slots, columns = buffer.held_transitions()
    assert len(slots) == sum(len(added) for added in recorded.added.values())
    for column, added in recorded.added.items():
        order = np.argsort(slots[columns == column])
        batch = buffer.gather(slots[columns == column][order], columns[columns == column][order])
        assert np.array_equal(batch.obs.numpy(), np.stack([obs for obs, _ in added]))
        assert np.array_equal(batch.next_obs.numpy(), np.stack([next_obs for _, next_obs in added]))
    rows = train_rows(tmp_path / "run")
    assert [int(row["length"]) for row in rows] == [EPISODE_STEPS] * len(rows)
    assert len(rows) == 2 + 2


# Where the final checkpoints of a run resumed with fresh environments and of the whole run differ
# (groups of paths): the new episodes' observations, the loss summed, the networks and optimiser
# learned from other frames, and the agent's generator (the whole run spent one more act on the
# autoreset step that the fresh reset replaces); with the buffer saved, the frames and actions it
# stores; without it (in neither checkpoint), the updates skipped while it refilled.
FRESH_START_CHANGES = {
    "loop.obs",
    "loop.loss_sum",
    "agent.online_net",
    "agent.target_net",
    "agent.optimizer",
    "agent.generator",
}
BUFFER_CHANGES = {True: {"replay.frames", "replay.action"}, False: {"loop.updates_skipped"}}


@pytest.mark.parametrize("checkpoint_replay", [True, False])
def test_a_fresh_start_at_episode_ends_agrees_with_the_whole_run_but_for_the_new_episodes(
    tmp_path: Path, recorded: Recorded, checkpoint_replay: bool
) -> None:
    """Stopped at step 40, just as both copies' second episodes ended (their next steps would be
    autoresets): the fresh copies' first steps are real steps of new episodes, so no episode is
    dropped and the resumed run logs the whole run's episodes at its steps, 10 steps each. Its
    final checkpoint differs from the whole run's only in FRESH_START_CHANGES and BUFFER_CHANGES:
    the loop's counters, its episode bookkeeping, the evaluation's generator (the evaluation at 60
    acts at epsilon 0.5), the global generators and the replay's sampler agree."""
    config = CONFIG.replace(checkpoint_replay=checkpoint_replay)
    train_module.train(config, tmp_path / "whole", progress=False)
    stopped, result = stop_and_resume(config, tmp_path / "resumed", 40)
    assert stopped["resetting"].tolist() == [True, True]
    assert (result.steps, result.episodes) == (60, 6)
    rows = train_rows(tmp_path / "resumed")
    assert [(row["step"], row["episode"], row["length"]) for row in rows] == [
        (row["step"], row["episode"], row["length"]) for row in train_rows(tmp_path / "whole")
    ]
    assert [int(row["length"]) for row in rows] == [EPISODE_STEPS] * 6
    assert groups(differing(tmp_path / "whole", tmp_path / "resumed")) == (
        FRESH_START_CHANGES | BUFFER_CHANGES[checkpoint_replay]
    )


def test_a_fresh_start_begins_each_episodes_return_and_length_at_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CartPole whose environments are not saved (as if they did not pickle), stopped
    mid-episode: the episodes in progress are dropped, and the new ones count from zero, so every
    logged episode's return equals its length (CartPole pays 1 a step), before the resume and
    after it."""
    monkeypatch.setattr(checkpoint_module, "capture_env_state", lambda _: None)
    monkeypatch.setattr(train_module, "plot_curve", lambda *_: None)
    config = cartpole.replace(
        num_envs=2,
        total_steps=300,
        learning_starts=100,
        buffer_size=1_000,
        eval_interval=0,
        final_eval_episodes=0,
        tensorboard=False,
    )
    stopped, _ = stop_and_resume(config, tmp_path / "run", 170)
    assert stopped["episode_length"].all() and stopped["episode_return"].all()  # mid-episode
    rows = train_rows(tmp_path / "run")
    after = [row for row in rows if int(row["step"]) > 170]
    assert len(after) >= 4
    assert all(float(row["return"]) == float(row["length"]) for row in rows)
