"""Decode and prepare the first batch of every data stream before a run touches its directory.

Some user mistakes only show once data is decoded: a corrupt first image, a colour task on
grayscale photos, a Cityscapes label outside the train ids, a crop too large for memory, batch
norm left with one value per channel. Finding them in the first training step would leave a
``config.yaml`` and ``metrics.jsonl`` behind; here they end as one line with nothing on disk.

Nothing here changes the run: samples are decoded from their own per-sample seeds (as the
loader would), the task prepares them in a copy of itself with a throwaway generator, and the
model is only traced on the meta device (no weights, buffers or RNG touched).
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Mapping

import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from unnas.errors import ConfigError, UnnasError, one_line

_OOM_MARKERS = ("DefaultCPUAllocator", "not enough memory", "can't allocate memory", "out of memory",
                "Cannot allocate memory")
_TOO_SMALL_MARKERS = ("Output size is too small", "Kernel size can't be greater than actual input size",
                      "smaller than kernel size")


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(exc, RuntimeError) and any(m in str(exc) for m in _OOM_MARKERS))


def _requested(exc: BaseException) -> str:
    m = re.search(r"allocate (\d+) bytes", str(exc))
    if m:
        return f"{int(m.group(1)) / 2**30:.1f} GiB requested"
    m = re.search(r"[Tt]ried to allocate ([\d.]+ ?[KMGT]i?B)", str(exc))
    return f"{m.group(1)} requested" if m else "allocation failed"


def _probe(task):
    """A copy of the task to prepare with, so running state (colorization's bin counts, its
    accelerator gray checks) stays as the run will find it."""
    try:
        return copy.deepcopy(task)
    except Exception:  # a third-party task that cannot be copied: prepare with the task itself
        return task


def check_first_batches(dataset, task, samplers: Mapping[str, object], device: torch.device,
                        model: nn.Module | None = None, crop_size: int | None = None) -> None:
    """Decode and ``task.prepare`` the first batch of each sampler (``{config key of its batch
    size: sampler}``; a sampler yields dataset keys and has ``batch_size``), then trace ``model``
    on the meta device with the prepared inputs. Raises one-line UnnasErrors for user mistakes;
    errors that are not are left to the run itself."""
    probe = _probe(task)
    generator = torch.Generator(device=device).manual_seed(0)
    for key, sampler in samplers.items():
        batch_size = int(sampler.batch_size)
        keys = list(itertools.islice(iter(sampler), batch_size))
        if not keys:
            continue
        try:
            images, labels = default_collate([dataset[k] for k in keys])
            images = images.to(device)
            labels = labels.to(device) if task.needs_labels else None
            inputs, _ = probe.prepare(images, labels, train=True, generator=generator)
        except UnnasError:
            raise
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            what = f"data.crop_size={crop_size} needs" if crop_size else "the images need"
            raise ConfigError(f"{what} too much memory: one batch of {key}={batch_size} cannot be prepared "
                              f"({_requested(exc)}); use a smaller crop (data.crop_size, data.resize_size, "
                              "data.base_size) or batch") from None
        if model is not None:
            check_model_shapes(model, inputs, key, batch_size, crop_size)


def check_model_shapes(model: nn.Module, inputs: Tensor, key: str, batch_size: int, crop_size: int | None) -> None:
    """Run ``model`` in training mode on the meta device: shapes only, nothing computed or changed.

    Finds batch norm with one value per channel (batch 1 after global pooling) and inputs too
    small for the network's pooling; anything the meta device cannot run is left to the run.
    """
    meta = {name: torch.empty_like(t, device="meta")
            for name, t in itertools.chain(model.named_parameters(), model.named_buffers())}
    was_training = model.training
    model.train()
    try:
        with torch.no_grad():
            torch.func.functional_call(model, meta, (torch.empty_like(inputs, device="meta"),))
    except ValueError as exc:
        if "Expected more than 1 value per channel" in str(exc):
            raise ConfigError(f"{key}={batch_size} leaves batch norm a single value per channel "
                              f"({one_line(exc).rsplit('got input size ', 1)[-1]}); use {key} of at least 2"
                              + (" or a larger data.crop_size" if crop_size else "")) from None
    except RuntimeError as exc:
        if any(m in str(exc) for m in _TOO_SMALL_MARKERS):
            h, w = inputs.shape[-2:]
            size = f"data.crop_size={crop_size} is" if crop_size else f"{h}×{w}-px inputs are"
            raise ConfigError(f"{size} too small for this network ({one_line(exc)}); use larger images "
                              "(data.crop_size) or a network with fewer reductions") from None
    except Exception:  # noqa: BLE001 — not a shape problem we can name; the first real step will tell
        pass
    finally:
        model.train(was_training)
