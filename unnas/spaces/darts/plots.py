"""Pictures of a DARTS search: α heatmaps and cell diagrams (matplotlib, headless).

Both use the numbering of ``str(Genotype)``: states 0 and 1 are the cell inputs c(k-2) and
c(k-1), intermediate nodes are 2, 3, …, so ``n4=sep3(1)+skip(0)`` reads the same in the
heatmap rows ("n4 ← 1", "n4 ← 0") and in the diagram (edges 1 → 4 and 0 → 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from unnas.atomic import atomic_savefig  # noqa: E402

from .genotype import Genotype, derive_cell, edge_sources  # noqa: E402
from .ops import PRIMITIVES, SHORT_NAMES  # noqa: E402

INPUT_NAMES = {0: "c(k-2)", 1: "c(k-1)"}

#: One colour per op, the same in every picture.
OP_COLOURS = {
    "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "sep_conv_7x7": "#393b79",
    "dil_conv_3x3": "#e377c2", "dil_conv_5x5": "#8c564b", "max_pool_3x3": "#d62728",
    "avg_pool_3x3": "#ff7f0e", "skip_connect": "#555555", "conv_7x1_1x7": "#9467bd", "none": "#bbbbbb",
}


def _short(op: str) -> str:
    return SHORT_NAMES.get(op, op)


def nodes_for_edges(n_edges: int) -> int:
    """Intermediate nodes of a cell with ``n_edges`` mixed edges (2 + 3 + … + (nodes + 1))."""
    nodes, total = 0, 0
    while total < n_edges:
        total += nodes + 2
        nodes += 1
    if total != n_edges:
        raise ValueError(f"{n_edges} edges is not a DARTS cell (2, 5, 9, 14, 20, … edges)")
    return nodes


def edge_list(nodes: int) -> list[tuple[int, int]]:
    """``(node, input)`` of every edge in the standard α row order; nodes are numbered 2, 3, …"""
    return [(i + 2, j) for i in range(nodes) for j in range(i + 2)]


def edge_labels(nodes: int) -> list[str]:
    """Row labels of the α heatmap: ``"n2 ← 0"`` is the edge from state 0 into node 2."""
    return [f"n{node} ← {src}" for node, src in edge_list(nodes)]


# ----------------------------------------------------------------------------- α heatmap
def alphas_figure(weights: dict[str, np.ndarray], genotype: Genotype | None = None, title: str = ""):
    """Figure of softmax(α) per edge (rows) and op (columns), one panel per cell type.

    Colour and numbers are each weight's deviation from the uniform 1/ops, in percent of it,
    on a symmetric scale fitted to the data (stated in the colour bar), so early, near-uniform
    searches still show differences. The op the genotype keeps on each of its edges is boxed
    and its row label is bold; without ``genotype`` it is derived from ``weights`` by the DARTS rule.
    """
    kinds = list(weights)
    ws = {k: np.asarray(weights[k], dtype=np.float64) for k in kinds}
    n_ops = next(iter(ws.values())).shape[1]
    uniform = 1.0 / n_ops
    rel = {k: 100.0 * (w / uniform - 1.0) for k, w in ws.items()}
    lim = max(max(float(np.abs(r).max()) for r in rel.values()), 1e-4)
    decimals = int(np.clip(1 - np.floor(np.log10(lim)), 0, 4))
    rows = max(w.shape[0] for w in ws.values())
    fig, axes = plt.subplots(1, len(kinds), figsize=(1.0 + 5.6 * len(kinds), 1.8 + 0.36 * rows), squeeze=False)
    prims = list(PRIMITIVES[:n_ops])
    for ax, kind in zip(axes[0], kinds):
        w, dev = ws[kind], rel[kind]
        nodes = nodes_for_edges(w.shape[0])
        edges = edge_list(nodes)
        pairs = genotype.cell(kind)[0] if genotype is not None else derive_cell(w, nodes, prims)
        # a weight cannot fall below -100 %: the negative side of the scale stops there
        norm = TwoSlopeNorm(0.0, -min(lim, 100.0), lim)
        im = ax.imshow(dev, cmap="RdBu_r", norm=norm, aspect="auto")
        dark = np.abs(norm(dev) - 0.5) > 0.3  # white numbers on the dark ends of the colour map
        ax.set_xticks(range(n_ops), [_short(p) for p in prims], fontsize=9)
        ax.xaxis.tick_top()
        if "none" in prims:
            ax.set_xlabel("op   ('none' is never kept by the DARTS rule)", fontsize=8)
        ax.set_yticks(range(len(edges)), edge_labels(nodes), fontsize=9)
        ax.set_ylabel("edge  n(node) ← input   (0 = c(k-2), 1 = c(k-1))", fontsize=8)
        chosen = {}
        for idx, (op, src) in enumerate(pairs):
            chosen[(idx // 2 + 2, src)] = op
        for r, (node, src) in enumerate(edges):
            op = chosen.get((node, src))
            for c in range(n_ops):
                ax.text(c, r, f"{dev[r, c]:+.{decimals}f}", ha="center", va="center", fontsize=7,
                        color="white" if dark[r, c] else "#222222",
                        fontweight="bold" if op == prims[c] else "normal")
            if op is not None:
                ax.get_yticklabels()[r].set_fontweight("bold")
                if op in prims:
                    box = Rectangle((prims.index(op) - 0.5, r - 0.5), 1, 1, fill=False, ec="black", lw=2.2,
                                    zorder=3, gid=f"chosen {kind} n{node}<-{src} {op}")
                    ax.add_patch(box)
        for k in range(1, nodes):  # a rule between nodes
            ax.axhline(sum(i + 2 for i in range(k)) - 0.5, color="black", lw=0.8)
        ax.set_title(f"{kind} cell   (box: op the genotype keeps; bold rows: kept edges)", fontsize=10)
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        cb.set_label(f"softmax(α) vs uniform 1/{n_ops}: (w·{n_ops} − 1) in %, max |deviation| {lim:.{max(decimals - 1, 0)}f}%",
                     fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_alphas(weights: dict[str, np.ndarray], path: str | Path, title: str = "",
                genotype: Genotype | None = None) -> Path:
    """Write :func:`alphas_figure` to ``path`` (PNG, atomically)."""
    fig = alphas_figure(weights, genotype, title)
    try:
        return atomic_savefig(path, fig, dpi=110)
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- cell diagram
_NODE_DX, _INPUT_Y = 2.0, 1.5
_CHAR_W, _LABEL_H = 0.085, 0.24  # label box size in data units at fontsize 9 (1 unit = 0.85 inch)


def _bezier(p0, p2, h: float, n: int = 80) -> np.ndarray:
    """Quadratic curve from p0 to p2 whose control point is ``h`` to the left of the chord's middle."""
    p0, p2 = np.asarray(p0, float), np.asarray(p2, float)
    d = p2 - p0
    normal = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-9)
    c = (p0 + p2) / 2 + h * normal
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * c + t ** 2 * p2


def _crossings(a: np.ndarray, b: np.ndarray) -> int:
    """Segment intersections between two polylines (ends excluded, so shared nodes do not count)."""
    a, b = a[3:-3], b[3:-3]
    if len(a) < 2 or len(b) < 2:
        return 0
    p, r = a[:-1, None, :], (a[1:] - a[:-1])[:, None, :]
    q, s = b[None, :-1, :], (b[1:] - b[:-1])[None, :, :]
    cross = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    qp = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / cross
        u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / cross
    return int(np.sum((cross != 0) & (t >= 0) & (t < 1) & (u >= 0) & (u < 1)))


def _clearance(p, half, boxes: Sequence[tuple]) -> float:
    """Smallest gap between a box at ``p`` and the given ``(x, y, half_w, half_h)`` boxes (<0: overlap)."""
    if not boxes:
        return np.inf
    b = np.asarray(boxes, dtype=float)
    gap = np.maximum(np.abs(b[:, 0] - p[0]) - b[:, 2] - half[0], np.abs(b[:, 1] - p[1]) - b[:, 3] - half[1])
    return float(gap.min())


def _hits(curve: np.ndarray, boxes: Sequence[tuple], margin: float = 0.1) -> int:
    """How many of ``boxes`` the curve runs through."""
    return sum(bool(np.any((np.abs(curve[:, 0] - x) < hw + margin) & (np.abs(curve[:, 1] - y) < hh + margin)))
               for x, y, hw, hh in boxes)


def _route(p0, p2, candidates, preferred: float, boxes, placed, avoid_h=()) -> tuple[float, np.ndarray]:
    """The bend ``h`` (and curve) that runs through no other node, crosses few placed curves,
    keeps clear of ``avoid_h`` (its twin's bend) and stays close to ``preferred``."""
    best = None
    for h in candidates:
        curve = _bezier(p0, p2, h)
        cost = (1000 * _hits(curve, boxes) + 3 * sum(_crossings(curve, c) for c in placed)
                + 60 * sum(abs(h - a) < 0.7 for a in avoid_h) + abs(abs(h) - abs(preferred)))
        if best is None or cost < best[0]:
            best = (cost, h, curve)
    return best[1], best[2]


def _layout(pairs, concat, nodes, halves, out_half):
    """Node positions and one curve per op edge and per edge into c(k).

    Nodes 2, 3, … sit in a row with the inputs above and below its start, so edges out of one
    input never cross each other; every other edge bends as little as it can without running
    through a node.
    """
    pos = {0: (0.0, _INPUT_Y), 1: (0.0, -_INPUT_Y)}
    for i in range(nodes):
        pos[i + 2] = (2.3 + _NODE_DX * i, 0.0)
    out = (2.3 + _NODE_DX * nodes, 0.0)
    boxes = {s: (*pos[s], *halves[s]) for s in pos}
    boxes["out"] = (*out, *out_half)
    edges = [(idx // 2 + 2, src, op) for idx, (op, src) in enumerate(pairs)]
    curves: list[np.ndarray | None] = [None] * len(edges)
    bends: dict[int, float] = {}
    steps = (0.0, 0.4, 0.8, 1.2, 1.6, -0.4, -0.8)
    # the edges out of the inputs first (shortest first), then node-to-node edges
    order = sorted(range(len(edges)), key=lambda k: (edges[k][1] >= 2, edges[k][0] - edges[k][1]))
    for k in order:
        dst, src, _op = edges[k]
        if src < 2:  # fan out of an input: edges to further nodes bow outward more
            sign = 1 if src == 0 else -1
            base = 0.3 * (dst - 2) * sign
            cands = [base + sign * d for d in steps]
        elif dst - src >= 2:  # would run through the nodes between: arc above or below
            base = 1.1 + 0.7 * (dst - src - 2)
            cands = [s * (base + d) for d in steps[:4] for s in (1, -1)]
        else:
            base = 0.0
            cands = [0.0, 0.5, -0.5, 0.9, -0.9]
        twin = k ^ 1
        avoid = [bends[twin]] if twin in bends and edges[twin][1] == src else []
        others = [b for key, b in boxes.items() if key not in (src, dst)]
        bends[k], curves[k] = _route(pos[src], pos[dst], cands, base, others,
                                     [c for c in curves if c is not None], avoid)
    concat_curves = []
    for state in concat:
        others = [b for key, b in boxes.items() if key not in (state, "out")]
        if state < 2:
            sign = 1 if state == 0 else -1
            cands, base = [sign * (0.4 * nodes + d) for d in steps], 0.4 * nodes * sign
        else:  # below the row of nodes, the op edges mostly run above it
            span = nodes + 2 - state
            base = -(1.1 + 0.7 * (span - 2)) if span >= 2 else 0.0
            cands = [base - d for d in steps[:4]] if span >= 2 else [0.0]
        concat_curves.append(_route(pos[state], out, cands, base, others, [])[1])
    return pos, out, edges, curves, concat_curves


def _node_half(text: str) -> tuple[float, float]:
    return 0.5 * _CHAR_W * 1.15 * len(text) + 0.14, 0.2


def _place_labels(texts, curves, node_boxes, passes: int = 4) -> list[np.ndarray]:
    """Put each label on its own curve where it is furthest from other labels, nodes and curves."""
    ts = np.linspace(0.18, 0.82, 25)
    halves = [(0.5 * _CHAR_W * len(t) + 0.07, 0.5 * _LABEL_H) for t in texts]
    n_pts = [len(c) for c in curves]
    where = [int(0.5 * (n - 1)) for n in n_pts]
    for _ in range(passes):
        for k, curve in enumerate(curves[: len(texts)]):
            others = [c for j, c in enumerate(curves) if j != k]
            pts = np.concatenate(others) if others else np.empty((0, 2))
            labels = [(*curves[j][where[j]], *halves[j]) for j in range(len(texts)) if j != k]
            best, best_score = where[k], -np.inf
            for t in ts:
                i = int(round(t * (n_pts[k] - 1)))
                p, half = curve[i], halves[k]
                c_lab = min(_clearance(p, half, labels), _clearance(p, half, node_boxes))
                if len(pts):
                    gaps = np.maximum(np.abs(pts[:, 0] - p[0]) - half[0], np.abs(pts[:, 1] - p[1]) - half[1])
                    c_cur = float(gaps.min())
                else:
                    c_cur = np.inf
                score = 10 * min(c_lab, 0.12) + min(c_cur, 0.35) - 0.15 * abs(t - 0.5)
                if score > best_score:
                    best, best_score = i, score
            where[k] = best
    return [curves[k][where[k]] for k in range(len(texts))]


def _trim(curve: np.ndarray, start_half, end_half) -> np.ndarray:
    """Drop the points inside the two end boxes, so arrows start and stop at the box edges."""
    def outside(p, centre, half):
        return abs(p[0] - centre[0]) > half[0] or abs(p[1] - centre[1]) > half[1]

    keep = [p for p in curve if outside(p, curve[0], start_half) and outside(p, curve[-1], end_half)]
    return np.asarray(keep) if len(keep) >= 2 else curve


def cell_figure(genotype: Genotype, kind: str, title: str | None = None):
    """Figure of one cell: inputs 0 and 1 on the left, nodes 2, 3, … in a row, c(k) on the right.

    Edges and their labels are coloured by op (legend below); each label sits on its own edge
    at the spot furthest from other labels, nodes and edges. Labels carry gid ``"op dst<-src"``.
    """
    pairs, concat = genotype.cell(kind)
    nodes = len(pairs) // 2
    names = {**{s: f"{s}  {INPUT_NAMES[s]}" for s in (0, 1)}, **{i + 2: str(i + 2) for i in range(nodes)}}
    halves = {s: _node_half(names[s]) for s in names}
    out_half = _node_half("c(k)")
    pos, out, edges, curves, concat_curves = _layout(pairs, concat, nodes, halves, out_half)
    node_boxes = [(*pos[s], *halves[s]) for s in pos] + [(*out, *out_half)]
    texts = [_short(op) for _dst, _src, op in edges]
    spots = _place_labels(texts, curves + concat_curves, node_boxes)

    all_pts = np.concatenate(curves + concat_curves + [np.array([p for p in pos.values()])])
    x0, x1 = all_pts[:, 0].min() - 1.0, all_pts[:, 0].max() + 0.6
    y0, y1 = all_pts[:, 1].min() - 0.45, all_pts[:, 1].max() + 0.45
    scale, top, bottom = 0.85, 0.75, 0.4  # inches per data unit, title and legend bands
    height = scale * (y1 - y0) + top + bottom
    fig = plt.figure(figsize=(scale * (x1 - x0), height))
    ax = fig.add_axes((0.0, bottom / height, 1.0, scale * (y1 - y0) / height))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")

    for (dst, src, op), curve in zip(edges, curves):
        line = _trim(curve, halves[src], halves[dst])
        ax.add_patch(FancyArrowPatch(path=MplPath(line), arrowstyle="-|>", mutation_scale=13, lw=1.7,
                                     color=OP_COLOURS.get(op, "#333333"), zorder=1))
    for state, curve in zip(concat, concat_curves):
        line = _trim(curve, halves[state], out_half)
        ax.add_patch(FancyArrowPatch(path=MplPath(line), arrowstyle="-|>", mutation_scale=10, lw=1.0,
                                     color="#74c476", linestyle=(0, (4, 3)), zorder=0))
    for state, xy in pos.items():
        colour = "#9ecae1" if state < 2 else "#fdd0a2"
        ax.text(*xy, names[state], ha="center", va="center", fontsize=10, zorder=4,
                bbox=dict(boxstyle="round,pad=0.3", fc=colour, ec="#444444"))
    ax.text(*out, "c(k)", ha="center", va="center", fontsize=10, zorder=4,
            bbox=dict(boxstyle="round,pad=0.3", fc="#c7e9c0", ec="#444444"))
    for (dst, src, op), text, spot in zip(edges, texts, spots):
        colour = OP_COLOURS.get(op, "#333333")
        ax.text(*spot, text, ha="center", va="center", fontsize=9, color=colour, fontweight="bold", zorder=3,
                gid=f"{op} {dst}<-{src}",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=colour, lw=1.0))

    cell_line = next(line for line in str(genotype).splitlines() if line.startswith(f"{kind}:"))
    fig.suptitle(title or f"{kind} cell", y=1 - 0.08 / height, va="top", fontsize=12)
    fig.text(0.5, 1 - 0.5 / height, cell_line, ha="center", va="center", fontsize=8.5,
             family="monospace", color="#333333")
    used = list(dict.fromkeys(op for _d, _s, op in edges))
    handles = [Line2D([], [], color=OP_COLOURS.get(op, "#333333"), lw=2.5, label=_short(op)) for op in used]
    handles.append(Line2D([], [], color="#74c476", lw=1.2, ls=(0, (4, 3)), label="into concat c(k)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return fig


def plot_cell(genotype: Genotype, kind: str, path: str | Path, title: str | None = None) -> Path:
    """Write :func:`cell_figure` to ``path`` (PNG, atomically)."""
    fig = cell_figure(genotype, kind, title)
    try:
        return atomic_savefig(path, fig, dpi=110)
    finally:
        plt.close(fig)


def draw_genotype(genotype: Genotype, folder: str | Path, prefix: str = "cell") -> list[Path]:
    folder = Path(folder)
    return [plot_cell(genotype, kind, folder / f"{prefix}_{kind}.png") for kind in ("normal", "reduce")]


__all__ = ["plot_alphas", "alphas_figure", "plot_cell", "cell_figure", "draw_genotype", "edge_labels",
           "edge_list", "edge_sources", "nodes_for_edges", "OP_COLOURS"]
