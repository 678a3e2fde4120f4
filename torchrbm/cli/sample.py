"""``torchrbm sample``: draw samples from a saved model by Gibbs sampling."""

from __future__ import annotations

import argparse

import torch

from .. import plots
from .._utils.files import atomic_savefig, atomic_write_bytes
from ..io import load
from .models import is_conditional, standardizer
from .output import ARRAY_SUFFIXES, check_suffix, npy_bytes, output_path


def cmd_sample(args: argparse.Namespace) -> int:
    out = output_path(args.out)
    model = load(args.model, device=args.device)
    if is_conditional(model):
        raise ValueError("a conditional RBM samples frames given the frames before them, which sample does not "
                         "supply: use ConditionalRBM.generate(context, n_frames) (its run's generated.png shows some)")
    check_suffix(out)
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    scaler = standardizer(args.model)

    def original_scale(x):
        return x if scaler is None else scaler.inverse_transform(x)

    start = model.sample_from_visible_biases(args.n, generator)
    with torch.no_grad():
        v = model.gibbs(start, args.steps, generator, progress=not args.quiet)
        if out.suffix in ARRAY_SUFFIXES:
            atomic_write_bytes(out, npy_bytes(original_scale(v).cpu().numpy()))
        else:
            means = original_scale(model.prob_v(model.sample_h(v, generator)))
            atomic_savefig(plots.plot_images(means, title=f"{args.n} samples after {args.steps} Gibbs steps"), out)
    print(f"wrote {args.n} samples to {out}")
    return 0
