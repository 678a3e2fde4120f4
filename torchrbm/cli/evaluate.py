"""``torchrbm evaluate``: measure a saved model on data."""

from __future__ import annotations

import argparse
import dataclasses

import torch

from ..estimation.evaluation import DEFAULT_METHODS, METHODS, evaluate
from ..io import load
from .data import SEQUENCE_WEIGHTS, DataOptions, measured_rows
from .models import is_conditional, model_data, recorded_options, standardizer
from .options import TrainOptions
from .output import in_original_units, print_results
from .prediction import prediction_errors


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load(args.model, device=args.device)
    trained = recorded_options(args.model)
    data = model_data(args, trained)
    if is_conditional(model):
        return _evaluate_conditional(args, model, data, trained)
    measured = measured_rows(data, args.split, model.visible, None if trained is None else trained.data_options)
    rows, reference = measured.rows, measured.reference
    scaler = standardizer(args.model)
    if scaler is not None:  # the model was trained on standardised data: evaluate on the same scale
        rows = scaler.transform(rows)
        reference = None if reference is None else scaler.transform(reference)
    results = {"model": str(args.model), "data": data.data, "rows": measured.which,
               **evaluate(model, rows, _methods(args.method, model), reference=reference, n_chains=args.ais_chains,
                          n_betas=args.ais_betas, burn_in=args.burn_in, pll=args.pll, seed=args.seed,
                          progress=not args.quiet, sample_weight=measured.weight)}
    if measured.weight is not None:
        results["sequence_weights"] = SEQUENCE_WEIGHTS
    if scaler is not None:
        in_original_units(results, scaler)
    print_results(results, args.json)
    return 0


def _methods(method: str, model) -> tuple[str, ...]:
    """``--method``'s measures: ``all`` is every one, the generative checks only for models of categorical
    sequences (``--method stats`` asks for them on other models)."""
    if method != "all":
        return (method,)
    return METHODS if not model.visible.dense else DEFAULT_METHODS


def _evaluate_conditional(args: argparse.Namespace, model, data: DataOptions, trained: TrainOptions | None) -> int:
    """A conditional model's one-step prediction error on the frames its training run held out
    (its recorded --order, --holdout and --seed, the data read as its run read them), or on every
    frame if it held none out or was trained on other data."""
    if args.split is not None or args.method != "all":
        raise ValueError("a conditional RBM is measured by its one-step prediction error: --split and --method "
                         "do not apply")
    order = model.n_context // model.n_visible if trained is None else trained.order
    if trained is not None and data.same_data(trained.data_options):
        source = dataclasses.replace(trained.data_options, data=data.data)
    else:
        source = dataclasses.replace(data, holdout=0.0, seed=0 if trained is None else trained.seed)
    rows = source.sequence_rows(order)
    frames, context, which_rows = rows.train, rows.context, "all frames"
    if rows.held_out is not None:
        frames, context = rows.held_out, rows.held_context
        which_rows = f"the {frames.shape[0]} frames its training run held out"
    if frames.shape[1] != model.n_visible:
        raise ValueError(f"data has {frames.shape[1]} columns but the model has {model.n_visible} visible units")
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    results = {"model": str(args.model), "data": data.data, "rows": which_rows,
               "prediction": prediction_errors(model, frames, context, generator)}
    print_results(results, args.json)
    return 0
