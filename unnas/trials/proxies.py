"""Zero-cost proxies: score an untrained network from one batch, as cheap baselines for pretext tasks.

The definitions follow the reference implementation the zero-cost-proxy literature compares
against (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021), so scores are
comparable with published ones. In particular the per-weight proxies sum over the **weights of
the ``nn.Conv2d`` and ``nn.Linear`` layers only** — never biases, BN γ/β or other parameters.

Every proxy works on a private deep copy of the network, inside a forked RNG seeded with 0,
so the caller's weights, buffers (BN running stats), gradients and global RNG are untouched
and the score depends only on the weights and the batch. L is the cross-entropy of the batch.

- ``synflow`` (Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020): in float64 (products of many weights overflow
  float32), every parameter θ → |θ|, every BatchNorm's forward replaced by the identity (BN
  bypassed: its γ, β and running statistics play no part), dropout off (eval mode); one all-ones
  input, R = Σ of the output, score = Σ over conv/linear weights of θ ⊙ ∂R/∂θ (non-negative).
  The reference flips the signs back afterwards; here the sign-flipped copy is simply discarded.
- ``snip`` (Lee et al., "SNIP: single-shot network pruning based on connection sensitivity",
  ICLR 2019): Σ over conv/linear weights of |θ ⊙ ∂L/∂θ| (train mode: BN on batch statistics).
- ``grad_norm``: Σ over conv/linear layers of ‖∂L/∂W‖₂, each weight's own L2 norm (train mode).
- ``naswot`` (Mellor et al., "Neural Architecture Search without Training", ICML 2021): binary
  codes of every ``nn.ReLU``'s active units per input, K = C Cᵀ + (1−C)(1−C)ᵀ, score =
  log|det K| (train mode). Needs ``nn.ReLU`` modules.
- ``jacob_cov`` (the first version of the same paper, arXiv:2006.04647v1, 2020, as the ICLR 2021
  reference computes it): J = ∂(Σ of the batch's outputs)/∂x, one row per input (N×D, train mode,
  so rows are coupled through BN batch statistics exactly as in the reference), Σ_J = the
  correlation matrix of J's rows, λ its eigenvalues, score = −Σ [log(λ+k) + 1/(λ+k)], k = 1e-5.

``snip`` and ``grad_norm`` need class labels; ``synflow``, ``naswot`` and ``jacob_cov`` are
label-free (``labels`` may be None). A score that is not finite is a one-line TaskError.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.errors import ConfigError, TaskError

#: The jacob_cov regulariser k of the reference.
JACOB_COV_K = 1e-5


@contextmanager
def _scratch(model: nn.Module, train: bool) -> Iterator[nn.Module]:
    """A deep copy of ``model`` with fresh gradients, under a forked, seeded RNG (dropout-safe)."""
    devices = [model_device(model)] if model_device(model).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        net = copy.deepcopy(model)
        net.train(train)
        net.zero_grad(set_to_none=True)
        yield net


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def layer_weights(net: nn.Module) -> list[nn.Parameter]:
    """The weights of every ``nn.Conv2d`` and ``nn.Linear`` (what the per-weight proxies sum over)."""
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not weights:
        raise ConfigError("zero-cost proxy: the network has no nn.Conv2d or nn.Linear layers to score; "
                          "use naswot or jacob_cov")
    return [w.requires_grad_(True) for w in weights]  # on the private copy only


def _bypass_batchnorm(net: nn.Module) -> None:
    """Replace every BatchNorm's forward by the identity (in the private copy)."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.forward = _identity


def _identity(x: Tensor) -> Tensor:
    return x


def _loss_grads(model: nn.Module, images: Tensor, labels: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(W, ∂L/∂W) for every conv/linear weight the loss reaches, on a scratch copy in train mode."""
    with _scratch(model, train=True) as net:
        weights = layer_weights(net)
        loss = F.cross_entropy(net(images), labels)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        return [(w.detach(), g) for w, g in zip(weights, grads) if g is not None]


def snip(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    pairs = _loss_grads(model, images, labels)
    return float(sum((w.double() * g.double()).abs().sum() for w, g in pairs))


def grad_norm(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    pairs = _loss_grads(model, images, labels)
    return float(sum(torch.linalg.vector_norm(g.double()) for _w, g in pairs))


def synflow(model: nn.Module, images: Tensor, labels: Tensor | None = None) -> float:
    with _scratch(model, train=False) as net:
        _bypass_batchnorm(net)
        net.double()
        with torch.no_grad():
            for p in net.parameters():
                p.abs_()
        weights = layer_weights(net)
        ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=images.device)
        grads = torch.autograd.grad(net(ones).sum(), weights, allow_unused=True)
        return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None))


def naswot(model: nn.Module, images: Tensor, labels: Tensor | None = None) -> float:
    n = images.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64, device=images.device)

    def hook(_module, _inputs, output: Tensor) -> None:
        codes = (output.detach() > 0).reshape(n, -1).double()
        kernel.add_(codes @ codes.T).add_((1 - codes) @ (1 - codes).T)

    with _scratch(model, train=True) as net:
        relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
        if not relus:
            raise ConfigError("proxy naswot: the network has no nn.ReLU modules to read activation codes from; "
                              "use synflow, jacob_cov, snip or grad_norm")
        handles = [m.register_forward_hook(hook) for m in relus]
        try:
            with torch.no_grad():
                net(images)
        finally:
            for h in handles:
                h.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def jacob_cov(model: nn.Module, images: Tensor, labels: Tensor | None = None) -> float:
    with _scratch(model, train=True) as net:
        x = images.detach().clone().requires_grad_(True)
        (jac,) = torch.autograd.grad(net(x).sum(), x)
    corr = torch.corrcoef(jac.reshape(jac.shape[0], -1).double())
    if not bool(torch.isfinite(corr).all()):
        raise TaskError("proxy 'jacob_cov': an input's Jacobian is constant (the output does not depend on "
                        "that input), so its correlation is undefined; the job is recorded as failed")
    lam = torch.linalg.eigvalsh(corr)  # the matrix is symmetric: real eigenvalues
    return float(-(torch.log(lam + JACOB_COV_K) + 1.0 / (lam + JACOB_COV_K)).sum())


ProxyFn = Callable[[nn.Module, Tensor, "Tensor | None"], float]


@dataclass(frozen=True)
class ProxyInfo:
    fn: ProxyFn
    needs_labels: bool
    description: str


PROXY_INFO: dict[str, ProxyInfo] = {
    "synflow": ProxyInfo(synflow, False, "Σ θ⊙∂R/∂θ over conv/linear weights of the |θ| network, BN bypassed, "
                                         "all-ones input (Tanaka et al. 2020)"),
    "snip": ProxyInfo(snip, True, "Σ |θ⊙∂L/∂θ| over conv/linear weights, cross-entropy of one batch (Lee et al. 2019)"),
    "grad_norm": ProxyInfo(grad_norm, True, "Σ over conv/linear layers of ‖∂L/∂W‖₂ (Abdelfattah et al. 2021)"),
    "naswot": ProxyInfo(naswot, False, "log|det K| of the ReLU activation-code kernel (Mellor et al. 2021)"),
    "jacob_cov": ProxyInfo(jacob_cov, False, "−Σ log(λ+k)+1/(λ+k) of the input-Jacobian correlation matrix "
                                             "(Mellor et al. 2020, v1)"),
}

PROXIES: dict[str, ProxyFn] = {name: info.fn for name, info in PROXY_INFO.items()}


def label_free_proxies() -> list[str]:
    return [name for name, info in PROXY_INFO.items() if not info.needs_labels]


def needs_labels(name: str) -> bool:
    return _info(name).needs_labels


def _info(name: str) -> ProxyInfo:
    info = PROXY_INFO.get(name)
    if info is None:
        raise ConfigError(f"unknown zero-cost proxy {name!r}; choose one of: {', '.join(PROXY_INFO)}")
    return info


def compute_proxy(name: str, model: nn.Module, images: Tensor, labels: Tensor | None = None) -> float:
    """Score ``model`` (images → logits) with the proxy ``name`` on one batch (higher = predicted better)."""
    info = _info(name)
    if info.needs_labels and labels is None:
        raise ConfigError(f"proxy {name!r} needs class labels and this data has none; use a label-free proxy "
                          f"({', '.join(label_free_proxies())}) or a labelled reader")
    score = info.fn(model, images, labels)
    if not math.isfinite(score):
        raise TaskError(f"proxy {name!r} scored {score} on this network and batch (degenerate outputs or "
                        "gradients); the score is not usable, the job is recorded as failed")
    return score
