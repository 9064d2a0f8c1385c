"""Stop a run at its first non-finite loss, weight or α — a diverged run is a failure, never a result.

The guard keeps one boolean on the device and ANDs every loss into it, so the hot loop never
waits for the host; :meth:`FiniteGuard.check` reads it back (one sync) at log steps and before
every checkpoint or result is written, so no NaN state ever reaches the disk.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from unnas.errors import DivergedError


class FiniteGuard:
    def __init__(self, device: torch.device, what: str, hint: str):
        self.flag = torch.ones((), dtype=torch.bool, device=device)
        self.what, self.hint = what, hint

    def observe(self, value: Tensor) -> None:
        """AND ``value``'s finiteness into the flag, on the device (no host sync)."""
        self.flag &= torch.isfinite(value.detach()).all()

    def check(self, step: int, epoch: int, params: Iterable[Tensor] = ()) -> None:
        """Raise :class:`DivergedError` if any observed value, or any of ``params``, is not finite."""
        flags = [self.flag] + [torch.isfinite(p.detach()).all() for p in params]
        if not bool(torch.stack(flags).all()):  # one host sync for all of them
            raise DivergedError(f"{self.what} diverged at step {step} (epoch {epoch}): a loss, weight or α became "
                                f"NaN/Inf; {self.hint} are likely too high — lower them and use a new out_dir "
                                "(the last good checkpoint is kept, no result was written)", step=step)
