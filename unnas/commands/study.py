"""``unnas study plan|run|status|analyze STUDY_CONFIG [key=value …]``: a sample-based study.

``plan`` expands the config into jobs (arch × task × seed, plus arch × zero-cost proxy) and
writes ``<out_dir>/plan.json``; ``run`` runs the pending jobs (locally or on SLURM) and is safe
to repeat; ``status`` counts done / failed / diverged / pending jobs per task; ``analyze`` ranks
the architectures per task and writes ``report.md``, ``analysis.json`` and ``figures/``.
``plan`` and ``run`` hold the study directory's lock while they write: a second one on the same
directory stops at once, naming the pid that holds it.

``kind: search`` in the config makes it a search-based study (:mod:`unnas.study.search_plan`):
searches per task × seed, their genotypes and random ones trained on the target, and
``analyze`` compares the tasks with each other and with the random cells.
"""

from __future__ import annotations

from ._parsing import IntermixedParser

NAME = "study"
HELP = "plan, run, inspect and analyze a study: sample-based (rank correlation of tasks) or search-based"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=IntermixedParser)
    _common(sub.add_parser("plan", help="write plan.json and print the number of jobs"))
    p = sub.add_parser("run", help="run the pending jobs (finished ones are skipped)")
    _common(p)
    p.add_argument("--workers", type=int, help="local pool size (default: one per GPU, else 1)")
    p.add_argument("--runner", choices=("local", "slurm"), help="where jobs run (default: the config's runner)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also re-run jobs recorded as failed (diverged jobs are results and are kept)")
    _common(sub.add_parser("status", help="done / failed / diverged / pending jobs per task, first error of each task"))
    p = sub.add_parser("analyze", help="rank correlations with CIs, best-of-m, scatter plots, report.md")
    _common(p)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")


def _common(p) -> None:
    p.add_argument("args", nargs="+", metavar="CONFIG|key=value",
                   help="a study YAML (path or short name such as darts/cifar10) and dotlist overrides")


def run(args) -> int:
    from ._study import main  # imported on use: `unnas --help` must not import torch

    return main(args)
