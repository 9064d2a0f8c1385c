"""``unnas study plan|run|status|analyze STUDY_CONFIG [key=value …]``: a sample-based study.

``plan`` expands the config into jobs (arch × task × seed, plus arch × zero-cost proxy) and
writes ``<out_dir>/plan.json``; ``run`` runs the pending jobs (locally or on SLURM) and is safe
to repeat; ``status`` counts done / failed / pending jobs per task; ``analyze`` ranks the
architectures per task and writes ``report.md``, ``analysis.json`` and ``figures/``.
"""

from __future__ import annotations

import argparse
import time

NAME = "study"
HELP = "plan, run, inspect and analyze a sample-based study (rank correlation of tasks)"


def _common(p) -> None:
    p.add_argument("args", nargs="+", metavar="CONFIG|key=value",
                   help="a study YAML (path or short name such as darts/cifar10) and dotlist overrides")


class _Intermixed(argparse.ArgumentParser):
    """Lets ``key=value`` overrides and options come in any order (``CONFIG --workers 2 count=5``)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # parse_known_intermixed_args calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Intermixed)
    _common(sub.add_parser("plan", help="write plan.json and print the number of jobs"))
    p = sub.add_parser("run", help="run the pending jobs (finished ones are skipped)")
    _common(p)
    p.add_argument("--workers", type=int, help="local pool size (default: one per GPU, else 1)")
    p.add_argument("--runner", choices=("local", "slurm"), help="where jobs run (default: the config's runner)")
    p.add_argument("--retry-failed", action="store_true", help="also re-run jobs recorded as failed")
    _common(sub.add_parser("status", help="done / failed / pending jobs per task, first error of each task"))
    p = sub.add_parser("analyze", help="rank correlations with CIs, best-of-m, scatter plots, report.md")
    _common(p)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")


def load_study(args, extra: list[str] = ()):
    from unnas.commands.search import split_config_args
    from unnas.config import StudyConfig, load_config, resolve_config_path

    config, overrides = split_config_args(args.args)
    if config is None:
        from unnas.errors import ConfigError

        raise ConfigError("give a study config, e.g. `unnas study plan darts/fashion_mnist_quick`")
    return load_config(StudyConfig, resolve_config_path(config, "study"), [*overrides, *extra])


def _plan(cfg, write: bool):
    """The plan for ``cfg``, checked against (and, with ``write``, saved as) ``<out_dir>/plan.json``."""
    from pathlib import Path

    from unnas.study.plan import PLAN_FILE, build_plan, check_fingerprint, read_plan, write_plan

    plan = build_plan(cfg)
    if write:
        write_plan(cfg, plan)
    else:
        old = read_plan(cfg.out_dir)
        if old is not None:
            check_fingerprint(old.get("fingerprint"), plan["fingerprint"], Path(cfg.out_dir) / PLAN_FILE)
    return plan


def cmd_plan(cfg, args) -> int:
    from unnas.study.plan import describe_plan

    plan = _plan(cfg, write=True)
    print(f"study {cfg.name}: {describe_plan(plan)}")
    print(f"plan written to {cfg.out_dir}/plan.json (fingerprint {plan['fingerprint']})")
    return 0


def cmd_run(cfg, args) -> int:
    from unnas.study.results import export_table, pending_jobs, read_rows
    from unnas.study.runner import build_runner

    plan = _plan(cfg, write=True)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    todo = pending_jobs(plan["jobs"], rows, args.retry_failed)
    done = sum(r.get("status") == "ok" for r in rows)
    print(f"study {cfg.name}: {len(plan['jobs'])} jobs, {done} done, {len(todo)} to run"
          + ("" if args.retry_failed else " (failed jobs are kept; --retry-failed re-runs them)"), flush=True)
    if todo:
        runner = build_runner(cfg, cfg.out_dir)
        print(f"running {runner.describe()}; results in {cfg.out_dir}/results/", flush=True)
        start = time.time()
        new = runner.run(todo, cfg, cfg.out_dir)
        failed = [r for r in new if r.get("status") != "ok"]
        print(f"{len(new) - len(failed)} ok, {len(failed)} failed in {time.time() - start:.1f} s wall-clock")
        for r in failed[:3]:
            print(f"  failed {r['job_id']}: {r.get('error')}")
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    export_table(cfg.out_dir, rows)
    bad = sum(r.get("status") != "ok" for r in rows)
    if bad:
        print(f"{bad} job(s) failed; `unnas study status` shows the errors, --retry-failed re-runs them")
    return 1 if bad else 0


def cmd_status(cfg, args) -> int:
    from unnas.study.results import format_status, read_rows, status_table

    plan = _plan(cfg, write=False)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    print(f"study {cfg.name} in {cfg.out_dir}: {len(plan['jobs'])} jobs")
    print(format_status(status_table(plan["jobs"], rows)))
    return 0


def format_correlations(result: dict) -> str:
    """The ρ/τ table, pairs with the target first."""
    def cell(stat: dict) -> str:
        value, (lo, hi) = stat["value"], stat["ci"]
        if value is None:
            return "n/a"
        return f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]" if lo is not None else f"{value:+.3f}"

    target = result["target"]
    pairs = sorted(result["correlations"], key=lambda c: (target not in (c["task_a"], c["task_b"]), c["task_a"], c["task_b"]))
    rows = [("task A", "task B", "n", "Spearman ρ [95% CI]", "Kendall τ [95% CI]")]
    for c in pairs:
        a, b = (c["task_b"], c["task_a"]) if c["task_b"] == target else (c["task_a"], c["task_b"])
        rows.append((a, b, str(c["n"]), cell(c["spearman"]), cell(c["kendall"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def cmd_analyze(cfg, args) -> int:
    from unnas.study.report import write_report
    from unnas.study.results import export_table, planned_ok_rows, read_rows

    plan = _plan(cfg, write=False)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    export_table(cfg.out_dir, rows)
    result = write_report(cfg.out_dir, planned_ok_rows(plan["jobs"], rows), target=cfg.target, n_boot=args.n_boot,
                          title=f"Study {cfg.name}")
    print(f"study {cfg.name}: architectures per task: "
          + ", ".join(f"{t} {n}" for t, n in result["archs_per_task"].items()))
    print(format_correlations(result))
    print(f"report: {cfg.out_dir}/report.md (figures in {cfg.out_dir}/figures/)")
    return 0


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "status": cmd_status, "analyze": cmd_analyze}


def run(args) -> int:
    extra = []
    if getattr(args, "workers", None) is not None:
        extra.append(f"workers={args.workers}")
    if getattr(args, "runner", None):
        extra.append(f"runner={args.runner}")
    args.retry_failed = getattr(args, "retry_failed", False)
    cfg = load_study(args, extra)
    return COMMANDS[args.action](cfg, args)
