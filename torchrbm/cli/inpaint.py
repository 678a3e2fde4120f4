"""``torchrbm inpaint``: fill in missing pixels (or positions of sequences) of data with a saved model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from .. import plots
from .._utils.files import atomic_savefig, atomic_write_bytes
from ..io import load
from ..models.inpainting import check_mask, inpainting_mask
from .data import measured_rows
from .models import bottom_visible, is_conditional, model_data, recorded_options, standardizer
from .output import ARRAY_SUFFIXES, FIGURE_SUFFIXES, check_suffix, npy_bytes, output_path, print_results

#: Examples drawn in an inpainting figure.
_MAX_SHOWN = 20


def _completed(model, original: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace,
               generator: torch.Generator) -> torch.Tensor:
    """``original`` with its ``mask``-ed pixels filled in by ``model``, on the data's own scale."""
    scaler = standardizer(args.model)
    progress = not args.quiet
    if scaler is None:
        return model.inpaint(original, mask, args.steps, generator=generator, progress=progress).cpu()
    # the model sees the standardised kept pixels; a missing constant one gets its training value
    completed = model.inpaint(scaler.transform(original), mask[:, scaler.columns], args.steps, generator=generator,
                              progress=progress)
    return torch.where(mask, scaler.inverse_transform(completed.cpu()), original)


def _write(out: Path, original: torch.Tensor, mask: torch.Tensor, completed: torch.Tensor) -> None:
    """The completed rows (.npy), or a figure of the first examples: original, observed and inpainted."""
    if out.suffix in ARRAY_SUFFIXES:
        atomic_write_bytes(out, npy_bytes(completed.numpy()))
        return
    count = min(original.shape[0], _MAX_SHOWN)  # the errors cover every example
    shown = torch.where(mask, torch.full_like(original, 0.5), original)[:count]  # grey: missing
    atomic_savefig(plots.plot_images(torch.cat([original[:count], shown, completed[:count]]).clamp(0, 1),
                                     columns=count, title="rows: original, observed (grey: missing), inpainted"), out)


def _squared_errors(completed: torch.Tensor, original: torch.Tensor, mask: torch.Tensor,
                    reference: torch.Tensor) -> dict[str, float]:
    """Mean squared error of the inpainted values, and of filling each missing unit with its mean over
    ``reference`` (the training rows)."""
    mean_fill = torch.where(mask, reference.float().mean(0), original)
    return {"mse_completed": float(((completed - original)[mask] ** 2).mean()),
            "mse_mean_fill": float(((mean_fill - original)[mask] ** 2).mean())}


def _recovered(completed: torch.Tensor, original: torch.Tensor, mask: torch.Tensor,
               reference: torch.Tensor) -> dict[str, float]:
    """For codes of states: the fraction of missing positions given back their own state, and that of
    filling each with its most frequent state in ``reference`` (the training rows)."""
    mode_fill = torch.where(mask, reference.float().mode(0).values, original)
    return {"recovered_fraction": float((completed == original)[mask].float().mean()),
            "recovered_fraction_most_frequent_state": float((mode_fill == original)[mask].float().mean())}


def cmd_inpaint(args: argparse.Namespace) -> int:
    out = output_path(args.out)
    model = load(args.model, device=args.device)
    trained = recorded_options(args.model)
    data = model_data(args, trained)
    if not hasattr(model, "inpaint") or is_conditional(model):
        raise ValueError(f"inpaint needs an RBM, ConvRBM or DBN; {args.model} holds a {type(model).__name__}")
    categorical = not bottom_visible(model).dense  # codes of states (Potts): right or wrong, not near
    check_suffix(out, ARRAY_SUFFIXES if categorical else (*FIGURE_SUFFIXES, *ARRAY_SUFFIXES))
    measured = measured_rows(data, args.split, bottom_visible(model), None if trained is None else trained.data_options)
    reference = measured.rows if measured.reference is None else measured.reference
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    rows = torch.randperm(measured.rows.shape[0], generator=torch.Generator().manual_seed(args.seed))[: args.n]
    original = measured.rows[rows].float()
    mask = check_mask(inpainting_mask(args.mask, original.shape[1], args.seed), original)
    completed = _completed(model, original, mask, args, generator)
    results: dict[str, Any] = {
        "model": str(args.model), "data": data.data, "rows": measured.which, "n": original.shape[0],
        "mask": args.mask, "steps": args.steps, "missing_fraction": int(mask.sum()) / mask.numel(),
        **(_recovered(completed, original, mask, reference) if categorical
           else _squared_errors(completed, original, mask, reference))}
    _write(out, original, mask, completed)
    results["out"] = str(out)
    print_results(results, args.json)
    return 0
