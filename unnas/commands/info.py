"""``unnas info ARCH``: the size of an architecture's network (params, multiply-adds or FLOPs) as one JSON line.

DARTS genotypes (a published name, a genotype file, a run directory) are measured as evaluation
networks of a setting; a NAS-Bench-101 spec file and a NAS-Bench-MR code file as that space's
classification network; a NAS-Bench-201 string (or a file or run directory holding one) in the
benchmark's own convention (conv and linear multiply-accumulates including bias terms, the
records' params and FLOPs); a TransNAS-Bench-101 string as its encoder (params and MACs at 224×224).
Also lists the published genotype names (``--list``) and the data readers (``--readers``). A run
directory of ``unnas train`` is measured with its own setting, width, cells, classes and aux head
(from its config.yaml); options given on the command line still win.
"""

from __future__ import annotations

import argparse

NAME = "info"
HELP = "parameters and multiply-adds of an architecture's network; list published genotypes or data readers"

#: The input each setting is measured at (C, H, W): the paper's training sizes.
INPUT_SHAPES = {"cifar": (3, 32, 32), "imagenet": (3, 224, 224), "cityscapes": (3, 1024, 2048)}
#: NAS-Bench-201's datasets (classes, image side).
NB201_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def add_arguments(parser) -> None:
    parser.add_argument("arch", nargs="?", help="published genotype name, genotype file, run directory, a "
                                                "NAS-Bench-101 spec file (JSON with matrix and ops), a "
                                                "NAS-Bench-MR code file (JSON {\"space\": \"mr\", \"code\": [...]}), "
                                                "a NAS-Bench-201 string |op~0|+|op~0|op~1|+|...| or a TransNAS-Bench-101 "
                                                "string 64-41414-a_bc_def / 64-1234-basic")
    parser.add_argument("--setting", choices=sorted(INPUT_SHAPES),
                        help="network family (default: a train run directory's, else imagenet)")
    parser.add_argument("--width", type=int, help="initial channels C (default: the released width, else per setting); "
                                                  "NAS-Bench-101: stem width (default 128); NAS-Bench-201: C (16); "
                                                  "TransNAS-Bench-101: base channels (64)")
    parser.add_argument("--cells", type=int, help="number of cells L (default: 20 / 14 / 12); NAS-Bench-101: "
                                                  "modules per stack (default 3 / 4); NAS-Bench-201: cells per stage (5)")
    parser.add_argument("--classes", type=int, help="number of classes (default: 10 / 1000 / 19)")
    parser.add_argument("--dataset", choices=NB201_DATASETS, default="cifar10",
                        help="NAS-Bench-201: the dataset whose classes and image size the cost is counted for")
    parser.add_argument("--aux", action=argparse.BooleanOptionalAction, default=None,
                        help="build the auxiliary head (default: on for cifar and imagenet)")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="measure multiply-adds at this input size instead of the setting's")
    parser.add_argument("--list", action="store_true", help="print the published genotype names and exit")
    parser.add_argument("--readers", action="store_true", help="print the data readers and exit")


def run(args) -> int:
    from ._info import main  # imported on use: `unnas --help` must not import torch

    return main(args)
