"""The optimizer of a training run and what changes from epoch to epoch: learning rate, momentum,
and a ``torch.optim.lr_scheduler`` scheduler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .._utils.validation import check_nonnegative_float
from ..models.protocol import EnergyModel
from .monitor import higher_is_better, resolve_measure
from .settings import Scheduler, TrainingSettings
from .sgd import SGDUpdate


def momentum_at(momentum: float | tuple[float, float], switch: int, epoch: int) -> float:
    """The momentum of ``epoch``: a constant, or ``(initial, final)`` with ``final`` from epoch ``switch`` on."""
    if isinstance(momentum, (tuple, list)):
        initial, final = momentum
        return float(initial if epoch < switch else final)
    return float(momentum)


def lr_at(lr: float | Callable[[int], float], epoch: int) -> float:
    """The learning rate of ``epoch``: ``lr``, or ``lr(epoch)`` for a schedule; checked."""
    value = lr(epoch) if callable(lr) else lr
    return check_nonnegative_float(value, f"learning rate at epoch {epoch}")


def linear_decay(lr: float, epochs: int, decay_epochs: int, epoch: int) -> float:
    """``lr`` until the last ``decay_epochs`` of ``epochs``, then ``lr * (epochs - epoch) / decay_epochs``
    (falling linearly to 0); ``functools.partial(linear_decay, lr, epochs, decay_epochs)`` is a schedule
    for ``fit(lr=...)``."""
    start = epochs - decay_epochs
    return lr if epoch < start else lr * (epochs - epoch) / decay_epochs


def make_optimizer(model: EnergyModel, settings: TrainingSettings) -> torch.optim.Optimizer | SGDUpdate:
    """The optimizer of ``fit(..., optimizer=...)`` over ``model``'s trained parameters, set for epoch 0."""
    optimizer = settings.optimizer
    lr, momentum = lr_at(settings.lr, 0), momentum_at(settings.momentum, settings.momentum_switch, 0)
    params = [p for p in model.parameters() if p.requires_grad]
    if isinstance(optimizer, torch.optim.Optimizer):
        given = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if given != {id(p) for p in params}:
            raise ValueError("the optimizer given to fit must hold exactly the model's trained parameters "
                             "(those with requires_grad), e.g. torch.optim.SGD(model.parameters(), lr=0.01)")
        return optimizer
    if callable(optimizer):
        return optimizer(params)
    name = str(optimizer).lower()
    if name == "sgd" and settings.lr_scheduler is None:
        return SGDUpdate(params, lr=lr, momentum=momentum)
    if name == "sgd":  # a scheduler needs a torch.optim optimizer
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd', 'adam', a callable or a torch.optim.Optimizer")


def make_scheduler(settings: TrainingSettings, opt: torch.optim.Optimizer) -> Scheduler | None:
    """The learning-rate scheduler of ``fit(..., lr_scheduler=spec)``, bound to ``opt``."""
    spec, lr = settings.lr_scheduler, settings.lr
    if spec is None:
        return None
    if callable(lr):
        raise ValueError("give the learning-rate schedule once: lr as a function of the epoch, or lr_scheduler "
                         "(with a number as the starting lr)")
    scheduler = spec
    if not isinstance(spec, Scheduler):
        if not callable(spec):
            raise TypeError("lr_scheduler must be a torch.optim.lr_scheduler scheduler or a function optimizer -> "
                            f"scheduler (e.g. functools.partial(StepLR, step_size=10)); found {type(spec).__name__}")
        scheduler = spec(opt)
        if not isinstance(scheduler, Scheduler):
            raise TypeError("lr_scheduler(optimizer) must return a torch.optim.lr_scheduler scheduler; "
                            f"found {type(scheduler).__name__}")
    if scheduler.optimizer is not opt:
        raise ValueError("lr_scheduler is bound to another optimizer than the one fit trains with: make the "
                         "optimizer, pass it as optimizer=, and bind the scheduler to it (or pass a function "
                         "optimizer -> scheduler)")
    return scheduler


def check_given_optimizer(settings: TrainingSettings) -> None:
    """An optimizer instance keeps its own learning rate: refuse a schedule given as ``lr``."""
    if settings.optimizer_given and callable(settings.lr):
        raise ValueError("an optimizer given to fit keeps its own learning rate: schedule it with lr_scheduler")


def plateau_key(scheduler: Scheduler | None, has_validation: bool, log_likelihood_every: int) -> str | None:
    """The record key a ``ReduceLROnPlateau`` follows: fit's held-out measure, in its scheduler's mode."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return None
    key = resolve_measure("auto", has_validation, log_likelihood_every)
    wanted = "max" if higher_is_better(key) else "min"
    if scheduler.mode != wanted:
        raise ValueError(f"ReduceLROnPlateau follows {key} here, which is better when {wanted}imal: "
                         f"make it with mode={wanted!r}")
    return key


def set_epoch_rates(opt: torch.optim.Optimizer, settings: TrainingSettings, scheduler: Scheduler | None,
                    epoch: int) -> tuple[float, float | None]:
    """Set ``epoch``'s learning rate and momentum on the optimizer's groups where fit owns them; return both.

    A scheduler owns the learning rate, and an optimizer given as an instance its learning rate and momentum:
    then the values are read from its first group."""
    given = settings.optimizer_given
    sets_lr = scheduler is None and not given
    lr = lr_at(settings.lr, epoch) if sets_lr else float(opt.param_groups[0]["lr"])
    momentum = opt.param_groups[0].get("momentum") if given \
        else momentum_at(settings.momentum, settings.momentum_switch, epoch)
    for group in opt.param_groups:
        if sets_lr:
            group["lr"] = lr
        if "momentum" in group and not given:
            group["momentum"] = momentum
    return lr, momentum


def step_scheduler(scheduler: Scheduler | None, key: str | None, record: dict[str, Any]) -> None:
    """Step ``scheduler`` at the end of an epoch (a plateau scheduler, following ``key``, on the epochs that
    measured it)."""
    if scheduler is None:
        return
    if key is None:
        scheduler.step()
    elif record.get(key) is not None:
        scheduler.step(record[key])
