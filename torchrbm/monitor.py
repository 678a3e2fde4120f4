"""Training records and the likelihood monitor that can add to them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .ais import ais
from .estimate import exact_log_partition, mean_free_energy
from .validation import check_positive_int

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
    training stopped early on SIGINT or SIGTERM.
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [current_record(record) for record in records]
        self.interrupted = False

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
    values share; else ``None``).
    """

    def __init__(self, data, every: int = 1, method: str = "auto", max_exact_units: int = 20,
                 seed: int = 0, *, validation_data=None, **ais_options) -> None:
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"unknown monitoring method {method!r}; use 'auto', 'exact' or 'ais'")
        self.data = data
        self.validation_data = validation_data
        self.every = check_positive_int(every, "every")
        self.method = method
        self.max_exact_units = max_exact_units
        self.seed = seed
        self.ais_options = {"n_chains": 100, "n_betas": 1000, **ais_options}

    def __call__(self, model, record: dict[str, Any]) -> None:
        if (record["epoch"] + 1) % self.every:
            return
        method = self.method
        if method == "auto":
            method = "exact" if min(model.n_visible, model.n_hidden) <= self.max_exact_units else "ais"
        if method == "exact":
            log_z, std = exact_log_partition(model), None
        else:
            estimate = ais(model, data=self.data, seed=self.seed + record["epoch"], **self.ais_options)
            log_z, std = estimate.log_z, estimate.log_z_std
        record["log_likelihood_train"] = -mean_free_energy(model, self.data) - log_z
        if self.validation_data is not None:
            record["log_likelihood_valid"] = -mean_free_energy(model, self.validation_data, name="held_out") - log_z
        record["log_likelihood_method"] = method
        record["log_likelihood_std"] = std


class ScalarLogger:
    """Callback writing every numeric value of each epoch's record as a scalar, tagged
    ``train/<key>`` at step ``epoch``, to a TensorBoard-style ``writer`` (anything with
    ``add_scalar(tag, value, step)`` and ``flush()``, such as
    ``torch.utils.tensorboard.SummaryWriter``)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def __call__(self, model, record: dict[str, Any]) -> None:
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"train/{key}", value, record["epoch"])
        self.writer.flush()


def tensorboard_writer(log_dir) -> Any:
    """A ``SummaryWriter`` for ``log_dir``; a clear error if the optional ``tensorboard`` package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard logging needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(log_dir=str(log_dir))
