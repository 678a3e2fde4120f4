"""Training: turn positive and negative statistics into parameter updates.

For a mini-batch ``B`` and negative samples ``S`` from a sampler, the gradient of
the negative mean log-likelihood that is handed to the ``torch.optim`` optimizer is

    g = <dF/d theta>_B - <dF/d theta>_S  (+ weight decay + sparsity terms),

so that plain SGD gives the classic update ``dW = lr (<v h^T>_data - <v h^T>_model)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .estimate import free_energy_gap, reconstruction_error
from .monitor import History, LogLikelihoodMonitor
from .precision import matmul_dtype, mixed_precision
from .rng import resolve_generator
from .samplers import CD, NegativePhase, Sampler
from .updates import Centering, SparsityTarget
from .validation import as_data_tensor, check_nonnegative_float, check_positive_int

Callback = Callable[[Any, dict[str, Any]], "bool | None"]


def _momentum_at(momentum: float | tuple[float, float], switch: int, epoch: int) -> float:
    if isinstance(momentum, (tuple, list)):
        initial, final = momentum
        return float(initial if epoch < switch else final)
    return float(momentum)


def _lr_at(lr: float | Callable[[int], float], epoch: int) -> float:
    value = lr(epoch) if callable(lr) else lr
    return check_nonnegative_float(value, f"learning rate at epoch {epoch}")


def _make_optimizer(model, optimizer, lr: float, momentum: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if callable(optimizer):
        return optimizer(params)
    name = str(optimizer).lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd', 'adam' or a callable")


def _check_finite(model, epoch: int) -> None:
    for name, param in model.named_parameters():
        if not bool(torch.isfinite(param).all()):
            raise FloatingPointError(
                f"parameter {name!r} became NaN or infinite in epoch {epoch}; training diverged. "
                "Try a smaller learning rate (or momentum)."
            )


def fit(
    model,
    data,
    *,
    sampler: Sampler | None = None,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float | Callable[[int], float] = 0.01,
    momentum: float | tuple[float, float] = 0.0,
    momentum_switch: int = 5,
    weight_decay: float = 0.0,
    sparsity_target: float | None = None,
    sparsity_cost: float = 0.1,
    centered: bool = False,
    optimizer: str | Callable[[list[Tensor]], torch.optim.Optimizer] = "sgd",
    precision: str = "32-true",
    validation_data=None,
    shuffle: bool = True,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    callbacks: Sequence[Callback] = (),
    log_likelihood_every: int = 0,
    monitor_size: int = 1000,
    progress: bool = False,
) -> History:
    """Train ``model`` on ``data`` by stochastic gradient descent on the negative log-likelihood.

    Parameters
    ----------
    sampler:
        Source of negative statistics; ``CD(k=1)`` by default.
    lr:
        Learning rate, or a function ``epoch -> learning rate``.
    momentum:
        A constant, or ``(initial, final)`` switched at epoch ``momentum_switch``
        (Hinton's 0.5 -> 0.9).
    weight_decay:
        L2 penalty ``weight_decay * ||W||^2 / 2`` on the weights (not the biases).
    sparsity_target, sparsity_cost:
        Penalty pulling each hidden unit's mean activation toward the target.
    centered:
        Follow the centred gradient (:class:`Centering`), which trains deeper
        and larger models more stably.
    optimizer:
        ``"sgd"`` (with momentum), ``"adam"`` or a callable ``params -> Optimizer``.
    precision:
        ``"32-true"`` (every product in the parameters' dtype), ``"bf16-mixed"`` or
        ``"16-mixed"``: the matrix products of the training steps take bfloat16 /
        float16 operands, while parameters, optimizer state, probabilities and the
        monitored metrics stay in the parameters' dtype (:mod:`torchrbm.precision`).
    validation_data:
        Held-out data; if given, each epoch records the free-energy gap
        ``mean F(held-out) - mean F(training)`` on equal-sized subsets.
    seed, generator:
        Every random draw (shuffling, sampling) uses ``generator``, or a new one
        on the model's device seeded with ``seed``.
    callbacks:
        Functions ``(model, record) -> bool | None`` called after each epoch;
        returning ``True`` stops training.
    log_likelihood_every:
        If positive, record the log-likelihood of the monitored training
        examples every that many epochs (exact for small models, else AIS; see
        :class:`LogLikelihoodMonitor`).
    monitor_size:
        Number of training (and held-out) examples, fixed at the start, on which
        the per-epoch metrics are measured.

    Returns
    -------
    History
        One record per epoch: ``epoch``, ``recon_error``, ``free_energy_gap``
        (``None`` without validation data), ``lr``, ``momentum`` and ``time``
        (seconds).
    """
    data = as_data_tensor(data, n_features=model.n_visible, units=model.visible)
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    monitor_size = check_positive_int(monitor_size, "monitor_size")
    weight_decay = check_nonnegative_float(weight_decay, "weight_decay")
    matmul_dtype(precision)
    sampler = CD(k=1) if sampler is None else sampler
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a torchrbm Sampler (CD, PCD, ...), not {type(sampler).__name__}")
    generator = resolve_generator(model.device, seed, generator)
    sparsity = None if sparsity_target is None else SparsityTarget(sparsity_target, sparsity_cost)
    centering = Centering(model, data) if centered else None

    n = data.shape[0]
    monitor_train = _subset(data, monitor_size, generator)
    monitor_valid = None
    if validation_data is not None:
        validation_data = as_data_tensor(
            validation_data, name="validation_data", n_features=model.n_visible, units=model.visible
        )
        size = min(monitor_train.shape[0], validation_data.shape[0])
        monitor_valid = _subset(validation_data, size, generator)
        monitor_train = monitor_train[:size]

    if log_likelihood_every:
        callbacks = [LogLikelihoodMonitor(monitor_train, every=log_likelihood_every), *callbacks]
    opt = _make_optimizer(model, optimizer, _lr_at(lr, 0), _momentum_at(momentum, momentum_switch, 0))
    weight_names = set(getattr(model, "weight_names", ("W",)))
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    history = History()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        epoch_lr = _lr_at(lr, epoch)
        epoch_momentum = _momentum_at(momentum, momentum_switch, epoch)
        for group in opt.param_groups:
            group["lr"] = epoch_lr
            if "momentum" in group:
                group["momentum"] = epoch_momentum
        order = (
            torch.randperm(n, generator=generator, device=generator.device).to(data.device)
            if shuffle
            else torch.arange(n, device=data.device)
        )
        with mixed_precision(model, precision):
            for first in range(0, n, batch_size):
                batch = data[order[first : first + batch_size]]
                v = batch.to(device=model.device, dtype=model.dtype, non_blocking=True)
                _step(model, v, sampler, generator, named, weight_names, weight_decay, sparsity, centering)
                opt.step()
        _check_finite(model, epoch)
        record = {
            "epoch": epoch,
            "recon_error": reconstruction_error(model, monitor_train),
            "free_energy_gap": None
            if monitor_valid is None
            else free_energy_gap(model, monitor_train, monitor_valid),
            "lr": epoch_lr,
            "momentum": epoch_momentum,
            "time": time.perf_counter() - start,
        }
        history.append(record)
        bar.set_postfix(recon=f"{record['recon_error']:.4f}")
        if any(callback(model, record) for callback in callbacks):
            break
    bar.close()
    return history


@torch.no_grad()
def _step(model, v, sampler, generator, named, weight_names, weight_decay, sparsity, centering) -> None:
    """Set ``.grad`` of every parameter for one mini-batch."""
    h_mean, h_sample = model.hidden_step(v, generator)
    negative = sampler.negative_phase(model, v, h_sample, generator)
    grads = model.free_energy_grad(
        torch.cat([v, negative.v]), torch.cat([h_mean, negative.h]), contrastive_weights(v, negative)
    )
    if centering is not None:
        centering.apply(model, grads, v, h_mean)
    for name, param in named:
        grad = grads[name]
        if weight_decay and name in weight_names:
            grad.add_(param, alpha=weight_decay)
        param.grad = grad
    if sparsity is not None:
        sparsity.add_grad(model, v, h_mean)


def contrastive_weights(v_data: Tensor, negative: NegativePhase) -> Tensor:
    """Weights ``(+1/N, ..., +1/N, -w_1, ..., -w_M)`` of data and model samples stacked in that
    order, with which ``sum_n w_n dF(v_n)/d theta = <dF/d theta>_data - <dF/d theta>_model``."""
    n_data, n_model = v_data.shape[0], negative.v.shape[0]
    data_weight = torch.full((n_data,), 1.0 / n_data, device=v_data.device, dtype=v_data.dtype)
    if negative.weight is None:
        model_weight = torch.full((n_model,), -1.0 / n_model, device=v_data.device, dtype=v_data.dtype)
    else:
        model_weight = negative.weight.to(v_data.dtype).neg()
    return torch.cat([data_weight, model_weight])


def _subset(data: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A random subset of at most ``size`` rows, in the dtype it came in."""
    if data.shape[0] <= size:
        return data
    index = torch.randperm(data.shape[0], generator=generator, device=generator.device)[:size]
    return data[index.to(data.device)]

