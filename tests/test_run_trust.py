"""Issue #24 §2–§5 through the real CLI: run directories of one kind, settings checked before any file exists,
degenerate numbers refused, inputs the code reads checked. Every row: the exit code, exactly one stderr line
naming the problem, no traceback, and nothing created or changed (the test's folder, the fixtures' folder).

Classes (rows): run kinds (§2), validation before the run directory (§3), degenerate numbers (§4), files
and messages (§5). The divergence of every training path (§1) is in tests/test_divergence.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import tiny_search_overrides
from test_bad_inputs import Case, _fill, _snapshot, train
from test_study_plan import write_tiny_study

from unnas.search.predictor import FORMAT

OUT = "{out}"
#: A black-box search that would score each candidate with NASWOT on the demo images (cheap to start).
PROXY = ("search", "strategy=random", "fitness.proxy=naswot", "fitness.proxy_batch_size=4", "fitness.budget=1",
         "data.crop_size=32", "fitness.network.width=4", "fitness.network.cells=2", "progress=false")
#: The same search with a trained fitness (rotation on 16 training images, measured on 8 others).
TRAINED = ("search", "strategy=random", "fitness.budget=1", "fitness.train_images=16", "fitness.holdout_images=8",
           "fitness.recipe.epochs=1", "fitness.recipe.batch_size=4", "fitness.recipe.max_iters_per_epoch=1",
           "data.crop_size=32", "fitness.network.width=4", "fitness.network.cells=2", "progress=false")
DARTS = ("search", *tiny_search_overrides(Path("{out}")), "optim.iters_per_epoch=1")


def proxy(*extra: str, out: str = OUT) -> tuple[str, ...]:
    return (*PROXY, f"out_dir={out}", *extra)


def trained(*extra: str) -> tuple[str, ...]:
    return (*TRAINED, f"out_dir={OUT}", *extra)


def ncp(*extra: str, out: str = OUT) -> tuple[str, ...]:
    return ("search", "strategy=ncp", f"out_dir={out}", *extra)


def darts(*extra: str) -> tuple[str, ...]:
    return (*DARTS, *extra)


CASES = [
    # ---------------------------------------------------------------- §2 run directories of one kind
    Case("kind-blackbox-into-darts-run", proxy(out="{darts_run}"), "holds an `unnas search strategy=darts` run"),
    Case("kind-rea-into-random-run", proxy("strategy=rea", out="{random_run}"), "strategy=random` run, not an"),
    Case("kind-darts-into-blackbox-run", (*DARTS[:-1], "out_dir={random_run}"), "strategy=random` run"),
    Case("kind-ncp-into-blackbox-run", ncp("predictor={data}/none.pt", out="{random_run}"), "strategy=random` run"),
    Case("kind-train-into-search-run", train("out_dir={darts_run}"), "holds an `unnas search strategy=darts` run"),
    Case("kind-study-into-search-run", ("study", "plan", "{study}", "out_dir={darts_run}"), "strategy=darts` run"),
    # ---------------------------------------------------------------- §3 everything checked before the directory
    Case("blackbox-budget-zero", proxy("fitness.budget=0"), "fitness.budget=0 is invalid: must be >= 1"),
    Case("blackbox-unknown-task", trained("fitness.task=rotaton"), "fitness.task='rotaton' is not a task"),
    Case("blackbox-train-images-above-split", trained("fitness.train_images=100000"),
         "fitness.train_images + fitness.holdout_images = 100008 but the training split holds"),
    Case("blackbox-train-images-negative", trained("fitness.train_images=-1"), "fitness.train_images=-1 is invalid"),
    Case("blackbox-train-images-one", trained("fitness.train_images=1"), "fitness.train_images=1 is invalid"),
    Case("blackbox-holdout-zero", trained("fitness.holdout_images=0"), "fitness.holdout_images=0 is invalid"),
    Case("blackbox-rea-population-zero", proxy("strategy=rea", "rea.population=0"), "rea.population=0 is invalid"),
    Case("blackbox-rea-sample-zero", proxy("strategy=rea", "rea.sample=0"), "rea.sample=0 is invalid"),
    Case("blackbox-ppo-lr-negative", proxy("strategy=ppo", "ppo.lr=-1"), "ppo.lr=-1.0 is invalid: must be > 0"),
    Case("blackbox-proxy-batch-zero", proxy("fitness.proxy_batch_size=0"), "fitness.proxy_batch_size=0 is invalid"),
    Case("blackbox-proxy-batch-above-split", proxy("fitness.proxy_batch_size=100000"),
         "fitness.proxy_batch_size=100000 but the training split holds"),
    Case("blackbox-task-option-of-wrong-type", trained("fitness.task=autoencoding", "task_options.decoder_stages=abc"),
         "task 'autoencoding': bad options"),
    Case("blackbox-unknown-space", proxy("fitness.space=resnet"), "fitness.space='resnet' is not a known space"),
    Case("blackbox-unknown-network-key", proxy("fitness.network.depth=3"), "fitness.network.depth is not a network"),
    Case("blackbox-recipe-batch-one", trained("fitness.task=classification", "fitness.recipe.batch_size=1"),
         "fitness.recipe.batch_size=1 is invalid: must be at least 2 for task classification"),
    Case("blackbox-darts-key", proxy("optim.lr=0.5"), "optim"),
    # ---------------------------------------------------------------- §4 degenerate numbers
    Case("number-ncp-lam-nan", ncp("predictor={data}/none.pt", "lam=nan"), "lam=nan is invalid: must be a finite number"),
    Case("number-ppo-clip-nan", proxy("strategy=ppo", "ppo.clip=nan"), "ppo.clip=nan is invalid: must be a finite"),
    Case("number-ppo-lr-nan", proxy("strategy=ppo", "ppo.lr=nan"), "ppo.lr=nan is invalid"),
    Case("number-ppo-hidden-zero", proxy("strategy=ppo", "ppo.hidden=0"), "ppo.hidden=0 is invalid: must be >= 1"),
    Case("number-proxy-batch-one", proxy("fitness.proxy_batch_size=1"), "fitness.proxy_batch_size=1 is invalid"),
    Case("number-darts-lr-inf", darts("optim.lr=inf"), "optim.lr=inf is invalid: must be a finite number"),
    Case("number-tau-inf", darts("arch.tau_start=inf"), "arch.tau_start=inf is invalid: must be a finite number"),
    Case("number-entropy-inf", darts("arch.entropy_weight=inf"), "arch.entropy_weight=inf is invalid"),
    Case("number-samples-huge", darts("arch.samples=100000000"), "arch.samples=100000000 is invalid"),
    Case("number-train-lr-nan", train("recipe.lr=nan"), "recipe.lr=nan is invalid: must be a finite number"),
    Case("number-study-recipe-lr-inf", ("study", "plan", "{study}", f"out_dir={OUT}", "recipe.lr=inf"),
         "recipe.lr=inf is invalid"),
    Case("number-ncp-iterations-huge", ncp("predictor={data}/none.pt", "iterations=1000000000"),
         "iterations=1000000000 is invalid"),
    # ---------------------------------------------------------------- §5 files the code reads, and messages
    Case("history-line-not-a-record", proxy(out="{history_42}"), "history.jsonl:1 is not an evaluation record"),
    Case("history-empty-object", proxy(out="{history_empty}"), "history.jsonl:2 is not an evaluation record"),
    Case("predictor-wrong-dimensions", ncp("predictor={bad_predictor}"), "is damaged or of another version"),
    Case("predictor-fit-edited-plan", ("predictor", "fit", "{edited_study}", "--out", OUT),
         "plan.json does not describe this study's results"),
    Case("predictor-fit-out-is-a-file", ("predictor", "fit", "{edited_study}", "--out", "{a_file}"),
         "exists and is not a directory"),
    Case("blackbox-out-is-a-file", proxy(out="{a_file}"), "exists and is not a directory"),
    Case("ncp-out-is-a-file", ncp("predictor={data}/none.pt", out="{a_file}"), "exists and is not a directory"),
    Case("blackbox-out-not-writable", proxy(out="/proc/unnas-nowhere/run"), "cannot create run directory /proc/"),
    Case("darts-out-not-writable", (*DARTS[:-1], "out_dir=/proc/unnas-nowhere/run"), "/proc/unnas-nowhere/run"),
    Case("study-out-not-writable", ("study", "plan", "{study}", "out_dir=/proc/unnas-nowhere/study"),
         "cannot create study directory /proc/unnas-nowhere/study"),
    Case("strategy-in-capitals", ncp("predictor={data}/none.pt", "strategy=NCP"), "none.pt does not exist"),
    Case("strategy-in-a-yaml-file", ("search", "{ncp_yaml}", f"out_dir={OUT}"), "none.pt does not exist"),
    Case("strategy-unknown", ("search", "strategy=bayes", f"out_dir={OUT}"), "strategy='bayes' is invalid"),
    Case("draw-an-mr-architecture", ("draw", "{mr_arch}", "--out", OUT),
         "is a mr architecture; unnas draw draws darts, nasbench201"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Run directories of each kind and damaged files, in the layouts the commands write."""
    root = tmp_path_factory.mktemp("trust")
    d: dict[str, Path] = {"data": root}

    def run_dir(name: str, config: dict, files: dict[str, str]) -> Path:
        d[name] = root / name
        d[name].mkdir()
        (d[name] / "config.yaml").write_text(yaml.safe_dump(config))
        for file, text in files.items():
            (d[name] / file).write_text(text)
        return d[name]

    genotype = json.dumps({"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1]] * 4, "normal_concat": [2, 3, 4, 5],
                           "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1]] * 4, "reduce_concat": [2, 3, 4, 5]})
    run_dir("darts_run", {"strategy": "darts", "task": "rotation", "optim": {"epochs": 1}}, {"genotype.json": genotype})
    record = {"key": "k", "arch": [], "fitness": 1.0, "status": "ok"}
    run_dir("random_run", {"strategy": "random", "seed": 1}, {"history.jsonl": json.dumps(record) + "\n",
                                                              "genotype.json": genotype})
    for name, text in (("history_42", "42\n"), ("history_empty", json.dumps(record) + "\n{}\n")):
        d[name] = root / name
        d[name].mkdir()
        (d[name] / "history.jsonl").write_text(text)
    d["a_file"] = root / "a_file"
    d["a_file"].write_text("not a directory")
    d["bad_predictor"] = root / "bad.pt"
    torch.save({"format": FORMAT, "space": "darts", "dim": 7, "metrics": ["rotation"], "settings": {},
                "state_dict": {"shared.0.weight": torch.zeros(3, 3)}, "normaliser": {}, "split": {}, "scores": {},
                "study": ""}, d["bad_predictor"])
    d["edited_study"] = root / "edited_study"
    (d["edited_study"] / "results").mkdir(parents=True)
    (d["edited_study"] / "plan.json").write_text(json.dumps({
        "fingerprint": "f" * 16, "space": "darts", "tasks": ["rotation"], "proxies": [],
        "jobs": [{"job_id": "a-rotation-s1", "arch_id": "a", "task": "rotation", "kind": "train", "seed": 1}],
        "archs_by_id": {"a": [[["bogus_op", 0]]]}}))
    (d["edited_study"] / "results" / "a-rotation-s1.json").write_text(json.dumps({
        "job_id": "a-rotation-s1", "arch_id": "a", "task": "rotation", "kind": "train", "seed": 1, "status": "ok",
        "metric": 50.0, "fingerprint": "f" * 16}))
    d["ncp_yaml"] = root / "ncp.yaml"
    d["ncp_yaml"].write_text(f"strategy: ncp\npredictor: {root / 'none.pt'}\n")
    d["mr_arch"] = root / "mr.json"
    d["mr_arch"].write_text(json.dumps({"space": "mr", "code": [64, 64, 2, 2, 64, 2, 2, 2, 64, 64, 2, 2, 2, 2, 64, 64,
                                                                64, 2, 2, 2, 2, 2, 64, 64, 64, 64, 64]}))
    (root / "study_cfg").mkdir()
    d["study"] = write_tiny_study(root / "study_cfg")
    from test_trainer import write_cifar

    d["cifar"] = write_cifar(root / "cifar", n_train=20, n_test=6)
    return d


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_mistake_is_one_line_and_changes_nothing(case: Case, data, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    paths = {**data, "out": tmp_path / "run"}
    argv = [_fill(a, paths) for a in case.argv]
    before, data_before = _snapshot(tmp_path), _snapshot(data["data"])
    code, out, err = cli(*argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == case.code, (code, err)
    assert len(lines) == 1 and lines[0].startswith(f"unnas {argv[0]}: error: "), err
    assert _fill(case.needle, paths) in lines[0], lines[0]
    assert "Traceback" not in err + out
    assert _snapshot(tmp_path) == before, "files were created or changed"
    assert _snapshot(data["data"]) == data_before, "the fixtures were changed"


def test_every_class_of_the_issue_has_rows():
    counts = {prefix: sum(c.id.startswith(prefix) for c in CASES) for prefix in
              ("kind-", "blackbox-", "number-", "history-", "predictor-", "strategy-")}
    assert all(n >= 2 for n in counts.values()), counts


def test_defaults_name_the_strategy_so_kinds_never_share_a_directory():
    from unnas.config import load_search_config

    dirs = {s: load_search_config(None, [f"strategy={s}", "predictor=p.pt"] if s == "ncp" else [f"strategy={s}"]).out_dir
            for s in ("darts", "random", "rea", "ppo", "ncp")}
    assert len(set(dirs.values())) == 5 and dirs["darts"] == "runs/search-darts-demo-rotation"
    assert dirs["rea"] == "runs/search-rea-demo-rotation"


def test_options_and_overrides_may_come_in_any_order(tmp_path, cli, image_folder):
    code, out, err = cli("search", "optim.epochs=1", "--images", str(image_folder), "seed=3", "--print-config")
    assert code == 0, err
    cfg = yaml.safe_load(out)
    assert cfg["data"]["root"] == str(image_folder) and cfg["seed"] == 3 and cfg["optim"]["epochs"] == 1


def test_info_reads_a_run_directory_of_any_space(data, tmp_path, cli):
    run = tmp_path / "mr_run"
    run.mkdir()
    (run / "arch.json").write_text(data["mr_arch"].read_text())
    code, out, err = cli("info", str(run), "--setting", "cifar")
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["space"] == "mr" and record["params"] > 0
