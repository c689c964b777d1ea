"""Alg. step 7 with its forward and backward passes compiled by torch.compile.

What is compiled is dqn_ref.update.td_loss_of_batch, the TD loss of a minibatch (both networks'
forward passes, eq-target or eq-double-target, eq-huber or eq-mse), and through AOTAutograd its
backward pass; `dqn_update` itself runs around it unchanged, so the clipping and the optimiser
step stay eager (compiling the fused Adam step measured slower on the CPU). The compiler fuses
and reorders floating-point operations, so the compiled update equals the eager one within the
tolerance of spec/algorithm.md#compiled-update, not bit for bit.
"""

from __future__ import annotations

from typing import cast

import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.replay_interface import Replay
from dqn_ref.update import LossFunction, UpdateOutcome, dqn_update, td_loss_of_batch


def compiled_loss() -> LossFunction:
    """td_loss_of_batch compiled; the first call (and one after a change the compiled code
    guards on, such as the thread count) waits for the compiler."""
    return cast(LossFunction, torch.compile(td_loss_of_batch, dynamic=False))


class CompiledUpdate:
    """Callable: one update of `agent` from `replay.sample(batch_size)`, dqn_update with the
    compiled TD loss. Implements spec/algorithm.md#compiled-update."""

    def __init__(self, agent: DQNAgent, replay: Replay, batch_size: int):
        self.agent, self.replay, self.batch_size = agent, replay, batch_size
        self.loss_of_batch = compiled_loss()

    def __call__(self) -> UpdateOutcome:
        agent = self.agent
        return dqn_update(
            agent.online_net,
            agent.target_net,
            agent.optimizer,
            self.replay.sample(self.batch_size),
            agent.config,
            self.loss_of_batch,
        )
