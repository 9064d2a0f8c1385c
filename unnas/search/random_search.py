"""Random search: seeded samples of the space until the budget is spent; the best by fitness wins."""

from __future__ import annotations


def random_search(run, rng, cfg=None) -> None:
    while not run.done:
        run.evaluate(run.space.sample(rng))
