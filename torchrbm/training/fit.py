"""Training: :func:`fit`, the library's way in, which turns its keywords into
:class:`~torchrbm.training.settings.TrainingSettings` and runs the epoch loop
(:func:`~torchrbm.training.loop.run_training`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..models.protocol import EnergyModel
from ..sampling.samplers import Sampler
from .defaults import DEFAULTS
from .loop import run_training
from .monitor import EarlyStopping, History
from .settings import Callback, Scheduler, TrainingSettings


def fit(
    model: EnergyModel,
    data,
    *,
    sampler: Sampler | None = None,
    epochs: int = 10,
    batch_size: int = DEFAULTS.batch_size,
    lr: float | Callable[[int], float] = DEFAULTS.lr,
    momentum: float | tuple[float, float] = DEFAULTS.momentum,
    momentum_switch: int = DEFAULTS.momentum_switch,
    weight_decay: float = DEFAULTS.weight_decay,
    l1_squared: float = 0.0,
    l2_fields: float = 0.0,
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
    sample_weight=None,
    validation_sample_weight=None,
    shuffle: bool = True,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: EarlyStopping | None = None,
    log_likelihood_every: int = 0,
    monitor_size: int = 1000,
    monitor: bool = True,
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
    l1_squared:
        The L1² penalty of Tubiana, Cocco & Monasson (2019), ``l1_squared / 2 * sum_j (sum_i |W_ij|)^2``
        over each hidden unit's weights (for Potts units ``i`` runs over positions and states), whose
        gradient ``l1_squared * (sum_i' |W_i'j|) * sign(W_ij)`` pushes each hidden unit towards a few
        strong weights, evenly across units; ``0``: none.
    l2_fields:
        L2 penalty ``l2_fields * ||a||^2 / 2`` on the visible biases (the fields: for Potts units
        ``sum_{i,a} a[i, a]^2``), which keeps the fields of states rare in the data finite; ``0``: none.
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
        ``momentum`` are not used; schedule it with ``lr_scheduler``).  ``"sgd"``
        without ``lr_scheduler`` is torchrbm's own update
        (:class:`~torchrbm.training.sgd.SGDUpdate`), bit-identical to
        ``torch.optim.SGD`` without its per-step cost.
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
    sample_weight:
        A non-negative weight per row of ``data`` (shape ``(N,)``; in memory only), such as the
        sequence weights of an alignment (:func:`torchrbm.datasets.alignment`): each mini-batch's data
        term is the weighted mean ``sum_n w_n dF(v_n) / sum_n w_n`` over its rows, so that training
        follows the weighted log-likelihood ``sum_n w_n log p(v_n) / sum_n w_n``.  The monitored
        training rows' metrics (reconstruction error, free energy, log-likelihood) are weighted means too.
    validation_sample_weight:
        A weight per row of ``validation_data`` (for an alignment: computed within the held-out rows,
        :func:`torchrbm.datasets.sequence_weights`): their reconstruction error, free energy and
        log-likelihood are then weighted means.
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
    monitor:
        Measure the monitored rows after each epoch (the reconstruction errors, the
        free-energy gap, and the divergence guard's free-energy check).  ``False``
        records only ``epoch``, ``lr``, ``momentum`` and ``time`` (the measures
        ``None``) and the guard checks the parameters alone: for short fits of small
        models, where the measures cost a noticeable share of the time
        (``torchrbm.sklearn`` without ``verbose``).  The rows are drawn either way,
        so the model does not depend on it.  Needs ``log_likelihood_every=0``, no
        ``early_stopping`` and no ``ReduceLROnPlateau``.
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
    settings = TrainingSettings(
        sampler=sampler, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
        momentum_switch=momentum_switch, weight_decay=weight_decay, l1_squared=l1_squared,
        l2_fields=l2_fields,
        sparsity_target=sparsity_target, sparsity_cost=sparsity_cost, extra_loss=extra_loss, centered=centered,
        optimizer=optimizer, lr_scheduler=lr_scheduler, precision=precision, shuffle=shuffle, seed=seed,
        generator=generator, callbacks=callbacks, early_stopping=early_stopping,
        log_likelihood_every=log_likelihood_every, monitor_size=monitor_size, monitor=monitor, progress=progress,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, clip_grad_norm=clip_grad_norm,
        max_abs_weight=max_abs_weight)
    return run_training(model, data, settings, context=context, validation_data=validation_data,
                        validation_context=validation_context, sample_weight=sample_weight,
                        validation_sample_weight=validation_sample_weight)
