"""Zero-cost proxies against hand computations: a Conv→BN→ReLU→Linear net with fixed weights, whose
forward pass the test writes out itself (functional ops on named leaf tensors), so every proxy is
checked against its published definition — conv/linear weights only, BN bypassed in synflow,
per-layer gradient norms, the jacob_cov eigenvalue formula — plus determinism and no side effects."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pretext import TaskNetwork
from pretext.heads import PooledClassifier
from unnas.errors import ConfigError, TaskError
from unnas.spaces.darts.supernet import Supernet
from unnas.trials.proxies import JACOB_COV_K, PROXIES, PROXY_INFO, compute_proxy, needs_labels

EPS = 1e-5  # nn.BatchNorm2d's default


def fixed_net():
    """Conv2d(3→2, 3×3, bias) → BN(2) → ReLU → global average pool → Linear(2→3, bias), fixed weights."""
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    v = fixed_values()
    with torch.no_grad():
        net[0].weight.copy_(v["conv.w"]), net[0].bias.copy_(v["conv.b"])
        net[1].weight.copy_(v["bn.gamma"]), net[1].bias.copy_(v["bn.beta"])
        net[5].weight.copy_(v["lin.w"]), net[5].bias.copy_(v["lin.b"])
        net[1].running_mean.copy_(torch.tensor([0.3, -0.4]))
        net[1].running_var.copy_(torch.tensor([2.0, 0.5]))
    return net


def fixed_values():
    """The six parameters by name."""
    return {
        "conv.w": 0.4 * torch.sin(torch.arange(54.0)).reshape(2, 3, 3, 3),
        "conv.b": torch.tensor([0.1, -0.2]),
        "bn.gamma": torch.tensor([1.5, 0.7]),
        "bn.beta": torch.tensor([0.2, -0.1]),
        "lin.w": torch.cos(torch.arange(6.0) + 1).reshape(3, 2),
        "lin.b": torch.tensor([0.05, -0.05, 0.1]),
    }


def hand_forward(x, p, bn):
    """The same network written out: bn is 'batch' (train-mode statistics) or 'identity' (bypassed)."""
    h = F.conv2d(x, p["conv.w"], p["conv.b"], padding=1)
    if bn == "batch":
        mu = h.mean(dim=(0, 2, 3), keepdim=True)
        var = ((h - mu) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        h = (h - mu) / torch.sqrt(var + EPS) * p["bn.gamma"].view(1, -1, 1, 1) + p["bn.beta"].view(1, -1, 1, 1)
    h = torch.clamp(h, min=0)
    return h.mean(dim=(2, 3)) @ p["lin.w"].T + p["lin.b"]


def leaves(dtype=torch.float32, transform=lambda t: t):
    return {k: transform(v.to(dtype)).clone().requires_grad_(True) for k, v in fixed_values().items()}


def fixed_batch():
    g = torch.Generator().manual_seed(3)
    return torch.rand(4, 3, 5, 5, generator=g) - 0.5, torch.tensor([0, 1, 2, 1])


WEIGHTS = ("conv.w", "lin.w")


def loss_grads(x, y):
    p = leaves()
    loss = F.cross_entropy(hand_forward(x, p, bn="batch"), y)
    return p, dict(zip(p, torch.autograd.grad(loss, list(p.values()))))


def test_fixed_net_matches_its_hand_written_forward():
    x, _ = fixed_batch()
    with torch.no_grad():
        assert torch.allclose(fixed_net().train()(x), hand_forward(x, fixed_values(), "batch"), atol=1e-6)


def test_snip_sums_conv_and_linear_weights_only():
    x, y = fixed_batch()
    p, g = loss_grads(x, y)
    terms = {k: float((p[k].detach() * g[k]).abs().sum()) for k in p}
    expected = sum(terms[k] for k in WEIGHTS)
    assert compute_proxy("snip", fixed_net(), x, y) == pytest.approx(expected, rel=1e-6)
    # the excluded conv bias, BN γ/β and linear bias would change the score
    assert sum(terms.values()) > expected * 1.01


def test_grad_norm_is_the_sum_of_per_layer_weight_norms():
    x, y = fixed_batch()
    _p, g = loss_grads(x, y)
    norms = {k: float(g[k].pow(2).sum().sqrt()) for k in g}
    expected = norms["conv.w"] + norms["lin.w"]
    assert compute_proxy("grad_norm", fixed_net(), x, y) == pytest.approx(expected, rel=1e-6)
    global_norm = math.sqrt(sum(float(g[k].pow(2).sum()) for k in WEIGHTS))
    assert expected > global_norm * 1.01 and sum(norms.values()) > expected * 1.01


def test_synflow_bypasses_bn_and_sums_conv_and_linear_weights_only():
    x, _ = fixed_batch()
    p = leaves(torch.float64, transform=torch.abs)
    r = hand_forward(torch.ones(1, 3, 5, 5, dtype=torch.float64), p, bn="identity").sum()
    g = dict(zip(p, torch.autograd.grad(r, list(p.values()), allow_unused=True)))
    expected = sum(float((p[k].detach() * g[k]).sum()) for k in WEIGHTS)
    model = fixed_net()
    assert compute_proxy("synflow", model, x) == pytest.approx(expected, rel=1e-12)
    with_biases = expected + float((p["conv.b"].detach() * g["conv.b"]).sum() + (p["lin.b"].detach() * g["lin.b"]).sum())
    assert with_biases > expected * 1.01
    # BN bypassed: neither running statistics, γ/β nor the caller's train/eval mode change the score
    with torch.no_grad():
        model[1].running_mean.fill_(5.0)
        model[1].running_var.fill_(0.01)
        model[1].weight.mul_(-3.0)
        model[1].bias.add_(2.0)
    assert compute_proxy("synflow", model.eval(), x) == pytest.approx(expected, rel=1e-12)
    # with BN in eval mode instead (the former definition) those statistics would matter
    bn_eval = sum(float((w * gw).abs().sum()) for w, gw in _eval_bn_synflow_terms(model))
    assert bn_eval != pytest.approx(expected, rel=1e-3)


def _eval_bn_synflow_terms(model):
    net = fixed_net()
    net.load_state_dict(model.state_dict())
    net = net.double().eval()
    with torch.no_grad():
        for q in net.parameters():
            q.abs_()
    weights = [net[0].weight, net[5].weight]
    grads = torch.autograd.grad(net(torch.ones(1, 3, 5, 5, dtype=torch.float64)).sum(), weights)
    return [(w.detach(), gw) for w, gw in zip(weights, grads)]


def test_naswot_is_the_log_determinant_of_the_relu_code_kernel():
    x, _ = fixed_batch()
    v = fixed_values()
    h = F.conv2d(x, v["conv.w"], v["conv.b"], padding=1)
    mu, var = h.mean(dim=(0, 2, 3), keepdim=True), h.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    pre = (h - mu) / torch.sqrt(var + EPS) * v["bn.gamma"].view(1, -1, 1, 1) + v["bn.beta"].view(1, -1, 1, 1)
    codes = (pre > 0).reshape(4, -1).double().numpy()
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    sign, logdet = np.linalg.slogdet(kernel)
    assert sign != 0
    assert compute_proxy("naswot", fixed_net(), x) == pytest.approx(float(logdet), rel=1e-9)


def test_jacob_cov_follows_the_eigenvalue_formula():
    x, _ = fixed_batch()
    xl = x.clone().requires_grad_(True)
    out = hand_forward(xl, fixed_values(), bn="batch")
    (jac,) = torch.autograd.grad(out.sum(), xl)
    corr = np.corrcoef(jac.reshape(4, -1).double().numpy())
    lam = np.linalg.eig(corr)[0].real
    expected = -np.sum(np.log(lam + JACOB_COV_K) + 1.0 / (lam + JACOB_COV_K))
    assert JACOB_COV_K == 1e-5
    assert compute_proxy("jacob_cov", fixed_net(), x) == pytest.approx(float(expected), rel=1e-6)


def test_values_match_their_definitions_on_a_bias_free_two_layer_net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 7, bias=False), nn.ReLU(), nn.Linear(7, 3, bias=False))
    x = torch.rand(5, 3, 2, 2, generator=torch.Generator().manual_seed(3)) - 0.5
    w1, w2 = model[1].weight.detach().double(), model[3].weight.detach().double()
    # synflow: R = 1ᵀ|W2||W1|1 is degree-1 homogeneous in each layer, so Σ θ ∂R/∂θ = 2R
    r = (w2.abs() @ w1.abs() @ torch.ones(12, dtype=torch.float64)).sum()
    assert compute_proxy("synflow", model, x) == pytest.approx(2 * float(r), rel=1e-12)


def test_labels_needed_only_by_snip_and_grad_norm():
    assert {n for n in PROXY_INFO if needs_labels(n)} == {"snip", "grad_norm"}
    assert set(PROXIES) == {"synflow", "snip", "grad_norm", "naswot", "jacob_cov"}
    x, _ = fixed_batch()
    for name in ("synflow", "naswot", "jacob_cov"):
        assert math.isfinite(compute_proxy(name, fixed_net(), x, None)), name
    with pytest.raises(ConfigError, match="'snip' needs class labels"):
        compute_proxy("snip", fixed_net(), x, None)


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
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not any("forward" in vars(m) for m in model.modules())  # the BN bypass stayed in the copy
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


def test_unknown_proxy_degenerate_scores_and_missing_layers_are_one_line_errors():
    images, labels = batch()
    with pytest.raises(ConfigError, match="unknown zero-cost proxy 'zen'"):
        compute_proxy("zen", tiny_cnn(), images, labels)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 5))
    with pytest.raises(ConfigError, match="no nn.ReLU modules"):
        compute_proxy("naswot", linear, images, labels)
    with pytest.raises(ConfigError, match="no nn.Conv2d or nn.Linear"):
        compute_proxy("synflow", nn.Sequential(nn.Flatten(), nn.ReLU()), images)
    # the output ignores the input: every Jacobian row is constant, the correlation undefined
    blind = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 5))
    nn.init.zeros_(blind[1].weight)
    with pytest.raises(TaskError, match="Jacobian is constant"):
        compute_proxy("jacob_cov", blind, images)
    # identical images give a singular naswot kernel: log|det| = -inf is refused, not written
    same = images[:1].expand(4, -1, -1, -1).contiguous()
    with pytest.raises(TaskError, match="proxy 'naswot' scored -inf"):
        compute_proxy("naswot", tiny_cnn(), same)
