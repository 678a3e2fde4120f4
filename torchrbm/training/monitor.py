"""Training records and the likelihood monitor that can add to them."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from torch import Tensor

from .._utils.validation import check_nonnegative_float, check_positive_int
from ..estimation.ais import ais
from ..estimation.estimate import exact_log_likelihood, exact_log_partition, mean_free_energy
from ..models.protocol import EnergyModel

#: Keys of records written by earlier versions, and their names now.
RENAMED_KEYS = {"log_likelihood": "log_likelihood_train"}  # it was always measured on training rows


def current_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with the keys of earlier versions renamed (:data:`RENAMED_KEYS`)."""
    if not any(old in record for old in RENAMED_KEYS):
        return record
    return {RENAMED_KEYS.get(key, key): value for key, value in record.items()}


class History:
    """Per-epoch training records.

    ``history[i]`` is the record (a dict) of epoch ``i``; ``history["recon_error"]``
    is the list of one metric over all epochs.  ``interrupted`` is true when
    training stopped early on SIGINT or SIGTERM; ``best_epoch`` is the best epoch
    of :class:`EarlyStopping` (``None`` without it).
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [current_record(record) for record in records]
        self.interrupted = False
        self.best_epoch: int | None = None

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(current_record(record))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key: int | str):
        if isinstance(key, str):
            return [record.get(key) for record in self.records]
        return self.records[key]

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        return f"History(epochs={len(self)}, last={last})"


class LogLikelihoodMonitor:
    """Callback recording the mean log-likelihood of ``data`` (and ``validation_data``) every ``every`` epochs.

    ``log p(v) = -F(v) - log Z``, averaged over the rows, with one ``log Z`` for both
    sets of rows: exact enumeration when ``method="exact"``, or ``"auto"`` and the
    smaller layer has at most ``max_exact_units`` units; else AIS (``ais_options``,
    base fitted to ``data``).  Adds to the epoch's record
    ``log_likelihood_train`` (the rows of ``data``), ``log_likelihood_valid`` (the
    rows of ``validation_data``, if given), ``log_likelihood_method`` and
    ``log_likelihood_std`` (for AIS, the standard error of ``log Z``, which both
    values share; else ``None``).  ``sample_weight`` and ``validation_sample_weight`` (one weight per
    row, e.g. sequence weights) make each mean a weighted one.
    """

    def __init__(self, data, every: int = 1, method: str = "auto", max_exact_units: int = 20,
                 seed: int = 0, *, validation_data=None, sample_weight=None, validation_sample_weight=None,
                 **ais_options) -> None:
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"unknown monitoring method {method!r}; use 'auto', 'exact' or 'ais'")
        self.data = data
        self.validation_data = validation_data
        self.weights = {"log_likelihood_train": sample_weight, "log_likelihood_valid": validation_sample_weight}
        self.every = check_positive_int(every, "every")
        self.method = method
        self.max_exact_units = max_exact_units
        self.seed = seed
        self.ais_options = {"n_chains": 100, "n_betas": 1000, **ais_options}

    def __call__(self, model: EnergyModel, record: dict[str, Any]) -> None:
        if (record["epoch"] + 1) % self.every:
            return
        method = self.method
        if method == "auto":
            method = "exact" if min(model.n_visible, model.n_hidden) <= self.max_exact_units else "ais"
        rows = {"log_likelihood_train": self.data, "log_likelihood_valid": self.validation_data}
        if method == "exact":  # both terms in float64, never above 0 (estimate.exact_log_likelihood)
            log_z, std = exact_log_partition(model), None
            for key, data in rows.items():
                if data is not None:
                    record[key] = exact_log_likelihood(model, data, log_z=log_z, sample_weight=self.weights[key])
        else:
            estimate = ais(model, data=self.data, seed=self.seed + record["epoch"], **self.ais_options)
            log_z, std = estimate.log_z, estimate.log_z_std
            for key, data in rows.items():
                if data is not None:
                    record[key] = -mean_free_energy(model, data, name=key, sample_weight=self.weights[key]) - log_z
        record["log_likelihood_method"] = method
        record["log_likelihood_std"] = std


class ScalarLogger:
    """Callback writing every numeric value of each epoch's record as a scalar, tagged
    ``train/<key>`` at step ``epoch``, to a TensorBoard-style ``writer`` (anything with
    ``add_scalar(tag, value, step)`` and ``flush()``, such as
    ``torch.utils.tensorboard.SummaryWriter``)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def __call__(self, model: EnergyModel, record: dict[str, Any]) -> None:
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"train/{key}", value, record["epoch"])
        self.writer.flush()


def require_tensorboard() -> type:
    """PyTorch's ``SummaryWriter``; a clear error if the optional ``tensorboard`` package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard logging needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter


def tensorboard_writer(log_dir) -> Any:
    """A ``SummaryWriter`` for ``log_dir`` (:func:`require_tensorboard`)."""
    return require_tensorboard()(log_dir=str(log_dir))


#: Keys of fit's records that need ``validation_data``.
HELD_OUT_KEYS = ("recon_error_valid", "free_energy_gap", "log_likelihood_valid")


def resolve_measure(monitor: str, has_validation: bool, log_likelihood_every: int) -> str:
    """The record key that ``monitor`` names in a run of fit, checked against what that run records.

    ``"auto"`` is fit's held-out measure: the held-out log-likelihood when it is recorded,
    else the held-out reconstruction error.  (The free-energy gap is no measure of quality:
    it is near 0 for an untrained model and grows as a model learns its training rows.)
    """
    if monitor == "auto":
        if not has_validation:
            raise ValueError("a held-out measure needs validation_data (held-out rows); give it to fit, "
                             "or name a training measure such as 'recon_error' explicitly")
        return "log_likelihood_valid" if log_likelihood_every else "recon_error_valid"
    if monitor in HELD_OUT_KEYS and not has_validation:
        raise ValueError(f"{monitor} is measured on held-out rows: it needs validation_data")
    if monitor.startswith("log_likelihood_") and not log_likelihood_every:
        raise ValueError(f"{monitor} is recorded only with log_likelihood_every")
    return monitor


def higher_is_better(key: str) -> bool:
    """Whether larger values of the record's ``key`` are better (log-likelihoods, accuracies)."""
    return "likelihood" in key or "accuracy" in key


class EarlyStopping:
    """Stop training when a measure has stopped improving, and keep its best epoch.

    Given to :func:`~torchrbm.fit` as ``early_stopping=``.  After each epoch (and its
    callbacks) the record's ``monitor`` value, where the epoch has one, is compared
    with the best so far: an improvement is ``value > best + min_delta`` when higher
    is better (``mode="max"``), ``value < best - min_delta`` when lower is
    (``"min"``).  After ``patience`` measurements in a row without one, training
    stops.  With ``restore_best`` the model ends with the parameters of the best
    epoch (also when all epochs ran); ``history.best_epoch`` names that epoch.

    Parameters
    ----------
    monitor:
        A key of the epoch records (any, including one a callback adds), or
        ``"auto"``: the held-out log-likelihood ``log_likelihood_valid`` when fit
        records it (``validation_data`` and ``log_likelihood_every``; measured on
        those epochs only), else the held-out reconstruction error
        ``recon_error_valid`` (every epoch; needs ``validation_data``).
    patience:
        Measurements without improvement before stopping (epochs, when the measure
        is recorded every epoch).
    min_delta:
        Smallest change that counts as an improvement.
    mode:
        ``"max"``, ``"min"`` or ``"auto"`` (``"max"`` for log-likelihoods, else ``"min"``).
    restore_best:
        Load the best epoch's parameters into the model when training ends.
    """

    def __init__(self, monitor: str = "auto", *, patience: int = 10, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a record key or 'auto'; found {type(monitor).__name__}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; found {mode!r}")
        self.monitor = monitor
        self.patience = check_positive_int(patience, "patience")
        self.min_delta = check_nonnegative_float(min_delta, "min_delta")
        self.mode = mode
        self.restore_best = bool(restore_best)
        self.start("auto" if monitor == "auto" else monitor)

    def config(self) -> dict[str, Any]:
        """The settings (for a checkpoint's fingerprint)."""
        return {"monitor": self.monitor, "patience": self.patience, "min_delta": self.min_delta, "mode": self.mode,
                "restore_best": self.restore_best}

    def start(self, key: str) -> None:
        """Begin a training run that monitors the record key ``key`` (log-likelihoods: on the epochs
        that record them; any other key: every epoch)."""
        self.key = key
        self.every_epoch = not key.startswith("log_likelihood_")
        self.maximize = self.mode == "max" or (self.mode == "auto" and higher_is_better(key))
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.waited = 0
        self.best_state: dict[str, Tensor] | None = None

    @property
    def stopped(self) -> bool:
        """Whether the measure went ``patience`` measurements without improving."""
        return self.waited >= self.patience

    def observe(self, record: dict[str, Any]) -> bool:
        """Take an epoch's record; whether its measure is the best so far (``False`` if it has none)."""
        value = record.get(self.key)
        if value is None:
            return False
        value = float(value)
        if self.best_value is None:
            improved = not math.isnan(value)
        elif self.maximize:
            improved = value > self.best_value + self.min_delta
        else:
            improved = value < self.best_value - self.min_delta
        if improved:
            self.best_value, self.best_epoch, self.waited = value, record["epoch"], 0
        else:
            self.waited += 1
        return improved

    def __call__(self, model: EnergyModel, record: dict[str, Any]) -> bool:
        """Observe ``record``, keeping a copy of ``model``'s state if it is the best; whether to stop."""
        if self.every_epoch and record.get(self.key) is None:
            raise ValueError(f"early stopping monitors {self.key!r}, which the record of epoch {record['epoch']} "
                             f"does not hold (it holds {', '.join(sorted(record))}); name one of those, or add "
                             "the key in a callback")
        if self.observe(record) and self.restore_best:
            self.best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        return self.stopped

    def restore(self, model: EnergyModel) -> None:
        """Load the best epoch's parameters into ``model`` (if ``restore_best`` and one was kept)."""
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
