"""Study plans: jobs, ids, fingerprints and the one-line refusals, on a tiny on-disk study."""

import json

import pytest
import yaml
from conftest import REPO
from test_idx_reader import fake_data, make_split

from unnas.config import StudyConfig, load_config
from unnas.errors import ConfigError, DataError, UnnasError
from unnas.trials.darts_sampler import Sample, save_samples
from unnas.study.plan import PLAN_FILE, build_plan, fingerprint, write_plan
from unnas.study.samples import load_paper_samples


def write_tiny_study(tmp_path, **changes):
    """A Fashion-MNIST-layout IDX folder (24 train, 8 test images) and a study YAML using it:
    3 paper DARTS archs, classification + rotation + synflow, 1 seed, width 4, 2 cells, 2 iterations."""
    data = tmp_path / "fmnist"
    if not data.is_dir():
        data.mkdir()
        make_split(data, "train", *fake_data(24, 0), compress=False)
        make_split(data, "t10k", *fake_data(8, 1), compress=True)
    study = {
        "name": "tiny", "space": "darts", "archs": "paper", "count": 3,
        "tasks": ["classification", "rotation"], "proxies": ["synflow"], "proxy_batch_size": 4, "seeds": [1],
        "data": {"name": "fashion_mnist", "root": str(data), "crop_size": 16, "test_split": "test"},
        "network": {"setting": "cifar", "width": 4, "cells": 2},
        "recipe": {"epochs": 1, "max_iters_per_epoch": 2, "batch_size": 4, "test_batch_size": 8, "lr": 0.05,
                   "weight_decay": "5e-4"},
        "recipes": {"rotation": {"batch_size": 2}},
        "out_dir": str(tmp_path / "study"), "workers": 1, "progress": False, "device": "cpu",
    }
    study.update(changes)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def tiny_config(tmp_path, *overrides, **changes) -> StudyConfig:
    return load_config(StudyConfig, write_tiny_study(tmp_path, **changes), list(overrides))


def test_plan_expands_archs_tasks_seeds_and_proxies(tmp_path):
    cfg = tiny_config(tmp_path, "seeds=[1,2]")
    plan = build_plan(cfg)
    paper = [i for i, _ in load_paper_samples("darts")[:3]]
    train = [j for j in plan["jobs"] if j["kind"] == "train"]
    proxy = [j for j in plan["jobs"] if j["kind"] == "proxy"]
    assert len(train) == 3 * 2 * 2 and len(proxy) == 3
    assert {j["arch_id"] for j in plan["jobs"]} == set(paper)
    assert f"{paper[0]}-rotation-s2" in {j["job_id"] for j in train}
    assert {j["job_id"] for j in proxy} == {f"{a}-synflow-s1" for a in paper}
    assert len({j["job_id"] for j in plan["jobs"]}) == len(plan["jobs"])
    # the jobs carry the architecture itself (a worker needs nothing else)
    assert train[0]["arch"] == load_paper_samples("darts")[0][1].to_list()
    assert build_plan(cfg)["jobs"] == plan["jobs"]  # stable

    write_plan(cfg, plan)
    saved = json.loads((tmp_path / "study" / PLAN_FILE).read_text())
    assert saved["fingerprint"] == plan["fingerprint"] == fingerprint(cfg) and len(saved["jobs"]) == 15
    assert saved["archs_by_id"][paper[0]] == train[0]["arch"] and "arch" not in saved["jobs"][0]


def test_fingerprint_follows_results_not_size_or_place(tmp_path):
    base = fingerprint(tiny_config(tmp_path))
    for same in (["count=2"], ["seeds=[1,2,3]"], ["tasks=[rotation]", "target=rotation"], ["out_dir=/elsewhere"],
                 ["workers=4", "runner=slurm"], ["data.root=/other/copy"]):
        assert fingerprint(tiny_config(tmp_path, *same)) == base, same
    for other in (["recipe.lr=0.2"], ["recipes.rotation.epochs=3"], ["network.width=6"], ["data.train_limit=10"],
                  ["task_options.rotation.mean=[0,0,0]"], ["archs=sample"]):
        assert fingerprint(tiny_config(tmp_path, *other)) != base, other


def test_plan_of_another_study_is_refused(tmp_path):
    write_plan(cfg := tiny_config(tmp_path), build_plan(cfg))
    other = tiny_config(tmp_path, "recipe.lr=0.3")
    with pytest.raises(DataError, match="belongs to another study") as err:
        write_plan(other, build_plan(other))
    assert "\n" not in str(err.value)
    grown = tiny_config(tmp_path, "count=4")  # a bigger study with the same settings is the same study
    assert len(build_plan(grown)["jobs"]) == 4 * 3 and write_plan(grown, build_plan(grown)).is_file()


@pytest.mark.parametrize("overrides, message", [
    (["tasks=[classification,rotaton]"], "unknown task 'rotaton'"),
    (["proxies=[rotation]"], "unknown task 'rotation' in proxies"),
    (["tasks=[classification,rotation,classification]"], "listed twice"),
    (["target=jigsaw"], "target='jigsaw' is not a task"),
    (["recipes.rotation.lrr=1"], "recipes.rotation.lrr"),
    (["recipe.epochs=0"], "recipe.epochs=0"),
    (["task_options.jigsw.grid=2"], "task_options.jigsw"),
    (["task_options.rotation.gird=2"], "gird"),
    (["task_data.rotation.crop=8"], "task_data.rotation.crop"),
    (["count=600"], "holds only 500"),
])
def test_mistakes_fail_at_plan_time_with_one_line(tmp_path, overrides, message):
    cfg = tiny_config(tmp_path, *overrides)
    with pytest.raises(UnnasError) as err:
        build_plan(cfg)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "study").exists()


def test_archs_from_a_samples_file(tmp_path):
    samples = [Sample(f"x{i}", g) for i, (_id, g) in enumerate(load_paper_samples("darts")[5:7])]
    path = save_samples(tmp_path / "mine.json", samples)
    plan = build_plan(tiny_config(tmp_path, f"archs={path}", "count=null"))
    assert {j["arch_id"] for j in plan["jobs"]} == {"x0", "x1"} and plan["archs"] == 2
    with pytest.raises(ConfigError, match="neither paper, sample, all, an existing samples file nor a directory"):
        build_plan(tiny_config(tmp_path, f"archs={tmp_path / 'missing.json'}"))


def test_archs_from_a_directory_of_search_runs(tmp_path):
    """The winners of several searches, trained under one recipe: each run directory's result file is one
    architecture, named by its directory; a directory without one is skipped, none at all is refused."""
    from unnas.spaces.darts import load_genotype
    from unnas.study.samples import load_paper_samples as paper

    runs = tmp_path / "winners"
    for name, published in (("rea-1", "darts_v2"), ("random-1", "amoeba")):
        (runs / name).mkdir(parents=True)
        (runs / name / "genotype.json").write_text(json.dumps(load_genotype(published).to_dict()))
    (runs / "notes").mkdir()  # no genotype.json: not an architecture
    (runs / "history.png").write_bytes(b"")  # files beside the runs are ignored
    plan = build_plan(tiny_config(tmp_path, f"archs={runs}", "count=null"))
    by_id = {j["arch_id"]: j["arch"] for j in plan["jobs"]}
    assert plan["archs"] == 2 and set(by_id) == {"rea-1", "random-1"}
    assert by_id["rea-1"] == load_genotype("darts_v2").to_list()

    nb_runs = tmp_path / "nb_winners"
    (nb_runs / "rea-1").mkdir(parents=True)
    spec = paper("nasbench101")[3][1]
    (nb_runs / "rea-1" / "spec.json").write_text(json.dumps(spec))
    nb_plan = build_plan(tiny_config(tmp_path, f"archs={nb_runs}", "count=null", "space=nasbench101",
                                     "network.stem_width=4", "network.num_stacks=1", "network.modules_per_stack=1"))
    assert [j["arch_id"] for j in nb_plan["jobs"]][:1] == ["rea-1"] and nb_plan["jobs"][0]["arch"] == spec

    with pytest.raises(ConfigError, match="without subdirectories holding genotype.json") as err:
        build_plan(tiny_config(tmp_path, f"archs={runs / 'notes'}", "count=null"))
    assert "\n" not in str(err.value)


#: Sample-kind presets; configs/study/search/ (kind: search) are planned in tests/test_search_study.py.
PRESETS = sorted(p for p in (REPO / "configs" / "study").rglob("*.yaml") if p.parent.name != "search")


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_presets_plan(path):
    from unnas.study.jobs import recipe_for

    cfg = load_config(StudyConfig, path, ["data.root=/data"])
    plan = build_plan(cfg)
    assert plan["fingerprint"] == fingerprint(cfg) and cfg.target in plan["tasks"] + plan["proxies"]
    if path.stem == "cifar10":  # the paper's CIFAR-10 budgets (UNNAS_FACTS A.a)
        cls, rot = recipe_for(cfg, "classification"), recipe_for(cfg, "rotation")
        assert (cls.epochs, cls.batch_size, cls.lr, cls.weight_decay, cls.nesterov) == (100, 128, 0.1, 5e-4, True)
        assert (rot.batch_size, rot.lr, rot.precise_bn_batches * rot.batch_size) == (32, 0.025, 1024)
        assert cfg.seeds == [1, 2, 3] and plan["archs"] == 500 and len(plan["jobs"]) == 500 * 4 * 3
    if path.parent.name == "nasbench101" and path.stem == "fashion_mnist_quick":
        assert plan["archs"] == 100 and plan["tasks"] == ["classification", "rotation"]
    elif path.parent.name == "nasbench201":  # the whole space, or 100 cells without repeats (official ids)
        assert plan["archs"] in (100, 15625) and all(j["arch_id"].isdigit() for j in plan["jobs"])
    elif path.stem == "fashion_mnist_quick":
        assert plan["archs"] >= 20 and len(plan["proxies"]) == 5 and "jigsaw" in plan["tasks"]
