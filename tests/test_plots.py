"""Figures: each returns a matplotlib Figure that saves as PNG and SVG and shows the model's numbers."""

import math
import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import torchrbm as tr
from torchrbm import plots


@pytest.fixture(scope="module")
def trained():
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 12, data=data, generator=torch.Generator().manual_seed(0))
    sampler = tr.PT(n_temps=5, n_chains=20)
    history = tr.fit(rbm, data[:16], sampler=sampler, epochs=20, batch_size=8, lr=0.05, seed=0,
                     validation_data=data[16:], log_likelihood_every=5)
    return rbm, data, sampler, history


def _saves(fig: Figure, tmp_path, name: str) -> None:
    assert isinstance(fig, Figure)
    for suffix in (".png", ".svg"):
        fig.savefig(tmp_path / (name + suffix))
        assert (tmp_path / (name + suffix)).stat().st_size > 1000


def test_reconstructions_show_data_above_their_reconstructions(trained, tmp_path):
    rbm, data, _, _ = trained
    fig = plots.plot_reconstructions(rbm, data, n=6)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 12
    np.testing.assert_array_equal(images[0], data[0].reshape(4, 4).numpy())
    rebuilt = rbm.prob_v(rbm.prob_h(data[:1].float())).detach().reshape(4, 4).numpy()
    np.testing.assert_allclose(images[6], rebuilt, rtol=1e-6)
    _saves(fig, tmp_path, "reconstructions")


def test_curves_draw_training_and_held_out_likelihoods_with_their_method(trained, tmp_path):
    _, _, _, history = trained
    fig = plots.plot_curves(history)
    likelihood = next(ax for ax in fig.axes if "log likelihood" in ax.get_ylabel())
    assert "(exact)" in likelihood.get_ylabel()
    lines = {line.get_label(): line.get_ydata() for line in likelihood.lines}
    assert set(lines) == {"training rows", "held-out rows"}
    for label, key in (("training rows", "log_likelihood_train"), ("held-out rows", "log_likelihood_valid")):
        np.testing.assert_allclose(lines[label], [r[key] for r in history if r.get(key) is not None])
    recon = next(ax for ax in fig.axes if ax.get_ylabel() == "recon error")
    assert {line.get_label() for line in recon.lines} == {"training rows", "held-out rows"}
    _saves(fig, tmp_path, "curves")


def test_curves_of_an_earlier_versions_records_name_their_rows():
    history = tr.History([{"epoch": e, "recon_error": 0.1, "log_likelihood": -9.0 + e,
                           "log_likelihood_method": "exact"} for e in range(3)])
    assert history["log_likelihood_train"] == [-9.0, -8.0, -7.0]  # it always measured training rows
    ax = next(ax for ax in plots.plot_curves(history).axes if "likelihood" in ax.get_ylabel())
    assert [line.get_label() for line in ax.lines] == ["training rows"]


def test_an_ais_likelihood_gets_a_three_sigma_band():
    records = [{"epoch": e, "recon_error": 0.1, "log_likelihood_train": -90.0 + e, "log_likelihood_std": 0.5,
                "log_likelihood_method": "ais"} for e in range(3)]
    history = tr.History()
    for record in records:
        history.append(record)
    ax = next(ax for ax in plots.plot_curves(history).axes if "likelihood" in ax.get_ylabel())
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(-91.5) and band.max() == pytest.approx(-86.5)


def test_ais_weights_show_the_estimate_and_the_weight_shares(trained, tmp_path):
    rbm, data, _, _ = trained
    result = tr.ais(rbm, n_chains=40, n_betas=200, data=data, seed=0)
    fig = plots.plot_ais_weights(result)
    assert f"ESS {result.ess:.1f} of 40" in fig.texts[0].get_text()
    shares = fig.axes[1].lines[0].get_ydata()
    assert len(shares) == 40 and shares[-1] == pytest.approx(1.0) and np.all(np.diff(shares) >= -1e-12)
    assert sum(patch.get_height() for patch in fig.axes[0].patches) == 40
    _saves(fig, tmp_path, "ais")


def test_swap_rates_are_the_samplers_own(trained, tmp_path):
    _, _, sampler, _ = trained
    fig = plots.plot_swap_rates(sampler)
    heights = [patch.get_height() for patch in fig.axes[0].patches]
    np.testing.assert_allclose(heights, sampler.swap_rates.numpy())
    assert len(heights) == 4 and all(0 < h <= 1 for h in heights)
    _saves(fig, tmp_path, "swaps")


def test_hidden_activity_and_activation_map(trained, tmp_path):
    rbm, data, _, _ = trained
    means = rbm.prob_h(data.float()).detach().numpy()
    fig = plots.plot_hidden_activity(rbm, data, target=0.1)
    per_unit, every = fig.axes[:2]
    assert sum(p.get_height() for p in per_unit.patches) == 12
    assert sum(p.get_height() for p in every.patches) == means.size
    assert f"mean {means.mean():.3f}" in fig.texts[0].get_text()
    _saves(fig, tmp_path, "activity")
    fig = plots.plot_activation_map(rbm, data, n=10)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), means[:10], rtol=1e-6)
    _saves(fig, tmp_path, "activation_map")



def test_the_free_energy_gap_is_drawn_with_its_running_mean():
    history = tr.History()
    for epoch in range(20):
        history.append({"epoch": epoch, "recon_error": 0.1, "free_energy_gap": float(epoch % 2)})
    ax = tr.plots.plot_curves(history, keys=["free_energy_gap"]).axes[0]
    raw, smooth = ax.get_lines()
    assert list(raw.get_ydata()) == [float(epoch % 2) for epoch in range(20)]
    assert list(smooth.get_xdata()) == list(range(2, 21)) and set(smooth.get_ydata()) == {0.5}  # window 2
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["free energy gap per epoch",
                                                                         "mean of the last 2 epochs"]


@pytest.fixture
def potts():
    """4 positions of 3 states, 3 hidden units whose weights have the norms 1, 3 and 2 (zero-sum gauge)."""
    rbm = tr.RBM(4, 3, visible=tr.units.Potts(3))
    pattern = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.0, 1.0], [1.0, 0.0, -1.0]]) / math.sqrt(8)
    with torch.no_grad():
        rbm.W.copy_(torch.stack([pattern, 3 * pattern.flip(1), 2 * pattern], dim=-1))
        rbm.b.copy_(torch.tensor([0.5, -1.0, 0.25]))
    return rbm


def test_weight_norms_order_the_logos_largest_first(potts):
    np.testing.assert_allclose(plots.weight_norms(potts).numpy(), [1.0, 3.0, 2.0], rtol=1e-6)
    fig = plots.weight_logos(potts, alphabet="ACD", n=2)
    assert [ax.get_title() for ax in fig.axes] == ["hidden unit 1: ||W|| = 3", "hidden unit 2: ||W|| = 2"]
    fig = plots.weight_logos(potts, alphabet="ACD", units=[0, 2])
    assert [ax.get_title()[:13] for ax in fig.axes] == ["hidden unit 0", "hidden unit 2"]
    assert len(plots.weight_logos(potts, alphabet="ACD").axes) == 3  # n = 10 of 3 units: all of them


def test_a_logo_draws_the_units_weights_by_position_and_symbol(potts, tmp_path):
    table = plots.logo_matrix(potts, 1, "AC-")
    assert list(table.columns) == ["A", "C", "-"] and list(table.index) == [1, 2, 3, 4]
    np.testing.assert_allclose(table.to_numpy(), potts.W[:, :, 1].detach().numpy(), rtol=1e-6)
    fig = plots.weight_logos(potts, alphabet="AC-", n=1)
    assert len(fig.axes[0].patches) == 8  # one letter per nonzero weight
    low, high = fig.axes[0].get_ylim()
    assert low < 0 < high  # negative weights below the axis
    _saves(fig, tmp_path, "logos")


def test_the_input_histograms_count_every_sequence(potts):
    codes = torch.tensor([[0, 1, 2, 0], [2, 2, 1, 0], [1, 0, 0, 2], [0, 0, 0, 0], [2, 1, 0, 1]])
    inputs = potts.hidden_preactivation(codes).detach().numpy()
    expected = potts.b[1].item() + sum(potts.W[i, codes[0, i], 1].item() for i in range(4))
    assert inputs[0, 1] == pytest.approx(expected)
    fig = plots.weight_logos(potts, alphabet="ACD", n=3, data=codes)
    histogram = fig.axes[1]  # unit 1, beside its logo
    assert histogram.get_xlabel() == "input I_1(v)"
    assert sum(p.get_height() for p in histogram.patches) == pytest.approx(5)
    lefts = [p.get_x() for p in histogram.patches]
    assert min(lefts) == pytest.approx(inputs[:, 1].min()) and max(lefts) < inputs[:, 1].max()
    weights = torch.tensor([0.5, 1.0, 0.25, 2.0, 1.0])
    fig = plots.weight_logos(potts, alphabet="ACD", units=[0], data=codes, sample_weight=weights)
    assert sum(p.get_height() for p in fig.axes[1].patches) == pytest.approx(4.75)
    assert fig.axes[1].get_ylabel() == "weighted sequences"


def test_weight_logos_refuse_what_they_cannot_draw(potts):
    with pytest.raises(ValueError, match=re.escape(
            "sequence logos need Potts visible units (weights of shape (L, q, n_hidden)); this model's visible "
            "units are Bernoulli")):
        plots.weight_logos(tr.RBM(6, 3), alphabet="AB")
    with pytest.raises(ValueError, match=re.escape(
            "alphabet must have q = 3 distinct symbols, one per Potts state; found 4 symbols ('ACD-')")):
        plots.weight_logos(potts, alphabet="ACD-")
    with pytest.raises(ValueError, match=re.escape(
            "alphabet must have q = 3 distinct symbols, one per Potts state; found 3 symbols ('AAD')")):
        plots.logo_matrix(potts, 0, "AAD")
    with pytest.raises(ValueError, match=re.escape("units must be hidden unit indices 0 to 2; found 3")):
        plots.weight_logos(potts, alphabet="ACD", units=[0, 3])
    with pytest.raises(ValueError, match=re.escape("units must be hidden unit indices 0 to 2; found -1")):
        plots.logo_matrix(potts, -1, "ACD")
    with pytest.raises(ValueError, match=re.escape("units must name at least one hidden unit")):
        plots.weight_logos(potts, alphabet="ACD", units=[])
    with pytest.raises(ValueError, match=re.escape("sample_weight weighs the rows of data: pass data too")):
        plots.weight_logos(potts, alphabet="ACD", sample_weight=[1.0])


def test_weight_logos_of_a_model_of_ww_domains(shared_data, tmp_path):
    lines = (shared_data / "proteins" / "WW_domain_MSA.fasta").read_text().splitlines()[:600]
    (tmp_path / "ww.fasta").write_text("\n".join(lines) + "\n")
    aln = tr.datasets.alignment(tmp_path / "ww.fasta")  # the first 300 sequences
    assert aln.codes.shape == (300, 31)
    rbm = tr.RBM(aln.length, 4, visible=tr.units.Potts(aln.q), hidden="drelu", data=aln.codes,
                 generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, aln.codes, sample_weight=aln.weights, sampler=tr.PCD(n_chains=20), epochs=1, batch_size=100,
           lr=0.05, seed=0)
    fig = plots.weight_logos(rbm, alphabet=aln.alphabet, n=1, data=aln.codes, sample_weight=aln.weights)
    top = int(plots.weight_norms(rbm).argmax())
    assert fig.axes[0].get_title().startswith(f"hidden unit {top}: ")
    assert sum(p.get_height() for p in fig.axes[1].patches) == pytest.approx(float(aln.weights.sum()), rel=1e-6)
    fig.savefig(tmp_path / "ww_logos.png")  # 651 letters: PNG only, SVG is tested on the small logos above
    assert (tmp_path / "ww_logos.png").stat().st_size > 10_000
