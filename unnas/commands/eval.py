"""``unnas eval RUN_DIR [--split SPLIT] [key=value …]``: evaluate a trained run; print one JSON object.

The model is rebuilt from the run's config.yaml (and its genotype.json when present) and loaded
from checkpoints/last.pt. Overrides change the evaluation only (``device=cpu``,
``data.root=/elsewhere``, ``recipe.test_batch_size=4``). Classification prints top1/top5;
segmentation prints miou, pixel_acc and the IoU of every class, all in percent.
"""

from __future__ import annotations

NAME = "eval"
HELP = "evaluate a run of `unnas train` on a split and print the metrics as JSON"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `unnas train` (a search run's "
                                                       "genotype is trained first: unnas train RUN_DIR CONFIG)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides (device, data.root, recipe.test_batch_size, …)")
    parser.add_argument("--split", help="split to evaluate (default: the run's data.test_split)")


def run(args) -> int:
    from ._eval import main  # imported on use: `unnas --help` must not import torch

    return main(args)
