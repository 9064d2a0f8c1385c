"""First-order bilevel DARTS search driven by any task.

Per iteration (as in the paper): once the fractional epoch reaches ``optim.arch_start_epoch``,
one Adam step on α with a batch from the architecture half; then one SGD step on the weights
with a batch from the weight half (cosine lr per epoch, gradient-norm clip). The genotype is
derived at the end of every epoch; the last one is the result.

Everything that can fail because of user input (config, data, task) is checked before the
run directory is touched. The run is resumable: the checkpoint carries weights, α, both
optimisers, the position in the data order and every RNG state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from pretext import TaskNetwork
from unnas.atomic import atomic_torch_save, atomic_write_json
from unnas.config import SearchConfig, config_to_yaml, defaults_yaml
from unnas.config.rules import check_config
from unnas.data import build_dataset
from unnas.data.sampling import SeededSampler, split_halves
from unnas.engine import distributed
from unnas.engine.device import resolve_device, set_determinism
from unnas.engine.divergence import FiniteGuard
from unnas.engine.lock import DirLock
from unnas.engine.preflight import check_first_batches
from unnas.engine.rng import capture_rng, restore_rng, seed_everything
from unnas.engine.run_kind import check_run_kind
from unnas.engine.rundir import RunDir
from unnas.engine.schedule import cosine_lr
from unnas.engine.task_setup import build_task_for_data
from unnas.errors import CheckpointError, DataError, TaskError, UnnasError, one_line
from unnas.search import alpha_stats
from unnas.search import discretization as disc
from unnas.search.bilevel import BilevelStep
from unnas.search.relaxation import Relaxation, fixed_weights
from unnas.spaces.darts.fast_supernet import FastSupernet
from unnas.spaces.darts.genotype import Genotype, sample_genotypes
from unnas.spaces.darts.plots import draw_genotype, plot_alphas
from unnas.spaces.darts.supernet import Supernet

#: model.impl → supernet class; both compute the same function, ``fast`` in far fewer kernels.
SUPERNETS = {"reference": Supernet, "fast": FastSupernet}


#: Config keys a resumed run may change (they do not affect the computation).
RESUME_MAY_CHANGE = ("out_dir", "progress", "log_every", "checkpoint_every", "data.num_workers", "device")


def validate_search_config(cfg: SearchConfig) -> None:
    """The schema's rules and cross-key checks (what ``unnas search`` checked on loading), for a config
    built in code."""
    check_config(cfg)
    cfg.validate()


@dataclass
class SearchResult:
    genotype: Genotype
    run_dir: Path
    epochs: int
    resumed: bool


class _BatchStream:
    """Endless batches from one half, epoch after epoch, with a resumable position."""

    def __init__(self, dataset, indices: list[int], seed: int, batch_size: int, num_workers: int, pin: bool,
                 rank: int = 0, world_size: int = 1):
        self.dataset = dataset
        self.sampler = SeededSampler(indices, seed, shuffle=True, rank=rank, world_size=world_size,
                                     batch_size=batch_size)
        self.batch_size, self.num_workers, self.pin = batch_size, num_workers, pin
        self.epoch, self.taken = 0, 0
        self._it: Iterator | None = None

    def batches_per_epoch(self) -> int:
        return self.sampler.num_samples() // self.batch_size

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "taken": self.taken}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.taken, self._it = state["epoch"], state["taken"], None

    def start_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.taken, self._it = epoch, start_batch, None

    def _open(self) -> Iterator:
        self.sampler.set_epoch(self.epoch, self.taken)
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=self.sampler, drop_last=True,
                            num_workers=self.num_workers, pin_memory=self.pin,
                            persistent_workers=False)
        return iter(loader)

    def next(self, wrap: bool = True):
        if self._it is None:
            self._it = self._open()
        try:
            batch = next(self._it)
        except StopIteration:
            if not wrap:
                raise
            self.start_epoch(self.epoch + 1)
            self._it = self._open()
            batch = next(self._it)
        self.taken += 1
        return batch


class DartsSearch:
    """Build everything from a config (no disk writes), then :meth:`run`."""

    def __init__(self, cfg: SearchConfig, config_yaml: str | None = None):
        validate_search_config(cfg)
        self.cfg = cfg
        self.config_yaml = config_yaml or config_to_yaml(cfg)
        self.dist = distributed.setup(cfg.device)
        self.device = resolve_device(cfg.device, self.dist.local_rank if self.dist.enabled else None)
        set_determinism(cfg.deterministic, self.device)
        seed_everything(cfg.seed)

        self.dataset = build_dataset(cfg.data, cfg.data.split, train=True)
        self.task, _ = build_task_for_data(cfg.task, cfg.task_options, self.dataset, cfg.data.name)
        self._check_crop_fits_task()
        w_idx, a_idx = split_halves(len(self.dataset), cfg.seed, cfg.data.portion, cfg.data.shuffle_split)
        arch_batch = cfg.optim.arch_batch_size or cfg.optim.batch_size
        for name, half, key, size in (("weight", w_idx, "optim.batch_size", cfg.optim.batch_size),
                                      ("architecture", a_idx, "optim.arch_batch_size", arch_batch)):
            if len(half) < size:
                raise DataError(
                    f"the {name} half has {len(half)} images but {key}={size}; "
                    "use more data or a smaller batch"
                )
        pin = self.device.type == "cuda"
        # optim.batch_size is per process; under torchrun each rank takes a strided share of
        # the same global order, so the global batch is batch_size × world_size.
        rank, world = self.dist.rank, self.dist.world_size
        self.w_stream = _BatchStream(self.dataset, w_idx, cfg.seed, cfg.optim.batch_size, cfg.data.num_workers, pin,
                                     rank, world)
        self.a_stream = _BatchStream(self.dataset, a_idx, cfg.seed + 7919, arch_batch, cfg.data.num_workers,
                                     pin, rank, world)
        full = self.w_stream.batches_per_epoch()
        self.iters_per_epoch = min(full, cfg.optim.iters_per_epoch or full)

        m = cfg.model
        trunk = SUPERNETS[m.impl](m.width, m.cells, self.task.input_channels, m.stem, m.reductions, m.nodes)
        self.trunk = trunk
        self.model = TaskNetwork(trunk, self.task.build_head(trunk.out_channels)).to(self.device)
        # Under DDP, α are ordinary parameters of the wrapped module, so the α step's gradients are
        # all-reduced like the weights' and every rank keeps identical α (the paper's release did not).
        self.train_model = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            if m.sync_bn:
                self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
                self.trunk = self.model.trunk
            self.train_model = DistributedDataParallel(self.model, device_ids=ids)
        # α → op weights (softmax or Gumbel) and the entropy term; Gumbel noise from its own generator.
        self.gumbel_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 15485863)
        self.relax = Relaxation(cfg.arch, self.gumbel_gen)
        self.trunk.op_weights = self.relax
        trainable_alphas = [p for p in self.trunk.arch_parameters() if p.requires_grad]
        self.step = BilevelStep(self.model, self.task.loss, cfg.optim, forward=self.train_model,
                                targeted=not self.dist.enabled,
                                regulariser=lambda: self.relax.penalty(trainable_alphas))
        self.w_opt, self.a_opt = self.step.w_opt, self.step.a_opt
        # The task's own randomness (jigsaw permutations, grayscale draws) lives on the device.
        self.task_gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        check_first_batches(self.dataset, self.task, {"optim.batch_size": self.w_stream.sampler,  # before any disk write
                            "optim.arch_batch_size": self.a_stream.sampler}, self.device, self.model, cfg.data.crop_size)
        self.run_dir = RunDir(cfg.out_dir)
        self.epoch, self.iteration = 0, 0  # next iteration to run
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.guard = FiniteGuard(self.device, "search", f"optim.lr={cfg.optim.lr} or optim.arch_lr={cfg.optim.arch_lr}",
                                 dist=self.dist)

    # ------------------------------------------------------------------ building
    def _check_crop_fits_task(self) -> None:
        if self.cfg.data.crop_size < self.task.min_image_size:
            raise TaskError(f"task {self.task.name!r} needs images of at least {self.task.min_image_size} px; "
                            f"data.crop_size={self.cfg.data.crop_size}")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": "unnas-search-v1",
            "model": self.model.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "a_stream": self.a_stream.state(),
            "rng": capture_rng(self._generators()),
            "elapsed": self.elapsed,
            "history": self.history,
            "step": self.global_step,
            # tasks with running state (colorization's bin prior when rebalancing) carry it along
            "task": self.task.state_dict(),
            # resume compares against this, so a deleted or edited config.yaml cannot mix settings
            "config_yaml": self.config_yaml,
            "dataset_size": len(self.dataset),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != "unnas-search-v1":
            raise CheckpointError(f"{self.run_dir.checkpoint} is not an unnas search checkpoint")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise CheckpointError(
                f"{self.run_dir.checkpoint} was written for another model ({str(exc).splitlines()[0][:120]}); "
                "use a new out_dir"
            ) from None
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.epoch, self.iteration = state["epoch"], state["iteration"]
        self.a_stream.load_state(state["a_stream"])
        restore_rng(state["rng"], self._generators())
        self.elapsed = state["elapsed"]
        self.history = state["history"]
        self.task.load_state_dict(state.get("task") or {})

    def _generators(self) -> dict[str, torch.Generator]:
        # the Gumbel generator only when it draws, so default checkpoints stay as they were
        gens = {"task": self.task_gen}
        if self.cfg.arch.relaxation == "gumbel":
            gens["gumbel"] = self.gumbel_gen
        return gens

    def _check_resumable(self, state: dict[str, Any] | None) -> None:
        """The data a checkpoint was made on must still be there: a changed file set would silently
        change the halves and the data order of the rest of the run."""
        if state is None or "dataset_size" not in state or state["dataset_size"] == len(self.dataset):
            return
        raise CheckpointError(f"{self.run_dir.checkpoint} was made on {state['dataset_size']} images but the data "
                              f"now has {len(self.dataset)}; restore the same files to resume, or use a new out_dir")

    @property
    def global_step(self) -> int:
        return self.epoch * self.iters_per_epoch + self.iteration

    def check_finite(self, *evaluations: dict[str, Any]) -> None:
        """Before anything is written: stop if a loss, an evaluation output or metric (``evaluations``),
        a weight, an α or a BN running statistic is not finite."""
        self.guard.check(self.global_step, self.epoch, self.model, metrics=list(evaluations))

    def save_checkpoint(self) -> None:
        self.check_finite()
        if self.dist.is_main:
            atomic_torch_save(self.run_dir.checkpoint, self.state_dict())

    def log(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            self.run_dir.log(record)

    # ------------------------------------------------------------------ steps
    def _prepare(self, batch) -> tuple[Tensor, Tensor]:
        images, labels = batch
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True) if self.task.needs_labels else None
        return self.task.prepare(images, labels, train=True, generator=self.task_gen)

    def arch_step(self) -> Tensor:
        return self.step.arch_step(*self._prepare(self.a_stream.next()))

    def weight_step(self, batch) -> tuple[Tensor, dict[str, Tensor], int]:
        inputs, targets = self._prepare(batch)
        loss, outputs = self.step.weight_step(inputs, targets)
        with torch.no_grad():
            metrics = self.task.metrics(outputs, targets)
        return loss, metrics, inputs.shape[0]

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Metrics on a few batches of the architecture half (train augmentation, as the paper)."""
        if self.cfg.eval_batches == 0:
            return {}
        self.model.eval()
        stream = _BatchStream(self.dataset, self.a_stream.sampler.indices, self.cfg.seed + 104729,
                              self.cfg.optim.batch_size, 0, False)
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed + self.epoch)
        sums: dict[str, Tensor] = {}
        losses: list[Tensor] = []
        for _ in range(min(self.cfg.eval_batches, stream.batches_per_epoch())):
            images, labels = stream.next(wrap=False)
            images = images.to(self.device)
            labels = labels.to(self.device) if self.task.needs_labels else None
            inputs, targets = self.task.prepare(images, labels, train=True, generator=gen)
            outputs = self.model(inputs)
            self.guard.observe_outputs(outputs)  # NaN activations are no score: the caller checks
            losses.append(self.task.loss(outputs, targets).detach())
            for k, v in self.task.metric_sums(outputs, targets).items():
                sums[k] = sums[k] + v if k in sums else v
        self.model.train()
        out = self.task.summarize(sums) if sums else {}
        out["loss"] = float(torch.stack(losses).double().mean()) if losses else 0.0
        return out

    # ------------------------------------------------------------------ outputs
    def write_results(self, genotype: Genotype) -> None:
        if not self.dist.is_main:
            return
        rd = self.run_dir
        atomic_write_json(rd.file("genotype.json"), genotype.to_dict())
        alphas = {k: v.numpy() for k, v in self.trunk.alpha_weights().items()}
        atomic_write_json(rd.file("alphas.json"), {k: v.round(6).tolist() for k, v in alphas.items()})
        plot_alphas(alphas, rd.file("alphas.png"), title=f"{self.task.name} on {self.cfg.data.name}, epoch {self.epoch}")
        draw_genotype(genotype, rd.path)

    def write_discretization(self, genotype: Genotype) -> None:
        """alphas_hist.png, genotypes_sampled.json (discretization=sample) and the discretisation gap in result.json."""
        supernet = self.evaluate()
        self.trunk.op_weights = fixed_weights(disc.child_weights(self.trunk, genotype))
        try:
            child = self.evaluate()
        finally:
            self.trunk.op_weights = self.relax
        self.check_finite(supernet, child)  # no result.json (nor a gap) from NaN outputs
        if not self.dist.is_main:
            return
        rd, arch = self.run_dir, self.cfg.arch
        alphas = {k: v.numpy() for k, v in self.trunk.alpha_weights().items()}
        disc.plot_alpha_hist(alphas, rd.file("alphas_hist.png"), title=f"{self.task.name}, epoch {self.epoch}")
        result = {"genotype": genotype.to_dict(), "discretization_gap": disc.gap(supernet, child)}
        if arch.discretization == "sample":
            # seeded by the search's seed too: near-uniform α with one fixed seed would give every
            # search the same draws, and a study would train the same "sampled" cell for all of them
            seed = [self.cfg.seed, arch.discretization_seed]
            drawn = sample_genotypes(self.trunk.alpha_normal.detach().cpu().numpy(),
                                     self.trunk.alpha_reduce.detach().cpu().numpy(), self.trunk.nodes,
                                     arch.samples, seed)
            atomic_write_json(rd.file("genotypes_sampled.json"),
                              {"seed": seed, "genotypes": [g.to_dict() for g in drawn]})
            result["genotypes_sampled"] = len(drawn)
        atomic_write_json(rd.file("result.json"), result)
        delta = result["discretization_gap"]["child_minus_supernet"]
        print("discretisation gap (child − supernet on α-half batches): "
              + ", ".join(f"{k} {v:+.4g}" for k, v in delta.items()), flush=True)

    # ------------------------------------------------------------------ loop
    def run(self) -> SearchResult:
        """Lock the run directory (one writer), then start or resume; the lock goes with the process."""
        lock, failure = None, None
        if self.dist.is_main:
            try:
                check_run_kind(self.run_dir.path, "search:darts")
                lock = DirLock(self.run_dir.path).acquire()
            except UnnasError as exc:
                failure = str(exc)
        failure = self.dist.broadcast(failure)  # every rank stops if rank 0 cannot use the run dir
        if failure:
            raise CheckpointError(failure)
        try:
            return self._run_locked()
        finally:
            if lock is not None:
                lock.release()

    def _read_checkpoint(self) -> dict[str, Any]:
        rd = self.run_dir
        try:
            return torch.load(rd.checkpoint, map_location=self.device, weights_only=False)
        except Exception as exc:
            raise CheckpointError(f"cannot read {rd.checkpoint}: {one_line(exc)}; delete it to start over") from None

    def _run_locked(self) -> SearchResult:
        cfg, rd = self.cfg, self.run_dir
        resumed = rd.has_checkpoint()
        failure, state = None, None
        if self.dist.is_main:
            try:
                rd.remove_stale_temps()
                # everything is checked against the checkpoint before anything on disk changes
                state = self._read_checkpoint() if resumed else None
                self._check_resumable(state)
                rd.prepare(self.config_yaml, ignore_keys=RESUME_MAY_CHANGE,
                           saved_config=state.get("config_yaml") if state else None,
                           defaults_yaml=defaults_yaml(cfg))
            except CheckpointError as exc:
                failure = str(exc)
        failure = self.dist.broadcast(failure)
        if failure:
            raise CheckpointError(failure)
        if resumed:
            self.load_state_dict(state if state is not None else self._read_checkpoint())
            self.check_finite()  # a checkpoint written before buffers were checked may hold a diverged state
            if self.dist.is_main:
                rd.truncate_metrics(self.global_step)
                print(f"unnas search: resuming from step {self.global_step} (epoch {self.epoch})", flush=True)
        elif self.dist.is_main:
            rd.truncate_metrics(-1)
            rd.log({"event": "start", "world_size": self.dist.world_size, "step": 0, "device": str(self.device), "task": self.task.describe(),
                    "data": self.dataset.describe(), "params": sum(p.numel() for p in self.step.w_params),
                    "iters_per_epoch": self.iters_per_epoch})
        total = cfg.optim.epochs * self.iters_per_epoch
        bar = _progress(total, self.global_step, cfg.progress and self.dist.is_main, f"search {self.task.name}")
        self.model.train()
        try:
            while self.epoch < cfg.optim.epochs:
                self._run_epoch(bar)
        finally:
            bar.close()
        genotype = self.trunk.genotype()
        self.write_discretization(genotype)
        return SearchResult(genotype, rd.path, cfg.optim.epochs, resumed)

    def _run_epoch(self, bar) -> None:
        cfg, o = self.cfg, self.cfg.optim
        lr = cosine_lr(o.lr, o.lr_min, self.epoch, o.epochs)
        arch_lr = cosine_lr(o.arch_lr, 0.0, self.epoch, o.epochs) if o.arch_lr_schedule == "cosine" else None
        self.step.set_lr(lr, arch_lr)
        self.w_stream.start_epoch(self.epoch, self.iteration)
        window_loss, window_inputs, window_images, window_metrics = [], 0, 0, {}
        t_window = time.perf_counter()
        t_last = t_window
        while self.iteration < self.iters_per_epoch:
            batch = self.w_stream.next(wrap=False)
            self.relax.progress = (self.epoch + self.iteration / self.iters_per_epoch) / o.epochs
            if self.epoch + self.iteration / self.iters_per_epoch >= o.arch_start_epoch:
                self.guard.observe(self.arch_step())
            loss, metrics, n_inputs = self.weight_step(batch)
            self.iteration += 1
            now = time.perf_counter()
            self.elapsed += now - t_last
            t_last = now
            window_loss.append(loss)
            self.guard.observe(loss)
            window_inputs += n_inputs
            window_images += batch[0].shape[0]
            for k, v in metrics.items():
                window_metrics.setdefault(k, []).append(v)
            bar.update(1)
            if self.iteration % cfg.log_every == 0 or self.iteration == self.iters_per_epoch:
                self.guard.check(self.global_step, self.epoch)
                dt = max(now - t_window, 1e-9)
                record = {
                    "step": self.global_step, "epoch": self.epoch, "iter": self.iteration,
                    "loss": float(torch.stack(window_loss).mean()), "lr": lr, "arch_lr": self.a_opt.param_groups[0]["lr"],
                    **{k: float(torch.stack(v).mean()) for k, v in window_metrics.items()},
                    "img_per_s": window_images / dt, "inputs_per_s": window_inputs / dt,
                    "wall_clock_s": round(self.elapsed, 3),
                    **self._tau_field(),
                }
                self.log(record)
                bar.set_postfix(loss=f"{record['loss']:.3f}", img_s=f"{record['img_per_s']:.1f}",
                                **_alpha_postfix(alpha_stats.cell_stats(self.trunk.alpha_weights())),
                                **{k: f"{v:.3g}" for k, v in self._tau_field().items()})
                window_loss, window_inputs, window_images, window_metrics = [], 0, 0, {}
                t_window = time.perf_counter()
            if self.iteration % cfg.checkpoint_every == 0 and self.iteration < self.iters_per_epoch:
                self.save_checkpoint()
        self._end_epoch()

    def _tau_field(self) -> dict[str, float]:
        return {"tau": self.relax.tau} if self.cfg.arch.relaxation == "gumbel" else {}

    def _end_epoch(self) -> None:
        self.check_finite()  # no genotype, α or checkpoint from a diverged state
        genotype = self.trunk.genotype()
        evaluation = self.evaluate()
        self.guard.check(self.global_step, self.epoch, metrics=evaluation)  # nor from NaN activations' scores
        alphas = self.trunk.alpha_weights()
        # how far α is from uniform, and how much of the genotype changed since the last epoch
        stats = alpha_stats.cell_stats(alphas)
        if self.history:
            previous = Genotype.from_obj(self.history[-1]["genotype"])
            for cell in stats:
                stats[cell]["stable_vs_last_epoch"] = alpha_stats.genotype_stability(previous, genotype, cell)
        record = {
            "event": "epoch_end", "step": self.global_step, "epoch": self.epoch,
            "genotype": genotype.to_dict(), "genotype_str": str(genotype),
            "eval": evaluation, "alpha": {k: v.numpy().round(5).tolist() for k, v in alphas.items()},
            "alpha_stats": stats, "wall_clock_s": round(self.elapsed, 3), **self._tau_field(),
        }
        self.history.append({"epoch": self.epoch, "genotype": genotype.to_dict(), "eval": evaluation})
        if not distributed.replicas_identical(self.trunk.arch_parameters(), self.dist):
            raise RuntimeError("α differs between ranks; the architecture gradients were not all-reduced")
        self.log(record)
        self.write_results(genotype)
        self.epoch += 1
        self.iteration = 0
        self.save_checkpoint()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def _alpha_postfix(stats: dict[str, dict[str, float]]) -> dict[str, str]:
    """Progress-line fields: mean max non-`none` weight and mean entropy, normal/reduce."""
    n, r = stats["normal"], stats["reduce"]
    return {"a_max": f"{n['sharpness']:.3f}/{r['sharpness']:.3f}", "a_H": f"{n['entropy']:.2f}/{r['entropy']:.2f}"}


def _progress(total: int, initial: int, enabled: bool, desc: str):
    if not enabled:
        return _NoBar()
    return tqdm(total=total, initial=initial, desc=desc, unit="it", dynamic_ncols=True)


def search(cfg: SearchConfig, config_yaml: str | None = None) -> SearchResult:
    return DartsSearch(cfg, config_yaml).run()

