"""Study figures: one scatter per task pair, and the best-of-m curves.

matplotlib runs headless (Agg). Files are written atomically (temp file in the same folder,
then ``os.replace``), so a reader never sees a half-written PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from unnas.engine.atomic import atomic_savefig  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically and close it."""
    try:
        return atomic_savefig(path, fig, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def _fmt(stat: dict) -> str:
    value, (lo, hi) = stat.get("value"), stat.get("ci", (None, None))
    if value is None:
        return "n/a"
    ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
    return f"{value:.2f}{ci}"


def scatter_pair(x: Sequence[float], y: Sequence[float], task_x: str, task_y: str, corr: dict,
                 path: str | Path) -> Path:
    """Accuracy on ``task_x`` vs ``task_y``, one dot per architecture, with a Theil–Sen line (display only)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.scatter(x, y, s=10, alpha=0.6, edgecolors="none")
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept, _lo, _hi = stats.theilslopes(y, x)
        xs = np.array([x.min(), x.max()])
        ax.plot(xs, intercept + slope * xs, color="C3", lw=1.5)
    ax.set_xlabel(f"{task_x} accuracy")
    ax.set_ylabel(f"{task_y} accuracy")
    ax.set_title(f"ρ = {_fmt(corr['spearman'])}   τ = {_fmt(corr['kendall'])}   n = {corr['n']}", fontsize=9)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def best_of_m_plot(curves: dict[str, dict], target: str, path: str | Path) -> Path:
    """Mean ± 2 std of the target accuracy of the proxy's pick, vs m (log2 axis), one line per proxy."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    oracle = None
    for i, (proxy, entry) in enumerate(sorted(curves.items())):
        curve = entry["curve"]
        if not curve:
            continue
        m = np.array([c["m"] for c in curve])
        mean = np.array([c["mean"] for c in curve])
        std = np.array([c["std"] for c in curve])
        ax.plot(m, mean, marker="o", ms=3, color=f"C{i}", label=f"{proxy} (n={entry['n']})")
        ax.fill_between(m, mean - 2 * std, mean + 2 * std, color=f"C{i}", alpha=0.15)
        if oracle is None or len(curve) > len(oracle):
            oracle = curve
    if oracle:
        ax.plot([c["m"] for c in oracle], [c["oracle_mean"] for c in oracle], ls="--", color="k", lw=1,
                label=f"oracle ({target})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("experiment size m (architectures trained)")
    ax.set_ylabel(f"{target} accuracy of the pick")
    ax.set_title(f"best of m by proxy task → {target} (mean ± 2 std)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
