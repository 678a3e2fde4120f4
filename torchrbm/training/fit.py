"""Training: turn positive and negative statistics into parameter updates.

For a mini-batch ``B`` and negative samples ``S`` from a sampler, the gradient of
the negative mean log-likelihood that is handed to the ``torch.optim`` optimizer is

    g = <dF/d theta>_B - <dF/d theta>_S  (+ weight decay + sparsity terms),

so that plain SGD gives the classic update ``dW = lr (<v h^T>_data - <v h^T>_model)``.
"""

from __future__ import annotations

import itertools
import logging
import numbers
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._utils import threads
from .._utils.progress import Progress
from .._utils.rng import resolve_generator
from .._utils.validation import as_data_tensor, check_nonnegative_float, check_positive_int, trusted_inputs
from ..data.batches import TensorRows, random_rows, row_source
from ..estimation.estimate import mean_free_energy, reconstruction_error
from ..models.conditional import ConditionalRBM
from ..models.rbm import uniform_weights
from ..sampling.samplers import CD, PCD, NegativePhase, Sampler
from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .defaults import DEFAULTS
from .guards import DivergenceGuard
from .monitor import EarlyStopping, History, LogLikelihoodMonitor, higher_is_better, resolve_measure
from .precision import matmul_dtype, mixed_precision
from .regularisers import Centering, SparsityTarget, add_autograd_grad

Callback = Callable[[Any, dict[str, Any]], "bool | None"]
Scheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau
logger = logging.getLogger(__name__)


def check_momentum(momentum) -> None:
    """A momentum in [0, 1), or a pair of them (initial, final)."""
    values = list(momentum) if isinstance(momentum, (tuple, list)) else [momentum]
    if isinstance(momentum, (tuple, list)) and len(values) != 2:
        raise ValueError(f"momentum must be a number or a pair (initial, final); found {len(values)} values")
    for value in values:
        if check_nonnegative_float(value, "momentum") >= 1:
            raise ValueError(f"momentum must be below 1 (at 1 and above the updates grow without bound); found {value}")


def _momentum_at(momentum: float | tuple[float, float], switch: int, epoch: int) -> float:
    if isinstance(momentum, (tuple, list)):
        initial, final = momentum
        return float(initial if epoch < switch else final)
    return float(momentum)


def lr_at(lr: float | Callable[[int], float], epoch: int) -> float:
    value = lr(epoch) if callable(lr) else lr
    return check_nonnegative_float(value, f"learning rate at epoch {epoch}")


def _make_optimizer(model, optimizer, lr: float, momentum: float) -> torch.optim.Optimizer:
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
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd', 'adam', a callable or a torch.optim.Optimizer")


def _make_scheduler(spec, opt: torch.optim.Optimizer, lr) -> Scheduler | None:
    """The learning-rate scheduler of ``fit(..., lr_scheduler=spec)``, bound to ``opt``."""
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


def _plateau_key(scheduler: Scheduler | None, has_validation: bool, log_likelihood_every: int) -> str | None:
    """The record key a ``ReduceLROnPlateau`` follows: fit's held-out measure, in its scheduler's mode."""
    if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return None
    key = resolve_measure("auto", has_validation, log_likelihood_every)
    wanted = "max" if higher_is_better(key) else "min"
    if scheduler.mode != wanted:
        raise ValueError(f"ReduceLROnPlateau follows {key} here, which is better when {wanted}imal: "
                         f"make it with mode={wanted!r}")
    return key


def _step_scheduler(scheduler: Scheduler | None, plateau_key: str | None, record: dict[str, Any]) -> None:
    """Step ``scheduler`` at the end of an epoch (a plateau scheduler on the epochs that measured its key)."""
    if scheduler is None:
        return
    if plateau_key is None:
        scheduler.step()
    elif record.get(plateau_key) is not None:
        scheduler.step(record[plateau_key])


def _rows_of_step(arguments: dict[str, Any]) -> tuple[Any, Any]:
    """The model of a :func:`fit` call and the rows of its largest product: the batch, or the
    sampler's persistent chains (all temperatures) when there are more."""
    batch, sampler = arguments["batch_size"], arguments["sampler"]
    chains = getattr(sampler, "n_chains", 0) * getattr(sampler, "n_temps", 1)
    return arguments["model"], max(batch, chains) if isinstance(batch, int) else batch


@threads.per_call(_rows_of_step)
def fit(
    model,
    data,
    *,
    sampler: Sampler | None = None,
    epochs: int = 10,
    batch_size: int = DEFAULTS.batch_size,
    lr: float | Callable[[int], float] = DEFAULTS.lr,
    momentum: float | tuple[float, float] = DEFAULTS.momentum,
    momentum_switch: int = DEFAULTS.momentum_switch,
    weight_decay: float = DEFAULTS.weight_decay,
    sparsity_target: float | None = None,
    sparsity_cost: float = 0.1,
    extra_loss: Callable[[Any, Tensor], Tensor] | None = None,
    centered: bool = False,
    optimizer: str | Callable[[list[Tensor]], torch.optim.Optimizer] | torch.optim.Optimizer = "sgd",
    lr_scheduler: Scheduler | Callable[[torch.optim.Optimizer], Scheduler] | None = None,
    precision: str = "32-true",
    context=None,
    validation_data=None,
    validation_context=None,
    shuffle: bool = True,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: EarlyStopping | None = None,
    log_likelihood_every: int = 0,
    monitor_size: int = 1000,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    clip_grad_norm: float | None = None,
    max_abs_weight: float | None = 1e3,
) -> History:
    """Train ``model`` on ``data`` by stochastic gradient descent on the negative log-likelihood.

    The settings not given are :data:`torchrbm.defaults.DEFAULTS`, the same as ``torchrbm train``'s:
    CD-1, batch 20, learning rate 0.01, momentum 0.5 then 0.9 after 5 epochs, weight decay 0.0001
    (chosen by training on the built-in data sets, ``benchmarks/defaults.py``).

    Parameters
    ----------
    data:
        Training rows: an array or tensor (kept in its dtype, so binary
        ``uint8`` data stays compact until a batch is used), a ``.npy`` path or
        ``np.memmap`` (read in chunks with bounded memory, :class:`~torchrbm.batches.NpyRows`), a
        ``DataLoader`` or any :class:`~torchrbm.batches.RowSource`
        (:mod:`torchrbm.batches`).  Inside a ``torch.distributed`` process group
        each process trains on its share of every global batch of
        ``batch_size * world_size`` rows and the gradients are averaged
        (:mod:`torchrbm.distributed`).
    sampler:
        Source of negative statistics; by default a new ``DEFAULTS.make_sampler()``, ``CD(k=1)``.
    lr:
        Learning rate, or a function ``epoch -> learning rate``; fit sets it on
        every parameter group of the optimizer it makes at the start of each
        epoch, unless an ``lr_scheduler`` is given.
    momentum:
        A constant, or ``(initial, final)`` switched at epoch ``momentum_switch``
        (Hinton's 0.5 -> 0.9), for the optimizers fit makes that have one.
    weight_decay:
        L2 penalty ``weight_decay * ||W||^2 / 2`` on the weights (not the biases).
    sparsity_target, sparsity_cost:
        Penalty pulling each hidden unit's mean activation toward the target.
    extra_loss:
        A function ``(model, batch) -> scalar`` added to the negative
        log-likelihood; its gradient (by autograd) joins every update.  For
        example the discriminative term of a
        :class:`~torchrbm.ClassificationRBM` (hybrid training):
        ``extra_loss=lambda m, rows: 10 * m.discriminative_loss(rows)``.
        It runs inside the training step, where model methods take tensors
        already on the model's device and dtype without checking their values
        (:func:`~torchrbm.validation.trusted_inputs`).
    centered:
        Follow the centred gradient (:class:`Centering`), which trains deeper
        and larger models more stably.
    optimizer:
        ``"sgd"`` (with momentum), ``"adam"``, a callable ``params -> Optimizer``, or
        a ``torch.optim.Optimizer`` over exactly the model's trained parameters;
        such an instance keeps its own learning rate and momentum (``lr`` and
        ``momentum`` are not used; schedule it with ``lr_scheduler``).
    lr_scheduler:
        A ``torch.optim.lr_scheduler`` scheduler, stepped once at the end of every
        epoch (after the callbacks): a function ``optimizer -> scheduler``
        (``functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10)``) or a
        scheduler already bound to the optimizer given as ``optimizer=``.  It then
        owns the learning rate, starting from the optimizer's (``lr`` for the
        optimizers fit makes; ``lr`` must then be a number), and each record's
        ``lr`` is the one that epoch trained with.  A ``ReduceLROnPlateau`` follows
        the held-out measure of :class:`~torchrbm.monitor.EarlyStopping`'s
        ``"auto"`` (``log_likelihood_valid`` when recorded, else
        ``recon_error_valid``), so it needs ``validation_data`` and the matching
        ``mode``.  Its state is part of a checkpoint.
    precision:
        ``"32-true"`` (every product in the parameters' dtype), ``"bf16-mixed"`` or
        ``"16-mixed"``: the matrix products of the training steps take bfloat16 /
        float16 operands, while parameters, optimizer state, probabilities and the
        monitored metrics stay in the parameters' dtype (:mod:`torchrbm.precision`).
    context, validation_context:
        For a :class:`~torchrbm.ConditionalRBM`: the context of each row of ``data``
        (and of ``validation_data``); required for that model, refused for others.
        Conditional models train with ``CD(k)``, whose chains start from the data
        and so share its context, or ``PCD``, whose chain ``i`` is conditioned on
        the batch's context row ``i mod N``.
    validation_data:
        Held-out data; if given, each epoch records the free-energy gap
        ``mean F(held-out) - mean F(training)`` on equal-sized subsets and the
        reconstruction error of the held-out subset (``recon_error_valid``).
    seed, generator:
        Every random draw (shuffling, sampling) uses ``generator``, or a new one
        on the model's device seeded with ``seed``.  Under data-parallel training
        all processes shuffle with rank 0's seed and each samples with a
        generator seeded from it and its rank.
    callbacks:
        Functions ``(model, record) -> bool | None`` called after each epoch, in
        order; a truthy return asks training to stop after this epoch, and the
        other callbacks of the epoch still run.  They may add keys to the record.
    early_stopping:
        An :class:`~torchrbm.monitor.EarlyStopping`: stop when a measure (by
        default the held-out log-likelihood, else the held-out reconstruction
        error) has not improved for ``patience`` measurements, and end with the
        best epoch's parameters.  It reads the record after the callbacks.
    log_likelihood_every:
        If positive, every that many epochs record the mean log-likelihood
        ``-F(v) - log Z`` of the monitored training rows (``log_likelihood_train``)
        and, with ``validation_data``, of the monitored held-out rows
        (``log_likelihood_valid``), both with one ``log Z``: exact for small models,
        else AIS (``log_likelihood_method``, ``log_likelihood_std``; see
        :class:`LogLikelihoodMonitor`).
    monitor_size:
        Number of training (and held-out) examples, fixed at the start, on which
        the per-epoch metrics are measured.
    progress:
        Report progress on stderr (:mod:`torchrbm.progress`): on a terminal, tqdm
        bars for the epochs, with the latest reconstruction error, and for the
        batches of the current epoch; elsewhere (a pipe, a log file) one plain
        line per epoch.
    checkpoint, checkpoint_every, resume:
        Write the whole training state to the file ``checkpoint`` every
        ``checkpoint_every`` epochs and after the last one
        (:mod:`torchrbm.checkpoint`; atomic, process 0 only).  With ``resume``,
        a run whose ``checkpoint`` file exists continues after its epoch and ends
        with the same parameters, bit for bit, as an uninterrupted run; the
        returned history then holds every epoch.  A checkpoint made with other
        settings is refused, except for ``epochs``, the total: a larger one extends
        the run (a finished one too) exactly as if it had been asked for from the
        start, a schedule (``lr`` or ``momentum`` as a function of the epoch)
        continuing past its old end.  While a checkpoint is kept, the first SIGINT
        (Ctrl-C) or SIGTERM stops training after the current epoch, with its
        checkpoint written and ``history.interrupted`` set.
    clip_grad_norm:
        Rescale each update's gradient to at most this Euclidean norm (over all
        parameters together; ``torch.nn.utils.clip_grad_norm_``).
    max_abs_weight:
        Divergence guard (:class:`~torchrbm.guards.DivergenceGuard`): after
        each epoch, non-finite parameters, a weight beyond this magnitude
        (``None``: no limit) or a runaway free energy stop training with
        :class:`~torchrbm.guards.DivergenceError`, naming the likely cause;
        the model keeps the parameters of the last good epoch and no checkpoint
        of the diverged state is written.

    Returns
    -------
    History
        One record per epoch: ``epoch``, ``recon_error`` (training rows),
        ``recon_error_valid`` and ``free_energy_gap`` (``None`` without validation
        data), ``lr``, ``momentum`` and ``time`` (seconds), plus the log-likelihoods
        where recorded.
    """
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    monitor_size = check_positive_int(monitor_size, "monitor_size")
    weight_decay = check_nonnegative_float(weight_decay, "weight_decay")
    check_momentum(momentum)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an integer (or None); found {type(seed).__name__}")
        seed = int(seed)  # a NumPy integer, say: torch.Generator takes Python ints
    if clip_grad_norm is not None and check_nonnegative_float(clip_grad_norm, "clip_grad_norm") == 0:
        raise ValueError("clip_grad_norm must be positive (or None for no clipping); found 0")
    matmul_dtype(precision)
    sampler = DEFAULTS.make_sampler() if sampler is None else sampler
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a torchrbm Sampler (CD, PCD, ...), not {type(sampler).__name__}")
    conditional = _check_conditional(model, context, sampler, centered, log_likelihood_every)
    if conditional:
        data = as_data_tensor(data, n_features=model.n_visible, units=model.visible)
        source = TensorRows(_with_context(model, data, context, "context"))
        source.prepare(model)
    else:
        source = row_source(data, model)
    rank, world_size = distributed.rank_and_size()
    generator, shuffle_generator = _generators(model, seed, generator, rank, world_size)
    if world_size > 1:
        distributed.broadcast_parameters(model)
    sparsity = None if sparsity_target is None else SparsityTarget(sparsity_target, sparsity_cost)

    monitor_train = source.sample(monitor_size, shuffle_generator)
    centering = None
    if centered:
        centering = Centering(model, source.rows if isinstance(source, TensorRows) else monitor_train)
    monitor_valid = None
    if validation_data is not None:
        validation_data = as_data_tensor(
            validation_data, name="validation_data", n_features=model.n_visible, units=model.visible
        )
        if conditional and validation_context is None:
            raise ValueError("validation_data for a ConditionalRBM needs its validation_context")
        validation_data = _with_context(model, validation_data, validation_context, "validation_context")
        size = min(monitor_train.shape[0], validation_data.shape[0])
        monitor_valid = random_rows(validation_data, size, shuffle_generator)
        monitor_train = monitor_train[:size]

    if log_likelihood_every:
        callbacks = [LogLikelihoodMonitor(monitor_train, every=log_likelihood_every, validation_data=monitor_valid),
                     *callbacks]
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be a torchrbm EarlyStopping; found {type(early_stopping).__name__}")
        early_stopping.start(resolve_measure(early_stopping.monitor, monitor_valid is not None, log_likelihood_every))
    opt = _make_optimizer(model, optimizer, lr_at(lr, 0), _momentum_at(momentum, momentum_switch, 0))
    scheduler = _make_scheduler(lr_scheduler, opt, lr)
    given_optimizer = isinstance(optimizer, torch.optim.Optimizer)  # keeps its own lr and momentum
    if given_optimizer and callable(lr):
        raise ValueError("an optimizer given to fit keeps its own learning rate: schedule it with lr_scheduler")
    plateau_key = _plateau_key(scheduler, monitor_valid is not None, log_likelihood_every)
    weight_names = set(getattr(model, "weight_names", ("W",)))
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    history = History()
    generators = [generator] if generator is shuffle_generator else [generator, shuffle_generator]
    checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
    fingerprint = {"model": model.config(), "sampler": sampler.config(), "epochs": epochs, "batch_size": batch_size,
                   "lr": lr if not callable(lr) else "schedule", "momentum": list(momentum)
                   if isinstance(momentum, (tuple, list)) else momentum, "momentum_switch": momentum_switch,
                   "weight_decay": weight_decay, "sparsity": [sparsity_target, sparsity_cost], "centered": centered,
                   "optimizer": optimizer if isinstance(optimizer, str) else "custom", "precision": precision,
                   "shuffle": shuffle, "world_size": world_size, "clip_grad_norm": clip_grad_norm,
                   "lr_scheduler": None if scheduler is None else type(scheduler).__name__,
                   "early_stopping": None if early_stopping is None else early_stopping.config()}
    first_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, fingerprint)
        _check_generator_states(state["generators"], generators, checkpoint)
        try:
            first_epoch = _resume(state, model, opt, sampler, generators, history, sparsity, centering, scheduler,
                                  early_stopping)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{checkpoint} is corrupted: its state does not fit this training run ({err})") from None
        if epochs < first_epoch:
            raise ValueError(f"{checkpoint} holds {first_epoch} epochs, more than epochs={epochs}: epochs is the "
                             f"total, so give at least {first_epoch} to continue it")
        if early_stopping is not None and early_stopping.stopped:  # the run had ended: nothing more to train
            first_epoch = epochs
    guard = DivergenceGuard(model, weight_names, max_abs_weight=max_abs_weight, settings={
        "momentum": momentum, "precision": precision, "clip_grad_norm": clip_grad_norm,
        "checkpoint": checkpoint is not None})
    params = [param for _, param in named]
    bar = Progress(total=epochs, initial=first_epoch, desc="training", unit="epoch", enabled=progress and rank == 0,
                   lines="each")
    signals = StopAfterEpochOnSignal(enabled=checkpoint is not None)
    for epoch in signals.guard(range(first_epoch, epochs)):
        start = time.perf_counter()
        sets_lr = scheduler is None and not given_optimizer
        epoch_lr = lr_at(lr, epoch) if sets_lr else float(opt.param_groups[0]["lr"])
        epoch_momentum = opt.param_groups[0].get("momentum") if given_optimizer \
            else _momentum_at(momentum, momentum_switch, epoch)
        for group in opt.param_groups:
            if sets_lr:
                group["lr"] = epoch_lr
            if "momentum" in group and not given_optimizer:
                group["momentum"] = epoch_momentum
        with mixed_precision(model, precision):
            planned = source.n_batches(batch_size, world_size)
            unread: list[Exception] = []
            batches = source.batches(batch_size, shuffle, shuffle_generator, rank, world_size)
            if world_size > 1:
                batches = _batches_or_gaps(batches, planned, unread)
            batches = Progress(batches, total=planned, desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                               enabled=bar.enabled, lines="none")
            # With several processes, a gradient (or a batch) that failed on one of them is agreed on at the end
            # of the epoch (below); until then that process takes part in the all-reduces, adding nothing, and
            # applies the others' mean gradient like they do, so parameters stay identical everywhere.
            failure: Exception | None = None
            for batch in batches:
                if batch is None and failure is None:
                    failure = unread[0]
                if failure is None:
                    try:
                        batch = batch.to(device=model.device, dtype=model.dtype, non_blocking=True)
                        _step(model, batch, sampler, generator, named, weight_names, weight_decay, sparsity,
                              centering, extra_loss)
                    except Exception as err:
                        if world_size == 1:
                            raise
                        failure = err
                        traceback.clear_frames(err.__traceback__)  # free the failed step's tensors
                if world_size > 1:
                    distributed.all_reduce_gradients(params, 0 if batch is None else batch.shape[0],
                                                     contribute=failure is None)
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                opt.step()
                model.constrain_()
            if failure is None and unread:  # the batches failed after the last one was due
                failure = unread[0]
        stop = False
        if failure is None:  # a failure is agreed on below, so that no process is left waiting for one that failed
            try:
                train_free_energy = mean_free_energy(*_model_and_data(model, monitor_train), name="train")
                guard.check(model, epoch, train_free_energy, epoch_lr)
                record = {
                    "epoch": epoch,
                    "recon_error": reconstruction_error(*_model_and_data(model, monitor_train)),
                    "recon_error_valid": None if monitor_valid is None
                    else reconstruction_error(*_model_and_data(model, monitor_valid)),
                    "free_energy_gap": None if monitor_valid is None
                    else mean_free_energy(*_model_and_data(model, monitor_valid), name="held_out") - train_free_energy,
                    "lr": epoch_lr,
                    "momentum": epoch_momentum,
                    "time": time.perf_counter() - start,
                }
                history.append(record)
                bar.set_postfix(recon=f"{record['recon_error']:.4f}")
                bar.update()
                stop = any([callback(model, record) for callback in callbacks])  # every one runs
                if early_stopping is not None:
                    stop = early_stopping(model, record) or stop
                _step_scheduler(scheduler, plateau_key, record)
            except Exception as err:
                failure = err
        stop, interrupted, failed = distributed.any_process([stop, signals.requested, failure is not None],
                                                            model.device)
        _raise_if_failed(failure, failed, f"epoch {epoch}")
        history.interrupted = interrupted = interrupted and epoch < epochs - 1  # else the run is complete
        stop = stop or interrupted
        if checkpoint is not None and (stop or (epoch + 1) % checkpoint_every == 0 or epoch == epochs - 1):
            failure = None
            if rank == 0:
                try:
                    save_checkpoint(checkpoint, epoch=epoch, model=model, optimizer=opt, sampler=sampler,
                                    generators=generators, history=history, fingerprint=fingerprint,
                                    extra=_running_averages(sparsity, centering, early_stopping),
                                    lr_scheduler=scheduler)
                except Exception as err:  # agreed on below: the other processes must not wait for this one
                    failure = err
            (failed,) = distributed.any_process([failure is not None], model.device)
            _raise_if_failed(failure, failed, f"writing the checkpoint of epoch {epoch}")
        if stop:
            break
    bar.close()
    if early_stopping is not None and not history.interrupted:
        early_stopping.restore(model)
        history.best_epoch = early_stopping.best_epoch
    return history


def _batches_or_gaps(batches: Iterator[Tensor], planned: int | None,
                     failures: list[Exception]) -> Iterator[Tensor | None]:
    """``batches``; if they raise (a file that cannot be read, a bad batch) or do not number ``planned``,
    and ``planned`` is given, the error goes to ``failures`` and ``None`` stands in for each batch still
    due, so that this process takes part in exactly ``planned`` all-reduces."""
    done = 0
    try:
        for batch in batches:
            if done == planned:
                raise RuntimeError(f"the data source yielded more batches than the {planned} it announced")
            yield batch
            done += 1
        if planned is not None and done < planned:
            raise RuntimeError(f"the data source yielded {done} batches but announced {planned}")
    except Exception as err:
        if planned is None:
            raise
        traceback.clear_frames(err.__traceback__)
        failures.append(err)
        yield from itertools.repeat(None, planned - done)


def _raise_if_failed(failure: Exception | None, failed_anywhere: bool, where: str) -> None:
    """Raise this process's ``failure``, or, if another process failed, an error saying so."""
    if failure is not None:
        raise failure
    if failed_anywhere:
        raise RuntimeError(f"another process of this torch.distributed run failed in {where}; see its error")


@torch.no_grad()
@trusted_inputs()
def _step(model, batch, sampler, generator, named, weight_names, weight_decay, sparsity, centering,
          extra_loss=None) -> None:
    """Set ``.grad`` of every parameter for one mini-batch (rows of data, then context if any).

    Runs inside :func:`~torchrbm.validation.trusted_inputs`: the batch was checked on its way
    in, and checking its values again (also in ``extra_loss``) would make a GPU wait.
    """
    chain_model, v = _model_and_data(model, batch)
    if sampler.starts_from_data:
        h_mean, h_sample = chain_model.hidden_step(v, generator)
    else:
        h_mean, h_sample = chain_model.prob_h(v), None
    if chain_model is model:
        negative = sampler.negative_phase(model, v, h_sample, generator)
        grads = model.free_energy_grad(*_stacked(v, h_mean, negative))
    else:
        context = batch[:, model.n_visible :]
        if sampler.starts_from_data:  # CD: the chains share the batch's context row by row
            chain_context = context
        else:  # persistent chain i is conditioned on the batch's context row i mod N
            rows = torch.arange(sampler.n_chains, device=context.device) % context.shape[0]
            chain_context = context[rows]
            chain_model = model.condition(chain_context)
        negative = sampler.negative_phase(chain_model, v, h_sample, generator)
        grads = model.free_energy_grad(*_stacked(v, h_mean, negative), context=torch.cat([context, chain_context]))
    if centering is not None:
        centering.apply(model, grads, v, h_mean)
    for name, param in named:
        grad = grads[name]
        if weight_decay and name in weight_names:
            grad.add_(param, alpha=weight_decay)
        param.grad = grad
    if sparsity is not None:
        sparsity.add_grad(model, v, h_mean)
    if extra_loss is not None:
        add_autograd_grad(model, lambda: extra_loss(model, batch))


def _stacked(v: Tensor, h_mean: Tensor, negative: NegativePhase) -> tuple[Tensor, Tensor, Tensor]:
    """Data and model statistics stacked, with their contrastive weights.

    The visible states are stacked column by column (a transposed layout), so
    that the weight statistic ``V^T H`` reads a contiguous ``V^T``.
    """
    visible = torch.cat([v.T, negative.v.T], 1).T
    return visible, torch.cat([h_mean, negative.h]), contrastive_weights(v, negative)


class StopAfterEpochOnSignal:
    """While training with a checkpoint, the first SIGINT (Ctrl-C) or SIGTERM asks it to stop after
    the current epoch, whose checkpoint is then written; a second one interrupts at once.

    Handlers are installed only in the main thread, and the previous ones come back
    when the epochs end.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("signal %d: stopping after this epoch and writing its checkpoint "
                       "(send it again to stop at once)", signum)

    def guard(self, epochs):
        """Iterate over ``epochs`` with the handlers installed."""
        if not self.enabled:
            yield from epochs
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield from epochs
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _running_averages(sparsity: SparsityTarget | None, centering: Centering | None,
                      early_stopping: EarlyStopping | None = None) -> dict[str, Tensor]:
    """The running state a checkpoint must keep: the sparsity estimate, centring offsets and the
    parameters of early stopping's best epoch (``best.<name>``)."""
    state = {}
    if early_stopping is not None and early_stopping.best_state is not None:
        state.update({f"best.{name}": value for name, value in early_stopping.best_state.items()})
    if sparsity is not None and sparsity.q is not None:
        state["sparsity_q"] = sparsity.q
    if centering is not None:
        state["visible_offset"], state["hidden_offset"] = centering.visible, centering.hidden
    return state


def _check_generator_states(saved: list[Tensor], generators: list[torch.Generator], checkpoint) -> None:
    """Refuse a checkpoint whose random generators ran on another kind of device (their
    states differ in size: a CPU generator's is 5056 bytes, a CUDA one's 16)."""
    if any(state.numel() != generator.get_state().numel() for state, generator in zip(saved, generators, strict=False)):
        raise ValueError(f"cannot resume from {checkpoint}: it was made on another kind of device than this "
                         f"model's ({generators[0].device.type}); resume on the device it was trained on")


@torch.no_grad()
def _resume(state: dict, model, opt, sampler, generators, history: History, sparsity, centering,
            scheduler: Scheduler | None = None, early_stopping: EarlyStopping | None = None) -> int:
    """Restore a checkpoint's training state; return the first epoch still to run."""
    for name, value in model.state_dict().items():
        value.copy_(state["model"][name])
    opt.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["lr_scheduler"])
    sampler.load_state_dict(state["sampler"])
    for generator, saved in zip(generators, state["generators"], strict=True):
        generator.set_state(saved)
    extra = state["extra"]
    if sparsity is not None and "sparsity_q" in extra:
        sparsity.q = extra["sparsity_q"].to(model.device)
    if centering is not None:
        centering.visible.copy_(extra["visible_offset"])
        centering.hidden.copy_(extra["hidden_offset"])
    for record in state["history"]:
        history.append(record)
    if early_stopping is not None:  # its counts follow from the records; the best parameters were saved
        for record in history:
            early_stopping.observe(record)
        if early_stopping.restore_best and early_stopping.best_epoch is not None:
            early_stopping.best_state = {name: extra[f"best.{name}"].to(value.device)
                                         for name, value in model.state_dict().items()}
    return state["epoch"] + 1


def _generators(model, seed: int | None, generator: torch.Generator | None, rank: int,
                world_size: int) -> tuple[torch.Generator, torch.Generator]:
    """The generators for sampling and for shuffling (one and the same in a single process).

    Under data-parallel training every process shuffles alike (rank 0's seed) and
    samples with a generator of its own, so that its chains differ from the others'.
    """
    if world_size == 1:
        generator = resolve_generator(model.device, seed, generator)
        return generator, generator
    if generator is not None:
        seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
    seed = distributed.shared_seed(seed, model.device)
    return resolve_generator(model.device, seed + 1 + rank), resolve_generator(model.device, seed)


def _check_conditional(model, context, sampler, centered: bool, log_likelihood_every: int) -> bool:
    """Whether ``model`` is conditional, after checking that the options suit it."""
    conditional = isinstance(model, ConditionalRBM)
    if conditional and context is None:
        raise ValueError("a ConditionalRBM needs context= (one row of context per row of data)")
    if not conditional and context is not None:
        raise ValueError(f"context= is for a ConditionalRBM; this model is a {type(model).__name__}")
    if conditional and (type(sampler) not in (CD, PCD) or centered or log_likelihood_every):
        raise ValueError("a ConditionalRBM trains with CD(k) or PCD (each chain conditioned on a context of the "
                         "batch), without centering or likelihood monitoring")
    return conditional


def _with_context(model, data: Tensor, context, name: str) -> Tensor:
    """``data`` with its context appended as extra columns (``data`` itself for unconditional models)."""
    if context is None:
        return data
    context = as_data_tensor(context, name=name, n_features=model.n_context)
    if context.shape[0] != data.shape[0]:
        raise ValueError(f"{name} has {context.shape[0]} rows but the data has {data.shape[0]}")
    dtype = torch.promote_types(torch.promote_types(data.dtype, context.dtype), torch.float32)
    return torch.cat([data.to(dtype), context.to(device=data.device, dtype=dtype)], 1)


def _model_and_data(model, rows: Tensor):
    """The model that generates ``rows``' data part (conditioned on their context) and that part."""
    if isinstance(model, ConditionalRBM):
        return model.condition(rows[:, model.n_visible :]), rows[:, : model.n_visible]
    return model, rows


def contrastive_weights(v_data: Tensor, negative: NegativePhase) -> Tensor:
    """Weights ``(+1/N, ..., +1/N, -w_1, ..., -w_M)`` of data and model samples stacked in that
    order, with which ``sum_n w_n dF(v_n)/d theta = <dF/d theta>_data - <dF/d theta>_model``."""
    n_data, n_model = v_data.shape[0], negative.v.shape[0]
    data_weight = uniform_weights(n_data, v_data)
    if negative.weight is None:
        model_weight = uniform_weights(n_model, v_data, total=-1.0)
    else:
        model_weight = negative.weight.to(v_data.dtype).neg()
    return torch.cat([data_weight, model_weight])
