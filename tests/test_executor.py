"""The one executor (issue #25): order, dependencies, a dead worker, GPUs round-robin, SLURM holds."""

from __future__ import annotations

import os

import pytest

from unnas.trials.executor import InProcess, LocalProcesses, Submitit, build_executor


def _echo(value):
    return value


def _fail(message):
    raise ValueError(message)


def _die_on(value, fatal):
    if value == fatal:
        os._exit(9)  # as if killed: no reply, no exception
    return value


def _visible_gpu(_):
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def _drain(executor) -> list:
    ended = []
    while executor.pending:
        ended += executor.finished()
    return ended


def test_in_process_runs_by_priority_and_waits_for_dependencies():
    ex = InProcess()
    search_ok = ex.submit(_echo, {"status": "ok"}, priority=0)
    search_bad = ex.submit(_echo, {"status": "failed"}, priority=1)
    random_train = ex.submit(_echo, "random", priority=4)
    train_ok = ex.submit(_echo, "train of ok", priority=2, after=search_ok, when=lambda r: r["status"] == "ok")
    train_bad = ex.submit(_echo, "train of bad", priority=3, after=search_bad, when=lambda r: r["status"] == "ok")
    order = [t for t in _drain(ex)]
    ran = [t.result for t in order if t.started]
    assert ran == [{"status": "ok"}, {"status": "failed"}, "train of ok", "random"]
    assert train_bad.done and not train_bad.started and "not run" in train_bad.lost
    assert train_ok.ok() and random_train.ok()


def test_an_exception_of_the_call_reaches_the_caller():
    ex = InProcess()
    task = ex.submit(_fail, "bad setting")
    (done,) = ex.finished()
    assert done is task and task.lost is None
    with pytest.raises(ValueError, match="bad setting"):
        task.outcome()


def test_a_dead_worker_loses_only_its_task_and_is_replaced():
    with LocalProcesses(2, "cpu") as ex:
        tasks = [ex.submit(_die_on, i, 0) for i in range(4)]  # the first worker takes task 0 and dies
        _drain(ex)
        later = [ex.submit(_echo, i) for i in range(2)]  # tasks wait again: a replacement joins the survivor
        _drain(ex)
        started = list(ex.started_pids)
    dead = tasks[0]
    assert dead.lost.startswith("worker died, exit code 9") and f"pid {dead.pid}" in dead.lost
    assert [t.outcome() for t in tasks[1:]] == [1, 2, 3] and [t.outcome() for t in later] == [0, 1]
    assert len(started) == 3


def test_workers_take_one_gpu_each_round_robin_and_a_replacement_keeps_the_dead_ones():
    ex = LocalProcesses(2, "cpu")
    ex.gpus = 2  # what CUDA would report: each worker is told its GPU before torch starts (no GPU is needed here)
    with ex:
        first = [ex.submit(_visible_gpu, i) for i in range(2)]  # two idle workers: one task each
        _drain(ex)
        dead = ex.submit(_die_on, "x", "x")
        _drain(ex)
        rest = [ex.submit(_visible_gpu, i) for i in range(2)]  # the survivor takes one, a replacement the other
        _drain(ex)
        live = sorted(w["gpu"] for w in ex.state()["workers"])
    assert sorted(t.outcome() for t in first) == ["0", "1"] and dead.lost is not None
    assert sorted(t.outcome() for t in rest) == ["0", "1"]  # the replacement took the dead worker's GPU
    assert live == [0, 1] and len(ex.started_pids) == 3


def test_build_executor_picks_the_kind():
    assert isinstance(build_executor("local", 1), InProcess)
    ex = build_executor("local", 2, "cpu")
    assert isinstance(ex, LocalProcesses) and ex.workers == 2 and ex.gpus == 0
    ex.close()


class _Job:
    """A submitit job as the executor sees it."""

    ids = iter(range(100, 1000))

    def __init__(self, result):
        self.job_id, self._result, self.finished, self.cancelled = str(next(self.ids)), result, False, False

    def done(self):
        return self.finished or self.cancelled

    def result(self):
        if self.cancelled:
            raise RuntimeError("job cancelled")
        return self._result

    def cancel(self, check=True):
        self.cancelled = True


class _SlurmCluster:
    """submitit's AutoExecutor on a SLURM cluster (sbatch is not here): records what is submitted with which
    --dependency; a job ends when the test says so."""

    cluster = "slurm"

    def __init__(self):
        self.params, self.submitted, self._batch = {}, [], None

    def update_parameters(self, **params):
        self.params.update(params)

    def batch(self):
        cluster = self

        class _Batch:
            def __enter__(self):
                cluster._batch = []

            def __exit__(self, *exc):
                cluster.submitted.append((dict(cluster.params.get("slurm_additional_parameters", {})), cluster._batch))
                cluster._batch = None

        return _Batch()

    def submit(self, fn, *args):
        job = _Job(fn(*args))
        self._batch.append(job)
        return job


def test_slurm_holds_dependent_tasks_by_afterok_and_cancels_them_when_not_wanted():
    cluster = _SlurmCluster()
    ex = Submitit(cluster, threads=1, additional={"account": "lab"})
    search_a = ex.submit(_echo, {"status": "ok"})
    search_b = ex.submit(_echo, {"status": "failed"})
    ok = lambda r: r["status"] == "ok"  # noqa: E731
    train_a = ex.submit(_echo, "a", after=search_a, when=ok)
    train_b = ex.submit(_echo, "b", after=search_b, when=ok)
    ex.poll_s = 0.0
    assert ex.finished(block=False) == []
    first, *held = cluster.submitted
    assert first == ({}, [ex._jobs[search_a.id], ex._jobs[search_b.id]])  # one array, no dependency
    deps = sorted(extra["dependency"] for extra, _jobs in held)
    assert deps == sorted(f"afterok:{ex._jobs[s.id].job_id}" for s in (search_a, search_b))
    assert all(extra["account"] == "lab" and extra["kill-on-invalid-dep"] == "yes" for extra, _jobs in held)
    assert cluster.params["slurm_additional_parameters"] == {"account": "lab"}  # restored for later arrays
    for search in (search_a, search_b):
        ex._jobs[search.id].finished = True
    ended = ex.finished()
    assert {t.id for t in ended} >= {search_a.id, search_b.id, train_b.id}
    assert ex._jobs[train_b.id].cancelled and "not run" in train_b.lost  # its search did not end ok
    ex._jobs[train_a.id].finished = True
    assert ex.finished() == [train_a] and train_a.outcome() == "a"


def test_submitit_local_cluster_runs_tasks_in_subprocesses(tmp_path):
    from unnas.config.schema import SlurmConfig

    ex = build_executor("slurm", 0, "cpu", SlurmConfig(cluster="local", cpus_per_task=1, gpus_per_node=0,
                                                      time_min=5), tmp_path / "submitit")
    first = ex.submit(abs, -1)  # a call the subprocess can unpickle (the tests folder is not on its path)
    second = ex.submit(abs, -2, after=first, when=lambda r: r == 1)
    assert [t.outcome() for t in _drain(ex)] == [1, 2] and second.ok()
