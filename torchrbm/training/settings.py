"""The settings of a training run, in one frozen and validated object.

:func:`~torchrbm.training.fit.fit` builds a :class:`TrainingSettings` from its keywords (the
fields are its keywords, less the data: ``context``, ``validation_data``, ``validation_context``);
the same object gives a checkpoint's fingerprint (:meth:`TrainingSettings.fingerprint`), the
divergence guard's advice (:class:`~torchrbm.training.guards.DivergenceGuard`), and the
settings ``torchrbm train`` trains with and lets a resumed run change
(:data:`MAY_CHANGE_ON_RESUME`).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .._utils.validation import check_nonnegative_float, check_positive_int
from ..models.protocol import EnergyModel
from ..sampling.samplers import Sampler
from .defaults import DEFAULTS
from .monitor import EarlyStopping
from .precision import matmul_dtype
from .regularisers import check_sparsity

Callback = Callable[[Any, dict[str, Any]], "bool | None"]
Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau

#: Settings a resumed run may give anew: ``epochs``, the total (a larger one extends the run, a
#: finished one too), and how the run is kept and watched.  A checkpoint's fingerprint holds
#: ``epochs`` alone of these; ``torchrbm train --resume`` lets the same options change.
MAY_CHANGE_ON_RESUME = frozenset({"epochs", "checkpoint", "checkpoint_every", "resume", "progress", "callbacks"})


def check_momentum(momentum) -> None:
    """A momentum in [0, 1), or a pair of them (initial, final)."""
    values = list(momentum) if isinstance(momentum, (tuple, list)) else [momentum]
    if isinstance(momentum, (tuple, list)) and len(values) != 2:
        raise ValueError(f"momentum must be a number or a pair (initial, final); found {len(values)} values")
    for value in values:
        if check_nonnegative_float(value, "momentum") >= 1:
            raise ValueError(f"momentum must be below 1 (at 1 and above the updates grow without bound); found {value}")


def _check_seed(seed) -> int | None:
    """``seed`` as a Python int (a NumPy integer, say: ``torch.Generator`` takes Python ints), or ``None``."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer (or None); found {type(seed).__name__}")
    return int(seed)


def _check_clip_grad_norm(clip_grad_norm) -> None:
    if clip_grad_norm is not None and check_nonnegative_float(clip_grad_norm, "clip_grad_norm") == 0:
        raise ValueError("clip_grad_norm must be positive (or None for no clipping); found 0")


def _check_sampler(sampler) -> Sampler:
    """``sampler``, or a new ``DEFAULTS.make_sampler()`` (so no two runs share persistent chains)."""
    sampler = DEFAULTS.make_sampler() if sampler is None else sampler
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a torchrbm Sampler (CD, PCD, ...), not {type(sampler).__name__}")
    return sampler


def _check_monitor(monitor: bool, log_likelihood_every: int, early_stopping: EarlyStopping | None) -> None:
    """``monitor`` is a bool, and without per-epoch measures nothing asks for them."""
    if not isinstance(monitor, bool):
        raise TypeError(f"monitor must be True or False; found {monitor!r}")
    if not monitor and (log_likelihood_every or early_stopping is not None):
        asking = "log_likelihood_every" if log_likelihood_every else "early_stopping"
        raise ValueError(f"monitor=False measures nothing after each epoch, but {asking} reads those measures; "
                         "leave monitor=True")


def _check_max_abs_weight(max_abs_weight) -> None:
    valid = isinstance(max_abs_weight, numbers.Real) and not isinstance(max_abs_weight, bool)
    if max_abs_weight is not None and not (valid and max_abs_weight > 0):
        raise ValueError(f"max_abs_weight must be a positive number or None; found {max_abs_weight!r}")


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """Every setting of a training run; the meaning of each field is that of :func:`torchrbm.fit`'s keyword
    of the same name.  Checked when made (with fit's errors); ``sampler=None`` becomes a new
    ``DEFAULTS.make_sampler()``, and ``epochs``, ``batch_size``, ``weight_decay``, ``seed`` and the other
    counts become plain ``int`` / ``float``."""

    sampler: Sampler | None = None
    epochs: int = 10
    batch_size: int = DEFAULTS.batch_size
    lr: float | Callable[[int], float] = DEFAULTS.lr
    momentum: float | tuple[float, float] = DEFAULTS.momentum
    momentum_switch: int = DEFAULTS.momentum_switch
    weight_decay: float = DEFAULTS.weight_decay
    l1_squared: float = 0.0
    l2_fields: float = 0.0
    sparsity_target: float | None = None
    sparsity_cost: float = 0.1
    extra_loss: Callable[[Any, Tensor], Tensor] | None = None
    centered: bool = False
    optimizer: str | Callable[[list[Tensor]], torch.optim.Optimizer] | torch.optim.Optimizer = "sgd"
    lr_scheduler: Scheduler | Callable[[torch.optim.Optimizer], Scheduler] | None = None
    precision: str = "32-true"
    shuffle: bool = True
    seed: int | None = None
    generator: torch.Generator | None = None
    callbacks: Sequence[Callback] = ()
    early_stopping: EarlyStopping | None = None
    log_likelihood_every: int = 0
    monitor_size: int = 1000
    monitor: bool = True
    progress: bool = False
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: int = 1
    resume: bool = False
    clip_grad_norm: float | None = None
    max_abs_weight: float | None = 1e3

    def __post_init__(self) -> None:
        checked = {"epochs": check_positive_int(self.epochs, "epochs", minimum=0),
                   "batch_size": check_positive_int(self.batch_size, "batch_size"),
                   "monitor_size": check_positive_int(self.monitor_size, "monitor_size"),
                   "weight_decay": check_nonnegative_float(self.weight_decay, "weight_decay"),
                   "l1_squared": check_nonnegative_float(self.l1_squared, "l1_squared"),
                   "l2_fields": check_nonnegative_float(self.l2_fields, "l2_fields")}
        check_momentum(self.momentum)
        checked["seed"] = _check_seed(self.seed)
        _check_clip_grad_norm(self.clip_grad_norm)
        matmul_dtype(self.precision)
        checked["sampler"] = _check_sampler(self.sampler)
        if self.sparsity_target is not None:
            check_sparsity(self.sparsity_target, self.sparsity_cost)
        if self.early_stopping is not None and not isinstance(self.early_stopping, EarlyStopping):
            found = type(self.early_stopping).__name__
            raise TypeError(f"early_stopping must be a torchrbm EarlyStopping; found {found}")
        _check_monitor(self.monitor, self.log_likelihood_every, self.early_stopping)
        checked["checkpoint_every"] = check_positive_int(self.checkpoint_every, "checkpoint_every")
        _check_max_abs_weight(self.max_abs_weight)
        checked["callbacks"] = tuple(self.callbacks)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def optimizer_given(self) -> bool:
        """Whether ``optimizer`` is an instance, which keeps its own learning rate and momentum."""
        return isinstance(self.optimizer, torch.optim.Optimizer)

    def fingerprint(self, model: EnergyModel, world_size: int, scheduler: Scheduler | None) -> dict[str, Any]:
        """The settings a checkpoint records, with ``model``'s configuration, the number of processes and the
        type of the learning-rate scheduler made from ``lr_scheduler``; a run resumes from the checkpoint
        only with the same ones (:data:`MAY_CHANGE_ON_RESUME` excepted)."""
        return {"model": model.config(), "sampler": self.sampler.config(), "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": "schedule" if callable(self.lr) else self.lr,
                "momentum": list(self.momentum) if isinstance(self.momentum, (tuple, list)) else self.momentum,
                "momentum_switch": self.momentum_switch, "weight_decay": self.weight_decay,
                "sparsity": [self.sparsity_target, self.sparsity_cost], "centered": self.centered,
                "optimizer": self.optimizer if isinstance(self.optimizer, str) else "custom",
                "precision": self.precision, "shuffle": self.shuffle, "world_size": world_size,
                "clip_grad_norm": self.clip_grad_norm,
                "lr_scheduler": None if scheduler is None else type(scheduler).__name__,
                "early_stopping": None if self.early_stopping is None else self.early_stopping.config(),
                **({"l1_squared": self.l1_squared} if self.l1_squared else {}),  # absent from older checkpoints
                **({"l2_fields": self.l2_fields} if self.l2_fields else {})}
