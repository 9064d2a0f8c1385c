"""Device choice: CUDA when present (``auto``), else CPU."""

from __future__ import annotations

import os

import torch

from unnas.errors import ConfigError


def resolve_device(spec: str, local_rank: int | None = None) -> torch.device:
    """``local_rank`` (under torchrun) picks the process's own GPU."""
    if spec == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", local_rank or 0)
    if spec == "cuda" and local_rank is not None:
        spec = f"cuda:{local_rank}"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"device={spec!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={spec!r} but CUDA is not available here; use device=cpu or device=auto")
    return device


def set_determinism(enabled: bool, device: torch.device) -> None:
    """Deterministic kernels (bit-identical reruns). On CUDA this needs a cuBLAS workspace setting."""
    if enabled and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=device.type == "cuda")
    torch.backends.cudnn.benchmark = not enabled
