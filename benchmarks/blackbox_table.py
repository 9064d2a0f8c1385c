"""REA vs random (or any black-box runs) at several budgets, then the winners' trained accuracy.

Step 1 reads each run's history.jsonl (one sequential search per directory, e.g. ``rea-1``,
``random-1``) and writes, for every budget K, the best architecture among its first K evaluations
to ``WINNERS/<run>-b<K>/<genotype.json|spec.json>`` — the first K evaluations of a sequential
search are exactly what a budget-K search evaluates, so one budget-60 run answers budget 50 too::

    python benchmarks/blackbox_table.py winners RUN_DIR... --budgets 50 60 --out WINNERS

Step 2 trains them under one recipe with a study whose ``archs`` is that directory (``archs: WINNERS``),
then prints the markdown table (fitness of each winner and its target accuracy per train seed); a
winner shared by several budgets may be trained once (delete the duplicate directories first)::

    python benchmarks/blackbox_table.py table RUN_DIR... --budgets 50 60 --study STUDY_DIR
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from unnas.search.blackbox import HISTORY, read_history
from unnas.study.analysis import read_results
from unnas.study.plan import safe_id


def best_within(run: Path, budgets: list[int]) -> dict[int, dict]:
    """Per budget K, the best scored record among the run's first K evaluations (ties: the earlier one,
    as the search); the history is read once."""
    history = read_history(run / HISTORY)
    out = {}
    for budget in budgets:
        if len(history) < budget:
            raise SystemExit(f"{run} holds {len(history)} evaluations, fewer than budget {budget}")
        out[budget] = max((r for r in history[:budget] if r["fitness"] is not None), key=lambda r: r["fitness"])
    return out


def arch_file(run: Path) -> str:
    from unnas.spaces.codes import code_space

    return code_space(json.loads((run / "result.json").read_text())["space"]).arch_file


def write_winners(runs: list[Path], budgets: list[int], out: Path) -> None:
    for run in runs:
        name = arch_file(run)
        for k, best in best_within(run, budgets).items():
            target = out / f"{run.name}-b{k}"
            target.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(json.dumps(best["arch"]))
            print(f"{run.name} budget {k}: fitness {best['fitness']:.2f} at evaluation #{best['index'] + 1} -> {target}")


def table(runs: list[Path], budgets: list[int], study: Path, task: str) -> None:
    rows = [r for r in read_results(study / "results.jsonl") if r.get("task") == task and r.get("status") == "ok"]
    top1: dict[str, dict[int, float]] = {}
    for r in rows:
        top1.setdefault(r["arch_id"], {})[int(r["seed"])] = float(r["metric"])
    seeds = sorted({s for v in top1.values() for s in v})
    print(f"| run | budget | best fitness (evaluation #) | params | {task} top-1, train seeds "
          f"{' / '.join(map(str, seeds))} | mean |")
    print("|---|---|---|---|---|---|")
    per_group: dict[tuple[str, int], list[float]] = {}
    for run in runs:
        bests = best_within(run, budgets)
        for k, best in bests.items():
            # the same winner at several budgets may have been trained once, under any of their names
            names = [f"{run.name}-b{j}" for j, other in bests.items() if other["key"] == best["key"]]
            trained = next((top1[n] for name in names for n in (name, safe_id(name)) if n in top1), {})
            accs = [trained.get(s) for s in seeds]
            got = [a for a in accs if a is not None]
            per_group.setdefault((run.name.rsplit("-", 1)[0], k), []).extend(got)
            mean = f"{statistics.mean(got):.2f}" if got else "—"
            print(f"| {run.name} | {k} | {best['fitness']:.2f} (#{best['index'] + 1}) | {best['params']} | "
                  f"{' / '.join('—' if a is None else f'{a:.1f}' for a in accs)} | {mean} |")
    print()
    print("| strategy | budget | runs | mean top-1 ± std over (search seed × train seed) |")
    print("|---|---|---|---|")
    for (group, k), vals in sorted(per_group.items()):
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"| {group} | {k} | {len(vals)} | {statistics.mean(vals):.2f} ± {sd:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["winners", "table"])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--budgets", nargs="+", type=int, required=True)
    parser.add_argument("--out", type=Path, help="winners: the directory the study's archs points at")
    parser.add_argument("--study", type=Path, help="table: the study that trained the winners")
    parser.add_argument("--task", default="classification")
    args = parser.parse_args()
    if args.step == "winners":
        write_winners(args.runs, args.budgets, args.out)
    else:
        table(args.runs, args.budgets, args.study, args.task)


if __name__ == "__main__":
    main()
