"""Schema of ``unnas search strategy=ncp``: code propagation through fitted predictors (NCP).

One objective per (predictor, metric) pair: ``predictor`` and ``metric`` are comma-separated
lists, a single entry being shared by all (``predictor=p.pt metric=rotation,jigsaw`` propagates
rotation and jigsaw jointly through one predictor). ``weights`` weigh the objectives (default 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from unnas.errors import ConfigError

from .schema import SearchBase

MODES = ("continuous", "wta")


@dataclass
class NcpConfig(SearchBase):
    """``unnas search`` with ``strategy: ncp``. It trains nothing: ``data`` and ``task_options`` (shared by every
    strategy) are not read."""

    rules = {"strategy": ("ncp",), "weights": ">= 0", "mode": MODES, "lam": "[0, 1e6]", "lr": "(0, 1e6]",
             "iterations": "[1, 100000]", "project_every": ">= 0"}

    strategy: str = "ncp"
    #: predictor.pt file(s) of `unnas predictor fit`, comma-separated for joint propagation.
    predictor: str = ""
    #: Metric(s) to raise, comma-separated (default: the predictor's first task metric).
    metric: str = ""
    #: One weight per objective (default: 1 each); the gradient is the weighted sum.
    weights: List[float] = field(default_factory=list)
    #: The predictor head to lower (targets p − 1); empty: no FLOPs term.
    flops_metric: str = "madds"
    #: continuous (every dimension moves) or wta (winner takes all: one dimension per iteration).
    mode: str = "continuous"
    #: λ of the FLOPs term.
    lam: float = 0.5
    lr: float = 3.0
    iterations: int = 70
    #: Project the code to the nearest valid architecture every N iterations (0: only at the end).
    project_every: int = 10
    #: Start architecture (a genotype/spec file or a published name); default: the space's default.
    start: Optional[str] = None

    def default_out_dir(self) -> str:
        return f"runs/search-ncp-{self.metric.replace(',', '+') or 'default'}"

    def validate(self) -> None:
        if not self.predictor:
            raise ConfigError("strategy=ncp needs predictor=PATH (a predictor.pt of `unnas predictor fit`)")
