"""How much signal a search config's α carries: run it at several seeds and compare.

Each seed is one ``unnas search`` process (the real CLI, fresh run directory). Per run it prints
wall and CPU time (user+sys of that process, from wait4), sharpness and entropy per cell
(``unnas.search.alpha_stats``) and the normal/reduce cell's stability between the last two epochs'
genotypes; then the cross-seed Kendall τ of the final softmax(α) with its permutation null.

    python benchmarks/alpha_signal.py --seeds 1 2 3                       # the demo (schema defaults)
    python benchmarks/alpha_signal.py configs/search/demo/rot.yaml optim.arch_lr=0.03 --seeds 1 2 3 --parallel 2
    python benchmarks/alpha_signal.py --reuse --out-root /tmp/as_demo --seeds 1 2 3   # stats of finished runs

``--parallel 2`` runs two seeds at a time with one thread each (OMP_NUM_THREADS=1); sequential
runs get ``--threads`` (default: all cores). ``--json FILE`` writes every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from unnas.engine.rundir import read_metrics  # noqa: E402
from unnas.search import alpha_stats as A  # noqa: E402
from unnas.spaces.darts.genotype import Genotype  # noqa: E402


def _launch(config: str | None, overrides: list[str], seed: int, out: Path, threads: int) -> tuple[subprocess.Popen, float]:
    args = [sys.executable, "-m", "unnas.cli", "search"] + ([config] if config else []) + list(overrides) + [
        f"seed={seed}", f"out_dir={out}", "progress=false"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out.mkdir(parents=True, exist_ok=True)
    log = open(out.parent / f"{out.name}.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    log.close()
    return proc, time.perf_counter()


def run_seeds(config, overrides, seeds, root: Path, parallel: int, threads: int) -> dict[int, dict]:
    """Run every seed, at most ``parallel`` at once; wall and CPU seconds per run."""
    timing: dict[int, dict] = {}
    pending = list(seeds)
    running: dict[int, tuple[int, float]] = {}  # pid → (seed, start)
    while pending or running:
        while pending and len(running) < parallel:
            seed = pending.pop(0)
            proc, start = _launch(config, overrides, seed, root / f"seed{seed}", threads)
            running[proc.pid] = (seed, start)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        seed, start = running.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        timing[seed] = {"wall_s": round(time.perf_counter() - start, 1),
                        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "exit": code}
        if code != 0:
            tail = (root / f"seed{seed}.log").read_text().strip().splitlines()[-3:]
            print(f"seed {seed} failed (exit {code}): {' | '.join(tail)}", file=sys.stderr)
    return timing


def read_run(run_dir: Path) -> dict:
    """Final softmax(α) per cell and the last two epochs' genotypes of one finished run."""
    alphas = json.loads((run_dir / "alphas.json").read_text())
    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("event") == "epoch_end"]
    genotypes = [Genotype.from_obj(r["genotype"]) for r in epochs]
    out = {"alphas": alphas, "stats": A.cell_stats(alphas), "epochs": len(epochs),
           "wall_clock_s": epochs[-1]["wall_clock_s"] if epochs else None,
           "genotype": str(genotypes[-1]) if genotypes else None}
    if len(genotypes) >= 2:
        out["stability"] = {c: A.genotype_stability(genotypes[-2], genotypes[-1], c) for c in A.CELLS}
    return out


def summarize(runs: dict[int, dict], rounds: int) -> dict:
    alphas = [r["alphas"] for r in runs.values()]
    out = {}
    if len(alphas) >= 2:
        out["tau"] = A.cross_seed_tau(alphas)
        out["null"] = A.permutation_null(alphas, rounds=rounds)
    for c in A.CELLS:
        vals = [r["stats"][c]["sharpness"] for r in runs.values()]
        out[f"sharpness_{c}"] = {"min": min(vals), "mean": sum(vals) / len(vals), "max": max(vals)}
    return out


def print_table(runs: dict[int, dict], timing: dict[int, dict], summary: dict) -> None:
    print("| seed | wall s | CPU s | loop s | sharp. normal | sharp. reduce | entropy n / r | stable n / r |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, r in sorted(runs.items()):
        t = timing.get(seed, {})
        st = r.get("stability", {})
        print(f"| {seed} | {t.get('wall_s', '–')} | {t.get('cpu_s', '–')} | {r['wall_clock_s']} | "
              f"{r['stats']['normal']['sharpness']:.3f} | {r['stats']['reduce']['sharpness']:.3f} | "
              f"{r['stats']['normal']['entropy']:.3f} / {r['stats']['reduce']['entropy']:.3f} | "
              f"{st.get('normal', '–')}/8 / {st.get('reduce', '–')}/8 |")
    if "tau" in summary:
        pairs = ", ".join(f"{k}: {v:.2f}" for k, v in summary["tau"]["pairs"].items())
        n = summary["null"]
        print(f"cross-seed τ {summary['tau']['mean']:.3f} ({pairs}); permutation null mean {n['mean']:.3f}, "
              f"95th pct {n['p95']:.3f} ({n['rounds']} rounds)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--parallel", type=int, default=1, help="runs at once (each then gets one thread)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of a sequential run")
    p.add_argument("--out-root", type=Path, help="parent of the run directories (default: a new temp dir)")
    p.add_argument("--reuse", action="store_true", help="only read finished runs under --out-root")
    p.add_argument("--rounds", type=int, default=1000, help="permutation-null rounds")
    p.add_argument("--json", type=Path, help="write every number to this file")
    a = p.parse_args(argv)
    config = next((x for x in a.args if "=" not in x), None)
    overrides = [x for x in a.args if "=" in x]
    if a.reuse and a.out_root is None:
        p.error("--reuse needs --out-root")
    root = a.out_root or Path(tempfile.mkdtemp(prefix="alpha_signal_"))
    timing: dict[int, dict] = {}
    if not a.reuse:
        taken = [s for s in a.seeds if (root / f"seed{s}").exists()]
        if taken:
            p.error(f"{root}/seed{taken[0]} exists: use a new --out-root (or --reuse to read it)")
        threads = 1 if a.parallel > 1 else a.threads
        timing = run_seeds(config, overrides, a.seeds, root, a.parallel, threads)
    runs = {s: read_run(root / f"seed{s}") for s in a.seeds if (root / f"seed{s}" / "alphas.json").exists()}
    if not runs:
        print("no finished run to read", file=sys.stderr)
        return 1
    summary = summarize(runs, a.rounds)
    print(f"config: {config or '(schema defaults)'} {' '.join(overrides)}; runs in {root}")
    print_table(runs, timing, summary)
    if a.json:
        a.json.write_text(json.dumps({"config": config, "overrides": overrides, "timing": timing,
                                      "runs": {str(s): {k: v for k, v in r.items() if k != "alphas"}
                                               for s, r in runs.items()},
                                      "summary": summary}, indent=1, allow_nan=False))
    return 0 if all(t["exit"] == 0 for t in timing.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
