"""Pong step-loop throughput: the environment alone, against gymnasium's own single-env pipeline
(the baseline), act + step + store, one update by batch size, replay sampling against a naive
buffer, and the whole training loop. Each step-loop benchmark records agent steps/s and frames/s
(4 emulator frames per agent step) in extra_info; compare them with the baseline of the same run.

pytest bench/test_pong_loop.py --benchmark-only
(figures with ratios for docs/results.md, from interleaved repeats: python -m bench.pong_figures)

Torch runs one thread (bench/conftest.py), not the pong preset's torch_threads=0 (every core). The
gymnasium baseline needs OpenCV (`pip install opencv-python-headless`) and skips without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from bench.conftest import benchmark_train, devices
from bench.pong_figures import (
    SAMPLE_BATCH_SIZES,
    UPDATE_BATCH_SIZES,
    UPDATE_BUFFER_SIZE,
    ActStepStore,
    gymnasium_pong,
    loop_config,
    random_actions,
    step_gymnasium,
    step_vector,
    synchronize,
)
from bench.random_frames import (
    NUM_ACTIONS,
    OBS_SHAPE,
    allocated_bytes,
    filled_frame_replay,
    filled_stack_replay,
)
from bench.update_options import OPTIONS, make_agent, random_batch
from dqn_ref.agent import DQNAgent
from dqn_ref.envs import ATARI_FRAME_SKIP, make_env
from dqn_ref.presets import pong, pong_cpu
from dqn_ref.replay_interface import Replay

STEPS = 800  # agent steps per round of the env-only and act + step + store benchmarks
UPDATES = 5  # per round of the update benchmarks
SAMPLES = 20  # per round of the replay-sample benchmarks
REPLAY_SIZE = 50_000  # transitions in the sampled buffers (the naive one takes 2.8 GB)
LOOP_STEPS = 800  # agent steps per round of the training loop
# 600 of the 800 steps at the steady rate of one update per 2 agent steps, as in a full run, where
# learning_starts (10,000) is 0.5% of the steps; 301 updates a round.
LOOP_LEARNING_STARTS = 200


def record_rates(benchmark: BenchmarkFixture, agent_steps: int) -> None:
    """Agent steps per round, and agent steps/s and frames/s at the median round."""
    benchmark.extra_info["agent_steps_per_round"] = agent_steps
    benchmark.extra_info["frames_per_agent_step"] = ATARI_FRAME_SKIP
    if benchmark.stats is not None:  # None under --benchmark-disable
        median_s = benchmark.stats.stats.median
        benchmark.extra_info["agent_steps_per_s"] = agent_steps / median_s
        benchmark.extra_info["frames_per_s"] = agent_steps * ATARI_FRAME_SKIP / median_s


@pytest.fixture(scope="module")
def filled_replays() -> Iterator[dict[tuple[str, int, str], Replay]]:
    """Filled buffers by (kind, capacity, device), built once per module: filling the naive 50,000
    transitions writes 2.8 GB."""
    replays: dict[tuple[str, int, str], Replay] = {}
    yield replays
    replays.clear()


def filled(
    replays: dict[tuple[str, int, str], Replay], kind: str, capacity: int, device: str
) -> Replay:
    key = (kind, capacity, device)
    if key not in replays:
        fill = filled_frame_replay if kind == "frame" else filled_stack_replay
        replays[key] = fill(capacity, pong.num_envs, device)
    return replays[key]


# --- env only -----------------------------------------------------------------------------------


@pytest.mark.benchmark(group="pong-env")
def test_env_step_gymnasium_single(benchmark: BenchmarkFixture) -> None:
    """The baseline: one ALE/Pong-v5 env with gymnasium's AtariPreprocessing and
    FrameStackObservation, random actions, reset at episode end."""
    pytest.importorskip("cv2", reason="gymnasium's AtariPreprocessing needs opencv-python")
    env = gymnasium_pong()
    obs, _ = env.reset(seed=0)
    assert obs.shape == OBS_SHAPE
    actions = random_actions(STEPS, 1)[:, 0]

    points = benchmark(step_gymnasium, env, actions)
    assert points > 0  # random play concedes a point every hundred-odd agent steps
    record_rates(benchmark, len(actions))


@pytest.mark.benchmark(group="pong-env")
@pytest.mark.parametrize("num_envs", [1, pong.num_envs], ids=["single", "preset-vector"])
def test_env_step_make_env(benchmark: BenchmarkFixture, num_envs: int) -> None:
    """dqn_ref's make_env: ale-py's C++ vector env with the same pipeline, one copy or the pong
    preset's 8, random actions, next-step autoreset."""
    envs = make_env(pong.env_id, num_envs)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (num_envs, *OBS_SHAPE)
    actions = random_actions(STEPS, num_envs)

    points = benchmark(step_vector, envs, actions)
    assert points > 0
    record_rates(benchmark, actions.size)


# --- act + step + store -------------------------------------------------------------------------


@pytest.mark.benchmark(group="pong-act-step-store")
@pytest.mark.parametrize("device", devices())
def test_act_step_store(benchmark: BenchmarkFixture, device: str) -> None:
    """Epsilon-greedy act on the NatureCNN, env step, FrameReplayBuffer add, with the pong preset's
    8 copies: the training loop without learning."""
    locksteps = STEPS // pong.num_envs
    rounds = 3
    actor = ActStepStore(device, capacity=(rounds + 1) * (locksteps + 1) * pong.num_envs)
    stored = [actor.run(1)]  # warm-up: first forward pass and allocations

    def run() -> None:
        stored.append(actor.run(locksteps))
        synchronize(device)

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    # Every copy stores a transition each lockstep but its autoreset steps (one per episode, and an
    # episode of random Pong lasts some 800 agent steps). Under --benchmark-disable one round runs.
    assert sum(stored[1:]) > 0.95 * (len(stored) - 1) * locksteps * pong.num_envs
    assert len(actor.buffer) == sum(stored)
    record_rates(benchmark, locksteps * pong.num_envs)


# --- one update by batch size -------------------------------------------------------------------


@pytest.mark.benchmark(group="pong-update")
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("batch_size", UPDATE_BATCH_SIZES)
def test_update_only(
    benchmark: BenchmarkFixture,
    filled_replays: dict[tuple[str, int, str], Replay],
    batch_size: int,
    device: str,
) -> None:
    """UPDATES times: sample a minibatch from a filled FrameReplayBuffer, then DQNAgent.update
    (Alg. step 7) with the pong preset's NatureCNN, Adam, Huber loss and grad-norm clipping."""
    buffer = filled(filled_replays, "frame", UPDATE_BUFFER_SIZE, device)
    agent = DQNAgent(pong, OBS_SHAPE, NUM_ACTIONS, torch.device(device))

    def run() -> torch.Tensor:
        loss = torch.zeros((), device=device)
        for _ in range(UPDATES):
            loss = agent.update(buffer.sample(batch_size)).loss
        synchronize(device)
        return loss

    loss = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert torch.isfinite(loss).item()
    benchmark.extra_info["updates_per_round"] = UPDATES
    if benchmark.stats is not None:
        benchmark.extra_info["updates_per_s"] = UPDATES / benchmark.stats.stats.median


@pytest.mark.benchmark(group="pong-update-precision")
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("option", list(OPTIONS))
def test_update_by_precision_and_layout(
    benchmark: BenchmarkFixture, option: str, device: str
) -> None:
    """UPDATES pong-cpu updates (Double DQN, dueling, 3-step) on one minibatch, for each option of
    bench.update_options: the float32 NCHW baseline, channels-last, and bf16 autocast on top."""
    precision, channels_last = OPTIONS[option]
    agent = make_agent(precision, channels_last, device)
    batch = random_batch(32, device=device)

    def run() -> torch.Tensor:
        loss = torch.zeros((), device=device)
        for _ in range(UPDATES):
            loss = agent.update(batch).loss
        synchronize(device)
        return loss

    loss = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert torch.isfinite(loss).item()
    if benchmark.stats is not None:
        benchmark.extra_info["updates_per_s"] = UPDATES / benchmark.stats.stats.median


# --- replay sampling ----------------------------------------------------------------------------


@pytest.mark.benchmark(group="pong-replay-sample")
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("batch_size", SAMPLE_BATCH_SIZES)
@pytest.mark.parametrize("kind", ["frame", "stack"], ids=["FrameReplayBuffer", "naive-stacks"])
def test_replay_sample(
    benchmark: BenchmarkFixture,
    filled_replays: dict[tuple[str, int, str], Replay],
    kind: str,
    batch_size: int,
    device: str,
) -> None:
    """SAMPLES minibatches from REPLAY_SIZE random transitions: dqn_ref's FrameReplayBuffer (each
    frame once) or the naive baseline (obs and next_obs as whole uint8 stacks, dqn_ref's
    ReplayBuffer)."""
    buffer = filled(filled_replays, kind, REPLAY_SIZE, device)

    def run() -> torch.Tensor:
        for _ in range(SAMPLES):
            batch = buffer.sample(batch_size)
        synchronize(device)
        return batch.next_obs

    benchmark(run)
    batch = buffer.sample(batch_size)
    assert batch.obs.shape == (batch_size, *OBS_SHAPE)
    assert batch.obs.dtype == torch.uint8
    # A frame stack's next observation is the observation shifted by one frame.
    assert torch.equal(batch.next_obs[:, :-1], batch.obs[:, 1:])
    benchmark.extra_info["transitions_per_round"] = SAMPLES * batch_size
    benchmark.extra_info["transitions_held"] = len(buffer)
    benchmark.extra_info["bytes_per_transition_of_capacity"] = (
        allocated_bytes(buffer) / buffer.capacity
    )
    benchmark.extra_info["bytes_per_transition_held"] = allocated_bytes(buffer) / len(buffer)
    if benchmark.stats is not None:
        median_s = benchmark.stats.stats.median
        benchmark.extra_info["transitions_per_s"] = SAMPLES * batch_size / median_s


# --- the whole training loop --------------------------------------------------------------------


@pytest.mark.benchmark(group="pong-train-loop")
@pytest.mark.parametrize("device", devices())
def test_full_train_loop(benchmark: BenchmarkFixture, device: str, tmp_path: Path) -> None:
    """dqn_ref.training.train.train on the pong preset for LOOP_STEPS agent steps, learning from
    LOOP_LEARNING_STARTS, a 10,000-transition buffer, no evaluation; set-up included."""
    config = loop_config(LOOP_STEPS, LOOP_LEARNING_STARTS, device)
    inside = benchmark_train(benchmark, config, tmp_path, rounds=2)
    record_rates(benchmark, LOOP_STEPS)
    benchmark.extra_info["agent_steps_per_s_inside_train"] = inside
    benchmark.extra_info["frames_per_s_inside_train"] = [rate * ATARI_FRAME_SKIP for rate in inside]


@pytest.mark.benchmark(group="pong-cpu-train-loop")
@pytest.mark.parametrize("torch_threads", [1, 2, -1], ids=["1-thread", "2-threads", "adaptive"])
def test_pong_cpu_train_loop(
    benchmark: BenchmarkFixture, torch_threads: int, tmp_path: Path
) -> None:
    """train() on the pong-cpu preset (bf16 Double DQN, ALE overlapped with the update) for
    LOOP_STEPS agent steps from LOOP_LEARNING_STARTS at 1, 2 or adaptive torch threads; compare
    them within one run (python -m bench.pong_threads interleaves them, quiet or busy)."""
    config = pong_cpu.replace(
        total_steps=LOOP_STEPS,
        learning_starts=LOOP_LEARNING_STARTS,
        buffer_size=10_000,
        eval_interval=0,
        final_eval_episodes=0,
        torch_threads=torch_threads,
        device="cpu",
    )
    inside = benchmark_train(benchmark, config, tmp_path, rounds=2)
    record_rates(benchmark, LOOP_STEPS)
    benchmark.extra_info["agent_steps_per_s_inside_train"] = inside
