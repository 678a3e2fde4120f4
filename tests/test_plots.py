"""Figures: each returns a matplotlib Figure that saves as PNG and SVG and shows the model's numbers."""

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
