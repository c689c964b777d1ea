"""Q-networks: a map from an observation batch to one Q-value per action, Q(s, . ; theta)."""

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class MLPQNetwork(nn.Module):
    """Q(s, . ; theta) = W_L relu(... relu(W_1 s + b_1) ...) + b_L; the paper's is 128-128 wide.

    Implements: spec/network.md#eq-qnet-mlp
    """

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes: Sequence[int] = (128, 128)):
        super().__init__()
        widths = [obs_dim, *hidden_sizes]
        self.hidden_layers = nn.ModuleList(
            nn.Linear(width_in, width_out) for width_in, width_out in itertools.pairwise(widths)
        )
        self.output_layer = nn.Linear(widths[-1], num_actions)

    def forward(self, obs: Tensor) -> Tensor:
        """obs (B, obs_dim) -> Q-values (B, num_actions), float32."""
        hidden = obs.float()
        for layer in self.hidden_layers:
            hidden = torch.relu(layer(hidden))
        return self.output_layer(hidden)  # type: ignore[no-any-return]


def make_q_network(
    network: str, obs_shape: tuple[int, ...], num_actions: int, hidden_sizes: Sequence[int]
) -> nn.Module:
    """The Q-network a config names, sized for an observation shape and an action count."""
    if network == "mlp":
        if len(obs_shape) != 1:
            raise ValueError(f"the mlp network needs flat observations, got shape {obs_shape}")
        return MLPQNetwork(obs_shape[0], num_actions, hidden_sizes)
    raise ValueError(f"unknown network {network!r}")
