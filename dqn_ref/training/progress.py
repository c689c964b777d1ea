"""The progress bar of a run: steps done, episodes, recent return, epsilon, last evaluation."""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from dqn_ref.evaluate import EvalSummary
from dqn_ref.loop_state import RECENT_EPISODES, LoopState

REFRESH_S = 0.5  # the postfix is rebuilt at most this often: formatting it costs a CartPole step


class Progress:
    """A tqdm bar in agent steps; `enabled=False` draws nothing and costs nothing per step."""

    def __init__(self, total: int, initial: int, description: str, enabled: bool):
        self.enabled = enabled
        self.bar = tqdm(
            total=total,
            initial=initial,
            unit="step",
            disable=not enabled,
            dynamic_ncols=True,
            desc=description,
        )
        self.last_refresh = 0.0

    def advance(
        self, steps: int, state: LoopState, epsilon: float, last_eval: EvalSummary | None
    ) -> None:
        self.bar.update(steps)
        now = time.perf_counter()
        if not self.enabled or now - self.last_refresh <= REFRESH_S or not state.recent_returns:
            return
        self.last_refresh = now
        postfix = {
            "episode": state.episode,
            f"return({RECENT_EPISODES})": f"{np.mean(state.recent_returns):.0f}",
            "eps": f"{epsilon:.3f}",
        }
        if last_eval is not None:
            postfix["eval"] = f"{last_eval.mean:.0f}"
        self.bar.set_postfix(postfix, refresh=False)

    def write(self, line: str) -> None:
        """A line above the bar (or on stdout without one)."""
        self.bar.write(line)

    def close(self) -> None:
        self.bar.close()
