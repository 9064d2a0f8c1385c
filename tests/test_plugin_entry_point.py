"""A third-party task installed as a distribution with an ``unnas.tasks`` entry point is found,
listed and usable for a search, with no change to unnas."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import pretext
from conftest import tiny_search_overrides
from pretext import registry

PLUGIN = textwrap.dedent('''
    """A toy pretext task: was the image darkened?"""
    import torch
    import pretext
    from pretext.heads import PooledClassifier


    class BrightnessTask(pretext.Task):
        name = "brightness"
        description = "tell original images from darkened copies (a plug-in)"

        def prepare(self, images, labels=None, *, train=True, generator=None):
            self.check_images(images)
            x = torch.cat([images, images * 0.5])
            y = torch.cat([torch.zeros(len(images)), torch.ones(len(images))]).long().to(images.device)
            return self.normalize(x), y

        def build_head(self, in_channels):
            return PooledClassifier(in_channels, 2)
''')


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "brightness_plugin").mkdir(parents=True)
    (site / "brightness_plugin" / "__init__.py").write_text(PLUGIN)
    dist = site / "brightness_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brightness-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unnas.tasks]\nbrightness = brightness_plugin:BrightnessTask\n")
    monkeypatch.syspath_prepend(str(site))
    registry.reload_entry_points()
    yield site
    registry.unregister_task("brightness")
    sys.modules.pop("brightness_plugin", None)


def test_entry_point_task_is_registered_and_searchable(installed_plugin, tmp_path, cli):
    assert "brightness" in pretext.list_tasks()
    task = pretext.build_task("brightness")
    assert type(task).__module__ == "brightness_plugin"
    code, out, _ = cli("tasks")
    assert code == 0 and "brightness" in out and "(a plug-in)" in out
    code, out, err = cli("search", "task=brightness", *tiny_search_overrides(tmp_path / "run", **{"optim.epochs": 1}))
    assert code == 0, err
    assert (tmp_path / "run" / "genotype.json").exists()


def test_entry_point_is_seen_by_a_fresh_process(installed_plugin):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed_plugin), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "unnas.cli", "tasks"], capture_output=True, text=True, env=env, check=True)
    assert "brightness" in out.stdout


def test_duplicate_task_name_is_rejected():
    from unnas.errors import TaskError

    class Impostor(pretext.Task):
        name = "rotation"

        def prepare(self, images, labels=None, *, train=True, generator=None):
            raise NotImplementedError

        def build_head(self, in_channels):
            raise NotImplementedError

    with pytest.raises(TaskError, match="already registered"):
        pretext.register_task(Impostor)
