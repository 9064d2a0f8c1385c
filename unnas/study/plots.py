"""Study figures: one scatter per task pair, and the best-of-m curves.

Axes are labelled with each task's own metric (the rows' ``metric_name``, e.g. "cls: final test
top1" or "synflow score"); scales and atomic writes come from :mod:`unnas.figures`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.ticker
import numpy as np
from scipy import stats

from unnas.figures import LOG_SPAN, apply_scale, axis_scale, forward, inverse, plt, save_figure, scale_note

__all__ = ["LOG_SPAN", "axis_scale", "best_of_m_figure", "best_of_m_plot", "metric_label", "save_figure",
           "scatter_figure", "scatter_pair"]


def metric_label(task: str, names: Sequence[str] | None = None) -> str:
    """Axis label for ``task``: its metric names ("cls: final test top1"; "synflow score" as is)."""
    names = [n for n in (names or []) if n]
    if not names:
        return f"{task}: metric"
    text = " / ".join(names)
    return text if all(n.startswith(task) for n in names) else f"{task}: {text}"


def _fmt(stat: dict) -> str:
    value, (lo, hi) = stat.get("value"), stat.get("ci", (None, None))
    if value is None:
        return "n/a"
    ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
    return f"{value:.2f}{ci}"


def scatter_figure(x: Sequence[float], y: Sequence[float], task_x: str, task_y: str, corr: dict,
                   x_label: str | None = None, y_label: str | None = None):
    """Figure of ``task_x`` vs ``task_y``, one dot per architecture, with a Theil–Sen line (display only,
    fitted in the axes' own scale)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx, sy = axis_scale(x), axis_scale(y)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.scatter(x, y, s=12, alpha=0.6, edgecolors="none")
    apply_scale(ax, "x", sx, x)
    apply_scale(ax, "y", sy, y)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0 if sx[0] == "log" else True) & (y > 0 if sy[0] == "log" else True)
    ux, uy = forward(sx, x[ok]), forward(sy, y[ok])
    if len(ux) >= 2 and np.ptp(ux) > 0:
        slope, intercept, _lo, _hi = stats.theilslopes(uy, ux)
        us = np.linspace(ux.min(), ux.max(), 50)
        ax.plot(inverse(sx, us), inverse(sy, intercept + slope * us), color="C3", lw=1.5, label="Theil–Sen fit")
    ax.set_xlabel((x_label or metric_label(task_x)) + scale_note(sx))
    ax.set_ylabel((y_label or metric_label(task_y)) + scale_note(sy))
    ax.set_title(f"{task_x} vs {task_y}\nρ = {_fmt(corr['spearman'])}   τ = {_fmt(corr['kendall'])}   "
                 f"n = {corr['n']}", fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def scatter_pair(x: Sequence[float], y: Sequence[float], task_x: str, task_y: str, corr: dict,
                 path: str | Path, x_label: str | None = None, y_label: str | None = None) -> Path:
    """Write :func:`scatter_figure` to ``path``."""
    return save_figure(scatter_figure(x, y, task_x, task_y, corr, x_label, y_label), path)


def best_of_m_figure(curves: dict[str, dict], target: str, target_label: str | None = None):
    """Small multiples, one panel per proxy task: the target metric of the proxy's pick vs m (log2),
    mean with a ±1 std band over trials, the oracle (a perfect proxy) dashed, the other proxies'
    means in grey for comparison. Axes are shared, so panels compare at a glance."""
    proxies = [p for p, e in sorted(curves.items()) if e["curve"]]
    n = max(len(proxies), 1)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 + 3.6 * cols, 0.9 + 3.0 * rows), sharex=True, sharey=True,
                             squeeze=False)
    values = [v for p in proxies for c in curves[p]["curve"]
              for v in (c["mean"] - c["std"], c["mean"] + c["std"], c["oracle_mean"])]
    scale = axis_scale(values)
    label = target_label or metric_label(target)
    for i, proxy in enumerate(proxies):
        ax = axes[i // cols][i % cols]
        entry = curves[proxy]
        for other in proxies:
            if other != proxy:
                oc = curves[other]["curve"]
                ax.plot([c["m"] for c in oc], [c["mean"] for c in oc], color="#bbbbbb", lw=1.0, zorder=1)
        curve = entry["curve"]
        m = np.array([c["m"] for c in curve])
        mean = np.array([c["mean"] for c in curve])
        std = np.array([c["std"] for c in curve])
        colour = f"C{i % 10}"
        ax.fill_between(m, mean - std, mean + std, color=colour, alpha=0.2, lw=0, zorder=2, label="± 1 std")
        ax.plot(m, mean, marker="o", ms=3, color=colour, lw=1.8, zorder=3, label="mean")
        ax.plot(m, [c["oracle_mean"] for c in curve], ls="--", color="k", lw=1.0, zorder=3,
                label=f"oracle (best by {target})")
        ax.set_title(f"pick by {proxy}   (n = {entry['n']})", fontsize=9, color=colour)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(m))
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:g}"))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        apply_scale(ax, "y", scale, values)
        ax.grid(alpha=0.3)
        if i == 0:
            if len(proxies) > 1:
                ax.plot([], [], color="#bbbbbb", lw=1.0, label="other proxies (mean)")
            ax.legend(fontsize=7, loc="lower right")
    for j in range(len(proxies), rows * cols):
        axes[j // cols][j % cols].axis("off")
    for r in range(rows):
        axes[r][0].set_ylabel(f"{label} of the pick" + scale_note(scale), fontsize=8)
    for c in range(cols):
        bottom = min(rows - 1, (len(proxies) - 1 - c) // cols) if proxies else rows - 1
        axes[bottom][c].set_xlabel("experiment size m (architectures drawn)", fontsize=8)
        axes[bottom][c].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(f"best of m: train m random architectures, keep the best by the proxy task, "
                 f"report its {target} (mean ± 1 std over trials)", fontsize=9)
    fig.tight_layout()
    return fig


def best_of_m_plot(curves: dict[str, dict], target: str, path: str | Path, target_label: str | None = None) -> Path:
    """Write :func:`best_of_m_figure` to ``path``."""
    return save_figure(best_of_m_figure(curves, target, target_label), path)
