"""What every black-box strategy shares: the space, the fitness, the budget, history.jsonl and the run directory.

Strategies (random_search, rea, ppo) only propose architectures, through :meth:`BlackBoxRun.drive`
(``propose`` and ``completed`` callbacks). Each new architecture is one line of ``history.jsonl``
(rewritten atomically after each one). A resumed run replays its strategy from the same seed: every
architecture already in the history gets its recorded fitness back without being evaluated again,
so the replay follows the same path and continues where the killed run stopped. An architecture
proposed twice in one run costs no budget the second time.

Without a pool (``fitness.workers=1``) candidates are evaluated one at a time in this process
(:meth:`BlackBoxRun.evaluate`) and a resumed run reproduces the uninterrupted one exactly. With a
pool (:mod:`unnas.search.pool`) up to ``workers`` evaluations are in flight; answers come in
completion order, which is not reproducible, so a resumed run may take another path than the
uninterrupted one would have (it still never evaluates a recorded architecture again).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.engine.rundir import first_difference
from unnas.errors import CheckpointError, ConfigError, DivergedError, NoResultError, UnnasError
from unnas.figures import plt, save_figure

HISTORY = "history.jsonl"
#: What every line of history.jsonl holds (besides params, flops, seconds, status, error).
RECORD_KEYS = ("key", "arch", "fitness")
#: Proposals per unit of budget before a strategy that keeps re-proposing known architectures is stopped.
MAX_PROPOSALS_PER_EVAL = 100
#: The config sections a black-box search depends on (the rest configures DARTS and is ignored).
SEARCH_SECTIONS = ("strategy", "seed", "data", "task_options", "model", "fitness", "rea", "ppo")
#: Within them, what a resumed run may change: how much is evaluated and where, never what a fitness means.
RESUMABLE_CHANGES = ("fitness.budget", "fitness.workers", "fitness.runner", "fitness.slurm", "rea.asynchronous")


def check_resume(out: Path, config_text: str, defaults_text: str) -> None:
    """Refuse to resume a history made under other settings: its recorded fitness values would be
    ranked against new ones measured differently (another task, recipe, data, seed or strategy), a
    result that looks right and is not. Only :data:`RESUMABLE_CHANGES` may differ (a larger budget
    continues a search; a smaller one reads its first evaluations). Nothing is written here."""
    saved = out / "config.yaml"
    if not (out / HISTORY).is_file() or not saved.is_file():
        return
    def sections(text: str) -> dict:
        config = yaml.safe_load(text) or {}
        return {k: v for k, v in config.items() if k in SEARCH_SECTIONS}

    diff = first_difference(sections(saved.read_text()), sections(config_text), RESUMABLE_CHANGES,
                            defaults=sections(defaults_text))
    if diff is not None:
        key, old, new = diff
        raise CheckpointError(f"{out} holds a search scored with {key}={old!r}, but this command asks for {key}={new!r};"
                              " re-run with the same settings to resume (fitness.budget may change), or choose a new "
                              "out_dir")


def read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise CheckpointError(f"{path}:{n} is not valid JSON; delete that line (or the file) to re-evaluate "
                                      "from there") from None
            missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
            if missing or not isinstance(record["key"], str):
                raise CheckpointError(f"{path}:{n} is not an evaluation record (it needs {', '.join(RECORD_KEYS)}); "
                                      "delete that line (or the file) to re-evaluate from there")
            fitness = record["fitness"]
            if fitness is not None and not (isinstance(fitness, (int, float)) and math.isfinite(fitness)):
                raise CheckpointError(f"{path}:{n}: fitness {fitness!r} is not a finite number or null; delete that "
                                      "line to evaluate it again")
            out.append(record)
    return out


class BlackBoxRun:
    """Budgeted evaluation with a persistent history. ``evaluator(arch_json, seed) -> dict`` with at least
    ``fitness`` (float or None for a failed architecture); ``out_dir=None`` keeps everything in memory.
    ``pool`` (an executor of :mod:`unnas.trials.executor`): evaluations run concurrently, at most
    ``pool.workers`` at once. ``history``: the records of ``out_dir``'s history.jsonl, when already read."""

    def __init__(self, space, evaluator: Callable[[Any, int], dict], budget: int, seed: int = 0,
                 out_dir: str | Path | None = None, progress: bool = False, pool=None, history: list | None = None):
        if budget < 1:
            raise ConfigError(f"fitness.budget must be at least 1, got {budget}")
        self.space, self.evaluator, self.budget, self.seed = space, evaluator, budget, seed
        self.out = None if out_dir is None else Path(out_dir)
        self.records: list[dict] = []  # this run's evaluations, in order
        if history is None:
            history = read_history(self.out / HISTORY) if self.out else []
        self.known = {r["key"]: r for r in history}
        self.resumed = len(self.known)
        self.proposals = 0
        self.progress = progress
        self.pool = pool
        self.workers = 1 if pool is None else pool.workers
        self._running: dict[str, Any] = {}  # key → its task in the pool
        self._waiting: dict[str, list] = {}  # key → the proposals (tag, arch) its evaluation answers
        self._ready: list[tuple] = []  # answers (tag, arch, fitness) not handed to the strategy yet

    @property
    def done(self) -> bool:
        return len(self.records) >= self.budget or self.proposals >= self.budget * MAX_PROPOSALS_PER_EVAL

    def evaluate(self, arch) -> float | None:
        """Fitness of ``arch`` (None: failed); evaluates it only if no earlier evaluation of it exists."""
        self.proposals += 1
        key = self.space.key(arch)
        seen = {r["key"] for r in self.records}
        if key in seen or self.done:
            return next(r["fitness"] for r in self.records if r["key"] == key) if key in seen else None
        record = self.known.get(key)
        if record is None:
            record = self._record(key, self.space.to_json(arch), self.evaluator(self.space.to_json(arch), self.seed))
        else:
            self.records.append(record)
            self._tick(record)
        return record["fitness"]

    # ------------------------------------------------------------------ what strategies call
    def drive(self, propose: Callable[[], tuple | None], completed: Callable[[Any, Any, float | None], None]) -> None:
        """Run a strategy until the budget is spent. ``propose() -> (arch, tag)`` (arch None: no valid
        architecture, fitness None) or None: nothing to propose before the next answer; ``completed(tag,
        arch, fitness)`` for each answer. Without a pool: propose, evaluate, complete, one at a time. With
        one: a proposal whenever a worker is free and the budget (in-flight evaluations included) allows,
        answers in completion order; known architectures are answered at once, without a worker. The budget
        then counts every architecture of history.jsonl, and those of a resumed history that the strategy
        did not propose again join this run's records at the end."""
        if self.pool is None:
            while not self.done and (proposal := propose()) is not None:
                arch, tag = proposal
                completed(tag, arch, None if arch is None else self.evaluate(arch))
            return
        while True:
            proposal = propose() if self.room() > 0 else None
            if proposal is not None:
                self.submit(*proposal)
            elif not self.pending:
                break
            for answer in self.collect(block=proposal is None):
                completed(*answer)
        for record in [r for k, r in self.known.items() if k not in {o["key"] for o in self.records}]:
            self._adopt(record)
        self._write_history()

    @property
    def pending(self) -> int:
        """Proposals not answered yet."""
        return len(self._ready) + sum(len(w) for w in self._waiting.values())

    def room(self) -> int:
        """New evaluations that may start now: free workers, within what the budget leaves after the
        completed and in-flight ones."""
        if self.proposals >= self.budget * MAX_PROPOSALS_PER_EVAL:
            return 0
        return min(self.workers, self.budget - len(self.known)) - len(self._running)

    def submit(self, arch, tag: Any = None) -> None:
        """Propose ``arch``: a new one goes to the pool; one recorded in this run or in the resumed history,
        or being evaluated, is answered from that evaluation."""
        self.proposals += 1
        key = None if arch is None else self.space.key(arch)
        if key in self._running:
            self._waiting[key].append((tag, arch))
            return
        mine = next((r for r in self.records if r["key"] == key), None) if key is not None else None
        if arch is None or mine is not None:
            self._ready.append((tag, arch, None if mine is None else mine["fitness"]))
        elif key in self.known:  # resumed
            self._ready.append((tag, arch, self._adopt(self.known[key])["fitness"]))
        else:
            self._running[key] = self.pool.submit(self.evaluator, self.space.to_json(arch), self.seed)
            self._waiting[key] = [(tag, arch)]

    def collect(self, block: bool = True) -> list[tuple]:
        """Answers ``(tag, arch, fitness)`` in completion order; with ``block``, waits for one if none is ready."""
        for task in self.pool.finished(block=block and not self._ready):
            key = next(k for k, t in self._running.items() if t is task)
            del self._running[key]
            result = task.outcome() if task.lost is None else lost_result(task)  # the evaluator's ConfigError goes up
            record = self._record(key, task.args[0], result)
            self._ready += [(tag, arch, record["fitness"]) for tag, arch in self._waiting.pop(key)]
        out, self._ready = self._ready, []
        return out

    # ------------------------------------------------------------------ records
    def _record(self, key: str, arch_json, result: dict) -> dict:
        """A new evaluation: into history.jsonl, then this run's records."""
        record = {"index": len(self.records), "key": key, "arch": arch_json,
                  **{k: result.get(k) for k in ("fitness", "params", "flops", "seconds", "status", "error")}}
        self.known[key] = record
        self.records.append(record)
        self._write_history()
        self._tick(record)
        return record

    def _adopt(self, record: dict) -> dict:
        """A record of the resumed history takes its place (and index) in this run's order (history.jsonl
        follows with the next write)."""
        record = self.known[record["key"]] = {**record, "index": len(self.records)}
        self.records.append(record)
        self._tick(record)
        return record

    def _write_history(self) -> None:
        """history.jsonl: the resumed records this run has not reached (if any), then this run's."""
        if self.out is None:
            return
        mine = {r["key"] for r in self.records}
        rest = [r for r in self.known.values() if r["key"] not in mine]
        atomic_write_text(self.out / HISTORY,
                          "".join(json.dumps(r, allow_nan=False) + "\n" for r in rest + self.records))

    def _tick(self, record: dict) -> None:
        if not self.progress:
            return
        best = self.best()
        f = record["fitness"]
        running = f" ({len(self._running)} running)  " if self.pool is not None else ""
        state = record.get("status") or "failed"
        print(f"\r[{len(self.records)}/{self.budget}] fitness {state if f is None else f'{f:.4g}'}  best "
              f"{'-' if best is None else format(best['fitness'], '.4g')}{running}", end="", file=sys.stderr,
              flush=True)

    def best(self) -> dict | None:
        scored = [r for r in self.records if r["fitness"] is not None]
        return max(scored, key=lambda r: r["fitness"]) if scored else None


#: Why an evaluation whose worker died has no fitness, and how to evaluate it again.
RE_EVALUATE = "delete its line from history.jsonl to evaluate it again"


def lost_result(task) -> dict:
    """The record of an evaluation that ended without a result (its worker died, its SLURM job was lost)."""
    return {"fitness": None, "params": None, "flops": None, "status": "failed", "error": f"{task.lost}; {RE_EVALUATE}",
            "seconds": round(time.time() - task.since, 3)}


def score(f: float | None) -> float:
    """Fitness for comparisons: a failed architecture loses to every scored one."""
    return -np.inf if f is None else f


def no_result(run: BlackBoxRun) -> UnnasError:
    """The one-line error of a search in which no architecture got a fitness: the count per status,
    the first error and the history's path. :class:`DivergedError` (exit 3) when every evaluated
    architecture diverged; otherwise (some failed, or none was evaluated) :class:`NoResultError` (exit 2,
    as every other run that produced no result)."""
    counts = Counter(r.get("status") or "failed" for r in run.records)
    first = next((r["error"] for r in run.records if r.get("error")), "-")
    where = run.out / HISTORY if run.out is not None else "the run's records"
    if not run.records:
        return NoResultError(f"no architecture was evaluated (the strategy proposed no new valid one); see {where}")
    text = (f"no architecture got a fitness: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))} of "
            f"{len(run.records)} evaluated; no best was written (first error: {first}); see {where}")
    return DivergedError(text) if set(counts) == {"diverged"} else NoResultError(text)


def write_results(run: BlackBoxRun, summary: dict) -> dict:
    """Best architecture file, history.png and result.json in the run directory; raises :func:`no_result`'s
    error, writing none of them, when no architecture got a fitness (all failed or diverged)."""
    best = run.best()
    if best is None:
        raise no_result(run)
    atomic_write_json(run.out / run.space.arch_file, best["arch"])
    xs = np.arange(1, len(run.records) + 1)
    ys = np.array([np.nan if r["fitness"] is None else r["fitness"] for r in run.records], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(xs, ys, s=10, label="evaluated")
    ax.plot(xs, np.fmax.accumulate(np.where(np.isnan(ys), -np.inf, ys)), color="C1", label="best so far")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(summary.get("fitness", "fitness"))
    ax.legend()
    fig.tight_layout()
    save_figure(fig, run.out / "history.png", dpi=100)
    out = {**summary, "evaluations": len(run.records), "resumed_from": run.resumed,
           "best": {k: best[k] for k in ("index", "fitness", "params", "flops")}, "best_arch": best["arch"],
           "seconds": round(sum(r["seconds"] or 0 for r in run.records), 3)}
    atomic_write_json(run.out / "result.json", out)
    return out
