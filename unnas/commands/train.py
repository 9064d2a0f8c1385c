"""``unnas train ARCH [CONFIG] [key=value …]``: train a fixed architecture from scratch and evaluate it.

ARCH is a published name (``darts_v2``), a genotype file (JSON/YAML, the paper's list form) or
an ``unnas search`` run directory. CONFIG is a YAML file or a short name under
``configs/eval/`` (``cls/darts_v2``, ``cls/cifar_darts_v2``, ``seg/darts_v2``, ``cls/demo``).
Re-running the same command with the same ``out_dir`` resumes; under ``torchrun`` it trains
with DistributedDataParallel (``recipe.batch_size`` is per process).

It reports the last epoch (``final``). ``data.val_fraction=0.1`` holds out a seeded tenth of the
train split: the per-epoch evaluations use it and the test split is evaluated once, at the end.
``select=best_epoch`` picks the best epoch on that held-out part; without one it only prints the
max over epochs on the test split, labelled as no selection one may report.
"""

from __future__ import annotations

NAME = "train"
HELP = "train a fixed architecture (published name, genotype file or search run) and evaluate it"


def add_arguments(parser) -> None:
    parser.add_argument("arch", metavar="ARCH", help="published genotype name, genotype file or search run directory")
    parser.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]",
                        help="a YAML config (path or short name such as cls/darts_v2) and/or dotlist overrides")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args) -> int:
    from ._train import main  # imported on use: `unnas --help` must not import torch

    return main(args)
