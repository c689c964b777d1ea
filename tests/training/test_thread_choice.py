"""dqn_ref.training.thread_choice: a fixed thread count, and the adaptive choice that times both
counts on the run's own updates and keeps the faster (spec/algorithm.md#adaptive-threads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import dqn_ref.training.thread_choice as thread_choice
from dqn_ref.config import DQNConfig
from dqn_ref.presets import cartpole
from dqn_ref.training.thread_choice import (
    ADAPTIVE,
    EXPLOIT_UPDATES,
    PROBE_UPDATES,
    ThreadChoice,
)
from dqn_ref.training.train import train


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


class ScriptedMachine:
    """A clock and an update whose cost depends on torch's thread count at the time of the call:
    seconds_per_update[threads], which a test changes to make the machine quiet or busy."""

    def __init__(self, seconds_per_update: dict[int, float]):
        self.seconds_per_update = seconds_per_update
        self.now = 0.0
        self.threads_seen: list[int] = []

    def clock(self) -> float:
        return self.now

    def update(self) -> torch.Tensor:
        threads = torch.get_num_threads()
        self.threads_seen.append(threads)
        self.now += self.seconds_per_update[threads]
        return torch.zeros(())


def test_p1_a_fixed_count_is_set_and_its_update_untouched() -> None:
    """P1: torch_threads > 0 sets that count; the update is returned as it is."""
    choice = ThreadChoice(1)
    choice.apply()
    assert torch.get_num_threads() == 1
    machine = ScriptedMachine({1: 1.0})
    assert choice.timed(machine.update) == machine.update
    assert not choice.adaptive


def test_p1_torch_default_is_left_alone() -> None:
    torch.set_num_threads(2)
    ThreadChoice(0).apply()
    assert torch.get_num_threads() == 2


def test_p2_the_probe_keeps_the_faster_count_and_probes_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """P2: the first 2 x PROBE_UPDATES updates are timed at 1 and 2 threads; the faster count runs
    EXPLOIT_UPDATES updates; then a new probe sees the machine turned busy and goes back to 1."""
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 2)
    quiet = {1: 0.023, 2: 0.016}
    machine = ScriptedMachine(dict(quiet))
    choice = ThreadChoice(ADAPTIVE, clock=machine.clock)
    assert choice.candidates == [1, 2]
    choice.apply()
    update = choice.timed(machine.update)
    for _ in range(2 * PROBE_UPDATES + EXPLOIT_UPDATES):
        update()
    assert machine.threads_seen == [1] * PROBE_UPDATES + [2] * (PROBE_UPDATES + EXPLOIT_UPDATES)
    assert choice.current == 2

    machine.seconds_per_update = {1: 0.025, 2: 0.190}  # another process takes a core
    machine.threads_seen = []
    for _ in range(2 * PROBE_UPDATES + 5):
        update()
    assert machine.threads_seen == [1] * PROBE_UPDATES + [2] * PROBE_UPDATES + [1] * 5
    assert choice.current == 1
    assert torch.get_num_threads() == 1


def test_p2_the_median_ignores_one_slow_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first call after a thread switch may be slow (kernels chosen anew); one outlier among
    the probe's timings must not decide."""
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 2)
    machine = ScriptedMachine({1: 0.023, 2: 0.016})
    choice = ThreadChoice(ADAPTIVE, clock=machine.clock)
    update = choice.timed(machine.update)
    costs = iter([0.023] * PROBE_UPDATES + [2.0] + [0.016] * (PROBE_UPDATES - 1))
    original = machine.update

    def first_two_thread_call_slow() -> torch.Tensor:
        cost = next(costs)
        machine.seconds_per_update = {1: cost, 2: cost}
        return original()

    machine.update = first_two_thread_call_slow  # type: ignore[method-assign]
    update = choice.timed(machine.update)
    for _ in range(2 * PROBE_UPDATES):
        update()
    assert choice.current == 2


def test_p3_one_usable_core_leaves_nothing_to_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    """P3: under taskset to one core, adaptive is one thread and never probes."""
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 1)
    choice = ThreadChoice(ADAPTIVE)
    choice.apply()
    assert not choice.adaptive
    assert torch.get_num_threads() == 1
    machine = ScriptedMachine({1: 1.0})
    assert choice.timed(machine.update) == machine.update


def tiny_cartpole(torch_threads: int) -> DQNConfig:
    return cartpole.replace(
        total_steps=300,
        learning_starts=100,
        buffer_size=1_000,
        eval_interval=0,
        final_eval_episodes=1,
        stop_when_solved=False,
        torch_threads=torch_threads,
    )


@pytest.mark.parametrize("torch_threads", [ADAPTIVE, 1])
def test_p4_train_routes_every_update_through_the_choice(
    torch_threads: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """P4: with torch_threads=-1 the run's updates are the probe's timed updates (cut the wire in
    train and no update is probed); with a fixed count none is."""
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 2)
    probed: list[int] = []
    original_probe = ThreadChoice.probe

    def counting_probe(self: ThreadChoice, update):  # type: ignore[no-untyped-def]
        probed.append(1)
        return original_probe(self, update)

    monkeypatch.setattr(ThreadChoice, "probe", counting_probe)
    result = train(tiny_cartpole(torch_threads), tmp_path / "run", progress=False)
    assert result.updates > 2 * PROBE_UPDATES
    assert len(probed) == (2 * PROBE_UPDATES if torch_threads == ADAPTIVE else 0)
