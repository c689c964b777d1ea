"""The DQN loop alone: Alg. steps 2-8 of spec/algorithm.md, each cited where it runs.

Acting, stepping, storing, learning and syncing happen here and nowhere else. The loop yields one
LoopReport per lockstep step; the run around it (dqn_ref/training/train.py) logs episodes,
evaluates, checkpoints and stops, between two steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from torch import Tensor

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.envs import game_over
from dqn_ref.loop_state import LoopState
from dqn_ref.preprocessing import clip_reward
from dqn_ref.replay_interface import Replay
from dqn_ref.schedule import epsilon_at, learning_rate_at, updates_in_rounds
from dqn_ref.target_update import hard_update
from dqn_ref.update import UpdateOutcome


class LockstepEnvs(Protocol):
    """What the loop needs of a gymnasium vector env: one step of every copy, with next-step
    autoreset (spec/algorithm.md#next-step-autoreset)."""

    def step(
        self, actions: NDArray[np.int64]
    ) -> tuple[
        NDArray[Any], NDArray[Any], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]
    ]: ...


@dataclass(frozen=True)
class LoopReport:
    """What one lockstep step of every environment copy did, (num_envs,) arrays each."""

    epsilon: float  # the exploration rate every action of this step used
    reward: NDArray[Any]  # raw rewards, as the environment returned them
    real: NDArray[np.bool_]  # the copy's step was a transition (not its autoreset)
    ended: NDArray[np.bool_]  # the copy's episode ended (the game is over, Atari lives aside)
    updates: list[UpdateOutcome]  # the updates this step made, on the learner's device

    @property
    def losses(self) -> list[Tensor]:
        return [outcome.loss for outcome in self.updates]


def updates_due(config: DQNConfig, step: int) -> int:
    """Updates that should have happened once `step` transitions are stored: one at learning_starts,
    then one every train_frequency agent steps; with gradient_steps, SB3's rounds
    (eq-update-rounds)."""
    if config.gradient_steps != 0:
        return updates_in_rounds(
            step, config.learning_starts, config.train_frequency, config.gradient_steps
        )
    if step < config.learning_starts or step == 0:
        return 0
    return (step - config.learning_starts) // config.train_frequency + 1


def training_done(config: DQNConfig, step: int, episode: int) -> bool:
    """The loop's end: total_steps agent steps taken, or total_episodes episodes ended."""
    return step >= config.total_steps or bool(
        config.total_episodes and episode >= config.total_episodes
    )


def hard_copy_due(config: DQNConfig, episode: int) -> bool:
    """The paper's episodic schedule: theta^- <- theta after 0-based episode e when e % K == 0."""
    episodes = config.target_hard_copy_episodes
    return episodes > 0 and episode % episodes == 0


def learn(
    config: DQNConfig,
    agent: DQNAgent,
    state: LoopState,
    step: int,
    update: Callable[[], UpdateOutcome],
) -> list[UpdateOutcome]:
    """Alg. step 7's updates due once `step` transitions are counted, at that step's rate."""
    agent.set_learning_rate(learning_rate_at(config, step))
    made = []
    while state.updates_done < updates_due(config, step):
        made.append(update())
        state.updates_done += 1
    return made


def dqn_loop(
    config: DQNConfig,
    agent: DQNAgent,
    envs: LockstepEnvs,
    replay: Replay,
    state: LoopState,
    update: Callable[[], UpdateOutcome] | None = None,
) -> Iterator[LoopReport]:
    """Run DQN from `state` until total_steps agent steps or total_episodes episodes.

    `state` (its obs, resetting, step, episode, updates_done and syncs_done) is advanced in place,
    so that what the caller checkpoints between two reports resumes exactly. `update` makes one
    update from the replay (default: agent.update on replay.sample(batch_size))."""
    if update is None:
        update = lambda: agent.update(replay.sample(config.batch_size))  # noqa: E731
    while not training_done(config, state.step, state.episode):
        # Alg. step 2: exploration rate for this step (eq-eps-exp / eq-eps-linear).
        epsilon = epsilon_at(config, state.step)
        # Alg. step 3: epsilon-greedy actions from the online network (eq-eps-greedy).
        actions = agent.act(state.obs, epsilon)
        # Alg. step 4: step every copy of the environment.
        real = ~state.resetting
        next_obs, reward, terminated, truncated, info = envs.step(actions)
        ended = game_over(terminated, truncated, info)
        # Alg. step 5: store real transitions (an autoreset step is not one), eq-reward-clip.
        real_ids = slice(None) if real.all() else np.flatnonzero(real)
        stored_reward = clip_reward(reward) if config.reward_clip else reward.astype(np.float32)
        stored_terminated = terminated | truncated if config.truncation_as_terminal else terminated
        replay.add(
            state.obs[real_ids],
            actions[real_ids],
            stored_reward[real_ids],
            next_obs[real_ids],
            stored_terminated[real_ids],
            episode_end=ended[real_ids],
            env_ids=np.flatnonzero(real),
        )
        state.step += int(real.sum())
        # Alg. step 6: episode ends; the paper's episodic hard copy (eq-hard).
        for _ in np.flatnonzero(ended & real):
            if hard_copy_due(config, state.episode):
                hard_update(agent.target_net, agent.online_net)
            state.episode += 1
        state.resetting, state.obs = ended, next_obs
        # Alg. step 7: learn: sample, eq-target, TD loss, clip, optimiser step (rate: eq-lr-linear).
        updates = learn(config, agent, state, state.step, update)
        # Alg. step 8: sync the target network every target_update_interval agent steps; the
        # syncs due now all see the same theta, so they are made as one (eq-soft P4).
        due = state.step // config.target_update_interval - state.syncs_done
        if due > 0:
            agent.sync_target(syncs=due)
            state.syncs_done += due
        yield LoopReport(epsilon, reward, real, ended, updates)
