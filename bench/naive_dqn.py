"""The seed paper's DQN loop, kept as written, as the baseline of the speed ratios.

This is the code of seeds/000 (section 8, "CODE"), which follows PyTorch's DQN tutorial: a deque of
per-transition tensors sampled with `random.sample`, a batch rebuilt by `Transition(*zip(*...))`
and `torch.cat` on every update, a `non_final_mask` for terminal next states stored as None,
`select_action` creating a tensor and the loop calling `.item()` on every agent step, and the
target network soft-updated through `state_dict()` / `load_state_dict()` after every step. It is
what a straightforward PyTorch DQN costs; dqn_ref's loop aims to be at least 3 times
faster per agent step and per update than this, at the same sizes, measured in the same run
(bench/test_vs_baselines.py, bench/speed_ratios.py).

Only three things differ from the paper. The API is gymnasium 1.x (`reset` returns (obs, info),
`step` returns terminated and truncated). Every hyperparameter comes from a dqn_ref DQNConfig
(default: PLAIN_CARTPOLE below), so the sizes and the update ratio match what dqn_ref runs:
network widths, batch, replay capacity, optimiser, loss, clipping, gamma, epsilon schedule (through
dqn_ref.schedule.epsilon_at), one update every `train_frequency` agent steps from `learning_starts`,
the soft update of weight `tau` every `target_update_interval` agent steps, and the episodic hard
copy when the config asks for it. And the random branch of `select_action` returns a (1, 1) tensor
as the tutorial's does, where the paper's listing returns (1,), which `torch.cat` and `gather`
cannot batch with the greedy branch's (1, 1). Plotting is left out; the CPU is the only device.

Not part of the dqn_ref package: it lives in bench/ and nothing in dqn_ref imports it.
"""

from __future__ import annotations

import random
import time
from collections import deque, namedtuple
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn, optim

from dqn_ref.config import DQNConfig
from dqn_ref.presets import cartpole
from dqn_ref.schedule import epsilon_at

# The settings the speed ratios compare at: plain DQN (none of Double DQN, the dueling head, n-step
# returns, layer normalisation or a decaying learning rate, which neither the seed's loop nor SB3's
# DQN has), at the network, batch and update ratio of the earlier default CartPole preset, whose
# figures docs/results.md reports.
PLAIN_CARTPOLE = cartpole.replace(
    num_envs=4,
    total_steps=50_000,
    dueling=False,
    layer_norm=False,
    learning_rate=1e-3,
    learning_rate_end=None,
    batch_size=64,
    train_frequency=4,
    gamma=0.99,
    n_step=1,
    double_q=False,
    tau=0.005,
    epsilon_duration=5_000,
)


def refuse_options(config: DQNConfig, who: str) -> None:
    """A ValueError naming the first of DQN's options in `config` that `who` does not have."""
    options = [
        (config.double_q, "Double DQN"),
        (config.dueling, "a dueling head"),
        (config.n_step > 1, "n-step returns"),
        (config.layer_norm, "layer normalisation"),
        (config.learning_rate_end is not None, "a decaying learning rate"),
    ]
    for present, what in options:
        if present:
            raise ValueError(f"{who} has no {what}; compare at plain settings (PLAIN_CARTPOLE)")


Transition = namedtuple("Transition", ("state", "action", "next_state", "reward", "done"))


class DQN(nn.Module):
    """The paper's MLP: Linear and ReLU per hidden width, then a linear head."""

    def __init__(self, state_size: int, action_size: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        width = state_size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, action_size))
        self.fc = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc(x)
        return out


class NaiveAgent:
    """The paper's DQNAgent, its constants read from a DQNConfig."""

    def __init__(self, config: DQNConfig, state_size: int, action_size: int):
        refuse_options(config, "the seed paper's loop")
        self.config = config
        self.state_size = state_size
        self.action_size = action_size
        self.memory: deque[tuple[Tensor, Tensor, Tensor | None, Tensor, bool]] = deque(
            maxlen=config.buffer_size
        )
        self.gamma = config.gamma
        self.policy_net = DQN(state_size, action_size, config.hidden_sizes)
        self.target_net = DQN(state_size, action_size, config.hidden_sizes)
        self.target_net.load_state_dict(self.policy_net.state_dict())
        self.target_net.eval()
        optimizer_class = optim.AdamW if config.optimizer == "adamw" else optim.Adam
        self.optimizer = optimizer_class(
            self.policy_net.parameters(),
            lr=config.learning_rate,
            eps=config.optimizer_eps,
            weight_decay=config.weight_decay,
            amsgrad=config.amsgrad,
        )
        self.steps_done = 0

    def select_action(self, state: Tensor) -> Tensor:
        sample = random.random()
        eps_threshold = epsilon_at(self.config, self.steps_done)
        self.steps_done += 1
        if sample > eps_threshold:
            with torch.no_grad():
                action: Tensor = self.policy_net(state).max(1)[1].view(1, 1)
                return action
        return torch.tensor([[random.randrange(self.action_size)]], dtype=torch.long)

    def store_transition(
        self, state: Tensor, action: Tensor, next_state: Tensor | None, reward: Tensor, done: bool
    ) -> None:
        self.memory.append((state, action, next_state, reward, done))

    def optimize_model(self) -> Tensor | None:
        """One update on a minibatch rebuilt from the deque; None while it holds too few."""
        config = self.config
        batch_size = config.batch_size
        if len(self.memory) < batch_size:
            return None
        transitions = random.sample(self.memory, batch_size)
        batch = Transition(*zip(*transitions, strict=True))

        non_final_mask = torch.tensor(
            tuple(s is not None for s in batch.next_state), dtype=torch.bool
        )
        non_final = [s for s in batch.next_state if s is not None]

        state_batch = torch.cat(batch.state)
        action_batch = torch.cat(batch.action)
        reward_batch = torch.cat(batch.reward)

        state_action_values = self.policy_net(state_batch).gather(1, action_batch)

        next_state_values = torch.zeros(batch_size)
        if non_final:  # the paper's torch.cat fails on an all-terminal batch; skip it instead
            non_final_next_states = torch.cat(non_final)
            next_state_values[non_final_mask] = (
                self.target_net(non_final_next_states).max(1)[0].detach()
            )
        expected_state_action_values = (next_state_values * self.gamma) + reward_batch

        target = expected_state_action_values.unsqueeze(1)
        if config.loss == "huber":
            loss = nn.functional.huber_loss(state_action_values, target, delta=config.huber_delta)
        else:
            loss = nn.functional.mse_loss(state_action_values, target)

        self.optimizer.zero_grad()
        loss.backward()
        if config.max_grad_value is not None:
            torch.nn.utils.clip_grad_value_(self.policy_net.parameters(), config.max_grad_value)
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.policy_net.parameters(), config.max_grad_norm)
        self.optimizer.step()
        return loss.detach()

    def soft_update_target(self) -> None:
        """The paper's per-step target update, through state dicts (tau = 1 is a hard copy)."""
        tau = self.config.tau
        target_net_state_dict = self.target_net.state_dict()
        policy_net_state_dict = self.policy_net.state_dict()
        for key in policy_net_state_dict:
            target_net_state_dict[key] = policy_net_state_dict[key] * tau + target_net_state_dict[
                key
            ] * (1 - tau)
        self.target_net.load_state_dict(target_net_state_dict)


def naive_update(agent: NaiveAgent) -> Tensor | None:
    """One update of the naive loop: the paper's optimize_model, what the update benchmarks time."""
    return agent.optimize_model()


def fill_memory(agent: NaiveAgent, count: int, seed: int = 0) -> None:
    """Store `count` random transitions in the paper's format (5% terminal, next state None)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        state = torch.tensor(rng.normal(size=agent.state_size), dtype=torch.float32).view(1, -1)
        next_state = torch.tensor(rng.normal(size=agent.state_size), dtype=torch.float32).view(
            1, -1
        )
        done = bool(rng.random() < 0.05)
        action = torch.tensor([[int(rng.integers(agent.action_size))]], dtype=torch.long)
        reward = torch.tensor([1.0], dtype=torch.float32)
        agent.store_transition(state, action, None if done else next_state, reward, done)


@dataclass(frozen=True)
class NaiveResult:
    """What one naive run did, and how long its loop took (setup excluded)."""

    steps: int
    episodes: int
    updates: int
    wall_time_s: float


def naive_train_steps(
    config: DQNConfig = PLAIN_CARTPOLE, steps: int = 0, seed: int = 0
) -> NaiveResult:
    """The paper's main loop for `steps` agent steps (0: config.total_steps), episodes as they come.

    An update follows every train_frequency-th stored transition from learning_starts on (the
    paper's optimize_model call still returns early while the deque holds less than a batch), and
    the target network is soft-updated every target_update_interval agent steps.
    """
    steps = steps or config.total_steps
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the paper's code uses the legacy global generator
    torch.manual_seed(seed)
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    env = gym.make(config.env_id, max_episode_steps=config.max_episode_steps or None)
    state_size = int(np.prod(env.observation_space.shape or (1,)))
    action_size = int(env.action_space.n)  # type: ignore[attr-defined]
    agent = NaiveAgent(config, state_size, action_size)

    counter = updates = e = 0
    reset_seed: int | None = seed
    start = time.perf_counter()
    while counter < steps:
        observation, _ = env.reset(seed=reset_seed)
        reset_seed = None
        state = torch.tensor(observation, dtype=torch.float32).view(1, -1)
        done = False
        score = 0.0
        while not done and counter < steps:
            counter += 1
            action = agent.select_action(state)
            observation, reward, terminated, truncated, _ = env.step(action.item())
            done = terminated or truncated
            score += float(reward)
            if config.reward_clip:
                reward = max(-1.0, min(1.0, float(reward)))
            reward_t = torch.tensor([reward], dtype=torch.float32)
            next_state = torch.tensor(observation, dtype=torch.float32).view(1, -1)
            final = terminated or (truncated and config.truncation_as_terminal)
            agent.store_transition(state, action, None if final else next_state, reward_t, done)
            state = next_state
            if (
                counter >= config.learning_starts
                and (counter - config.learning_starts) % config.train_frequency == 0
                and agent.optimize_model() is not None
            ):
                updates += 1
            if counter % config.target_update_interval == 0:
                agent.soft_update_target()
        if done:
            if config.target_hard_copy_episodes and e % config.target_hard_copy_episodes == 0:
                agent.target_net.load_state_dict(agent.policy_net.state_dict())
            e += 1
    wall_time = time.perf_counter() - start
    env.close()
    return NaiveResult(steps=counter, episodes=e, updates=updates, wall_time_s=wall_time)
