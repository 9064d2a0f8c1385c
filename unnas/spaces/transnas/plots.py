"""Pictures of TransNAS-Bench-101 architectures (matplotlib, headless).

- Micro cells: the 4-node cell drawn as NAS-Bench-201's (:func:`unnas.spaces.nasbench201.plots.draw_cell`,
  same wiring, same colours): every edge labelled with its op, ``none`` edges **drawn faint**
  (thin, dotted, light grey).
- Macro skeletons: a strip of boxes, the stem then one box per module, each labelled with what the
  module does (keep, ×2 width, ÷2 resolution, or both) and annotated with its output channels and
  its total stride relative to the input (the stem gives /4), for ``base_channels`` = 64 unless told.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from unnas.figures import plt, save_figure
from unnas.spaces.nasbench201.plots import draw_cell

from .arch import MicroArch, load_arch, module_stride, module_widens

#: Box colour per macro digit.
MODULE_COLOURS = {1: "#e8e8e8", 2: "#cfe3f5", 3: "#fde2c4", 4: "#d9ecd0"}
MODULE_LABELS = {1: "keep", 2: "×2 width", 3: "÷2 resolution", 4: "×2 width\n÷2 resolution"}


def plot_micro(arch: Any, path: str | Path, title: str | None = None) -> Path:
    """Save a picture of a micro cell (anything :func:`~.arch.load_arch` reads) to ``path``."""
    a = load_arch(arch, "transnas_micro")
    fig, ax = plt.subplots(figsize=(6.4, 3.1))
    draw_cell(ax, a.ops)
    ax.set_title(title if title is not None else f"TransNAS micro cell {a}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_macro(arch: Any, path: str | Path, title: str | None = None, base_channels: int = 64) -> Path:
    """Save a strip picture of a macro skeleton (anything :func:`~.arch.load_arch` reads) to ``path``."""
    a = load_arch(arch, "transnas_macro")
    n = len(a.modules) + 1
    box_w, gap = 1.5, 0.45
    fig, ax = plt.subplots(figsize=(1.0 + n * 1.45, 1.9))
    boxes = [("stem", "2 × conv3×3 s2", "#f3f3f3", base_channels, 4)]
    c, r = base_channels, 4
    for k, d in enumerate(a.modules, start=1):
        c, r = (2 * c if module_widens(d) else c), r * module_stride(d)
        boxes.append((f"module {k}: {d}", MODULE_LABELS[d], MODULE_COLOURS[d], c, r))
    for i, (head, label, colour, ch, red) in enumerate(boxes):
        x = i * (box_w + gap)
        ax.add_patch(FancyBboxPatch((x, 0), box_w, 1.3, boxstyle="round,pad=0.03,rounding_size=0.08",
                                    fc=colour, ec="#444444", lw=1.2))
        ax.text(x + box_w / 2, 1.12, head, ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(x + box_w / 2, 0.68, label, ha="center", va="center", fontsize=9)
        ax.text(x + box_w / 2, 0.18, f"{ch} ch, /{red}", ha="center", va="center", fontsize=9, color="#333333")
        if i:
            ax.add_patch(FancyArrowPatch((x - gap + 0.04, 0.65), (x - 0.04, 0.65), arrowstyle="-|>",
                                         mutation_scale=12, color="#444444", lw=1.2))
    ax.set_xlim(-0.1, n * (box_w + gap) - gap + 0.1)
    ax.set_ylim(-0.15, 1.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else f"TransNAS macro skeleton {a} (2 basic blocks per module)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_arch(arch: Any, path: str | Path, title: str | None = None) -> Path:
    """The picture of either space: :func:`plot_micro` or :func:`plot_macro`."""
    a = load_arch(arch)
    return plot_micro(a, path, title) if isinstance(a, MicroArch) else plot_macro(a, path, title)

