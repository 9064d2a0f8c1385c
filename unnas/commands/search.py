"""``unnas search [CONFIG] [key=value …]``: search an architecture with any task, by any strategy.

With no arguments it runs the demo: a DARTS search with rotation on the photos bundled with
scikit-image. ``strategy=`` picks darts (the default), random, rea, ppo or ncp; each strategy's config
is its own schema (unnas/config/schema.py, ncp_schema.py), read after the strategy is known. Search
your own unlabeled images with ``--images DIR`` (same as ``data.name=folder data.root=DIR``).
Re-running the same command with the same ``out_dir`` resumes an interrupted run.
"""

from __future__ import annotations

NAME = "search"
HELP = "search an architecture (DARTS, random, REA, PPO or NCP) with a pretext (or supervised) task"


def add_arguments(parser) -> None:
    parser.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]",
                        help="a YAML config (path or preset name such as cifar10/rot) and/or dotlist overrides")
    parser.add_argument("--images", metavar="DIR", help="search on your own folder of images (no labels needed)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args) -> int:
    from ._search import run_search  # imported on use: `unnas --help` must not import torch

    return run_search(args)
