"""``torchrbm train``: train a model and write its run directory."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import platform
import time
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..data import datasets
from ..data.registry import alphabet_of
from ..estimation.evaluation import evaluate
from ..report import write_report
from ..runs import RunDirectory, absolute_data, data_fingerprint, settings_record
from ..sampling.enumeration import enumerated_layer
from ..sampling.samplers import Sampler, get_sampler
from ..training import distributed
from ..training.loop import run_training
from ..training.monitor import ScalarLogger, require_tensorboard, tensorboard_writer
from ..training.settings import TrainingSettings
from .data import SEQUENCE_WEIGHTS, Rows
from .figures import (
    save_conditional_figures,
    save_curves,
    save_figures,
    save_generated,
    save_sequence_outputs,
    swap_rates_entry,
)
from .models import build_model, initial_model, initial_path, is_conditional, visible_units
from .options import TrainOptions, train_options
from .output import in_original_units, print_training_summary
from .prediction import prediction_errors

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Run:
    """What a training run works with: its options, directory, rows (standardised by ``scaler``, if any),
    sampler, and whether this process writes the run directory."""

    options: TrainOptions
    directory: RunDirectory
    rows: Rows
    scaler: datasets.Standardizer | None
    sampler: Sampler
    write: bool

    @property
    def resume_hint(self) -> str:
        return f"continue with: torchrbm train --out {self.directory.path} --resume"


def cmd_train(args: argparse.Namespace) -> int:
    """Train; under ``torchrun`` every process trains its share and rank 0 alone writes the run directory."""
    options = train_options(args)
    device = distributed.init_from_environment(options.device)
    try:  # the run's settings keep --device as given: under torchrun each process has a GPU of its own
        return _train(options, write=distributed.is_main_process(),
                      device=options.device if device is None else str(device))
    finally:
        distributed.shutdown()


def _training_rows(options: TrainOptions, visible) -> tuple[Rows, datasets.Standardizer | None]:
    """The run's rows, standardised (with the standardisation) for units that model real values."""
    if options.model == "crbm":
        return options.data_options.sequence_rows(options.order), None
    rows = options.data_options.training_rows(visible)
    if visible.data_preparation != "standardize":
        return rows, None
    train, scaler = datasets.standardize(rows.train, drop_constant=True)
    held_out = None if rows.held_out is None else scaler.transform(rows.held_out)
    return dataclasses.replace(rows, train=train, held_out=held_out), scaler


def _settings(options: TrainOptions, sampler, generator: torch.Generator, run: RunDirectory,
              progress: bool) -> TrainingSettings:
    """The training settings of ``train``'s options (checked before --overwrite removes anything)."""
    return TrainingSettings(
        sampler=sampler, epochs=options.epochs, batch_size=options.batch_size, lr=options.lr_setting,
        momentum=options.momentum_setting, weight_decay=options.weight_decay, l1_squared=options.l1_squared,
        l2_fields=options.l2_fields,
        sparsity_target=options.sparsity_target, centered=options.centered, generator=generator,
        log_likelihood_every=options.ll_every, precision=options.precision, progress=progress,
        checkpoint=run.checkpoint, checkpoint_every=options.checkpoint_every, resume=options.resume,
        clip_grad_norm=options.clip_grad_norm, max_abs_weight=options.max_abs_weight)


def _environment() -> dict[str, str]:
    return {"torchrbm": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def _config(options: TrainOptions, settings: TrainingSettings, model, rows: Rows) -> dict[str, Any]:
    """The run's config.json: its options and training settings as trained (the model's hidden units with
    --init, its absolute path, the sampler), and facts of its data and processes."""
    return {"command": "train", **dataclasses.asdict(options), **settings_record(settings),
            "hidden": options.hidden if options.init is None else model.n_hidden, "init": initial_path(options),
            "sampler": options.sampler_name, "data": absolute_data(options.data), "n_hidden": model.n_hidden,
            "n_train": rows.train.shape[0], "n_held_out": 0 if rows.held_out is None else rows.held_out.shape[0],
            "n_visible": rows.train.shape[1], "data_fingerprint": data_fingerprint(rows.train, rows.held_out),
            "world_size": distributed.rank_and_size()[1], "environment": _environment()}


def _train(options: TrainOptions, write: bool, device: str | None) -> int:
    if options.tensorboard:
        require_tensorboard()  # before the run directory is made
    visible = visible_units(options)
    rows, scaler = _training_rows(options, visible)
    generator = torch.Generator(device=device).manual_seed(options.seed)
    if options.init is None:
        model = build_model(options, rows, visible, scaler, generator, device)
    else:
        model = initial_model(options, rows, visible)
    if options.keep_hidden and options.sampler_name != "pcd":
        raise ValueError(f"--keep-hidden keeps the hidden states of pcd's chains; --sampler is {options.sampler_name}")
    sampler = get_sampler(options.sampler_name, k=options.k, n_chains=options.n_chains, n_temps=options.n_temps,
                          keep_hidden=options.keep_hidden)
    run = _Run(options, RunDirectory.at(options.out), rows, scaler, sampler, write)
    settings = _settings(options, sampler, generator, run.directory, progress=not options.quiet and write)
    config = _config(options, settings, model, rows)
    records: list[dict[str, Any]] = []
    if options.resume:
        records = run.directory.resume(config, TrainOptions.MAY_CHANGE_ON_RESUME, options.epochs)
    else:
        run.directory.start(options.overwrite, write, device)
    if write:
        run.directory.write_config(config)
    if records:
        logger.info("resuming %s after epoch %d", run.directory.path, len(records))
    logger.info("training %s on %d rows with %s for %d epochs; run directory %s", type(model).__name__,
                rows.train.shape[0], sampler, options.epochs, run.directory.path)
    started = time.perf_counter()
    history = run_training(model, rows.train, dataclasses.replace(settings, callbacks=_callbacks(run, records)),
                           context=rows.context, validation_data=rows.held_out, validation_context=rows.held_context,
                           sample_weight=rows.train_weight, validation_sample_weight=rows.held_weight)
    seconds = time.perf_counter() - started
    return _write_results(run, model, history, config, seconds) if write else 0


def _callbacks(run: _Run, records: list[dict[str, Any]]) -> list:
    """Each finished epoch's record into metrics.jsonl (and TensorBoard with --tensorboard)."""
    def log_epoch(model, record):
        records.append(record)
        if run.write:
            run.directory.write_metrics(records)

    callbacks = [log_epoch]
    if run.options.tensorboard and run.write:
        callbacks.append(ScalarLogger(tensorboard_writer(run.directory.tensorboard)))
    return callbacks


def _write_results(run: _Run, model, history, config: dict[str, Any], seconds: float) -> int:
    """The model, summary, figures and report of a finished run (130: interrupted, with what it has)."""
    # train_seconds: every epoch's time, those of earlier (resumed) sessions included.
    summary: dict[str, Any] = {"epochs": len(history), "train_seconds": sum(record["time"] for record in history),
                               "wall_seconds_this_session": seconds,
                               "recon_error": history[-1]["recon_error"] if len(history) else None}
    metadata = {"config": config, "summary": summary}
    if run.scaler is not None:
        metadata["standardizer"] = run.scaler.to_dict()
    if history.interrupted:
        return _interrupted(run, model, history, summary, metadata)
    run.directory.write_model(model, metadata)  # before the (long) evaluation
    try:
        prediction = _finish(run, model, history, summary)
    except KeyboardInterrupt:
        summary["interrupted"] = f"during the final evaluation; {run.resume_hint} (it measures the trained model again)"
        run.directory.write_summary(summary)
        write_report(run.directory.path)
        logger.warning("interrupted during the final evaluation; model.safetensors holds the trained model; %s",
                       run.resume_hint)
        return 130
    run.directory.write_model(model, metadata)
    run.directory.write_summary(summary)
    write_report(run.directory.path)
    print_training_summary(type(model).__name__, (model.n_visible, model.n_hidden), run.directory.path, summary,
                           prediction)
    return 0


def _interrupted(run: _Run, model, history, summary: dict[str, Any], metadata: dict[str, Any]) -> int:
    """The model of the last finished epoch, usable as it is, its summary, curves and report; 130."""
    summary["interrupted"] = f"after epoch {len(history)} of {run.options.epochs}; {run.resume_hint}"
    run.directory.write_model(model, metadata)
    run.directory.write_summary(summary)
    save_curves(run.directory, history)  # the curves it has
    write_report(run.directory.path)
    logger.warning("interrupted after epoch %d of %d; model.safetensors holds that epoch's model; %s",
                   len(history), run.options.epochs, run.resume_hint)
    return 130


def _likelihood_methods(model) -> tuple[str, ...]:
    """Exact enumeration when it is cheap (a layer of at most 2**20 states), else forward and reverse AIS."""
    try:
        layer, size = enumerated_layer(model)
    except ValueError:
        return ("ais", "rais")
    units = model.hidden if layer == "hidden" else model.visible
    return ("exact",) if units.n_states(size) <= 2**20 else ("ais", "rais")


def _finish(run: _Run, model, history, summary: dict[str, Any]) -> dict[str, Any] | None:
    """Figures and the final measurement on the validation rows (else the training rows), into ``summary``;
    a conditional model's prediction errors (``None`` for other models)."""
    rows, options = run.rows, run.options
    conditional = is_conditional(model)
    alphabet = alphabet_of(options.data)
    if conditional:
        save_conditional_figures(run.directory, model, history)
    elif alphabet is not None:
        reference, weight = (rows.held_out, rows.held_weight) if rows.held_out is not None else (rows.train,
                                                                                               rows.train_weight)
        summary["stats"] = save_sequence_outputs(run.directory, model, history, rows.train, alphabet,
                                                 rows.train_weight, reference, weight)
    else:
        save_figures(run.directory, model, history, rows.train, run.scaler, run.sampler, options.sparsity_target)
        swap_rates = swap_rates_entry(run.sampler)
        if swap_rates is not None:
            summary["pt_swap_rates"] = swap_rates
    held_out = rows.held_out is not None
    evaluated, context = (rows.held_out, rows.held_context) if held_out else (rows.train, rows.context)
    summary["evaluated_on"] = "validation rows" if held_out else "training data"
    summary["validation_rows"] = rows.held_out_rows
    if conditional:
        generator = torch.Generator(device=model.device).manual_seed(options.seed)
        summary["prediction"] = prediction_errors(model, evaluated, context, generator)
        save_generated(run.directory, model, context, generator)
        return summary["prediction"]
    weights = rows.held_weight if held_out else rows.train_weight
    summary.update(evaluate(model, evaluated, _likelihood_methods(model), n_chains=options.ais_chains,
                            n_betas=options.ais_betas, seed=options.seed, progress=not options.quiet,
                            sample_weight=weights))
    if weights is not None:
        summary["sequence_weights"] = SEQUENCE_WEIGHTS
    if run.scaler is not None:
        in_original_units(summary, run.scaler)
    return None
