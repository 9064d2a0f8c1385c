"""Black-box search (issue #16): space mutation, REA / random / PPO on toy fitnesses, resume, end-to-end CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unnas.config.schema import PpoConfig
from unnas.search.blackbox import HISTORY, BlackBoxRun, space_for
from unnas.search.ppo import ppo_search
from unnas.search.random_search import random_search
from unnas.search.rea import rea_search
from unnas.spaces.nasbench101.spec import MAX_EDGES, MAX_VERTICES, ModelSpec


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


def _toy(space, target):
    code = space.encode(target)
    return lambda arch, seed: {"fitness": float((space.encode(space.from_json(arch)) == code).sum()), "status": "ok"}


def _evals_to_optimum(strategy, space, fitness, optimum, seed, budget):
    run = BlackBoxRun(space, fitness, budget, seed)
    strategy(run, np.random.default_rng(seed))
    return next((i for i, r in enumerate(run.records) if r["fitness"] >= optimum), budget)


def test_rea_beats_random_on_a_toy_fitness():
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
