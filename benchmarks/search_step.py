"""Time one DARTS search iteration (α step, then weight step) per task setting and supernet impl.

One iteration does what ``unnas.search.darts.DartsSearch`` does per iteration: an Adam step on
α with the loss of one batch, then an SGD step on the weights (gradient-norm clip 5, metrics
under no_grad) with the loss of another batch. Inputs come from ``task.prepare`` on random
images of the setting's shape, prepared once before timing (target preparation is not timed;
``benchmarks/pretext_targets.py`` measures it). Both impls start from the same weights (same
seed, same initial values), so their first losses should agree.

Prints one JSON line per (setting, impl): median and min ms per iteration over ``--iters``
timed iterations after ``--warmup``, images/s and inputs/s at the median, peak memory
(CUDA: ``max_memory_allocated`` over warm-up and timing; CPU: null), device, torch version.
The paper's release on one H100 (DESIGN.md) is given as ``paper_h100_ms`` for comparison.

    OMP_NUM_THREADS=1 python benchmarks/search_step.py --small --impl both
    python benchmarks/search_step.py --impl both --settings imagenet_cls,rotation   # on a GPU
    python benchmarks/search_step.py --impl fast --cuda-graph                       # GPU only
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

import pretext
from pretext import TaskNetwork
from unnas.config.schema import OptimConfig
from unnas.search.bilevel import BilevelStep
from unnas.search.darts import SUPERNETS


@dataclass(frozen=True)
class Setting:
    task: str
    batch: int  # images per step (rotation feeds 4×, jigsaw 9× as many inputs)
    size: int  # image side in px
    cells: int = 8
    stem: str = "imagenet"
    reductions: str = "two"
    width: int = 16
    options: dict[str, Any] = field(default_factory=dict)
    lr: float = 0.1
    weight_decay: float = 3e-5
    arch_lr: float = 3e-4
    paper_h100_ms: float | None = None
    paper_h100_peak_gib: float | None = None


#: The paper's search settings (UNNAS_FACTS B.6) and the release's H100 times and peaks (issue #6).
SETTINGS = {
    "imagenet_cls": Setting("classification", 64, 224, options={"num_classes": 1000},
                            paper_h100_ms=889, paper_h100_peak_gib=6.1),
    "rotation": Setting("rotation", 32, 224, lr=0.05, arch_lr=1.5e-4, paper_h100_ms=1024, paper_h100_peak_gib=12.1),
    "colorization": Setting("colorization", 64, 224, paper_h100_ms=2347, paper_h100_peak_gib=17.3),
    "jigsaw": Setting("jigsaw", 32, 255, lr=0.05, arch_lr=1.5e-4, paper_h100_ms=879, paper_h100_peak_gib=2.4),
    "cityscapes_seg": Setting("segmentation", 32, 321, cells=12, reductions="one", weight_decay=3e-4,
                              options={"num_classes": 19, "aspp_channels": 64, "rates": [6]},
                              paper_h100_ms=1272, paper_h100_peak_gib=12.5),
    "cifar_cls": Setting("classification", 64, 32, stem="cifar", weight_decay=3e-4, options={"num_classes": 10},
                         paper_h100_ms=923, paper_h100_peak_gib=7.7),
    #: The repository's demo search (configs defaults): C=8, 5 cells, 64 px, 8 images → 32 rotated inputs.
    "demo_rot": Setting("rotation", 8, 64, cells=5, width=8, lr=0.05),
}

#: --small: every setting at CPU size (same cells, stem, task and head); the demo is small already.
SMALL = {"width": 8, "batch": 4, "size": 32}
SMALL_SIZE = {"jigsaw": 48, "cifar_cls": 16}


def small_version(name: str, setting: Setting) -> Setting:
    if name == "demo_rot":
        return setting
    return replace(setting, **{**SMALL, "size": SMALL_SIZE.get(name, SMALL["size"])})


def make_batch(setting: Setting, task: pretext.Task, device: torch.device, gen: torch.Generator):
    """Random images (and labels/masks the task needs) turned into (inputs, targets) by the task."""
    images = torch.rand(setting.batch, 3, setting.size, setting.size, generator=gen)
    labels = None
    if task.needs_labels == "class":
        labels = torch.randint(task.num_classes, (setting.batch,), generator=gen)
    elif task.needs_labels == "mask":
        labels = torch.randint(task.num_classes, (setting.batch, setting.size, setting.size), generator=gen)
        labels[torch.rand(labels.shape, generator=gen) < 0.1] = task.ignore_index
    images = images.to(device)
    labels = labels.to(device) if labels is not None else None
    task_gen = torch.Generator(device=device).manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    return task.prepare(images, labels, train=True, generator=task_gen)


class SearchIteration:
    """The model and the search's own two steps (``unnas.search.bilevel.BilevelStep``) for one setting."""

    def __init__(self, setting: Setting, impl: str, device: torch.device, seed: int, *, capturable: bool,
                 targeted: bool, fused: bool | None, foreach: bool | None = None):
        self.setting, self.impl = setting, impl
        self.task = pretext.build_task(setting.task, **setting.options)
        torch.manual_seed(seed)
        # Both impls draw the same initial values from the same seed (as in a search run).
        trunk = SUPERNETS[impl](setting.width, setting.cells, self.task.input_channels, setting.stem, setting.reductions)
        self.model = TaskNetwork(trunk, self.task.build_head(trunk.out_channels)).to(device).train()
        optim = OptimConfig(lr=setting.lr, weight_decay=setting.weight_decay, arch_lr=setting.arch_lr)
        self.step = BilevelStep(self.model, self.task.loss, optim, targeted=targeted, capturable=capturable,
                                fused=fused, foreach=foreach)

    def compile(self) -> None:
        self.step.forward = torch.compile(self.model)

    def use_bf16(self) -> None:
        """bf16 autocast around the model; outputs back in float32 for the loss and metrics."""
        model, device_type = self.model, next(self.model.parameters()).device.type

        def forward(x: Tensor) -> Tensor:
            with torch.autocast(device_type, dtype=torch.bfloat16):
                return model(x).float()

        self.step.forward = forward

    def train(self, a_batch, w_batch) -> tuple[Tensor, Tensor, Tensor]:
        """Everything but the metrics: (α-step loss, weight-step loss, weight-step outputs)."""
        return self.step.arch_step(*a_batch), *self.step.weight_step(*w_batch)

    def zero_grad(self) -> None:
        self.step.a_opt.zero_grad(set_to_none=True)
        self.step.w_opt.zero_grad(set_to_none=True)

    def metrics(self, outputs: Tensor, targets: Tensor) -> None:
        # Outside `train` because some tasks' metrics (segmentation's confusion) sync with the host.
        with torch.no_grad():
            self.task.metrics(outputs, targets)

    def __call__(self, a_batch, w_batch) -> tuple[Tensor, Tensor]:
        a_loss, w_loss, outputs = self.train(a_batch, w_batch)
        self.metrics(outputs, w_batch[1])
        return a_loss, w_loss


class GraphedIteration:
    """Both steps captured once as one CUDA graph, replayed on static input buffers; metrics run eagerly."""

    def __init__(self, step: SearchIteration, a_batch, w_batch, warmup: int = 3):
        self.step = step
        self.static = [t.clone() for t in (*a_batch, *w_batch)]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # optimiser states and cuDNN choices settle outside the graph
            for _ in range(warmup):
                step.train(self.static[:2], self.static[2:])
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        step.zero_grad()
        with torch.cuda.graph(self.graph):
            self.a_loss, self.w_loss, self.outputs = step.train(self.static[:2], self.static[2:])

    def __call__(self, a_batch, w_batch) -> tuple[Tensor, Tensor]:
        for buf, new in zip(self.static, (*a_batch, *w_batch)):
            buf.copy_(new, non_blocking=True)
        self.graph.replay()
        self.step.metrics(self.outputs, self.static[3])
        return self.a_loss, self.w_loss


#: Ops that only make a new view (or an uninitialised buffer): no kernel on a GPU.
VIEW_OPS = {"view", "_unsafe_view", "reshape", "expand", "slice", "select", "unsqueeze", "squeeze", "t", "permute",
            "transpose", "split", "split_with_sizes", "unbind", "detach", "alias", "as_strided", "empty",
            "empty_strided", "empty_like", "_reshape_alias", "unfold", "narrow", "lift_fresh"}


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def count_ops(setting_name: str, step: "SearchIteration", a_batch, w_batch, args) -> dict[str, Any]:
    """Aten ops one iteration dispatches (after a first one that creates the optimiser states).

    Independent of load, batch and image size; the kernel count is what a launch-bound GPU pays
    for. Optimisers use their multi-tensor (foreach) kernels, as they do on CUDA by default.
    """
    step(a_batch, w_batch)
    with _OpCounter() as counter:
        step.train(a_batch, w_batch)
    total = sum(counter.counts.values())
    views = sum(n for op, n in counter.counts.items() if op in VIEW_OPS)
    return {"setting": setting_name, "impl": step.impl, "targeted_backward": not args.full_backward,
            "aten_ops": total, "kernel_ops": total - views, "torch": torch.__version__}


def measure(setting_name: str, setting: Setting, impl: str, device: torch.device, args) -> dict[str, Any]:
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    step = SearchIteration(setting, impl, device, args.seed, capturable=args.cuda_graph,
                           targeted=not args.full_backward, fused=True if args.fused else None,
                           foreach=True if args.count_ops else None)
    gen = torch.Generator().manual_seed(args.seed)
    a_batch = make_batch(setting, step.task, device, gen)
    w_batch = make_batch(setting, step.task, device, gen)
    if args.bf16:
        step.use_bf16()
    if args.compile:
        step.compile()
    if args.count_ops:
        return count_ops(setting_name, step, a_batch, w_batch, args)
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats(device)
    first = step(a_batch, w_batch)  # the same weights in both impls: these losses must agree
    first = [float(x) for x in first]
    run: Callable = GraphedIteration(step, a_batch, w_batch) if args.cuda_graph else step
    for _ in range(args.warmup):
        run(a_batch, w_batch)
    sync()
    times, cpu_times = [], []
    for _ in range(args.iters):
        start, cpu_start = time.perf_counter(), time.process_time()
        run(a_batch, w_batch)
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    median = statistics.median(times)
    n_inputs = a_batch[0].shape[0]
    return {
        "setting": setting_name, "impl": impl, "compile": args.compile, "cuda_graph": args.cuda_graph,
        "targeted_backward": not args.full_backward, "fused_optim": args.fused, "bf16": args.bf16,
        "task": setting.task, "images": setting.batch, "inputs": n_inputs, "size": setting.size,
        "width": setting.width, "cells": setting.cells, "stem": setting.stem,
        "median_ms": round(median * 1000, 2), "min_ms": round(min(times) * 1000, 2), "iters": args.iters,
        # Process CPU time: on a shared CPU it counts this process's work only, not time others take.
        "cpu_median_ms": None if cuda else round(statistics.median(cpu_times) * 1000, 2),
        "images_per_s": round(setting.batch / median, 2), "inputs_per_s": round(n_inputs / median, 2),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if cuda else None,
        "first_losses": [round(x, 6) for x in first],
        "paper_h100_ms": None if args.small else setting.paper_h100_ms,
        "paper_h100_peak_gib": None if args.small else setting.paper_h100_peak_gib,
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("reference", "fast", "both"), default="both")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated subset of {', '.join(SETTINGS)}")
    parser.add_argument("--small", action="store_true", help=f"CPU sizes: {SMALL} (some sides differ: {SMALL_SIZE})")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations (default 3 with --small, else 20)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations (default 1 with --small, else 5)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (default mode)")
    parser.add_argument("--cuda-graph", action="store_true", help="capture the whole iteration as one CUDA graph")
    parser.add_argument("--full-backward", action="store_true",
                        help="every parameter's gradient in both steps (as the release; the search computes "
                             "only the stepped parameters' unless under DDP)")
    parser.add_argument("--fused", action="store_true", help="torch's fused SGD/Adam kernels")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around the model (float32 weights)")
    parser.add_argument("--count-ops", action="store_true",
                        help="count the aten ops of one iteration instead of timing (deterministic; CPU is fine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    unknown = [s for s in args.settings.split(",") if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    if args.cuda_graph and device.type != "cuda":
        print("search_step: --cuda-graph needs a CUDA device; nothing measured", file=sys.stderr)
        return 0
    args.iters = args.iters or (3 if args.small else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.small else 5)
    impls = ("reference", "fast") if args.impl == "both" else (args.impl,)
    for name in args.settings.split(","):
        setting = SETTINGS[name]
        if args.small:
            setting = small_version(name, setting)
        for impl in impls:
            print(json.dumps(measure(name, setting, impl, device, args)), flush=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
