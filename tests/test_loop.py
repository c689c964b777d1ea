"""dqn_ref/loop.py, every wire of it: the DQN loop driven by scripted environments whose rewards,
terminations, truncations and lives the tests choose (tests/scripted_env.py). Each test checks
one thing the loop must do with the config: what it stores, which epsilon acts, when it learns,
when the target network is synced."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import ArrayLike, NDArray

from dqn_ref.agent import DQNAgent
from dqn_ref.batch import Batch
from dqn_ref.config import DQNConfig
from dqn_ref.loop import LoopReport, dqn_loop
from dqn_ref.loop_state import LoopState
from dqn_ref.replay import ReplayBuffer
from dqn_ref.update import UpdateOutcome
from tests.scripted_env import NUM_ACTIONS, ScriptedStep, ScriptedVectorEnv

CPU = torch.device("cpu")
LoopFunction = Callable[..., Iterator[LoopReport]]
NEVER = 10**9  # an interval or a start no test reaches

# A loop that only acts and stores: no learning, no syncs, the network small.
QUIET = DQNConfig(
    device="cpu",
    hidden_sizes=(8,),
    total_steps=NEVER,
    buffer_size=1_000,
    batch_size=4,
    learning_starts=NEVER,
    target_update_interval=NEVER,
    eval_interval=0,
    final_eval_episodes=0,
    max_grad_norm=None,
)


@dataclass
class Added:
    """One replay.add call's transitions, per row, with the copy each came from."""

    env_ids: NDArray[np.int64]
    obs: NDArray[np.float32]
    action: NDArray[np.int64]
    reward: NDArray[np.float32]
    next_obs: NDArray[np.float32]
    terminated: NDArray[np.bool_]
    episode_end: NDArray[np.bool_]


class RecordingReplay(ReplayBuffer):
    """A ReplayBuffer that also records what the loop adds and when it samples."""

    def __init__(self, config: DQNConfig):
        super().__init__(config.buffer_size, (2,), np.float32, n_step=config.n_step)
        self.added: list[Added] = []
        self.sampled: list[tuple[int, int]] = []  # (transitions held, batch_size) per sample

    def add(
        self,
        obs: Any,
        action: Any,
        reward: Any,
        next_obs: Any,
        terminated: Any,
        *,
        episode_end: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        ids = np.arange(len(obs)) if env_ids is None else np.asarray(env_ids)
        self.added.append(
            Added(
                *(
                    np.array(v)
                    for v in (ids, obs, action, reward, next_obs, terminated, episode_end)
                )
            )
        )
        super().add(
            obs, action, reward, next_obs, terminated, episode_end=episode_end, env_ids=env_ids
        )

    def sample(self, batch_size: int) -> Batch:
        self.sampled.append((len(self), batch_size))
        return super().sample(batch_size)

    def rows_of(self, copy: int) -> list[tuple[Any, ...]]:
        """Copy `copy`'s stored transitions in order: (obs clock, reward, terminated, end)."""
        return [
            (
                float(added.obs[row, 1]),
                float(added.reward[row]),
                bool(added.terminated[row]),
                bool(added.episode_end[row]),
            )
            for added in self.added
            for row in np.flatnonzero(added.env_ids == copy)
        ]


class RecordingAgent(DQNAgent):
    """A DQNAgent that records the epsilon of each act and counts updates and syncs."""

    def __init__(self, config: DQNConfig):
        super().__init__(config, (2,), NUM_ACTIONS, CPU)
        self.epsilons: list[float] = []
        self.learning_rates: list[float] = []  # the optimiser's step size at each update
        self.updates = 0
        self.syncs = 0

    def act(self, obs: NDArray[Any], epsilon: float) -> NDArray[np.int64]:
        self.epsilons.append(epsilon)
        return super().act(obs, epsilon)

    def update(self, batch: Batch) -> UpdateOutcome:
        self.updates += 1
        self.learning_rates.append(self.optimizer.param_groups[0]["lr"])
        return super().update(batch)

    def sync_target(self, syncs: int = 1) -> None:
        self.syncs += syncs
        super().sync_target(syncs)


@dataclass
class Drive:
    """The loop's reports and the state, agent, replay and environments it ran with."""

    config: DQNConfig
    envs: ScriptedVectorEnv
    agent: RecordingAgent
    replay: RecordingReplay
    state: LoopState
    reports: list[LoopReport] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # state.step after each report


def drive(
    config: DQNConfig,
    scripts: list[list[ScriptedStep]],
    locksteps: int,
    between: Callable[[Drive], None] | None = None,
    report_lives: bool = False,
    loop: LoopFunction = dqn_loop,
) -> Drive:
    """Run the loop for `locksteps` lockstep steps (or until it ends); `between` runs before the
    first and after each."""
    envs = ScriptedVectorEnv(scripts, report_lives)
    torch.manual_seed(0)
    agent = RecordingAgent(config.replace(num_envs=len(scripts)))
    obs, _ = envs.reset()
    state = LoopState.start(obs, CPU, 0)
    run = Drive(config, envs, agent, RecordingReplay(config), state)
    if between is not None:
        between(run)
    update = lambda: agent.update(run.replay.sample(config.batch_size))  # noqa: E731
    for report in itertools.islice(loop(config, agent, envs, run.replay, state, update), locksteps):
        run.reports.append(report)
        run.steps.append(state.step)
        if between is not None:
            between(run)
    return run


def expected_rows(script: list[ScriptedStep], config: DQNConfig, stored: int) -> list[Any]:
    """What a copy playing `script` should have stored, worked out from the spec: Alg. step 5."""
    rows, clock = [], 0
    for entry in [*script, *[ScriptedStep()] * stored][:stored]:  # past its script: filler
        reward = max(-1.0, min(1.0, entry.reward)) if config.reward_clip else entry.reward
        terminated = entry.terminated or (config.truncation_as_terminal and entry.truncated)
        ended = entry.terminated or entry.truncated
        rows.append((float(clock), float(np.float32(reward)), terminated, ended))
        clock += 2 if ended else 1  # an ended episode's next step is its autoreset
    return rows


steps_strategy = st.builds(
    ScriptedStep,
    reward=st.sampled_from([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, 7.0]),
    terminated=st.booleans(),
    truncated=st.booleans(),
    lives=st.just(0),
)


@given(
    scripts=st.lists(st.lists(steps_strategy, min_size=1, max_size=12), min_size=1, max_size=3),
    reward_clip=st.booleans(),
    truncation_as_terminal=st.booleans(),
)
def test_the_loop_stores_each_real_step_as_the_config_says(
    scripts: list[list[ScriptedStep]], reward_clip: bool, truncation_as_terminal: bool
) -> None:
    """Alg. step 5, eq-reward-clip: every real step of every copy is stored once, in order, with
    r clipped only when reward_clip, d = terminated (or truncated too when truncation_as_terminal),
    the episode's end = terminated or truncated, s' the observation that followed s; autoreset
    steps are not stored, and t counts the stored transitions."""
    config = QUIET.replace(reward_clip=reward_clip, truncation_as_terminal=truncation_as_terminal)
    locksteps = max(len(script) for script in scripts)
    run = drive(config, scripts, locksteps)
    for copy, script in enumerate(scripts):
        rows = run.replay.rows_of(copy)
        assert rows == expected_rows(script, config, len(rows))
    for added in run.replay.added:
        assert np.array_equal(added.next_obs[:, 1], added.obs[:, 1] + 1)
    assert run.state.step == sum(len(added.env_ids) for added in run.replay.added)
    ended = sum(int((r.ended & r.real).sum()) for r in run.reports)
    assert run.state.episode == ended


def test_a_lost_life_is_stored_terminal_but_the_episode_goes_on() -> None:
    """With lives reported (terminal_on_life_loss), a termination with lives left is stored as
    terminal, but it is not an episode end: the replay's episode_end, the episode count and the
    autoreset all wait for the game's end."""
    script = [
        ScriptedStep(1.0, lives=2),
        ScriptedStep(0.0, terminated=True, lives=1),  # a life lost, the game goes on
        ScriptedStep(1.0, lives=1),
        ScriptedStep(0.0, terminated=True, lives=0),  # game over
        ScriptedStep(1.0, lives=3),
    ]
    run = drive(QUIET, [script], 6, report_lives=True)
    assert run.replay.rows_of(0) == [
        (0.0, 1.0, False, False),
        (1.0, 0.0, True, False),
        (2.0, 1.0, False, False),
        (3.0, 0.0, True, True),
        (5.0, 1.0, False, False),  # clock 4 was the autoreset step
    ]
    assert run.state.episode == 1


@pytest.mark.parametrize("schedule", ["linear", "exponential"])
def test_each_action_uses_the_configured_schedules_epsilon_at_the_steps_taken(
    schedule: str,
) -> None:
    """Alg. steps 2-3: the epsilon of the action at agent step t is the configured schedule's at
    t (eq-eps-linear: 1 + (0.1 - 1) min(t / 10, 1); eq-eps-exp: 0.1 + 0.9 exp(-t / 4)), with t
    the transitions stored before it (two copies; autoreset steps add none)."""
    config = QUIET.replace(
        epsilon_schedule=schedule,
        epsilon_start=1.0,
        epsilon_end=0.1,
        epsilon_duration=10,
        epsilon_decay=4.0,
    )
    ends_every_third = [ScriptedStep(1.0, terminated=k % 3 == 2) for k in range(20)]
    run = drive(config, [ends_every_third, ends_every_third[1:]], 12)
    steps_before = [0, *run.steps[:-1]]

    def written_out(t: int) -> float:
        if schedule == "linear":
            return 1.0 + (0.1 - 1.0) * min(t / 10, 1.0)
        return 0.1 + 0.9 * math.exp(-t / 4.0)

    assert run.agent.epsilons == [written_out(t) for t in steps_before]
    assert [report.epsilon for report in run.reports] == run.agent.epsilons
    assert len(set(run.agent.epsilons)) > 5  # the schedule moved


def test_updates_start_at_learning_starts_and_come_every_train_frequency_steps() -> None:
    """Alg. step 7 worked out for learning_starts 5, train_frequency 3, batch_size 4, one copy:
    one update at t = 5, then at t = 8 and 11; each samples 4 transitions from what is stored."""
    config = QUIET.replace(learning_starts=5, train_frequency=3, batch_size=4)
    run = drive(config, [[ScriptedStep(1.0)] * 12], 12)
    updates_after = [len(report.losses) for report in run.reports]
    assert updates_after == [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]  # t = 1 .. 12
    assert run.replay.sampled == [(5, 4), (8, 4), (11, 4)]
    assert run.agent.updates == run.state.updates_done == 3


@pytest.mark.parametrize("copies", [1, 2])
def test_each_update_uses_the_learning_rate_of_the_step_it_is_made_at(copies: int) -> None:
    """Alg. step 7, eq-lr-linear worked out for 0.01 -> 0.002 over total_steps 12, updates from
    t = 2 every 2 steps: the update at t uses 0.01 + (0.002 - 0.01) t / 12; and with no end set,
    0.01 at every update."""
    config = QUIET.replace(learning_starts=2, train_frequency=2, total_steps=12, learning_rate=0.01)
    scripts = [[ScriptedStep(1.0)] * 12] * copies
    decaying = drive(config.replace(learning_rate_end=0.002), scripts, 12)
    update_steps = [2, 4, 6, 8, 10, 12]
    assert decaying.agent.learning_rates == pytest.approx(
        [0.01 + (0.002 - 0.01) * t / 12 for t in update_steps], abs=1e-15
    )
    constant = drive(config, scripts, 12)
    assert constant.agent.learning_rates == [0.01] * len(update_steps)


def perturb_online(run: Drive) -> None:
    """Move theta away from theta^- (no learning does), so a sync shows as their equality."""
    with torch.no_grad():
        for parameter in run.agent.online_parameters:
            parameter.add_(torch.randn_like(parameter))


def target_equals_online(agent: DQNAgent) -> bool:
    return all(
        torch.equal(t, o)
        for t, o in zip(agent.target_parameters, agent.online_parameters, strict=True)
    )


@pytest.mark.parametrize(
    ("copies", "interval", "locksteps", "expected"),
    [(1, 4, 13, [4, 8, 12]), (2, 3, 6, [4, 6, 10, 12])],
)
def test_the_target_network_is_copied_every_target_update_interval_agent_steps(
    copies: int, interval: int, locksteps: int, expected: list[int]
) -> None:
    """Alg. step 8, eq-hard: theta^- equals theta right after each step t at which
    floor(t / interval) grew, and at no other: with one copy and interval 4, t = 4, 8, 12; with
    two copies (2 agent steps per lockstep step) and interval 3, t = 4 (3 passed), 6, 10, 12."""
    config = QUIET.replace(target_update_interval=interval)
    synced_at: list[int] = []

    def record(run: Drive) -> None:
        if run.reports and target_equals_online(run.agent):
            synced_at.append(run.state.step)
        perturb_online(run)

    run = drive(config, [[ScriptedStep()] * locksteps] * copies, locksteps, between=record)
    assert synced_at == expected
    assert run.agent.syncs == len(expected)


def test_a_soft_sync_moves_the_target_by_tau() -> None:
    """Alg. step 8, eq-soft: with tau 0.25, each sync sets theta^- <- 0.25 theta + 0.75 theta^-."""
    config = QUIET.replace(target_update_interval=1, tau=0.25)

    run = drive(config, [[ScriptedStep()] * 3], 3, between=perturb_online)
    online_then = [p.clone() for p in run.agent.online_parameters]
    target_then = [p.clone() for p in run.agent.target_parameters]
    next(dqn_loop(config, run.agent, run.envs, run.replay, run.state))
    for old_target, online, new_target in zip(
        target_then, online_then, run.agent.target_parameters, strict=True
    ):
        torch.testing.assert_close(new_target, 0.25 * online + 0.75 * old_target)


@pytest.mark.parametrize("every", [1, 2, 3])
def test_the_paper_copies_the_target_after_every_kth_episode(every: int) -> None:
    """Alg. step 6: with target_hard_copy_episodes K, theta^- <- theta after the episodes whose
    0-based index e has e % K == 0, and no other time (episodes of 2 steps, one copy)."""
    config = QUIET.replace(target_hard_copy_episodes=every)
    episode = [ScriptedStep(), ScriptedStep(truncated=True)]
    copied_after: list[int] = []

    def record(run: Drive) -> None:
        if run.reports and target_equals_online(run.agent):
            copied_after.append(run.state.episode - 1)
        perturb_online(run)

    drive(config, [episode * 6], 18, between=record)
    assert copied_after == [e for e in range(6) if e % every == 0]


def test_the_loop_ends_at_total_steps_or_total_episodes() -> None:
    """The loop stops once t reaches total_steps, or total_episodes episodes have ended."""
    by_steps = drive(QUIET.replace(total_steps=5), [[ScriptedStep()] * 9], NEVER)
    assert by_steps.steps[-1] == 5
    episode = [ScriptedStep(), ScriptedStep(terminated=True)]
    by_episodes = drive(QUIET.replace(total_episodes=2), [episode * 5], NEVER)
    assert by_episodes.state.episode == 2 and by_episodes.steps[-1] == 4


def stored_transitions(run: Drive) -> list[tuple[Any, ...]]:
    """Every add call's transitions, field by field, in the order the loop stored them."""
    return [
        tuple(value.tolist() for value in dataclasses.astuple(added)) for added in run.replay.added
    ]
@pytest.mark.parametrize(
    ("copies", "train_frequency", "gradient_steps", "expected"),
    [
        # one copy, rounds of 4 agent steps, 3 updates a round beyond learning_starts 5:
        # 3 at t = 8, 12 and 16
        (1, 4, 3, [0] * 7 + [3, 0, 0, 0, 3, 0, 0, 0, 3]),
        # gradient_steps -1: as many as the round's agent steps, 4
        (1, 4, -1, [0] * 7 + [4, 0, 0, 0, 4, 0, 0, 0, 4]),
        # two copies, SB3's train_freq 2 vector steps (4 agent steps), -1: 4 at t = 8, 12, 16
        (2, 4, -1, [0, 0, 0, 4, 0, 4, 0, 4]),
    ],
)
def test_gradient_steps_make_the_updates_in_rounds_as_sb3_does(
    copies: int, train_frequency: int, gradient_steps: int, expected: list[int]
) -> None:
    """Alg. step 7 with eq-update-rounds P4: learning_starts 5; G updates in a row (G' = F with
    -1) at the lockstep step whose agent steps complete a round of train_frequency beyond
    learning_starts, none between; each samples the buffer as it stands after that step."""
    config = QUIET.replace(
        learning_starts=5,
        train_frequency=train_frequency,
        gradient_steps=gradient_steps,
        batch_size=4,
    )
    run = drive(config, [[ScriptedStep(1.0)] * 16] * copies, len(expected))
    assert [len(report.losses) for report in run.reports] == expected
    per_round = train_frequency if gradient_steps == -1 else gradient_steps
    assert run.replay.sampled == [(t, 4) for t in (8, 12, 16) for _ in range(per_round)]
    assert run.agent.updates == run.state.updates_done == sum(expected)


@pytest.mark.parametrize("random_warmup", [True, False])
def test_actions_before_learning_starts_are_uniform_with_random_warmup(random_warmup: bool) -> None:
    """Alg. steps 2-3 with eq-eps-warmup P3: learning_starts 4, eq-eps-linear 0.5 -> 0.1 over 10
    steps; with random_warmup the actions at t = 0..3 use epsilon 1 and later ones the schedule's
    0.5 + (0.1 - 0.5) min(t / 10, 1), counted from step 0; without it, the schedule's throughout
    (two copies; autoreset steps add no step)."""
    config = QUIET.replace(
        learning_starts=4,
        random_warmup=random_warmup,
        epsilon_start=0.5,
        epsilon_end=0.1,
        epsilon_duration=10,
    )
    ends_every_third = [ScriptedStep(1.0, terminated=k % 3 == 2) for k in range(20)]
    run = drive(config, [ends_every_third, ends_every_third[1:]], 10)
    steps_before = [0, *run.steps[:-1]]

    def schedule(t: int) -> float:
        return 0.5 + (0.1 - 0.5) * min(t / 10, 1.0)

    warm = [1.0 if random_warmup and t < 4 else schedule(t) for t in steps_before]
    assert run.agent.epsilons == warm
    assert [report.epsilon for report in run.reports] == warm
    assert steps_before[1] < 4 <= steps_before[-1]  # the warm-up ended within the run


def test_with_epsilon_fraction_the_schedule_lasts_that_share_of_the_run() -> None:
    """Alg. steps 2-3 with eq-eps-fraction P3: epsilon_fraction 0.5 of total_steps 20 is T = 10,
    whatever epsilon_duration (3) says: the action at t uses 1 + (0.1 - 1) min(t / 10, 1)."""
    config = QUIET.replace(
        total_steps=20,
        epsilon_fraction=0.5,
        epsilon_duration=3,
        epsilon_start=1.0,
        epsilon_end=0.1,
    )
    run = drive(config, [[ScriptedStep(1.0)] * 20], 14)
    steps_before = [0, *run.steps[:-1]]
    assert run.agent.epsilons == [1.0 + (0.1 - 1.0) * min(t / 10, 1.0) for t in steps_before]
    assert steps_before[-1] > 10  # the schedule reached its end within the run
