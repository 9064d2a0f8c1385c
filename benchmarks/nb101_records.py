"""Throughput of the NAS-Bench-101 records reader on a synthetic file in the official format.

    python benchmarks/nb101_records.py --modules 5000

Writes ``modules × 3`` 108-epoch records (like ``nasbench_only108.tfrecord``, which holds
423,624 × 3) to a temp dir and times indexing them with and without CRC checks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from unnas.spaces.nasbench101.records import NB101Records, encode_record, write_nb101_records
from unnas.spaces.nasbench101.spec import AVAILABLE_OPS, ModelSpec
from unnas.spaces.nasbench101.tfrecord import CRC_BACKEND


def synthetic_rows(modules: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    made = 0
    while made < modules:
        m = np.triu(rng.integers(0, 2, (7, 7)), 1)
        ops = ["input", *rng.choice(AVAILABLE_OPS, 5).tolist(), "output"]
        try:
            spec = ModelSpec(m, ops)
        except Exception:
            continue
        evals = [{"current_epoch": e, "training_time": e * 10.0, "train_accuracy": 0.9, "validation_accuracy": 0.9,
                  "test_accuracy": 0.9, "checkpoint_path": ""} for e in (0, 54, 108)]
        for _ in range(3):
            yield encode_record(spec, 108, evals, 1_000_000, module_hash=f"{made:032x}")
        made += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.tfrecord"
        n = write_nb101_records(path, synthetic_rows(args.modules))
        size = path.stat().st_size
        print(f"{n} records, {size / 1e6:.1f} MB, CRC backend {CRC_BACKEND}")
        for verify in (True, False):
            t = time.perf_counter()
            recs = NB101Records(path, verify=verify)
            dt = time.perf_counter() - t
            print(f"verify={verify}: {dt:.2f} s, {n / dt:,.0f} records/s, {len(recs)} modules")


if __name__ == "__main__":
    main()
