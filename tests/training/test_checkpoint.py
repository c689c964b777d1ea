"""dqn_ref.training.checkpoint and resume on the real CartPole-v1: what a checkpoint holds, and that
a run interrupted and resumed ends exactly as one never interrupted (spec/reliability.md#resume)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

import dqn_ref.training.build as build
import dqn_ref.training.train as train_module
from dqn_ref.batch import Batch
from dqn_ref.config import DQNConfig
from dqn_ref.loop import updates_due
from dqn_ref.presets import cartpole
from dqn_ref.replay import ReplayBuffer
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.saved_run import evaluate_saved_run

TOTAL_STEPS = 600
STOP_AT = 290  # between the evaluations at 150 and 300, in the middle of episodes
WALL_CLOCK_COLUMNS = ("wall_time_s", "train_time_s")


class StopAt:
    """A stop request at a given agent step, as SIGINT would make one at an unknown step."""

    def __init__(self, step: int):
        self.step = step
        self.signal_number: int | None = None

    def should_stop(self, step: int) -> bool:
        return step >= self.step


def tiny_run(num_envs: int, **changes: Any) -> DQNConfig:
    """The default preset in 600 steps, learning from step 100, evaluating every 150 steps."""
    tiny = {
        "num_envs": num_envs,
        "total_steps": TOTAL_STEPS,
        "learning_starts": 100,
        "buffer_size": 1_000,
        "batch_size": 32,
        "eval_interval": 150,
        "eval_episodes": 2,
        "final_eval_episodes": 2,
        "checkpoint_replay": True,
    }
    return cartpole.replace(**{**tiny, **changes})


def comparable_rows(run_dir: Path) -> list[dict[str, str]]:
    """metrics.csv without its wall-clock column, which no two runs share."""
    rows = read_metrics(run_dir / "metrics.csv")
    return [{k: v for k, v in row.items() if k not in WALL_CLOCK_COLUMNS} for row in rows]


def assert_same_learning_state(first: Path, second: Path) -> None:
    """Both networks and the optimiser's moments equal, bit for bit."""
    first_agent = load_checkpoint(first / "checkpoint.pt")["agent"]
    second_agent = load_checkpoint(second / "checkpoint.pt")["agent"]
    for network in ("online_net", "target_net"):
        for name, tensor in first_agent[network].items():
            assert torch.equal(tensor, second_agent[network][name]), f"{network}.{name}"
    for index, moments in first_agent["optimizer"]["state"].items():
        for name, tensor in moments.items():
            assert torch.equal(tensor, second_agent["optimizer"]["state"][index][name]), name


def interrupt_then_resume(config: DQNConfig, run_dir: Path) -> train_module.TrainResult:
    with pytest.raises(
        TrainingInterruptedError, match=re.escape("resume with: python -m dqn_ref.run resume")
    ):
        train_module.train(config, run_dir, "cartpole", progress=False, stop=StopAt(STOP_AT))
    assert STOP_AT <= load_checkpoint(run_dir / "checkpoint.pt")["counters"]["step"] < TOTAL_STEPS
    # A run killed between checkpoints has written metrics rows the checkpoint does not know of;
    # resume must drop them, not keep them twice.
    with (run_dir / "metrics.csv").open("a") as metrics:
        metrics.write("train,999,99,1.0,5,5,0.5,0.1,,,\r\n")
    return train_module.resume(run_dir, progress=False)


@pytest.mark.parametrize("num_envs", [1, 4])
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(
    tmp_path: Path, num_envs: int
) -> None:
    """With the replay buffer saved, stopping at step 290 and resuming gives the metrics.csv
    (wall-clock aside) and the final networks and optimiser of a run never stopped; evaluations
    at 300, 450 and 600 and the final one included, so the evaluation environments resume too."""
    config = tiny_run(num_envs)
    whole = train_module.train(config, tmp_path / "whole", "cartpole", progress=False)
    resumed = interrupt_then_resume(config, tmp_path / "resumed")
    assert comparable_rows(tmp_path / "resumed") == comparable_rows(tmp_path / "whole")
    assert_same_learning_state(tmp_path / "resumed", tmp_path / "whole")
    assert (resumed.steps, resumed.episodes, resumed.updates) == (
        whole.steps,
        whole.episodes,
        whole.updates,
    )
    assert resumed.final_eval == whole.final_eval


def test_resume_without_the_replay_buffer_refills_it_and_says_it_is_not_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --checkpoint-replay the resumed run finishes, skips the updates due while its empty
    buffer refills to learning_starts transitions, and says why it is not bit-exact."""
    config = tiny_run(4, checkpoint_replay=False)
    result = interrupt_then_resume(config, tmp_path / "run")
    out = capsys.readouterr().out
    assert "not bit-exact: the replay buffer was not saved (--checkpoint-replay)" in out
    assert TOTAL_STEPS <= result.steps < TOTAL_STEPS + 4
    assert result.updates == updates_due(config, result.steps)
    # learning_starts = 100 steps of refilling at one update per train_frequency steps (the
    # preset's 8: 12.5 updates), give or take the lockstep's rounding.
    refill_updates = config.learning_starts / config.train_frequency
    assert refill_updates - 1 <= result.updates_skipped <= refill_updates + 2


def test_checkpoint_holds_everything_needed_to_continue(tmp_path: Path) -> None:
    """Both networks, the optimiser, the counters, the loop's state (epsilon follows from its
    step), the RNG states of python, numpy, torch and the environments, and, with the flag, the
    replay buffer's filled rows: bytes_needed's 45 bytes per CartPole transition."""
    config = tiny_run(4, total_steps=300)
    train_module.train(config, tmp_path / "run", progress=False)
    payload = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert set(payload["agent"]) == {"online_net", "target_net", "optimizer", "generator"}
    assert payload["counters"]["step"] == payload["loop"]["step"] >= 300
    assert {"episode_return", "episode_length", "obs", "next_eval_step"} <= set(payload["loop"])
    assert set(payload["rng"]["global"]) >= {"python", "numpy", "torch"}
    assert isinstance(payload["envs"], bytes) and isinstance(payload["eval_envs"], bytes)
    replay = payload["replay"]
    assert replay["size"] == payload["loop"]["step"]
    replay_bytes = sum(
        replay[name].nbytes for name in ("obs", "next_obs", "action", "reward", "terminated")
    )
    assert replay_bytes == ReplayBuffer.bytes_needed(replay["size"], (4,), torch.float32)

    train_module.train(config.replace(checkpoint_replay=False), tmp_path / "small", progress=False)
    assert load_checkpoint(tmp_path / "small" / "checkpoint.pt")["replay"] is None


def test_a_run_checkpointed_on_a_gpu_resumes_and_evaluates_on_a_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CUDA generator's state (16 bytes of Philox seed and offset) does not fit a CPU generator:
    from another kind of device the generators start from their seeds, the rest is restored, and
    the resumed run says it is not bit-exact. Simulated by marking a CPU checkpoint as CUDA's."""
    run_dir = tmp_path / "run"
    config = tiny_run(1, total_steps=300, eval_interval=0)
    with pytest.raises(TrainingInterruptedError):
        train_module.train(config, run_dir, progress=False, stop=StopAt(150))
    payload = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    cuda_generator_state = torch.zeros(16, dtype=torch.uint8)
    payload["device"] = "cuda"
    payload["agent"]["generator"] = cuda_generator_state
    payload["rng"]["eval"] = cuda_generator_state
    torch.save(payload, run_dir / "checkpoint.pt")
    _, summary = evaluate_saved_run(run_dir, 2, None, torch.device("cpu"))
    assert summary.episodes == 2
    result = train_module.resume(run_dir, progress=False, device="cpu")
    assert result.steps == 300
    assert "not bit-exact: it ran on cuda" in capsys.readouterr().out


def test_a_checkpoint_whose_replay_sampler_is_an_older_torch_generator_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CartPole checkpoint written before the replay sampler was a numpy generator holds the
    buffer's rows with a torch generator's state: resume keeps the rows, restarts the sampler from
    its seed, finishes the run and says why it is not bit-exact."""
    config = tiny_run(4)
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingInterruptedError):
        train_module.train(config, run_dir, "cartpole", progress=False, stop=StopAt(STOP_AT))
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    older = payload["replay"]
    del older["rng"]
    older["generator"] = torch.Generator().get_state()
    older["generator_device"] = "cpu"
    torch.save(payload, run_dir / "checkpoint.pt")
    result = train_module.resume(run_dir, progress=False)
    out = capsys.readouterr().out
    assert "not bit-exact: its replay buffer was saved with an older dqn_ref's sampler" in out
    assert result.steps >= TOTAL_STEPS
    assert result.updates_skipped == 0  # the rows were kept, so no update waited for a refill


@pytest.mark.parametrize("n_step", [1, 5])
def test_after_a_resume_without_the_buffer_the_first_update_waits_for_the_refill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_step: int
) -> None:
    """spec/reliability.md#resume: the emptied buffer refills to max(learning_starts,
    batch_size) transitions before the next update, as a new run's does: the first update after
    the resume is the first one the schedule (every train_frequency steps) has once the buffer
    holds that many. One update sooner would sample a handful of transitions (with n-step returns
    none of them complete, so that sampling could never finish)."""
    config = tiny_run(1, checkpoint_replay=False, n_step=n_step, eval_interval=0)
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingInterruptedError):
        train_module.train(config, run_dir, "cartpole", progress=False, stop=StopAt(STOP_AT))
    held_at_each_sample: list[int] = []

    class RecordedReplayBuffer(ReplayBuffer):
        def sample(self, batch_size: int) -> Batch:
            held_at_each_sample.append(len(self))
            return super().sample(batch_size)

    monkeypatch.setattr(build, "ReplayBuffer", RecordedReplayBuffer)
    result = train_module.resume(run_dir, progress=False)
    refilled = max(config.learning_starts, config.batch_size)
    assert refilled <= held_at_each_sample[0] < refilled + config.train_frequency
    assert result.updates == updates_due(config, TOTAL_STEPS)
    assert result.updates_skipped + len(held_at_each_sample) == (
        updates_due(config, TOTAL_STEPS) - updates_due(config, STOP_AT)
    )
