"""α → op weights for gradient search: DARTS softmax or SNAS Gumbel-softmax, plus the entropy term.

One place for the relaxation so that both supernets stay config-free: they call whatever
``op_weights`` callable they hold (softmax by default, a :class:`Relaxation` during a search,
fixed one-hot weights when the discrete child is measured).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from unnas.config.rules import check_config
from unnas.config.schema import ArchConfig
from unnas.spaces.darts.ops import PRIMITIVES
from unnas.spaces.darts.supernet import softmax_weights


def validate_arch(arch: ArchConfig) -> None:
    """One-line ConfigErrors for arch.* values the search cannot use (the schema's rules)."""
    check_config(arch, "arch.")


def tau_at(arch: ArchConfig, progress: float) -> float:
    """Gumbel temperature at ``progress`` ∈ [0, 1] of the search (exponential or linear anneal)."""
    p = min(max(progress, 0.0), 1.0)
    if arch.tau_schedule == "exponential":
        return arch.tau_start * (arch.tau_end / arch.tau_start) ** p
    return arch.tau_start + (arch.tau_end - arch.tau_start) * p


def entropy_weight_at(arch: ArchConfig, progress: float) -> float:
    """constant: entropy_weight throughout; linear: ramps from 0 to entropy_weight."""
    if arch.entropy_schedule == "linear":
        return arch.entropy_weight * min(max(progress, 0.0), 1.0)
    return arch.entropy_weight


def gumbel_weights(alpha: Tensor, tau: float, generator: torch.Generator | None, hard: bool = False) -> Tensor:
    """softmax((α + g) / τ) with g = -log(-log u), u ~ U(0, 1) from ``generator``.

    ``hard``: one-hot of the sample in the forward pass, the soft sample's gradient (straight-through).
    """
    u = torch.rand(alpha.shape, generator=generator, device=alpha.device, dtype=alpha.dtype)
    tiny = torch.finfo(alpha.dtype).tiny
    g = -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))
    soft = F.softmax((alpha + g) / tau, dim=-1)
    if not hard:
        return soft
    one_hot = F.one_hot(soft.argmax(dim=-1), alpha.shape[-1]).to(soft.dtype)
    return one_hot - soft.detach() + soft


def mean_entropy(alphas: list[Tensor], keep: list[int] | None = None) -> Tensor:
    """Mean over edges of the entropy of softmax(α), normalised by log(#ops) into [0, 1].

    ``keep``: op columns the distribution is taken over (softmax renormalised over them), e.g. every op
    but `none`, so that minimising the entropy picks a real op instead of letting `none` win.
    """
    rows = torch.cat([a.reshape(-1, a.shape[-1]) for a in alphas])
    if keep is not None:
        rows = rows[:, keep]
    logp = F.log_softmax(rows, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1).mean() / math.log(rows.shape[-1])


class Relaxation:
    """The search's op-weight callable; ``progress`` (fraction of the search done) is set by the loop.

    Gumbel noise only in training mode: evaluation and the discretisation gap use softmax(α).
    """

    def __init__(self, arch: ArchConfig, generator: torch.Generator | None = None):
        self.arch = arch
        self.generator = generator
        self.progress = 0.0

    @property
    def tau(self) -> float:
        return tau_at(self.arch, self.progress)

    def __call__(self, alpha: Tensor, training: bool = True) -> Tensor:
        if self.arch.relaxation == "gumbel" and training:
            return gumbel_weights(alpha, self.tau, self.generator, self.arch.hard)
        return softmax_weights(alpha)

    def penalty(self, alphas: list[Tensor]) -> Tensor | None:
        """entropy_weight(progress) · mean entropy of the trainable α, or None when the weight is 0."""
        w = entropy_weight_at(self.arch, self.progress)
        if w == 0:
            return None
        keep = None
        if self.arch.entropy_ops == "no_none":
            keep = [k for k, name in enumerate(PRIMITIVES) if name != "none"]
        return w * mean_entropy(alphas, keep)


def fixed_weights(pairs: list[tuple[Tensor, Tensor]]):
    """An op-weight callable giving fixed weights for each α tensor (e.g. one-hot of a genotype)."""

    def call(alpha: Tensor, training: bool = True) -> Tensor:
        for a, w in pairs:
            if a is alpha:
                return w.to(alpha.device, alpha.dtype)
        raise KeyError("no fixed weights for this α")

    return call
