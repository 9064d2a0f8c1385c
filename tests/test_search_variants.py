"""Search variants of a search study (``search.variants``): one task searched under several ``arch.*``
settings, each under its own label; their plan, their one-line mistakes through the real CLI, the
relaxation-ablation preset, and a tiny end-to-end run whose sampling variant trains its first
sampled genotype."""

import json

import pytest
import yaml
from test_search_study import load, write_search_study

from unnas.study.fingerprint import fingerprint
from unnas.study.plan import build_plan
from unnas.trials.rows import read_rows
from unnas.study.search_plan import ARGMAX_GENOTYPE, SAMPLED_GENOTYPE, search_config

ENTROPY = {"entropy_weight": 30.0, "entropy_schedule": "linear"}
VARIANTS = {
    "dd": {"task": "rotation", "overrides": {"arch": {"relaxation": "softmax"}}},
    "ds_ent": {"task": "rotation", "overrides": {"arch": {"discretization": "sample", "samples": 3, **ENTROPY}}},
    "sd_jig": {"task": "jigsaw", "overrides": {"arch.relaxation": "gumbel", "optim.batch_size": 3}},  # dotted keys
    "unused": {"task": "rotation", "overrides": {"arch": {"relaxation": "gumbel"}}},  # never searched: ignored
}


def write_variant_study(tmp_path, search_tasks, variants=VARIANTS, **changes):
    """The tiny search study of tests/test_search_study.py with ``search.variants``."""
    path = write_search_study(tmp_path, search_tasks=search_tasks, **changes)
    study = yaml.safe_load(path.read_text())
    study["search"]["variants"] = variants
    study["search"]["task_overrides"] = {"jigsaw": {"optim.batch_size": 2}}  # the variant's own override wins
    path.write_text(yaml.safe_dump(study))
    return path


def test_variants_plan_labels_tasks_ids_and_configs(tmp_path):
    path = write_variant_study(tmp_path, ["rotation", "dd", "ds_ent", "sd_jig"])
    cfg = load(path)
    plan = build_plan(cfg)
    searches = {j["job_id"]: j for j in plan["jobs"] if j["kind"] == "search"}
    assert {j: (s["search_task"], s["task"], s["arch_id"], s["group"]) for j, s in searches.items()} == {
        "search-rotation-s1": ("rotation", "rotation", "rotation-s1", "search rotation"),
        "search-dd-s1": ("dd", "rotation", "dd-s1", "search dd"),
        "search-ds_ent-s1": ("ds_ent", "rotation", "ds_ent-s1", "search ds_ent"),
        "search-sd_jig-s1": ("sd_jig", "jigsaw", "sd_jig-s1", "search sd_jig")}
    trains = {j["depends_on"]: j for j in plan["jobs"] if j.get("depends_on")}
    assert set(trains) == set(searches)
    for sid, train in trains.items():
        label = searches[sid]["search_task"]
        assert train["job_id"] == f"{label}-s1-classification-t1" and train["task"] == "classification"
        assert (train["search_task"], train["group"]) == (label, f"train {label}-searched")
        # only a sampling variant says which genotype it trains; plain jobs keep their fields
        expected = SAMPLED_GENOTYPE if label == "ds_ent" else None
        assert searches[sid].get("genotype_from") == train.get("genotype_from") == expected
    assert plan["search_tasks"] == ["rotation", "dd", "ds_ent", "sd_jig"]
    assert set(plan["variants"]) == {"dd", "ds_ent", "sd_jig"}  # the unused one is left out
    assert plan["variants"]["sd_jig"] == {"task": "jigsaw",
                                          "overrides": {"arch.relaxation": "gumbel", "optim.batch_size": 3}}

    # the overrides reach the search config, on top of the study's (and of task_overrides)
    configs = {label: search_config(cfg, label, 1, tmp_path / "x") for label in plan["search_tasks"]}
    plain = configs["rotation"].arch
    assert (plain.relaxation, plain.discretization, plain.entropy_weight) == ("softmax", "argmax", 0.0)
    assert configs["dd"].arch == plain and configs["dd"].task == "rotation"
    arch = configs["ds_ent"].arch
    assert (arch.discretization, arch.samples, arch.entropy_weight, arch.entropy_schedule) == \
        ("sample", 3, 30.0, "linear")
    jig = configs["sd_jig"]
    assert (jig.task, jig.arch.relaxation, jig.optim.batch_size, jig.task_options["grid"]) == ("jigsaw", "gumbel", 3, 2)
    assert configs["rotation"].model.width == jig.model.width == 4  # the study's search.overrides apply too

    # a study without variants plans and fingerprints as before; a variant's settings are part of its identity
    (tmp_path / "plain").mkdir()
    plain_path = write_search_study(tmp_path / "plain")
    plain_cfg = load(plain_path)
    with_empty = load(plain_path, "search.variants={}")
    assert fingerprint(plain_cfg) == fingerprint(with_empty)
    plain_plan = build_plan(plain_cfg)
    assert "variants" not in plain_plan and not any("genotype_from" in j for j in plain_plan["jobs"])
    assert fingerprint(load(path, "search.variants.dd.overrides.arch.relaxation=gumbel")) != plan["fingerprint"]


@pytest.mark.parametrize("overrides, words", [
    (["search.variants.rotation.task=jigsaw"], "search.variants.rotation: 'rotation' is a task's name"),
    (["search.variants.dd.overrides.arch.relaxation=gumbel", "search_tasks=[dd]"], "search.variants.dd has no task"),
    (["search.variants.dd.task=rotaton"], "search.variants.dd.task: unknown task 'rotaton'"),
    (["search.variants.dd.task=rotation", "search.variants.dd.overide.arch.relaxation=gumbel"],
     "search.variants.dd.overide"),
    (["search.variants.dd.task=rotation", "search_tasks=[rotation,ddd]"],
     "search_tasks: unknown task 'ddd' nor a search.variants name (dd)"),
    (["search.variants.dd.task=rotation", "search_tasks=[dd]", "search.variants.dd.overrides.arch.relaxaton=gumbel"],
     "search variant 'dd' (task 'rotation')"),
    (["search.variants.dd.task=rotation", "search_tasks=[dd]", "search.variants.dd.overrides.arch.relaxation=snas"],
     "arch.relaxation='snas' is invalid: must be one of softmax, gumbel"),
    (["search.variants.a/b.task=rotation"], "search.variants: name 'a/b' must be letters"),
])
def test_variant_mistakes_are_one_line_errors_through_the_cli(tmp_path, cli, overrides, words):
    path = write_search_study(tmp_path)
    code, out, err = cli("study", "plan", str(path), *overrides)
    assert code != 0 and words in err and err.strip().count("\n") == 0, err
    assert not (tmp_path / "study" / "plan.json").exists()


def test_relaxation_ablation_preset_variants():
    from conftest import REPO

    cfg = load(REPO / "configs" / "study" / "search" / "relaxation_ablation_fashion_mnist.yaml", "data.root=/data")
    assert cfg.search_tasks == ["dd", "sd", "dd_ent", "ds_ent", "sd_ent", "ss_ent"]
    quick = load(REPO / "configs" / "study" / "search" / "fashion_mnist_quick.yaml", "data.root=/data")
    for label in cfg.search_tasks:  # the name says what the search does: relaxation, discretisation, entropy
        scfg = search_config(cfg, label, 1, "/tmp/unused")
        arch = scfg.arch
        assert scfg.task == "rotation" and scfg.optim.arch_lr == quick.search.overrides["optim"]["arch_lr"]
        assert arch.relaxation == {"d": "softmax", "s": "gumbel"}[label[0]]
        assert arch.discretization == {"d": "argmax", "s": "sample"}[label[1]]
        assert (arch.entropy_weight > 0, arch.entropy_schedule) == ((True, "linear") if label.endswith("_ent")
                                                                    else (False, "constant"))
    for key in ("data", "network", "recipe"):  # the quick preset's training side
        assert getattr(cfg, key) == getattr(quick, key)


def test_variants_end_to_end_sampled_genotype_is_trained(tmp_path, cli):
    path = write_variant_study(tmp_path, ["dd", "ds_ent"], random_genotypes=1)
    study = tmp_path / "study"
    code, out, err = cli("study", "run", str(path), "--workers", "1")
    assert code == 0, out + err
    rows = {r["job_id"]: r for r in read_rows(study)}
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows.values())
    search, train = rows["search-ds_ent-s1"], rows["ds_ent-s1-classification-t1"]
    run_dir = study / search["run_dir"]
    first = json.loads((run_dir / "genotypes_sampled.json").read_text())["genotypes"][0]
    argmax = json.loads((run_dir / "genotype.json").read_text())
    assert search["task"] == "rotation" and search["search_task"] == "ds_ent"
    assert train["genotype"] == search["genotype"] == [first["normal"], first["normal_concat"], first["reduce"],
                                                       first["reduce_concat"]]
    assert train["genotype_from"] == search["genotype_from"] == SAMPLED_GENOTYPE
    assert search["argmax_genotype"] == [argmax["normal"], argmax["normal_concat"], argmax["reduce"],
                                         argmax["reduce_concat"]]
    dd_train = rows["dd-s1-classification-t1"]
    assert dd_train["genotype_from"] == ARGMAX_GENOTYPE
    assert dd_train["genotype"] == rows["search-dd-s1"]["genotype"] == rows["search-dd-s1"]["argmax_genotype"]

    code, out, _ = cli("study", "status", str(path))
    assert code == 0 and "search ds_ent" in out and "train dd-searched" in out
    code, out, err = cli("study", "analyze", str(path), "--n-boot", "50")
    assert code == 0, err
    report = (study / "report.md").read_text()
    table = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    assert table[:4] == ["search task", "dd", "ds_ent", "random"]
    for label in ("dd", "ds_ent"):  # each row has its genotype, run and sharpness
        cells = [c.strip() for c in report.split(f"\n| {label} |")[1].split("\n")[0].split("|")[:-1]]
        assert cells[:2] == ["1", "1"] and cells[5].count("/") == 1
    assert "- ds_ent: rotation with `arch.discretization=sample arch.entropy_schedule=linear" in report
    assert "(first sampled)" in report.split("| search-ds_ent-s1 |")[1].split("\n")[0]
    analysis = json.loads((study / "analysis.json").read_text())
    assert sorted(analysis["tasks"]) == ["dd", "ds_ent"]
    assert {s["label"]: s["task"] for s in analysis["searches"]} == {"dd": "rotation", "ds_ent": "rotation"}
