"""Pictures of NCP: predicted vs true per metric, and the code over propagation iterations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from unnas.figures import apply_scale, axis_scale, plt, save_figure


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def prediction_scatter(path: str | Path, metrics: Sequence[str], true: np.ndarray, pred: np.ndarray,
                       train: Sequence[int], val: Sequence[int], scores: dict) -> Path:
    """One panel per metric: validation rows in colour, training rows in grey, y = x dashed."""
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for k, metric in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        t, p = true[:, k], pred[:, k]
        ax.scatter(t[train], p[train], s=10, color="0.7", label="train", edgecolors="none")
        ax.scatter(t[val], p[val], s=16, color="C0", label="validation", edgecolors="none")
        both = np.concatenate([t[np.isfinite(t)], p[np.isfinite(p)]])
        if both.size:
            lo, hi = float(both.min()), float(both.max())
            ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color="C3")
            scale = axis_scale(both)
            apply_scale(ax, "x", scale, both)
            apply_scale(ax, "y", scale, both)
        s = scores.get(metric, {}).get("val", {})
        ax.set_title(f"{metric}\nval ρ {_fmt(s.get('spearman'))}  τ {_fmt(s.get('kendall'))}  n {s.get('n', 0)}",
                     fontsize=8)
        ax.set_xlabel("true", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for k in range(len(metrics), rows * cols):
        axes[k // cols][k % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def code_trajectory(path: str | Path, codes: np.ndarray, labels: Sequence[str], predicted: dict[str, list[float]],
                    projected: Sequence[int] = ()) -> Path:
    """The code (dimensions × iterations, as the paper's figures) above the predicted metrics per iteration."""
    codes = np.asarray(codes, dtype=np.float64)
    height = max(4.0, min(18.0, 0.06 * codes.shape[1] + 2))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, height + 2.2), sharex=True,
                                      gridspec_kw={"height_ratios": [height, 2.2]})
    image = top.imshow(codes.T, aspect="auto", cmap="viridis", interpolation="nearest",
                       extent=(-0.5, codes.shape[0] - 0.5, codes.shape[1] - 0.5, -0.5))
    fig.colorbar(image, ax=top, fraction=0.03, pad=0.01)
    step = max(1, len(labels) // 40)
    top.set_yticks(range(0, len(labels), step))
    top.set_yticklabels([labels[i] for i in range(0, len(labels), step)], fontsize=5)
    for it in projected:
        top.axvline(it, color="w", lw=0.6, ls=":")
    top.set_title("code over propagation iterations (dotted: projection)", fontsize=9)
    for name, values in predicted.items():
        bottom.plot(range(len(values)), values, label=name)
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("predicted (normalised)", fontsize=8)
    bottom.legend(fontsize=7)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
