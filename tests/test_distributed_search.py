"""Search under torchrun with 2 CPU processes (gloo): ranks stay in sync and match one process
that takes the same global batch.

Batch-norm statistics depend on how a batch is split across ranks, so the equivalence test uses
a folder of identical, mirror-symmetric photos: every sample is the same image (flips are no-ops),
per-rank and global batch statistics coincide, and any difference left would come from the
distributed code path itself (sampling shares, gradient and α all-reduce).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import tiny_search_overrides, write_png
from unnas.config import SearchConfig, load_config
from unnas.engine.distributed import DistContext, replicas_identical
from unnas.search import DartsSearch


def _symmetric_photo_folder(root: Path, copies: int) -> Path:
    from skimage import data as skdata

    photo = torch.from_numpy(skdata.astronaut()[100:164:2, 150:182]).permute(2, 0, 1).contiguous()  # 3×32×32
    half = photo[:, :, :16]
    symmetric = torch.cat([half, half.flip(-1)], dim=-1).contiguous()
    for i in range(copies):
        write_png(root / f"copy_{i:02d}.png", symmetric)
    return root


def _torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "unnas.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path, cli):
    photos = _symmetric_photo_folder(tmp_path / "photos", copies=16)
    common = {"model.cells": 3, "data.min_scale": 1.0, "data.resize_size": 32, "optim.epochs": 2,
              "optim.iters_per_epoch": 3, "eval_batches": 0}
    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    proc = _torchrun(["search", "--images", str(photos),
                      *tiny_search_overrides(ddp_dir, **common, **{"optim.batch_size": 2})])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "× 2 processes" in proc.stdout
    code, _, err = cli("search", "--images", str(photos), *tiny_search_overrides(single_dir, **common,
                                                                                  **{"optim.batch_size": 4}))
    assert code == 0, err
    a = torch.load(ddp_dir / "checkpoints" / "last.pt", weights_only=False)["model"]
    b = torch.load(single_dir / "checkpoints" / "last.pt", weights_only=False)["model"]
    cfg = load_config(SearchConfig, None, ["data.name=folder", f"data.root={photos}",
                                           *tiny_search_overrides(tmp_path / "unused", **common)])
    init = DartsSearch(cfg).model.state_dict()
    assert a.keys() == b.keys()
    for group in ("alpha", "weights"):
        keys = [k for k in a if a[k].is_floating_point() and "running" not in k
                and (("alpha" in k) == (group == "alpha"))]
        diff = torch.cat([(a[k] - b[k]).flatten() for k in keys]).norm()
        moved = torch.cat([(b[k] - init[k]).flatten() for k in keys]).norm()
        # Equal up to float rounding, which Adam's sign-like α steps amplify a little: the two runs
        # differ by a small fraction of how far training moved the parameters.
        assert moved > 0 and diff < 0.1 * moved, (group, float(diff), float(moved))
    # only rank 0 wrote: one start record, one record per step
    lines = (ddp_dir / "metrics.jsonl").read_text().splitlines()
    assert sum('"event": "start"' in ln for ln in lines) == 1


def test_two_ranks_on_real_photos_stay_in_sync(tmp_path):
    """Ranks see different photos; α would diverge without the α all-reduce, and the search checks
    at every epoch end that all ranks hold bit-identical α (it raises otherwise)."""
    out = tmp_path / "ddp"
    proc = _torchrun(["search", *tiny_search_overrides(out, **{"model.cells": 3, "optim.batch_size": 2,
                                                               "optim.iters_per_epoch": 3})])
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert state["epoch"] == 2
    assert (out / "genotype.json").exists() and (out / "alphas.png").exists()


def _check_replicas(rank: int, world: int, port: int, out: "mp.Queue") -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    ctx = DistContext(rank, world, rank)
    same = replicas_identical([torch.ones(3), torch.zeros(2)], ctx)
    diverged = torch.tensor([1.0, 1.0, 1.0 + 1e-6]) if rank == 1 else torch.ones(3)
    out.put((rank, same, replicas_identical([diverged, torch.zeros(2)], ctx)))
    dist.destroy_process_group()


def test_replica_check_detects_diverged_alpha():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_check_replicas, args=(r, 2, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results == [(0, True, False), (1, True, False)]
