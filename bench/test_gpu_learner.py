"""The GPU learner's pieces against their baselines in the same run: the graphed update against
DQNAgent.update (batch 32 and 256, with its achieved TFLOP/s), the device replay's draw against
FrameReplayBuffer.sample, acting, and the whole Pong loop with and without the GPU options.

pytest bench/test_gpu_learner.py --benchmark-only      (bash bench/gpu_check.sh runs it on a GPU)

The CUDA cases skip without a GPU; the replay cases also run on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture
from torch.utils.flop_counter import FlopCounterMode

from bench.conftest import benchmark_train, devices
from bench.pong_figures import loop_config, synchronize
from bench.random_frames import NUM_ACTIONS, OBS_SHAPE, filled_frame_replay
from dqn_ref.agent import DQNAgent
from dqn_ref.fast.device_replay import DeviceFrameReplay
from dqn_ref.fast.graphed_update import WARMUP_UPDATES, GraphedUpdate
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.presets import pong
from dqn_ref.training.build import make_agent
from dqn_ref.update import UpdateOutcome

REPLAY_SIZE = 50_000  # transitions in the sampled buffers
UPDATES = 50  # per round of the update benchmarks
SAMPLES = 20  # per round of the replay benchmarks
ACTS = 100  # per round of the acting benchmark
LOOP_STEPS = 4_000  # agent steps per round of the training loop
LOOP_LEARNING_STARTS = 1_000
# Dense float32 peak of the GPUs this project measures on (NVIDIA's H200 datasheet: 67 TFLOP/s
# FP32 without tensor cores); achieved/peak is recorded where the GPU's name matches.
FLOAT32_PEAK_TFLOPS = {"H200": 67.0}
CUDA_ONLY = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

GPU_OPTIONS = {"device_replay": True, "graphed_update": True, "overlap_env_step": True}


def replays(device: str) -> tuple[FrameReplayBuffer, DeviceFrameReplay]:
    """A FrameReplayBuffer of REPLAY_SIZE random Pong-sized transitions, and a DeviceFrameReplay
    holding the same slots (loaded from the first's state)."""
    host = filled_frame_replay(REPLAY_SIZE, pong.num_envs, device)
    on_device = DeviceFrameReplay(REPLAY_SIZE, OBS_SHAPE, pong.num_envs, device)
    on_device.load_state_dict(host.state_dict())
    return host, on_device


@pytest.fixture(scope="module")
def filled() -> dict[str, tuple[FrameReplayBuffer, DeviceFrameReplay]]:
    return {}


def filled_on(
    cache: dict[str, tuple[FrameReplayBuffer, DeviceFrameReplay]], device: str
) -> tuple[FrameReplayBuffer, DeviceFrameReplay]:
    if device not in cache:
        cache[device] = replays(device)
    return cache[device]


@pytest.mark.benchmark(group="gpu-replay-sample")
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("batch_size", [32, 256])
@pytest.mark.parametrize("kind", ["FrameReplayBuffer", "DeviceFrameReplay"])
def test_gpu_replay_sample(
    benchmark: BenchmarkFixture,
    filled: dict[str, tuple[FrameReplayBuffer, DeviceFrameReplay]],
    kind: str,
    batch_size: int,
    device: str,
) -> None:
    """SAMPLES minibatches: FrameReplayBuffer's host-drawn sample (the baseline) or the device
    replay's draw, from the same slots."""
    host, on_device = filled_on(filled, device)
    buffer = host if kind == "FrameReplayBuffer" else on_device

    def run() -> torch.Tensor:
        for _ in range(SAMPLES):
            batch = buffer.sample(batch_size)
        synchronize(device)
        return batch.next_obs

    next_obs = benchmark(run)
    assert next_obs.shape == (batch_size, *OBS_SHAPE) and next_obs.device.type == device
    batch = buffer.sample(batch_size)
    assert torch.equal(batch.next_obs[:, :-1], batch.obs[:, 1:])
    if benchmark.stats is not None:
        median_s = benchmark.stats.stats.median
        benchmark.extra_info["transitions_per_s"] = SAMPLES * batch_size / median_s


def update_flops(agent: DQNAgent, replay: DeviceFrameReplay, batch_size: int) -> int:
    """Floating-point operations of one update, counted by torch on one eager update."""
    with FlopCounterMode(display=False) as counter:
        agent.update(replay.draw(batch_size))
    return int(counter.get_total_flops())


@CUDA_ONLY
@pytest.mark.benchmark(group="gpu-update")
@pytest.mark.parametrize("batch_size", [32, 256])
@pytest.mark.parametrize("kind", ["eager", "graphed"])
def test_gpu_update(
    benchmark: BenchmarkFixture,
    filled: dict[str, tuple[FrameReplayBuffer, DeviceFrameReplay]],
    kind: str,
    batch_size: int,
) -> None:
    """UPDATES updates of the pong preset's NatureCNN from the device replay: DQNAgent.update on
    its draw (the baseline) or the CUDA graph of the same; updates/s and achieved TFLOP/s."""
    _, replay = filled_on(filled, "cuda")
    config = pong.replace(batch_size=batch_size)
    if kind == "graphed":
        config = config.replace(**GPU_OPTIONS)
    agent = make_agent(config, OBS_SHAPE, NUM_ACTIONS, torch.device("cuda"))
    flops = update_flops(agent, replay, batch_size)
    update: Callable[[], UpdateOutcome] = lambda: agent.update(replay.draw(batch_size))  # noqa: E731
    if kind == "graphed":
        update = GraphedUpdate(agent, replay, batch_size)
        for _ in range(WARMUP_UPDATES + 1):
            update()  # warm-up and capture, outside the timing

    def run() -> torch.Tensor:
        for _ in range(UPDATES):
            loss = update().loss
        synchronize("cuda")
        return loss

    loss = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert torch.isfinite(loss).item()
    benchmark.extra_info["flops_per_update"] = flops
    if benchmark.stats is not None:
        seconds_per_update = benchmark.stats.stats.median / UPDATES
        benchmark.extra_info["updates_per_s"] = 1 / seconds_per_update
        benchmark.extra_info["achieved_tflops"] = flops / seconds_per_update / 1e12
        for name, peak in FLOAT32_PEAK_TFLOPS.items():
            if name in torch.cuda.get_device_name():
                benchmark.extra_info["share_of_float32_peak"] = (
                    flops / seconds_per_update / 1e12 / peak
                )


@pytest.mark.benchmark(group="gpu-act")
@pytest.mark.parametrize("device", devices())
def test_gpu_act(benchmark: BenchmarkFixture, device: str) -> None:
    """ACTS epsilon-greedy actions for the pong preset's 8 copies (observations to actions on the
    host, as the loop does)."""
    agent = DQNAgent(pong, OBS_SHAPE, NUM_ACTIONS, torch.device(device))
    obs = torch.randint(0, 256, (pong.num_envs, *OBS_SHAPE), dtype=torch.uint8).numpy()

    def run() -> int:
        return sum(int(agent.act(obs, 0.1).sum()) for _ in range(ACTS))

    assert benchmark(run) >= 0
    if benchmark.stats is not None:
        benchmark.extra_info["agent_steps_per_s"] = (
            ACTS * pong.num_envs / benchmark.stats.stats.median
        )


@CUDA_ONLY
@pytest.mark.benchmark(group="gpu-train-loop")
@pytest.mark.parametrize("options", ["plain", "gpu-options"])
def test_gpu_train_loop(benchmark: BenchmarkFixture, options: str, tmp_path: Path) -> None:
    """train() on the pong preset for LOOP_STEPS agent steps on CUDA, learning from
    LOOP_LEARNING_STARTS: today's loop (the baseline) or device_replay + graphed_update +
    overlap_env_step; agent steps/s inside train()."""
    config = loop_config(LOOP_STEPS, LOOP_LEARNING_STARTS, "cuda")
    if options == "gpu-options":
        config = config.replace(**GPU_OPTIONS)
    inside = benchmark_train(benchmark, config, tmp_path, rounds=2)
    benchmark.extra_info["agent_steps_per_s_inside_train"] = inside
