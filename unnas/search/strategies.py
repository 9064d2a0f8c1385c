"""``unnas search strategy=random|rea|ppo``: the black-box strategies by name, and one run of them.

The whole config is checked — the strategy's settings by the schema's rules, the space, the
fitness's task, recipe and network, its data split built once — before the run directory's lock
or any file exists, so a mistake leaves nothing behind (a partial directory whose failed
candidates would then refuse the corrected command as "other settings").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from unnas.atomic import atomic_write_text
from unnas.config import defaults_yaml
from unnas.engine.lock import DirLock
from unnas.engine.run_kind import check_run_kind
from unnas.trials.executor import build_executor
from unnas.trials.spaces import view

from .blackbox import HISTORY, BlackBoxRun, check_resume, read_history, write_results
from .fitness import build_fitness
from .ppo import ppo_search
from .random_search import random_search
from .rea import rea_search

STRATEGIES = {"random": random_search, "rea": rea_search, "ppo": ppo_search}


def evaluation_executor(cfg):
    """Where evaluations run: None (one at a time in this process, exactly reproducible) for one local worker,
    else local worker processes or one submitit job per evaluation, at most ``fitness.workers`` at once."""
    fit = cfg.fitness
    if fit.runner == "local" and fit.workers == 1:
        return None
    return build_executor(fit.runner, fit.workers, cfg.device, fit.slurm, Path(cfg.out_dir) / "submitit",
                          name="unnas-fitness", max_running=fit.workers)


def run_blackbox(cfg, config_text: str) -> dict:
    """Run (or resume) a black-box search and write its run directory; returns result.json's content."""
    space = view(cfg.fitness.space, cfg.model.nodes)
    fitness = build_fitness(cfg)
    fitness.check()  # the data split and the task, built once: before the directory exists
    out = Path(cfg.out_dir)
    check_run_kind(out, f"search:{cfg.strategy}")
    check_resume(out, config_text, defaults_yaml(cfg))
    history = read_history(out / HISTORY)  # a damaged history stops here, with nothing written
    with DirLock(out):
        atomic_write_text(out / "config.yaml", config_text)
        pool = evaluation_executor(cfg)
        start = time.perf_counter()
        try:
            run = BlackBoxRun(space, fitness, cfg.fitness.budget, cfg.seed, out, cfg.progress, pool, history)
            STRATEGIES[cfg.strategy](run, np.random.default_rng(cfg.seed), cfg)
        finally:
            if pool is not None:
                pool.close(cancel=True)  # Ctrl-C or an error: no evaluation is left running
        if cfg.progress:
            print(file=sys.stderr)
        return write_results(run, {"strategy": cfg.strategy, "space": space.space, "fitness": fitness.name,
                                   "seed": cfg.seed, "budget": cfg.fitness.budget, "workers": run.workers,
                                   "wall_clock_s": round(time.perf_counter() - start, 3)})
