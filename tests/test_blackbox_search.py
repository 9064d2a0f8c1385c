"""Black-box search (issue #16): space mutation, REA / random / PPO on toy fitnesses, resume, end-to-end CLI,
concurrent evaluations (fitness.workers)."""

from __future__ import annotations

import itertools
import json
import os
import time

import numpy as np
import pytest

from unnas.config.schema import PpoConfig
from unnas.search.blackbox import HISTORY, BlackBoxRun
from unnas.search.ppo import ppo_search
from unnas.search.random_search import random_search
from unnas.search.rea import rea_search
from unnas.spaces.nasbench101.spec import MAX_EDGES, MAX_VERTICES, ModelSpec
from unnas.trials.executor import LocalProcesses
from unnas.trials.spaces import view as space_for


@pytest.mark.parametrize("name", ["darts", "nasbench101"])
def test_mutation_is_valid_and_different(name):
    space = space_for(name)
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    for _ in range(1000):
        child = space.mutate(arch, rng)
        assert space.valid(child) and space.key(child) != space.key(arch)
        if name == "darts":
            for kind in ("normal", "reduce"):
                pairs = child.cell(kind)[0]
                assert "none" not in {op for op, _ in pairs}
                assert all(pairs[i][1] != pairs[i + 1][1] for i in range(0, 8, 2))
            assert sum(a != b for a, b in zip(space.encode(arch), space.encode(child))) <= 4  # one edge changed
        else:
            again = ModelSpec.from_dict(child.to_dict())
            assert again.num_vertices <= MAX_VERTICES and again.num_edges <= MAX_EDGES
        arch = child


class _Toy:
    """Fitness = how many code positions an architecture shares with a target (picklable: runs in workers too)."""

    def __init__(self, space, target):
        self.space, self.code = space, space.encode(target)

    def __call__(self, arch, seed):
        return {"fitness": float((self.space.encode(self.space.from_json(arch)) == self.code).sum()), "status": "ok"}


def _toy(space, target):
    return _Toy(space, target)


def _evals_to_optimum(strategy, space, fitness, optimum, seed, budget):
    run = BlackBoxRun(space, fitness, budget, seed)
    strategy(run, np.random.default_rng(seed))
    return next((i for i, r in enumerate(run.records) if r["fitness"] >= optimum), budget)


def test_rea_beats_random_on_a_toy_fitness():
    """A statistical effect over 8 seeds, exactly reproducible anywhere (integer fitness, numpy's seeded
    generators, no float rounding in the loop): REA reaches the near-optimum first at 8 of 8 seeds, after
    0.34 × random search's mean number of evaluations; the test needs < 0.6 ×. (With other targets the
    ratio was 0.32, 0.24 and 0.89: one target is found within a few samples by random search too.)"""
    space = space_for("nasbench101")
    target = space.sample(np.random.default_rng(99))
    fitness = _toy(space, target)
    near = float(len(space.encode(target))) - 1  # within one code bit of the target
    rea = [_evals_to_optimum(rea_search, space, fitness, near, s, 120) for s in range(8)]
    rnd = [_evals_to_optimum(random_search, space, fitness, near, s, 120) for s in range(8)]
    assert np.mean(rea) < 0.6 * np.mean(rnd), (rea, rnd)


def test_rea_ages_out_the_oldest_and_picks_the_fittest():
    space = space_for("darts")
    calls = []

    def fitness(arch, seed):
        calls.append(arch)
        return {"fitness": float(len(calls)), "status": "ok"}  # younger is fitter: the parent is always the newest

    run = BlackBoxRun(space, fitness, 14, seed=0)
    rea_search(run, np.random.default_rng(3), population=4, sample=4)
    archs = [space.from_json(a) for a in calls]
    for k in range(4, 14):  # every child is a mutation of the previous child (the fittest, never aged out)
        assert sum(a != b for a, b in zip(space.encode(archs[k - 1]), space.encode(archs[k]))) in (2, 4)


def test_ppo_improves_a_toy_reward():
    """A statistical effect with a wide margin: the policy's float training makes the trajectory depend on
    the machine, but over 6 targets × 3 seeds (normal and ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41
    kernels) the last 30 rewards averaged 16.8–28.6 more matching code bits than the first 30; the test
    needs more than 4."""
    space = space_for("darts")
    target = space.sample(np.random.default_rng(5))
    run = BlackBoxRun(space, _toy(space, target), 120, seed=0)
    ppo_search(run, np.random.default_rng(0), settings=PpoConfig(memory=48))
    f = [r["fitness"] for r in run.records]
    assert np.mean(f[-30:]) > np.mean(f[:30]) + 4, (np.mean(f[:30]), np.mean(f[-30:]))


def test_resume_reads_history_and_never_re_evaluates(tmp_path):
    space = space_for("nasbench101")
    target = space.sample(np.random.default_rng(1))
    toy = _toy(space, target)
    calls = []

    def counted(arch, seed):
        calls.append(arch)
        return toy(arch, seed)

    first = BlackBoxRun(space, counted, 8, seed=0, out_dir=tmp_path)
    rea_search(first, np.random.default_rng(0), population=4, sample=2)
    assert len(calls) == 8 and len((tmp_path / HISTORY).read_text().splitlines()) == 8
    calls.clear()
    resumed = BlackBoxRun(space, counted, 15, seed=0, out_dir=tmp_path)
    rea_search(resumed, np.random.default_rng(0), population=4, sample=2)
    assert len(calls) == 7  # the 8 recorded ones came back from history.jsonl
    assert [r["key"] for r in resumed.records[:8]] == [r["key"] for r in first.records]
    lines = [json.loads(line) for line in (tmp_path / HISTORY).read_text().splitlines()]
    assert len(lines) == 15 and len({r["key"] for r in lines}) == 15


def test_end_to_end_rea_naswot_on_demo(tmp_path, cli):
    out = tmp_path / "run"
    code, stdout, _err = cli("search", "strategy=rea", "fitness.proxy=naswot", "fitness.budget=20", f"out_dir={out}",
                             "fitness.proxy_batch_size=8", "data.crop_size=32", "fitness.network.width=4",
                             "fitness.network.cells=2", "progress=false")
    assert code == 0, stdout
    lines = [json.loads(line) for line in (out / HISTORY).read_text().splitlines()]
    space = space_for("darts")
    assert len(lines) == 20 and len({r["key"] for r in lines}) == 20
    assert all(space.valid(space.from_json(r["arch"])) and r["status"] == "ok" for r in lines)
    best = max(lines, key=lambda r: r["fitness"])
    assert json.loads((out / "genotype.json").read_text()) == best["arch"]
    assert (out / "history.png").stat().st_size > 0
    result = json.loads((out / "result.json").read_text())
    assert result["evaluations"] == 20 and result["best"]["fitness"] == best["fitness"]


def test_bad_proxy_is_one_line_error(tmp_path, cli):
    code, _out, err = cli("search", "strategy=rea", "fitness.proxy=snip", f"out_dir={tmp_path / 'r'}")
    assert code != 0 and "label-free" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- concurrent evaluations
NASWOT_ON_DEMO = ("fitness.proxy=naswot", "fitness.proxy_batch_size=8", "data.crop_size=32", "fitness.network.width=4",
                  "fitness.network.cells=2", "progress=false")  # as test_end_to_end_rea_naswot_on_demo


def _parallel_search(cli, out, *overrides) -> tuple[list[dict], dict]:
    code, stdout, err = cli("search", "fitness.workers=2", f"out_dir={out}", *NASWOT_ON_DEMO, *overrides)
    assert code == 0, stdout + err
    lines = [json.loads(line) for line in (out / HISTORY).read_text().splitlines()]
    space = space_for("darts")
    assert [r["index"] for r in lines] == list(range(len(lines))) and len({r["key"] for r in lines}) == len(lines)
    assert all(space.valid(space.from_json(r["arch"])) and r["status"] == "ok" for r in lines)
    assert json.loads((out / "genotype.json").read_text()) == max(lines, key=lambda r: r["fitness"])["arch"]
    result = json.loads((out / "result.json").read_text())
    assert result["workers"] == 2 and result["wall_clock_s"] > 0 and result["evaluations"] == len(lines)
    return lines, result


def test_two_workers_random_search_spends_the_budget_exactly(tmp_path, cli):
    lines, _ = _parallel_search(cli, tmp_path / "run", "strategy=random", "fitness.budget=6")
    assert len(lines) == 6
    rng, space = np.random.default_rng(1), space_for("darts")  # seed=1: proposals in the seeded order
    assert sorted(r["key"] for r in lines) == sorted(space.key(space.sample(rng)) for _ in range(6))


def test_two_workers_rea_resumes_without_re_evaluating(tmp_path, cli):
    out, rea = tmp_path / "run", ("strategy=rea", "rea.population=4", "rea.sample=2")
    first, _ = _parallel_search(cli, out, *rea, "fitness.budget=4")
    assert len(first) == 4
    second, result = _parallel_search(cli, out, *rea, "fitness.budget=8")
    assert len(second) == 8 and result["resumed_from"] == 4
    old = {r["key"]: r for r in first}  # the recorded ones came back as they were (same measured seconds)
    assert all({**r, "index": 0} == {**old[r["key"]], "index": 0} for r in second if r["key"] in old)
    assert len([r for r in second if r["key"] in old]) == 4


def _older_is_fitter(arch, seed):
    """Fitness falls with the time an evaluation starts (one clock for every worker process), and the evaluations
    take different times, so answers come back out of order."""
    start = time.time()
    time.sleep(0.002 * (len(json.dumps(arch)) % 3))
    return {"fitness": -start, "status": "ok"}


def test_async_rea_ages_its_population(tmp_path):
    """Older is fitter: with a tournament over the whole population, every child's parent is the fittest of the
    last ``population`` answers when it was proposed: never an aged-out member, never a member too many."""
    space, population = space_for("darts"), 4

    class Logged(BlackBoxRun):
        answers: list = []
        proposals_seen: list = []

        def submit(self, arch, tag=None):
            self.proposals_seen.append((arch, list(self.answers)))
            super().submit(arch, tag)

        def collect(self, block=True):
            out = super().collect(block)
            self.answers += [(arch, f) for _tag, arch, f in out]
            return out

    with LocalProcesses(2, "cpu") as pool:
        run = Logged(space, _older_is_fitter, 24, seed=0, pool=pool)
        rea_search(run, np.random.default_rng(0), population=population, sample=population, asynchronous=True)
    assert len(run.records) == 24 and len(run.answers) >= 24
    children = run.proposals_seen[population:]
    assert children and all(seen for _child, seen in children)  # a mutation waits for a member
    parents = [max(seen[-population:], key=lambda m: m[1])[0] for _child, seen in children]
    for parent, (child, _seen) in zip(parents, children):
        assert 0 < sum(a != b for a, b in zip(space.encode(parent), space.encode(child))) <= 4
    first = {space.key(arch) for arch, _f in run.answers[:population]}  # the fittest ever, aged out since
    assert not first & {space.key(p) for p in parents[-population:]}


def test_sequential_rea_on_workers_evaluates_what_one_worker_does():
    space = space_for("nasbench101")
    fitness = _toy(space, space.sample(np.random.default_rng(2)))
    with LocalProcesses(3, "cpu") as pool:
        runs = [BlackBoxRun(space, fitness, 30, seed=0), BlackBoxRun(space, fitness, 30, seed=0, pool=pool)]
        for run in runs:
            rea_search(run, np.random.default_rng(4), population=6, sample=3, asynchronous=False)
    one, three = ([r["key"] for r in run.records] for run in runs)
    assert sorted(one[:6]) == sorted(three[:6]) and one[6:] == three[6:]  # only the initial population in parallel


def test_slurm_runner_through_submitit_local_cluster(tmp_path, cli):
    lines, _ = _parallel_search(cli, tmp_path / "run", "strategy=random", "fitness.budget=2", "fitness.runner=slurm",
                                "fitness.slurm.cluster=local", "fitness.slurm.cpus_per_task=1",
                                "fitness.slurm.gpus_per_node=0")
    assert len(lines) == 2 and (tmp_path / "run" / "submitit").is_dir()


class _DiesOn:
    """A toy fitness whose worker process exits abruptly (as if killed) on one architecture."""

    def __init__(self, arch_json):
        self.arch_json = arch_json

    def __call__(self, arch, seed):
        if arch == self.arch_json:
            os._exit(9)
        return {"fitness": float(len(json.dumps(arch))), "status": "ok"}


def test_a_dead_worker_fails_only_its_candidate():
    space = space_for("darts")
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(4)]
    fitness = _DiesOn(space.to_json(samples[1]))
    with LocalProcesses(2, "cpu") as pool:
        run = BlackBoxRun(space, fitness, 4, seed=0, pool=pool)
        random_search(run, np.random.default_rng(0))
    by_key = {r["key"]: r for r in run.records}
    assert sorted(by_key) == sorted(space.key(a) for a in samples)
    dead = by_key[space.key(samples[1])]
    assert dead["fitness"] is None and dead["status"] == "failed" and dead["error"].startswith("worker died")
    assert all(r["status"] == "ok" for k, r in by_key.items() if r is not dead)


@pytest.mark.parametrize("override, needle", [("fitness.workers=0", "fitness.workers"),
                                              ("fitness.runner=k8s", "fitness.runner")])
def test_bad_pool_setting_is_one_line_error(tmp_path, cli, override, needle):
    code, _out, err = cli("search", "strategy=random", override, f"out_dir={tmp_path / 'r'}")
    assert code != 0 and needle in err and len(err.strip().splitlines()) == 1


def test_resume_under_another_fitness_is_refused_and_changes_nothing(tmp_path, cli):
    """A history's fitness values are only comparable under the settings that made them: a resume may
    grow (or shrink) the budget, but another fitness, task, recipe, data or seed is one line and exit 1; a key
    of another strategy's schema is refused as unknown (exit 2)."""
    out = tmp_path / "run"
    base = ("strategy=random", f"out_dir={out}", *NASWOT_ON_DEMO)
    code, stdout, err = cli("search", *base, "fitness.budget=2")
    assert code == 0, stdout + err
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for change, key in (("fitness.proxy=jacob_cov", "fitness.proxy"), ("seed=2", "seed"),
                        ("fitness.network.width=8", "fitness.network.width"), ("data.crop_size=28", "data.crop_size"),
                        ("strategy=rea", "strategy")):
        code, _stdout, err = cli("search", *base, "fitness.budget=3", change)
        assert code != 0 and len(err.strip().splitlines()) == 1 and key in err and "new out_dir" in err, (change, err)
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before, change
    code, _stdout, err = cli("search", *base, "fitness.budget=3", "optim.lr=0.5")  # a DARTS key: not this schema's
    assert code == 2 and "optim" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    code, stdout, err = cli("search", *base, "fitness.budget=3")  # a larger budget continues it
    assert code == 0, stdout + err
    assert len((out / HISTORY).read_text().splitlines()) == 3
