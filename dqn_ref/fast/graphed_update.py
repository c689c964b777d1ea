"""Alg. step 7 captured once as a CUDA graph and replayed: one launch per update instead of some
hundred small ones issued from Python.

The update is dqn_ref.update.dqn_update on a minibatch drawn by DeviceFrameReplay.draw,
`sampled_update` below: the eager run and the capture call that same function, so the graph
computes the reference update's arithmetic by construction. What a replay reads it reads from
tensors that stay where they were at capture: the replay's frames and metadata (written in place
by add), the optimiser's step size (a tensor, into which the loop's float step size is written in
place before each replay) and step count, and the networks' parameters. The target-network sync
(Alg. step 8) stays eager: one fused copy every target_update_interval steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.fast.device_replay import DeviceFrameReplay
from dqn_ref.update import UpdateOutcome, dqn_update

# Eager updates on a side stream before the capture, as torch's CUDA-graph notes ask: they make
# the optimiser's state and the libraries' workspaces exist before the graph records addresses.
# They are real updates of the run, not discarded ones.
WARMUP_UPDATES = 3


def capturable_optimizer(config: DQNConfig, parameters: Any) -> torch.optim.Optimizer:
    """The config's Adam or AdamW, fused and capturable: a captured update reads its step size
    and step count from device tensors, so that they change between replays."""
    parameters = list(parameters)
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(
        parameters,
        lr=learning_rate_tensor(config.learning_rate, parameters[0].device),
        eps=config.optimizer_eps,
        weight_decay=config.weight_decay,
        amsgrad=config.amsgrad,
        fused=True,
        capturable=True,
    )


def learning_rate_tensor(learning_rate: float, device: torch.device) -> Tensor:
    """The step size as a tensor that fused Adam reads as it reads a float step size: float64 on
    the CPU, float32 on CUDA, so the update's bits do not depend on which of the two it is given
    (tests/fast/test_graphed_update.py checks it on each device)."""
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    return torch.tensor(learning_rate, dtype=dtype, device=device)


def write_learning_rates(optimizer: torch.optim.Optimizer, tensors: list[Tensor]) -> None:
    """Put the step size the loop set (a float, DQNAgent.set_learning_rate) into each group's
    step-size tensor, in place, and the tensor back in the group; a group that already holds a
    tensor (one loaded from a checkpoint) keeps it and becomes the one written next."""
    for index, group in enumerate(optimizer.param_groups):
        if isinstance(group["lr"], Tensor):
            tensors[index] = group["lr"]
        else:
            tensors[index].fill_(group["lr"])
            group["lr"] = tensors[index]


def sampled_update(agent: DQNAgent, replay: DeviceFrameReplay, batch_size: int) -> UpdateOutcome:
    """One update of theta on batch_size transitions drawn on the device."""
    return dqn_update(
        agent.online_net, agent.target_net, agent.optimizer, replay.draw(batch_size), agent.config
    )


def graph_inputs(agent: DQNAgent, replay: DeviceFrameReplay) -> tuple[int, ...]:
    """The identities of every tensor a captured update reads or writes across replays: if one
    is replaced (a checkpoint loaded into the optimiser), the graph would silently use the old
    one, so it must be captured again."""
    tensors: list[Tensor | None] = [*agent.online_parameters]
    tensors += [group["lr"] for group in agent.optimizer.param_groups]
    for state in agent.optimizer.state.values():
        tensors += [value for value in state.values() if isinstance(value, Tensor)]
    tensors += [replay.frames, replay.device_written, *replay.mirror.values()]
    return tuple(id(tensor) for tensor in tensors)


class GraphedUpdate:
    """Callable: one update of `agent` from `replay`, captured on CUDA, eager elsewhere.

    Implements the update of spec/algorithm.md#graphed-update. The agent's optimiser must be
    capturable_optimizer's (training/build.py builds such an agent for graphed_update).
    Returns each update's outcome as tensors of its own, on the device.
    """

    def __init__(self, agent: DQNAgent, replay: DeviceFrameReplay, batch_size: int):
        if not all(group.get("capturable") for group in agent.optimizer.param_groups):
            raise ValueError("GraphedUpdate needs an agent built with capturable_optimizer")
        self.agent, self.replay, self.batch_size = agent, replay, batch_size
        self.learning_rates = [group["lr"] for group in agent.optimizer.param_groups]
        self.captures = agent.device.type == "cuda"
        self.eager_updates = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_outcome: UpdateOutcome | None = None
        self.captured_inputs: tuple[int, ...] = ()

    def __call__(self) -> UpdateOutcome:
        write_learning_rates(self.agent.optimizer, self.learning_rates)
        if not self.captures:
            return sampled_update(self.agent, self.replay, self.batch_size)
        if self.eager_updates < WARMUP_UPDATES:
            self.eager_updates += 1
            return on_side_stream(lambda: sampled_update(self.agent, self.replay, self.batch_size))
        if self.graph is None or self.captured_inputs != graph_inputs(self.agent, self.replay):
            self.capture()
        assert self.graph is not None and self.static_outcome is not None
        self.graph.replay()
        # The graph writes every update's outcome into the same tensors; the caller keeps each.
        return UpdateOutcome(*(tensor.clone() for tensor in self.static_outcome))

    def capture(self) -> None:
        """Record one update into a new graph (nothing runs until it is replayed)."""
        agent = self.agent
        graph = torch.cuda.CUDAGraph()
        # The draw uses the replay's own generator: the graph must advance its offset per replay.
        graph.register_generator_state(self.replay.generator)
        # Gradients made inside the capture live in the graph's memory pool, where every replay
        # writes them again (torch's whole-network capture recipe).
        agent.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            self.static_outcome = sampled_update(agent, self.replay, self.batch_size)
        self.graph = graph
        self.captured_inputs = graph_inputs(agent, self.replay)


def on_side_stream(update: Callable[[], UpdateOutcome]) -> UpdateOutcome:
    """Run `update` on a fresh CUDA stream ordered after, and before, the current one."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        outcome = update()
    torch.cuda.current_stream().wait_stream(stream)
    return outcome
