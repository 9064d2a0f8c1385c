"""The two optimiser steps of one first-order DARTS iteration, shared by the search and its benchmark.

Keeping them in one place means ``benchmarks/search_step.py`` times exactly what
``unnas search`` runs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from unnas.config.schema import OptimConfig
from unnas.spaces.darts.supernet import split_parameters


class BilevelStep:
    """Adam on α with one batch, then clipped SGD on the weights with another.

    Each backward produces gradients only for the parameters its own step updates. In the
    paper's loop the α step's weight gradients and the weight step's α gradients are thrown away
    by the next ``zero_grad``, so skipping them leaves every update unchanged while saving the
    weight-gradient kernel of every convolution in the α step. Under DDP the reducer waits for
    every parameter's gradient, so there (``targeted=False``) both backwards run in full.

    ``fused`` picks torch's fused optimiser kernels and ``foreach`` its multi-tensor ones (None:
    torch's default, which is foreach on CUDA and one op per parameter on CPU).
    ``forward`` is what runs the model (the module itself, its DDP wrapper or a compiled version).
    Neither step reads a value back to the host: losses and outputs come back as device tensors.
    """

    def __init__(self, model: nn.Module, loss: Callable[[Tensor, Tensor], Tensor], optim: OptimConfig, *,
                 forward: Callable[[Tensor], Tensor] | None = None, targeted: bool = True,
                 capturable: bool = False, fused: bool | None = None, foreach: bool | None = None,
                 regulariser: Callable[[], Tensor | None] | None = None):
        self.model = model
        # Extra α-loss term (the relaxation's entropy penalty); None or a None result: nothing added.
        self.regulariser = regulariser
        self.forward = forward or model
        self.loss = loss
        self.grad_clip = optim.grad_clip
        self.targeted = targeted
        self.w_params, self.a_params = split_parameters(model)
        self.w_opt = torch.optim.SGD(self.w_params, lr=optim.lr, momentum=optim.momentum, nesterov=optim.nesterov,
                                     weight_decay=optim.weight_decay, fused=fused, foreach=foreach)
        # capturable: Adam keeps its step count on the device so the step can live in a CUDA graph.
        self.a_opt = torch.optim.Adam(self.a_params, lr=optim.arch_lr, betas=tuple(optim.arch_betas),
                                      weight_decay=optim.arch_weight_decay, capturable=capturable, fused=fused,
                                      foreach=foreach)
        self.foreach = foreach

    def _backward(self, loss: Tensor, params: list[nn.Parameter]) -> None:
        # Frozen parameters (α of a cell type the network lacks) cannot be backward inputs.
        loss.backward(inputs=[p for p in params if p.requires_grad] if self.targeted else None)

    def arch_step(self, inputs: Tensor, targets: Tensor) -> Tensor:
        self.a_opt.zero_grad(set_to_none=True)
        loss = self.loss(self.forward(inputs), targets)
        extra = self.regulariser() if self.regulariser is not None else None
        self._backward(loss if extra is None else loss + extra, self.a_params)
        self.a_opt.step()
        return loss.detach()

    def weight_step(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """(loss, outputs), both detached."""
        self.w_opt.zero_grad(set_to_none=True)
        outputs = self.forward(inputs)
        loss = self.loss(outputs, targets)
        self._backward(loss, self.w_params)
        nn.utils.clip_grad_norm_(self.w_params, self.grad_clip, foreach=self.foreach)
        self.w_opt.step()
        return loss.detach(), outputs.detach()

    def set_lr(self, lr: float, arch_lr: float | None = None) -> None:
        """The weights' learning rate, and α's when ``arch_lr`` is given."""
        for opt, value in ((self.w_opt, lr), (self.a_opt, arch_lr)):
            if value is not None:
                for group in opt.param_groups:
                    group["lr"] = value
