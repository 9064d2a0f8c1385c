"""Regularized evolution (Real et al. 2019): tournament selection with aging.

A population of ``rea.population`` random architectures; each cycle draws ``rea.sample`` members,
mutates the fittest of them, adds the child and removes the *oldest* member (not the worst),
until the budget is spent.

With ``fitness.workers`` N = 1, one evaluation at a time (TransNAS-Bench-101's variant). With N > 1:

- ``rea.asynchronous: true`` (the issue's ``rea.async``): the initial random architectures go out N at a
  time and join the population as they complete; once all of them are proposed, every completion
  joins the population (the oldest leaves once it holds more than ``population``) and frees a worker
  for one new child of the tournament winner among the members present, so no worker waits for the
  population to fill.
- ``false``: the sequential variant. Only the initial population is evaluated in parallel (it joins in
  proposal order once complete), then one child at a time: the same architectures, the same best
  as N = 1; only the initial population's lines of history.jsonl may come in another order.
"""

from __future__ import annotations

from collections import deque

from .blackbox import score


def rea_search(run, rng, cfg=None, population: int | None = None, sample: int | None = None,
               asynchronous: bool | None = None) -> None:
    population = population or (cfg.rea.population if cfg is not None else 10)
    sample = sample or (cfg.rea.sample if cfg is not None else 10)
    if asynchronous is None:
        asynchronous = cfg.rea.asynchronous if cfg is not None else True
    pop: deque = deque()
    initial: dict[int, tuple] = {}  # sequential variant: initial members by proposal order, until all answered
    drawn = 0

    def propose():
        nonlocal drawn
        if drawn < population:
            drawn += 1
            return run.space.sample(rng), drawn - 1
        if not pop or (not asynchronous and run.pending):
            return None  # wait for a member (or, sequential, for the child in flight)
        picks = rng.choice(len(pop), size=min(sample, len(pop)), replace=False)
        parent = max((pop[int(i)] for i in picks), key=lambda m: score(m[1]))[0]
        return run.space.mutate(parent, rng), None

    def completed(tag, arch, fitness) -> None:
        if asynchronous or tag is None:
            pop.append((arch, fitness))
        else:
            initial[tag] = (arch, fitness)
            if len(initial) == population:
                pop.extend(initial[i] for i in range(population))
        if len(pop) > population:
            pop.popleft()

    run.drive(propose, completed)
