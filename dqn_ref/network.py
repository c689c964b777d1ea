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


class NatureCNN(nn.Module):
    """Mnih et al. (2015)'s Q-network: three convolutions and a 512-wide layer on 4x84x84 frames.

    Implements: spec/network.md#eq-qnet-cnn

    Takes the uint8 frames replay stores and scales them to [0, 1] inside the network, so the
    buffer and the host-to-device copy move one byte per pixel rather than four.
    """

    def __init__(self, obs_shape: Sequence[int], num_actions: int):
        super().__init__()
        channels, height, width = obs_shape
        self.convolutions = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            features = self.convolutions(torch.zeros(1, channels, height, width)).shape[1]
        self.hidden_layer = nn.Linear(features, 512)
        self.output_layer = nn.Linear(512, num_actions)

    def forward(self, obs: Tensor) -> Tensor:
        """obs (B, K, H, W) uint8 in [0, 255] -> Q-values (B, num_actions), float32."""
        features = self.convolutions(obs.float() / 255.0)
        return self.output_layer(torch.relu(self.hidden_layer(features)))  # type: ignore[no-any-return]


def make_q_network(
    network: str, obs_shape: tuple[int, ...], num_actions: int, hidden_sizes: Sequence[int]
) -> nn.Module:
    """The Q-network a config names, sized for an observation shape and an action count."""
    if network == "mlp":
        if len(obs_shape) != 1:
            raise ValueError(f"the mlp network needs flat observations, got shape {obs_shape}")
        return MLPQNetwork(obs_shape[0], num_actions, hidden_sizes)
    if network == "nature_cnn":
        if len(obs_shape) != 3:
            raise ValueError(f"the nature_cnn network needs (K, H, W) frames, got {obs_shape}")
        return NatureCNN(obs_shape, num_actions)
    raise ValueError(f"unknown network {network!r}")
