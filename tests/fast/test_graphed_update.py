"""GraphedUpdate against the reference update, DQNAgent.update (spec/algorithm.md#graphed-update).

On the CPU the graphed update runs uncaptured; it must change the networks bit for bit as the
reference DQNAgent.update does on the same minibatches, with the step size read from a tensor
that set_learning_rate changes in place. With CUDA the captured graph is held to the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.fast.device_replay import DeviceFrameReplay
from dqn_ref.fast.graphed_update import WARMUP_UPDATES, GraphedUpdate, graph_inputs
from dqn_ref.training.build import make_agent

OBS_SHAPE = (4, 84, 84)
NUM_ACTIONS = 3

CONFIG = DQNConfig(
    env_id="ALE/Pong-v5",
    network="nature_cnn",
    optimizer="adam",
    learning_rate=1e-3,
    optimizer_eps=1.5e-4,
    max_grad_norm=10.0,
    batch_size=4,
    device_replay=True,
    graphed_update=True,
)

devices = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


def filled_replay(device: str, n_step: int) -> DeviceFrameReplay:
    """A replay of two copies' random 84x84 frames, 40 transitions each, one episode end."""
    rng = np.random.default_rng(0)
    replay = DeviceFrameReplay(200, OBS_SHAPE, 2, device, seed=1, n_step=n_step, gamma=0.9)
    obs = rng.integers(0, 256, (2, *OBS_SHAPE), dtype=np.uint8)
    for step in range(40):
        next_obs = np.concatenate(
            [obs[:, 1:], rng.integers(0, 256, (2, 1, 84, 84), dtype=np.uint8)], axis=1
        )
        ended = np.array([step == 20, False])
        replay.add(
            obs, rng.integers(0, NUM_ACTIONS, 2), rng.normal(size=2), next_obs, ended,
            episode_end=ended,
        )  # fmt: skip
        obs = next_obs
    return replay


def twin_agents(config: DQNConfig, device: str) -> tuple[DQNAgent, DQNAgent]:
    """The reference agent (plain optimiser, float step size) and one built for graphed_update,
    with the same initial networks."""
    torch.manual_seed(0)
    reference = DQNAgent(
        config.replace(graphed_update=False), OBS_SHAPE, NUM_ACTIONS, torch.device(device)
    )
    graphed = make_agent(config, OBS_SHAPE, NUM_ACTIONS, torch.device(device))
    graphed.online_net.load_state_dict(reference.online_net.state_dict())
    graphed.target_net.load_state_dict(reference.target_net.state_dict())
    return reference, graphed


def assert_same_networks(expected: DQNAgent, actual: DQNAgent) -> None:
    for name, value in expected.online_net.state_dict().items():
        assert torch.equal(actual.online_net.state_dict()[name], value), name


@pytest.mark.parametrize("device", devices)
@pytest.mark.parametrize(
    "options",
    [{}, {"double_q": True, "dueling": True, "n_step": 3, "loss": "mse", "max_grad_value": 1.0}],
    ids=["pong", "double-dueling-3step-mse"],
)
def test_each_graphed_update_changes_the_networks_as_the_eager_update(
    device: str, options: dict[str, object]
) -> None:
    """Graphed update P1: same replay, same generator state, same step sizes (changed between
    updates): after every update, warm-up, capture and replays alike, theta and the loss equal
    DQNAgent.update's bit for bit, and so does the mean Q of the taken actions."""
    config = CONFIG.replace(**options)
    reference, graphed = twin_agents(config, device)
    reference_replay, graphed_replay = (filled_replay(device, config.n_step) for _ in range(2))
    update = GraphedUpdate(graphed, graphed_replay, config.batch_size)
    for number in range(WARMUP_UPDATES + 3):
        learning_rate = 1e-3 / (number + 1)
        reference.set_learning_rate(learning_rate)
        graphed.set_learning_rate(learning_rate)
        expected = reference.update(reference_replay.draw(config.batch_size))
        outcome = update()
        assert torch.equal(outcome.loss, expected.loss), number
        assert torch.equal(outcome.mean_q_taken, expected.mean_q_taken), number
        assert_same_networks(reference, graphed)


def test_the_step_size_is_a_tensor_set_in_place() -> None:
    """Graphed update P2: the optimiser reads its step size from one tensor, into which each
    update writes the step size the loop set (a captured graph keeps reading that tensor), at
    the dtype that gives the float step size's bits."""
    _, graphed = twin_agents(CONFIG, "cpu")
    update = GraphedUpdate(graphed, filled_replay("cpu", 1), CONFIG.batch_size)
    learning_rate = graphed.optimizer.param_groups[0]["lr"]
    assert isinstance(learning_rate, torch.Tensor) and learning_rate.dtype == torch.float64
    graphed.set_learning_rate(2.5e-4)
    update()
    assert graphed.optimizer.param_groups[0]["lr"] is learning_rate
    assert learning_rate.item() == 2.5e-4


def test_graph_inputs_change_when_the_optimiser_state_is_replaced() -> None:
    """Graphed update P3: loading a checkpoint into the optimiser replaces the tensors a graph
    read, and graph_inputs says so (the next update captures again)."""
    _, graphed = twin_agents(CONFIG, "cpu")
    replay = filled_replay("cpu", 1)
    update = GraphedUpdate(graphed, replay, CONFIG.batch_size)
    update()
    before = graph_inputs(graphed, replay)
    assert graph_inputs(graphed, replay) == before
    graphed.set_learning_rate(1e-4)
    update()
    assert graph_inputs(graphed, replay) == before
    graphed.optimizer.load_state_dict(graphed.optimizer.state_dict())
    assert graph_inputs(graphed, replay) != before
    before = graph_inputs(graphed, replay)
    moments = graphed.optimizer.state[graphed.online_parameters[0]]
    moments["exp_avg"] = moments["exp_avg"].clone()
    assert graph_inputs(graphed, replay) != before


def test_the_graphed_update_needs_an_agent_built_for_it() -> None:
    reference, _ = twin_agents(CONFIG, "cpu")
    with pytest.raises(ValueError, match="capturable_optimizer"):
        GraphedUpdate(reference, filled_replay("cpu", 1), 4)


def test_configs_the_graphed_update_cannot_run_are_refused() -> None:
    with pytest.raises(DQNRefError, match="device-replay"):
        CONFIG.replace(device_replay=False)
    with pytest.raises(DQNRefError, match="optimizer adam"):
        CONFIG.replace(optimizer="rmsprop")
