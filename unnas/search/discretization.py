"""What a gradient search ends with besides its genotype: α histogram, sampled genotypes, discretisation gap.

The gap is the supernet's loss/metric with its own α minus the discrete child's (α replaced by
the one-hot of the derived genotype, same weights) on the same α-half batches: how much the
final argmax changes the network that was actually trained.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from unnas.atomic import atomic_savefig  # noqa: E402
from unnas.spaces.darts.genotype import Genotype  # noqa: E402
from unnas.spaces.darts.ops import PRIMITIVES  # noqa: E402


def one_hot_weights(pairs, nodes: int) -> Tensor:
    """(edges × ops) weights of a discrete cell: one-hot of the kept op on kept edges, zero elsewhere."""
    w = torch.zeros(sum(i + 2 for i in range(nodes)), len(PRIMITIVES))
    start = 0
    for i in range(nodes):
        for op, src in pairs[2 * i:2 * i + 2]:
            w[start + src, PRIMITIVES.index(op)] = 1.0
        start += i + 2
    return w


def child_weights(trunk, genotype: Genotype) -> list[tuple[Tensor, Tensor]]:
    """(α tensor, one-hot weights) pairs for :func:`unnas.search.relaxation.fixed_weights`."""
    return [(trunk.alpha_normal, one_hot_weights(genotype.normal, trunk.nodes)),
            (trunk.alpha_reduce, one_hot_weights(genotype.reduce, trunk.nodes))]


def gap(supernet: dict[str, float], child: dict[str, float]) -> dict[str, dict[str, float]]:
    """Both evaluations and child − supernet for every key they share."""
    return {"supernet": supernet, "child": child,
            "child_minus_supernet": {k: child[k] - supernet[k] for k in supernet if k in child}}


def plot_alpha_hist(weights: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """softmax(α) values in 25 bins over [0, 1], one panel per cell type (MTL-NAS's picture)."""
    fig, axes = plt.subplots(1, len(weights), figsize=(4.2 * len(weights), 3.2), squeeze=False)
    for ax, (cell, w) in zip(axes[0], weights.items()):
        ax.hist(np.asarray(w).ravel(), bins=25, range=(0.0, 1.0), color="#4c72b0")
        ax.set_title(f"{cell} cell")
        ax.set_xlabel("op weight softmax(α)")
        ax.set_ylabel("count")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        return atomic_savefig(path, fig, dpi=110)
    finally:
        plt.close(fig)
