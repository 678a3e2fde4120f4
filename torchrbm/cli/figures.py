"""The figures a training run writes into its run directory."""

from __future__ import annotations

from typing import Any

import torch

from .. import plots
from .._utils.files import atomic_savefig, atomic_write_text
from ..data import datasets
from ..data.alignments import fasta_text
from ..estimation.mutations import mutational_scan
from ..estimation.statistics import compare_statistics
from ..io import write_mutational_scan_csv
from ..runs import RunDirectory
from ..sampling.generation import generate

#: The sequences a run of a model of aligned sequences writes, and the Gibbs steps before they are taken.
SAMPLES, GIBBS_STEPS = 1000, 1000


@torch.no_grad()
def save_figures(run: RunDirectory, model, history, data: torch.Tensor, scaler: datasets.Standardizer | None,
                 sampler, sparsity_target: float | None) -> None:
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
        atomic_savefig(fig, run.figure(name), dpi=100)


@torch.no_grad()
def save_sequence_outputs(run: RunDirectory, model, history, data: torch.Tensor, alphabet: str,
                          sample_weight: torch.Tensor | None, reference: torch.Tensor,
                          reference_weight: torch.Tensor | None) -> dict[str, Any]:
    """For a model of aligned sequences (Potts units): the curves, the hidden units' activity,
    :func:`save_motifs` (``data`` weighted by ``sample_weight``), and ``SAMPLES`` sequences sampled after
    ``GIBBS_STEPS`` Gibbs steps from the visible biases, as FASTA; their generative checks against the
    ``reference`` rows (the held-out ones), as a figure and as the summary's entry, which is returned."""
    generator = torch.Generator(device=model.device).manual_seed(0)
    codes = generate(model, SAMPLES, GIBBS_STEPS, generator=generator).long()
    atomic_write_text(run.samples_fasta, fasta_text(codes.cpu(), alphabet))
    comparison = compare_statistics(codes, reference, q=len(alphabet), reference_weight=reference_weight)
    atomic_savefig(plots.plot_statistics(comparison), run.figure("generative_checks.png"), dpi=100)
    atomic_savefig(plots.plot_curves(history), run.figure("curves.png"), dpi=100)
    rows = data[:1000].to(device=model.device, dtype=model.dtype)
    atomic_savefig(plots.plot_hidden_activity(model, rows), run.figure("hidden_activity.png"), dpi=100)
    save_motifs(run, model, data, alphabet, sample_weight)
    return {**comparison.as_dict(), "samples": f"samples.fasta: {SAMPLES} Gibbs chains from the visible biases "
            f"after {GIBBS_STEPS} steps"}


#: The hidden units whose sequence logos a run of aligned sequences draws: those of largest weight norm.
LOGO_UNITS = 5


@torch.no_grad()
def save_motifs(run: RunDirectory, model, data: torch.Tensor, alphabet: str,
                sample_weight: torch.Tensor | None = None) -> None:
    """The sequence logos of the :data:`LOGO_UNITS` hidden units of largest weight norm, with their inputs
    over the training sequences ``data`` (weighted by ``sample_weight``), and the mutational scan of the
    first training sequence, as a heat map and as CSV."""
    atomic_savefig(plots.weight_logos(model, alphabet=alphabet, n=LOGO_UNITS, data=data, sample_weight=sample_weight),
                   run.figure("logos.png"), dpi=100)
    wild_type = data[0].long().cpu()
    scan = mutational_scan(model, wild_type).cpu()
    atomic_savefig(plots.plot_mutational_scan(scan, alphabet, wild_type,
                                              title="mutational scan of the first training sequence"),
                   run.figure("mutational_scan.png"), dpi=100)
    write_mutational_scan_csv(run.mutational_scan_csv, scan, wild_type, alphabet)


def save_conditional_figures(run: RunDirectory, model, history) -> None:
    """The curves and the filters of a conditional model (its samples need contexts: see :func:`save_generated`)."""
    save_curves(run, history)
    atomic_savefig(plots.plot_filters(model), run.figure("filters.png"), dpi=100)


def save_curves(run: RunDirectory, history) -> None:
    """The training curves alone (of an interrupted run)."""
    atomic_savefig(plots.plot_curves(history), run.figure("curves.png"), dpi=100)


@torch.no_grad()
def save_generated(run: RunDirectory, model, context: torch.Tensor, generator: torch.Generator) -> None:
    """Sequences a conditional model generates from the first ten ``context`` rows."""
    generated = model.generate(context[:10], 20, generator=generator)  # (10, 20, n_visible)
    atomic_savefig(plots.plot_images(generated.reshape(10, -1), shape=(20, model.n_visible), columns=5,
                                     title="generated sequences (time downwards)"), run.figure("generated.png"),
                   dpi=100)


def swap_rates_entry(sampler) -> dict[str, Any] | None:
    """Parallel tempering's swap rates over the whole run, as the summary records them (``None`` for other samplers)."""
    if not hasattr(sampler, "swap_rates"):
        return None
    return {"method": "parallel tempering: swap acceptance rate between neighbouring temperatures over the whole "
            "run", "swap_rates": sampler.swap_rates.tolist(), "betas": sampler.betas.tolist()}
