"""Rank statistics of a sample-based study: how well does one task rank architectures like another?

Input is a results table: one row per finished run, a dict with ``arch_id``, ``task``, ``seed``
and ``metric`` (the accuracy used for ranking, higher is better); other fields are ignored.
Seeds are averaged first per (arch, task), as the paper does; every comparison then uses only
the architectures finished in both tasks. Everything returned is plain dicts/lists (JSON-able).

Confidence intervals are percentile bootstraps over *architectures* (resampled with
replacement), because the architectures are the sample whose ranking we generalise from.
Two numbers say how far to trust a correlation: its n (few architectures, wide CI) and, with
two or more seeds, each task's noise ceiling, the rank correlation between its own seeds.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from unnas.errors import DataError
from unnas.trials.rows import average_seeds, per_seed


# ----------------------------------------------------------------------------- loading
def read_results(path: str | Path) -> list[dict]:
    """Rows from a ``.jsonl`` (one object per line), ``.json`` (a list, or ``{"rows": [...]}``) or ``.csv`` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"results table {path} does not exist; pass the study's results file")
    try:
        if path.suffix == ".csv":
            with path.open(newline="") as f:
                return [dict(r) for r in csv.DictReader(f)]
        text = path.read_text()
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        obj = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataError(f"results table {path} cannot be read: {str(exc).splitlines()[0]}") from None
    rows = obj.get("rows") if isinstance(obj, dict) else obj
    if not isinstance(rows, list):
        raise DataError(f"results table {path}: expected a list of rows or {{\"rows\": [...]}}")
    return rows


def common(means: dict[str, dict[str, float]], task_a: str, task_b: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Architectures finished in both tasks (sorted ids) and their two metric vectors."""
    ids = sorted(set(means[task_a]) & set(means[task_b]))
    return ids, np.array([means[task_a][i] for i in ids]), np.array([means[task_b][i] for i in ids])


# ----------------------------------------------------------------------------- correlation
def _rank_rows(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, axis=1)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / denom, np.nan)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _interval(samples: np.ndarray, level: float) -> list[float | None]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return [None, None]
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return [float(lo), float(hi)]


def is_constant(values: Sequence[float]) -> bool:
    """Every value the same (at least two of them): such a task gives the architectures no ranking."""
    values = np.asarray(values, dtype=np.float64)
    return values.size >= 2 and bool(np.ptp(values) == 0)


def _bootstrap(x: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spearman and Kendall of ``n_boot`` resamples of the pairs (NaN where a side is constant).

    The resample indices depend only on ``(n, n_boot, seed)``, so calls on the same architectures
    with the same seed resample them identically (the noise ceiling averages seed pairs that way).
    """
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    xs, ys = x[idx], y[idx]
    boot_rho = _row_pearson(_rank_rows(xs), _rank_rows(ys))
    boot_tau = np.array([stats.kendalltau(a, b).statistic if np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
                         for a, b in zip(xs, ys)], dtype=np.float64)
    return boot_rho, boot_tau


def _correlation_with_samples(x: Sequence[float], y: Sequence[float], n_boot: int, seed: int,
                              level: float) -> tuple[dict, dict[str, np.ndarray] | None]:
    """:func:`rank_correlation` and its bootstrap samples (None when there is no correlation)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    result = {"n": n, "n_boot": n_boot, "level": level}
    if n < 3 or is_constant(x) or is_constant(y):
        none = {"value": None, "ci": [None, None]}
        return {**result, "spearman": dict(none), "kendall": dict(none)}, None
    boot = dict(zip(("spearman", "kendall"), _bootstrap(x, y, n_boot, seed)))
    values = {"spearman": stats.spearmanr(x, y).statistic, "kendall": stats.kendalltau(x, y).statistic}
    for stat in ("spearman", "kendall"):
        result[stat] = {"value": _finite(values[stat]), "ci": _interval(boot[stat], level)}
    return result, boot


def rank_correlation(x: Sequence[float], y: Sequence[float], n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """Spearman ρ and Kendall τ(-b) of two paired samples, each with a percentile bootstrap CI.

    A constant side ranks nothing: both values are None (no call that would warn). Bootstrap
    resamples where one side is constant have no correlation and are dropped from the interval.
    Returns ``{"n", "spearman": {"value", "ci"}, "kendall": {"value", "ci"}}``.
    """
    return _correlation_with_samples(x, y, n_boot, seed, level)[0]


def pairwise_correlations(means: dict[str, dict[str, float]], n_boot: int = 1000, seed: int = 0,
                          level: float = 0.95, tasks: Sequence[str] | None = None) -> list[dict]:
    """:func:`rank_correlation` for every pair of tasks, on the architectures common to the pair;
    ``constant`` names the tasks of the pair whose metric is the same on all of them."""
    tasks = list(tasks) if tasks is not None else sorted(means)
    out = []
    for a, b in combinations(tasks, 2):
        _ids, x, y = common(means, a, b)
        constant = [t for t, v in ((a, x), (b, y)) if is_constant(v)]
        out.append({"task_a": a, "task_b": b, **rank_correlation(x, y, n_boot, seed, level), "constant": constant})
    return out


# ----------------------------------------------------------------------------- how much to trust them
#: Below this many architectures a rank correlation's CI is too wide to tell a useful task from a useless one.
SMALL_N = 15


def noise_ceiling(rows: Iterable[dict], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, dict]:
    """Per task with at least two seeds: how well its own seeds agree on the ranking.

    A proxy is compared with the seed-averaged target, whose ranking is itself noisy; the
    agreement of two seeds of the target is what no proxy can be expected to beat. Computed on
    the architectures finished in every seed of the task; with more than two seeds it is the mean
    over seed pairs, and its CI comes from that mean per bootstrap resample (all pairs resample
    the same architectures). Pairs where one seed ranks nothing (constant) are left out of the mean.
    Returns ``{task: {"n", "seeds", "pairs": [{"seed_a", "seed_b", "spearman", "kendall"}],
    "spearman": {"value", "ci"}, "kendall": {"value", "ci"}, "perfect_proxy_rho", "n_boot", "level"}}``
    (see :func:`perfect_proxy_rho`).
    """
    out = {}
    for task, archs in sorted(per_seed(rows).items()):
        seeds = sorted(set().union(*(s.keys() for s in archs.values())))
        if len(seeds) < 2:
            continue
        ids = sorted(a for a, s in archs.items() if len(s) == len(seeds))
        pairs, usable = [], []
        for sa, sb in combinations(seeds, 2):
            corr, boot = _correlation_with_samples([archs[i][sa] for i in ids], [archs[i][sb] for i in ids],
                                                   n_boot, seed, level)
            pairs.append({"seed_a": sa, "seed_b": sb, "spearman": corr["spearman"]["value"],
                          "kendall": corr["kendall"]["value"]})
            if boot is not None:
                usable.append((corr, boot))
        entry = {"n": len(ids), "seeds": seeds, "pairs": pairs, "n_boot": n_boot, "level": level}
        for stat in ("spearman", "kendall"):
            if usable:
                value = float(np.mean([c[stat]["value"] for c, _ in usable]))
                entry[stat] = {"value": value, "ci": _interval(np.mean([b[stat] for _, b in usable], axis=0), level)}
            else:
                entry[stat] = {"value": None, "ci": [None, None]}
        entry["perfect_proxy_rho"] = perfect_proxy_rho(entry["spearman"]["value"], len(seeds))
        out[task] = entry
    return out


def perfect_proxy_rho(seed_rho: float | None, seeds: int) -> float | None:
    """About the Spearman ρ a task would reach if it ranked architectures by their noise-free target
    quality, against the target averaged over ``seeds`` seeds whose pairs agree ``seed_rho``: the square
    root of the Spearman–Brown reliability k·ρ/(1 + (k − 1)·ρ) (classical attenuation). None for ρ ≤ 0."""
    if seed_rho is None or seed_rho <= 0:
        return None
    return math.sqrt(seeds * seed_rho / (1 + (seeds - 1) * seed_rho))


def n_to_halve_ci(n: int) -> int:
    """About how many architectures halve a rank correlation's CI width at n (its standard error
    shrinks like 1/sqrt(n - 3), the Fisher-z approximation)."""
    return 4 * max(n - 3, 1) + 3


def small_n(correlations: Sequence[dict], threshold: int = SMALL_N) -> dict:
    """The correlations computed on fewer than ``threshold`` architectures, with their Spearman CI width
    and :func:`n_to_halve_ci`: ``{"threshold", "pairs": [{"task_a", "task_b", "n", "ci_width", "n_to_halve_ci"}]}``."""
    pairs = []
    for c in correlations:
        if c["n"] < threshold:
            lo, hi = c["spearman"]["ci"]
            pairs.append({"task_a": c["task_a"], "task_b": c["task_b"], "n": c["n"],
                          "ci_width": None if lo is None else float(hi - lo), "n_to_halve_ci": n_to_halve_ci(c["n"])})
    return {"threshold": threshold, "pairs": pairs}


# ----------------------------------------------------------------------------- best of m
def experiment_sizes(n: int) -> list[int]:
    """m = 1, 2, 4, … up to n/2 (the paper's Fig. 5 grid)."""
    sizes, m = [], 1
    while m <= max(n // 2, 1) and m <= n:
        sizes.append(m)
        m *= 2
    return sizes


def best_of_m(proxy: Sequence[float], target: Sequence[float], sizes: Sequence[int] | None = None,
              trials: int = 1000, seed: int = 2) -> list[dict]:
    """Simulate a search that trains m random architectures and keeps the best by the proxy task.

    For each m: ``trials`` times draw m architectures without replacement, pick the best by
    ``proxy`` and record its ``target`` accuracy. Returns per m the mean and (population) std of
    that accuracy, plus ``oracle_mean``: the same with a perfect proxy (the target itself).
    """
    proxy, target = np.asarray(proxy, dtype=np.float64), np.asarray(target, dtype=np.float64)
    n = len(proxy)
    if n != len(target):
        raise ValueError(f"proxy and target need the same length, got {n} and {len(target)}")
    if n == 0:
        return []
    rng = np.random.default_rng(seed)
    out = []
    for m in (sizes if sizes is not None else experiment_sizes(n)):
        if not 1 <= m <= n:
            raise ValueError(f"experiment size m={m} must be in 1..{n}")
        # the first m columns of a random permutation per trial = m draws without replacement
        picks = np.argsort(rng.random((trials, n)), axis=1)[:, :m]
        chosen = picks[np.arange(trials), np.argmax(proxy[picks], axis=1)]
        acc = target[chosen]
        out.append({"m": int(m), "mean": float(acc.mean()), "std": float(acc.std()), "trials": int(trials),
                    "oracle_mean": float(target[picks].max(axis=1).mean())})
    return out


# ----------------------------------------------------------------------------- everything
def default_target(tasks: Sequence[str]) -> str:
    """The reference task for best-of-m: supervised classification when present."""
    for name in ("cls", "classification"):
        if name in tasks:
            return name
    return sorted(tasks)[0]


def analyze(rows: Iterable[dict], target: str | None = None, n_boot: int = 1000, trials: int = 1000,
            seed: int = 0, level: float = 0.95, complete_seeds: bool = False) -> dict:
    """The full analysis of a results table.

    Returns ``{"tasks", "archs_per_task", "target", "correlations": [...], "best_of_m": {proxy: {...}},
    "metric_names": {task: [names]}, "rank_by": [...], "constant": {task: value}, "noise_ceiling": {task: {...}},
    "small_n": {...}}`` where ``best_of_m[proxy]`` holds ``n`` (archs common to proxy and target) and
    ``curve`` (see :func:`best_of_m`); ``metric_names`` and ``rank_by`` say what the rows' metric is,
    where they say it; ``noise_ceiling`` (tasks with ≥ 2 seeds, see :func:`noise_ceiling`) and
    ``small_n`` (see :func:`small_n`) say how far the correlations can be trusted. ``target``
    defaults to ``cls`` when present.
    """
    rows = list(rows)
    means = average_seeds(rows, complete_seeds=complete_seeds)
    if not means:
        raise DataError("results table has no finished runs (no row with a finite metric)")
    tasks = sorted(means)
    if target is None:
        target = default_target(tasks)
    elif target not in means:
        raise DataError(f"target task {target!r} has no results; tasks present: {', '.join(tasks)}")
    curves = {}
    for proxy in tasks:
        if proxy == target:
            continue
        ids, p, t = common(means, proxy, target)
        curves[proxy] = {"n": len(ids), "curve": best_of_m(p, t, trials=trials, seed=seed)}
    correlations = pairwise_correlations(means, n_boot, seed, level, tasks)
    return {
        "tasks": tasks,
        "archs_per_task": {t: len(means[t]) for t in tasks},
        "target": target,
        "correlations": correlations,
        "best_of_m": curves,
        "metric_names": metric_names(rows, tasks),
        "rank_by": sorted({str(r["rank_by"]) for r in rows if r.get("rank_by")}),
        "constant": {t: next(iter(means[t].values())) for t in tasks if is_constant(list(means[t].values()))},
        "noise_ceiling": noise_ceiling(rows, n_boot, seed, level),
        "small_n": small_n(correlations),
    }


def metric_names(rows: Iterable[dict], tasks: Sequence[str]) -> dict[str, list[str]]:
    """``{task: sorted metric names}`` from the rows' ``metric_name`` (tasks whose rows name none are left out)."""
    names: dict[str, set] = defaultdict(set)
    for row in rows:
        if row.get("metric_name"):
            names[str(row["task"])].add(str(row["metric_name"]))
    return {t: sorted(names[t]) for t in tasks if names.get(t)}
