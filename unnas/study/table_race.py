"""Search strategies against one benchmark table: the standard comparison of NAS algorithms on a tabular benchmark.

Every strategy × seed is a black-box search whose fitness is the table's metric (a query, no
training), run in this process with the budget counted in queries: an architecture proposed twice
costs one query, one the table lacks costs one and scores nothing. What is compared is the best
metric found after q queries, per strategy: the mean over seeds with a 95% bootstrap interval over
seeds, and the share of seeds that found the table's best. Seeds are the searches' own seeds: seed
``s`` of every strategy starts from numpy's ``default_rng(s)``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.config.schema import BlackBoxConfig
from unnas.figures import plt, save_figure
from unnas.search.blackbox import BlackBoxRun
from unnas.search.strategies import STRATEGIES
from unnas.trials.tables import Table

#: Bootstrap resamples of the seeds for each curve's interval.
N_BOOT = 1000


@dataclass
class TableFitnessOf:
    """A table's metric as a black-box fitness (in this process; no worker needs to unpickle it)."""

    table: Table
    metric: str

    def __call__(self, arch, seed: int) -> dict:
        value = self.table.value(arch, self.metric)
        status = "ok" if value is not None else "failed"
        return {"fitness": value, "params": None, "flops": None, "seconds": 0.0, "status": status,
                "error": None if value is not None else "not in the table"}


def best_so_far(records: list[dict], budget: int) -> np.ndarray:
    """The best fitness after each of ``budget`` queries (NaN before the first scored one; the last value carried
    on when a strategy stopped early)."""
    out = np.full(budget, np.nan)
    best = -np.inf
    for i, record in enumerate(records[:budget]):
        if record["fitness"] is not None:
            best = max(best, record["fitness"])
        out[i] = best if np.isfinite(best) else np.nan
    if records and len(records) < budget:
        out[len(records):] = out[len(records) - 1]
    return out


def bootstrap_band(curves: np.ndarray, seed: int = 0, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the ``level`` percentile interval of the mean over seeds, resampling seeds."""
    rng = np.random.default_rng(seed)
    n = curves.shape[0]
    means = np.stack([np.nanmean(curves[rng.integers(0, n, n)], axis=0) for _ in range(N_BOOT)])
    lo, hi = np.nanpercentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2], axis=0)
    return lo, hi


def race(table: Table, metric: str, strategies: list[str], seeds: list[int], budget: int,
         settings: BlackBoxConfig | None = None, progress: bool = False) -> dict:
    """Run every strategy × seed against ``table``; returns the curves and a summary per strategy."""
    settings = settings or BlackBoxConfig()
    fitness = TableFitnessOf(table, metric)
    view = table.space.view(settings.model.nodes) if table.space.name == "darts" else table.space.view()
    optimum = max(r[metric] for r in table.rows.values() if metric in r)
    out: dict = {"table": str(table.path), "space": table.space.name, "metric": metric, "budget": budget,
                 "seeds": list(seeds), "table_rows": len(table), "table_best": optimum, "strategies": {}}
    for strategy in strategies:
        start = time.perf_counter()
        curves, hit = [], []
        for seed in seeds:
            run = BlackBoxRun(view, fitness, budget, seed)
            STRATEGIES[strategy](run, np.random.default_rng(seed), settings)
            curves.append(best_so_far(run.records, budget))
            hit.append(next((i + 1 for i, r in enumerate(run.records) if r["fitness"] == optimum), None))
            if progress:
                print(f"\r{strategy} seed {seed}: best {np.nanmax(curves[-1]):.4g}   ", end="", file=sys.stderr,
                      flush=True)
        curves = np.stack(curves)
        lo, hi = bootstrap_band(curves)
        found = [h for h in hit if h is not None]
        out["strategies"][strategy] = {
            "mean": np.nanmean(curves, axis=0).tolist(), "ci_low": lo.tolist(), "ci_high": hi.tolist(),
            "final_mean": float(np.nanmean(curves[:, -1])), "final_ci": [float(lo[-1]), float(hi[-1])],
            "found_best": len(found), "median_queries_to_best": float(np.median(found)) if found else None,
            "per_seed_final": curves[:, -1].tolist(), "seconds": round(time.perf_counter() - start, 3)}
    if progress:
        print(file=sys.stderr)
    return out


def race_figure(result: dict, path: str | Path) -> Path:
    """Best metric found vs queries: the mean over seeds and its 95% bootstrap band, per strategy."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = np.arange(1, result["budget"] + 1)
    for k, (name, s) in enumerate(result["strategies"].items()):
        colour = f"C{k}"
        ax.plot(x, s["mean"], color=colour, label=f"{name} (final {s['final_mean']:.4g})")
        ax.fill_between(x, s["ci_low"], s["ci_high"], color=colour, alpha=0.2, linewidth=0)
    ax.axhline(result["table_best"], color="black", linestyle=":", linewidth=1, label="table's best")
    ax.set_xlabel("queries (architectures evaluated)")
    ax.set_ylabel(f"best {result['metric']} found")
    ax.set_title(f"{Path(result['table']).name}: {len(result['seeds'])} seeds, mean and 95% bootstrap band",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def summary_lines(result: dict) -> list[str]:
    rows = [("strategy", "final best (mean [95% CI])", "seeds that found the table's best", "median queries to it")]
    for name, s in result["strategies"].items():
        lo, hi = s["final_ci"]
        median = "-" if s["median_queries_to_best"] is None else f"{s['median_queries_to_best']:g}"
        rows.append((name, f"{s['final_mean']:.4g} [{lo:.4g}, {hi:.4g}]", f"{s['found_best']}/{len(result['seeds'])}",
                     median))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]


def write_race(result: dict, out: Path) -> list[Path]:
    """``race.json`` (curves and summaries), ``race.csv`` (mean curve per strategy) and ``race.png``."""
    lines = ["query," + ",".join(result["strategies"])]
    means = [s["mean"] for s in result["strategies"].values()]
    lines += [f"{q + 1}," + ",".join("" if math.isnan(m[q]) else f"{m[q]:.6g}" for m in means)
              for q in range(result["budget"])]
    clean = json.loads(json.dumps(result, allow_nan=True).replace("NaN", "null"))
    return [atomic_write_json(out / "race.json", clean), atomic_write_text(out / "race.csv", "\n".join(lines) + "\n"),
            race_figure(result, out / "race.png")]
