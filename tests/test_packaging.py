"""unnas installed from its wheel, outside the checkout, still finds its presets (issue #23).

The wheel is built from a copy of the source files, installed with ``--no-deps`` into a fresh
virtual environment that sees this environment's site-packages (torch and the other
dependencies) through a ``.pth`` line but not its editable unnas, and the README's commands run
from an empty directory elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from conftest import REPO

#: What a wheel is built from (everything else in the checkout is development material).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "unnas", "pretext", "eval", "configs")


def _run(cmd: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _build_wheel(tmp: Path, env: dict) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    wheels = tmp / "wheels"
    # Offline first (setuptools is here: torch depends on it); an isolated build needs the package index.
    for isolation in (["--no-build-isolation"], []):
        proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", wheels, src], tmp, env)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("unnas-*.whl")
    return wheel


def test_a_wheel_installed_elsewhere_runs_the_readme_presets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    wheel = _build_wheel(tmp_path, env)
    venv = tmp_path / "venv"
    proc = _run([sys.executable, "-m", "venv", venv], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    fresh_site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path,
                           env).stdout.strip())
    # the dependencies of this environment, without its .pth files (its editable unnas among them)
    deps = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (fresh_site / "deps.pth").write_text("".join(f"{p}\n" for p in deps))
    proc = _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-2000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    unnas = venv / "bin" / "unnas"
    where = _run([python, "-c", "import unnas; print(unnas.__file__)"], elsewhere, env)
    assert Path(where.stdout.strip()).is_relative_to(fresh_site), where.stdout + where.stderr

    listing = _run([unnas, "presets"], elsewhere, env)
    assert listing.returncode == 0, listing.stderr
    for name in ("fashion_mnist/rea_naswot", "demo/rot", "cls/demo", "darts/fashion_mnist_quick"):
        assert name in listing.stdout
    paths = _run([unnas, "presets", "search", "--paths"], elsewhere, env)
    assert str(fresh_site / "unnas" / "presets" / "search") in paths.stdout

    plan = _run([unnas, "study", "plan", "darts/fashion_mnist_quick", "out_dir=study", "progress=false"], elsewhere, env)
    assert plan.returncode == 0, plan.stderr
    assert len(json.loads((elsewhere / "study" / "plan.json").read_text())["jobs"]) > 0

    for cmd in (["search", "fashion_mnist/rea_naswot", "--print-config"], ["train", "darts_v2", "cls/demo",
                                                                            "--print-config"]):
        shown = _run([unnas, *cmd], elsewhere, env)
        assert shown.returncode == 0, shown.stderr
        assert "out_dir" in shown.stdout

    demo = _run([unnas, "search", "out_dir=demo", "optim.epochs=1", "optim.iters_per_epoch=2", "data.length=16",
                 "model.width=4", "model.cells=2", "data.crop_size=32", "data.resize_size=36", "eval_batches=1",
                 "progress=false"], elsewhere, env)
    assert demo.returncode == 0, demo.stderr
    assert (elsewhere / "demo" / "genotype.json").is_file()
    assert "Traceback" not in demo.stderr and "benchmarks/" not in demo.stderr
