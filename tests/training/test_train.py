"""The training loop end to end on the real CartPole-v1: what it stores (eq-target P6) and the run
folder it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import dqn_ref.training.build as build
import dqn_ref.training.checkpoint as checkpoint_module
import dqn_ref.training.train as train_module
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import evaluate, evaluation_envs
from dqn_ref.loop import updates_due
from dqn_ref.presets import cartpole, get_preset, paper
from dqn_ref.replay import ReplayBuffer
from dqn_ref.training.checkpoint import load_checkpoint, restore_agent
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.saved_run import evaluate_saved_run
from tests.scripted_env import ScriptedStep, ScriptedVectorEnv

TIME_LIMIT = 8  # short enough that most random-policy episodes end by truncation


def collect(config: DQNConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReplayBuffer:
    """Run the real loop with a random policy and no learning; return the buffer it filled."""
    buffers: list[ReplayBuffer] = []

    class RecordedReplayBuffer(ReplayBuffer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            buffers.append(self)

    monkeypatch.setattr(build, "ReplayBuffer", RecordedReplayBuffer)
    config = config.replace(
        total_steps=400,
        total_episodes=0,
        max_episode_steps=TIME_LIMIT,
        buffer_size=1000,
        learning_starts=10_000,
        eval_interval=0,
        final_eval_episodes=0,
        epsilon_schedule="linear",
        epsilon_start=1.0,
        epsilon_end=1.0,
    )
    train_module.train(config, tmp_path / "run", progress=False)
    return buffers[0]


def replay_physics(obs: np.ndarray, action: int) -> tuple[np.ndarray, bool]:
    """CartPole's own dynamics from state `obs`: the true next observation and termination."""
    env: Any = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = obs.astype(np.float64)
    next_obs, _, terminated, _, _ = env.step(action)
    return next_obs, terminated


@pytest.mark.parametrize("truncation_as_terminal", [False, True])
def test_truncated_transitions_keep_the_true_next_observation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, truncation_as_terminal: bool
) -> None:
    """eq-target P6: every stored s' is CartPole's physics applied to (s, a), also at a truncation,
    where the reset observation would be wrong; d is the physics' own termination, unless
    truncation_as_terminal (the paper preset) also sets it at the time limit."""
    config = (paper if truncation_as_terminal else cartpole).replace(reward_clip=True)
    buffer = collect(config, tmp_path, monkeypatch)
    stored = len(buffer)
    assert stored == 400
    obs, next_obs = buffer.obs[:stored].numpy(), buffer.next_obs[:stored].numpy()
    actions, terminated = buffer.action[:stored].numpy(), buffer.terminated[:stored].numpy()
    truncations = 0
    for row in range(stored):
        expected_next, expected_terminated = replay_physics(obs[row], int(actions[row]))
        np.testing.assert_allclose(next_obs[row], expected_next, atol=1e-5)
        if row + 1 == stored:
            break  # whether the last row ended an episode is not visible from the buffer
        episode_ended = not np.allclose(next_obs[row], obs[row + 1])
        truncated_here = episode_ended and not expected_terminated
        truncations += truncated_here
        assert terminated[row] == (
            expected_terminated or (truncation_as_terminal and truncated_here)
        )
    assert truncations >= 10, "the time limit should have truncated many episodes"


@pytest.mark.parametrize("num_envs", [1, 4])
def test_autoreset_steps_are_not_stored_or_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, num_envs: int
) -> None:
    """Alg. step 5: the step after an episode's end, which resets that copy of the env, adds no
    row: every stored CartPole reward is the +1 of a real step (an autoreset step's is 0), and
    the rows number the finished episodes' steps plus those of the episodes still running. With
    one copy, consecutive rows chain (s' of one is s of the next) within an episode."""
    buffer = collect(cartpole.replace(num_envs=num_envs), tmp_path, monkeypatch)
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    lengths = [int(row["length"]) for row in rows if row["kind"] == "train"]
    assert bool((buffer.reward[: len(buffer)] == 1.0).all())
    assert sum(lengths) <= len(buffer) and len(buffer) - sum(lengths) < num_envs * TIME_LIMIT
    if num_envs == 1:
        boundaries = sum(
            not np.allclose(buffer.next_obs[j].numpy(), buffer.obs[j + 1].numpy())
            for j in range(len(buffer) - 1)
        )
        assert boundaries == len(lengths) - (1 if sum(lengths) == len(buffer) else 0)


def test_run_folder_holds_config_metrics_checkpoint_curve_and_summary(tmp_path: Path) -> None:
    """A short real run writes every promised file, and its checkpoint restores the agent."""
    config = cartpole.replace(
        num_envs=1,
        total_steps=1_500,
        learning_starts=200,
        eval_interval=500,
        eval_episodes=3,
        final_eval_episodes=4,
        buffer_size=2_000,
        solved_threshold=1.0,  # every evaluation counts as solved: the first one sets the times
        stop_when_solved=False,  # and the run goes on to total_steps all the same
    )
    run_dir = tmp_path / "run"
    result = train_module.train(config, run_dir, "cartpole", progress=False)

    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["preset"] == "cartpole"
    restored_config = DQNConfig(
        **{**saved["config"], "hidden_sizes": tuple(saved["config"]["hidden_sizes"])}
    )
    assert restored_config == config

    rows = read_metrics(run_dir / "metrics.csv")
    evaluations = [row for row in rows if row["kind"] == "eval"]
    assert [int(row["step"]) for row in evaluations] == [500, 1000, 1500]
    assert all(int(row["length"]) == 3 for row in evaluations)
    (final,) = [row for row in rows if row["kind"] == "final"]
    assert (int(final["step"]), int(final["length"])) == (1500, 4)
    train_rows = [row for row in rows if row["kind"] == "train"]
    assert sum(int(row["length"]) for row in train_rows) <= 1_500
    assert all(float(row["return"]) == float(row["length"]) for row in train_rows)  # +1 per step

    assert (run_dir / "curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 1_500 == result.steps
    # Alg. step 7: one update at learning_starts, then one every train_frequency agent steps.
    expected_updates = (1_500 - 200) // config.train_frequency + 1
    assert summary["updates"] == expected_updates
    assert summary["final_eval"]["episodes"] == 4
    # Seconds to solve count the evaluations up to the solving one; training seconds leave them out.
    assert summary["first_solved_step"] == 500
    assert 0 < summary["eval_time_s"] < summary["wall_time_s"]
    assert 0 < summary["first_solved_train_time_s"] < summary["first_solved_time_s"]
    assert (
        summary["first_solved_time_s"] - summary["first_solved_train_time_s"]
        <= (summary["eval_time_s"])
    )

    payload = load_checkpoint(run_dir / "checkpoint.pt")
    assert payload["counters"] == {
        "step": 1_500,
        "episode": result.episodes,
        "updates": expected_updates,
    }
    loaded_config, agent = restore_agent(payload, torch.device("cpu"))
    assert loaded_config == config
    # The restored greedy policy replays the final evaluation exactly: same weights, same env seeds.
    final_envs = evaluation_envs(config, final=True)
    returns = evaluate(agent.online_net, final_envs, 0.0, torch.Generator(), torch.device("cpu"))
    assert result.final_eval is not None
    assert float(returns.mean()) == result.final_eval.mean == summary["final_eval"]["mean"]


def short_run(total_steps: int, **changes: Any) -> DQNConfig:
    """The default preset cut to a few hundred steps: learning early, no evaluation unless asked."""
    short = {
        "num_envs": 1,
        "learning_starts": 100,
        "buffer_size": 1_000,
        "eval_interval": 0,
        "final_eval_episodes": 0,
    }
    return cartpole.replace(total_steps=total_steps, **{**short, **changes})


def test_several_env_copies_count_every_real_step_and_update_on_schedule(tmp_path: Path) -> None:
    """With num_envs copies a lockstep step adds up to num_envs agent steps (autoreset steps add
    none), so a run ends within num_envs - 1 steps past total_steps, and updates still follow
    Alg. step 7's schedule in agent steps; evaluations come at the first step past each interval."""
    config = short_run(1_000, num_envs=4, eval_interval=300, eval_episodes=2)
    result = train_module.train(config, tmp_path / "run", progress=False)
    assert 1_000 <= result.steps < 1_000 + 4
    assert result.updates == updates_due(config, result.steps)
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    eval_steps = [int(row["step"]) for row in rows if row["kind"] == "eval"]
    assert len(eval_steps) == 3
    assert all(300 * k <= step < 300 * k + 4 for k, step in enumerate(eval_steps, start=1))
    train_rows = [row for row in rows if row["kind"] == "train"]
    assert sum(int(row["length"]) for row in train_rows) <= result.steps


def test_every_evaluation_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    """Alg. step 9 writes checkpoint.pt at each evaluation, through a temporary file and a rename,
    so no temporary file is left behind."""
    config = short_run(600, eval_interval=300, eval_episodes=2)
    train_module.train(config, tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["counters"]["step"] == 600
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_unreadable_and_foreign_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    """A truncated file, a torch file that is not a dqn_ref checkpoint, and a checkpoint whose
    config has a field this version lacks each raise DQNRefError, never a raw exception."""
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(b"PK\x03\x04 not a whole zip")
    with pytest.raises(DQNRefError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(DQNRefError, match="not a dqn_ref checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(DQNRefError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    config = short_run(200)
    train_module.train(config, tmp_path / "run", progress=False)
    payload = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    payload["config"]["future_field"] = 1
    with pytest.raises(DQNRefError, match="does not fit this dqn_ref"):
        restore_agent(payload, torch.device("cpu"))


def test_two_runs_with_the_same_seed_are_identical(tmp_path: Path) -> None:
    """spec/reliability.md#determinism: on CPU, the same preset and seed give the same metrics.csv
    (its wall-clock column aside) and the same final weights, bit for bit; another seed does not."""
    config = short_run(500, num_envs=4, eval_interval=250, eval_episodes=2, final_eval_episodes=2)
    for name, seed in (("first", 5), ("second", 5), ("other", 6)):
        train_module.train(config.replace(seed=seed), tmp_path / name, progress=False)

    def rows(name: str) -> list[dict[str, str]]:
        return [
            {k: v for k, v in row.items() if k not in ("wall_time_s", "train_time_s")}
            for row in read_metrics(tmp_path / name / "metrics.csv")
        ]

    def weights(name: str) -> dict[str, torch.Tensor]:
        state: dict[str, torch.Tensor] = load_checkpoint(tmp_path / name / "checkpoint.pt")[
            "agent"
        ]["online_net"]
        return state

    assert rows("first") == rows("second") != rows("other")
    first, second, other = weights("first"), weights("second"), weights("other")
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    """spec/reliability.md#numerical-guard: a learning rate of 1e30 sends the weights to 1e30
    after one Adam step and the Q-values past float32's range after two; the run stops with a
    message naming the step, and checkpoint.pt still holds the step-100 state from before
    learning started."""
    config = short_run(600, learning_starts=150, eval_interval=100, eval_episodes=2)
    run_dir = tmp_path / "run"
    with pytest.raises(DQNRefError) as error:
        train_module.train(config.replace(learning_rate=1e30), run_dir, progress=False)
    message = str(error.value)
    assert "became non-finite by step" in message and "lower --learning-rate" in message
    assert f"checkpoint.pt in {run_dir} keeps the last good state (step 100)" in message
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    assert payload["counters"]["step"] == 100
    assert all(bool(torch.isfinite(t).all()) for t in payload["agent"]["online_net"].values())


class FakeClock:
    """A clock that advances one second each time it is read: time without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_checkpoints_come_every_checkpoint_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spec/reliability.md#checkpoints: without evaluations, checkpoint.pt is written each time
    checkpoint_minutes of the run's clock have passed since the last one (0.5 minutes here, on a
    clock read a few times per step), and at the end; with 0, only at the end."""
    written_at: list[tuple[int, float]] = []
    save = checkpoint_module.save_checkpoint

    def recording_save(path: Path, config: DQNConfig, agent: Any, spaces: Any, run: Any) -> None:
        written_at.append((run.loop.step, clock.now))
        save(path, config, agent, spaces, run)

    monkeypatch.setattr(train_module, "save_checkpoint", recording_save)
    clock = FakeClock()
    config = short_run(300, checkpoint_minutes=0.5)
    train_module.train(config, tmp_path / "timed", progress=False, clock=clock)
    *timed, (final_step, _) = written_at
    assert final_step == 300 and len(timed) >= 3
    gaps = np.diff([0.0] + [seconds for _, seconds in timed])
    assert (gaps >= 30).all() and (gaps <= 30 + 5).all()
    assert [step for step, _ in timed] == sorted({step for step, _ in timed})

    written_at.clear()
    clock = FakeClock()
    train_module.train(
        config.replace(checkpoint_minutes=0), tmp_path / "untimed", progress=False, clock=clock
    )
    assert [step for step, _ in written_at] == [300]


class KilledAt:
    """A process killed without warning at a step: no checkpoint, the run just ends."""

    def __init__(self, step: int):
        self.step = step
        self.signal_number: int | None = None

    def should_stop(self, step: int) -> bool:
        if step >= self.step:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after it runs
        return False


def test_a_killed_run_resumes_from_its_last_timed_checkpoint(tmp_path: Path) -> None:
    """A run without evaluations killed at step 250 has lost at most checkpoint_minutes: its
    last timed checkpoint is recent, and resume finishes it exactly as a run never killed
    (replay saved, CPU, same clock reads)."""
    config = short_run(400, checkpoint_minutes=0.5, checkpoint_replay=True)
    whole = train_module.train(config, tmp_path / "whole", progress=False, clock=FakeClock())
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train_module.train(config, killed, progress=False, stop=KilledAt(250), clock=FakeClock())
    saved_step = load_checkpoint(killed / "checkpoint.pt")["counters"]["step"]
    assert 200 <= saved_step < 250
    resumed = train_module.resume(killed, progress=False)
    assert (resumed.steps, resumed.episodes, resumed.updates) == (
        whole.steps,
        whole.episodes,
        whole.updates,
    )
    final = [
        load_checkpoint(folder / "checkpoint.pt")["agent"]["online_net"]
        for folder in (tmp_path / "whole", killed)
    ]
    assert all(torch.equal(final[0][name], final[1][name]) for name in final[0])


def test_eval_replays_the_final_evaluation_at_any_epsilon(tmp_path: Path) -> None:
    """spec/reliability.md#evaluation-of-a-saved-run: evaluate_saved_run with the run's own
    episodes and eval_epsilon (0.5 here, so exploration draws matter) gives the final evaluation's
    returns exactly, after evaluations during training have drawn from their own generator."""
    config = short_run(300, eval_interval=100, eval_episodes=2, final_eval_episodes=3)
    config = config.replace(eval_epsilon=0.5)
    result = train_module.train(config, tmp_path / "run", progress=False)
    _, summary = evaluate_saved_run(tmp_path / "run", None, None, torch.device("cpu"))
    assert result.final_eval == summary


def test_a_run_is_judged_by_its_environments_threshold_unless_one_is_stated(
    tmp_path: Path,
) -> None:
    """train() itself states the threshold (Python users call it without the command line):
    MountainCar-v0's -110 from its spec into config.json and summary.json; a stated one wins."""
    tiny = get_preset("mountaincar").replace(
        total_steps=50,
        learning_starts=10,
        eval_interval=25,
        eval_episodes=1,
        final_eval_episodes=1,
        tensorboard=False,
    )
    for stated, expected in [(None, -110.0), (-250.0, -250.0)]:
        run_dir = tmp_path / str(stated)
        result = train_module.train(
            tiny.replace(solved_threshold=stated), run_dir, "mountaincar", progress=False
        )
        assert result.solved_threshold == expected
        saved = json.loads((run_dir / "config.json").read_text())["config"]
        assert saved["solved_threshold"] == expected
    # An untrained car never reaches the top in 200 steps (-200), which -250 counts as solved.
    assert result.first_solved_step == 25


def test_metrics_returns_are_raw_game_scores_while_the_replay_stores_clipped_rewards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eq-reward-clip clips what is stored, never what is logged: a metrics row's return is the
    sum of the episode's raw rewards. Rewards of +-1 (CartPole, Pong) cannot tell the two apart;
    scripted rewards of 5 and -3 can: raw 5 - 3 + 0.5 + 2 = 4.5 and 7 + 5 = 12, where the
    clipped sums would be 1.5 and 2."""
    scripts = [
        [ScriptedStep(5.0), ScriptedStep(-3.0), ScriptedStep(0.5), ScriptedStep(2.0, True)],
        [ScriptedStep(7.0), ScriptedStep(5.0, truncated=True)],
    ]
    monkeypatch.setattr(train_module, "make_env", lambda *_: ScriptedVectorEnv(scripts))
    buffers: list[ReplayBuffer] = []

    class RecordedReplayBuffer(ReplayBuffer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            buffers.append(self)

    monkeypatch.setattr(build, "ReplayBuffer", RecordedReplayBuffer)
    config = cartpole.replace(
        num_envs=2,
        n_step=1,
        total_steps=6,
        learning_starts=1_000,
        eval_interval=0,
        final_eval_episodes=0,
        reward_clip=True,
    )
    train_module.train(config, tmp_path / "run", progress=False)
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert sorted(float(row["return"]) for row in rows) == [4.5, 12.0]
    # Copy 0's four steps clipped, copy 1's two, then its first step after the reset (reward 0).
    stored = buffers[0].reward[: len(buffers[0])].tolist()
    assert sorted(stored) == [-1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_stop_when_solved_ends_training_at_an_evaluation_solved_in_every_episode(
    tmp_path: Path,
) -> None:
    """spec/evaluation.md#stopping-once-solved: with a threshold every episode reaches (1: any
    episode lasts a step), training ends at the first evaluation, the final evaluation still
    runs; the stopped run is finished, so resume refuses it, and once killed before its summary
    it resumes to that summary, training no further."""
    config = short_run(
        900,
        eval_interval=300,
        eval_episodes=2,
        final_eval_episodes=2,
        solved_threshold=1.0,
        stop_when_solved=True,
    )
    result = train_module.train(config, tmp_path / "run", progress=False)
    assert result.steps == 300
    assert result.stable_solved_step == 300
    assert result.final_eval is not None
    with pytest.raises(DQNRefError, match="stopped once solved at step 300"):
        train_module.resume(tmp_path / "run", progress=False)
    (tmp_path / "run" / "summary.json").unlink()
    resumed = train_module.resume(tmp_path / "run", progress=False)
    assert (resumed.steps, resumed.updates) == (result.steps, result.updates)
    unreachable = config.replace(solved_threshold=501.0)  # no episode returns more than 500
    assert train_module.train(unreachable, tmp_path / "full", progress=False).steps == 900
