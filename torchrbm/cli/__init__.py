"""The ``torchrbm`` command: train, evaluate, sample from and inpaint with restricted Boltzmann machines."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import io
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import plots, units
from .._utils.files import atomic_savefig, atomic_write_bytes
from .._utils.text import listed
from .._utils.validation import check_device
from .._version import __version__
from ..data import datasets
from ..data.registry import DEFAULT_HOLDOUT, REGISTRY, canonical_name, find, holdout_indices
from ..estimation.evaluation import METHODS, evaluate
from ..io import load, read_header, save
from ..models.conditional import ConditionalRBM
from ..models.conv import ConvRBM
from ..models.inpainting import check_mask
from ..models.rbm import RBM
from ..report import write_report
from ..runs import RunDirectory, absolute_data, data_fingerprint
from ..sampling.samplers import get_sampler
from ..training import distributed
from ..training.checkpoint import checkpoint_history
from ..training.defaults import DEFAULTS
from ..training.loop import run_training
from ..training.monitor import ScalarLogger, require_tensorboard, tensorboard_writer
from ..training.precision import PRECISIONS
from ..training.settings import MAY_CHANGE_ON_RESUME, TrainingSettings

logger = logging.getLogger(__name__)

#: Data sets with a test split (which ``evaluate`` and ``inpaint`` measure by default).
_WITH_TEST_SPLIT = tuple(record.name for record in REGISTRY.values() if record.has_test_split)


def _holdout_defaults() -> str:
    """--holdout's defaults as the data sets' records set them: the default fraction, the data sets
    that validate on a split of their own, and those that hold no rows out."""
    own = [f"{record.name}: its {record.validation} split" for record in REGISTRY.values()
           if isinstance(record.validation, str)]
    none = "/".join(record.name for record in REGISTRY.values() if record.validation == 0)
    return "; ".join([f"{DEFAULT_HOLDOUT:g}", *own, f"none for {none}"])


def _add_data_arguments(parser: argparse.ArgumentParser, *, of_a_model: bool = False) -> None:
    """--data, --data-dir and --binarize; ``of_a_model``: --data defaults to the data a model file was trained on."""
    default = "the data the model was trained on, else digits" if of_a_model else "digits"
    parser.add_argument("--data", default=None if of_a_model else "digits",
                        help=f"data set ({', '.join(datasets.DATASETS)}; moving-bars for a conditional model) or "
                        f"a .npy/.npz/.csv file (FILE.npz:NAME for one array of several) (default: {default})")
    parser.add_argument("--data-dir", default=None,
                        help="directory of the real data sets (default: $TORCHRBM_DATA or ~/.cache/torchrbm)")
    parser.add_argument("--binarize", choices=["default", "threshold", "stochastic", "none"],
                        default="default", help="binarisation of grey levels (default: threshold for "
                        "digits, none otherwise)")
    parser.add_argument("--csv-header", choices=["yes", "no"], default=None,
                        help="a .csv file's first line is column names to skip (yes) or numbers (no) (default: "
                        "skipped, with a note, if it is not all numbers)")
    parser.add_argument("--delimiter", default=None, metavar="CHAR",
                        help="what separates a .csv file's values: one character, tab, or whitespace (runs of "
                        "spaces and tabs) (default: ,)")


def _add_split_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", default=None, help=f"split of {listed(_WITH_TEST_SPLIT, 'or')} (default: test); "
                        "other data: the rows the model's training run held out, else all rows")


#: --delimiter's names of characters hard to give on a command line (whitespace: runs of spaces and tabs).
_DELIMITERS = {"tab": "\t", "\\t": "\t", "whitespace": None}


def _reading(args) -> dict[str, Any]:
    """How to read --data: train's --max-rows, and a .csv file's --csv-header and --delimiter (their
    defaults for settings recorded before they existed)."""
    header, delimiter = getattr(args, "csv_header", None), getattr(args, "delimiter", None)
    return {"max_rows": getattr(args, "max_rows", None), "header": None if header is None else header == "yes",
            "delimiter": "," if delimiter is None else _DELIMITERS.get(delimiter, delimiter)}


def _load_options(args) -> dict[str, Any]:
    """:func:`~torchrbm.datasets.load`'s options for --data: --data-dir, --binarize (none by default for
    Gaussian units, which model the grey levels) and :func:`_reading`."""
    method = None if args.binarize == "none" else args.binarize
    if method == "default" and getattr(args, "visible", "bernoulli") == "gaussian":
        method = None
    return {"data_dir": args.data_dir, "binarize_method": method, **_reading(args)}


def _check_values(args, data: torch.Tensor) -> None:
    """Bernoulli units' own check of ``data``, with the command line's ways out."""
    if getattr(args, "visible", "bernoulli") != "bernoulli":
        return
    try:
        units.get_units("bernoulli", data.shape[-1]).check_values(data, str(args.data))
    except ValueError as err:
        raise ValueError(f"{err}: binarise them with --binarize threshold or --binarize stochastic (uint8 grey "
                         "levels are read as x / 255), scale them into [0, 1] yourself, or model them with "
                         "--visible gaussian") from None


def _load_data(args, split: str = "train") -> torch.Tensor:
    data = datasets.load(args.data, split=split, seed=getattr(args, "seed", 0) or 0, **_load_options(args))
    _check_values(args, data)
    return data


def _split_train_held_out(args) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """``(training rows, validation rows or None, what the validation rows are)`` of a training run
    (:func:`~torchrbm.datasets.split_rows`): the data set's own validation split (binarized-mnist),
    else ``--holdout`` (default 0.1) of the training split drawn at random with ``--seed``.  Never
    the test split."""
    rows = datasets.split_rows(args.data, args.seed, holdout=args.holdout, test=False,
                               check=functools.partial(_check_values, args), **_load_options(args))
    return rows.train, rows.validation, rows.validation_rows


@torch.no_grad()
def _save_figures(run_dir: Path, model, history, data, scaler: datasets.Standardizer | None, sampler,
                  sparsity_target: float | None) -> None:
    """Filters, samples, reconstructions, curves, the hidden units' activity and, for parallel tempering,
    the swap rates; standardised data is shown on its original scale."""
    def image(x):
        return x if scaler is None else scaler.inverse_transform(x)

    generator = torch.Generator(device=model.device).manual_seed(0)
    chains = model.sample_from_visible_biases(100, generator)
    samples = model.prob_v(model.sample_h(model.gibbs(chains, 1000, generator), generator))
    shown = data[:10].to(device=model.device, dtype=model.dtype)
    pairs = torch.stack([shown, model.prob_v(model.prob_h(shown))], 1).reshape(-1, model.n_visible)
    pixels = {} if scaler is None else {"pixels": scaler.columns.tolist(), "n_pixels": scaler.mean.numel()}
    figures = {
        "filters.png": plots.plot_filters(model, **pixels),
        "samples.png": plots.plot_images(image(samples), title="100 chains started from the visible biases, "
                                         "after 1000 Gibbs steps (E[v | h] shown)"),
        "reconstructions.png": plots.plot_images(image(pairs), columns=2 * 5,
                                                 title="pairs: a data row (left), its mean-field reconstruction "
                                                 "E[v | E[h | v]] (right)"),

        "curves.png": plots.plot_curves(history),
    }
    rows = data[:1000].to(device=model.device, dtype=model.dtype)
    if model.prob_h(rows[:1]).ndim == 2:  # one mean per hidden unit (not a convolutional map)
        figures["hidden_activity.png"] = plots.plot_hidden_activity(model, rows, target=sparsity_target)
    if hasattr(sampler, "swap_rates"):
        figures["swap_rates.png"] = plots.plot_swap_rates(sampler)
    for name, fig in figures.items():
        atomic_savefig(fig, run_dir / name, dpi=100)


#: Options that may change when a run is resumed: the training settings that may, and these.
_RESUMABLE = MAY_CHANGE_ON_RESUME | {"overwrite", "quiet", "tensorboard", "environment", "out", "data_dir", "ais_betas"}


def _settings_of_the_options(args, sampler, generator: torch.Generator, checkpoint: Path,
                             progress: bool) -> TrainingSettings:
    """The training settings of ``train``'s options (checked before --overwrite removes anything)."""
    momentum = tuple(args.momentum) if len(args.momentum) == 2 else args.momentum[0]
    return TrainingSettings(
        sampler=sampler, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=momentum,
        weight_decay=args.weight_decay, sparsity_target=args.sparsity_target, centered=args.centered,
        generator=generator, log_likelihood_every=args.ll_every, precision=args.precision, progress=progress,
        checkpoint=checkpoint, checkpoint_every=args.checkpoint_every, resume=args.resume,
        clip_grad_norm=args.clip_grad_norm, max_abs_weight=args.max_abs_weight)


def _check_new_run(run: RunDirectory, overwrite: bool, write: bool, device: str | None) -> None:
    """Refuse to start a new run in a directory that holds one, unless ``overwrite``, in which case
    the old run's files go (the report would show its figures, a --resume would continue it).
    Under torchrun every process learns the verdict before process 0 writes anything there."""
    existing = run.existing_run_files()
    (refused,) = distributed.any_process([bool(existing) and not overwrite], torch.device(device or "cpu"))
    if refused:
        found = f" ({', '.join(existing)})" if existing else " (seen by process 0)"
        raise ValueError(f"{run.path} already holds a run{found}: continue it with --resume, replace it with "
                         f"--overwrite, or choose another --out")
    if overwrite and write:
        run.remove_outputs()


#: Options a resumed run does not take from its recorded settings when they are not given again.
_NOT_CARRIED_OVER = {"resume", "overwrite", "out", "environment", "quiet", "tensorboard"}


def _recorded_settings(run: RunDirectory, options: dict[str, Any]) -> dict[str, Any]:
    """The ``train`` options recorded in the run directory (none if it has no settings)."""
    return {key: value for key, value in run.config().items() if key in options and key not in _NOT_CARRIED_OVER}


def _environment() -> dict[str, str]:
    return {"torchrbm": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def _likelihood_methods(model) -> tuple[str, ...]:
    """Exact enumeration when it is cheap, else forward and reverse AIS."""
    return ("exact",) if min(model.n_visible, model.n_hidden) <= 20 else ("ais", "rais")


def _sequence_data(args):
    """Frames and contexts (previous ``--order`` frames) for a conditional RBM, split train / held-out."""
    if canonical_name(args.data) == "moving-bars":
        sequences = datasets.moving_bars(seed=args.seed)
    else:
        sequences = [datasets.load(args.data, binarize_method=None, **_reading(args))]
    frames, context = datasets.sequence_windows(sequences, args.order)
    train, held = holdout_indices(frames.shape[0], DEFAULT_HOLDOUT if args.holdout is None else args.holdout,
                                  args.seed)
    if held.numel() == 0:
        return frames, None, context, None
    return frames[train], frames[held], context[train], context[held]


def _build_model(args, train: torch.Tensor, scaler, generator, device: str | None):
    visible = units.Gaussian(learn_sigma=args.learn_sigma) if args.visible == "gaussian" else args.visible
    common = {"visible": visible, "data": train, "generator": generator, "device": device}
    if args.model == "crbm":
        return ConditionalRBM(train.shape[1], args.hidden, args.order * train.shape[1], **common)
    if args.model == "conv":
        if scaler is not None and scaler.columns.numel() != scaler.mean.numel():
            raise ValueError("a convolutional model needs every pixel; this data has constant pixels, which "
                             "Gaussian units cannot standardise: use --visible bernoulli")
        side = plots.image_shape(train.shape[1])
        if side[0] == 1:
            raise ValueError(f"--model conv needs square images; the data has {train.shape[1]} columns")
        return ConvRBM(side, args.filters, args.filter_size, pool=args.pool, **common)
    return RBM(train.shape[1], args.hidden, **common)


def _initial_model(args, train: torch.Tensor):
    """The model in ``--init``'s file, to train further as a new run: it must fit the data and --visible;
    its own architecture is what trains (and what the run records, whatever --hidden says)."""
    model = load(args.init, device=args.device)
    if type(model).__name__ != {"rbm": "RBM", "conv": "ConvRBM", "crbm": "ConditionalRBM"}[args.model]:
        raise ValueError(f"--init {args.init} holds a {type(model).__name__}, not the --model {args.model} to train")
    if model.n_visible != train.shape[1]:
        raise ValueError(f"--init {args.init} has {model.n_visible} visible units but the data has {train.shape[1]} "
                         "columns")
    if model.visible.name != args.visible:
        raise ValueError(f"--init {args.init} has {model.visible.name} visible units, not --visible {args.visible}")
    args.hidden = model.n_hidden  # recorded as trained
    args.init = str(Path(args.init).resolve())
    return model


@torch.no_grad()
def _prediction_errors(model: ConditionalRBM, frames, context, generator: torch.Generator) -> dict[str, Any]:
    """One-step prediction error on ``frames`` from their ``context``, and that of copying the
    previous frame, for scale."""
    target = frames.to(device=model.device, dtype=model.dtype)
    previous = context[:, : model.n_visible].to(device=model.device, dtype=model.dtype)
    predicted = model.predict(context, start=previous, steps=10, generator=generator)
    return {"method": "one-step prediction from the previous frames, mean squared error per unit",
            "prediction_error": float((predicted - target).square().mean()),
            "copy_previous_frame_error": float((previous - target).square().mean())}


@torch.no_grad()
def _prediction_summary(run_dir: Path, model: ConditionalRBM, frames, context, seed: int) -> dict[str, Any]:
    """:func:`_prediction_errors` on held-out frames, and a figure of sequences generated from held-out contexts."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    errors = _prediction_errors(model, frames, context, generator)
    generated = model.generate(context[:10], 20, generator=generator)  # (10, 20, n_visible)
    atomic_savefig(plots.plot_images(generated.reshape(10, -1), shape=(20, model.n_visible), columns=5,
                                     title="generated sequences (time downwards)"), run_dir / "generated.png", dpi=100)
    return errors


def cmd_train(args) -> int:
    """Train; under ``torchrun`` every process trains its share and rank 0 alone writes the run directory."""
    device = distributed.init_from_environment(args.device)
    try:  # the run's settings keep --device as given: under torchrun each process has a GPU of its own
        return _train(args, write=distributed.is_main_process(), device=args.device if device is None else str(device))
    finally:
        distributed.shutdown()


def _train(args, write: bool, device: str | None) -> int:
    if args.tensorboard:
        require_tensorboard()  # before the run directory is made
    if len(args.momentum) > 2:
        raise ValueError(f"--momentum takes one value, or two (initial and final); found {len(args.momentum)}")
    scaler = context = held_context = None
    if args.model == "crbm":
        train, held_out, context, held_context = _sequence_data(args)
        held_out_rows = "none" if held_out is None else f"{held_out.shape[0]} frames drawn with seed {args.seed}"
    else:
        train, held_out, held_out_rows = _split_train_held_out(args)
        if args.visible == "gaussian":
            train, scaler = datasets.standardize(train, drop_constant=True)
            held_out = None if held_out is None else scaler.transform(held_out)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    model = _build_model(args, train, scaler, generator, device) if args.init is None else _initial_model(args, train)
    args.sampler = args.sampler or DEFAULTS.sampler  # recorded as trained
    sampler = get_sampler(args.sampler, k=args.k,
                          n_chains=args.n_chains, n_temps=args.n_temps)
    run = RunDirectory(args.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = run.path
    settings = _settings_of_the_options(args, sampler, generator, run.checkpoint, progress=not args.quiet and write)
    config = {key: value for key, value in vars(args).items() if key != "func"}
    config.update(data=absolute_data(args.data), n_hidden=model.n_hidden, n_train=train.shape[0],
                  n_held_out=0 if held_out is None else held_out.shape[0], n_visible=train.shape[1],
                  data_fingerprint=data_fingerprint(train, held_out), world_size=distributed.rank_and_size()[1],
                  environment=_environment())
    checkpoint = run.checkpoint
    records: list[dict[str, Any]] = []
    if args.resume:
        run.check_resumable(config, _RESUMABLE)
        if checkpoint.is_file():
            records = checkpoint_history(checkpoint)
        if args.epochs < len(records):  # refused before config.json records the smaller total
            raise ValueError(f"{run.path} holds {len(records)} epochs, more than --epochs {args.epochs}: --epochs "
                             f"is the total, so give at least {len(records)} to continue it")
    else:
        _check_new_run(run, args.overwrite, write, device)
    if write:
        run.write_config(config)
    if records:
        logger.info("resuming %s after epoch %d", run_dir, len(records))

    def log_epoch(model, record):
        records.append(record)
        if write:
            run.write_metrics(records)

    logger.info("training %s on %d rows with %s for %d epochs; run directory %s", type(model).__name__,
                train.shape[0], sampler, args.epochs, run_dir)
    callbacks = [log_epoch]
    if args.tensorboard and write:
        callbacks.append(ScalarLogger(tensorboard_writer(run_dir / "tensorboard")))
    evaluation_data = {"train": train, "held_out": held_out, "held_out_rows": held_out_rows, "scaler": scaler,
                       "context": context, "held_context": held_context, "sampler": sampler}

    started = time.perf_counter()
    history = run_training(model, train, dataclasses.replace(settings, callbacks=callbacks), context=context,
                           validation_data=held_out, validation_context=held_context)
    seconds = time.perf_counter() - started
    if not write:
        return 0
    resume_hint = f"continue with: torchrbm train --out {run_dir} --resume"
    # train_seconds: every epoch's time, those of earlier (resumed) sessions included.
    summary: dict[str, Any] = {"epochs": len(history), "train_seconds": sum(record["time"] for record in history),
                               "wall_seconds_this_session": seconds,
                               "recon_error": history[-1]["recon_error"] if len(history) else None}
    metadata = {"config": config, "summary": summary}
    if scaler is not None:
        metadata["standardizer"] = scaler.to_dict()
    if history.interrupted:  # the model of the last finished epoch, usable as it is, and its report
        summary["interrupted"] = f"after epoch {len(history)} of {args.epochs}; {resume_hint}"
        save(model, run.model, metadata=metadata)
        run.write_summary(summary)
        atomic_savefig(plots.plot_curves(history), run_dir / "curves.png", dpi=100)  # the curves it has
        write_report(run_dir)
        logger.warning("interrupted after epoch %d of %d; model.safetensors holds that epoch's model; %s",
                       len(history), args.epochs, resume_hint)
        return 130
    save(model, run.model, metadata=metadata)  # before the (long) evaluation
    try:
        return _finish(args, run, model, history, summary, metadata, evaluation_data)
    except KeyboardInterrupt:
        summary["interrupted"] = f"during the final evaluation; {resume_hint} (it measures the trained model again)"
        run.write_summary(summary)
        write_report(run_dir)
        logger.warning("interrupted during the final evaluation; model.safetensors holds the trained model; %s",
                       resume_hint)
        return 130


def _finish(args, run: RunDirectory, model, history, summary: dict[str, Any], metadata: dict[str, Any],
            data: dict[str, Any]) -> int:
    """Figures, the final measurement on the validation rows, summary.json, the report and the printed results."""
    run_dir = run.path
    train, held_out, held_out_rows, scaler = data["train"], data["held_out"], data["held_out_rows"], data["scaler"]
    context, held_context = data["context"], data["held_context"]
    if args.model == "crbm":
        atomic_savefig(plots.plot_curves(history), run_dir / "curves.png", dpi=100)
        atomic_savefig(plots.plot_filters(model), run_dir / "filters.png", dpi=100)
    else:
        _save_figures(run_dir, model, history, train, scaler, data["sampler"], args.sparsity_target)
        if hasattr(data["sampler"], "swap_rates"):
            summary["pt_swap_rates"] = {"method": "parallel tempering: swap acceptance rate between neighbouring "
                                        "temperatures over the whole run",
                                        "swap_rates": data["sampler"].swap_rates.tolist(),
                                        "betas": data["sampler"].betas.tolist()}
    evaluated = held_out if held_out is not None else train
    summary["evaluated_on"] = "validation rows" if held_out is not None else "training data"
    summary["validation_rows"] = held_out_rows
    if args.model == "crbm":
        summary["prediction"] = _prediction_summary(run_dir, model, evaluated,
                                                    held_context if held_out is not None else context, args.seed)
    else:
        summary.update(evaluate(model, evaluated, _likelihood_methods(model), n_chains=100,
                                n_betas=args.ais_betas, seed=args.seed, progress=not args.quiet))
        if scaler is not None:
            _in_original_units(summary, scaler)
    save(model, run.model, metadata=metadata)
    run.write_summary(summary)
    write_report(run_dir)
    _print_summary(model, run_dir, summary)
    return 0


def _print_summary(model, run_dir: Path, summary: dict[str, Any]) -> None:
    """``train``'s results on stdout (with or without --quiet)."""
    print(f"trained {type(model).__name__} {model.n_visible} x {model.n_hidden} in {summary['train_seconds']:.1f} s; "
          f"run directory: {run_dir}")
    if summary["recon_error"] is not None:  # None after --epochs 0: the untrained model is evaluated
        print(f"final reconstruction error {summary['recon_error']:.5f}")
    if "prediction" in summary:
        errors = summary["prediction"]
        print(f"{summary['evaluated_on']}: one-step prediction error {errors['prediction_error']:.4f} "
              f"(copying the previous frame: {errors['copy_previous_frame_error']:.4f})")
    for method in ("exact", "ais", "rais"):
        entry = summary.get(method, {})
        if "log_likelihood" in entry:
            print(f"{summary['evaluated_on']}: {_log_likelihood_line(entry)} by {entry['method']}")
            if "warning" in entry:
                print(f"  WARNING: {entry['warning']}")


def _in_original_units(results: dict[str, Any], scaler: datasets.Standardizer) -> None:
    """Label each log-likelihood of a model trained on standardised data as a density of ``z`` and
    add it in the data's own units: ``log p(x) = log p(z) + log |dz/dx|`` over the kept columns."""
    shift = scaler.log_abs_det_jacobian()
    kept, total = scaler.columns.numel(), scaler.mean.numel()
    for entry in results.values():
        if isinstance(entry, dict) and "log_likelihood" in entry:
            entry["log_likelihood_original_units"] = entry["log_likelihood"] + shift
            if "log_likelihood_interval_3sigma" in entry:
                entry["log_likelihood_interval_3sigma_original_units"] = [
                    bound + shift for bound in entry["log_likelihood_interval_3sigma"]]
            entry["density_of"] = (
                f"log-likelihood: a log-density of the standardised data z = (x - mean) / std over the {kept} "
                f"non-constant columns of {total}; log_likelihood_original_units is that of x's {kept} columns in "
                f"the data's own units (plus log |dz/dx| = {shift:.3f}); the {total - kept} constant column(s), a "
                "point mass, are left out of both")


def _log_likelihood_line(entry: dict[str, Any]) -> str:
    """``-85.210 nats per example (3 sigma: ... to ...; sigma_logZ ..., s/sqrt(n) ... over n rows)``."""
    line = f"log-likelihood {entry['log_likelihood']:.3f} nats per example"
    if "log_likelihood_interval_3sigma" in entry:
        low, high = entry["log_likelihood_interval_3sigma"]
        line += (f" (3 sigma: {low:.3f} to {high:.3f}; sigma_logZ {entry['log_partition_std']:.3f}, "
                 f"s/sqrt(n) {entry['mean_over_rows_std_error']:.3f} over {entry['n_rows']} rows)")
    if "log_likelihood_original_units" in entry:
        line += (f" of the standardised data; {entry['log_likelihood_original_units']:.3f} in the data's own "
                 "units")
    return line


def _describe(entry: dict[str, Any]) -> str:
    """One line for a method's result."""
    if "skipped" in entry:
        return f"skipped: {entry['skipped']}"
    parts = []
    if "log_likelihood" in entry:
        parts.append(_log_likelihood_line(entry))
        parts.append(f"log Z {entry['log_partition']:.3f}")
        if "n_chains" in entry:  # a sampled estimate of log Z
            parts[-1] += f" +- {entry['log_partition_std']:.3f}"
            parts.append(f"{entry['n_chains']} chains x {entry['n_betas']} temperatures, "
                         f"ESS {entry['effective_sample_size']:.0f}, {entry['seconds']:.1f} s")
    for name in ("pseudo_log_likelihood", "reconstruction_error", "mean_free_energy", "free_energy_gap",
                 "prediction_error", "copy_previous_frame_error"):
        if name in entry:
            parts.append(f"{name.replace('_', ' ')} {entry[name]:.4f}")
    line = "; ".join(parts) + f"  [{entry['method']}]"
    return f"{line}\n  WARNING: {entry['warning']}" if "warning" in entry else line


def _print_results(results: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {_describe(value) if isinstance(value, dict) else value}")


def _training_settings(path) -> dict[str, Any]:
    """The ``train`` settings recorded in a model file, over the defaults (``{}`` for a file without any)."""
    config = read_header(path)["metadata"].get("config")
    return {} if not config else {**vars(build_parser().parse_args(["train"])), **config}


def _measured_rows(args, settings: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """``(rows, training rows or None, what the rows are)`` to measure ``args.model`` on: ``--split``
    (default: test) of a data set that has splits; else the rows its training run held out, if it
    was trained on ``--data`` (the same fraction and seed, from its recorded ``settings``); else all rows."""
    record = find(args.data)
    if record is not None and record.has_test_split:
        split = args.split or "test"
        return _load_data(args, split), _load_data(args, "train"), f"{split} split"
    if args.split is not None:
        raise ValueError(f"--split applies to {listed(_WITH_TEST_SPLIT)}; {args.data} has no splits")
    if settings and canonical_name(absolute_data(settings["data"])) == canonical_name(args.data):
        binarize = {} if args.binarize == "default" else {"binarize": args.binarize}
        train, held_out, _ = _split_train_held_out(argparse.Namespace(**{**settings, **binarize,
                                                                         "data_dir": args.data_dir}))
        if held_out is not None:
            return held_out, train, f"the {held_out.shape[0]} rows its training run held out"
    return _load_data(args, "train"), None, "all rows (none held out)"


def _standardizer(path) -> datasets.Standardizer | None:
    """The standardisation a model file's training data went through, if any."""
    state = read_header(path)["metadata"].get("standardizer")
    return None if state is None else datasets.Standardizer.from_dict(state)


def _settings_of_the_model(args) -> dict[str, Any]:
    """The model file's recorded training settings (:func:`_training_settings`); ``args.data``, if
    not given, becomes the data it was trained on (else digits)."""
    settings = _training_settings(args.model)
    args.data = settings.get("data", "digits") if args.data is None else absolute_data(args.data)
    return settings


def cmd_evaluate(args) -> int:
    model = load(args.model, device=args.device)
    settings = _settings_of_the_model(args)
    if isinstance(model, ConditionalRBM):
        return _evaluate_conditional(args, model, settings)
    args.visible = model.visible.name
    data, reference, which_rows = _measured_rows(args, settings)
    scaler = _standardizer(args.model)
    if scaler is not None:  # the model was trained on standardised data: evaluate on the same scale
        data = scaler.transform(data)
        reference = None if reference is None else scaler.transform(reference)
    methods = METHODS if args.method == "all" else (args.method,)
    results = {"model": str(args.model), "data": args.data, "rows": which_rows,
               **evaluate(model, data, methods, reference=reference, n_chains=args.chains, n_betas=args.betas,
                          burn_in=args.burn_in, pll=args.pll, seed=args.seed, progress=not args.quiet)}
    if scaler is not None:
        _in_original_units(results, scaler)
    _print_results(results, args.json)
    return 0


def _evaluate_conditional(args, model: ConditionalRBM, recorded: dict[str, Any]) -> int:
    """A conditional RBM's one-step prediction error on the frames its training run held out
    (its recorded --order, --holdout and --seed), or on every frame if it held none out."""
    if args.split is not None or args.method != "all":
        raise ValueError("a conditional RBM is measured by its one-step prediction error: --split and --method "
                         "do not apply")
    same_data = bool(recorded) and canonical_name(absolute_data(recorded["data"])) == canonical_name(
        absolute_data(args.data))
    reading = {key: recorded.get(key) if same_data else getattr(args, key, None)
               for key in ("max_rows", "csv_header", "delimiter")}  # the data read as its run read it
    settings = argparse.Namespace(order=recorded.get("order", model.n_context // model.n_visible), data=args.data,
                                  holdout=recorded["holdout"] if same_data else 0.0, seed=recorded.get("seed", 0),
                                  **reading)
    frames, held_frames, context, held_context = _sequence_data(settings)
    which_rows = "all frames"
    if held_frames is not None:
        frames, context = held_frames, held_context
        which_rows = f"the {frames.shape[0]} frames its training run held out"
    if frames.shape[1] != model.n_visible:
        raise ValueError(f"data has {frames.shape[1]} columns but the model has {model.n_visible} visible units")
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    results = {"model": str(args.model), "data": args.data, "rows": which_rows,
               "prediction": _prediction_errors(model, frames, context, generator)}
    _print_results(results, args.json)
    return 0


def cmd_report(args) -> int:
    print(f"wrote {write_report(args.run_dir)}")
    return 0


def _check_output_directory(out: str) -> Path:
    """``out`` as a path whose directory exists (it is not created: a typo would hide the file)."""
    path = Path(out)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: directory {path.parent} does not exist (create it first)")
    return path


def cmd_sample(args) -> int:
    _check_output_directory(args.out)
    model = load(args.model, device=args.device)
    if isinstance(model, ConditionalRBM):
        raise ValueError("a conditional RBM samples frames given the frames before them, which sample does not "
                         "supply: use ConditionalRBM.generate(context, n_frames) (its run's generated.png shows some)")
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    scaler = _standardizer(args.model)

    def original_scale(x):
        return x if scaler is None else scaler.inverse_transform(x)

    start = model.sample_from_visible_biases(args.n, generator)
    with torch.no_grad():
        v = model.gibbs(start, args.steps, generator, progress=not args.quiet)
        out = Path(args.out)
        if out.suffix == ".npy":
            atomic_write_bytes(out, _npy_bytes(original_scale(v).cpu().numpy()))
        elif out.suffix in (".png", ".svg"):
            means = original_scale(model.prob_v(model.sample_h(v, generator)))
            atomic_savefig(plots.plot_images(means, title=f"{args.n} samples after {args.steps} Gibbs steps"), out)
        else:
            raise ValueError(f"--out must end in .png, .svg or .npy; found {out.name}")
    print(f"wrote {args.n} samples to {out}")
    return 0


_MASK_REGIONS = ("bottom", "top", "left", "right")
_MAX_SHOWN = 20  # examples drawn in an inpainting figure


def inpainting_mask(spec: str, n_visible: int, seed: int = 0) -> torch.Tensor:
    """The mask (``True``: missing) named by ``spec``: a half of a square image
    (``bottom``, ``top``, ``left``, ``right``), ``random:P`` (each pixel missing with
    probability ``P``) or a ``.npy`` file of booleans (or 0/1): one image's (of any shape
    with ``n_visible`` pixels, e.g. 28 x 28) or one row per example."""
    if spec.endswith(".npy"):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"mask file not found: {path}")
        mask = torch.from_numpy(np.load(path, allow_pickle=False))
        return mask.reshape(-1) if mask.ndim > 2 or (mask.ndim == 2 and mask.numel() == n_visible) else mask
    if spec.startswith("random:"):
        try:
            fraction = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"--mask random:P needs a probability P; found {spec!r}") from None
        if not 0 < fraction < 1:
            raise ValueError(f"--mask random:P needs 0 < P < 1; found {fraction}")
        return torch.rand(n_visible, generator=torch.Generator().manual_seed(seed)) < fraction
    if spec not in _MASK_REGIONS:
        raise ValueError(f"--mask must be one of {', '.join(_MASK_REGIONS)}, random:P or a .npy file; found {spec!r}")
    height, width = plots.image_shape(n_visible)
    if height == 1:
        raise ValueError(f"--mask {spec} needs square images; the model has {n_visible} visible units")
    rows, columns = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    region = {"bottom": rows >= height // 2, "top": rows < height // 2,
              "left": columns < width // 2, "right": columns >= width // 2}[spec]
    return region.reshape(-1)


def cmd_inpaint(args) -> int:
    _check_output_directory(args.out)
    model = load(args.model, device=args.device)
    settings = _settings_of_the_model(args)
    if not hasattr(model, "inpaint") or isinstance(model, ConditionalRBM):
        raise ValueError(f"inpaint needs an RBM, ConvRBM or DBN; {args.model} holds a {type(model).__name__}")
    bottom = model.layers[0] if hasattr(model, "layers") else model
    args.visible = bottom.visible.name
    data, reference, which_rows = _measured_rows(args, settings)
    if reference is None:
        reference = data
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    rows = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(args.seed))[: args.n]
    original = data[rows].float()
    mask = check_mask(inpainting_mask(args.mask, original.shape[1], args.seed), original)
    scaler = _standardizer(args.model)
    progress = not args.quiet
    if scaler is None:
        completed = model.inpaint(original, mask, args.steps, generator=generator, progress=progress).cpu()
    else:  # the model sees the standardised kept pixels; a missing constant one gets its training value
        kept = scaler.columns
        completed = model.inpaint(scaler.transform(original), mask[:, kept], args.steps, generator=generator,
                                  progress=progress)
        completed = torch.where(mask, scaler.inverse_transform(completed.cpu()), original)
    mean_fill = torch.where(mask, reference.float().mean(0), original)
    missing = int(mask.sum())
    results = {"model": str(args.model), "data": args.data, "rows": which_rows, "n": original.shape[0],
               "mask": args.mask, "steps": args.steps,
               "missing_fraction": missing / mask.numel(),
               "mse_completed": float(((completed - original)[mask] ** 2).mean()),
               "mse_mean_fill": float(((mean_fill - original)[mask] ** 2).mean())}
    out = Path(args.out)
    if out.suffix == ".npy":
        atomic_write_bytes(out, _npy_bytes(completed.numpy()))
    elif out.suffix in (".png", ".svg"):
        count = min(original.shape[0], _MAX_SHOWN)  # the errors above cover every example
        shown = torch.where(mask, torch.full_like(original, 0.5), original)[:count]  # grey: missing
        atomic_savefig(plots.plot_images(torch.cat([original[:count], shown, completed[:count]]).clamp(0, 1),
                                         columns=count, title="rows: original, observed (grey: missing), inpainted"),
                       out)
    else:
        raise ValueError(f"--out must end in .png, .svg or .npy; found {out.name}")
    results["out"] = str(out)
    _print_results(results, args.json)
    return 0


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _device(text: str) -> str:
    """argparse type for ``--device``: a device this machine has."""
    try:
        return str(check_device(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _fraction(text: str) -> float:
    """argparse type for ``--holdout``: a number in [0, 1)."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1); found {text}")
    return value


def _count(text: str) -> int:
    """argparse type for counts of examples or chains: a positive integer."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; found {text}")
    return value


def _add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true",
                        help="no progress or messages on stderr (warnings and errors still); the results are "
                        "printed all the same")


def build_parser(train_defaults: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """The ``torchrbm`` command line; ``train_defaults`` replace the defaults of ``train``'s options
    (a resumed run's recorded settings)."""
    parser = argparse.ArgumentParser(prog="torchrbm", description=__doc__)
    parser.add_argument("--version", action="version", version=f"torchrbm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train an RBM and write a run directory",
                           description="Train an RBM (binary or Gaussian visible units, fully connected, "
                           "convolutional or conditional) and write a run directory; with no arguments, on "
                           "scikit-learn's 8x8 digits (binarised) in well under a minute.")
    _add_data_arguments(train)
    train.add_argument("--max-rows", type=_count, default=None, metavar="N",
                       help="read only the first N rows of the data (of each split of the MNIST family), to try a "
                       "data set quickly; evaluate and inpaint read the model's data as its run did (default: all)")
    train.add_argument("--hidden", type=int, default=100, help="number of hidden units (default: 100; with --init: "
                       "the model's)")
    train.add_argument("--init", default=None, metavar="MODEL",
                       help="start from the model in this file (written by torchrbm, e.g. a run's "
                       "model.safetensors) instead of random weights; a new run, with its own settings")
    train.add_argument("--model", choices=["rbm", "conv", "crbm"], default="rbm",
                       help="rbm (fully connected), conv (shared filters, Lee et al. 2009) or crbm (conditional "
                            "on the previous --order frames of a sequence; --data moving-bars or a file of one "
                            "sequence, a frame per row) (default: rbm)")
    train.add_argument("--order", type=int, default=2, help="crbm: previous frames in the context (default: 2)")
    train.add_argument("--filters", type=int, default=16, help="conv: number of filters (default: 16)")
    train.add_argument("--filter-size", type=int, default=5, help="conv: filter side in pixels (default: 5)")
    train.add_argument("--pool", type=int, default=None, help="conv: probabilistic max-pooling block side")
    train.add_argument("--visible", choices=["bernoulli", "gaussian"], default="bernoulli",
                       help="visible unit type; gaussian standardises the grey levels (default: bernoulli)")
    train.add_argument("--learn-sigma", action="store_true", help="learn the Gaussian units' variances")
    train.add_argument("--sampler", choices=["cd", "pcd", "pt"], default=None,
                       help=f"default: {DEFAULTS.sampler}")
    train.add_argument("--k", type=int, default=DEFAULTS.k, help=f"Gibbs steps per update (default: {DEFAULTS.k})")
    train.add_argument("--n-chains", type=int, default=DEFAULTS.n_chains,
                       help=f"persistent chains for pcd, per temperature for pt (default: {DEFAULTS.n_chains})")
    train.add_argument("--n-temps", type=int, default=10, help="temperatures for pt (default: 10)")
    train.add_argument("--centered", action="store_true", help="centred gradients (Melchior et al. 2016)")
    train.add_argument("--ll-every", type=int, default=0, metavar="N",
                       help="every N epochs record the log-likelihood (exact or AIS, one log Z) of the monitored "
                            "training rows and of the held-out rows (default: never)")
    train.add_argument("--ais-betas", type=int, default=10000,
                       help="temperatures for the final AIS/RAIS estimates of large models (default: 10000)")
    train.add_argument("--epochs", type=int, default=50, help="default: 50")
    train.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                       help=f"rows per step and process (default: {DEFAULTS.batch_size}); under torchrun the global "
                            "batch is this times the number of processes")
    train.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"learning rate (default: {DEFAULTS.lr:g})")
    train.add_argument("--momentum", type=float, nargs="+", default=list(DEFAULTS.momentum), metavar="M",
                       help="momentum, or initial and final momentum switched after "
                       f"{DEFAULTS.momentum_switch} epochs (default: {' '.join(f'{m:g}' for m in DEFAULTS.momentum)})")
    train.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay,
                       help=f"L2 on weights (default: {DEFAULTS.weight_decay:g})")
    train.add_argument("--sparsity-target", type=float, default=None,
                       help="target mean hidden activation, e.g. 0.05 (default: none)")
    train.add_argument("--clip-grad-norm", type=float, default=None, metavar="NORM",
                       help="rescale each update's gradient to at most this norm (default: no clipping)")
    train.add_argument("--max-abs-weight", type=float, default=1e3, metavar="W",
                       help="stop, keeping the last good epoch, when a weight's magnitude exceeds this (divergence "
                            "guard; also on NaN/inf or a runaway free energy) (default: 1000)")
    train.add_argument("--holdout", type=_fraction, default=None,
                       help="fraction of the training rows held out for validation (free-energy gap, "
                       f"held-out log-likelihood), drawn with --seed (default: {_holdout_defaults()}); test splits "
                       "are never used in training")
    train.add_argument("--precision", choices=list(PRECISIONS), default="32-true",
                       help="matrix products of the training steps: float32 parameters with bfloat16 or "
                            "float16 products under *-mixed (default: 32-true)")
    train.add_argument("--device", default="cpu", type=_device,
                       help="cpu or cuda (default: cpu); under torchrun, cuda means cuda:LOCAL_RANK")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--out", default=None, help="run directory (default: runs/DATE-TIME)")
    _add_quiet_argument(train)
    starts = train.add_mutually_exclusive_group()
    starts.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint, with its recorded settings (options "
                        "given again must match them)")
    starts.add_argument("--overwrite", action="store_true",
                        help="start a new run in --out even if it holds one, removing the old run's files "
                        "(without it, that is refused)")
    train.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                       help="write RUN_DIR/checkpoint.safetensors every N epochs (default: 1)")
    train.add_argument("--tensorboard", action="store_true",
                       help="also log the metrics of each epoch for TensorBoard, in RUN_DIR/tensorboard "
                            "(needs the tensorboard package)")
    train.set_defaults(func=cmd_train, **(train_defaults or {}))

    evaluate = sub.add_parser("evaluate", help="measure a saved model on data")
    evaluate.add_argument("model", help="model file written by torchrbm (.safetensors)")
    _add_data_arguments(evaluate, of_a_model=True)
    _add_split_argument(evaluate)
    evaluate.add_argument("--method", choices=[*METHODS, "all"], default="all",
                          help="exact log-likelihood, AIS, reverse AIS, pseudo-log-likelihood, reconstruction "
                          "error, free energy (and gap to the training split), or all (default)")
    evaluate.add_argument("--chains", type=int, default=100, help="AIS chains (default: 100)")
    evaluate.add_argument("--betas", type=int, default=10000, help="AIS temperatures (default: 10000)")
    evaluate.add_argument("--burn-in", type=int, default=0,
                          help="Gibbs steps before reverse AIS leaves the data (default: 0)")
    evaluate.add_argument("--pll", choices=["full", "stochastic"], default="full",
                          help="pseudo-log-likelihood over every bit or one random bit (default: full)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="cpu", type=_device, help="cpu or cuda (default: cpu)")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    _add_quiet_argument(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    sample = sub.add_parser("sample", help="draw samples from a saved model by Gibbs sampling")
    sample.add_argument("model", help="model file written by torchrbm (.safetensors)")
    sample.add_argument("--n", type=_count, default=100, help="number of chains (default: 100)")
    sample.add_argument("--steps", type=int, default=1000, help="Gibbs steps (default: 1000)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="cpu", type=_device, help="cpu or cuda (default: cpu)")
    sample.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.npy")
    _add_quiet_argument(sample)
    sample.set_defaults(func=cmd_sample)

    inpaint = sub.add_parser("inpaint", help="fill in missing pixels of data with a saved model")
    inpaint.add_argument("model", help="model file written by torchrbm (.safetensors): an RBM, ConvRBM or DBN")
    _add_data_arguments(inpaint, of_a_model=True)
    _add_split_argument(inpaint)
    inpaint.add_argument("--n", type=_count, default=10, help="number of examples, drawn at random (default: 10)")
    inpaint.add_argument("--mask", default="bottom",
                         help="missing pixels: bottom, top, left or right half, random:P, or a .npy file of "
                         "booleans (True: missing) of one image's or the examples' shape (default: bottom)")
    inpaint.add_argument("--steps", type=int, default=1000, help="Gibbs steps, half of them burn-in (default: 1000)")
    inpaint.add_argument("--seed", type=int, default=0)
    inpaint.add_argument("--device", default="cpu", type=_device, help="cpu or cuda (default: cpu)")
    inpaint.add_argument("--out", required=True,
                         help="FILE.png or FILE.svg (before/after, the first 20 examples) or FILE.npy")
    inpaint.add_argument("--json", action="store_true", help="print JSON")
    _add_quiet_argument(inpaint)
    inpaint.set_defaults(func=cmd_inpaint)

    report = sub.add_parser("report", help="write RUN_DIR/report.html: one self-contained page of a run")
    report.add_argument("run_dir", help="run directory written by torchrbm train")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit: a pipe's buffered output meets a broken pipe inside the try
    except BrokenPipeError:  # the reader of the output went away (`... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush cannot fail
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a broken pipe


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:  # messages on stderr, unless the caller set up logging
        logging.basicConfig(format="torchrbm: %(message)s")
    logging.getLogger("torchrbm").setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        if args.command == "train" and args.resume and args.out:  # the run's own settings, unless given again
            args = build_parser(train_defaults=_recorded_settings(RunDirectory(args.out), vars(args))).parse_args(argv)
        return args.func(args)
    except BrokenPipeError:
        raise
    except (ValueError, TypeError, OSError, FloatingPointError, ImportError, MemoryError) as err:
        print(f"torchrbm {args.command}: error: {err}", file=sys.stderr)
        return 2
