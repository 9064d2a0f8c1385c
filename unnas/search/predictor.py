"""A multi-metric neural predictor from architecture codes to a study's results (NCP, Ding et al. 2022).

Every study leaves a table architectures × (task metrics, params, multiply-adds); the predictor
learns it so that :mod:`unnas.search.ncp` can move a code along its gradient. The network is the
paper's: a shared 256-unit layer, then per metric a 128-unit layer and one output, dropout 0.5,
smooth-L1 loss, Adam (lr 0.01, weight decay 1e-7) under a one-cycle schedule, batch 128, 200
epochs. Each metric is normalised (z-score over the training rows; log10 first when its positive
values span more than 1e3, e.g. synflow), a missing value (a failed job) is left out of the loss,
and the rows are split into training and validation by a seeded permutation: the validation
ranking (Spearman, Kendall) says how far the predictor can be trusted.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from scipy import stats
from torch import nn

from unnas.atomic import atomic_torch_save
from unnas.errors import ConfigError, DataError
from unnas.figures import axis_scale
from unnas.trials.spaces import code_space
from unnas.trials.table import StudyTable, read_study_table

FORMAT = "unnas-ncp-predictor/1"
MIN_ROWS = 4


# ----------------------------------------------------------------------------- normalisation
def transform_for(values: np.ndarray) -> str:
    """``log`` when the finite positive values span more than 1e3 (the study plots' rule), else ``linear``."""
    v = values[np.isfinite(values)]
    return "log" if v.size and axis_scale(v)[0] == "log" else "linear"


@dataclass
class Normaliser:
    transforms: list[str]
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, values: np.ndarray) -> "Normaliser":
        transforms = [transform_for(values[:, m]) for m in range(values.shape[1])]
        out = cls(transforms, [0.0] * len(transforms), [1.0] * len(transforms))
        u = out._forward(values)
        for m in range(u.shape[1]):
            col = u[np.isfinite(u[:, m]), m]
            out.mean[m] = float(col.mean()) if col.size else 0.0
            out.std[m] = float(col.std()) if col.size > 1 and col.std() > 0 else 1.0
        return out

    def _forward(self, values: np.ndarray) -> np.ndarray:
        u = np.array(values, dtype=np.float64, copy=True)
        for m, t in enumerate(self.transforms):
            if t == "log":
                with np.errstate(divide="ignore", invalid="ignore"):
                    u[:, m] = np.where(u[:, m] > 0, np.log10(u[:, m]), np.nan)
        return u

    def normalise(self, values: np.ndarray) -> np.ndarray:
        return (self._forward(values) - np.array(self.mean)) / np.array(self.std)

    def denormalise(self, z: np.ndarray) -> np.ndarray:
        u = np.asarray(z, dtype=np.float64) * np.array(self.std) + np.array(self.mean)
        for m, t in enumerate(self.transforms):
            if t == "log":
                u[..., m] = 10.0 ** u[..., m]
        return u


# ----------------------------------------------------------------------------- the network
class PredictorNet(nn.Module):
    """Shared Linear(D, 256) → per metric Linear(256, 128) → Linear(128, 1); ReLU and dropout between."""

    def __init__(self, dim: int, n_metrics: int, hidden: int = 256, head: int = 128, dropout: float = 0.5):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Dropout(dropout),
                                                 nn.Linear(head, 1)) for _ in range(n_metrics))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        h = self.shared(code)
        return torch.cat([head(h) for head in self.heads], dim=-1)


@dataclass
class FitSettings:
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.01
    weight_decay: float = 1e-7
    dropout: float = 0.5
    val_fraction: float = 0.2
    seed: int = 0


@dataclass
class Predictor:
    """A fitted predictor: the network in eval mode plus what it needs to read and write metrics."""

    space: str
    metrics: list[str]
    net: PredictorNet
    normaliser: Normaliser
    settings: FitSettings = field(default_factory=FitSettings)
    split: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    study: str = ""

    @property
    def code(self):
        return code_space(self.space)

    def index(self, metric: str) -> int:
        if metric not in self.metrics:
            raise ConfigError(f"the predictor has no metric {metric!r}; its metrics: {', '.join(self.metrics)}")
        return self.metrics.index(metric)

    def predict(self, codes: np.ndarray) -> np.ndarray:
        """Metrics in their own units for N codes (N × M)."""
        with torch.no_grad():
            z = self.net(torch.as_tensor(np.atleast_2d(codes), dtype=torch.float32)).double().numpy()
        return self.normaliser.denormalise(z)

    def save(self, path: str | Path) -> Path:
        return atomic_torch_save(path, {
            "format": FORMAT, "space": self.space, "metrics": self.metrics, "dim": self.code.dim,
            "state_dict": self.net.state_dict(), "normaliser": vars(self.normaliser), "settings": vars(self.settings),
            "split": self.split, "scores": self.scores, "study": self.study,
        })


def load_predictor(path: str | Path) -> Predictor:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"predictor {path} does not exist; fit one with `unnas predictor fit STUDY_DIR`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise DataError(f"predictor {path} cannot be read ({str(exc).splitlines()[0][:120]}); fit it again") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"{path} is not a predictor written by `unnas predictor fit` (format {FORMAT})")
    try:
        settings = FitSettings(**obj["settings"])
        net = PredictorNet(obj["dim"], len(obj["metrics"]), dropout=settings.dropout)
        net.load_state_dict(obj["state_dict"])
        predictor = Predictor(obj["space"], list(obj["metrics"]), net.eval(), Normaliser(**obj["normaliser"]),
                              settings, obj["split"], obj["scores"], obj["study"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # the tag, but not the content
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataError(f"predictor {path} is damaged or of another version ({detail}); fit it again") from None
    if predictor.code.dim != obj["dim"]:
        raise DataError(f"predictor {path} takes {obj['dim']}-value codes but space {obj['space']} has "
                        f"{predictor.code.dim}; fit it again")
    return predictor


# ----------------------------------------------------------------------------- fitting
@contextmanager
def one_thread():
    """One intra-op thread: the MLP is tiny, and threads spinning on a busy machine cost ~10× (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) row indices from a seeded permutation; at least 2 rows on each side."""
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if n < MIN_ROWS:
        raise DataError(f"the study has results for {n} architectures; a predictor needs at least {MIN_ROWS}")
    n_val = min(max(2, round(n * val_fraction)), n - 2)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def rank_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """Spearman and Kendall of predicted vs true over the finite rows (None when undefined)."""
    ok = np.isfinite(pred) & np.isfinite(true)
    out: dict[str, Any] = {"n": int(ok.sum()), "spearman": None, "kendall": None}
    if ok.sum() >= 2 and np.ptp(true[ok]) > 0 and np.ptp(pred[ok]) > 0:
        out["spearman"] = float(stats.spearmanr(pred[ok], true[ok])[0])
        out["kendall"] = float(stats.kendalltau(pred[ok], true[ok])[0])
    return out


def fit_predictor(space: str, codes: np.ndarray, values: np.ndarray, metrics: Sequence[str],
                  settings: FitSettings | None = None, ids: Sequence[str] | None = None, study: str = "") -> Predictor:
    """Fit on the seeded training rows and score every metric on the validation rows."""
    s = settings or FitSettings()
    if s.epochs < 1 or s.batch_size < 1 or not s.lr > 0:
        raise ConfigError(f"epochs, batch_size and lr must be positive, got {s.epochs}, {s.batch_size}, {s.lr}")
    codes, values = np.asarray(codes, dtype=np.float32), np.asarray(values, dtype=np.float64)
    train, val = split_rows(len(codes), s.val_fraction, s.seed)
    normaliser = Normaliser.fit(values[train])
    z = normaliser.normalise(values)
    x, y = torch.as_tensor(codes), torch.as_tensor(z, dtype=torch.float32)
    mask = torch.isfinite(y)
    y = torch.nan_to_num(y, nan=0.0)
    with torch.random.fork_rng(devices=[]), one_thread():
        torch.manual_seed(s.seed)
        net = PredictorNet(codes.shape[1], len(metrics), dropout=s.dropout)
        opt = torch.optim.Adam(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        steps = math.ceil(len(train) / s.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.epochs * steps)
        g = torch.Generator().manual_seed(s.seed)
        idx = torch.as_tensor(train)
        net.train()
        for _ in range(s.epochs):
            for batch in idx[torch.randperm(len(idx), generator=g)].split(s.batch_size):
                m = mask[batch]
                loss = nn.functional.smooth_l1_loss(net(x[batch])[m], y[batch][m]) if m.any() else None
                opt.zero_grad(set_to_none=True)
                if loss is not None:
                    loss.backward()
                    opt.step()
                sched.step()
    net.eval()
    ids = list(ids) if ids is not None else [str(i) for i in range(len(codes))]
    predictor = Predictor(space, list(metrics), net, normaliser, s, study=study,
                          split={"train": [ids[i] for i in train], "val": [ids[i] for i in val]})
    pred = predictor.predict(codes)
    predictor.scores = {m: {"val": rank_scores(pred[val, k], values[val, k]),
                            "train": rank_scores(pred[train, k], values[train, k])}
                        for k, m in enumerate(metrics)}
    return predictor


def fit_study(study_dir: str | Path, settings: FitSettings | None = None,
              metrics: Sequence[str] | None = None) -> tuple[Predictor, StudyTable]:
    table = read_study_table(study_dir)
    if metrics:
        missing = [m for m in metrics if m not in table.metrics]
        if missing:
            raise ConfigError(f"metric {missing[0]!r} is not in the study's results; it has: {', '.join(table.metrics)}")
        cols = [table.metrics.index(m) for m in metrics]
        table = StudyTable(table.space, table.ids, table.codes, list(metrics), table.values[:, cols], table.study)
    return fit_predictor(table.space, table.codes, table.values, table.metrics, settings, table.ids,
                         table.study), table
