"""Measuring architectures: one architecture measured once (a typed trial spec → a result row), and many.

- :mod:`.spec` — what one trial is; :mod:`.run` — :func:`run_trial` (train under a recipe, or a proxy);
- :mod:`.data` — cached readers, seeded subsets, held-out splits; :mod:`.models` — the trainable network;
- :mod:`.proxies` — the zero-cost proxies; :mod:`.spaces` — every space by name;
- :mod:`.rows`, :mod:`.table` — rows, plans and tables on disk;
- :mod:`.executor` — one executor for many trials (in this process, local processes, SLURM), used by
  ``study run`` and black-box search alike.

Studies and search strategies build trial specs from their own configs; neither borrows the other's.
"""
