"""``unnas info``: size of an evaluation network (params, multiply-adds) as one JSON object.

A NAS-Bench-101 spec file or a NAS-Bench-MR code file (``{"space": "mr", "code": [...]}``,
see :mod:`unnas.spaces.mr.arch`) is measured as that space's classification network.
Also lists the published genotype names (``--list``) and the data readers (``--readers``). A run
directory of ``unnas train`` is measured with its own setting, width, cells, classes and aux head
(from its config.yaml); options given on the command line still win.
"""

from __future__ import annotations

import argparse
import json

NAME = "info"
HELP = "parameters and multiply-adds of an evaluation network; list published genotypes or data readers"

#: The input each setting is measured at (C, H, W): the paper's training sizes.
INPUT_SHAPES = {"cifar": (3, 32, 32), "imagenet": (3, 224, 224), "cityscapes": (3, 1024, 2048)}


def add_arguments(parser) -> None:
    parser.add_argument("arch", nargs="?", help="published genotype name, genotype file, run directory, a "
                                                "NAS-Bench-101 spec file (JSON with matrix and ops), or a "
                                                "NAS-Bench-MR code file (JSON {\"space\": \"mr\", "
                                                "\"code\": [27 integers]})")
    parser.add_argument("--setting", choices=sorted(INPUT_SHAPES),
                        help="network family (default: a train run directory's, else imagenet)")
    parser.add_argument("--width", type=int, help="initial channels C (default: the released width, else per setting); "
                                                  "NAS-Bench-101: stem width (default 128)")
    parser.add_argument("--cells", type=int, help="number of cells L (default: 20 / 14 / 12); NAS-Bench-101: "
                                                  "modules per stack (default 3 / 4)")
    parser.add_argument("--classes", type=int, help="number of classes (default: 10 / 1000 / 19)")
    parser.add_argument("--aux", action=argparse.BooleanOptionalAction, default=None,
                        help="build the auxiliary head (default: on for cifar and imagenet)")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="measure multiply-adds at this input size instead of the setting's")
    parser.add_argument("--list", action="store_true", help="print the published genotype names and exit")
    parser.add_argument("--readers", action="store_true", help="print the data readers and exit")


def describe(arch, setting: str, width=None, cells=None, classes=None, aux=None, input_size=None) -> dict:
    """The info record for one network; built on the meta device (no weights are allocated)."""
    import torch

    from eval.networks import build_network
    from unnas.complexity import count_madds, count_params
    from unnas.errors import ConfigError

    with torch.device("meta"):
        net = build_network(arch, setting, width=width, cells=cells, num_classes=classes, aux=aux)
    channels, h, w = INPUT_SHAPES[setting]
    if input_size is not None:
        h, w = input_size
    try:
        madds = count_madds(net, (channels, h, w))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"input {h}x{w} is too small for this {setting} network ({first}); use a larger --input-size") from None
    params = count_params(net)
    aux_params = count_params(net.aux_head) if net.aux_head is not None else 0
    return {
        "arch": arch if isinstance(arch, str) else "custom",
        "setting": setting,
        "width": net.trunk.width,
        "cells": len(net.trunk.cells),
        "classes": net.num_classes,
        "aux": net.aux_head is not None,
        "params": params,
        "params_main": params - aux_params,
        "madds": madds,
        "input_size": [h, w],
    }


def train_run_options(arch: str) -> dict | None:
    """The network options recorded in a ``unnas train`` run directory's config.yaml, else None."""
    from pathlib import Path

    from unnas.engine.run_kind import run_kind

    if run_kind(arch) != "train":
        return None
    from unnas.config import TrainConfig, load_config

    cfg = load_config(TrainConfig, Path(arch) / "config.yaml")
    m = cfg.model
    classes = m.num_classes
    if classes is None and cfg.task == "classification":
        classes = cfg.task_options.get("num_classes")
    # the genotype is written at the end of training; a run still in progress names it in its config
    genotype = arch if (Path(arch) / "genotype.json").is_file() else cfg.arch
    return {"arch": genotype, "setting": cfg.setting, "width": m.width, "cells": m.cells, "classes": classes,
            "aux": m.aux, "task": cfg.task}


def _json_file(arch: str):
    """The parsed content when ``arch`` is a readable ``.json`` file, else None."""
    from pathlib import Path

    path = Path(arch)
    if path.suffix != ".json" or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # not ours to judge: the genotype loader reports it


def nb101_spec_file(arch: str):
    """The parsed spec when ``arch`` is a JSON file holding a NAS-Bench-101 ``matrix`` and ``ops``."""
    obj = _json_file(arch)
    if not (isinstance(obj, dict) and "matrix" in obj and "ops" in obj):
        return None
    from unnas.spaces.nasbench101 import load_spec

    return load_spec(arch)


def mr_code_file(arch: str):
    """The architecture when ``arch`` is a JSON file holding ``{"space": "mr", "code": [27 integers]}``."""
    from unnas.spaces.mr.arch import MRArch, is_mr_json

    obj = _json_file(arch)
    return MRArch.from_json(obj, where=arch) if is_mr_json(obj) else None


def describe_nb101(spec, arch: str, setting: str, width=None, modules=None, classes=None, input_size=None) -> dict:
    """params / madds of the NAS-Bench-101 network for ``spec`` (same counting rule as DARTS)."""
    import torch

    from unnas.complexity import count_madds, count_params
    from unnas.errors import ConfigError
    from unnas.spaces.nasbench101 import NB101Network

    if setting not in ("cifar", "imagenet"):
        raise ConfigError(f"NAS-Bench-101 networks exist for --setting cifar or imagenet, not {setting!r}")
    classes = classes or (10 if setting == "cifar" else 1000)
    with torch.device("meta"):
        net = NB101Network(spec, setting=setting, num_classes=classes, stem_width=width or 128,
                           modules_per_stack=modules)
    h, w = input_size or INPUT_SHAPES[setting][1:]
    return {
        "arch": arch, "space": "nasbench101", "hash": spec.module_hash(), "setting": setting,
        "width": width or 128, "modules_per_stack": modules or (3 if setting == "cifar" else 4),
        "classes": classes, "params": count_params(net), "madds": count_madds(net, (3, h, w)), "input_size": [h, w],
    }


def describe_mr(mr_arch, arch: str, setting: str, classes=None, input_size=None) -> dict:
    """params / madds of the NAS-Bench-MR classification network of ``mr_arch`` (same counting rule as DARTS)."""
    import torch

    from unnas.complexity import count_madds, count_params
    from unnas.errors import ConfigError
    from unnas.spaces.mr import MRNetwork

    if setting not in ("cifar", "imagenet"):
        raise ConfigError(f"NAS-Bench-MR networks are measured with --setting cifar or imagenet, not {setting!r}")
    classes = classes or (10 if setting == "cifar" else 1000)
    with torch.device("meta"):
        net = MRNetwork(mr_arch, num_classes=classes)
    h, w = input_size or INPUT_SHAPES[setting][1:]
    return {"arch": arch, "space": "mr", "code": list(mr_arch.code), "setting": setting, "classes": classes,
            "params": count_params(net), "madds": count_madds(net, (3, h, w)), "input_size": [h, w]}


def run(args) -> int:
    from unnas.errors import ConfigError

    if args.list:
        from unnas.spaces.darts.library import PUBLISHED

        print("\n".join(PUBLISHED))
        return 0
    if args.readers:
        from unnas.data import list_datasets

        readers = list_datasets()
        pad = max((len(n) for n in readers), default=0)
        for name, text in readers.items():
            print(f"{name:<{pad}}  {text}")
        return 0
    if not args.arch:
        raise ConfigError("unnas info needs an architecture (a published name or a genotype file), or --list / --readers")
    if args.input_size is not None and min(args.input_size) <= 0:
        raise ConfigError(f"--input-size must be positive, got {args.input_size}")
    spec = nb101_spec_file(args.arch)
    mr_arch = mr_code_file(args.arch)
    if mr_arch is not None:
        given = [flag for flag, value in (("--width", args.width), ("--cells", args.cells), ("--aux", args.aux))
                 if value is not None]
        if given:
            raise ConfigError(f"{args.arch} is an MR code, which sets every width and depth itself; drop {given[0]}")
        record = describe_mr(mr_arch, args.arch, args.setting or "imagenet", args.classes, args.input_size)
    elif spec is not None:
        record = describe_nb101(spec, args.arch, args.setting or "imagenet", args.width, args.cells, args.classes,
                                args.input_size)
    elif (run := train_run_options(args.arch)) is not None:
        same = args.setting in (None, run["setting"])  # another setting: only the run's genotype carries over

        def pick(given, key):
            return given if given is not None or not same else run[key]

        record = describe(run["arch"], pick(args.setting, "setting"), pick(args.width, "width"),
                          pick(args.cells, "cells"), pick(args.classes, "classes"), pick(args.aux, "aux"),
                          args.input_size)
        record.update(arch=args.arch, run_task=run["task"])
    else:
        record = describe(args.arch, args.setting or "imagenet", args.width, args.cells, args.classes, args.aux,
                          args.input_size)
    from unnas.engine.rundir import finite_or_null

    print(json.dumps(finite_or_null(record), allow_nan=False))
    return 0
