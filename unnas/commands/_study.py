"""The body of ``unnas study`` (see :mod:`unnas.commands.study`)."""

from __future__ import annotations

import time
from pathlib import Path

from unnas.atomic import remove_stale_temps
from unnas.config import load_config, resolve_config_path
from unnas.engine.lock import DirLock
from unnas.engine.run_kind import check_run_kind
from unnas.errors import ConfigError
from unnas.study.plan import PLAN_FILE, build_plan, check_fingerprint, describe_plan, read_plan, write_plan
from unnas.study.report import ONE_SEED_SENTENCE, constant_sentences, diverged_sentence, small_n_sentences, write_report
from unnas.study.results import (
    RESULTS_DIR,
    blocked_jobs,
    export_table,
    format_status,
    pending_jobs,
    planned_job_ids,
    planned_ok_rows,
    read_rows,
    status_table,
)
from unnas.study.runner import run_jobs, study_executor
from unnas.study.search_analysis import analyze_search_study
from unnas.study.search_config import peek_kind, study_schema
from unnas.study.table_target import table_target_rows

from ._parsing import split_config_args


def load_study(args, extra: list[str] = ()):
    config, overrides = split_config_args(args.args)
    if config is None:
        raise ConfigError("give a study config, e.g. `unnas study plan darts/fashion_mnist_quick`")
    path = resolve_config_path(config, "study")
    overrides = [*overrides, *extra]
    return load_config(study_schema(peek_kind(path, overrides)), path, overrides)


def _plan(cfg):
    """The plan for ``cfg``, checked against ``<out_dir>/plan.json`` (nothing is written)."""
    plan = build_plan(cfg)
    old = read_plan(cfg.out_dir)
    if old is not None:
        check_fingerprint(old.get("fingerprint"), plan["fingerprint"], Path(cfg.out_dir) / PLAN_FILE)
    return plan


def _locked(cfg):
    """The study directory's lock (one writer; refused at once, naming the holder's pid); a directory of
    another kind of run (a search's, a train's) is refused before anything is written."""
    check_run_kind(cfg.out_dir, "study")
    return DirLock(cfg.out_dir, what="study directory")


def _remove_stale_temps(cfg) -> None:
    """Temp files of writes killed in an earlier run (only safe while holding the lock)."""
    for folder in (Path(cfg.out_dir), Path(cfg.out_dir) / RESULTS_DIR):
        remove_stale_temps(folder)


def cmd_plan(cfg, args) -> int:
    plan = build_plan(cfg)  # a bad config fails before the directory (and its lock file) exists
    with _locked(cfg):
        write_plan(cfg, plan)
    print(f"study {cfg.name}: {describe_plan(plan)}")
    print(f"plan written to {cfg.out_dir}/plan.json (fingerprint {plan['fingerprint']})")
    return 0


def cmd_run(cfg, args) -> int:
    plan = build_plan(cfg)  # a bad config fails before the directory (and its lock file) exists
    with _locked(cfg):
        write_plan(cfg, plan)  # refuses a directory of another study
        _remove_stale_temps(cfg)
        return _run_locked(cfg, args, plan)


def _count(rows, status: str) -> int:
    return sum(r.get("status") == status for r in rows)


def _run_locked(cfg, args, plan: dict) -> int:
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    todo = pending_jobs(plan["jobs"], rows, args.retry_failed)
    rerun = {j["job_id"] for j in todo}
    blocked = [j for j in blocked_jobs(todo, rows) if j["depends_on"] not in rerun]
    todo = [j for j in todo if j not in blocked]  # trains of failed/diverged searches: never run
    planned = {j["job_id"] for j in plan["jobs"]}
    done, diverged = (_count([r for r in rows if r["job_id"] in planned], s) for s in ("ok", "diverged"))
    print(f"study {cfg.name}: {len(plan['jobs'])} jobs, {done} done, " + (f"{diverged} diverged, " if diverged else "")
          + f"{len(todo)} to run" + (f", {len(blocked)} blocked by failed/diverged searches" if blocked else "")
          + ("" if args.retry_failed else " (failed jobs are kept; --retry-failed re-runs them)"), flush=True)
    if todo:
        executor = study_executor(cfg, cfg.out_dir)
        print(f"running {executor.describe()}; results in {cfg.out_dir}/results/", flush=True)
        start = time.time()
        new = run_jobs(executor, todo, cfg, cfg.out_dir)
        bad = [r for r in new if r.get("status") != "ok"]
        n_blocked = _count(new, "blocked")
        print(f"{_count(new, 'ok')} ok, {len(new) - _count(new, 'ok') - _count(new, 'diverged') - n_blocked} failed, "
              f"{_count(new, 'diverged')} diverged" + (f", {n_blocked} not run (search not ok)" if n_blocked else "")
              + f" in {time.time() - start:.1f} s wall-clock")
        for r in bad[:3]:
            print(f"  {r.get('status')} {r['job_id']}: {r.get('error')}")
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    export_table(cfg.out_dir, rows)
    rows = [r for r in rows if r["job_id"] in planned]
    diverged = _count(rows, "diverged")
    failed = len(rows) - _count(rows, "ok") - diverged
    if diverged:
        print(f"{diverged} job(s) diverged (NaN/Inf loss or weights): recorded as results, left out of the "
              "correlations")
    if failed:
        print(f"{failed} job(s) failed; `unnas study status` shows the errors, --retry-failed re-runs them")
    return 1 if failed else 0


def cmd_status(cfg, args) -> int:
    plan = _plan(cfg)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    print(f"study {cfg.name} in {cfg.out_dir}: {len(plan['jobs'])} jobs")
    print(format_status(status_table(plan["jobs"], rows)))
    return 0


def format_correlations(result: dict) -> str:
    """The ρ/τ table, pairs with the target first."""
    def cell(stat: dict, constant: list[str]) -> str:
        value, (lo, hi) = stat["value"], stat["ci"]
        if value is None:
            return f"n/a ({', '.join(constant)} constant)" if constant else "n/a"
        return f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]" if lo is not None else f"{value:+.3f}"

    target = result["target"]
    pairs = sorted(result["correlations"], key=lambda c: (target not in (c["task_a"], c["task_b"]), c["task_a"], c["task_b"]))
    rows = [("task A", "task B", "n", "Spearman ρ [95% CI]", "Kendall τ [95% CI]")]
    for c in pairs:
        a, b = (c["task_b"], c["task_a"]) if c["task_b"] == target else (c["task_a"], c["task_b"])
        constant = c.get("constant") or []
        rows.append((a, b, str(c["n"]), cell(c["spearman"], constant), cell(c["kendall"], constant)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def network_notes(cfg) -> list[str]:
    """What network a NAS-Bench-201 study's jobs used: the benchmark's, or the zero-cost papers' variant (the
    proxies' published numbers were computed on the latter)."""
    net = cfg.network
    if cfg.space != "nasbench201":
        return []
    proxies = net.proxy_variant or net.variant
    return [f"Networks: NAS-Bench-201 at C={net.width} with {net.cells_per_stage} cell(s) per stage; trained tasks on "
            f"the **{net.variant}** variant, zero-cost proxies on the **{proxies}** variant (zero_cost: the proxy "
            "papers' cells with non-affine BN and biased convs)."]


def cmd_analyze(cfg, args) -> int:
    plan = _plan(cfg)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    export_table(cfg.out_dir, rows)
    if getattr(cfg, "kind", "sample") == "search":
        return analyze_search_study(cfg, plan, rows, args.n_boot)
    diverged = planned_job_ids(plan["jobs"], rows, "diverged")
    ok_rows, target, notes = planned_ok_rows(plan["jobs"], rows), cfg.target, network_notes(cfg)
    if isinstance(cfg.target, dict):  # a benchmark table's column is the target
        table_rows, target, note = table_target_rows(cfg, plan)
        ok_rows, notes = ok_rows + table_rows, [note, *notes]
        print(note.replace("**", "").replace("`", ""))
    result = write_report(cfg.out_dir, ok_rows, target=target, n_boot=args.n_boot, title=f"Study {cfg.name}",
                          diverged=diverged, notes=notes)
    print(f"study {cfg.name}: architectures per task: "
          + ", ".join(f"{t} {n}" for t, n in result["archs_per_task"].items()))
    for line in [diverged_sentence(diverged)] + constant_sentences(result) + small_n_sentences(result):
        if line:
            print(line.replace("**", ""))
    print(format_correlations(result))
    for task, entry in (result.get("noise_ceiling") or {}).items():
        value, (low, high) = entry["spearman"]["value"], entry["spearman"]["ci"]
        interval = "n/a" if value is None else f"{value:+.3f}" + ("" if low is None else f" [{low:+.3f}, {high:+.3f}]")
        print(f"noise ceiling: {task} seed-to-seed Spearman ρ {interval} over {entry['n']} architectures")
    if result.get("correlations") and not result.get("noise_ceiling"):
        print(ONE_SEED_SENTENCE)
    print(f"report: {cfg.out_dir}/report.md (figures in {cfg.out_dir}/figures/)")
    return 0


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "status": cmd_status, "analyze": cmd_analyze}


def main(args) -> int:
    extra = []
    if getattr(args, "workers", None) is not None:
        extra.append(f"workers={args.workers}")
    if getattr(args, "runner", None):
        extra.append(f"runner={args.runner}")
    args.retry_failed = getattr(args, "retry_failed", False)
    cfg = load_study(args, extra)
    return COMMANDS[args.action](cfg, args)
