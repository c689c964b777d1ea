"""When a checkpoint is due by wall-clock time, so that a killed run loses at most that much."""

from __future__ import annotations

from collections.abc import Callable


class CheckpointTimer:
    """Due once `interval_s` seconds of `clock` have passed since the last restart; never when
    interval_s is 0. The clock is injected so that tests need not sleep."""

    def __init__(self, interval_s: float, clock: Callable[[], float]):
        self.interval_s = interval_s
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        return self.interval_s > 0 and self.clock() - self.last >= self.interval_s

    def restart(self) -> None:
        """A checkpoint was just written (by this timer or at an evaluation)."""
        self.last = self.clock()
