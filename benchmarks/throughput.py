"""Throughput of the executor on the two paths it serves: a study's jobs per minute and a black-box search's
evaluations per minute, each with 2 local workers (issue #25: re-measured after the one-executor change).

Whole command (wall and CPU of every process) and its running phase (the study runner's own "in S s
wall-clock", the search's result.json ``wall_clock_s``: after planning and the checks made before anything
is written). Runs the real commands of a given source tree (so two trees — before and after a change — are measured under
the same machine load by alternating them) and prints one JSON line per run:

    python benchmarks/throughput.py --tree /path/to/checkout --repeats 2
    python benchmarks/throughput.py --tree old_checkout --tree new_checkout --repeats 2   # interleaved

Study: ``darts/fashion_mnist_quick`` cut to ``count`` architectures (3 trained tasks + 5 proxies each), one seed.
Black-box: ``fashion_mnist/rea_naswot`` with ``fitness.workers=2`` and ``fitness.budget``. Needs Debian's
dataset-fashion-mnist (``data.root``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(tree: Path, args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the command and every process it started, its standard output)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "unnas.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: unnas {' '.join(args[:3])} failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def study(tree: Path, tmp: Path, count: int, data_root: str) -> dict:
    out = tmp / "study"
    args = ["study", "run", "darts/fashion_mnist_quick", f"out_dir={out}", f"count={count}", f"data.root={data_root}",
            "--workers", "2", "progress=false"]
    wall, cpu, stdout = _run(tree, args, tmp)
    jobs = len(list((out / "results").glob("*.json")))
    # the runner's own line: "N ok, … in S s wall-clock" (the jobs alone, after planning and checks)
    running = float(re.search(r"in ([0-9.]+) s wall-clock", stdout).group(1))
    return {"what": "study darts/fashion_mnist_quick", "tree": str(tree), "jobs": jobs, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "jobs_per_min": round(60 * jobs / wall, 2), "running_s": running,
            "jobs_per_min_running": round(60 * jobs / running, 2)}


def blackbox(tree: Path, tmp: Path, budget: int, data_root: str) -> dict:
    out = tmp / "search"
    args = ["search", "fashion_mnist/rea_naswot", f"out_dir={out}", f"fitness.budget={budget}", "fitness.workers=2",
            f"data.root={data_root}", "progress=false"]
    wall, cpu, _stdout = _run(tree, args, tmp)
    evals = len((out / "history.jsonl").read_text().splitlines())
    running = json.loads((out / "result.json").read_text())["wall_clock_s"]  # the search itself, after its checks
    return {"what": "search fashion_mnist/rea_naswot fitness.workers=2", "tree": str(tree), "evaluations": evals,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "evals_per_min": round(60 * evals / wall, 2),
            "running_s": running, "evals_per_min_running": round(60 * evals / running, 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", action="append", required=True, help="a source checkout (repeat to interleave trees)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--count", type=int, default=4, help="architectures of the study (8 jobs each)")
    p.add_argument("--budget", type=int, default=20, help="evaluations of the black-box search")
    p.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--only", choices=("study", "blackbox"), help="measure one path only")
    args = p.parse_args()
    measures = [(m, size) for m, size in ((study, args.count), (blackbox, args.budget))
                if args.only in (None, m.__name__)]
    for _ in range(args.repeats):
        for tree in map(Path, args.tree):
            for measure, size in measures:
                with tempfile.TemporaryDirectory() as tmp:
                    record = measure(tree.resolve(), Path(tmp), size, args.data_root)
                load = os.getloadavg()[0]
                print(json.dumps({**record, "load_1min_after": round(load, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
