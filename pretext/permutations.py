"""Jigsaw permutation sets: generation (greedy maximal Hamming distance), validation, statistics.

The jigsaw task asks the network which permutation shuffled the tiles, so the set's permutations
should be far apart: two permutations that differ in only two tiles are nearly indistinguishable.
The paper's 3×3 set has a minimum pairwise Hamming distance of 2. unnas picks each new
permutation to maximise its *minimum* distance to the ones already chosen (ties broken by the
larger mean distance, then by a seeded random order), which keeps the minimum high.

The greedy choice is prefix-stable: the first ``k`` permutations of a set of ``n`` are exactly the
set generated with ``count=k`` (same grid and seed). The task relies on this to serve any count
up to 1000 from the shipped 3×3 set.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from unnas.errors import TaskError

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The default 3×3 set: ``generate_permutations(3, 1000, seed=0)``, shipped so nobody waits for it.
DEFAULT_SET_3X3 = DATA_DIR / "jigsaw_perms_1000_seed0.npy"
DEFAULT_SET_SIZE = 1000
#: Above this many candidates (n! for n tiles) the greedy search scans a seeded random pool instead.
MAX_EXHAUSTIVE = math.factorial(9)
RANDOM_POOL = 200_000


def all_permutations(n: int) -> np.ndarray:
    """All n! permutations of 0..n−1 in lexicographic order (row 0 is the identity)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8).reshape(-1, n)


def _candidates(n: int, rng: np.random.Generator) -> np.ndarray:
    if math.factorial(n) <= MAX_EXHAUSTIVE:
        cands = all_permutations(n)
    else:  # 16! and beyond cannot be enumerated; a large random pool is close enough for greedy maximin
        cands = np.argsort(rng.random((RANDOM_POOL, n)), axis=1).astype(np.int8)
        cands = np.unique(cands, axis=0)
    # A seeded shuffle makes argmax's "first of the tied" a seeded random choice.
    return cands[rng.permutation(len(cands))]


def generate_permutations(grid: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` permutations of ``grid²`` tiles chosen greedily for a large minimum Hamming distance.

    Returns int64 (count, grid²), 0-based. Deterministic in ``(grid, count, seed)`` and prefix-stable.
    """
    n = grid * grid
    if grid < 2:
        raise TaskError(f"jigsaw grid must be at least 2, got {grid}")
    rng = np.random.default_rng(seed)
    cands = _candidates(n, rng)
    if not 1 <= count <= len(cands):
        raise TaskError(f"cannot pick {count} distinct permutations of {n} tiles (at most {len(cands)}); lower the count")
    cols = np.ascontiguousarray(cands.T)  # one contiguous column per tile position: fast compares
    min_dist = np.full(len(cands), n + 1, dtype=np.int16)  # distance to the nearest chosen permutation
    sum_dist = np.zeros(len(cands), dtype=np.int32)        # summed distance to all chosen ones
    dist = np.empty(len(cands), dtype=np.int16)
    differs = np.empty(len(cands), dtype=bool)
    chosen = np.empty(count, dtype=np.int64)
    pick = int(rng.integers(len(cands)))
    for i in range(count):
        chosen[i] = pick
        dist[:] = 0
        for j, tile in enumerate(cands[pick]):
            np.not_equal(cols[j], tile, out=differs)
            dist += differs
        np.minimum(min_dist, dist, out=min_dist)
        sum_dist += dist
        if i + 1 < count:  # max min-distance first, then max summed distance; chosen rows have min 0
            best = min_dist.max()
            pick = int(np.argmax(np.where(min_dist == best, sum_dist, -1)))
    return cands[chosen].astype(np.int64)


def default_permutations(grid: int, count: int | None, seed: int = 0) -> np.ndarray:
    """The task's default set: all 24 (lexicographic) for 2×2, the shipped seed-0 set for 3×3.

    ``count=None`` means the grid's default size (24 for 2×2, 1000 otherwise). Fewer than all
    2×2 permutations, or any other grid, are generated greedily.
    """
    n = grid * grid
    full = math.factorial(n)
    if count is None:
        count = min(full, DEFAULT_SET_SIZE)
    if count == full and full <= 24:
        return all_permutations(n).astype(np.int64)
    if grid == 3 and seed == 0 and count <= DEFAULT_SET_SIZE and DEFAULT_SET_3X3.is_file():
        return np.load(DEFAULT_SET_3X3).astype(np.int64)[:count]  # prefix-stable: equals generating `count`
    return generate_permutations(grid, count, seed)


def validate_permutations(perms: np.ndarray, n: int, where: str) -> np.ndarray:
    """Check a (P, n) table of 0-based permutations; return it as int64. ``where`` names the source."""
    perms = np.asarray(perms)
    if perms.ndim != 2 or perms.shape[1] != n:
        raise TaskError(f"{where}: permutations must have shape (P, {n}) for a {math.isqrt(n)}×{math.isqrt(n)} grid, "
                        f"got {perms.shape}; match jigsaw grid to the file")
    if perms.shape[0] < 2:
        raise TaskError(f"{where}: need at least 2 permutations, got {perms.shape[0]}")
    if not np.issubdtype(perms.dtype, np.integer):
        raise TaskError(f"{where}: permutations must be integers, got dtype {perms.dtype}")
    bad = np.flatnonzero((np.sort(perms, axis=1) != np.arange(n)).any(axis=1))
    if bad.size:
        raise TaskError(f"{where}: row {bad[0]} ({perms[bad[0]].tolist()}) is not a permutation of 0..{n - 1} "
                        "(files are 0-based)")
    uniq, first = np.unique(perms, axis=0, return_index=True)
    if len(uniq) != len(perms):
        dup = sorted(set(range(len(perms))) - set(first.tolist()))[0]
        raise TaskError(f"{where}: row {dup} ({perms[dup].tolist()}) repeats an earlier row; remove duplicates")
    return perms.astype(np.int64)


def load_permutations(path: str | Path, n: int) -> np.ndarray:
    """Load and validate a ``.npy`` permutation table for ``n`` tiles."""
    path = Path(path)
    try:
        perms = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TaskError(f"permutations file {path} cannot be read as .npy: {str(exc).splitlines()[0]}") from None
    return validate_permutations(perms, n, f"permutations file {path}")


def hamming_stats(perms: np.ndarray) -> dict[str, float]:
    """Minimum and mean pairwise Hamming distance (number of tiles in different places) of a set."""
    perms = np.asarray(perms)
    p = len(perms)
    if p < 2:
        raise TaskError(f"Hamming statistics need at least 2 permutations, got {p}")
    total, smallest = 0, perms.shape[1]
    for start in range(0, p, 256):  # blocks keep memory at 256·P·n bytes
        block = perms[start:start + 256]
        dist = (block[:, None, :] != perms[None, :, :]).sum(axis=2)
        rows = np.arange(start, start + len(block))
        dist[np.arange(len(block)), rows] = perms.shape[1] + 1  # ignore self-distances for the minimum
        smallest = min(smallest, int(dist.min()))
        dist[np.arange(len(block)), rows] = 0
        total += int(dist.sum())
    return {"min": smallest, "mean": total / (p * (p - 1))}
