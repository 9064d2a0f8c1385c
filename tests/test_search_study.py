"""Search-based studies (kind: search): plan shape and dependencies, seeded random genotypes, the
dependency-aware runners, and a tiny end-to-end study (searches on the embedded demo photos, trains
on a Fashion-MNIST-layout folder) that is killed, resumed and analysed."""

import json
import os
import signal

import pytest
import yaml
from test_study_faults import start_driver, wait_for
from test_study_plan import write_tiny_study

from unnas.commands._study import load_study
from unnas.errors import ConfigError
from unnas.study.plan import build_plan, describe_plan, write_plan
from unnas.trials.rows import read_rows, row_path, write_row
from unnas.study.runner import run_jobs
from unnas.trials.executor import InProcess


def write_search_study(tmp_path, **changes):
    """2 search tasks (rotation, jigsaw 2×2) × 1 seed on the demo photos, 2 random cells, 1 train seed of
    classification on 24 Fashion-MNIST-layout images; width 4, 2 cells, 1 epoch each."""
    write_tiny_study(tmp_path)  # the sample study's Fashion-MNIST-layout folder (24 train, 8 test images)
    data = tmp_path / "fmnist"
    study = {
        "name": "tiny-search", "kind": "search", "search_tasks": ["rotation", "jigsaw"], "search_seeds": [1],
        "task_options": {"jigsaw": {"grid": 2}},
        "search": {"overrides": {"model": {"width": 4, "cells": 2}, "optim": {"batch_size": 4, "epochs": 1},
                                 "data": {"crop_size": 32, "resize_size": 36, "length": 16},
                                 "eval_batches": 1, "log_every": 1}},
        "random_genotypes": 2, "random_match": "none", "train_seeds": [1],
        "data": {"name": "fashion_mnist", "root": str(data), "crop_size": 16, "test_split": "test"},
        "network": {"setting": "cifar", "width": 4, "cells": 2},
        "recipe": {"epochs": 1, "max_iters_per_epoch": 2, "batch_size": 4, "test_batch_size": 8, "lr": 0.05},
        "out_dir": str(tmp_path / "study"), "workers": 1, "progress": False, "device": "cpu",
    }
    study.update(changes)
    path = tmp_path / "search_study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def load(path, *overrides):
    import argparse

    return load_study(argparse.Namespace(args=[str(path), *overrides]))


@pytest.mark.parametrize("preset, searches, trains", [
    ("fashion_mnist_quick", 3 * 2, (6 + 4) * 2), ("relaxation_ablation_fashion_mnist", 6 * 2, 12 + 2),
    ("imagenet", 4 * 3, 12 + 4), ("cityscapes", 4 * 3, 12 + 4)])
def test_search_presets_plan(tmp_path, preset, searches, trains):
    from conftest import REPO

    cfg = load(REPO / "configs" / "study" / "search" / f"{preset}.yaml", "data.root=/data", f"out_dir={tmp_path}")
    jobs = build_plan(cfg)["jobs"]
    ids = {j["job_id"] for j in jobs if j["kind"] == "search"}
    assert len(ids) == searches and sum(j["kind"] == "train" for j in jobs) == trains
    assert all(j["task"] == cfg.target for j in jobs if j["kind"] == "train")
    assert {j["depends_on"] for j in jobs if j.get("depends_on")} == ids  # every search's cell is trained
    if preset in ("imagenet", "cityscapes"):  # the paper's settings: the release's search presets per task
        assert set(cfg.search.configs) == set(cfg.search_tasks) and len(cfg.search_tasks) == 4


def test_plan_shape_dependencies_and_seeded_random_genotypes(tmp_path):
    path = write_search_study(tmp_path)
    cfg = load(path, "search_seeds=[1,2]", "train_seeds=[1,2]")
    plan = build_plan(cfg)
    jobs = plan["jobs"]
    kinds = [j["kind"] for j in jobs]
    assert kinds == ["search"] * 4 + ["train"] * 12  # searches first
    searches = {j["job_id"]: j for j in jobs if j["kind"] == "search"}
    assert set(searches) == {f"search-{t}-s{s}" for t in ("rotation", "jigsaw") for s in (1, 2)}
    searched = [j for j in jobs if j.get("depends_on")]
    assert len(searched) == 8 and all(j["arch"] is None and j["task"] == "classification" for j in searched)
    for j in searched:  # each names its own search, the task and seed it came from
        s = searches[j["depends_on"]]
        assert (j["search_task"], j["search_seed"], j["arch_id"]) == (s["task"], s["seed"], s["arch_id"])
    random = [j for j in jobs if j["source"] == "random"]
    assert len(random) == 4 and all(j["arch"] and "depends_on" not in j for j in random)
    assert len({j["job_id"] for j in jobs}) == len(jobs)
    assert "4 search jobs" in describe_plan(plan) and "12 training jobs" in describe_plan(plan)

    # random genotypes: the same seed gives the same cells; more of them keep the first; another seed differs
    def cells(*extra):
        return {j["arch_id"]: j["arch"] for j in build_plan(load(path, *extra))["jobs"] if j["source"] == "random"}
    first = cells()
    assert first == cells() and len(first) == 2
    more = cells("random_genotypes=3")
    assert len(more) == 3 and all(more[a] == g for a, g in first.items())
    assert cells("sample_seed=5") != first
    # the study's size is not its identity; what a search computes is
    assert load(path, "random_genotypes=3", "search_seeds=[1,2,3]").__class__.__name__ == "SearchStudyConfig"
    from unnas.study.fingerprint import fingerprint

    base = fingerprint(cfg)
    assert fingerprint(load(path, "random_genotypes=3", "search_seeds=[1,2,3]", "train_seeds=[4]")) == base
    assert fingerprint(load(path, "search.overrides.optim.epochs=2")) != base
    assert fingerprint(load(path, "sample_seed=1")) != base

    # plan.json keeps the random cells; searched ones are known only after their search
    write_plan(cfg, plan)
    saved = json.loads((tmp_path / "study" / "plan.json").read_text())
    assert set(saved["archs_by_id"]) == {j["arch_id"] for j in random}


@pytest.mark.parametrize("override, words", [
    (["kind=searches"], "kind='searches' is not one of sample, search"),
    (["search_tasks=[rotation,rotaton]"], "search_tasks: unknown task 'rotaton'"),
    (["search_tasks=[colorization]", "search.overrides.data.name=fashion_mnist",
      "search.overrides.data.root=/nowhere"], "needs colour images"),
    (["train_seeds=[]"], "train_seeds is empty"),
    (["search.configs.rotation=nosuch/preset"], "search of task 'rotation'"),
    (["space=nasbench101"], "space='nasbench101' is not one of darts"),
])
def test_mistakes_are_one_line_config_errors(tmp_path, override, words):
    path = write_search_study(tmp_path)
    with pytest.raises(ConfigError) as err:
        build_plan(load(path, *override))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_trains_of_a_diverged_search_never_run(tmp_path):
    """A train whose search diverged is blocked: it trains nothing and leaves no row (it stays pending, never
    counted). How the executor orders searches, trains and random trains, and how SLURM holds a search's
    trains, is tested in tests/test_executor.py."""
    cfg = load(write_search_study(tmp_path))
    jobs = build_plan(cfg)["jobs"]
    trains = [j for j in jobs if j.get("depends_on") == "search-jigsaw-s1"]
    write_row(cfg.out_dir, {"job_id": "search-jigsaw-s1", "status": "diverged", "metric": None})
    rows = run_jobs(InProcess(), trains, cfg, cfg.out_dir)
    assert [r["status"] for r in rows] == ["blocked"] * len(trains) and "diverged" in rows[0]["error"]
    assert not row_path(cfg.out_dir, trains[0]["job_id"]).exists()


def test_search_study_end_to_end_killed_resumed_and_analysed(tmp_path, cli):
    path = write_search_study(tmp_path)
    study = tmp_path / "study"
    first_search = row_path(study, "search-rotation-s1")
    driver = start_driver(path)  # one process, jobs in plan order: rotation's search comes first
    try:
        wait_for(lambda: first_search.is_file() or driver.poll() is not None, 120, "the first search's row")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert first_search.is_file(), driver.stderr.read()
    kept = first_search.read_bytes()

    code, out, err = cli("study", "run", str(path), "--workers", "2")
    assert code == 0, out + err
    assert "jobs, 1 done" in out or "jobs, 2 done" in out  # the finished search (and maybe its train) kept
    assert first_search.read_bytes() == kept  # not searched again
    starts = [json.loads(line) for line in (study / "searches" / "search-rotation-s1" / "metrics.jsonl")
              .read_text().splitlines() if '"start"' in line]
    assert len(starts) == 1
    rows = {r["job_id"]: r for r in read_rows(study)}
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values())
    for search_id in ("search-rotation-s1", "search-jigsaw-s1"):
        search = rows[search_id]
        assert (study / search["run_dir"] / "genotype.json").is_file() and (study / search["run_dir"] / "alphas.png").is_file()
        assert set(search["alpha_stats"]) == {"normal", "reduce"}
        train = rows[search_id.replace("search-", "") + "-classification-t1"]
        assert train["genotype"] == search["genotype"] and train["source"] == "search"
        # a train starts only once its search's row is written
        started = row_path(study, train["job_id"]).stat().st_mtime - train["wall_clock_s"]
        assert started >= row_path(study, search_id).stat().st_mtime - 0.5
    code, out, _ = cli("study", "run", str(path))
    assert code == 0 and "0 to run" in out  # nothing repeated

    code, out, err = cli("study", "analyze", str(path), "--n-boot", "200")
    assert code == 0, err
    report = (study / "report.md").read_text()
    lines = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    for task in ("rotation", "jigsaw"):
        cells = [c.strip() for c in lines[task].split("|")[1:-1]]
        assert cells[:3] == [task, "1", "1"] and " ± " in cells[3] and cells[4] in ("1", "2")
        assert cells[5].count("[") == 1 and cells[6].count("/") == 1  # Δ vs random [CI], sharpness normal/reduce
        assert f"{task}-searched cells" in report
    assert [c.strip() for c in lines["random"].split("|")[1:4]] == ["random", "2", "2"]
    assert (study / "figures" / "genotypes.png").is_file() and (study / "figures" / "target_by_task.png").is_file()
    analysis = json.loads((study / "analysis.json").read_text())
    assert sorted(analysis["ranking"]) == ["jigsaw", "rotation"]

    # a diverged search: reported as such, its train neither run nor counted
    write_row(study, {**rows["search-jigsaw-s1"], "status": "diverged", "genotype": None,
                      "error": "DivergedError: loss became NaN"})
    os.remove(row_path(study, "jigsaw-s1-classification-t1"))
    code, out, _ = cli("study", "run", str(path))
    assert code == 0 and "0 to run, 1 blocked by failed/diverged searches" in out
    code, out, _ = cli("study", "status", str(path))
    assert "search jigsaw" in out and "train jigsaw-searched" in out
    code, out, _ = cli("study", "analyze", str(path), "--n-boot", "200")
    report = (study / "report.md").read_text()
    assert "search-jigsaw-s1 diverged (DivergedError: loss became NaN)" in report
    assert "| jigsaw | 0 | 0 | n/a |" in report
