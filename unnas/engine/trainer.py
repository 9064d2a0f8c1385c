"""Train a fixed architecture with any task, evaluating on a held-out split; resumable.

One recipe for every setting (CIFAR, ImageNet mobile, Cityscapes, pretext tasks): SGD with
cosine lr stepped per epoch after an optional linear warm-up, an auxiliary loss when the model
returns ``(logits, aux_logits)`` in training, a drop-path probability that grows linearly with
the epoch, optional precise BN statistics, and metrics summed over the whole test split (and
over ranks) before the task summarizes them — so mIoU comes from one confusion matrix.

Model selection is honest by default: the reported number is the last epoch's. The per-epoch
evaluations run on a validation set when one is given (the test split is then evaluated once,
at the end, on the selected model); ``select="best_epoch"`` picks the epoch with the best
primary metric on that per-epoch split. Without a validation set that is the max over epochs on
the test split, which is returned under its own name (``max_over_epochs``) and never as "best".

Used by ``unnas train`` (with a run directory) and by studies (``run_dir=None``: in memory).
Everything that can fail because of user input is checked before the run directory is
touched. The checkpoint, written atomically after every epoch, carries weights, optimizer,
epoch, RNG states and history; the data order and every augmentation are functions of
``(seed, epoch, position)``, so a resumed run repeats the uninterrupted one bit for bit (CPU,
deterministic algorithms).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

import pretext
from unnas.atomic import atomic_torch_save
from unnas.config.rules import check_config
from unnas.config.train_schema import Recipe
from unnas.data.sampling import SeededSampler
from unnas.engine import distributed
from unnas.engine.divergence import FiniteGuard
from unnas.engine.lock import DirLock
from unnas.engine.precise_bn import bn_layers, update_bn_stats
from unnas.engine.preflight import check_first_batches
from unnas.engine.rng import capture_rng, restore_rng
from unnas.engine.run_kind import check_run_kind
from unnas.engine.rundir import RunDir
from unnas.engine.schedule import cosine_lr
from unnas.errors import CheckpointError, ConfigError, DataError, UnnasError, one_line

__all__ = ["Recipe", "evaluate", "epoch_lr", "train_and_evaluate", "validate_recipe"]

CHECKPOINT_FORMAT = "unnas-train-v1"
#: Config keys a resumed `unnas train` may change (they do not change the result).
RESUME_MAY_CHANGE = ("out_dir", "progress", "device", "data.num_workers", "recipe.num_workers", "recipe.test_batch_size")
#: Train-log lines per epoch in metrics.jsonl (besides the epoch-end record).
LOGS_PER_EPOCH = 10
#: How the reported model is chosen: the last epoch's, or the best epoch on the per-epoch split.
SELECTIONS = ("final", "best_epoch")
#: Metrics that rank epochs (higher is better), in order of preference.
PRIMARY_METRICS = ("top1", "miou", "ssim")  # higher is better for each


def primary_metric(metrics: dict[str, float]) -> str | None:
    """The metric ``select="best_epoch"`` ranks epochs by: top1, else miou, else none."""
    return next((k for k in PRIMARY_METRICS if k in metrics), None)


def validate_recipe(r: Recipe) -> None:
    """The Recipe's rules (finite numbers in range, unnas/config/rules.py), for a recipe built in code; one line
    naming ``recipe.<key>``."""
    check_config(r, "recipe.")
    if r.nesterov and r.momentum <= 0:
        raise ConfigError(f"recipe.nesterov={r.nesterov!r} is invalid: must be false when momentum is 0")


def epoch_lr(r: Recipe, epoch: int) -> float:
    """Cosine from lr to lr_min over the epochs, times a linear warm-up factor (pycls style)."""
    lr = cosine_lr(r.lr, r.lr_min, epoch, r.epochs)
    if epoch < r.warmup_epochs:
        alpha = epoch / r.warmup_epochs
        lr *= r.warmup_factor * (1 - alpha) + alpha
    return lr


def _loader(dataset, batch_size: int, sampler, num_workers: int, device: torch.device,
            drop_last: bool = False) -> DataLoader:
    # Our own generator: creating an iterator then draws no number from the global RNG, which
    # drop-path uses, so where an epoch starts cannot change the training.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=num_workers,
                      pin_memory=device.type == "cuda", generator=torch.Generator())


def _prepare(task: pretext.Task, batch, device: torch.device, train: bool, generator: torch.Generator):
    images, labels = batch
    images = images.to(device, non_blocking=True)
    labels = labels.to(device, non_blocking=True) if task.needs_labels else None
    return task.prepare(images, labels, train=train, generator=generator)


def _main_output(outputs) -> Tensor:
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


@torch.no_grad()
def evaluate(model: nn.Module, task: pretext.Task, dataset, *, batch_size: int, device: torch.device, seed: int,
             num_workers: int = 0, dist_ctx: distributed.DistContext | None = None,
             guard: FiniteGuard | None = None) -> dict[str, float]:
    """``task.summarize`` of metric sums over the whole ``dataset``, in eval mode.

    Under DDP each rank takes a strided share (every image exactly once) and the sums are
    all-reduced. The task's own randomness (jigsaw permutations) comes from a generator seeded
    with ``seed``, so repeated evaluations see the same inputs.

    Every output is observed by ``guard`` (NaN activations from non-finite weights or BN
    statistics score chance under ``argmax``, which is no measurement): the caller checks it
    before using the metrics. Without a guard, a non-finite output or metric raises
    :class:`~unnas.errors.DivergedError` here.
    """
    ctx = dist_ctx or distributed.DistContext()
    own = guard is None
    if own:
        guard = FiniteGuard(device, "evaluation", dist=ctx, advice="the model's weights or batch-norm statistics are "
                            "not finite (a diverged training?); no score was computed")
    keys = [(i, seed) for i in range(ctx.rank, len(dataset), ctx.world_size)]
    loader = _loader(dataset, batch_size, keys, num_workers, device)
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    sums: dict[str, Tensor] = {}
    try:
        for batch in loader:
            inputs, targets = _prepare(task, batch, device, False, generator)
            outputs = _main_output(model(inputs))
            guard.observe_outputs(outputs)
            for k, v in task.metric_sums(outputs, targets).items():
                v = v.double() if v.is_floating_point() else v
                sums[k] = sums[k] + v if k in sums else v
    finally:
        model.train(was_training)
    if ctx.enabled:
        for k in sorted(sums):
            torch_dist.all_reduce(sums[k])
    metrics = task.summarize(sums)
    if own:
        guard.check(metrics=metrics)
    return metrics


def _set_drop_prob(model: nn.Module, prob: float) -> None:
    for module in model.modules():
        if hasattr(module, "drop_prob"):
            module.drop_prob = prob


def _average_bn_stats(model: nn.Module, ctx: distributed.DistContext) -> None:
    """Each rank computed precise BN stats on its own share: use the mean over ranks."""
    for bn in bn_layers(model):
        for buf in (bn.running_mean, bn.running_var):
            torch_dist.all_reduce(buf)
            buf.div_(ctx.world_size)


class _Training:
    """Everything for one run, built without touching the disk; :meth:`fit` runs it."""

    def __init__(self, model: nn.Module, task: pretext.Task, train_set, test_set, recipe: Recipe,
                 device: torch.device, seed: int, val_set=None, select: str = "final",
                 split_names: tuple[str, str] = ("val", "test")):
        validate_recipe(recipe)
        if select not in SELECTIONS:
            raise ConfigError(f"select={select!r} is invalid: must be one of {', '.join(SELECTIONS)}")
        self.task, self.train_set, self.test_set, self.recipe = task, train_set, test_set, recipe
        # per-epoch evaluations on the validation set when there is one (the test split then waits for the end)
        self.val_set, self.select = val_set, select
        self.epoch_set = val_set if val_set is not None else test_set
        self.val_name, self.test_name = split_names
        self.epoch_split = self.val_name if val_set is not None else self.test_name
        self.device, self.seed = device, int(seed)
        self.dist = distributed.setup("cpu" if device.type == "cpu" else "auto")
        rank, world = self.dist.rank, self.dist.world_size
        self.sampler = SeededSampler(range(len(train_set)), self.seed, shuffle=True, rank=rank, world_size=world,
                                     batch_size=recipe.batch_size)
        full = self.sampler.num_samples() // recipe.batch_size
        if full == 0:
            raise DataError(f"the train split has {len(train_set)} images, fewer than recipe.batch_size="
                            f"{recipe.batch_size} × {world} process(es); use more data or a smaller batch")
        if len(test_set) < world:
            raise DataError(f"the test split has {len(test_set)} images, fewer than the {world} processes")
        if val_set is not None and len(val_set) < world:
            raise DataError(f"the validation part has {len(val_set)} images, fewer than the {world} processes; "
                            "raise data.val_fraction")
        self.iters_per_epoch = min(full, recipe.max_iters_per_epoch or full)
        self.model = model.to(device)
        check_first_batches(train_set, task, {"recipe.batch_size": self.sampler}, device, model)  # before any disk write
        self.train_model = model
        if self.dist.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.train_model = DistributedDataParallel(model, device_ids=ids)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=recipe.lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
        # The task's own randomness (jigsaw permutations, grayscale draws) lives on the device.
        self.task_gen = torch.Generator(device=device).manual_seed(self.seed)
        self.epoch = 0  # next epoch to run
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        # select=best_epoch with a validation set: the best epoch's weights, evaluated on the test split at the end
        self.best: dict[str, Any] | None = None
        self.test_result: dict[str, Any] | None = None  # the one test evaluation (validation runs only)
        self.lock: DirLock | None = None
        self.config_yaml: str | None = None
        self.config_defaults: str | None = None  # the schema's defaults, for keys older runs lack
        self.guard = FiniteGuard(device, "training", f"recipe.lr={recipe.lr}", dist=self.dist)
        self.run_dir: RunDir | None = None

    # ------------------------------------------------------------------ state
    def _recipe_key(self) -> dict[str, Any]:
        d = dataclasses.asdict(self.recipe)
        for k in ("num_workers", "test_batch_size"):
            d.pop(k)
        return {**d, "seed": self.seed}

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            # written at epoch ends only (an epoch takes minutes even on ImageNet with 8 GPUs)
            "epoch": self.epoch, "iteration": 0, "rng": capture_rng({"task": self.task_gen}),
            "history": self.history, "elapsed": self.elapsed, "recipe": self._recipe_key(),
            "config_yaml": self.config_yaml, "train_images": len(self.train_set),
            "val_images": len(self.val_set) if self.val_set is not None else 0,
            "select": self.select, "best": self.best, "test_result": self.test_result,
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        self._check_state(state, path)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"{path} was written for another model ({str(exc).splitlines()[0][:120]}); "
                                  "use a new out_dir") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.elapsed, self.history = state["epoch"], state["elapsed"], state["history"]
        self.best, self.test_result = state.get("best"), state.get("test_result")
        restore_rng(state["rng"], {"task": self.task_gen})

    def _check_state(self, state: dict[str, Any], path: Path) -> None:
        """A checkpoint of this kind, recipe and data; raises before anything changes."""
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not an unnas train checkpoint; use a new out_dir")
        old, new = state["recipe"], self._recipe_key()
        for key in new:
            if old.get(key) != new[key]:
                raise CheckpointError(f"{path} was trained with recipe.{key}={old.get(key)!r}, but this run asks for "
                                      f"{new[key]!r}; use the same settings to resume, or a new out_dir")
        size = state.get("train_images")
        if size is not None and size != len(self.train_set):
            raise CheckpointError(f"{path} was made on {size} training images but the data now has "
                                  f"{len(self.train_set)}; restore the same files to resume, or use a new out_dir")
        val = len(self.val_set) if self.val_set is not None else 0
        if state.get("val_images") is not None and state["val_images"] != val:
            raise CheckpointError(f"{path} was made with a validation part of {state['val_images']} images but this "
                                  f"run has {val}; use the same data.val_fraction to resume, or a new out_dir")
        old_select = state.get("select", "final")
        if self.val_set is not None and state.get("epoch", 0) > 0 and old_select != self.select:
            raise CheckpointError(f"{path} was trained with select={old_select} (it decides which weights are kept "
                                  f"for the test split); resume with select={old_select}, or use a new out_dir")

    def _log(self, record: dict[str, Any]) -> None:
        if self.run_dir is not None and self.dist.is_main:
            self.run_dir.log(record)

    def _read_checkpoint(self, rd: RunDir) -> dict[str, Any]:
        try:
            return torch.load(rd.checkpoint, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CheckpointError(f"cannot read {rd.checkpoint}: {one_line(exc)}; delete it to start over") from None

    def _open_run_dir(self, run_dir: str | Path, config_yaml: str | None) -> bool:
        """Lock, check and create the run directory; load its checkpoint. Returns whether the run resumed.

        The checkpoint is read and checked before anything is written, so a refused resume changes
        nothing on disk; the lock is held until :meth:`close`.
        """
        rd = self.run_dir = RunDir(run_dir)
        failure, state = None, None
        if self.dist.is_main:
            try:
                check_run_kind(rd.path, "train")  # never a search's (or a study's) directory
                self.lock = DirLock(rd.path).acquire()
                rd.remove_stale_temps()
                if rd.has_checkpoint():
                    state = self._read_checkpoint(rd)
                    self._check_state(state, rd.checkpoint)
                if config_yaml is not None:
                    rd.prepare(config_yaml, ignore_keys=RESUME_MAY_CHANGE,
                               saved_config=state.get("config_yaml") if state else None,
                               defaults_yaml=self.config_defaults)
            except UnnasError as exc:
                failure = str(exc)
        failure = self.dist.broadcast(failure)  # every rank stops if rank 0 cannot use the run dir
        if failure:
            raise CheckpointError(failure)
        self.config_yaml = config_yaml
        if not rd.has_checkpoint():
            if self.dist.is_main:
                rd.truncate_metrics(-1)
            return False
        self.load_state_dict(state if state is not None else self._read_checkpoint(rd), rd.checkpoint)
        self.guard.check(self.epoch * self.iters_per_epoch, self.epoch, self.model)  # a checkpoint of older code
        if self.dist.is_main:
            rd.truncate_metrics(self.epoch * self.iters_per_epoch)
            print(f"unnas train: resuming from step {self.epoch * self.iters_per_epoch} (epoch {self.epoch})",
                  flush=True)
        return True

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ------------------------------------------------------------------ loop
    def fit(self, run_dir: str | Path | None, progress: bool, config_yaml: str | None) -> dict[str, Any]:
        resumed = self._open_run_dir(run_dir, config_yaml) if run_dir is not None else False
        if run_dir is None:  # in memory (study job, fitness): no checkpoint, no out_dir to change
            self.guard.advice = f"recipe.lr={self.recipe.lr} is likely too high — lower it"
        if not resumed:
            torch.manual_seed(self.seed)  # drop-path draws: a function of the seed alone
            self._log({"event": "start", "step": 0, "device": str(self.device), "world_size": self.dist.world_size,
                       "task": self.task.describe(), "train_images": len(self.train_set),
                       "test_images": len(self.test_set), "params": self.num_params(),
                       "iters_per_epoch": self.iters_per_epoch, "recipe": dataclasses.asdict(self.recipe)})
        r = self.recipe
        bar = tqdm(total=r.epochs * self.iters_per_epoch, initial=self.epoch * self.iters_per_epoch,
                   disable=not (progress and self.dist.is_main), desc=f"train {self.task.name}", unit="it",
                   dynamic_ncols=True)
        try:
            while self.epoch < r.epochs:
                self._end_epoch(*self._train_epoch(bar))
        finally:
            bar.close()
        return self.results(resumed)

    def _step(self, batch) -> tuple[Tensor, dict[str, Tensor]]:
        inputs, targets = _prepare(self.task, batch, self.device, True, self.task_gen)
        outputs = self.train_model(inputs)
        logits = _main_output(outputs)
        loss = self.task.loss(logits, targets)
        if isinstance(outputs, (tuple, list)) and len(outputs) > 1:
            loss = loss + self.recipe.aux_weight * self.task.loss(outputs[1], targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recipe.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.params, self.recipe.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            metrics = self.task.metrics(logits.detach(), targets)
        return loss.detach(), metrics

    def _train_epoch(self, bar) -> tuple[float, float]:
        r, ipe = self.recipe, self.iters_per_epoch
        lr = epoch_lr(r, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        _set_drop_prob(self.model, r.drop_path * self.epoch / r.epochs)
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        loader = _loader(self.train_set, r.batch_size, self.sampler, r.num_workers, self.device, drop_last=True)
        log_every = max(1, ipe // LOGS_PER_EPOCH)
        losses: list[Tensor] = []
        window: dict[str, list[Tensor]] = {}
        images = 0
        t_window = t_last = time.perf_counter()
        for it, batch in enumerate(loader):
            if it == ipe:
                break
            loss, metrics = self._step(batch)
            losses.append(loss)
            self.guard.observe(loss)
            images += batch[0].shape[0]
            for k, v in {"loss": loss, **metrics}.items():
                window.setdefault(k, []).append(v)
            now = time.perf_counter()
            self.elapsed += now - t_last
            t_last = now
            bar.update(1)
            if (it + 1) % log_every == 0 or it + 1 == ipe:
                self.guard.check(self.epoch * ipe + it + 1, self.epoch)
                means = {k: float(torch.stack(v).float().mean()) for k, v in window.items()}
                img_s = images / max(now - t_window, 1e-9)
                self._log({"step": self.epoch * ipe + it + 1, "epoch": self.epoch, "iter": it + 1, **means, "lr": lr,
                           "img_per_s": round(img_s, 2), "wall_clock_s": round(self.elapsed, 3)})
                bar.set_postfix(loss=f"{means['loss']:.3f}", img_s=f"{img_s:.1f}")
                window, images, t_window = {}, 0, time.perf_counter()
        epoch_loss = torch.stack(losses).float().mean()
        if self.dist.enabled:
            torch_dist.all_reduce(epoch_loss)
            epoch_loss /= self.dist.world_size
        return float(epoch_loss), lr

    def _precise_bn(self) -> None:
        r = self.recipe
        sampler = SeededSampler(range(len(self.train_set)), self.seed + 1_000_033, shuffle=True, rank=self.dist.rank,
                                world_size=self.dist.world_size, batch_size=r.batch_size)
        sampler.set_epoch(self.epoch)
        loader = _loader(self.train_set, r.batch_size, sampler, r.num_workers, self.device, drop_last=True)
        generator = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + self.epoch)
        inputs = (_prepare(self.task, batch, self.device, True, generator)[0] for batch in loader)
        update_bn_stats(self.model, inputs, r.precise_bn_batches)
        if self.dist.enabled:
            _average_bn_stats(self.model, self.dist)

    def _end_epoch(self, train_loss: float, lr: float) -> None:
        r = self.recipe
        step = (self.epoch + 1) * self.iters_per_epoch
        # no evaluation, history entry or checkpoint from a diverged state: weights and BN statistics
        self.guard.check(step, self.epoch, self.model)
        t0 = time.perf_counter()
        if r.precise_bn_batches:
            self._precise_bn()
        entry: dict[str, Any] = {"epoch": self.epoch, "train_loss": train_loss}
        if (self.epoch + 1) % r.eval_every == 0 or self.epoch + 1 == r.epochs:
            entry.update(self._evaluate(self.epoch_set))
        # the evaluation's outputs and metrics (and the recomputed BN statistics) before anything is kept
        self.guard.check(step, self.epoch, self.model if r.precise_bn_batches else (), metrics=entry)
        eval_s = time.perf_counter() - t0
        self.elapsed += eval_s
        self.history.append(entry)
        scores = {k: v for k, v in entry.items() if k not in ("epoch", "train_loss")}
        self._remember_best(scores)
        self._log({"event": "epoch_end", "step": (self.epoch + 1) * self.iters_per_epoch, "epoch": self.epoch,
                   "train_loss": train_loss, "lr": lr, "eval": scores, "eval_split": self.epoch_split,
                   "eval_s": round(eval_s, 3),
                   "eval_img_per_s": round(len(self.epoch_set) / max(eval_s, 1e-9), 2) if scores else None,
                   "wall_clock_s": round(self.elapsed, 3)})
        self.epoch += 1
        if self.run_dir is not None and self.dist.is_main:
            atomic_torch_save(self.run_dir.checkpoint, self.state_dict())

    # ------------------------------------------------------------------ selection and results
    def _evaluate(self, dataset) -> dict[str, float]:
        r = self.recipe
        return evaluate(self.model, self.task, dataset, batch_size=r.test_batch_size, device=self.device,
                        seed=self.seed, num_workers=r.num_workers, dist_ctx=self.dist, guard=self.guard)

    def _keeps_best(self) -> bool:
        return self.select == "best_epoch" and self.val_set is not None

    def _remember_best(self, scores: dict[str, float]) -> None:
        """Keep a copy of the weights of the best epoch so far on the validation set (select=best_epoch)."""
        key = primary_metric(scores)
        if not self._keeps_best() or key is None:
            return
        if self.best is None or scores[key] > self.best["value"]:
            weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self.best = {"epoch": self.epoch, "metric": key, "value": scores[key], "model": weights}

    def _test_once(self) -> dict[str, Any]:
        """The selected model on the test split: evaluated once, then kept in the checkpoint."""
        if self.test_result is not None:
            return self.test_result
        final_weights = None
        epoch, model = self.epoch - 1, "final"
        if self._keeps_best() and self.best is not None:
            model = "best_epoch"
            if self.best["epoch"] != epoch:
                final_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                self.model.load_state_dict(self.best["model"])
                epoch = self.best["epoch"]
        try:
            metrics = self._evaluate(self.test_set)
        finally:
            if final_weights is not None:
                self.model.load_state_dict(final_weights)
        self.guard.check(self.epoch * self.iters_per_epoch, epoch, metrics=metrics)  # no test score from NaN outputs
        self.test_result = {"epoch": epoch, "model": model, "metrics": metrics}
        self._log({"event": "test", "step": self.epoch * self.iters_per_epoch, "epoch": epoch, "model": model,
                   "split": self.test_name, "eval": metrics})
        if self.run_dir is not None and self.dist.is_main:
            atomic_torch_save(self.run_dir.checkpoint, self.state_dict())
        return self.test_result

    def num_params(self) -> int:
        return sum(p.numel() for p in self.params)

    def results(self, resumed: bool) -> dict[str, Any]:
        """What the run measured, each number named for the split and selection it comes from."""
        evaluated = [(h["epoch"], {k: v for k, v in h.items() if k not in ("epoch", "train_loss")})
                     for h in self.history]
        evaluated = [(e, m) for e, m in evaluated if m]
        final = evaluated[-1][1] if evaluated else {}
        key = primary_metric(final)
        best_epoch = None
        if key is not None:
            epoch, metrics = max(evaluated, key=lambda em: (em[1].get(key, float("-inf")), -em[0]))
            best_epoch = {"epoch": epoch, "metric": key, **metrics}
        out: dict[str, Any] = {
            "select": self.select,
            "final": final,  # the last epoch, on the per-epoch split
            "final_epoch": evaluated[-1][0] if evaluated else None,
            "best_epoch": best_epoch,  # the epoch with the best primary metric, on the per-epoch split
            # each metric's max over the evaluated epochs (possibly from different epochs)
            "max_over_epochs": {k: max(m[k] for _e, m in evaluated if k in m) for k in final},
            "splits": {"final": self.epoch_split, "best_epoch": self.epoch_split,
                       "max_over_epochs": self.epoch_split},
            "images": {"train": len(self.train_set), self.epoch_split: len(self.epoch_set),
                       self.test_name: len(self.test_set)},
        }
        if self.val_set is not None and self.epoch >= self.recipe.epochs:
            test = self._test_once()
            out.update(test=test["metrics"], test_epoch=test["epoch"], test_model=test["model"])
            out["splits"]["test"] = self.test_name
        return {**out, "epochs": self.epoch, "wall_clock_s": round(self.elapsed, 3), "history": list(self.history),
                "params": self.num_params(), "resumed": resumed}


def train_and_evaluate(model: nn.Module, task: pretext.Task, train_set, test_set, recipe: Recipe, *,
                       run_dir: str | Path | None, device: torch.device, seed: int,
                       progress: bool = True, config_yaml: str | None = None, val_set=None,
                       select: str = "final", split_names: tuple[str, str] = ("val", "test"),
                       config_defaults: str | None = None) -> dict:
    """Train ``model`` (inputs → outputs as the task expects; may return (logits, aux) in training) with
    SGD + cosine lr per epoch (+ warm-up), evaluating every ``eval_every`` epochs with
    ``task.metric_sums``/``summarize`` accumulated over the whole split: on ``val_set`` when given
    (``test_set`` is then evaluated once, at the end, on the model ``select`` picks: the last epoch's,
    or with ``"best_epoch"`` the best epoch's on ``val_set``), else on ``test_set``.

    Returns ``{"select", "final": {metric: value} of the last epoch, "final_epoch", "best_epoch":
    {"epoch", "metric", **metrics} (best primary metric), "max_over_epochs": {metric: max over
    evaluations}, "splits": {number: split name}, "images": {split: count}, "epochs", "wall_clock_s",
    "history": [{"epoch", "train_loss", **metrics}], "params", "resumed"}``; with ``val_set`` also
    ``"test"`` (metrics), ``"test_epoch"`` and ``"test_model"`` (final | best_epoch). ``split_names``
    (validation, test) label the splits.
    With ``run_dir``: writes config.yaml (if ``config_yaml``), metrics.jsonl and checkpoints/last.pt
    (atomic; model, optimizer, epoch, iteration, RNG, history) after each epoch, and resumes from it
    when present; without: in memory only. A fresh run seeds torch's global RNG with ``seed`` (drop-path
    draws); the caller seeds the model's initialisation. Under torchrun the model is wrapped in DDP, each rank
    takes a strided share of the data (``batch_size`` per process) and rank 0 writes.
    """
    training = _Training(model, task, train_set, test_set, recipe, device, seed, val_set, select, split_names)
    training.config_defaults = config_defaults
    try:
        return training.fit(run_dir, progress, config_yaml)
    finally:
        training.close()
