"""dqn_ref/training/build.py: the parts a config asks for, and the configs that could not learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError
from dqn_ref.fast.compiled_update import CompiledUpdate
from dqn_ref.fast.device_replay import DeviceFrameReplay
from dqn_ref.fast.graphed_update import GraphedUpdate
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.loop_state import LoopState
from dqn_ref.presets import PRESETS, cartpole, pong
from dqn_ref.training.build import make_agent, make_replay_buffer, make_update, run_loop
from dqn_ref.training.train import train
from tests.scripted_env import ScriptedVectorEnv


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


def test_device_replay_and_graphed_update_are_built_from_the_config() -> None:
    """device_replay gives Atari frames the DeviceFrameReplay and graphed_update the
    GraphedUpdate; without them the run's parts are today's; CartPole has no device replay, so
    graphed_update there is a one-line error."""
    atari = EnvSpaces((4, 84, 84), np.dtype(np.uint8), 6)
    config = pong.replace(buffer_size=1_000, device="cpu")
    graphed = config.replace(device_replay=True, graphed_update=True)
    agent = make_agent(graphed, atari.obs_shape, atari.num_actions, torch.device("cpu"))
    replay = make_replay_buffer(graphed, atari, torch.device("cpu"))
    assert isinstance(replay, DeviceFrameReplay)
    assert isinstance(make_update(graphed, agent, replay), GraphedUpdate)
    plain = make_replay_buffer(config, atari, torch.device("cpu"))
    assert type(plain) is FrameReplayBuffer
    assert not isinstance(make_update(config, agent, plain), GraphedUpdate)
    cartpole_graphed = cartpole.replace(device_replay=True, graphed_update=True)
    spaces = EnvSpaces((4,), np.dtype(np.float32), 2)
    cartpole_agent = make_agent(cartpole_graphed, (4,), 2, torch.device("cpu"))
    cartpole_replay = make_replay_buffer(cartpole_graphed, spaces, torch.device("cpu"))
    with pytest.raises(DQNRefError, match="drop --graphed-update"):
        make_update(cartpole_graphed, cartpole_agent, cartpole_replay)


def test_a_pong_run_with_every_gpu_option_trains_on_the_cpu(tmp_path: Path) -> None:
    """device_replay, graphed_update (uncaptured on a CPU) and overlap_env_step together: a
    short Pong run stores, learns and finishes with the updates it was due."""
    config = pong.replace(
        device="cpu", num_envs=2, total_steps=64, learning_starts=32, train_frequency=8,
        buffer_size=2_000, batch_size=4, eval_interval=0, final_eval_episodes=0,
        tensorboard=False, device_replay=True, graphed_update=True, overlap_env_step=True,
    )  # fmt: skip
    result = train(config, tmp_path / "run", progress=False)
    assert result.steps == 64
    assert result.updates == (64 - 32) // 8 + 1


VECTOR = EnvSpaces((4,), np.dtype(np.float32), 2)
FRAMES = EnvSpaces((4, 6, 6), np.dtype(np.uint8), 6)  # small stacked frames: the frame buffer


def one_episode_stream(spaces: EnvSpaces, length: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(obs, next_obs) of one copy's episode that does not end, in the shape `spaces` says;
    frames as stacks shifted by one frame, as the Atari pipeline gives them."""
    if spaces.obs_dtype == np.uint8:
        frames = (np.arange(length + 4, dtype=np.uint8)[:, None, None] * np.ones((1, 6, 6))).astype(
            np.uint8
        )
        return [(frames[t : t + 4], frames[t + 1 : t + 5]) for t in range(length)]
    return [
        (np.full(4, t, dtype=np.float32), np.full(4, t + 1, dtype=np.float32))
        for t in range(length)
    ]


@pytest.mark.parametrize("spaces", [VECTOR, FRAMES], ids=["vector", "frames"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_replay_buffer_returns_the_configs_n_step_transitions(
    preset: str, spaces: EnvSpaces
) -> None:
    """eq-nstep through make_replay_buffer, for every preset's n_step and gamma and both buffers
    (pong-cpu's 3-step returns go to the frame buffer): in an episode that goes on, every sampled
    transition carries R^(n) = sum_k gamma^k r_{t+k} and the discount gamma^n, or for one step r
    and no discount (eq-target's own gamma)."""
    config = PRESETS[preset].replace(num_envs=1, buffer_size=64, batch_size=8)
    replay = make_replay_buffer(config, spaces, torch.device("cpu"))
    for obs, next_obs in one_episode_stream(spaces, 30):
        replay.add(obs[None], [0], [1.0], next_obs[None], [False], episode_end=[False])
    batch = replay.sample(16)
    n, gamma = config.n_step, config.gamma
    expected_reward = sum(gamma**k for k in range(n))
    assert torch.allclose(batch.reward, torch.full((16,), expected_reward), rtol=1e-6)
    if n == 1:
        assert batch.discount is None
    else:
        assert batch.discount is not None
        assert torch.allclose(batch.discount, torch.full((16,), gamma**n), rtol=1e-6)


def test_the_compiled_update_and_the_overlapped_loop_are_built_from_the_config() -> None:
    """compile gives the CompiledUpdate, overlap_env_step the overlapped loop; without them, the
    reference's update and loop."""
    spaces = EnvSpaces((4,), np.dtype(np.float32), 2)
    agent = make_agent(cartpole, (4,), 2, torch.device("cpu"))
    replay = make_replay_buffer(cartpole, spaces, torch.device("cpu"))
    assert isinstance(make_update(cartpole.replace(compile=True), agent, replay), CompiledUpdate)
    assert not isinstance(make_update(cartpole, agent, replay), CompiledUpdate)
    state = LoopState.start(np.zeros((1, 4), np.float32), torch.device("cpu"), 0)
    update = make_update(cartpole, agent, replay)
    loops = {}
    for overlap in (False, True):
        config = cartpole.replace(overlap_env_step=overlap)
        loop = run_loop(config, agent, ScriptedVectorEnv([[]]), replay, state, update)
        loops[overlap] = loop.__name__  # type: ignore[attr-defined]  # a generator's function
    assert loops == {False: "dqn_loop", True: "overlapped_dqn_loop"}
