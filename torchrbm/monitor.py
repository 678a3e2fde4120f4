"""Training records and the likelihood monitor that can add to them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .ais import ais
from .estimate import exact_log_likelihood, mean_free_energy
from .validation import check_positive_int


class History:
    """Per-epoch training records.

    ``history[i]`` is the record (a dict) of epoch ``i``; ``history["recon_error"]``
    is the list of one metric over all epochs.  ``interrupted`` is true when
    training stopped early on SIGINT or SIGTERM.
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = list(records)
        self.interrupted = False

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

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
    """Callback recording the log-likelihood of ``data`` every ``every`` epochs.

    ``method="auto"`` uses exact enumeration when the smaller layer has at most
    ``max_exact_units`` units and AIS (``ais_options``, base fitted to ``data``)
    otherwise.  Adds ``log_likelihood``, ``log_likelihood_method`` and, for AIS,
    ``log_likelihood_std`` (standard error of log Z) to the epoch's record.
    """

    def __init__(self, data, every: int = 1, method: str = "auto", max_exact_units: int = 20,
                 seed: int = 0, **ais_options) -> None:
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"unknown monitoring method {method!r}; use 'auto', 'exact' or 'ais'")
        self.data = data
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
            record["log_likelihood"], std = exact_log_likelihood(model, self.data), None
        else:
            estimate = ais(model, data=self.data, seed=self.seed + record["epoch"], **self.ais_options)
            std = estimate.log_z_std
            record["log_likelihood"] = -mean_free_energy(model, self.data) - estimate.log_z
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
