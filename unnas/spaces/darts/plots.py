"""Pictures of a DARTS search: α heatmaps and cell diagrams (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from unnas.engine.atomic import atomic_savefig  # noqa: E402

from .genotype import Genotype, edge_sources  # noqa: E402
from .ops import PRIMITIVES, SHORT_NAMES  # noqa: E402


def edge_labels(nodes: int) -> list[str]:
    names = ["c(k-2)", "c(k-1)"] + [str(i) for i in range(nodes)]
    labels = []
    for i in range(nodes):
        for j in range(i + 2):
            labels.append(f"{names[j]} → {i}")
    return labels


def plot_alphas(weights: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Heatmap of softmax(α) per edge (rows) and op (columns), one panel per cell type."""
    kinds = list(weights)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 5.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        w = np.asarray(weights[kind], dtype=float)
        nodes = {2: 1, 5: 2, 9: 3, 14: 4, 20: 5}.get(w.shape[0], 4)
        im = ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0, vmax=max(float(w.max()), 1e-6))
        ax.set_xticks(range(w.shape[1]), [SHORT_NAMES.get(p, p) for p in PRIMITIVES[: w.shape[1]]], rotation=45)
        ax.set_yticks(range(w.shape[0]), edge_labels(nodes)[: w.shape[0]], fontsize=8)
        best = w.argmax(axis=1)
        for r, c in enumerate(best):
            ax.text(c, r, f"{w[r, c]:.2f}", ha="center", va="center", fontsize=6, color="white")
        ax.set_title(f"{kind} cell: softmax(α)")
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = atomic_savefig(path, fig, dpi=110)
    plt.close(fig)
    return out


def plot_cell(genotype: Genotype, kind: str, path: str | Path, title: str | None = None) -> Path:
    """Diagram of one cell: inputs on the left, intermediate nodes, the concatenated output on the right."""
    pairs, concat = genotype.cell(kind)
    nodes = len(pairs) // 2
    # Intermediate nodes on a descending diagonal: straight edges from the inputs rarely cross.
    pos = {0: (0.0, 0.9), 1: (0.0, -0.9)}
    for i in range(nodes):
        pos[i + 2] = (1.6 + 1.25 * i, 1.5 - 3.0 * i / max(nodes - 1, 1))
    out_pos = (1.6 + 1.25 * nodes + 0.2, -1.6)
    fig, ax = plt.subplots(figsize=(2.4 + 1.6 * nodes, 4.0))
    ax.set_xlim(-0.7, out_pos[0] + 0.7)
    ax.set_ylim(-2.2, 2.0)
    ax.axis("off")
    names = {0: "c(k-2)", 1: "c(k-1)", **{i + 2: str(i) for i in range(nodes)}}
    colours = {0: "#9ecae1", 1: "#9ecae1", **{i + 2: "#fdd0a2" for i in range(nodes)}}

    def box(xy, text, colour):
        ax.text(*xy, text, ha="center", va="center", fontsize=10,
                bbox=dict(boxstyle="round,pad=0.35", fc=colour, ec="#444444"), zorder=3)

    for state, xy in pos.items():
        box(xy, names[state], colours[state])
    box(out_pos, "c(k)", "#c7e9c0")
    for idx, (op, src) in enumerate(pairs):
        dst = idx // 2 + 2
        twin = pairs[idx ^ 1][1] == src  # both inputs of the node from the same state: bend them apart
        rad = (0.3 if idx % 2 == 0 else -0.3) if twin else 0.0
        if src >= 2 and dst - src >= 2:  # node-to-node edge that would run through the nodes between
            rad = 0.45
        arrow = FancyArrowPatch(pos[src], pos[dst], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                mutation_scale=12, color="#555555", shrinkA=16, shrinkB=14, zorder=1)
        ax.add_patch(arrow)
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        t = 0.55
        mx, my = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        mx, my = mx + rad * (y1 - y0) * 0.5, my - rad * (x1 - x0) * 0.5
        ax.text(mx, my, SHORT_NAMES.get(op, op), fontsize=8, ha="center", va="center", color="#08306b",
                bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="#c6dbef", alpha=0.95), zorder=2)
    for state in concat:
        arrow = FancyArrowPatch(pos[state], out_pos, arrowstyle="-|>", mutation_scale=10, color="#74c476",
                                linestyle="--", shrinkA=14, shrinkB=14, zorder=0)
        ax.add_patch(arrow)
    ax.set_title(title or f"{kind} cell")
    fig.tight_layout()
    out = atomic_savefig(path, fig, dpi=110)
    plt.close(fig)
    return out


def draw_genotype(genotype: Genotype, folder: str | Path, prefix: str = "cell") -> list[Path]:
    folder = Path(folder)
    return [plot_cell(genotype, kind, folder / f"{prefix}_{kind}.png") for kind in ("normal", "reduce")]


__all__ = ["plot_alphas", "plot_cell", "draw_genotype", "edge_labels", "edge_sources"]
