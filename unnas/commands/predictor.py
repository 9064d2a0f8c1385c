"""``unnas predictor fit STUDY_DIR``: learn a study's results (codes → metrics) for NCP search.

Writes ``predictor.pt`` (the network, normalisation, split and scores), ``predictor.json`` (the
scores, strict JSON) and ``predictions.png`` (predicted vs true per metric) into ``--out``
(default: the study directory), and prints each metric's Spearman/Kendall on the validation rows.
"""

from __future__ import annotations

NAME = "predictor"
HELP = "fit a neural predictor of a study's results (for `unnas search strategy=ncp`)"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="fit a predictor on a study directory's results")
    fit.add_argument("study_dir", metavar="STUDY_DIR", help="a study's out_dir (plan.json + results/)")
    fit.add_argument("--out", metavar="DIR", help="folder for predictor.pt and its pictures (default: STUDY_DIR)")
    fit.add_argument("--metrics", metavar="A,B", help="metrics to learn (default: every task, params, madds)")
    fit.add_argument("--epochs", type=int, default=200)
    fit.add_argument("--val-fraction", type=float, default=0.2, help="share of architectures held out (seeded)")
    fit.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from ._predictor import main  # imported on use: `unnas --help` must not import torch

    return main(args)
