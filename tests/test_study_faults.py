"""A study survives its processes dying: a killed worker, a killed or interrupted driver, a second driver.

Everything runs the real pool on the tiny Fashion-MNIST-layout study; processes are killed from
the test by pid (the runner's own record of its workers, or a /proc scan of the driver's children).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import REPO
from test_study_plan import tiny_config, write_tiny_study

from unnas.study.plan import build_plan
from unnas.trials.rows import read_rows
from unnas.study.runner import run_jobs
from unnas.trials.executor import LocalProcesses

#: Rotation jobs train several epochs (about a second here), so a kill lands inside one.
SLOW_ROTATION = {"rotation": {"batch_size": 2, "epochs": 8}}


def children(pid: int) -> dict[int, str]:
    """Live (not zombie) child processes of ``pid``: {pid: command line}, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmd
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that never reaps it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_driver(config: Path, *extra: str) -> subprocess.Popen:
    """``unnas study run CONFIG`` in its own process (the driver a user would start)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    # SIGINT back to its default, as in a terminal: a shell's background job (e.g. `nohup … &`) inherits it
    # ignored, and Python then never turns Ctrl-C into KeyboardInterrupt
    return subprocess.Popen([sys.executable, "-m", "unnas.cli", "study", "run", str(config), *extra], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_a_killed_worker_loses_only_its_own_job_and_is_replaced(tmp_path):
    cfg = tiny_config(tmp_path, "count=4", "proxies=[]", recipes=SLOW_ROTATION)
    plan = build_plan(cfg)
    runner = LocalProcesses(2, "cpu")
    victim: dict = {}

    def kill_a_busy_worker():
        # a warm worker (one job done) as soon as it holds a rotation job (about a second of training here;
        # the kill lands within one 10 ms look, however fast or loaded the machine), while at least two jobs
        # wait: the other worker can take one before the death is noticed, and the pool must still need a
        # replacement for the rest (with one waiting job it rightly starts none)
        while not victim:
            state = runner.state()
            for w in state["workers"]:
                job_id = w["task"].args[0]["job_id"] if w["task"] is not None else None
                if (job_id and "rotation" in job_id and w["done"] >= 1 and state["queued"] >= 2):
                    os.kill(w["pid"], signal.SIGKILL)
                    victim.update(w, queued=state["queued"])
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    rows = run_jobs(runner, plan["jobs"], cfg, cfg.out_dir)
    killer.join(timeout=1)

    assert victim, "no worker was ever busy with a rotation job"
    stored = {r["job_id"]: r for r in read_rows(cfg.out_dir, plan["fingerprint"])}
    assert len(rows) == len(stored) == len(plan["jobs"]) == 8
    failed = [r for r in stored.values() if r["status"] != "ok"]
    assert len(failed) == 1, [r.get("error") for r in failed]
    assert failed[0]["status"] == "failed" and failed[0]["metric"] is None
    assert failed[0]["error"].startswith("worker died, signal 9") and f"pid {victim['pid']}" in failed[0]["error"]
    # jobs were still queued when it died: a replacement took its place and the study finished
    assert len(runner.started_pids) == 3 and victim["pid"] in runner.started_pids[:2]
    assert not any(alive(pid) for pid in runner.started_pids)


def test_killing_the_driver_takes_its_workers_and_frees_the_study(tmp_path, cli):
    config = write_tiny_study(tmp_path, count=3, proxies=[], recipes=SLOW_ROTATION)
    driver = start_driver(config, "--workers", "2")
    try:
        results = tmp_path / "study" / "results"
        # both workers are up and one has already finished a job: they are mid-study
        wait_for(lambda: results.is_dir() and any(results.glob("*.json")), 120, "a first row")
        workers = [p for p, cmd in children(driver.pid).items() if "spawn_main" in cmd]
        assert len(workers) == 2, children(driver.pid)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)
        rows = set(results.glob("*.json"))
        # the time allowed only bounds how long the kernel takes to end two processes; that they died with
        # their driver, not after finishing their jobs, shows in the rows: a job that went on would write one
        wait_for(lambda: not any(alive(p) for p in workers), 60, "the workers to exit after their driver died")
        assert set(results.glob("*.json")) == rows, "a worker finished its job after the driver died"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    # the kernel dropped the driver's lock: the directory is free for the next run
    code, out, err = cli("study", "plan", str(config))
    assert code == 0, err


def test_a_second_run_is_refused_and_ctrl_c_keeps_finished_rows(tmp_path, cli):
    # 40 architectures × 2 tasks: far more work than fits before Ctrl-C even when the two refused commands
    # below take long on a loaded machine (the interrupt stops the study, so the size costs nothing)
    config = write_tiny_study(tmp_path, count=40, proxies=[], recipes=SLOW_ROTATION)
    study, total = tmp_path / "study", 80
    driver = start_driver(config, "--workers", "2")
    try:
        lock = study / ".lock"
        wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(driver.pid), 120, "the driver's lock")
        for action in ("run", "plan"):
            code, out, err = cli("study", action, str(config))
            assert code == 2 and out == "", (out, err)
            assert err.strip() == (f"unnas study: error: study directory {study} is in use by another unnas process "
                                   f"(pid {driver.pid}); wait for it to finish or choose another out_dir")

        wait_for(lambda: any((study / "results").glob("*.json")), 120, "a first row")
        workers = [p for p, cmd in children(driver.pid).items() if "spawn_main" in cmd]
        driver.send_signal(signal.SIGINT)  # Ctrl-C, delivered to the driver alone
        _out, err = driver.communicate(timeout=120)  # a bound for a hang, not a measurement
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 130 and "interrupted; re-run the same command to resume" in err
    assert not any(alive(p) for p in workers)
    rows = [json.loads(p.read_text()) for p in (study / "results").glob("*.json")]
    assert 1 <= len(rows) < total and all(r["status"] == "ok" for r in rows)  # stopped jobs are pending, not failed
    code, out, err = cli("study", "status", str(config))
    all_line = next(line.split() for line in out.splitlines() if line.startswith("all "))
    assert code == 0 and all_line == ["all", str(len(rows)), "0", "0", str(total - len(rows))], out
