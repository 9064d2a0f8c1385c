"""Faults that must never look like results: divergence, two writers, mixed-settings resume, dead writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

from conftest import tiny_search_overrides
from test_train_cli import cifar_args, cifar_root  # noqa: F401  (fixture)
from unnas.engine.lock import DirLock


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_diverged_search_fails_and_writes_no_result(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("search", *tiny_search_overrides(out, **{"optim.lr": 1e8, "checkpoint_every": 1}))
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "diverged at step" in lines[0] and "optim.lr" in lines[0]
    for name in ("genotype.json", "alphas.json", "alphas.png", "cell_normal.png"):
        assert not (out / name).exists(), name
    ckpt = out / "checkpoints" / "last.pt"
    if ckpt.exists():  # only a state from before the divergence may be kept
        state = torch.load(ckpt, weights_only=False)
        assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    for line in (out / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict JSON


def test_diverged_training_fails(cifar_root, tmp_path, cli):  # noqa: F811
    out = tmp_path / "train"
    code, _, err = cli("train", "darts_v2", *cifar_args(cifar_root, out, **{"recipe.lr": 1e12}))
    assert code == 3 and "training diverged" in err and "recipe.lr" in err
    assert not (out / "results.json").exists()


def test_second_writer_of_a_run_directory_is_refused(tmp_path, cli):
    out = tmp_path / "run"
    with DirLock(out):
        # the holder is this process; a second process must be refused, so ask from a child
        proc = subprocess.run([sys.executable, "-m", "unnas.cli", "search", *tiny_search_overrides(out)],
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f"pid {os.getpid()}" in proc.stderr and "in use" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "config.yaml").exists()


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from unnas.engine.lock import DirLock
        DirLock({str(out)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with DirLock(out):  # no stale lock
        pass


def test_resume_is_checked_against_the_checkpoint_not_config_yaml(tmp_path, cli):
    out = tmp_path / "run"
    args = tiny_search_overrides(out, **{"optim.epochs": 1})
    assert cli("search", *args)[0] == 0
    (out / "config.yaml").unlink()
    before = _files(out)
    code, _, err = cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1, "optim.lr": 0.5}))
    assert code == 2 and "optim.lr" in err
    assert _files(out) == before  # a refused resume changes nothing


def test_resume_accepts_the_same_directory_by_another_path(tmp_path, cli, monkeypatch):
    out = tmp_path / "run"
    assert cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1}))[0] == 0
    moved = tmp_path / "moved"
    out.rename(moved)
    monkeypatch.chdir(tmp_path)
    code, stdout, err = cli("search", *tiny_search_overrides(Path("moved"), **{"optim.epochs": 1}))
    assert code == 0, err and "resumed" in stdout



def test_a_run_made_before_a_key_existed_resumes_at_its_default(tmp_path, cli):
    """A checkpoint whose config lacks a key added later resumes when the key is left at its
    default (which reproduces the old behaviour), and is refused when it is set otherwise."""
    import yaml

    out = tmp_path / "run"
    args = tiny_search_overrides(out, **{"optim.epochs": 1})
    assert cli("search", *args)[0] == 0
    ckpt = out / "checkpoints/last.pt"
    state = torch.load(ckpt, weights_only=False)
    old = yaml.safe_load(state["config_yaml"])
    del old["optim"]["arch_start_epoch"]  # default 0.0
    state["config_yaml"] = yaml.safe_dump(old)
    torch.save(state, ckpt)
    (out / "config.yaml").write_text(state["config_yaml"])

    code, _, err = cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1, "optim.arch_start_epoch": 0.5}))
    assert code == 2 and "optim.arch_start_epoch=0.0" in err, err
    code, stdout, err = cli("search", *args)
    assert code == 0 and "resumed" in stdout, err


def test_a_key_whose_default_changed_resumes_only_under_its_old_behaviour(tmp_path, cli):
    """optim.arch_lr_schedule came with the demo's cosine default; a checkpoint made before it ran a
    constant α lr, so a resume under today's default is refused (naming the old value) and one
    that asks for constant continues."""
    import yaml

    out = tmp_path / "run"
    constant = tiny_search_overrides(out, **{"optim.epochs": 1, "optim.arch_lr_schedule": "constant"})
    assert cli("search", *constant)[0] == 0
    ckpt = out / "checkpoints/last.pt"
    state = torch.load(ckpt, weights_only=False)
    old = yaml.safe_load(state["config_yaml"])
    del old["optim"]["arch_lr_schedule"]
    state["config_yaml"] = yaml.safe_dump(old)
    torch.save(state, ckpt)
    (out / "config.yaml").write_text(state["config_yaml"])

    code, _, err = cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1}))
    assert code == 2 and "optim.arch_lr_schedule='constant'" in err and "'cosine'" in err, err
    code, stdout, err = cli("search", *constant)
    assert code == 0 and "resumed" in stdout, err


def test_stale_temp_files_are_removed_on_resume(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1}))[0] == 0
    stale = out / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    code, stdout, _ = cli("search", *tiny_search_overrides(out, **{"optim.epochs": 1}))
    assert code == 0 and "resuming from step" in stdout
    assert not list(out.rglob(".*.tmp"))


def test_repeated_kills_during_checkpoint_writes_leave_no_temp_files(tmp_path, cli):
    """SIGKILL a search each time a checkpoint temp file appears (mid-write), four times; the
    resumed run ends with a loadable checkpoint and no temp file anywhere."""
    out = tmp_path / "run"
    args = tiny_search_overrides(out, **{"optim.epochs": 3, "checkpoint_every": 1, "data.length": 48})
    command = [sys.executable, "-m", "unnas.cli", "search", *args]
    kills = 0
    for round_ in range(4):  # round k kills during the (k+1)-th write it sees, so the run moves on
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            seen.update(p.name for p in out.glob("checkpoints/.*.tmp"))
            if len(seen) > round_:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.0005)
        proc.wait(timeout=60)
        if round_ and (out / "checkpoints/last.pt").exists():
            torch.load(out / "checkpoints/last.pt", weights_only=False)  # the previous checkpoint is intact
    assert kills >= 2, "no kill landed during a checkpoint write"
    code, stdout, err = cli("search", *args)
    assert code == 0, err
    assert not list(out.rglob(".*.tmp"))
    state = torch.load(out / "checkpoints/last.pt", weights_only=False)
    assert state["epoch"] == 3 and "resumed run" in stdout, stdout  # all three epochs, continued, not restarted


def test_disk_full_is_one_line_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "last.pt"
    script = textwrap.dedent(f"""
        import resource, signal, sys, torch
        from unnas.atomic import atomic_torch_save
        from unnas.errors import one_line, UnnasError
        atomic_torch_save({str(target)!r}, {{"w": torch.zeros(10)}})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a short write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            atomic_torch_save({str(target)!r}, {{"w": torch.zeros(100000)}})
        except UnnasError as exc:
            print(one_line(exc)); sys.exit(2)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no space left on device writing" in proc.stdout
    assert torch.load(target, weights_only=False)["w"].shape == (10,)  # previous file intact
    assert not list(tmp_path.glob(".*.tmp"))


def test_sigterm_is_an_interruption_that_resumes(tmp_path):
    out = tmp_path / "run"
    args = tiny_search_overrides(out, **{"optim.epochs": 2, "data.length": 800, "checkpoint_every": 1})
    proc = subprocess.Popen([sys.executable, "-m", "unnas.cli", "search", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "checkpoints" / "last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].endswith("interrupted; re-run the same command to resume")
    assert "Traceback" not in err
