"""Zero-cost proxies: score an untrained network from one batch, as cheap baselines for pretext tasks.

Every proxy works on a private deep copy of the network, inside a forked RNG seeded with 0,
so the caller's weights, buffers (BN running stats), gradients and global RNG are untouched
and the score depends only on the weights and the batch.

- ``synflow`` (Tanaka et al. 2020): Σ|θ ⊙ ∂R/∂θ| with θ → |θ|, R = Σ f(1) on one all-ones input;
  float64 (products of many weights overflow float32), BN in eval mode (batch statistics of a
  constant input are degenerate).
- ``snip`` (Lee et al. 2019): Σ|θ ⊙ ∂L/∂θ| for the cross-entropy L of the batch (train mode).
- ``grad_norm``: ‖∂L/∂θ‖₂ over all parameters (train mode).
- ``naswot`` (Mellor et al. 2021): binary codes of every ``nn.ReLU``'s active units per input,
  K = C Cᵀ + (1−C)(1−C)ᵀ, score = log|det K| (train mode). Needs ``nn.ReLU`` modules.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.errors import ConfigError


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


def _params(net: nn.Module) -> list[nn.Parameter]:
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("zero-cost proxy: the network has no trainable parameters")
    return params


def _loss_grads(model: nn.Module, images: Tensor, labels: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(θ, ∂L/∂θ) pairs for the cross-entropy of one batch, on a scratch copy in train mode."""
    with _scratch(model, train=True) as net:
        loss = F.cross_entropy(net(images), labels)
        params = _params(net)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return [(p.detach(), g) for p, g in zip(params, grads) if g is not None]


def snip(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    pairs = _loss_grads(model, images, labels)
    return float(sum((p * g).abs().sum(dtype=torch.float64) for p, g in pairs))


def grad_norm(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    pairs = _loss_grads(model, images, labels)
    return float(torch.sqrt(sum(g.double().pow(2).sum() for _p, g in pairs)))


def synflow(model: nn.Module, images: Tensor, labels: Tensor | None = None) -> float:
    with _scratch(model, train=False) as net:
        net.double()
        with torch.no_grad():
            for p in net.parameters():
                p.abs_()
        ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=images.device)
        params = _params(net)
        grads = torch.autograd.grad(net(ones).sum(), params, allow_unused=True)
        return float(sum((p.detach() * g).abs().sum() for p, g in zip(params, grads) if g is not None))


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
                              "use synflow, snip or grad_norm")
        handles = [m.register_forward_hook(hook) for m in relus]
        try:
            with torch.no_grad():
                net(images)
        finally:
            for h in handles:
                h.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


ProxyFn = Callable[[nn.Module, Tensor, Tensor], float]

PROXIES: dict[str, ProxyFn] = {"synflow": synflow, "snip": snip, "grad_norm": grad_norm, "naswot": naswot}


def compute_proxy(name: str, model: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Score ``model`` (images → logits) with the proxy ``name`` on one batch (higher = predicted better)."""
    fn = PROXIES.get(name)
    if fn is None:
        raise ConfigError(f"unknown zero-cost proxy {name!r}; choose one of: {', '.join(PROXIES)}")
    return fn(model, images, labels)
