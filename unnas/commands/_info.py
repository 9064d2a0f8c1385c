"""The body of ``unnas info`` (see :mod:`unnas.commands.info`)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from eval.networks import build_network
from unnas.complexity import count_madds, count_params
from unnas.config import TrainConfig, load_config
from unnas.data import list_datasets
from unnas.engine.run_kind import run_kind
from unnas.engine.rundir import finite_or_null
from unnas.errors import ConfigError
from unnas.spaces import nasbench201, transnas
from unnas.spaces.darts.library import PUBLISHED
from unnas.spaces.mr import MRNetwork
from unnas.spaces.nasbench101 import NB101Network
from unnas.trials.spaces import detect

from .info import INPUT_SHAPES


def describe(arch, setting: str, width=None, cells=None, classes=None, aux=None, input_size=None) -> dict:
    """The info record for one network; built on the meta device (no weights are allocated)."""
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
    if run_kind(arch) != "train":
        return None
    cfg = load_config(TrainConfig, Path(arch) / "config.yaml")
    m = cfg.model
    classes = m.num_classes
    if classes is None and cfg.task == "classification":
        classes = cfg.task_options.get("num_classes")
    # the genotype is written at the end of training; a run still in progress names it in its config
    genotype = arch if (Path(arch) / "genotype.json").is_file() else cfg.arch
    return {"arch": genotype, "setting": cfg.setting, "width": m.width, "cells": m.cells, "classes": classes,
            "aux": m.aux, "task": cfg.task}


def describe_nb101(spec, arch: str, setting: str, width=None, modules=None, classes=None, input_size=None) -> dict:
    """params / madds of the NAS-Bench-101 network for ``spec`` (same counting rule as DARTS)."""
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
    if setting not in ("cifar", "imagenet"):
        raise ConfigError(f"NAS-Bench-MR networks are measured with --setting cifar or imagenet, not {setting!r}")
    classes = classes or (10 if setting == "cifar" else 1000)
    with torch.device("meta"):
        net = MRNetwork(mr_arch, num_classes=classes)
    h, w = input_size or INPUT_SHAPES[setting][1:]
    return {"arch": arch, "space": "mr", "code": list(mr_arch.code), "setting": setting, "classes": classes,
            "params": count_params(net), "madds": count_madds(net, (3, h, w)), "input_size": [h, w]}


def _no_setting(args, space: str) -> None:
    given = [f for f, v in (("--setting", args.setting), ("--classes", args.classes), ("--aux", args.aux)) if v is not None]
    if given:
        raise ConfigError(f"{given[0]} does not apply to {space} (its network is the benchmark's); drop it")


def describe_nb201(arch, args) -> dict:
    """The benchmark's params and FLOPs of a NAS-Bench-201 cell's network (its records' convention)."""
    _no_setting(args, "nasbench201")
    if args.input_size is not None:
        raise ConfigError("--input-size does not apply to nasbench201: --dataset sets the image size (32 or 16)")
    width, cells = args.width or 16, args.cells or 5
    cost = nasbench201.benchmark_cost(arch, dataset=args.dataset, C=width, N=cells)
    return {"arch": str(arch), "space": "nasbench201", "index": nasbench201.index_of(arch), "dataset": args.dataset,
            "width": width, "cells_per_stage": cells, "params": cost["params"], "flops": cost["flops"],
            "params_M": round(cost["params_M"], 6), "flops_M": round(cost["flops_M"], 5),
            "convention": "NAS-Bench-201: trainable parameters; conv and linear multiply-accumulates with bias terms, "
                          "one image"}


def describe_transnas(arch, space: str, args) -> dict:
    """The encoder's params and MACs of a TransNAS-Bench-101 architecture (the benchmark's info is at 224×224)."""
    _no_setting(args, space)
    if args.cells is not None:
        raise ConfigError(f"--cells does not apply to {space}: its string sets the modules")
    if args.input_size is not None and args.input_size[0] != args.input_size[1]:
        raise ConfigError(f"--input-size must be square for {space}, got {args.input_size}")
    side, width = (args.input_size or [224, 224])[0], args.width or 64
    cost = transnas.encoder_cost(arch, input_size=side, base_channels=width)
    return {"arch": str(arch), "space": space, "base_channels": width, "input_size": [side, side],
            "params": cost["params"], "macs": cost["macs"], "params_M": round(cost["params_M"], 6),
            "macs_M": round(cost["macs_M"], 5),
            "convention": "TransNAS-Bench-101 encoder (no decoder): trainable parameters; conv and linear "
                          "multiply-accumulates without BN, one image"}


def main(args) -> int:
    if args.list:
        print("\n".join(PUBLISHED))
        return 0
    if args.readers:
        readers = list_datasets()
        pad = max((len(n) for n in readers), default=0)
        for name, text in readers.items():
            print(f"{name:<{pad}}  {text}")
        return 0
    if not args.arch:
        raise ConfigError("unnas info needs an architecture (a published name or a genotype file), or --list / --readers")
    if args.input_size is not None and min(args.input_size) <= 0:
        raise ConfigError(f"--input-size must be positive, got {args.input_size}")
    if (run := train_run_options(args.arch)) is not None:
        same = args.setting in (None, run["setting"])  # another setting: only the run's genotype carries over

        def pick(given, key):
            return given if given is not None or not same else run[key]

        record = describe(run["arch"], pick(args.setting, "setting"), pick(args.width, "width"),
                          pick(args.cells, "cells"), pick(args.classes, "classes"), pick(args.aux, "aux"),
                          args.input_size)
        record.update(arch=args.arch, run_task=run["task"])
    else:
        space, arch = detect(args.arch)
        if space.name != "darts" and args.aux is not None:
            raise ConfigError(f"{args.arch} is a {space.name} architecture, which has no auxiliary head; drop --aux")
        if space.name == "mr":
            if args.width is not None or args.cells is not None:
                raise ConfigError(f"{args.arch} is an MR code, which sets every width and depth itself; drop "
                                  f"{'--width' if args.width is not None else '--cells'}")
            record = describe_mr(arch, args.arch, args.setting or "imagenet", args.classes, args.input_size)
        elif space.name == "nasbench101":
            record = describe_nb101(arch, args.arch, args.setting or "imagenet", args.width, args.cells, args.classes,
                                    args.input_size)
        elif space.name == "nasbench201":
            record = describe_nb201(arch, args)
        elif space.name.startswith("transnas"):
            record = describe_transnas(arch, space.name, args)
        else:
            record = describe(args.arch, args.setting or "imagenet", args.width, args.cells, args.classes, args.aux,
                              args.input_size)
    print(json.dumps(finite_or_null(record), allow_nan=False))
    return 0
