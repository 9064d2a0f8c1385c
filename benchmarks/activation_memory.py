"""Activation memory of one search forward at the paper's full sizes, exactly, without a GPU.

Peak memory of a DARTS search step is dominated by the tensors autograd keeps for the backward
(GiBs; the weights are a few MiB). This script counts them exactly: the supernet and its head are
built on PyTorch's ``meta`` device (shapes and dtypes, no data, no arithmetic), one training
forward of the setting's batch runs under ``saved_tensors_hooks``, and the distinct storages
handed to the hook are summed. Same settings as ``benchmarks/search_step.py`` (inputs come from
the real ``task.prepare`` on random images, then move to ``meta``).

What this is not: a CUDA peak. cuDNN's workspaces, the backward's transient buffers and the
allocator's rounding come on top; ``search_step.py`` on a GPU measures the real
``max_memory_allocated``. The reference supernet is the paper release's per-edge layout, so its
column, next to the release's measured H100 peak, shows how close this count comes.

    python benchmarks/activation_memory.py [--settings rotation,jigsaw] [--impl both]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

import pretext
from pretext import TaskNetwork
from search_step import SETTINGS, Setting, make_batch
from unnas.search.darts import SUPERNETS


def saved_bytes(model: torch.nn.Module, loss_fn, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
    """(bytes, storages) autograd keeps from one forward; storages shared by several saves count once."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage._cdata] = storage.nbytes()  # alive until backward, so addresses are not reused
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn(model(inputs), targets)
    return sum(storages.values()), len(storages)


def measure(name: str, setting: Setting, impl: str, seed: int) -> dict:
    task = pretext.build_task(setting.task, **setting.options)
    inputs, targets = make_batch(setting, task, torch.device("cpu"), torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    with torch.device("meta"):
        trunk = SUPERNETS[impl](setting.width, setting.cells, task.input_channels, setting.stem, setting.reductions)
        model = TaskNetwork(trunk, task.build_head(trunk.out_channels)).train()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    total, count = saved_bytes(model, task.loss, inputs.to("meta"), targets.to("meta"))
    return {
        "setting": name, "impl": impl, "task": setting.task, "inputs": list(inputs.shape),
        "saved_activations_gib": round(total / 2**30, 3), "saved_storages": count,
        "params_mib": round(params / 2**20, 2), "paper_h100_peak_gib": setting.paper_h100_peak_gib,
        "seconds": round(time.perf_counter() - start, 2), "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("reference", "fast", "both"), default="both")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated subset of {', '.join(SETTINGS)}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    impls = ("reference", "fast") if args.impl == "both" else (args.impl,)
    for name in args.settings.split(","):
        for impl in impls:
            print(json.dumps(measure(name, SETTINGS[name], impl, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
