"""Which study a job's row belongs to: the fingerprint of the settings its result depends on.

It hashes every setting that changes a job's result (space, architecture source, data, network,
recipes, task options) but not the study's size (count, tasks, seeds), its location or how it
runs. So a study can grow and keep its finished jobs, while a changed recipe in the same
directory is refused instead of silently mixing results. Plans, jobs and result tables all use
it, so it sits below them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from unnas.trials.rows import check_fingerprint

__all__ = ["fingerprint", "check_fingerprint", "NOT_FINGERPRINTED", "DATA_NOT_FINGERPRINTED"]

#: Settings that do not change any job's result, left out of the fingerprint.
NOT_FINGERPRINTED = {"name", "count", "tasks", "proxies", "seeds", "target", "out_dir", "runner", "workers",
                     "device", "slurm", "progress",
                     # a search study's size (its searches' settings and the random cells' seed are hashed)
                     "kind", "search_tasks", "search_seeds", "train_seeds", "random_genotypes"}
DATA_NOT_FINGERPRINTED = {"root", "num_workers"}
#: Keys added after studies existed, left out while they hold the value every earlier study had
#: (so a study planned before a key existed keeps its fingerprint and its finished rows).
ADDED_LATER = {("network", "cells_per_stage"): 5, ("network", "variant"): "benchmark",
               ("network", "base_channels"): 64, ("network", "proxy_variant"): None}


def fingerprint(cfg) -> str:
    """16 hex digits identifying the settings a job's result depends on (see the module docstring)."""
    d = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_FINGERPRINTED}
    d["data"] = {k: v for k, v in d["data"].items() if k not in DATA_NOT_FINGERPRINTED}
    for (group, key), value in ADDED_LATER.items():
        if isinstance(d.get(group), dict) and d[group].get(key, value) == value:
            d[group].pop(key, None)
    if isinstance(d.get("search"), dict) and not d["search"].get("variants", True):
        del d["search"]["variants"]  # a search study without variants keeps the fingerprint it had before them
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


