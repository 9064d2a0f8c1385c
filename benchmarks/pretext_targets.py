"""Throughput of target generation (``task.prepare``) per pretext task, in images per second.

CPU numbers use ONE core (torch and faiss both limited to one thread), to compare with the
paper's per-image CPU preparation (one core, ImageNet sizes: rotation 645 images/s, jigsaw 385,
colorization 43). CUDA numbers are measured when a GPU is present, synchronising around each run.
Prints one JSON line per (task, device): the median over ``--runs`` timed runs after warm-up.

    python benchmarks/pretext_targets.py [--batch 32] [--runs 7] [--devices cpu,cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import pretext

#: (task, options, image side): ImageNet sizes of the paper (224 crops; 255 for the 3×3 jigsaw).
CASES = [
    ("rotation", {}, 224),
    ("colorization", {}, 224),
    ("jigsaw", {"grid": 3}, 255),
]


def time_prepare(task: pretext.Task, images: torch.Tensor, runs: int, warmup: int = 2) -> list[float]:
    device = images.device
    gen = torch.Generator(device=device).manual_seed(0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        task.prepare(images, train=True, generator=gen)
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        task.prepare(images, train=True, generator=gen)
        sync()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated; cuda is skipped when absent")
    args = parser.parse_args()

    torch.set_num_threads(1)
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        pass

    for device in args.devices.split(","):
        if device == "cuda" and not torch.cuda.is_available():
            continue
        for name, options, side in CASES:
            task = pretext.build_task(name, **options)
            images = torch.rand(args.batch, 3, side, side, generator=torch.Generator().manual_seed(1)).to(device)
            times = time_prepare(task, images, args.runs)
            median = statistics.median(times)
            print(json.dumps({
                "task": name, "options": options, "device": device,
                "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu, 1 thread",
                "batch": args.batch, "size": side, "runs": args.runs,
                "ms_per_batch": round(median * 1000, 2), "images_per_s": round(args.batch / median, 1),
                "torch": torch.__version__,
            }), flush=True)


if __name__ == "__main__":
    main()
