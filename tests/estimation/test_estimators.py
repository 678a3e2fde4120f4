"""AIS, reverse AIS and pseudo-likelihood against exact values."""

import math

import numpy as np
import pytest
import torch
from helpers import all_binary, random_rbm

import torchrbm as tr


@pytest.fixture(scope="module")
def trained(shared_data_dir):
    """A 784 x 15 RBM trained briefly on binarised MNIST, with its exact log Z."""
    data = tr.datasets.binarized_mnist("train", data_dir=shared_data_dir)[:5000]
    rbm = tr.RBM(784, 15, data=data, generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, data, sampler=tr.PCD(100), epochs=4, batch_size=100, lr=0.05, momentum=(0.5, 0.9), seed=0)
    return rbm, data, tr.exact_log_partition(rbm)


def _exact_samples(rbm, n, seed):
    """Independent samples of p(v): exact p(h) by enumeration, then v ~ p(v|h)."""
    generator = torch.Generator().manual_seed(seed)
    h = all_binary(rbm.n_hidden).to(rbm.dtype)
    p_h = torch.softmax(-rbm.free_energy_hidden(h).detach().double(), 0)
    rows = torch.multinomial(p_h, n, replacement=True, generator=generator)
    return rbm.sample_v(h[rows], generator)


@pytest.mark.slow
def test_ais_and_reverse_ais_agree_with_exact_log_z(trained):
    rbm, data, exact = trained
    forward = tr.ais(rbm, n_chains=200, n_betas=4000, schedule="linear", data=data, seed=1)
    reverse = tr.reverse_ais(rbm, data, n_chains=200, n_betas=4000, schedule="linear", burn_in=1000, seed=2)
    for estimate in (forward, reverse):
        assert abs(estimate.log_z - exact) < 0.1, (estimate, exact)
        assert estimate.interval[0] <= exact <= estimate.interval[1], (estimate, exact)
        assert estimate.log_z_std < 0.1 and estimate.ess > 10
    assert forward.method == "ais" and reverse.method == "rais"
    ll = tr.log_likelihood(rbm, data[:1000], method="exact")
    assert tr.log_likelihood(rbm, data[:1000], method="ais", base_data=data, n_betas=3000, seed=1) == pytest.approx(
        ll, abs=0.1)


def test_adaptive_ladders_agree_with_exact_log_z(trained):
    rbm, data, exact = trained
    forward = tr.ais(rbm, n_chains=200, schedule="adaptive", target_cess=0.9999, data=data, seed=3)
    reverse = tr.reverse_ais(rbm, data, n_chains=200, schedule="adaptive", target_cess=0.9999, burn_in=1000, seed=4)
    for estimate in (forward, reverse):
        assert estimate.interval[0] <= exact <= estimate.interval[1], (estimate, exact)
        assert 50 < estimate.n_betas < 5000
    assert abs(forward.log_z - exact) < 0.1
    # A reverse run of a few hundred steps errs on the conservative side (log Z too high):
    # +0.10 and +0.24 nat on the fixture models trained with one and two threads.
    assert -0.05 < reverse.log_z - exact < 0.5
    with pytest.raises(ValueError, match="target_cess"):
        tr.ais(rbm, schedule="adaptive", target_cess=1.0)


def test_ais_is_low_and_reverse_ais_high_in_expectation(trained):
    """Short runs make the Jensen bias visible: forward under, reverse (from exact samples) over."""
    rbm, data, exact = trained
    forward = [tr.ais(rbm, n_chains=20, n_betas=200, data=data, seed=s).log_z for s in range(30)]
    samples = _exact_samples(rbm, 20 * 30, seed=5)
    reverse = [tr.reverse_ais(rbm, samples[20 * s : 20 * (s + 1)], n_chains=20, n_betas=200, seed=s).log_z
               for s in range(30)]
    forward_mean, forward_se = np.mean(forward), np.std(forward) / math.sqrt(30)
    reverse_mean, reverse_se = np.mean(reverse), np.std(reverse) / math.sqrt(30)
    assert forward_mean <= exact + forward_se
    assert reverse_mean >= exact - reverse_se


def test_ais_is_exact_when_the_model_is_the_uniform_base_with_hidden_biases():
    rbm = tr.RBM(12, 5, weight_std=0.0, dtype=torch.float64)
    with torch.no_grad():
        rbm.b.copy_(torch.linspace(-1, 1, 5, dtype=torch.float64))
    result = tr.ais(rbm, n_chains=10, n_betas=50, seed=0)
    assert result.log_z == pytest.approx(tr.exact_log_partition(rbm), abs=1e-9)
    assert result.log_z_std == pytest.approx(0.0, abs=1e-9)


def test_beta_schedules():
    linear = tr.beta_schedule(11, "linear")
    assert linear[0] == 0 and linear[-1] == 1
    assert torch.allclose(linear.diff(), torch.full((10,), 0.1, dtype=torch.float64))
    piecewise = tr.beta_schedule(14500)
    assert piecewise.numel() == 14500 and piecewise[0] == 0 and piecewise[-1] == 1
    assert bool((piecewise.diff() > 0).all())
    assert int((piecewise < 0.5).sum()) == 500 and int((piecewise >= 0.9).sum()) == 10000


def test_ais_bad_input():
    rbm = tr.RBM(6, 3)
    with pytest.raises(ValueError, match="n_chains"):
        tr.ais(rbm, n_chains=1)
    with pytest.raises(ValueError, match="n_betas"):
        tr.ais(rbm, n_betas=0)
    with pytest.raises(ValueError, match="run from 0 to 1"):
        tr.ais(rbm, betas=[0.0, 0.5, 0.9])
    with pytest.raises(ValueError, match="strictly increasing"):
        tr.ais(rbm, betas=[0.0, 0.6, 0.4, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        tr.ais(rbm, betas=[1.0])
    with torch.no_grad():
        rbm.W[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'W' contains NaN"):
        tr.ais(rbm)
    with pytest.raises(ValueError, match="unknown method"):
        tr.log_likelihood(tr.RBM(4, 2), torch.zeros(2, 4), method="csl")


def test_full_pseudo_log_likelihood_matches_enumeration():
    rbm = random_rbm(5, 3, seed=1)
    v = all_binary(5)
    log_p = (-rbm.free_energy(v) - tr.exact_log_partition(rbm)).detach()
    index = {tuple(row.int().tolist()): n for n, row in enumerate(v)}
    expected = 0.0
    for n, row in enumerate(v):
        for i in range(5):
            other = row.clone()
            other[i] = 1 - other[i]
            expected += float(log_p[n] - torch.logaddexp(log_p[n], log_p[index[tuple(other.int().tolist())]]))
    assert tr.pseudo_log_likelihood(rbm, v) == pytest.approx(expected / 32, abs=1e-10)


def test_stochastic_pseudo_log_likelihood_is_unbiased_and_matches_scikit_learn():
    from sklearn.neural_network import BernoulliRBM

    rbm = random_rbm(8, 4, seed=2, scale=0.7)
    v = (torch.rand(50, 8, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    full = tr.pseudo_log_likelihood(rbm, v)
    stochastic = tr.pseudo_log_likelihood(rbm, v.repeat(400, 1), "stochastic", seed=0)
    assert stochastic == pytest.approx(full, abs=0.05)
    sk = BernoulliRBM(n_components=4, random_state=np.random.RandomState(0))
    sk.components_ = rbm.W.detach().numpy().T
    sk.intercept_hidden_ = rbm.b.detach().numpy()
    sk.intercept_visible_ = rbm.a.detach().numpy()
    sk.h_samples_ = np.zeros((1, 4))
    sk_scores = np.mean([sk.score_samples(v.numpy()).mean() for _ in range(400)])
    assert sk_scores == pytest.approx(full, abs=0.05)


def test_pseudo_log_likelihood_rejects_grey_levels_and_unknown_methods():
    rbm = tr.RBM(3, 2)
    with pytest.raises(ValueError, match="binary"):
        tr.pseudo_log_likelihood(rbm, [[0.5, 0.0, 1.0]])
    with pytest.raises(ValueError, match="unknown pseudo-likelihood method"):
        tr.pseudo_log_likelihood(rbm, [[0, 0, 1]], method="half")


def test_evaluate_flags_ais_runs_that_rest_on_few_chains():
    rbm = random_rbm(16, 8, seed=4, scale=3.0)
    data = (torch.rand(50, 16, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    short = tr.evaluate(rbm, data, ["ais"], n_chains=100, n_betas=2, seed=0)["ais"]
    assert short["effective_sample_size"] < 10 and "unreliable" in short["warning"]
    long = tr.evaluate(rbm, data, ["ais", "exact"], n_chains=100, n_betas=5000, seed=0)
    assert "warning" not in long["ais"]
    assert long["ais"]["log_likelihood"] == pytest.approx(long["exact"]["log_likelihood"], abs=0.1)


def test_evaluate_says_that_grey_levels_under_binary_units_have_no_log_likelihood():
    rbm = random_rbm(16, 8, seed=4)
    grey = torch.rand(50, 16, generator=torch.Generator().manual_seed(0)).double()
    results = tr.evaluate(rbm, grey, "exact")  # one method may be named by itself
    assert set(results) == {"n_examples", "exact"}
    assert "not a log-probability" in results["exact"]["warning"]
    binary = (grey < 0.5).double()
    assert "warning" not in tr.evaluate(rbm, binary, "exact")["exact"]
