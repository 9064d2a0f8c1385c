"""Figures of a search study: every genotype's two cells in one sheet, and the target metric per
search task beside the random genotypes' band.

The cells are drawn by :func:`unnas.spaces.darts.plots.cell_figure` (the same pictures a search
run directory holds), rendered to pixels and tiled, so one figure shows every genotype.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from unnas.figures import plt, save_figure
from unnas.spaces.darts.genotype import Genotype
from unnas.spaces.darts.plots import cell_figure


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return image


def genotype_sheet(genotypes: Sequence[tuple[str, Genotype]], path: str | Path) -> Path:
    """One row per genotype (label, normal cell, reduce cell)."""
    n = max(len(genotypes), 1)
    fig, axes = plt.subplots(n, 2, figsize=(12, 2.6 * n), squeeze=False)
    for (label, genotype), row in zip(genotypes, axes):
        for ax, kind in zip(row, ("normal", "reduce")):
            ax.imshow(_pixels(cell_figure(genotype, kind, title=f"{label}: {kind} cell")))
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def target_by_task(values: dict[str, Sequence[float]], random: Sequence[float], label: str,
                   path: str | Path) -> Path:
    """Box + points of the target metric per search task (all search × train seeds); the random
    genotypes' runs as a band (mean ± std, and their range dotted)."""
    tasks = list(values)
    fig, ax = plt.subplots(figsize=(1.6 * max(len(tasks), 2) + 1.5, 4.0))
    if len(random):
        r = np.asarray(random, dtype=np.float64)
        sd = float(r.std(ddof=1)) if r.size > 1 else 0.0
        ax.axhspan(r.mean() - sd, r.mean() + sd, color="#bbbbbb", alpha=0.5, label=f"random (n={r.size}): mean ± std")
        ax.axhline(r.mean(), color="#777777", lw=1.2)
        for bound in (r.min(), r.max()):
            ax.axhline(bound, color="#999999", lw=0.8, ls=":")
    data = [np.asarray(values[t], dtype=np.float64) for t in tasks]
    if tasks:
        ax.boxplot([d if d.size else [np.nan] for d in data], positions=range(len(tasks)), widths=0.5,
                   showfliers=False)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data):
            ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=18, color="#1f77b4", zorder=3)
        ax.set_xticks(range(len(tasks)), tasks)
    ax.set_xlabel("search task")
    ax.set_ylabel(label)
    if len(random):
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
