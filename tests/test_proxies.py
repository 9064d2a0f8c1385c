"""Zero-cost proxies on real networks: exact values on small linear nets, determinism, no side effects."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pretext import TaskNetwork
from pretext.heads import PooledClassifier
from unnas.errors import ConfigError
from unnas.spaces.darts.supernet import Supernet
from unnas.study.proxies import PROXIES, compute_proxy


def tiny_cnn(seed=0, classes=5):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes),
    )


def batch(n=6, size=12, classes=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 7, bias=False), nn.ReLU(), nn.Linear(7, 3, bias=False))


def test_values_match_their_definitions_on_a_two_layer_net():
    model = mlp()
    x = torch.rand(5, 3, 2, 2, generator=torch.Generator().manual_seed(3)) - 0.5
    y = torch.tensor([0, 1, 2, 0, 1])
    w1, w2 = model[1].weight.detach().double(), model[3].weight.detach().double()
    # synflow: R = 1ᵀ|W2||W1|1 is degree-1 homogeneous in each layer, so Σ|θ ∂R/∂θ| = 2R
    r = (w2.abs() @ w1.abs() @ torch.ones(12, dtype=torch.float64)).sum()
    assert compute_proxy("synflow", model, x, y) == pytest.approx(2 * float(r), rel=1e-12)
    # snip and grad_norm from plain autograd
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    params = list(model.parameters())
    assert compute_proxy("snip", model, x, y) == pytest.approx(sum(float((p.detach() * g).abs().sum()) for p, g in zip(params, grads)), rel=1e-6)
    assert compute_proxy("grad_norm", model, x, y) == pytest.approx(math.sqrt(sum(float(g.pow(2).sum()) for g in grads)), rel=1e-6)
    # naswot: binary codes of the one ReLU, K = C Cᵀ + (1-C)(1-C)ᵀ
    codes = (x.flatten(1) @ model[1].weight.detach().T > 0).double()
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    assert compute_proxy("naswot", model, x, y) == pytest.approx(float(torch.linalg.slogdet(kernel).logabsdet), rel=1e-9)


def test_proxies_are_finite_deterministic_side_effect_free_and_follow_the_weights():
    model = tiny_cnn().train()
    images, labels = batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cpu_state = torch.get_rng_state()
    scores = {name: compute_proxy(name, model, images, labels) for name in PROXIES}
    assert all(math.isfinite(s) for s in scores.values()), scores
    assert scores == {name: compute_proxy(name, model, images, labels) for name in PROXIES}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights and BN stats
    assert all(p.grad is None for p in model.parameters()) and model.training
    assert torch.equal(torch.get_rng_state(), cpu_state)
    other = tiny_cnn(seed=5)
    for name in PROXIES:
        assert compute_proxy(name, other, images, labels) != pytest.approx(scores[name], rel=1e-6), name


def test_proxies_on_a_darts_supernet_task_network():
    torch.manual_seed(0)
    trunk = Supernet(width=2, cells=1, stem="cifar")
    net = TaskNetwork(trunk, PooledClassifier(trunk.out_channels, 4))
    images, labels = batch(n=4, size=8, classes=4)
    for name in PROXIES:
        assert math.isfinite(compute_proxy(name, net, images, labels)), name


def test_unknown_proxy_and_relu_free_network_are_one_line_errors():
    images, labels = batch()
    with pytest.raises(ConfigError, match="unknown zero-cost proxy 'zen'"):
        compute_proxy("zen", tiny_cnn(), images, labels)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 5))
    with pytest.raises(ConfigError, match="no nn.ReLU modules"):
        compute_proxy("naswot", linear, images, labels)
