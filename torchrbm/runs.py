"""A training run's directory: its files and the rules for starting, resuming and overwriting it.

``torchrbm train --out RUN_DIR`` writes::

    config.json              the run's settings (with the data's path and fingerprint)
    metrics.jsonl            one JSON record per finished epoch
    checkpoint.safetensors   the whole training state, for --resume
    model.safetensors        the model of the last finished epoch, with config and summary
    summary.json             final measurements and timing (or why the run stopped)
    report.html              everything on one page; figures as *.png
    samples.fasta            sequences sampled from a model of aligned sequences
    mutational_scan.csv      that model's mutational scan of the first training sequence (also as a figure)
    tensorboard/             the metrics for TensorBoard (with --tensorboard)

Every file is written atomically (a temporary file, then a rename), so a crash
never leaves a half-written one.  The other commands and :mod:`torchrbm.report`
find the files through :class:`RunDirectory` alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from ._utils.files import atomic_write_text
from .data.registry import DATASETS, canonical_name
from .io import save
from .training import distributed
from .training.checkpoint import checkpoint_history
from .training.settings import MAY_CHANGE_ON_RESUME, TrainingSettings

logger = logging.getLogger(__name__)

#: Figures a run writes, in the order the report shows them.
FIGURES = ("curves.png", "filters.png", "samples.png", "reconstructions.png", "hidden_activity.png", "swap_rates.png",
           "generated.png", "logos.png", "mutational_scan.png", "generative_checks.png")


#: Names that ``--data`` takes for data sets (never read as paths, even where a file of that name exists):
#: those of :func:`torchrbm.datasets.load`, and the conditional model's moving bars.
DATA_SET_NAMES = {*DATASETS, "moving-bars"}


def absolute_data(data: str) -> str:
    """``--data`` with a file's path made absolute (``FILE.npz:NAME`` too), so that recorded settings find
    the file from any working directory; a data set's name as it is."""
    if canonical_name(data) in DATA_SET_NAMES:
        return data
    file, _, key = str(data).partition(".npz:")
    file = file + ".npz" if key else file
    if not Path(file).exists():
        return data
    return str(Path(file).resolve()) + (f":{key}" if key else "")


#: config.json's names of the :class:`~torchrbm.training.settings.TrainingSettings` fields a run records
#: (the names of ``torchrbm train``'s options of the same meaning).
RECORDED_SETTINGS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "momentum": "momentum",
                     "weight_decay": "weight_decay", "sparsity_target": "sparsity_target", "centered": "centered",
                     "log_likelihood_every": "ll_every", "precision": "precision",
                     "checkpoint_every": "checkpoint_every", "resume": "resume", "clip_grad_norm": "clip_grad_norm",
                     "max_abs_weight": "max_abs_weight", "l1_squared": "l1_squared",
                     "l2_fields": "l2_fields"}

#: Recorded keys that may change when a run is resumed: the training settings that may
#: (:data:`~torchrbm.training.settings.MAY_CHANGE_ON_RESUME`), and the environment it runs in.
MAY_CHANGE = frozenset({RECORDED_SETTINGS[name] for name in MAY_CHANGE_ON_RESUME if name in RECORDED_SETTINGS}
                       | {"environment"})


def settings_record(settings: TrainingSettings) -> dict[str, Any]:
    """The training settings as config.json records them (momentum as a list of one or two values; a learning-rate
    schedule not at all: the options that made it are recorded)."""
    record = {key: getattr(settings, name) for name, key in RECORDED_SETTINGS.items()
              if not (name == "lr" and callable(settings.lr))}
    momentum = settings.momentum
    record["momentum"] = list(momentum) if isinstance(momentum, (tuple, list)) else [momentum]
    return record


#: Facts a run records that earlier versions did not (absent from their settings, not a difference).
RECORDED_SINCE = {"n_hidden"}


#: Training options added since the first version of config.json, with the value that a run recorded
#: before them trained with.
ADDED_OPTIONS = {"hidden_units": "bernoulli", "l1_squared": 0.0, "l2_fields": 0.0, "lr_decay_epochs": 0}


def _upgraded(config: dict[str, Any]) -> dict[str, Any]:
    """Settings recorded by earlier versions in today's terms: a null sampler meant pcd (cd for a
    conditional model), a relative data path was relative to the working directory, and options added
    since (:data:`ADDED_OPTIONS`) had their present defaults."""
    config = dict(config)
    if "epochs" in config:  # a training run's record
        config = {**ADDED_OPTIONS, **config}
    if "sampler" in config and config["sampler"] is None:
        config["sampler"] = "cd" if config.get("model") == "crbm" else "pcd"
    if isinstance(config.get("data"), str):
        config["data"] = absolute_data(config["data"])
    return config


def data_fingerprint(*parts: torch.Tensor | None) -> dict[str, Any]:
    """Shapes, dtypes and the SHA-256 of the rows of ``parts`` (training and validation rows): enough to
    tell whether a resumed run would train on the same data."""
    digest = hashlib.sha256()
    shapes = []
    for part in parts:
        if part is None:
            continue
        rows = part.detach().cpu().contiguous()
        digest.update(f"{tuple(rows.shape)}:{rows.dtype};".encode())
        digest.update(rows.numpy().tobytes())
        shapes.append(list(rows.shape))
    return {"shapes": shapes, "sha256": digest.hexdigest()}


class RunDirectory:
    """One run directory (see the module docstring): paths, settings, metrics, summary, resume rules."""

    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.safetensors"
    MODEL = "model.safetensors"
    SUMMARY = "summary.json"
    REPORT = "report.html"
    SAMPLES_FASTA = "samples.fasta"
    MUTATIONAL_SCAN_CSV = "mutational_scan.csv"
    #: Files whose presence means that the directory holds a run (one that trained an epoch).
    RUN_FILES = (CHECKPOINT, METRICS, MODEL)
    TENSORBOARD = "tensorboard"
    #: Everything a run writes, removed by ``overwrite``.
    OUTPUTS = (*RUN_FILES, CONFIG, SUMMARY, REPORT, SAMPLES_FASTA, MUTATIONAL_SCAN_CSV, *FIGURES, TENSORBOARD)

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def at(cls, path: str | os.PathLike | None) -> RunDirectory:
        """The run directory ``path``, by default a new one named by the time: ``runs/DATE-TIME``."""
        return cls(path if path is not None else f"runs/{time.strftime('%Y%m%d-%H%M%S')}")

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def model(self) -> Path:
        return self.path / self.MODEL

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @property
    def samples_fasta(self) -> Path:
        """Sequences sampled from a model of categorical rows, as FASTA."""
        return self.path / self.SAMPLES_FASTA

    @property
    def mutational_scan_csv(self) -> Path:
        """The mutational scan of a model of aligned sequences, as CSV
        (:func:`~torchrbm.io.mutational_scan_csv`)."""
        return self.path / self.MUTATIONAL_SCAN_CSV

    @property
    def tensorboard(self) -> Path:
        """The directory of the TensorBoard event files."""
        return self.path / self.TENSORBOARD

    def figure(self, name: str) -> Path:
        """The path of the figure ``name`` (one of :data:`FIGURES`)."""
        if name not in FIGURES:
            raise ValueError(f"a run writes no figure {name!r}; its figures are {', '.join(FIGURES)}")
        return self.path / name

    # ------------------------------------------------------------------ reading
    def config(self) -> dict[str, Any]:
        """The recorded settings (``{}`` if there are none); ``ValueError`` for a file that holds other things."""
        path = self.path / self.CONFIG
        if not path.is_file():
            return {}
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            raise ValueError(f"{path} does not hold a torchrbm run's settings")
        return _upgraded(saved)

    def summary(self) -> dict[str, Any]:
        path = self.path / self.SUMMARY
        return json.loads(path.read_text()) if path.is_file() else {}

    def metrics(self) -> list[dict[str, Any]]:
        path = self.path / self.METRICS
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []

    def existing_run_files(self) -> list[str]:
        return [name for name in self.RUN_FILES if (self.path / name).is_file()]

    def figures(self) -> list[Path]:
        """The run's PNG figures: :data:`FIGURES` first, in order, then any other."""
        return sorted(self.path.glob("*.png"), key=lambda p: (FIGURES.index(p.name) if p.name in FIGURES
                                                              else len(FIGURES), p.name))

    # ------------------------------------------------------------------ rules
    def remove_outputs(self) -> None:
        """Remove everything a run writes here (``--overwrite``): the old run's figures, metrics and
        checkpoint would otherwise mix with the new run's."""
        for name in self.OUTPUTS:
            path = self.path / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def start(self, overwrite: bool, write: bool, device: str | None) -> None:
        """Refuse to start a new run in a directory that holds one, unless ``overwrite``, in which case
        the old run's files go (the report would show its figures, a --resume would continue it).
        Under torchrun every process learns the verdict before process 0 (``write``) removes anything."""
        existing = self.existing_run_files()
        (refused,) = distributed.any_process([bool(existing) and not overwrite], torch.device(device or "cpu"))
        if refused:
            found = f" ({', '.join(existing)})" if existing else " (seen by process 0)"
            raise ValueError(f"{self.path} already holds a run{found}: continue it with --resume, replace it with "
                             f"--overwrite, or choose another --out")
        if overwrite and write:
            self.remove_outputs()

    def resume(self, config: dict[str, Any], may_change: set[str] | frozenset[str],
               epochs: int) -> list[dict[str, Any]]:
        """The per-epoch records of the run to continue with ``config`` for ``epochs`` epochs in all
        (:meth:`check_resumable`, with :data:`MAY_CHANGE` and ``may_change``); refused if it already holds more."""
        self.check_resumable(config, MAY_CHANGE | set(may_change))
        records = checkpoint_history(self.checkpoint) if self.checkpoint.is_file() else []
        if epochs < len(records):  # refused before config.json records the smaller total
            raise ValueError(f"{self.path} holds {len(records)} epochs, more than --epochs {epochs}: --epochs "
                             f"is the total, so give at least {len(records)} to continue it")
        return records

    def check_resumable(self, config: dict[str, Any], may_change: set[str] | frozenset[str]) -> None:
        """Refuse to resume with settings (``config``) other than the recorded ones, except ``may_change``;
        and name a change of the data (its fingerprint) on its own.  A directory without settings (none yet,
        or killed before it wrote them) starts a new run."""
        saved = self.config()
        if not saved:
            logger.warning("nothing to resume in %s (no %s): starting a new run", self.path, self.CONFIG)
            return
        now = json.loads(json.dumps(config))
        if "data_fingerprint" in saved and saved["data_fingerprint"] != now.get("data_fingerprint"):
            raise ValueError(f"cannot resume {self.path}: its data changed since the run started ({saved.get('data')}"
                             f": rows {saved['data_fingerprint']['shapes']} with SHA-256 "
                             f"{saved['data_fingerprint']['sha256'][:12]}... there, "
                             f"{now['data_fingerprint']['shapes']} with {now['data_fingerprint']['sha256'][:12]}... "
                             "now); train on the same data, or start afresh with another --out or --overwrite")
        differing = sorted(key for key in set(saved) | set(now)
                           if key not in may_change and key != "data_fingerprint" and saved.get(key) != now.get(key)
                           and not (key in RECORDED_SINCE and key not in saved))
        if differing:
            details = ", ".join(f"{key} {saved.get(key)!r} there, {now.get(key)!r} now" for key in differing)
            raise ValueError(f"cannot resume {self.path}: it was trained with other settings ({details}); keep them "
                             "to continue it, or start afresh with another --out or with --overwrite instead of "
                             "--resume")

    # ------------------------------------------------------------------ writing
    def write_config(self, config: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / self.CONFIG, json.dumps(config, indent=2))

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        atomic_write_text(self.path / self.METRICS, "".join(json.dumps(record) + "\n" for record in records))

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path / self.SUMMARY, json.dumps(summary, indent=2))

    def write_model(self, model, metadata: dict[str, Any]) -> None:
        """The run's model, with its settings and summary in ``metadata``."""
        save(model, self.model, metadata=metadata)
