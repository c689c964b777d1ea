"""Q-networks: a map from an observation batch to one Q-value per action, Q(s, . ; theta).

A network is a torso (observation -> features) and an output layer (features -> Q-values). The
output layer is a plain linear layer or the dueling head; `make_output_layer` picks one, and every
torso calls it the same way.
"""

import contextlib
import itertools
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

Precision = Literal["float32", "bfloat16"]


def compute_precision(
    device_type: str, precision: Precision
) -> contextlib.AbstractContextManager[None]:
    """Where precision is bfloat16, autocast runs the convolutions and matrix products in bf16
    while weights, gradients and the optimiser stay float32
    (spec/network.md#precision-and-layout)."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)


class DuelingHead(nn.Module):
    """Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a'): a value stream and a mean-centred advantage
    stream, each one linear layer on the torso's features (Wang et al. 2016, eq. 9).

    Implements: spec/network.md#eq-dueling

    features (B, in_features) -> Q-values (B, num_actions), float32. With one action the advantage
    is centred to 0 and Q is V.
    """

    def __init__(self, in_features: int, num_actions: int):
        super().__init__()
        self.value_layer = nn.Linear(in_features, 1)  # V(s; theta, beta)
        self.advantage_layer = nn.Linear(in_features, num_actions)  # A(s, . ; theta, alpha)

    def forward(self, features: Tensor) -> Tensor:
        value = self.value_layer(features)  # (B, 1)
        advantage = self.advantage_layer(features)  # (B, A)
        centred_advantage = advantage - advantage.mean(dim=1, keepdim=True)  # (B, A)
        return value + centred_advantage  # type: ignore[no-any-return]


def make_output_layer(in_features: int, num_actions: int, dueling: bool) -> nn.Module:
    """The layer from a torso's features (B, in_features) to Q-values (B, num_actions): the
    dueling head (eq-dueling) when asked for, else one linear layer."""
    if dueling:
        return DuelingHead(in_features, num_actions)
    return nn.Linear(in_features, num_actions)


class MLPQNetwork(nn.Module):
    """Q(s, . ; theta) = W_L relu(... relu(W_1 s + b_1) ...) + b_L; the paper's is 128-128 wide.
    With `dueling`, the last layer W_L, b_L is the dueling head instead (eq-dueling). With
    `layer_norm`, each hidden layer normalises its pre-activations before the relu:
    relu(LN(W_l h + b_l)) (eq-layer-norm).

    Implements: spec/network.md#eq-qnet-mlp, spec/network.md#eq-layer-norm
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (128, 128),
        dueling: bool = False,
        precision: Precision = "float32",
        layer_norm: bool = False,
    ):
        super().__init__()
        self.precision = precision
        widths = [obs_dim, *hidden_sizes]
        self.hidden_layers = nn.ModuleList(
            nn.Linear(width_in, width_out) for width_in, width_out in itertools.pairwise(widths)
        )
        # LN's gain starts at 1 and its bias at 0 (torch's default), so at initialisation each
        # hidden layer's pre-activations are exactly standardised per row.
        self.norms = nn.ModuleList(
            nn.LayerNorm(width) if layer_norm else nn.Identity() for width in hidden_sizes
        )
        self.output_layer = make_output_layer(widths[-1], num_actions, dueling)

    def forward(self, obs: Tensor) -> Tensor:
        """obs (B, obs_dim) -> Q-values (B, num_actions), float32."""
        with compute_precision(obs.device.type, self.precision):
            hidden = obs.float()
            for layer, norm in zip(self.hidden_layers, self.norms, strict=True):
                hidden = torch.relu(norm(layer(hidden)))
            q_values: Tensor = self.output_layer(hidden)
        return q_values.float()


class NatureCNN(nn.Module):
    """Mnih et al. (2015)'s Q-network: three convolutions and a 512-wide layer on 4x84x84 frames.

    Implements: spec/network.md#eq-qnet-cnn

    Takes the uint8 frames replay stores and scales them to [0, 1] inside the network, so the
    buffer and the host-to-device copy move one byte per pixel rather than four. The convolutions
    run channels-last (NHWC), the layout oneDNN and cuDNN convolve fastest: the same numbers,
    1.4x faster on a CPU (bench/update_options.py).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        num_actions: int,
        dueling: bool = False,
        precision: Precision = "float32",
    ):
        super().__init__()
        self.precision = precision
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
        # torch's stubs omit Module.to's memory_format, which torch documents and accepts.
        self.convolutions.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.hidden_layer = nn.Linear(features, 512)
        self.output_layer = make_output_layer(512, num_actions, dueling)

    def forward(self, obs: Tensor) -> Tensor:
        """obs (B, K, H, W) uint8 in [0, 255] -> Q-values (B, num_actions), float32."""
        with compute_precision(obs.device.type, self.precision):
            scaled = (obs.float() / 255.0).contiguous(memory_format=torch.channels_last)
            features = self.convolutions(scaled)
            q_values: Tensor = self.output_layer(torch.relu(self.hidden_layer(features)))
        return q_values.float()


def make_q_network(
    network: str,
    obs_shape: tuple[int, ...],
    num_actions: int,
    hidden_sizes: Sequence[int],
    dueling: bool = False,
    precision: Precision = "float32",
    layer_norm: bool = False,
) -> nn.Module:
    """The Q-network a config names, sized for an observation shape and an action count, with
    the dueling head (eq-dueling) as its output layer when `dueling` is set, computing in
    `precision`, with layer normalisation in the MLP's hidden layers when `layer_norm` is set."""
    if network == "mlp":
        if len(obs_shape) != 1:
            raise ValueError(f"the mlp network needs flat observations, got shape {obs_shape}")
        return MLPQNetwork(obs_shape[0], num_actions, hidden_sizes, dueling, precision, layer_norm)
    if layer_norm:
        raise ValueError("layer_norm is an option of the mlp network only")
    if network == "nature_cnn":
        if len(obs_shape) != 3:
            raise ValueError(f"the nature_cnn network needs (K, H, W) frames, got {obs_shape}")
        return NatureCNN(obs_shape, num_actions, dueling, precision)
    raise ValueError(f"unknown network {network!r}")
