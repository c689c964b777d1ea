"""eq-eps-greedy (spec/exploration.md) and the agent's update, which composes other equations:
eq-target or eq-double-target, eq-huber, eq-grad-clip, on a network with or without eq-dueling."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dqn_ref.update as update_module
from dqn_ref.agent import DQNAgent, epsilon_greedy
from dqn_ref.batch import Batch
from dqn_ref.bellman import bellman_target, double_bellman_target
from dqn_ref.config import DQNConfig
from dqn_ref.loss import td_loss
from dqn_ref.network import DuelingHead
from dqn_ref.presets import cartpole
from dqn_ref.training.run_logs import MeanQTaken

q_tables = st.integers(1, 16).flatmap(
    lambda rows: st.integers(1, 6).flatmap(
        lambda actions: hnp.arrays(
            np.float32, (rows, actions), elements=st.floats(-100, 100, width=32), unique=True
        )
    )
)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(q_tables, st.integers(0, 2**31 - 1))
def test_zero_epsilon_always_takes_the_greedy_action(q_values: np.ndarray, seed: int) -> None:
    """eq-eps-greedy P1: epsilon = 0 gives argmax_a Q(s, a) in every row."""
    q = torch.from_numpy(q_values)
    assert torch.equal(epsilon_greedy(q, 0.0, generator(seed)), q.argmax(dim=1))


@given(q_tables, st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_actions_are_valid_indices(q_values: np.ndarray, epsilon: float, seed: int) -> None:
    """eq-eps-greedy P2: one int64 action per row, each in {0, ..., |A| - 1}."""
    q = torch.from_numpy(q_values)
    actions = epsilon_greedy(q, epsilon, generator(seed))
    assert actions.shape == (q.shape[0],) and actions.dtype == torch.int64
    assert bool(((actions >= 0) & (actions < q.shape[1])).all())


@given(st.integers(2, 6), st.sampled_from([0.05, 0.3, 0.7, 1.0]))
def test_greedy_action_frequency_is_one_minus_epsilon_plus_epsilon_over_actions(
    num_actions: int, epsilon: float
) -> None:
    """eq-eps-greedy P3: P(greedy action) = 1 - epsilon + epsilon / |A|, and each other action has
    epsilon / |A|. Checked on 40,000 draws against 6 binomial standard deviations (p < 1e-8)."""
    draws = 40_000
    q = torch.zeros(draws, num_actions)
    q[:, 0] = 1.0  # action 0 is greedy in every row
    counts = torch.bincount(
        epsilon_greedy(q, epsilon, generator(1)), minlength=num_actions
    ).double()
    expected = torch.full((num_actions,), epsilon / num_actions)
    expected[0] += 1 - epsilon
    sd = torch.sqrt(draws * expected * (1 - expected))
    assert bool(((counts - draws * expected).abs() <= 6 * sd + 1).all()), counts


def test_agent_update_lowers_the_td_loss_on_a_fixed_batch() -> None:
    """Repeated updates on one minibatch drive its TD loss down: the update composes eq-target,
    eq-huber, eq-grad-clip and the optimiser with the right signs."""
    torch.manual_seed(0)
    config = cartpole.replace(learning_rate=1e-3)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    batch = Batch(
        obs=torch.randn(64, 4),
        action=torch.randint(0, 2, (64,)),
        reward=torch.ones(64),
        next_obs=torch.randn(64, 4),
        terminated=torch.rand(64) < 0.5,
    )
    first = agent.update(batch).loss.item()
    for _ in range(200):
        last = agent.update(batch).loss.item()
    assert last < 0.1 * first, (first, last)
    assert math.isfinite(last)


def test_agent_update_leaves_the_target_network_alone_until_synced() -> None:
    """theta^- changes only through sync_target (Alg. step 8), never through update (step 7); with
    tau = 1 a sync is the hard copy eq-hard."""
    agent = DQNAgent(cartpole.replace(tau=1.0), (4,), 2, torch.device("cpu"))
    target_before = [p.clone() for p in agent.target_net.parameters()]
    batch = Batch(
        torch.randn(8, 4),
        torch.zeros(8, dtype=torch.int64),
        torch.ones(8),
        torch.randn(8, 4),
        torch.zeros(8, dtype=torch.bool),
    )
    agent.update(batch)
    assert all(
        torch.equal(a, b) for a, b in zip(agent.target_net.parameters(), target_before, strict=True)
    )
    agent.sync_target()
    assert all(
        torch.equal(a, b)
        for a, b in zip(agent.target_net.parameters(), agent.online_net.parameters(), strict=True)
    )


def test_act_returns_numpy_actions_for_each_environment() -> None:
    agent = DQNAgent(cartpole, (4,), 2, torch.device("cpu"))
    actions = agent.act(np.zeros((5, 4), dtype=np.float32), epsilon=0.5)
    assert actions.shape == (5,) and actions.dtype == np.int64


def test_epsilon_greedy_worked_example() -> None:
    """eq-eps-greedy by hand with epsilon = 0: Q = ((1, 3), (5, 2), (0, 0)) gives argmax per row
    (1, 0, 0); the tie in row 2 goes to the lowest index."""
    q = torch.tensor([[1.0, 3.0], [5.0, 2.0], [0.0, 0.0]])
    assert epsilon_greedy(q, 0.0, generator()).tolist() == [1, 0, 0]


def random_batch(size: int = 64) -> Batch:
    return Batch(
        obs=torch.randn(size, 4),
        action=torch.randint(0, 2, (size,)),
        reward=torch.ones(size),
        next_obs=torch.randn(size, 4),
        terminated=torch.rand(size) < 0.5,
    )


def drift_target_network(agent: DQNAgent) -> None:
    """Make theta^- differ from theta, as it does between syncs."""
    with torch.no_grad():
        for parameter in agent.target_net.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))


@pytest.mark.parametrize("double_q", [False, True])
def test_update_regresses_towards_the_configured_target(double_q: bool) -> None:
    """The loss update() returns is td_loss(Q(s, a; theta), y) with y from eq-target, or from
    eq-double-target (theta chooses a', theta^- values it) when double_q is set; the networks
    differ, so the two targets differ and only the configured one matches."""
    torch.manual_seed(0)
    agent = DQNAgent(cartpole.replace(double_q=double_q), (4,), 2, torch.device("cpu"))
    drift_target_network(agent)
    batch = random_batch()
    gamma = agent.config.gamma
    with torch.no_grad():
        next_q_online = agent.online_net(batch.next_obs)
        next_q_target = agent.target_net(batch.next_obs)
        q_taken = agent.online_net(batch.obs).gather(1, batch.action.unsqueeze(1)).squeeze(1)
    targets = {
        False: bellman_target(batch.reward, next_q_target, batch.terminated, gamma),
        True: double_bellman_target(
            batch.reward, next_q_online, next_q_target, batch.terminated, gamma
        ),
    }
    assert not torch.allclose(targets[False], targets[True])
    losses = {key: td_loss(q_taken, target, "huber", 1.0) for key, target in targets.items()}
    loss = agent.update(batch).loss
    assert torch.allclose(loss, losses[double_q], rtol=1e-6, atol=1e-7)
    assert not torch.allclose(loss, losses[not double_q], rtol=1e-6, atol=1e-7)


def test_double_q_update_equals_the_dqn_update_while_the_networks_agree() -> None:
    """eq-double-target P3 through the agent: right after construction theta^- = theta, so the
    first update with double_q gives the same loss and the same new weights as without it."""
    batch = random_batch()
    results = []
    for double_q in (False, True):
        torch.manual_seed(0)
        agent = DQNAgent(cartpole.replace(double_q=double_q), (4,), 2, torch.device("cpu"))
        loss = agent.update(batch).loss
        results.append((loss, [p.detach().clone() for p in agent.online_net.parameters()]))
    (plain_loss, plain_weights), (double_loss, double_weights) = results
    assert torch.equal(plain_loss, double_loss)
    assert all(torch.equal(a, b) for a, b in zip(plain_weights, double_weights, strict=True))


@pytest.mark.parametrize(("double_q", "dueling"), [(True, False), (False, True), (True, True)])
def test_agent_options_still_lower_the_td_loss(double_q: bool, dueling: bool) -> None:
    """With Double DQN, the dueling head or both, repeated updates on one minibatch still drive
    its TD loss down; with dueling, both networks end in the head (eq-dueling)."""
    torch.manual_seed(0)
    config = cartpole.replace(double_q=double_q, dueling=dueling)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    for net in (agent.online_net, agent.target_net):
        assert any(isinstance(module, DuelingHead) for module in net.modules()) == dueling
    batch = random_batch()
    first = agent.update(batch).loss.item()
    for _ in range(200):
        last = agent.update(batch).loss.item()
    assert last < 0.1 * first, (first, last)


def test_nature_preset_builds_deepminds_centred_rmsprop() -> None:
    """optimizer=rmsprop is torch's centred RMSprop with the config's alpha and epsilon (Nature's
    squared-gradient momentum 0.95 and min squared gradient 0.01), and its first step matches one
    written out: g2 = (1-a) g^2, g1 = (1-a) g, theta -= lr g / (sqrt(g2 - g1^2) + eps)."""
    config = cartpole.replace(optimizer="rmsprop", learning_rate=2.5e-4, optimizer_eps=0.01)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    optimizer = agent.optimizer
    assert isinstance(optimizer, torch.optim.RMSprop)
    group = optimizer.param_groups[0]
    assert (group["alpha"], group["eps"], group["centered"], group["lr"]) == (
        0.95,
        0.01,
        True,
        2.5e-4,
    )
    before = [p.detach().clone() for p in agent.online_parameters]
    batch = Batch(
        obs=torch.randn(8, 4),
        action=torch.randint(0, 2, (8,)),
        reward=torch.ones(8),
        next_obs=torch.randn(8, 4),
        terminated=torch.zeros(8, dtype=torch.bool),
    )
    agent.update(batch)
    for old, param in zip(before, agent.online_parameters, strict=True):
        grad = optimizer.state[param]["grad_avg"] / (1 - 0.95)  # first step: g1 = (1 - a) g
        square_avg = (1 - 0.95) * grad**2
        expected = old - 2.5e-4 * grad / ((square_avg - ((1 - 0.95) * grad) ** 2).sqrt() + 0.01)
        assert torch.allclose(param.detach(), expected, rtol=1e-4, atol=1e-7)


def test_precision_reaches_both_networks_and_an_update_keeps_float32_weights() -> None:
    """Precision wiring: config.precision is what the online and target networks compute in, and
    a bf16 update leaves weights and optimiser state float32."""
    config = DQNConfig(network="nature_cnn", precision="bfloat16", batch_size=4)
    agent = DQNAgent(config, (4, 84, 84), 6, torch.device("cpu"))
    assert agent.online_net.precision == "bfloat16"
    assert agent.target_net.precision == "bfloat16"
    frames = torch.randint(0, 256, (4, 4, 84, 84), dtype=torch.uint8)
    batch = Batch(
        obs=frames,
        action=torch.zeros(4, dtype=torch.int64),
        reward=torch.ones(4),
        next_obs=frames,
        terminated=torch.zeros(4, dtype=torch.bool),
    )
    before = [parameter.clone() for parameter in agent.online_parameters]
    loss = agent.update(batch).loss
    assert loss.dtype == torch.float32
    assert all(parameter.dtype == torch.float32 for parameter in agent.online_parameters)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.online_parameters, strict=True))
    for state in agent.optimizer.state.values():
        assert state["exp_avg"].dtype == torch.float32


def test_a_soft_sync_moves_the_target_network_tau_of_the_way() -> None:
    """eq-soft P1 through the agent (Alg. step 8): with tau < 1, sync_target makes each target
    weight tau * theta + (1 - tau) * theta^-, not a copy of theta."""
    torch.manual_seed(0)
    agent = DQNAgent(cartpole.replace(tau=0.25), (4,), 2, torch.device("cpu"))
    drift_target_network(agent)
    online = [p.detach().clone() for p in agent.online_parameters]
    target = [p.detach().clone() for p in agent.target_parameters]
    agent.sync_target()
    for new, theta, theta_minus in zip(agent.target_parameters, online, target, strict=True):
        assert torch.allclose(new, 0.25 * theta + 0.75 * theta_minus, rtol=1e-6, atol=1e-7)
        assert not torch.allclose(new, theta)
    assert all(torch.equal(a, b) for a, b in zip(agent.online_parameters, online, strict=True)), (
        "a sync changed theta"
    )


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_the_optimiser_is_the_configured_one_with_the_configured_settings(name: str) -> None:
    """config.optimizer picks torch's Adam or AdamW (AdamW decays the weights apart from the
    gradient), with the config's learning rate, epsilon, weight decay and AMSGrad flag."""
    config = cartpole.replace(
        optimizer=name, learning_rate=3e-4, optimizer_eps=1e-5, weight_decay=0.02, amsgrad=True
    )
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    expected = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    assert type(agent.optimizer) is expected
    group = agent.optimizer.param_groups[0]
    assert (group["lr"], group["eps"], group["weight_decay"], group["amsgrad"]) == (
        3e-4,
        1e-5,
        0.02,
        True,
    )
    assert group["params"] == agent.online_parameters


def test_rmsprop_takes_the_configured_weight_decay() -> None:
    """optimizer=rmsprop passes the config's weight decay to torch's RMSprop, as Adam does."""
    config = cartpole.replace(optimizer="rmsprop", weight_decay=0.02)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    group = agent.optimizer.param_groups[0]
    assert group["weight_decay"] == 0.02
    assert group["params"] == agent.online_parameters


def test_an_agent_restored_from_its_state_dict_continues_as_the_original() -> None:
    """A checkpoint's agent (spec/reliability.md, Resume): an agent built with other weights and
    another seed, loaded from state_dict(), has the same theta and theta^-, then takes the same
    update (the optimiser's moments came with it) and the same epsilon-greedy actions (so did
    the exploration generator)."""
    torch.manual_seed(0)
    original = DQNAgent(cartpole.replace(seed=3), (4,), 2, torch.device("cpu"))
    original.update(random_batch())
    drift_target_network(original)
    original.act(np.zeros((7, 4), dtype=np.float32), epsilon=0.5)  # move the generator on
    torch.manual_seed(1)
    restored = DQNAgent(cartpole.replace(seed=4), (4,), 2, torch.device("cpu"))
    # deepcopy, as saving to a file does: optimizer.state_dict() shares the live moment tensors.
    restored.load_state_dict(copy.deepcopy(original.state_dict()))
    for name in ("online_net", "target_net"):
        pairs = zip(
            getattr(restored, name).parameters(), getattr(original, name).parameters(), strict=True
        )
        assert all(torch.equal(a, b) for a, b in pairs), name
    batch = random_batch()
    assert torch.equal(restored.update(batch).loss, original.update(batch).loss)
    pairs = zip(restored.online_parameters, original.online_parameters, strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(restored.act(obs, 0.5), original.act(obs, 0.5))


@given(q_tables, st.sampled_from([0.3, 0.7, 1.0]), st.integers(0, 2**31 - 1))
def test_actions_depend_only_on_the_generator_given(
    q_values: np.ndarray, epsilon: float, seed: int
) -> None:
    """eq-eps-greedy, reproducibly: both the explore-or-not draw and the random action come from
    the generator passed in, so the same generator state gives the same actions whatever torch's
    global generator holds (spec/reliability.md, Determinism)."""
    q = torch.from_numpy(q_values).repeat(64, 1)
    torch.manual_seed(seed)
    first = epsilon_greedy(q, epsilon, generator(seed))
    torch.manual_seed(seed + 1)
    assert torch.equal(epsilon_greedy(q, epsilon, generator(seed)), first)


def test_the_target_network_takes_no_gradient() -> None:
    """theta^- is never trained (Alg. step 7 regresses theta only): none of its parameters
    requires a gradient, so a forward pass through it builds no graph."""
    agent = DQNAgent(cartpole, (4,), 2, torch.device("cpu"))
    assert not any(p.requires_grad for p in agent.target_net.parameters())
    assert all(p.requires_grad for p in agent.online_net.parameters())


def a_batch(size: int = 8, discount: torch.Tensor | None = None) -> Batch:
    return Batch(
        obs=torch.randn(size, 4),
        action=torch.randint(0, 2, (size,)),
        reward=torch.randn(size),
        next_obs=torch.randn(size, 4),
        terminated=torch.arange(size) % 3 == 0,
        discount=discount,
    )


@pytest.mark.parametrize(
    ("optimizer", "optimizer_class"),
    [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("rmsprop", torch.optim.RMSprop)],
)
def test_the_optimiser_receives_every_configured_setting(
    optimizer: str, optimizer_class: type[torch.optim.Optimizer]
) -> None:
    """The config's optimizer kind, learning_rate, optimizer_eps, weight_decay and amsgrad (Adam,
    AdamW) or rmsprop_alpha (RMSprop, centred) reach the optimiser, every value off its default,
    and it steps the online network's parameters."""
    config = cartpole.replace(
        optimizer=optimizer,
        learning_rate=3e-4,
        optimizer_eps=2e-5,
        weight_decay=0.03,
        amsgrad=True,
        rmsprop_alpha=0.9,
    )
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    assert type(agent.optimizer) is optimizer_class
    (group,) = agent.optimizer.param_groups
    assert (group["lr"], group["eps"], group["weight_decay"]) == (3e-4, 2e-5, 0.03)
    if optimizer == "rmsprop":
        assert (group["alpha"], group["centered"]) == (0.9, True)
    else:
        assert group["amsgrad"] is True
    assert group["params"] == agent.online_parameters


@pytest.mark.parametrize(
    ("max_grad_value", "max_grad_norm"), [(None, None), (0.5, None), (None, 2.0), (0.25, 3.0)]
)
def test_the_update_clips_with_the_configured_value_and_norm(
    monkeypatch: pytest.MonkeyPatch, max_grad_value: float | None, max_grad_norm: float | None
) -> None:
    """eq-grad-clip gets the config's max_grad_value and max_grad_norm, after backward (every
    gradient present) and before the optimiser step."""
    received: list[tuple[float | None, float | None, bool]] = []

    def recording_clip(parameters: Any, max_value: float | None, max_norm: float | None) -> None:
        parameters = list(parameters)
        received.append((max_value, max_norm, all(p.grad is not None for p in parameters)))

    monkeypatch.setattr(update_module, "clip_gradients", recording_clip)
    config = cartpole.replace(max_grad_value=max_grad_value, max_grad_norm=max_grad_norm)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    agent.update(a_batch())
    assert received == [(max_grad_value, max_grad_norm, True)]


@pytest.mark.parametrize(("loss", "huber_delta"), [("huber", 1.0), ("huber", 0.3), ("mse", 1.0)])
def test_the_update_takes_the_configured_loss(loss: str, huber_delta: float) -> None:
    """The loss the update returns is eq-huber with the config's delta or eq-mse, computed here
    from the same networks before the step."""
    config = cartpole.replace(loss=loss, huber_delta=huber_delta)
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    batch = a_batch()
    with torch.no_grad():
        next_q = agent.target_net(batch.next_obs)
        target = bellman_target(batch.reward, next_q, batch.terminated, config.gamma)
        q_taken = agent.online_net(batch.obs).gather(1, batch.action[:, None]).squeeze(1)
    error = q_taken - target
    if loss == "mse":
        expected = (error**2).mean()
    else:
        quadratic = error.abs() <= huber_delta
        expected = torch.where(
            quadratic, 0.5 * error**2, huber_delta * (error.abs() - 0.5 * huber_delta)
        ).mean()
    torch.testing.assert_close(agent.update(batch).loss, expected)


def test_an_n_step_batch_is_discounted_by_its_own_gamma_to_the_k() -> None:
    """eq-nstep: the update bootstraps each transition with its batch's discount gamma^k, not
    with gamma: with discounts 0.5 and 0.25 and gamma 0.99 the loss is the one of those targets."""
    config = cartpole.replace(gamma=0.99, loss="mse")
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    discount = torch.tensor([0.5, 0.25] * 4)
    batch = a_batch(discount=discount)
    with torch.no_grad():
        best_next = agent.target_net(batch.next_obs).max(dim=1).values
        target = batch.reward + discount * (~batch.terminated) * best_next
        q_taken = agent.online_net(batch.obs).gather(1, batch.action[:, None]).squeeze(1)
    torch.testing.assert_close(agent.update(batch).loss, ((q_taken - target) ** 2).mean())


def test_gamma_reaches_the_one_step_target() -> None:
    """eq-target with the config's gamma (0.5 here) for a one-step batch."""
    config = cartpole.replace(gamma=0.5, loss="mse")
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    batch = a_batch()
    with torch.no_grad():
        best_next = agent.target_net(batch.next_obs).max(dim=1).values
        target = batch.reward + 0.5 * (~batch.terminated) * best_next
        q_taken = agent.online_net(batch.obs).gather(1, batch.action[:, None]).squeeze(1)
    torch.testing.assert_close(agent.update(batch).loss, ((q_taken - target) ** 2).mean())


def test_mean_q_of_taken_actions_averages_the_updates_since_it_was_last_read() -> None:
    """Each update returns mean_b Q(s_b, a_b; theta) with theta before its own step; the run's
    MeanQTaken averages those over the updates since it was last read, then resets. Both
    recomputed here from the network as each update saw it."""
    torch.manual_seed(0)
    agent = DQNAgent(cartpole.replace(learning_rate=1e-2), (4,), 2, torch.device("cpu"))
    mean_q_taken = MeanQTaken()
    assert mean_q_taken.take() is None  # no update yet
    seen = []
    for _ in range(3):
        batch = random_batch()
        with torch.no_grad():
            q_values = agent.online_net(batch.obs)  # (B, A) with theta before this update
            seen.append(q_values.gather(1, batch.action.unsqueeze(1)).mean().item())
        outcome = agent.update(batch)
        assert outcome.mean_q_taken.item() == pytest.approx(seen[-1], rel=1e-6)
        mean_q_taken.add([outcome])
    assert seen[0] != seen[2]  # theta moved, so the average is not any one update's
    assert mean_q_taken.take() == pytest.approx(sum(seen) / 3, rel=1e-5)
    assert mean_q_taken.take() is None  # read once, then reset


@pytest.mark.parametrize(("dueling", "layer_norm"), [(True, False), (False, True), (True, True)])
def test_dueling_and_layer_norm_reach_both_networks(dueling: bool, layer_norm: bool) -> None:
    """The config's dueling (eq-dueling) and layer_norm (eq-layer-norm) shape the online and the
    target network alike: a dueling output layer, and a LayerNorm in every hidden layer."""
    config = cartpole.replace(dueling=dueling, layer_norm=layer_norm, hidden_sizes=(16, 16))
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    for network in (agent.online_net, agent.target_net):
        output_layer = network.output_layer
        assert isinstance(output_layer, DuelingHead) is dueling
        norms = [m for m in network.modules() if isinstance(m, torch.nn.LayerNorm)]
        assert len(norms) == (2 if layer_norm else 0)


def test_k_soft_syncs_due_at_once_are_one_with_weight_one_minus_the_kth_power() -> None:
    """eq-soft P4 through the agent (Alg. step 8): sync_target(syncs=k) leaves theta^- where k
    single syncs towards the same theta would."""
    torch.manual_seed(0)
    folded = DQNAgent(cartpole.replace(tau=0.1), (4,), 2, torch.device("cpu"))
    drift_target_network(folded)
    single = DQNAgent(cartpole.replace(tau=0.1), (4,), 2, torch.device("cpu"))
    single.online_net.load_state_dict(folded.online_net.state_dict())
    single.target_net.load_state_dict(folded.target_net.state_dict())
    folded.sync_target(syncs=8)
    for _ in range(8):
        single.sync_target()
    for a, b in zip(folded.target_parameters, single.target_parameters, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
