"""A picture of a NAS-Bench-201 cell (matplotlib, headless).

Nodes 0 (input) … 3 (output) sit on a line; each of the 6 edges is an arrow labelled with its op
and coloured by it. Edges between neighbouring nodes are straight, e(2←0) and e(3←1) arc above,
e(3←0) arcs below. ``none`` edges are **drawn faint** (thin, dotted, light grey, labelled "none" in
grey), so the picture still shows every edge of the 4-node cell; a cell whose output is cut off
from its input says so in its title. :func:`draw_cell` is shared with TransNAS-Bench-101's micro
cells, which use the same wiring. Importing this module imports matplotlib: the space package does
not import it (pictures are drawn on demand).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from matplotlib.patches import Circle, FancyArrowPatch

from unnas.figures import plt, save_figure

from .arch import EDGES, SHORT, load_arch

#: One colour per op, the same in every picture.
OP_COLOURS = {"skip_connect": "#555555", "nor_conv_1x1": "#2ca02c", "nor_conv_3x3": "#1f77b4",
              "avg_pool_3x3": "#ff7f0e", "none": "#c8c8c8"}
#: Arc of each edge (matplotlib ``arc3`` radius; positive bends the arrow to its right, i.e. above here).
_BEND = {(1, 0): 0.0, (2, 1): 0.0, (3, 2): 0.0, (2, 0): -0.45, (3, 1): -0.45, (3, 0): 0.42}
NODE_NAMES = {0: "in", 3: "out"}


def draw_cell(ax, ops: Sequence[str], short: dict[str, str] | None = None,
              colours: dict[str, str] | None = None) -> None:
    """Draw the 4-node cell of 6 ops (string order) on ``ax``."""
    short = short or SHORT
    colours = colours or OP_COLOURS
    xs = {n: 1.6 * n for n in range(4)}
    radius = 0.28
    for (to, frm), op in zip(EDGES, ops):
        faint = op == "none"
        bend = _BEND[(to, frm)]
        arrow = FancyArrowPatch((xs[frm], 0), (xs[to], 0), connectionstyle=f"arc3,rad={bend}",
                                arrowstyle="-|>", mutation_scale=14, shrinkA=radius * 72, shrinkB=radius * 72,
                                color=colours.get(op, "#333333"), lw=1.0 if faint else 2.2,
                                linestyle=":" if faint else "-", zorder=1)
        ax.add_patch(arrow)
        # label at the arc's midpoint (arc3 puts the control point rad × chord length off the chord)
        mid_x, span = (xs[frm] + xs[to]) / 2, xs[to] - xs[frm]
        mid_y = -bend * span / 2  # a quadratic Bézier peaks halfway to its control point
        offset = 0.16 if bend == 0 else (0.14 if bend < 0 else -0.14)
        ax.text(mid_x, mid_y + offset, short.get(op, op), ha="center", va="center",
                fontsize=9 if faint else 10.5, color="#9a9a9a" if faint else colours.get(op, "#333333"),
                fontweight="normal" if faint else "bold", zorder=3,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    for n, x in xs.items():
        io = n in NODE_NAMES
        ax.add_patch(Circle((x, 0), radius, fc="#fde9c8" if io else "#dbe9f6", ec="#333333", lw=1.3, zorder=2))
        ax.text(x, 0, str(n), ha="center", va="center", fontsize=12, fontweight="bold", zorder=4)
        if io:
            ax.text(x, -radius - 0.17, NODE_NAMES[n], ha="center", va="top", fontsize=9, color="#555555")
    ax.set_xlim(-0.55, xs[3] + 0.55)
    ax.set_ylim(-1.3, 1.02)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_cell(arch: Any, path: str | Path, title: str | None = None) -> Path:
    """Save a picture of a NAS-Bench-201 cell (anything :func:`~.arch.load_arch` reads) to ``path``."""
    a = load_arch(arch)
    fig, ax = plt.subplots(figsize=(6.4, 3.1))
    draw_cell(ax, a.ops)
    if title is None:
        title = a.describe() + ("" if a.is_connected() else "  (output not connected to the input)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
