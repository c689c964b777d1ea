"""Alg. step 7 captured once as a CUDA graph and replayed: one launch per update instead of some
hundred small ones issued from Python.

The update is DQNAgent.update on a minibatch drawn by DeviceFrameReplay.draw, `sampled_update`
below: the eager run and the capture call that same function, so the graph computes the
reference update's arithmetic by construction. What a replay reads it reads from tensors that
stay where they were at capture: the replay's frames and metadata (written in place by add), the
optimiser's step size (set in place by DQNAgent.set_learning_rate) and step count, and the
networks' parameters. The target-network sync (Alg. step 8) stays eager: one fused copy every
target_update_interval steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dqn_ref.agent import DQNAgent
from dqn_ref.device_replay import DeviceFrameReplay

# Eager updates on a side stream before the capture, as torch's CUDA-graph notes ask: they make
# the optimiser's state and the libraries' workspaces exist before the graph records addresses.
# They are real updates of the run, not discarded ones.
WARMUP_UPDATES = 3


def sampled_update(agent: DQNAgent, replay: DeviceFrameReplay, batch_size: int) -> Tensor:
    """One update of theta on batch_size transitions drawn on the device; returns the loss."""
    return agent.update(replay.draw(batch_size))


def graph_inputs(agent: DQNAgent, replay: DeviceFrameReplay) -> tuple[int, ...]:
    """The identities of every tensor a captured update reads or writes across replays: if one
    is replaced (a checkpoint loaded into the optimiser, tracking restarted), the graph would
    silently use the old one, so it must be captured again."""
    tensors: list[Tensor | None] = [agent.q_taken_sum, *agent.online_parameters]
    tensors += [group["lr"] for group in agent.optimizer.param_groups]
    for state in agent.optimizer.state.values():
        tensors += [value for value in state.values() if isinstance(value, Tensor)]
    tensors += [replay.frames, replay.device_written, *replay.mirror.values()]
    return tuple(id(tensor) for tensor in tensors)


class GraphedUpdate:
    """Callable: one update of `agent` from `replay`, captured on CUDA, eager elsewhere.

    Implements the update of spec/algorithm.md#graphed-update. The agent's config must have
    graphed_update set, so that its optimiser is capturable and reads its step size from a tensor.
    Returns each update's loss as its own tensor, on the device.
    """

    def __init__(self, agent: DQNAgent, replay: DeviceFrameReplay, batch_size: int):
        if not agent.config.graphed_update:
            raise ValueError("GraphedUpdate needs an agent built with graphed_update set")
        self.agent, self.replay, self.batch_size = agent, replay, batch_size
        self.captures = agent.device.type == "cuda"
        self.eager_updates = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_loss: Tensor | None = None
        self.captured_inputs: tuple[int, ...] = ()

    def __call__(self) -> Tensor:
        if not self.captures:
            return sampled_update(self.agent, self.replay, self.batch_size)
        if self.eager_updates < WARMUP_UPDATES:
            self.eager_updates += 1
            return on_side_stream(lambda: sampled_update(self.agent, self.replay, self.batch_size))
        if self.graph is None or self.captured_inputs != graph_inputs(self.agent, self.replay):
            self.capture()
        assert self.graph is not None and self.static_loss is not None
        self.graph.replay()
        if self.agent.q_taken_sum is not None:
            self.agent.q_taken_updates += 1  # the graph added to q_taken_sum; Python counts
        # The graph writes every update's loss into the same tensor; the caller keeps each.
        return self.static_loss.clone()

    def capture(self) -> None:
        """Record one update into a new graph (nothing runs until it is replayed)."""
        agent = self.agent
        graph = torch.cuda.CUDAGraph()
        # The draw uses the replay's own generator: the graph must advance its offset per replay.
        graph.register_generator_state(self.replay.generator)
        # Gradients made inside the capture live in the graph's memory pool, where every replay
        # writes them again (torch's whole-network capture recipe).
        agent.optimizer.zero_grad(set_to_none=True)
        tracking_before = agent.q_taken_updates
        with torch.cuda.graph(graph):
            self.static_loss = sampled_update(agent, self.replay, self.batch_size)
        agent.q_taken_updates = tracking_before  # the capture ran no update
        self.graph = graph
        self.captured_inputs = graph_inputs(agent, self.replay)


def on_side_stream(update: Callable[[], Tensor]) -> Tensor:
    """Run `update` on a fresh CUDA stream ordered after, and before, the current one."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        loss = update()
    torch.cuda.current_stream().wait_stream(stream)
    return loss
