"""How much the architecture weights α have learned, and how reproducible that is.

A DARTS genotype is the argmax of softmax(α); when α is still near uniform that argmax is decided
by noise, so every search reports these numbers next to its genotype. The search log, the end-of-run
warning and ``benchmarks/alpha_signal.py`` all use this one module.

Inputs are softmax weights (edges × ops, ops in ``PRIMITIVES`` order), as
``Supernet.alpha_weights()`` returns and ``alphas.json`` stores.

- sharpness: mean over edges of the largest non-`none` weight (uniform: 1/#ops, 0.125 for DARTS).
- entropy: mean over edges of the entropy (nats) of the full per-edge distribution (uniform: ln 8 ≈ 2.08).
- stability: how many (op, input) choices of one cell two genotypes share, node by node (0..2·nodes).
- cross-seed τ: per edge, Kendall τ between two runs' weights over the non-`none` ops, averaged
  over edges (both cells) and over run pairs; a permutation null (op labels shuffled per edge) says
  what τ chance alone gives.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from unnas.spaces.darts.genotype import Genotype
from unnas.spaces.darts.ops import PRIMITIVES

#: Below this mean max non-`none` weight (in either cell) a search's genotype is called close to random.
SHARP_ENOUGH = 0.20
CELLS = ("normal", "reduce")


def _weights(w) -> np.ndarray:
    a = np.asarray(w.numpy() if hasattr(w, "numpy") else w, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"α weights must be edges × ops, got shape {a.shape}")
    return a


def _ops(primitives: Sequence[str]) -> list[int]:
    return [k for k, name in enumerate(primitives) if name != "none"]


def sharpness(weights, primitives: Sequence[str] = PRIMITIVES) -> float:
    """Mean over edges of the largest non-`none` weight."""
    w = _weights(weights)
    return float(w[:, _ops(primitives)].max(axis=1).mean())


def entropy(weights) -> float:
    """Mean over edges of the per-edge entropy in nats (0·ln 0 = 0)."""
    w = _weights(weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, -w * np.log(w), 0.0)
    return float(terms.sum(axis=1).mean())


def cell_stats(weights_by_cell: Mapping[str, object], primitives: Sequence[str] = PRIMITIVES) -> dict[str, dict]:
    """{cell: {"sharpness", "entropy"}} rounded for logs."""
    return {cell: {"sharpness": round(sharpness(w, primitives), 5), "entropy": round(entropy(w), 5)}
            for cell, w in weights_by_cell.items()}


def uniform_sharpness(num_ops: int = len(PRIMITIVES)) -> float:
    return 1.0 / num_ops


def genotype_stability(a: Genotype, b: Genotype, cell: str = "normal") -> int:
    """(op, input) choices of ``cell`` shared by two genotypes, compared node by node as multisets
    (the order of a node's two edges only reflects which is stronger)."""
    pa, pb = a.cell(cell)[0], b.cell(cell)[0]
    if len(pa) != len(pb):
        raise ValueError(f"genotypes have {len(pa) // 2} and {len(pb) // 2} nodes")
    shared = 0
    for n in range(0, len(pa), 2):
        shared += sum((Counter(pa[n:n + 2]) & Counter(pb[n:n + 2])).values())
    return shared


def kendall_tau(x, y) -> float:
    """Kendall τ-b of two equal-length vectors (0 when either is constant)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"kendall_tau needs two vectors of one length, got {x.shape} and {y.shape}")
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    denom = np.sqrt(np.count_nonzero(dx) * np.count_nonzero(dy))
    return float((dx * dy).sum() / denom) if denom > 0 else 0.0


def edge_tau(wa, wb, primitives: Sequence[str] = PRIMITIVES) -> float:
    """Mean over edges of Kendall τ between two runs' non-`none` weights."""
    a, b = _weights(wa), _weights(wb)
    if a.shape != b.shape:
        raise ValueError(f"α shapes differ: {a.shape} vs {b.shape}")
    ops = _ops(primitives)
    return float(np.mean([kendall_tau(a[e, ops], b[e, ops]) for e in range(a.shape[0])]))


def _stack(run: Mapping[str, object], cells: Sequence[str]) -> np.ndarray:
    return np.concatenate([_weights(run[c]) for c in cells], axis=0)


def cross_seed_tau(runs: Sequence[Mapping[str, object]], cells: Sequence[str] = CELLS,
                   primitives: Sequence[str] = PRIMITIVES) -> dict:
    """τ per run pair (edges of all ``cells`` pooled) and their mean."""
    if len(runs) < 2:
        raise ValueError("cross-seed τ needs at least two runs")
    stacked = [_stack(r, cells) for r in runs]
    pairs = {f"{i}-{j}": edge_tau(stacked[i], stacked[j], primitives)
             for i, j in itertools.combinations(range(len(runs)), 2)}
    return {"mean": float(np.mean(list(pairs.values()))), "pairs": pairs}


def permutation_null(runs: Sequence[Mapping[str, object]], rounds: int = 1000, seed: int = 0,
                     cells: Sequence[str] = CELLS, primitives: Sequence[str] = PRIMITIVES) -> dict:
    """Cross-seed τ when each run's op labels are shuffled independently per edge: mean and 95th percentile."""
    rng = np.random.default_rng(seed)
    ops = _ops(primitives)
    stacked = [_stack(r, cells)[:, ops] for r in runs]
    values = []
    for _ in range(rounds):
        shuffled = [rng.permuted(s, axis=1) for s in stacked]
        taus = [np.mean([kendall_tau(a[e], b[e]) for e in range(a.shape[0])])
                for a, b in itertools.combinations(shuffled, 2)]
        values.append(float(np.mean(taus)))
    values = np.asarray(values)
    return {"mean": float(values.mean()), "p95": float(np.percentile(values, 95)), "rounds": rounds}


def signal_warning(stats: Mapping[str, Mapping[str, float]], threshold: float = SHARP_ENOUGH) -> str | None:
    """One warning line when α is below ``threshold`` in some cell, else None. It says how much of the
    genotype to trust: within the first third of the way from uniform to the threshold it is close to
    random; beyond that it is partly settled, and only repeated seeds tell how much of it repeats."""
    weak = {c: s["sharpness"] for c, s in stats.items() if s["sharpness"] < threshold}
    if not weak:
        return None
    cells = ", ".join(f"{c} {v:.3f}" for c, v in weak.items())
    uniform = uniform_sharpness()
    where = f"(mean max weight {cells}; uniform {uniform:.3f}, target ≥ {threshold:.2f})"
    if min(weak.values()) < uniform + (threshold - uniform) / 3:
        return (f"warning: α is still close to uniform {where}, so the genotype above is close to random; "
                "run longer (optim.epochs, data.length) or raise optim.arch_lr")
    return (f"warning: α has only partly settled {where}, so part of the genotype above is noise; "
            "run the same search with other seeds (seed=2, seed=3, …) and trust only the choices that repeat")
