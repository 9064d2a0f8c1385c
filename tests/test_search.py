"""End-to-end DARTS search on the embedded photos: outputs, logs, and exact resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from conftest import tiny_search_overrides
from unnas.config import SearchConfig, load_config
from unnas.engine.rundir import read_metrics
from unnas.search.darts import DartsSearch
from unnas.spaces.darts.genotype import load_genotype


def _final_alphas(run_dir: Path) -> dict:
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    return {k: v for k, v in state["model"].items() if "alpha" in k}


def test_short_search_writes_a_complete_run_directory(tmp_path, cli):
    out = tmp_path / "run"
    code, stdout, stderr = cli("search", *tiny_search_overrides(out))
    assert code == 0, stderr
    assert "genotype" in stdout and str(out) in stdout
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "genotype.json", "alphas.png",
                 "cell_normal.png", "cell_reduce.png"):
        assert (out / name).is_file(), name
    genotype = load_genotype(out / "genotype.json")
    assert genotype.nodes == 4
    assert str(genotype).splitlines()[0] in stdout
    records = read_metrics(out / "metrics.jsonl")
    steps = [r for r in records if "loss" in r]
    epochs = [r for r in records if r.get("event") == "epoch_end"]
    assert len(epochs) == 2
    assert {"epoch", "iter", "loss", "lr", "top1", "img_per_s", "wall_clock_s"} <= set(steps[0])
    assert epochs[-1]["genotype"] == genotype.to_dict()
    assert (out / "alphas.png").read_bytes()[:4] == b"\x89PNG"
    # a finished run re-run is a no-op that reports the same genotype
    code, stdout2, _ = cli("search", *tiny_search_overrides(out))
    assert code == 0 and "resumed" in stdout2 and str(genotype).splitlines()[0] in stdout2


def _alphas(searcher) -> torch.Tensor:
    return torch.cat([p.detach().clone().flatten() for p in searcher.trunk.arch_parameters()])


def test_alpha_moves_only_after_warmup(tmp_path):
    frozen = DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(
        tmp_path / "w", **{"optim.arch_start_epoch": 1.0, "optim.epochs": 1})))
    before = _alphas(frozen)
    frozen.run()
    assert torch.equal(before, _alphas(frozen))
    moving = DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(tmp_path / "w2", **{"optim.epochs": 1})))
    before = _alphas(moving)
    moving.run()
    assert not torch.equal(before, _alphas(moving))


def _search_process(out: Path, extra: dict) -> subprocess.Popen:
    """The real CLI in a fresh process (all runs of a comparison share thread settings, since
    float reductions on CPU depend on the number of threads)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "unnas.cli", "search", *tiny_search_overrides(out, **extra)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def test_resume_after_sigkill_reproduces_the_uninterrupted_run(tmp_path):
    extra = {"optim.epochs": 3, "data.length": 32, "checkpoint_every": 1, "optim.iters_per_epoch": 4}
    ref, killed = tmp_path / "reference", tmp_path / "killed"
    reference = _search_process(ref, extra)
    proc = _search_process(killed, extra)
    ckpt = killed / "checkpoints" / "last.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    interrupted_at = torch.load(ckpt, weights_only=False)["step"]
    assert interrupted_at < 12

    out, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err
    resumed = _search_process(killed, extra)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "resumed" in out
    a, b = _final_alphas(ref), _final_alphas(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((ref / "genotype.json").read_text()) == json.loads((killed / "genotype.json").read_text())
    # the log has each step once: lines written after the checkpoint were dropped on resume
    steps = [r["step"] for r in read_metrics(killed / "metrics.jsonl") if "loss" in r]
    assert steps == sorted(set(steps)) and len(steps) == 12


def test_resume_refuses_a_different_config(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1}))[0] == 0
    code, _, err = cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1, "seed": 5}))
    assert code != 0
    assert "seed=1" in err and "seed=5" in err and len(err.strip().splitlines()) == 1
