"""Random search: seeded samples of the space until the budget is spent; the best by fitness wins.

With ``fitness.workers`` N > 1, N evaluations stay in flight, proposed in the seeded order.
"""

from __future__ import annotations


def random_search(run, rng, cfg=None) -> None:
    run.drive(lambda: (run.space.sample(rng), None), lambda tag, arch, fitness: None)
