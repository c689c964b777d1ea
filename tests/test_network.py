"""eq-qnet-mlp, eq-qnet-cnn and eq-dueling (spec/network.md): the Q-networks' shape and
independence laws, and the dueling head's centring."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional

from dqn_ref.network import DuelingHead, MLPQNetwork, NatureCNN, make_q_network

obs_dims = st.integers(1, 16)
action_counts = st.integers(1, 8)
hidden = st.lists(st.integers(1, 32), min_size=1, max_size=3).map(tuple)


@given(obs_dims, action_counts, hidden, st.integers(1, 16))
def test_mlp_maps_a_batch_of_observations_to_one_value_per_action(
    obs_dim: int, num_actions: int, hidden_sizes: tuple[int, ...], batch: int
) -> None:
    """eq-qnet-mlp P1: obs (B, d) -> Q (B, |A|), float32 and finite."""
    network = MLPQNetwork(obs_dim, num_actions, hidden_sizes)
    q_values = network(torch.randn(batch, obs_dim))
    assert q_values.shape == (batch, num_actions)
    assert q_values.dtype == torch.float32
    assert bool(torch.isfinite(q_values).all())


@given(obs_dims, action_counts, st.integers(2, 16), st.integers(0, 2**31 - 1))
def test_each_row_depends_only_on_its_own_observation(
    obs_dim: int, num_actions: int, batch: int, seed: int
) -> None:
    """eq-qnet-mlp P2: Q(s_i, .) is the same alone or in a batch; other rows do not leak in."""
    torch.manual_seed(seed)
    network = MLPQNetwork(obs_dim, num_actions, (16, 16))
    observations = torch.randn(batch, obs_dim)
    together = network(observations)
    alone = torch.cat([network(observations[i : i + 1]) for i in range(batch)])
    assert torch.allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_mlp_has_the_papers_layer_sizes() -> None:
    """eq-qnet-mlp: the replication paper's 4 -> 128 -> 128 -> 2 network has
    (4*128 + 128) + (128*128 + 128) + (128*2 + 2) = 640 + 16,512 + 258 = 17,410 parameters."""
    network = make_q_network("mlp", (4,), 2, (128, 128))
    assert sum(p.numel() for p in network.parameters()) == 17_410


def test_mlp_matches_explicit_matrix_products() -> None:
    """eq-qnet-mlp against torch's functional ops: W3 relu(W2 relu(W1 s + b1) + b2) + b3."""
    torch.manual_seed(0)
    network = MLPQNetwork(4, 2, (8, 8))
    w1, b1, w2, b2, w3, b3 = (p.detach() for p in network.parameters())
    obs = torch.randn(5, 4)
    expected = functional.linear(
        torch.relu(functional.linear(torch.relu(functional.linear(obs, w1, b1)), w2, b2)), w3, b3
    )
    assert torch.allclose(network(obs), expected, rtol=1e-6, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 4), st.integers(1, 18), st.integers(0, 2**31 - 1))
def test_nature_cnn_maps_uint8_frames_to_one_value_per_action(
    batch: int, num_actions: int, seed: int
) -> None:
    """eq-qnet-cnn P1: uint8 frames (B, 4, 84, 84) -> Q (B, |A|), float32 and finite, each row
    depending on its own frames only."""
    torch.manual_seed(seed)
    network = NatureCNN((4, 84, 84), num_actions)
    frames = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)
    q_values = network(frames)
    assert q_values.shape == (batch, num_actions) and q_values.dtype == torch.float32
    assert bool(torch.isfinite(q_values).all())
    alone = torch.cat([network(frames[i : i + 1]) for i in range(batch)])
    assert torch.allclose(q_values, alone, rtol=1e-5, atol=1e-5)


def test_nature_cnn_scales_bytes_inside_and_matches_explicit_layers() -> None:
    """eq-qnet-cnn P2: Q(s) on uint8 frames equals the written-out layers applied to s / 255."""
    torch.manual_seed(0)
    network = NatureCNN((4, 84, 84), 6)
    c1, cb1, c2, cb2, c3, cb3, w4, b4, w5, b5 = (p.detach() for p in network.parameters())
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    hidden = torch.relu(functional.conv2d(frames.float() / 255.0, c1, cb1, stride=4))
    hidden = torch.relu(functional.conv2d(hidden, c2, cb2, stride=2))
    hidden = torch.relu(functional.conv2d(hidden, c3, cb3, stride=1)).flatten(1)
    expected = functional.linear(torch.relu(functional.linear(hidden, w4, b4)), w5, b5)
    assert torch.allclose(network(frames), expected, rtol=1e-5, atol=1e-5)


def test_nature_cnn_has_the_papers_layer_sizes() -> None:
    """eq-qnet-cnn: 32 8x8/4, 64 4x4/2, 64 3x3/1 convolutions, 512 units, 6 Pong actions:
    8,224 + 32,832 + 36,928 + 1,606,144 + 3,078 = 1,687,206 parameters."""
    network = make_q_network("nature_cnn", (4, 84, 84), 6, ())
    assert sum(p.numel() for p in network.parameters()) == 1_687_206


# --- eq-dueling ----------------------------------------------------------------------------------

feature_widths = st.integers(1, 16)
seeds = st.integers(0, 2**31 - 1)


def seeded_head(in_features: int, num_actions: int, seed: int) -> DuelingHead:
    torch.manual_seed(seed)
    return DuelingHead(in_features, num_actions)


@given(
    feature_widths,
    action_counts,
    st.integers(1, 16),
    st.floats(-100.0, 100.0, allow_nan=False),
    seeds,
)
def test_shifting_every_advantage_by_a_constant_leaves_q_unchanged(
    in_features: int, num_actions: int, batch: int, shift: float, seed: int
) -> None:
    """eq-dueling P1: A(s, a) + c for every a gives the same Q: the mean advantage is removed.
    The shift enters through the advantage layer's bias, so it reaches every action and row."""
    head = seeded_head(in_features, num_actions, seed)
    features = torch.randn(batch, in_features)
    before = head(features)
    with torch.no_grad():
        head.advantage_layer.bias.add_(shift)
    after = head(features)
    assert torch.allclose(before, after, rtol=1e-5, atol=1e-4 * (1.0 + abs(shift)))


@given(feature_widths, action_counts, st.integers(1, 16), seeds)
def test_mean_q_over_actions_is_the_state_value(
    in_features: int, num_actions: int, batch: int, seed: int
) -> None:
    """eq-dueling P2: (1/|A|) sum_a Q(s, a) = V(s), since the centred advantages average to 0."""
    head = seeded_head(in_features, num_actions, seed)
    features = torch.randn(batch, in_features)
    value = head.value_layer(features).squeeze(1)  # (B,)
    assert torch.allclose(head(features).mean(dim=1), value, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("network", "obs_shape", "hidden_sizes"),
    [
        ("mlp", (4,), (16, 16)),
        ("nature_cnn", (4, 84, 84), ()),
    ],
)
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("num_actions", [1, 2, 6])
def test_dueling_networks_map_observations_to_one_value_per_action(
    network: str,
    obs_shape: tuple[int, ...],
    hidden_sizes: tuple[int, ...],
    batch: int,
    num_actions: int,
) -> None:
    """eq-dueling P3: with the dueling head, obs (B, *obs_shape) -> Q (B, |A|), float32 and finite,
    for every torso (the MLP and the Nature CNN), and its output layer is the head."""
    torch.manual_seed(0)
    q_network = make_q_network(network, obs_shape, num_actions, hidden_sizes, dueling=True)
    heads = [module for module in q_network.modules() if isinstance(module, DuelingHead)]
    assert len(heads) == 1
    q_values = q_network(torch.rand(batch, *obs_shape))
    assert q_values.shape == (batch, num_actions)
    assert q_values.dtype == torch.float32
    assert bool(torch.isfinite(q_values).all())


def test_dueling_head_matches_explicit_matrix_products() -> None:
    """eq-dueling against torch's functional ops: Q = V + A - mean_a A, with V = w_V x + b_V and
    A = W_A x + b_A."""
    torch.manual_seed(0)
    head = DuelingHead(8, 3)
    features = torch.randn(5, 8)
    value = functional.linear(features, head.value_layer.weight, head.value_layer.bias)
    advantage = functional.linear(features, head.advantage_layer.weight, head.advantage_layer.bias)
    expected = value + advantage - advantage.mean(dim=1, keepdim=True)
    assert torch.allclose(head(features), expected, rtol=1e-6, atol=1e-6)


def test_dueling_head_worked_example() -> None:
    """eq-dueling by hand: V = 1 and A = (1, 2, 6), whose mean is 3, give
    Q = 1 + (1 - 3, 2 - 3, 6 - 3) = (-1, 0, 4); the greedy action is A's argmax, 2."""
    head = DuelingHead(1, 3)
    with torch.no_grad():
        head.value_layer.weight.zero_()
        head.value_layer.bias.fill_(1.0)
        head.advantage_layer.weight.zero_()
        head.advantage_layer.bias.copy_(torch.tensor([1.0, 2.0, 6.0]))
    assert head(torch.zeros(1, 1)).tolist() == [[-1.0, 0.0, 4.0]]


def test_dueling_mlp_parameter_count() -> None:
    """eq-dueling: the 4 -> 128 -> 128 torso with the head instead of its last layer has
    640 + 16,512 (torso) + (128 + 1) (value) + (128*2 + 2) (advantage) = 17,539 parameters,
    129 more than the plain network's 17,410; with dueling off it is the plain network."""
    dueling = make_q_network("mlp", (4,), 2, (128, 128), dueling=True)
    plain = make_q_network("mlp", (4,), 2, (128, 128), dueling=False)
    assert sum(p.numel() for p in dueling.parameters()) == 17_539
    assert sum(p.numel() for p in plain.parameters()) == 17_410


def test_bfloat16_network_returns_float32_q_values_close_to_float32s() -> None:
    """Precision: under bf16 autocast the Nature CNN returns float32 Q-values within bf16's
    rounding of the float32 network's, and its weights stay float32."""
    torch.manual_seed(0)
    full = make_q_network("nature_cnn", (4, 84, 84), 6, (), precision="float32")
    half = make_q_network("nature_cnn", (4, 84, 84), 6, (), precision="bfloat16")
    half.load_state_dict(full.state_dict())
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        exact, approximate = full(frames), half(frames)
    assert approximate.dtype == torch.float32
    assert all(parameter.dtype == torch.float32 for parameter in half.parameters())
    scale = exact.abs().max()
    assert not torch.equal(exact, approximate), "bf16 autocast did not take effect"
    torch.testing.assert_close(approximate, exact, atol=float(0.03 * scale), rtol=0.0)


def test_channels_last_convolutions_give_the_default_layouts_numbers() -> None:
    """Layout: the channels-last Nature CNN equals the same weights in the default layout."""
    torch.manual_seed(0)
    network = NatureCNN((4, 84, 84), 6)
    first_convolution = network.convolutions[0]
    assert isinstance(first_convolution, torch.nn.Conv2d)
    assert first_convolution.weight.is_contiguous(memory_format=torch.channels_last)
    default_layout = NatureCNN((4, 84, 84), 6)
    default_layout.load_state_dict(network.state_dict())
    default_layout.convolutions.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(network(frames), default_layout(frames), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_mlp_returns_float32_in_either_precision(precision: str) -> None:
    """Precision: the MLP returns float32 Q-values whatever it computes in."""
    network = make_q_network("mlp", (4,), 2, (16,), precision=precision)  # type: ignore[arg-type]
    assert network(torch.zeros(3, 4)).dtype == torch.float32


@settings(deadline=None)
@given(
    obs_dims,
    action_counts,
    st.lists(st.integers(2, 32), min_size=1, max_size=3).map(tuple),
    st.integers(1, 16),
    st.integers(0, 2**31 - 1),
)
def test_layer_norm_standardises_each_row_of_every_hidden_layer(
    obs_dim: int, num_actions: int, hidden_sizes: tuple[int, ...], batch: int, seed: int
) -> None:
    """eq-layer-norm P1: at initialisation (gain 1, bias 0) each normalised row has mean 0 and
    biased variance sigma^2 / (sigma^2 + eps), which is 1 up to the guard."""
    torch.manual_seed(seed)
    network = MLPQNetwork(obs_dim, num_actions, hidden_sizes, layer_norm=True)
    hidden = torch.randn(batch, obs_dim) * 3.0
    for layer, norm in zip(network.hidden_layers, network.norms, strict=True):
        pre_activation = layer(hidden)
        normalised = norm(pre_activation)
        variance = pre_activation.var(dim=1, unbiased=False, keepdim=True)
        expected_variance = variance / (variance + norm.eps)
        assert torch.allclose(normalised.mean(dim=1), torch.zeros(batch), atol=1e-5)
        assert torch.allclose(
            normalised.var(dim=1, unbiased=False, keepdim=True), expected_variance, atol=1e-4
        )
        hidden = torch.relu(normalised)


@settings(deadline=None)
@given(
    obs_dims,
    action_counts,
    st.floats(0.1, 10.0),
    st.floats(-5.0, 5.0),
    st.integers(0, 2**31 - 1),
)
def test_layer_norm_makes_q_blind_to_the_first_layers_scale_and_shift(
    obs_dim: int, num_actions: int, scale: float, shift: float, seed: int
) -> None:
    """eq-layer-norm P2: W1, b1 -> c W1, c b1 (c > 0), or b1 -> b1 + k, leaves Q(s, .) unchanged."""
    torch.manual_seed(seed)
    network = MLPQNetwork(obs_dim, num_actions, (32, 32), layer_norm=True)
    for norm in network.norms:
        assert isinstance(norm, torch.nn.LayerNorm)
        norm.eps = 0.0  # the law is exact without the guard; with it, rows of tiny variance move
    obs = torch.randn(8, obs_dim)
    before = network(obs)
    first = network.hidden_layers[0]
    assert isinstance(first, torch.nn.Linear)
    with torch.no_grad():
        first.weight.mul_(scale)
        first.bias.mul_(scale)
    assert torch.allclose(network(obs), before, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        first.bias.add_(shift)
    assert torch.allclose(network(obs), before, rtol=1e-4, atol=1e-4)


@given(obs_dims, action_counts, st.integers(2, 16), st.integers(0, 2**31 - 1))
def test_layer_norm_keeps_each_row_independent_of_the_others(
    obs_dim: int, num_actions: int, batch: int, seed: int
) -> None:
    """eq-layer-norm P3: statistics over a row's features, never the batch's rows."""
    torch.manual_seed(seed)
    network = MLPQNetwork(obs_dim, num_actions, (16, 16), layer_norm=True)
    observations = torch.randn(batch, obs_dim)
    alone = torch.cat([network(observations[i : i + 1]) for i in range(batch)])
    assert torch.allclose(network(observations), alone, rtol=1e-5, atol=1e-6)


def test_layer_norm_mlp_matches_functional_layer_norm() -> None:
    """eq-layer-norm against torch: W3 relu(LN(W2 relu(LN(W1 s + b1)) + b2)) + b3, LN from
    functional.layer_norm with the network's gains and biases (perturbed away from 1 and 0)."""
    torch.manual_seed(0)
    network = MLPQNetwork(4, 2, (8, 8), layer_norm=True)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    w1, b1, w2, b2 = (p.detach() for p in network.hidden_layers.parameters())
    g1, beta1, g2, beta2 = (p.detach() for p in network.norms.parameters())
    w3, b3 = (p.detach() for p in network.output_layer.parameters())
    obs = torch.randn(5, 4)
    hidden = torch.relu(functional.layer_norm(functional.linear(obs, w1, b1), (8,), g1, beta1))
    hidden = torch.relu(functional.layer_norm(functional.linear(hidden, w2, b2), (8,), g2, beta2))
    assert torch.allclose(network(obs), functional.linear(hidden, w3, b3), rtol=1e-5, atol=1e-6)


def test_layer_norm_worked_example() -> None:
    """eq-layer-norm: x = (1, 2, 3), mu = 2, sigma^2 = 2/3, LN(x) = (-1, 0, 1) / sqrt(2/3)
    = (-1.2247, 0, 1.2247) with eps = 0; 4-128-128-2 with LN has 17,410 + 2 x 256 = 17,922
    parameters."""
    normalised = functional.layer_norm(torch.tensor([[1.0, 2.0, 3.0]]), (3,), eps=0.0)
    assert torch.allclose(normalised, torch.tensor([[-1.2247449, 0.0, 1.2247449]]))
    network = make_q_network("mlp", (4,), 2, (128, 128), layer_norm=True)
    assert sum(p.numel() for p in network.parameters()) == 17_922


def test_layer_norm_is_refused_for_the_nature_cnn() -> None:
    """eq-layer-norm is an MLP option; the CNN refuses it rather than ignoring it."""
    with pytest.raises(ValueError, match="mlp network only"):
        make_q_network("nature_cnn", (4, 84, 84), 6, (), layer_norm=True)
