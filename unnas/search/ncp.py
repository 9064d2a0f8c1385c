"""Network code propagation (NCP, Ding et al. 2022): move an architecture code along a predictor's gradient.

Targets are fixed at the start in each predictor's normalised units: ``t = p + 1`` for every metric
to raise and ``t_flops = p_flops − 1``. The loss is ``Σ_k w_k·smoothL1(p_k, t_k) + λ·smoothL1(p_flops,
t_flops)``, so a joint search over several predictors (or heads) descends the weighted sum of their
gradients. ``continuous`` moves every dimension, ``code ← code − lr·∇``; ``wta`` (winner takes all)
moves only the dimension with the best predicted accuracy gain per FLOPs change (the FLOPs change
per dimension comes from the FLOPs head's gradient, not a lookup table). Codes of one-hot spaces are
projected to the nearest valid architecture every ``project_every`` iterations, as the paper does
for NAS-Bench-201; the search stops when a projected code meets every target, or after
``iterations``, or when a projection gives back the architecture of the previous one (the
propagation is deterministic, so it would only repeat that cycle). Runs in seconds on a CPU.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.engine.lock import DirLock
from unnas.engine.run_kind import check_run_kind
from unnas.errors import ConfigError
from unnas.trials.table import COMPLEXITY

from .ncp_plots import code_trajectory
from .predictor import Predictor, load_predictor, one_thread

#: Below this predicted FLOPs change a dimension counts as free (its gain is divided by this).
FLOPS_EPS = 1e-6


@dataclass
class Term:
    """One head to push: +1 raises it (target p + 1), −1 lowers it (target p − 1)."""

    predictor: Predictor
    metric: str
    weight: float = 1.0
    direction: int = 1

    def predict(self, code: torch.Tensor) -> torch.Tensor:
        """The head's normalised prediction for one code (differentiable)."""
        return self.predictor.net(code.unsqueeze(0))[0, self.predictor.index(self.metric)]


def predictions(code: np.ndarray, terms: Sequence[Term]) -> list[float]:
    with torch.no_grad():
        x = torch.as_tensor(code, dtype=torch.float32)
        return [float(t.predict(x)) for t in terms]


def term_gradients(code: np.ndarray, terms: Sequence[Term], targets: Sequence[float]) -> tuple[np.ndarray, float]:
    """Per-term gradients of ``w·smoothL1(p, t)`` (K × D) and the total loss."""
    grads, total = [], 0.0
    for term, target in zip(terms, targets):
        x = torch.as_tensor(code, dtype=torch.float32).clone().requires_grad_(True)
        loss = term.weight * nn.functional.smooth_l1_loss(term.predict(x), torch.tensor(float(target)))
        loss.backward()
        grads.append(x.grad.double().numpy())
        total += float(loss.detach())
    return np.stack(grads), total


def _loss(x: torch.Tensor, terms: Sequence[Term], targets: Sequence[float]) -> torch.Tensor:
    """``Σ_k w_k·smoothL1(p_k, t_k)``: the one propagation loss, for gradients and for comparisons."""
    return sum(t.weight * nn.functional.smooth_l1_loss(t.predict(x), torch.tensor(float(tg)))
               for t, tg in zip(terms, targets))


def objective_gradient(code: np.ndarray, terms: Sequence[Term], targets: Sequence[float]) -> tuple[np.ndarray, float]:
    """Gradient of the whole loss (the joint gradient: the sum of the terms' gradients) and its value."""
    x = torch.as_tensor(code, dtype=torch.float32).clone().requires_grad_(True)
    loss = _loss(x, terms, targets)
    loss.backward()
    return x.grad.double().numpy(), float(loss.detach())


def objective(code: np.ndarray, terms: Sequence[Term], targets: Sequence[float]) -> float:
    """The propagation loss of one code (no gradient): how projected architectures are compared."""
    with torch.no_grad():
        return float(_loss(torch.as_tensor(code, dtype=torch.float32), terms, targets))


def reached(preds: Sequence[float], terms: Sequence[Term], targets: Sequence[float]) -> bool:
    return all((p >= t) if term.direction > 0 else (p <= t) for p, term, t in zip(preds, terms, targets))


def winner_step(code: np.ndarray, terms: Sequence[Term], targets: Sequence[float], lr: float) -> tuple[np.ndarray, int]:
    """Winner takes all: the full step ``−lr·∇`` on one dimension only, the one whose predicted gain of the
    raised heads per predicted FLOPs increase is largest (a free gain — FLOPs not rising — ranks by gain);
    when no dimension raises them, the one that lowers the loss most. Returns (new code, dimension)."""
    grads, _ = term_gradients(code, terms, targets)
    delta = -lr * grads.sum(axis=0)
    x = torch.as_tensor(code, dtype=torch.float32)
    gain = np.zeros_like(delta)
    cost = np.zeros_like(delta)
    for term in terms:
        xi = x.clone().requires_grad_(True)
        term.predict(xi).backward()
        change = xi.grad.double().numpy() * delta
        if term.direction > 0:
            gain += term.weight * change
        else:
            cost += change
    if (gain > 0).any():
        score = np.where(gain > 0, gain / np.maximum(cost, FLOPS_EPS), -np.inf)
    else:
        score = delta * (-grads.sum(axis=0))  # = lr·g², the first-order loss decrease
    dim = int(np.argmax(score))
    out = code.copy()
    out[dim] += delta[dim]
    return out, dim


@dataclass
class Propagation:
    codes: list[np.ndarray] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    projected: list[int] = field(default_factory=list)
    targets: list[float] = field(default_factory=list)
    reached: bool = False
    #: stopped because a projection gave back the previous projection's architecture (a fixed point)
    stalled: bool = False
    #: the result: the projected architecture (the start included) with the lowest loss
    arch: object = None
    chosen_iter: int = 0
    #: loss of the start, of the chosen architecture and of the last projection
    losses: dict = field(default_factory=dict)
    last_arch: object = None


def propagate(cs, start: np.ndarray, terms: Sequence[Term], mode: str = "continuous", lr: float = 3.0,
              iterations: int = 70, project_every: int = 10) -> Propagation:
    """Propagate ``start`` through ``terms``; the result holds every code, per-iteration records and the
    chosen architecture.

    The continuous code's loss falls at every step, but a projection can land on an architecture
    the predictors score *worse* than the start (a large step overshoots, e.g. the FLOPs term far
    past its target). So the result is the projected architecture with the lowest loss along the
    trajectory, the start included (``chosen_iter`` 0 then: nothing the propagation found was better),
    not simply the last projection (kept as ``last_arch``)."""
    if mode not in ("continuous", "wta"):
        raise ConfigError(f"mode={mode!r}; choose continuous or wta")
    with one_thread():
        code = np.asarray(start, dtype=np.float64).copy()
        first = predictions(code, terms)
        out = Propagation(targets=[p + t.direction for p, t in zip(first, terms)])
        out.codes.append(code.copy())
        last = cs.project(code)
        best_loss = objective(cs.encode(last).astype(np.float64), terms, out.targets)
        out.arch, out.losses["start"] = last, best_loss
        out.records.append({"iter": 0, "predicted": first, "loss": None, "projected": True,
                            "arch": cs.describe(last), "projected_loss": best_loss})
        for it in range(1, iterations + 1):
            if mode == "continuous":
                grad, loss = objective_gradient(code, terms, out.targets)
                code = code - lr * grad
                moved = None
            else:
                loss = objective_gradient(code, terms, out.targets)[1]
                code, moved = winner_step(code, terms, out.targets, lr)
            if not np.isfinite(code).all():
                raise ConfigError(f"the propagated code became NaN/Inf at iteration {it} (lr={lr}): lower lr, or "
                                  "refit the predictor if its outputs are not finite")
            project = bool(project_every) and it % project_every == 0
            if project:  # projecting a projected code gives it back: ``arch`` serves the checks below
                arch = cs.project(code)
                code = cs.encode(arch).astype(np.float64)
                out.projected.append(it)
            preds = predictions(code, terms)
            record = {"iter": it, "predicted": preds, "loss": loss, "projected": project}
            if moved is not None:
                record["moved"] = moved
            if project:
                record["arch"], record["projected_loss"] = cs.describe(arch), objective(code, terms, out.targets)
                if record["projected_loss"] < best_loss:
                    best_loss, out.arch, out.chosen_iter = record["projected_loss"], arch, it
            out.records.append(record)
            out.codes.append(code.copy())
            if project and reached(preds, terms, out.targets):
                out.reached = True
                break
            if project:  # the same architecture as the last projection: the run is deterministic, so it cycles
                if arch == last:
                    out.stalled = True
                    break
                last = arch
        out.last_arch = cs.project(code)
        last_loss = objective(cs.encode(out.last_arch).astype(np.float64), terms, out.targets)
        if last_loss < best_loss:  # the end of a run without projections (project_every=0)
            best_loss, out.arch, out.chosen_iter = last_loss, out.last_arch, len(out.records) - 1
        out.losses.update(chosen=best_loss, last_projection=last_loss)
        return out


# ----------------------------------------------------------------------------- the command's run
def predictor_paths(text: str) -> list[str]:
    """``predictor=`` as a list of files: the whole text when it names an existing file (a path may hold a
    comma), else its comma-separated parts."""
    return [text] if Path(text).is_file() else [p for p in text.split(",") if p]


def build_terms(cfg) -> list[Term]:
    """Objectives from the config: (predictor, metric) pairs, their weights, and the FLOPs term."""
    paths = predictor_paths(cfg.predictor)
    cache = {p: load_predictor(p) for p in dict.fromkeys(paths)}
    metrics = [m for m in cfg.metric.split(",") if m] or [
        next((m for m in cache[paths[0]].metrics if m not in COMPLEXITY), cache[paths[0]].metrics[0])]
    n = max(len(paths), len(metrics))
    if len(paths) not in (1, n) or len(metrics) not in (1, n):
        raise ConfigError(f"{len(paths)} predictors and {len(metrics)} metrics: give one of each per objective, "
                          "or one to share")
    weights = list(cfg.weights) or [1.0] * n
    if len(weights) != n:
        raise ConfigError(f"weights has {len(weights)} values for {n} objectives; give one per objective")
    pairs = [(paths[k if len(paths) > 1 else 0], metrics[k if len(metrics) > 1 else 0]) for k in range(n)]
    spaces = {cache[p].space for p in paths}
    if len(spaces) > 1:
        raise ConfigError(f"predictors of different spaces ({', '.join(sorted(spaces))}) cannot propagate one code")
    terms = [Term(cache[p], m, float(w), 1) for (p, m), w in zip(pairs, weights)]
    for t in terms:
        t.predictor.index(t.metric)  # a one-line error for a metric the predictor lacks
    if cfg.flops_metric and cfg.lam > 0:
        holder = next((cache[p] for p in paths if cfg.flops_metric in cache[p].metrics), None)
        if holder is None:
            raise ConfigError(f"flops_metric={cfg.flops_metric!r} is not a metric of the predictor(s); set "
                              "flops_metric='' to search without a FLOPs term")
        terms.append(Term(holder, cfg.flops_metric, float(cfg.lam), -1))
    return terms


def run_ncp(cfg, config_text: str) -> dict:
    """``unnas search strategy=ncp``: propagate, then write the run directory; returns result.json's content."""
    out = Path(cfg.out_dir)
    check_run_kind(out, "search:ncp")  # before anything is read or written
    wall, cpu = time.perf_counter(), time.process_time()
    terms = build_terms(cfg)
    cs = terms[0].predictor.code
    start_arch = cs.load(cfg.start) if cfg.start else cs.default()
    start = cs.encode(start_arch)
    result = propagate(cs, start, terms, cfg.mode, cfg.lr, cfg.iterations, cfg.project_every)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    final_code = cs.encode(result.arch)
    names = [f"{t.metric}{'' if t.direction > 0 else ' (lower)'}" for t in terms]
    summary = {
        "strategy": "ncp", "mode": cfg.mode, "space": cs.space, "iterations": len(result.records) - 1,
        "reached": result.reached, "stalled": result.stalled, "objectives": [{"predictor": str(cfg.predictor), "metric": t.metric,
                                                   "weight": t.weight, "direction": t.direction} for t in terms],
        "targets": dict(zip(names, result.targets)),
        "predicted_start": _predicted(terms, start), "predicted_final": _predicted(terms, final_code),
        "chosen_iteration": result.chosen_iter, "loss": result.losses,
        "architecture": cs.describe(result.arch), "start_architecture": cs.describe(start_arch),
        "last_projection": cs.describe(result.last_arch),
        "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
    }
    with DirLock(out):
        atomic_write_text(out / "config.yaml", config_text)
        atomic_write_json(out / cs.arch_file, cs.to_json(result.arch))
        atomic_write_json(out / "code.json", {"space": cs.space, "start": start.tolist(), "final": final_code.tolist(),
                                              "last_continuous": result.codes[-1].tolist(), "labels": cs.labels()})
        lines = [json.dumps({**r, "predicted": dict(zip(names, r["predicted"]))}, allow_nan=False)
                 for r in result.records]
        atomic_write_text(out / "trajectory.jsonl", "".join(line + "\n" for line in lines))
        code_trajectory(out / "trajectory.png", np.stack(result.codes), cs.labels(),
                        {n: [r["predicted"][k] for r in result.records] for k, n in enumerate(names)},
                        result.projected)
        atomic_write_json(out / "result.json", summary)
    return summary


def _predicted(terms: Sequence[Term], code: np.ndarray) -> dict:
    """Every metric of every predictor used, in its own units, for one code."""
    out = {}
    for p in {id(t.predictor): t.predictor for t in terms}.values():
        values = p.predict(code)[0]
        out.update({m: float(v) for m, v in zip(p.metrics, values) if m not in out})
    return out
