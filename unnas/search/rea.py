"""Regularized evolution (Real et al. 2019): tournament selection with aging.

A population of ``rea.population`` random architectures; each cycle draws ``rea.sample`` members,
mutates the fittest of them, adds the child and removes the *oldest* member (not the worst),
until the budget is spent. Sequential (TransNAS-Bench-101's variant): one evaluation at a time.
"""

from __future__ import annotations

from collections import deque

from .blackbox import score


def rea_search(run, rng, cfg=None, population: int | None = None, sample: int | None = None) -> None:
    population = population or (cfg.rea.population if cfg is not None else 10)
    sample = sample or (cfg.rea.sample if cfg is not None else 10)
    pop: deque = deque()
    while len(pop) < population and not run.done:
        arch = run.space.sample(rng)
        pop.append((arch, run.evaluate(arch)))
    while not run.done:
        picks = rng.choice(len(pop), size=min(sample, len(pop)), replace=False)
        parent = max((pop[int(i)] for i in picks), key=lambda m: score(m[1]))[0]
        child = run.space.mutate(parent, rng)
        pop.append((child, run.evaluate(child)))
        pop.popleft()
