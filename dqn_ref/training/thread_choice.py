"""How many torch threads the run's updates use: a fixed count, torch's default, or adaptive.

Two threads make a quiet 2-core machine's update about 1.4x faster, and the same update about 8x
slower once another process holds a core (the threads wait for each other at every operator).
Adaptive (torch_threads=-1) measures instead of guessing: every EXPLOIT_UPDATES updates it times
PROBE_UPDATES updates at one thread and at every core this process may use, and keeps the faster
count until the next probe (spec/algorithm.md#adaptive-threads). The updates it times are the
run's own: a probe costs no extra work, only some updates at the slower count.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch

ADAPTIVE = -1
PROBE_UPDATES = 8  # timed per candidate count; the median discards a first, slower call
EXPLOIT_UPDATES = 1_500  # about 30-40 s of pong-cpu updates between two probes
Outcome = TypeVar("Outcome")  # what one update returns


def usable_cores() -> int:
    """The cores this process may run on (taskset and cgroups narrow os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ThreadChoice:
    """torch's intra-op thread count for a run, set with apply() and kept up by timed(update)."""

    def __init__(self, torch_threads: int, clock: Callable[[], float] = time.perf_counter):
        self.requested = torch_threads
        self.clock = clock
        cores = usable_cores()
        self.candidates = [1, cores] if torch_threads == ADAPTIVE and cores > 1 else []
        # Adaptive with one usable core has one count to choose: one thread.
        self.current = 1 if torch_threads == ADAPTIVE else torch_threads
        self.probe_seconds: dict[int, list[float]] = {}
        self.updates_until_probe = 0  # probe first: the machine's state at the start is unknown

    @property
    def adaptive(self) -> bool:
        return bool(self.candidates)

    def apply(self) -> None:
        """Set torch's thread count to the current choice (0 leaves torch's default)."""
        if self.current > 0:
            torch.set_num_threads(self.current)

    def timed(self, update: Callable[[], Outcome]) -> Callable[[], Outcome]:
        """`update`, with the adaptive probe around it; `update` itself when the count is fixed."""
        if not self.adaptive:
            return update

        def adaptive_update() -> Outcome:
            if self.updates_until_probe > 0:
                self.updates_until_probe -= 1
                return update()
            return self.probe(update)

        return adaptive_update

    def probe(self, update: Callable[[], Outcome]) -> Outcome:
        """One probed update: time it at the candidate whose turn it is; once every candidate
        has PROBE_UPDATES timings, keep the fastest count for EXPLOIT_UPDATES updates."""
        threads = next(
            count
            for count in self.candidates
            if len(self.probe_seconds.get(count, [])) < PROBE_UPDATES
        )
        torch.set_num_threads(threads)
        start = self.clock()
        loss = update()
        self.probe_seconds.setdefault(threads, []).append(self.clock() - start)
        if all(len(self.probe_seconds.get(c, [])) == PROBE_UPDATES for c in self.candidates):
            self.current = min(
                self.candidates, key=lambda count: statistics.median(self.probe_seconds[count])
            )
            self.probe_seconds = {}
            self.updates_until_probe = EXPLOIT_UPDATES
        self.apply()
        return loss
