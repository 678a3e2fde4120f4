"""``torchrbm sample``: draw samples from a saved model (Gibbs chains or parallel tempering, at an inverse
temperature), as an array, a figure or, for a model of sequences, FASTA."""

from __future__ import annotations

import argparse

import torch

from .. import plots
from .._utils.files import atomic_savefig, atomic_write_bytes, atomic_write_text
from ..data.alignments import fasta_text
from ..io import load
from ..sampling.generation import generate
from .models import is_conditional, model_alphabet, standardizer
from .output import ARRAY_SUFFIXES, FIGURE_SUFFIXES, check_suffix, npy_bytes, output_path

#: What --out of ``sample`` may end in: an array, a figure, or sequences.
SAMPLE_SUFFIXES = (*FIGURE_SUFFIXES, *ARRAY_SUFFIXES, ".fasta", ".fa")


def cmd_sample(args: argparse.Namespace) -> int:
    out = output_path(args.out)
    model = load(args.model, device=args.device)
    if is_conditional(model):
        raise ValueError("a conditional RBM samples frames given the frames before them, which sample does not "
                         "supply: use ConditionalRBM.generate(context, n_frames) (its run's generated.png shows some)")
    check_suffix(out, SAMPLE_SUFFIXES)
    states = model.visible.unit_states()
    sequences = out.suffix in (".fasta", ".fa")
    if sequences and (states is None or model.visible.dense):
        raise ValueError(f"--out {out.name}: FASTA holds sequences, from a model of Potts units; this model has "
                         f"{model.visible.name} visible units (write .npy, .png or .svg)")
    symbols = model_alphabet(args.model, args.alphabet, states.numel()) if sequences else None
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    v = generate(model, args.n, args.steps, beta=args.beta, sampler=args.sampler, n_temps=args.n_temps,
                 generator=generator, progress=not args.quiet)
    how = (f"{args.steps} {'Gibbs steps' if args.sampler == 'gibbs' else 'parallel-tempering updates'} at "
           f"beta = {args.beta:g}")
    scaler = standardizer(args.model)
    with torch.no_grad():
        if sequences:
            atomic_write_text(out, fasta_text(v.cpu(), symbols))
        elif out.suffix in ARRAY_SUFFIXES:
            atomic_write_bytes(out, npy_bytes((v if scaler is None else scaler.inverse_transform(v)).cpu().numpy()))
        else:
            means = model.prob_v(model.sample_h(v, generator))
            means = means if scaler is None else scaler.inverse_transform(means)
            atomic_savefig(plots.plot_images(means, title=f"{args.n} samples after {how}"), out)
    print(f"wrote {args.n} samples ({how}) to {out}")
    return 0
