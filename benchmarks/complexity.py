"""Why count_madds runs on the meta device: time and peak memory of the counting pass.

Each measurement runs in a fresh subprocess (so peak RSS and one-time warm-up are its own):
``meta`` is :func:`unnas.complexity.count_madds`; ``cpu`` is the same hooks on a real eval-mode
forward of a zero image on the CPU. Reports wall and CPU seconds (CPU seconds are the honest
figure on a shared machine) and peak resident memory.

    python benchmarks/complexity.py                 # DARTS_V2 cifar / imagenet / cityscapes
    python benchmarks/complexity.py --skip-cpu-cityscapes
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SHAPES = {"cifar": (3, 32, 32), "imagenet": (3, 224, 224), "cityscapes": (3, 1024, 2048)}


def _child(setting: str, mode: str) -> None:
    import torch
    from torch import nn

    from eval.networks import build_network
    from unnas.complexity import _layer_madds, count_madds

    net = build_network("darts_v2", setting, aux=False)
    shape = SHAPES[setting]
    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "meta":
        madds = count_madds(net, shape)
    else:
        total = [0]
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.register_forward_hook(lambda mod, _i, out: total.__setitem__(0, total[0] + _layer_madds(mod, out)))
        with torch.no_grad():
            net.eval()(torch.zeros((1,) + shape))
        madds = total[0]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"setting": setting, "mode": mode, "madds": madds, "wall_s": round(wall, 2),
                      "cpu_s": round(cpu, 2), "peak_rss_mb": round(rss_mb)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("SETTING", "MODE"))
    parser.add_argument("--skip-cpu-cityscapes", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    for setting in SHAPES:
        for mode in ("meta", "cpu"):
            if mode == "cpu" and setting == "cityscapes" and args.skip_cpu_cityscapes:
                continue
            out = subprocess.run([sys.executable, __file__, "--child", setting, mode], capture_output=True, text=True)
            print(out.stdout.strip() or out.stderr.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
