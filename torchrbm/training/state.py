"""The state of a training run: everything its epochs read and change, and its checkpoint keeps,
made from the model, the data and the :class:`~torchrbm.training.settings.TrainingSettings`."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from ..data.batches import RowSource, TensorRows, random_rows
from ..models.protocol import EnergyModel
from . import distributed
from .agreement import generators
from .lean import has_constraints, lean_step_applies
from .monitor import History, LogLikelihoodMonitor, resolve_measure
from .regularisers import Centering, SparsityTarget
from .rows import split_sample_weight, training_source, validation_rows, with_sample_weight
from .schedules import check_given_optimizer, make_optimizer, make_scheduler, plateau_key
from .settings import Callback, Scheduler, TrainingSettings


@dataclasses.dataclass
class TrainingState:
    """A training run in progress (see :func:`prepare`)."""

    model: Any
    settings: TrainingSettings
    source: RowSource
    #: Rows on which each epoch's metrics are measured: training rows and (``None`` without them) held-out ones.
    monitor_train: Tensor
    monitor_valid: Tensor | None
    rank: int
    world_size: int
    generator: torch.Generator  # for sampling
    shuffle_generator: torch.Generator  # for shuffling: the same on every process
    sparsity: SparsityTarget | None
    centering: Centering | None
    callbacks: list[Callback]
    opt: torch.optim.Optimizer
    scheduler: Scheduler | None
    plateau_key: str | None
    weight_names: set[str]
    named: list[tuple[str, Tensor]]
    fingerprint: dict[str, Any]
    #: Whether the stored rows end in a column of sample weights.
    weighted: bool = False
    #: The sample weights of the monitored rows (``None``: unweighted).
    monitor_train_weight: Tensor | None = None
    monitor_valid_weight: Tensor | None = None
    history: History = dataclasses.field(default_factory=History)
    #: Whether each update is a :func:`~torchrbm.training.lean.lean_step`.
    lean: bool = False
    #: Whether ``model.constrain_()`` follows each update (not for lean runs with nothing to constrain).
    constrains: bool = True

    @property
    def generators(self) -> list[torch.Generator]:
        """The distinct generators, as a checkpoint keeps them."""
        same = self.generator is self.shuffle_generator
        return [self.generator] if same else [self.generator, self.shuffle_generator]

    @property
    def params(self) -> list[Tensor]:
        return [param for _, param in self.named]


def prepare(model: EnergyModel, data, settings: TrainingSettings, *, context=None, validation_data=None,
            validation_context=None, sample_weight=None, validation_sample_weight=None) -> TrainingState:
    """Check the data against ``model``, draw the monitored rows, and make the generators, regularisers,
    optimizer and scheduler of a training run (in this order: the random draws depend on it)."""
    source = training_source(model, data, context, settings, sample_weight)
    weighted = sample_weight is not None
    rank, world_size = distributed.rank_and_size()
    generator, shuffle_generator = generators(model, settings.seed, settings.generator, rank, world_size)
    if world_size > 1:
        distributed.broadcast_parameters(model)
    sparsity = None if settings.sparsity_target is None \
        else SparsityTarget(settings.sparsity_target, settings.sparsity_cost)
    monitor_train, train_weight = split_sample_weight(source.sample(settings.monitor_size, shuffle_generator),
                                                      weighted)
    centering = None
    if settings.centered:
        rows = split_sample_weight(source.rows, weighted)[0] if isinstance(source, TensorRows) else monitor_train
        centering = Centering(model, rows)
    monitor_valid = valid_weight = None
    if validation_data is not None:
        validation_data = validation_rows(model, validation_data, validation_context, with_context=context is not None)
        size = min(monitor_train.shape[0], validation_data.shape[0])
        valid_weighted = validation_sample_weight is not None
        if valid_weighted:
            validation_data = with_sample_weight(validation_data, validation_sample_weight)
        monitor_valid, valid_weight = split_sample_weight(random_rows(validation_data, size, shuffle_generator),
                                                          valid_weighted)
        monitor_train, train_weight = monitor_train[:size], None if train_weight is None else train_weight[:size]
    elif validation_sample_weight is not None:
        raise ValueError("validation_sample_weight weighs the rows of validation_data, which was not given")
    callbacks = _callbacks(settings, monitor_train, monitor_valid, train_weight, valid_weight)
    opt, scheduler, key = _optimization(model, settings, monitor_valid is not None)
    weight_names = set(getattr(model, "weight_names", ("W",)))
    state = TrainingState(
        model=model, settings=settings, source=source, monitor_train=monitor_train, monitor_valid=monitor_valid,
        rank=rank, world_size=world_size, generator=generator, shuffle_generator=shuffle_generator,
        sparsity=sparsity, centering=centering, callbacks=callbacks,
        opt=opt, scheduler=scheduler, plateau_key=key, weight_names=weight_names,
        named=[(name, p) for name, p in model.named_parameters() if p.requires_grad],
        fingerprint=settings.fingerprint(model, world_size, scheduler), weighted=weighted,
        monitor_train_weight=train_weight, monitor_valid_weight=valid_weight)
    state.lean = lean_step_applies(state)
    state.constrains = not state.lean or has_constraints(model)
    return state


def _callbacks(settings: TrainingSettings, monitor_train: Tensor, monitor_valid: Tensor | None,
               train_weight: Tensor | None, valid_weight: Tensor | None) -> list[Callback]:
    """The callbacks of each epoch, after the likelihood monitor of ``log_likelihood_every``; starts early stopping."""
    callbacks = list(settings.callbacks)
    if settings.log_likelihood_every:
        callbacks.insert(0, LogLikelihoodMonitor(monitor_train, every=settings.log_likelihood_every,
                                                 validation_data=monitor_valid, sample_weight=train_weight,
                                                 validation_sample_weight=valid_weight))
    if settings.early_stopping is not None:
        settings.early_stopping.start(resolve_measure(settings.early_stopping.monitor, monitor_valid is not None,
                                                      settings.log_likelihood_every))
    return callbacks


def _optimization(model: EnergyModel, settings: TrainingSettings,
                  has_validation: bool) -> tuple[torch.optim.Optimizer, Scheduler | None, str | None]:
    """The optimizer, the learning-rate scheduler and the record key a plateau scheduler follows."""
    opt = make_optimizer(model, settings)
    scheduler = make_scheduler(settings, opt)
    check_given_optimizer(settings)
    key = plateau_key(scheduler, has_validation, settings.log_likelihood_every)
    if key is not None and not settings.monitor:
        raise ValueError(f"ReduceLROnPlateau follows {key}, which monitor=False does not measure; leave monitor=True")
    return opt, scheduler, key
