"""The one finiteness check of every training path — a diverged run is a failure, never a result.

Search (DARTS), ``unnas train``, study jobs and black-box fitness all train through a
:class:`FiniteGuard`. It keeps one boolean per kind of value on the device and ANDs into it every
training loss (:meth:`~FiniteGuard.observe`) and every evaluation output
(:meth:`~FiniteGuard.observe_outputs`), so the hot loop never waits for the host.
:meth:`~FiniteGuard.check` reads those flags back together with the finiteness of every parameter
**and floating buffer** of the given modules (BatchNorm's running mean/var: with a huge lr they go
Inf while the weights are still finite, and evaluation then scores NaN activations at chance) and of
the numbers of any metric dicts — one ``isfinite().all()`` reduction per tensor, stacked, one host
sync — and raises :class:`~unnas.errors.DivergedError` (one line, exit code 3) if anything is not
finite. Callers check at log steps (flags only), at every epoch end and before every checkpoint,
genotype, α, history or result write (model state, outputs and metrics), so no non-finite state and
no score computed from NaN activations ever reaches the disk or a caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn

from unnas.errors import DivergedError

#: What each device-side flag covers, as the error message names it.
LOSS, OUTPUT = "a training loss", "an evaluation output"


def state_tensors(modules: Iterable[nn.Module]) -> Iterator[tuple[str, Tensor]]:
    """``(name, tensor)`` for every floating parameter and buffer of ``modules`` (shared ones once)."""
    seen: set[int] = set()
    for module in modules:
        for name, t in (*module.named_parameters(), *module.named_buffers()):
            if t.is_floating_point() and t.numel() and id(t) not in seen:
                seen.add(id(t))
                yield name, t


def _numbers(obj: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, float or tensor)`` for every number in a nested metrics dict/list."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{where}[{i}]")
    elif isinstance(obj, (float, Tensor)):
        yield where or "value", obj


class FiniteGuard:
    """Device-side finiteness flags for one run, and the check that turns a non-finite state into
    :class:`DivergedError`. ``what`` names the run ("training", "search"); ``hint`` names the
    settings to lower (``"recipe.lr=0.1"``); ``advice`` replaces the default advice after the cause.
    With a distributed context ``dist``, every rank stops when one of them sees a non-finite value."""

    def __init__(self, device: torch.device | str, what: str, hint: str = "the learning rate", *,
                 advice: str | None = None, dist=None):
        device = torch.device(device)
        self.flags = {kind: torch.ones((), dtype=torch.bool, device=device) for kind in (LOSS, OUTPUT)}
        self.what, self.dist = what, dist
        self.advice = advice or (f"{hint} is likely too high — lower it and use a new out_dir "
                                 "(the last good checkpoint is kept, no result was written)")

    @property
    def flag(self) -> Tensor:
        """All flags ANDed (device tensor; reading it syncs)."""
        return self.flags[LOSS] & self.flags[OUTPUT]

    def observe(self, value: Tensor, kind: str = LOSS) -> None:
        """AND ``value``'s finiteness into the flag of ``kind``, on the device (no host sync)."""
        flag = self.flags[kind]
        flag &= torch.isfinite(value.detach()).all().to(flag.device)

    def observe_outputs(self, outputs: Any) -> None:
        """An evaluation's model outputs (a tensor, or a tuple/list/dict of them): NaN activations
        must never become a score, whatever ``argmax`` makes of them."""
        for _key, t in _numbers(outputs):
            if isinstance(t, Tensor) and t.is_floating_point():
                self.observe(t, OUTPUT)

    def check(self, step: int | None = None, epoch: int | None = None, modules: Iterable[nn.Module] = (),
              metrics: Any = None) -> None:
        """Raise :class:`DivergedError` if an observed loss or output, a parameter or floating buffer of
        ``modules``, or a number of ``metrics`` (a nested dict/list of floats/tensors) is not finite.
        One ``isfinite().all()`` per tensor, stacked: one host sync for all of them."""
        modules = [modules] if isinstance(modules, nn.Module) else list(modules)
        device = self.flags[LOSS].device
        tensors = list(state_tensors(modules))
        numbers = list(_numbers(metrics)) if metrics is not None else []
        host_bad = next((k for k, v in numbers if isinstance(v, float) and not math.isfinite(v)), None)
        flags = [self.flag] + [torch.isfinite(t.detach()).all().to(device) for _n, t in tensors]
        flags += [torch.isfinite(v.detach()).all().to(device) for _k, v in numbers if isinstance(v, Tensor)]
        ok = torch.stack(flags).all()
        if self.dist is not None and self.dist.enabled:  # a rank that stops alone would hang the others
            ok = ok.to(torch.int32)
            torch_dist.all_reduce(ok, op=torch_dist.ReduceOp.MIN)
        if bool(ok) and host_bad is None:  # the one host sync
            return
        raise DivergedError(self._message(step, epoch, tensors, numbers, host_bad), step=step)

    def _message(self, step, epoch, tensors, numbers, host_bad) -> str:
        """One line naming the first non-finite value found (only on failure: syncs freely)."""
        cause = next((kind for kind, flag in self.flags.items() if not bool(flag)), None)
        if cause is None:
            bad = next(((n, t) for n, t in tensors if not bool(torch.isfinite(t).all())), None)
            if bad is not None:
                name, t = bad
                kind = ("a weight or α" if isinstance(t, nn.Parameter)
                        else "a batch-norm running statistic" if "running_" in name else "a buffer")
                cause = f"{kind} ({name})"
        if cause is None:
            key = host_bad or next((k for k, v in numbers if isinstance(v, Tensor)
                                    and not bool(torch.isfinite(v).all())), None)
            cause = f"an evaluation metric ({key})" if key is not None else "a value on another process"
        where = f" at step {step} (epoch {epoch})" if step is not None else ""
        return f"{self.what} diverged{where}: {cause} became NaN/Inf; {self.advice}"

