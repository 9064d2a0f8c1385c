"""Analysis of a search study: how well does each task's searched cell do on the target, compared
with the other tasks' cells and with random cells of the same space?

The unit of the comparison is a genotype: one per search (task or variant × search seed), one per
random draw; searches are grouped by their label (``search_task``: the task, or the variant's name).
Train seeds are averaged per genotype first; the difference to random is a percentile
bootstrap over genotypes (search seeds on one side, random draws on the other), because those
are the samples whose variation we generalise from. The table's mean ± std is over every run
(search seeds × train seeds). Only ``ok`` rows count: failed or diverged searches are named, and
their genotypes (never trained) are in no number.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.search.alpha_stats import uniform_sharpness
from unnas.spaces.darts.genotype import Genotype

from .plots import metric_label
from .search_plan import RANDOM, SAMPLED_GENOTYPE
from .search_plots import genotype_sheet, target_by_task

FIGURES = "figures"


# ----------------------------------------------------------------------------- numbers
def genotype_runs(rows: Iterable[dict], target: str) -> dict[str, dict]:
    """``{arch_id: {"source", "search_task", "values": [metric per train seed]}}`` from finished trains."""
    out: dict[str, dict] = {}
    for row in rows:
        if row.get("kind") != "train" or row.get("task") != target or row.get("status") != "ok":
            continue
        metric = row.get("metric")
        if metric is None or not math.isfinite(float(metric)):
            continue
        entry = out.setdefault(row["arch_id"], {"source": row.get("source"), "search_task": row.get("search_task"),
                                                "values": []})
        entry["values"].append(float(metric))
    return out


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def bootstrap_difference(a: Sequence[float], b: Sequence[float], n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95) -> dict:
    """mean(a) − mean(b) with its bootstrap std and percentile CI (each side resampled with replacement)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = float(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    boots = (a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
             - b[rng.integers(0, b.size, (n_boot, b.size))].mean(axis=1))
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(boots, [tail, 100 - tail])
    return {"diff": diff, "std": float(boots.std(ddof=1)) if n_boot > 1 else 0.0, "ci": [float(lo), float(hi)],
            "level": level, "n_boot": n_boot, "n_a": int(a.size), "n_b": int(b.size)}


def summarize(genotypes: dict[str, dict], tasks: Sequence[str], n_boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> dict:
    """Per search task (and random): runs, genotypes, mean ± std over runs, rank, difference to random."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for entry in genotypes.values():
        groups[RANDOM if entry["source"] == RANDOM else entry["search_task"]].append(entry)

    def stats(entries: list[dict]) -> dict:
        runs = [v for e in entries for v in e["values"]]
        return {"genotypes": len(entries), "runs": len(runs), "mean": float(np.mean(runs)) if runs else None,
                "std": _std(runs) if runs else None, "genotype_means": [float(np.mean(e["values"])) for e in entries],
                "values": runs}

    table = {t: stats(groups.get(t, [])) for t in tasks}
    random = stats(groups.get(RANDOM, []))
    ranked = sorted((t for t in tasks if table[t]["runs"]), key=lambda t: -table[t]["mean"])
    for t in tasks:
        table[t]["rank"] = ranked.index(t) + 1 if t in ranked else None
        table[t]["vs_random"] = (bootstrap_difference(table[t]["genotype_means"], random["genotype_means"], n_boot,
                                                      seed, level)
                                 if table[t]["genotypes"] and random["genotypes"] else None)
    return {"tasks": table, "random": random, "ranking": ranked}


def sentence(task: str, entry: dict) -> str:
    """The comparison with random in words."""
    d = entry["vs_random"]
    level = int(round(100 * d["level"]))
    n = (f"n = {entry['genotypes']} searched genotype(s), {entry['runs']} runs, vs {d['n_b']} random genotypes; "
         f"{level}% CI [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}] by bootstrap over genotypes")
    if d["ci"][0] > 0:
        verb = f"beat random by {d['diff']:.2f} ± {d['std']:.2f} points"
    elif d["ci"][1] < 0:
        verb = f"lose to random by {-d['diff']:.2f} ± {d['std']:.2f} points"
    else:
        verb = f"differ from random by {d['diff']:+.2f} ± {d['std']:.2f} points, not distinguishable from random"
    return f"{task}-searched cells {verb} ({n})."


def search_runs(plan: dict, rows: Iterable[dict]) -> list[dict]:
    """One entry per planned search: label, task, status, error, α sharpness per cell, genotype (the one its
    trains use, and from which file), run directory."""
    by_id = {r["job_id"]: r for r in rows}
    out = []
    for job in (j for j in plan["jobs"] if j["kind"] == "search"):
        row = by_id.get(job["job_id"]) or {}
        stats = row.get("alpha_stats") or {}
        out.append({"job_id": job["job_id"], "label": job.get("search_task") or job["task"], "task": job["task"],
                    "seed": job["seed"], "arch_id": job["arch_id"], "status": row.get("status", "pending"),
                    "error": row.get("error"), "genotype_from": row.get("genotype_from") or job.get("genotype_from"),
                    "sharpness": {c: s.get("sharpness") for c, s in stats.items()},
                    "genotype": row.get("genotype"), "genotype_str": row.get("genotype_str"),
                    "run_dir": row.get("run_dir")})
    return out


# ----------------------------------------------------------------------------- report
def _pm(mean, std) -> str:
    return "n/a" if mean is None else f"{mean:.2f} ± {std:.2f}"


def _sharp(entry: dict) -> str:
    s = entry["sharpness"]
    return "/".join(f"{s[c]:.3f}" if s.get(c) is not None else "n/a" for c in ("normal", "reduce")) if s else "n/a"


def _variant_line(name: str, variant: dict) -> str:
    """``- dd_ent: rotation with `arch.entropy_weight=30.0 …` ``."""
    pairs = " ".join(f"{k}={x if isinstance(x, str) else json.dumps(x)}" for k, x in variant["overrides"].items())
    return f"- {name}: {variant['task']}" + (f" with `{pairs}`" if pairs else "")


def render(result: dict, title: str) -> str:
    target, metric, figures = result["target"], result["metric_name"], result["files"]["figures"]
    lines = [f"# {title}", "",
             f"Every genotype is trained on **{target}** ({metric}); a search task's row pools its genotypes "
             "(one per search seed) × train seeds. Δ vs random is the difference of the means over genotypes "
             f"(train seeds averaged first) with a {int(round(100 * result['level']))}% percentile bootstrap over "
             "genotypes. Only finished runs count; failed or diverged searches are listed below and in no number.", "",
             "| search task | genotypes | runs | target mean ± std | rank | Δ vs random ± std [CI] | α sharpness normal/reduce (mean over seeds) |",
             "|---|---|---|---|---|---|---|"]
    for task, e in result["tasks"].items():
        d = e["vs_random"]
        delta = "n/a" if d is None else f"{d['diff']:+.2f} ± {d['std']:.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]"
        sharp = [s for s in result["searches"] if s["label"] == task and s["status"] == "ok" and s["sharpness"]]
        mean_sharp = "/".join(f"{np.mean([s['sharpness'][c] for s in sharp]):.3f}" for c in ("normal", "reduce")) \
            if sharp else "n/a"
        lines.append(f"| {task} | {e['genotypes']} | {e['runs']} | {_pm(e['mean'], e['std'])} | "
                     f"{e['rank'] if e['rank'] is not None else 'n/a'} | {delta} | {mean_sharp} |")
    r = result["random"]
    lines.append(f"| random | {r['genotypes']} | {r['runs']} | {_pm(r['mean'], r['std'])} | | | |")
    variants = result.get("variants") or {}
    if variants:
        lines += ["", "Variants (a task searched under its own settings, on top of the study's search config):"]
        lines += [_variant_line(name, v) for name, v in variants.items()]
    words = [sentence(t, e) for t, e in result["tasks"].items() if e["vs_random"] is not None]
    if words:
        lines += [""] + [f"- {w}" for w in words]
    single = [t for t, e in result["tasks"].items() if e["genotypes"] == 1]
    if single or r["genotypes"] == 1:
        lines += ["", "**Small n:** " + (f"{', '.join(single)} found one genotype each" if single else "one random genotype")
                  + ": a bootstrap over one genotype has no spread on that side, so its interval only shows the "
                  "other side's variation; run more search seeds (random genotypes) before reading a difference."]
    if "target_by_task" in figures:
        lines += ["", f"![{target} per search task]({figures['target_by_task']})"]
    lines += ["", "## Searches", "",
              f"α sharpness: mean over edges of the largest non-`none` op weight (uniform: {uniform_sharpness():.3f}); "
              "near uniform, the genotype is decided by noise.", "",
              "| search | status | sharpness normal/reduce | genotype | run directory |", "|---|---|---|---|---|"]
    for s in result["searches"]:
        genotype = (s["genotype_str"] or "").replace("\n", "; ") or (s["error"] or "")
        sampled = " (first sampled)" if s["genotype_str"] and s["genotype_from"] == SAMPLED_GENOTYPE else ""
        lines.append(f"| {s['job_id']} | {s['status']} | {_sharp(s)} | `{genotype}`{sampled} | {s['run_dir'] or ''} |")
    not_ok = [s for s in result["searches"] if s["status"] in ("failed", "diverged")]
    if not_ok:
        lines += ["", f"{len(not_ok)} search(es) did not finish: "
                  + "; ".join(f"{s['job_id']} {s['status']} ({s['error']})" for s in not_ok)
                  + ". Their genotypes were not trained and are left out."]
    if "genotypes" in figures:
        lines += ["", "## Genotypes", "", f"![every genotype]({figures['genotypes']})"]
    return "\n".join(lines) + "\n"


def write_search_report(study_dir: str | Path, plan: dict, rows: Iterable[dict], n_boot: int = 1000,
                        title: str = "Search study report", level: float = 0.95) -> dict:
    """Write ``analysis.json``, ``figures/`` and ``report.md`` of a search study; returns the analysis."""
    study_dir = Path(study_dir)
    planned = {j["job_id"] for j in plan["jobs"]}
    rows = [r for r in rows if r["job_id"] in planned]
    target, tasks = plan["target"], list(plan["search_tasks"])
    result = summarize(genotype_runs(rows, target), tasks, n_boot=n_boot, level=level)
    names = sorted({r["metric_name"] for r in rows if r.get("kind") == "train" and r.get("metric_name")})
    result.update(target=target, level=level, metric_name=", ".join(names) or "metric", searches=search_runs(plan, rows))
    if plan.get("variants"):
        result["variants"] = plan["variants"]
    figures: dict[str, str] = {}
    (study_dir / FIGURES).mkdir(parents=True, exist_ok=True)
    if any(result["tasks"][t]["runs"] for t in tasks) or result["random"]["runs"]:
        rel = f"{FIGURES}/target_by_task.png"
        target_by_task({t: result["tasks"][t]["values"] for t in tasks}, result["random"]["values"],
                       metric_label(target, names), study_dir / rel)
        figures["target_by_task"] = rel
    cells = [(s["arch_id"], Genotype.from_obj(s["genotype"])) for s in result["searches"] if s["genotype"]]
    archs = plan.get("archs_by_id") or {j["arch_id"]: j["arch"] for j in plan["jobs"] if j.get("arch") is not None}
    cells += [(a, Genotype.from_obj(g)) for a, g in sorted(archs.items()) if str(a).startswith(RANDOM)]
    if cells:
        rel = f"{FIGURES}/genotypes.png"
        genotype_sheet(cells, study_dir / rel)
        figures["genotypes"] = rel
    result["files"] = {"report": "report.md", "analysis": "analysis.json", "figures": figures}
    atomic_write_json(study_dir / "analysis.json", result)
    atomic_write_text(study_dir / "report.md", render(result, title))
    return result


def analyze_search_study(cfg, plan: dict, rows: list[dict], n_boot: int = 1000) -> int:
    """``study analyze`` of a search study: write the report and print its table's numbers."""
    result = write_search_report(cfg.out_dir, plan, rows, n_boot=n_boot, title=f"Study {cfg.name}")
    print(f"study {cfg.name}: target {result['target']} ({result['metric_name']})")
    for task, e in result["tasks"].items():
        print(f"  {task}: {e['genotypes']} genotypes, {e['runs']} runs, {_pm(e['mean'], e['std'])}, "
              f"rank {e['rank'] if e['rank'] is not None else 'n/a'}")
    r = result["random"]
    print(f"  random: {r['genotypes']} genotypes, {r['runs']} runs, {_pm(r['mean'], r['std'])}")
    for task, e in result["tasks"].items():
        if e["vs_random"] is not None:
            print("  " + sentence(task, e))
    for s in result["searches"]:
        if s["status"] in ("failed", "diverged"):
            print(f"  search {s['job_id']} {s['status']}: {s['error']}")
    print(f"report: {cfg.out_dir}/report.md (figures in {cfg.out_dir}/figures/)")
    return 0
