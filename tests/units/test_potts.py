"""Potts visible units: integer codes, weights (L, q, H) and the model's quantities checked against
brute force, numerical integration and autograd."""

import itertools
import math

import pytest
import torch
from helpers import assert_free_energy_grad_matches_autograd, randomize

import torchrbm as tr
from torchrbm import units


def _potts_rbm(length=3, q=3, n_hidden=2, hidden="bernoulli", seed=0, scale=1.0):
    rbm = randomize(tr.RBM(length, n_hidden, visible=units.Potts(q), hidden=hidden, dtype=torch.float64),
                    seed, scale)
    if hidden == "drelu":  # the curvatures must be positive: 1 + |draw|
        with torch.no_grad():
            for gamma in (rbm.hidden.gamma_plus, rbm.hidden.gamma_minus):
                gamma.abs_().add_(1.0)
            rbm.b.zero_()
    return rbm


def _all_codes(length, q):
    return torch.tensor(list(itertools.product(range(q), repeat=length)), dtype=torch.float64)


def _brute_force_log_z(rbm, hidden_states):
    """log Z summed over every joint state from the energy alone (a gather per position, not the
    embedding product the free energy uses)."""
    v = _all_codes(rbm.n_visible, rbm.visible.q)
    energies = torch.stack([rbm.energy(v, h.expand(v.shape[0], -1)) for h in hidden_states])
    return float(torch.logsumexp(-energies.flatten(), 0))


@pytest.mark.parametrize("hidden", ["bernoulli", "spin"])
def test_log_partition_by_either_layer_equals_brute_force(hidden):
    small_hidden = _potts_rbm(hidden=hidden)  # 2 hidden units: enumerates h
    large_hidden = _potts_rbm(length=2, q=3, n_hidden=5, hidden=hidden)  # 9 visible states: enumerates v
    for rbm in (small_hidden, large_hidden):
        states = rbm.hidden.states(rbm.n_hidden, 0, rbm.hidden.n_states(rbm.n_hidden), dtype=torch.float64)
        assert tr.exact_log_partition(rbm) == pytest.approx(_brute_force_log_z(rbm, states), abs=1e-10)


@pytest.mark.parametrize("hidden", ["relu", "gaussian", "drelu"])
def test_continuous_hidden_units_by_numerical_integration(hidden):
    rbm = _potts_rbm(length=2, q=3, n_hidden=1, hidden=hidden, scale=0.7)
    h = torch.linspace(0.0 if hidden == "relu" else -30.0, 30.0, 300001, dtype=torch.float64)
    v = _all_codes(2, 3)
    points, states = h.shape[0], v.shape[0]
    energies = rbm.energy(v.repeat(points, 1), h.repeat_interleave(states)[:, None]).reshape(points, states)
    log_z = math.log(float(torch.trapezoid(torch.exp(-energies).sum(1), h)))
    assert tr.exact_log_partition(rbm) == pytest.approx(log_z, abs=1e-6)


def test_the_gathered_products_equal_one_hot_matrix_products():
    rbm = _potts_rbm(length=4, q=5, n_hidden=3, seed=1)
    v = torch.tensor([[0.0, 4, 2, 1], [3, 3, 0, 4]], dtype=torch.float64)
    dense_w = rbm.W.detach().reshape(20, 3)
    one_hot = torch.nn.functional.one_hot(v.long(), 5).reshape(2, 20).double()
    torch.testing.assert_close(rbm.hidden_preactivation(v), rbm.b.detach() + one_hot @ dense_w)
    h = torch.tensor([[1.0, 0, 1], [0, 1, 1]], dtype=torch.float64)
    torch.testing.assert_close(rbm.visible_preactivation(h), rbm.a.detach() + (h @ dense_w.T).reshape(2, 4, 5))
    weights = torch.tensor([0.25, -0.75], dtype=torch.float64)
    outer = rbm.visible.weighted_outer(v, h * weights[:, None])
    torch.testing.assert_close(outer, (one_hot.T @ (h * weights[:, None])).reshape(4, 5, 3))
    torch.testing.assert_close(rbm.visible.self_energy_bias_grad(v, weights), -(weights @ one_hot).reshape(4, 5))
    both = rbm.visible.outer_and_bias_grad(v, h * weights[:, None], weights)
    torch.testing.assert_close(both, (outer, -(weights @ one_hot).reshape(4, 5)))
    torch.testing.assert_close(rbm.visible.data_mean(v), one_hot.mean(0).reshape(4, 5))
    mean = rbm.prob_v(h)
    squares = (one_hot.reshape(2, 4, 5) - mean).square().sum((1, 2))
    torch.testing.assert_close(rbm.visible.squared_error(v, mean), squares)
    torch.testing.assert_close(rbm.visible.squared_error(v[None], mean.contiguous()[None]),
                               (one_hot.reshape(1, 2, 4, 5) - mean).square().sum((2, 3)))
    last_state_unused = torch.tensor([[1.0, 2, 3, 0], [1, 0, 3, 0], [4, 0, 0, 0]], dtype=torch.float64)
    one_hot = torch.nn.functional.one_hot(last_state_unused.long(), 5).reshape(3, 20).double()
    h = torch.rand(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rbm.visible.weighted_outer(last_state_unused, h), (one_hot.T @ h).reshape(4, 5, 3))


@pytest.mark.parametrize("hidden", ["bernoulli", "relu", "gaussian", "drelu"])
def test_free_energy_gradient_matches_autograd(hidden):
    rbm = _potts_rbm(length=4, q=3, n_hidden=3, hidden=hidden, seed=2, scale=0.5)
    v = torch.tensor([[0.0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 1, 2], [0, 0, 0, 0], [2, 1, 2, 1]], dtype=torch.float64)
    coefficients = torch.tensor([0.3, 0.4, 0.3, -0.5, -0.5], dtype=torch.float64)
    assert_free_energy_grad_matches_autograd(rbm, v, coefficients)


def test_gibbs_samples_follow_the_model_distribution():
    rbm = _potts_rbm(length=2, q=3, n_hidden=2, seed=3)
    states = _all_codes(2, 3)
    exact = torch.softmax(-rbm.free_energy(states), 0)
    generator = torch.Generator().manual_seed(0)
    chains = rbm.gibbs(rbm.sample_from_visible_biases(20000, generator), 20, generator)
    codes = (chains[:, 0] * 3 + chains[:, 1]).long()
    observed = torch.bincount(codes, minlength=9).double() / chains.shape[0]
    order = (states[:, 0] * 3 + states[:, 1]).long()
    assert float((observed[order] - exact).abs().sum()) / 2 < 0.015  # total variation; its noise is ~0.008


def test_visible_biases_from_data_reproduce_its_frequencies_in_the_zero_sum_gauge():
    data = torch.tensor([[0, 1], [0, 2], [1, 2], [0, 2]], dtype=torch.uint8)
    rbm = tr.RBM(2, 3, visible=units.Potts(3), data=data, weight_std=0.0, dtype=torch.float64)
    torch.testing.assert_close(rbm.a.sum(-1), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    probabilities = rbm.prob_v(torch.zeros(1, 3, dtype=torch.float64))[0]
    expected = torch.tensor([[0.75, 0.25, 0.0], [0.0, 0.25, 0.75]], dtype=torch.float64)
    torch.testing.assert_close(probabilities, expected, atol=2e-3, rtol=0)  # 1e-3 floor on unseen states


def test_codes_outside_the_states_are_refused_by_name():
    rbm = tr.RBM(3, 2, visible=units.Potts(4))
    message = r"must hold integer codes 0 to 3 for Potts units with q = 4; found 4 at \(1, 2\)"
    with pytest.raises(ValueError, match=message):
        rbm.free_energy(torch.tensor([[0.0, 1, 2], [3, 3, 4]]))
    with pytest.raises(ValueError, match="found 1.5 at"):
        tr.log_likelihood(rbm, [[0.0, 1.5, 2]], method="exact")


def test_save_and_load_keep_the_potts_model(tmp_path):
    rbm = _potts_rbm(length=5, q=21, n_hidden=4)
    tr.save(rbm, tmp_path / "potts.safetensors")
    loaded = tr.load(tmp_path / "potts.safetensors")
    assert loaded.config()["visible"] == {"name": "potts", "q": 21} and loaded.W.shape == (5, 21, 4)
    v = torch.tensor([[0.0, 20, 3, 7, 1]], dtype=torch.float64)
    torch.testing.assert_close(loaded.free_energy(v), rbm.free_energy(v))


def _sequences(n=400, seed=0):
    """Codes of a toy family: positions 0 and 1 equal, 2 and 3 equal, four states."""
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(4, (n, 1), generator=generator)
    second = torch.randint(4, (n, 1), generator=generator)
    return torch.cat([first, first, second, second], 1).to(torch.uint8)


@pytest.mark.parametrize("sampler", [tr.CD(k=1), tr.PCD(n_chains=100), tr.PT(n_temps=4, n_chains=50)], ids=str)
def test_every_sampler_trains_a_potts_rbm_towards_the_data(sampler):
    data = _sequences()
    rbm = tr.RBM(4, 8, visible=units.Potts(4), data=data, weight_std=0.1, generator=torch.Generator().manual_seed(0))
    before = tr.log_likelihood(rbm, data, method="exact")
    tr.fit(rbm, data, sampler=sampler, epochs=40, batch_size=40, lr=0.05, momentum=0.5, seed=0)
    after = tr.log_likelihood(rbm, data, method="exact")
    # The data's entropy is 2 log 4 = 2.77 nats: independent sites reach -5.55, the pairs -2.77.
    # Measured: -5.57 before, -4.85 to -4.86 after with each sampler.
    assert before == pytest.approx(-5.55, abs=0.05) and after > -5.0, (before, after)


def test_ais_and_reverse_ais_find_the_exact_log_partition():
    data = _sequences()
    rbm = tr.RBM(4, 10, visible=units.Potts(4), data=data, weight_std=0.1, generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, data, sampler=tr.PCD(n_chains=100), epochs=40, batch_size=40, lr=0.05, seed=0)
    exact = tr.exact_log_partition(rbm)
    forward = tr.ais(rbm, n_chains=100, n_betas=2000, data=data, seed=0)
    backward = tr.reverse_ais(rbm, data[:100], n_chains=100, n_betas=2000, seed=0)
    assert forward.log_z == pytest.approx(exact, abs=0.1) and backward.log_z == pytest.approx(exact, abs=0.1)


def test_pseudo_likelihood_sums_over_every_state_of_each_position():
    rbm = _potts_rbm(length=3, q=4, n_hidden=2, seed=4)
    v = torch.tensor([[0.0, 3, 1], [2, 2, 2]], dtype=torch.float64)
    expected = torch.zeros(2, dtype=torch.float64)
    for i in range(3):  # log p(v_i | v_-i) from the free energies of the four variants
        variants = v[:, None, :].repeat(1, 4, 1)
        variants[:, :, i] = torch.arange(4.0)
        expected += -rbm.free_energy(v) - torch.logsumexp(-rbm.free_energy(variants), 1)
    assert tr.pseudo_log_likelihood(rbm, v) == pytest.approx(float(expected.mean()), abs=1e-10)
    stochastic = [tr.pseudo_log_likelihood(rbm, v.repeat(500, 1), "stochastic", seed=seed) for seed in range(4)]
    assert sum(stochastic) / 4 == pytest.approx(float(expected.mean()), abs=0.1)  # unbiased, one position a row


@pytest.mark.parametrize("hidden", ["bernoulli", "drelu"])
def test_the_zero_sum_gauge_leaves_every_probability_unchanged(hidden):
    rbm = _potts_rbm(length=3, q=3, n_hidden=2, hidden=hidden, seed=5)
    states = _all_codes(3, 3)
    before = -rbm.free_energy(states) - tr.exact_log_partition(rbm)
    rbm.constrain_()
    torch.testing.assert_close(rbm.a.sum(-1), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(rbm.W.sum(1), torch.zeros(3, 2, dtype=torch.float64), atol=1e-12, rtol=0)
    after = -rbm.free_energy(states) - tr.exact_log_partition(rbm)
    torch.testing.assert_close(after, before, atol=1e-12, rtol=0)


def test_enumeration_picks_the_layer_with_fewer_states():
    wide = _potts_rbm(length=3, q=4, n_hidden=30)  # 64 visible states against 2**30 hidden ones
    v = _all_codes(3, 4)
    assert tr.exact_log_partition(wide) == pytest.approx(float(torch.logsumexp(-wide.free_energy(v), 0)), abs=1e-10)
    long = tr.RBM(6, 40, visible=units.Potts(21))  # 21**6 = 8.6e7 states, 2**40 hidden ones
    with pytest.raises(ValueError, match=r"at most 25 units; the smaller layer has 6 units with 8.58e\+07 states"):
        tr.exact_log_partition(long)


def test_mutational_scan_scores_every_single_mutant_by_its_log_likelihood_ratio():
    rbm = _potts_rbm(length=3, q=4, n_hidden=2, seed=6)
    sequence = torch.tensor([2, 0, 3])
    scan = tr.mutational_scan(rbm, sequence)
    log_z = tr.exact_log_partition(rbm)
    log_p = -rbm.free_energy(_all_codes(3, 4)) - log_z  # every state, the last position fastest

    def index(codes):
        return int(16 * codes[0] + 4 * codes[1] + codes[2])

    assert scan.shape == (3, 4) and scan.dtype == torch.float64
    for i, a in itertools.product(range(3), range(4)):
        mutant = sequence.clone()
        mutant[i] = a
        assert float(scan[i, a]) == pytest.approx(float(log_p[index(mutant)] - log_p[index(sequence)]), abs=1e-10)
    assert scan[[0, 1, 2], sequence].abs().max() == 0
    with pytest.raises(ValueError, match="needs visible units with a few states each"):
        tr.mutational_scan(tr.RBM(3, 2, visible="gaussian"), [0.1, 0.2, 0.3])


def test_a_potts_drelu_rbm_trains_and_keeps_no_hidden_bias():
    data = _sequences()
    rbm = tr.RBM(4, 6, visible=units.Potts(4), hidden="drelu", data=data, weight_std=0.1,
                 generator=torch.Generator().manual_seed(0))
    assert not rbm.b.requires_grad and "b" not in rbm.free_energy_grad(data[:5].double())
    before = tr.log_likelihood(rbm, data, method="ais", n_chains=100, n_betas=1000, seed=0)
    # dReLU units want a small step and no momentum (at lr 0.05, momentum 0.5 the result swings with the seed)
    tr.fit(rbm, data, sampler=tr.PCD(n_chains=100), epochs=40, batch_size=40, lr=0.02, momentum=0.0, seed=0)
    after = tr.log_likelihood(rbm, data, method="ais", n_chains=100, n_betas=1000, seed=0)
    assert torch.equal(rbm.b, torch.zeros(6)) and float(rbm.hidden.gamma_plus.detach().min()) >= 0.05
    assert before == pytest.approx(-5.55, abs=0.1) and after > before + 0.5, (before, after)


def test_weighted_log_likelihood_is_the_weighted_mean_of_log_probabilities():
    rbm = _potts_rbm(length=3, q=3, n_hidden=2, seed=7)
    v = torch.tensor([[0.0, 1, 2], [2, 2, 0], [1, 1, 1]], dtype=torch.float64)
    weights = torch.tensor([0.5, 0.25, 0.0], dtype=torch.float64)
    log_p = -rbm.free_energy(v) - tr.exact_log_partition(rbm)
    expected = float(weights @ log_p / weights.sum())
    assert tr.log_likelihood(rbm, v, sample_weight=weights) == pytest.approx(expected, abs=1e-12)
    assert tr.log_likelihood(rbm, v[:2], sample_weight=[2, 1]) == pytest.approx(expected, abs=1e-12)
    sampled = tr.log_likelihood(rbm, v, method="ais", sample_weight=weights, n_chains=200, n_betas=2000, seed=0)
    assert sampled == pytest.approx(expected, abs=0.05)


def test_evaluate_weighs_the_log_likelihood_and_its_error():
    rbm = _potts_rbm(length=3, q=3, n_hidden=2, seed=8)
    v = _all_codes(3, 3)[::2]
    weights = torch.linspace(0.1, 1.0, v.shape[0], dtype=torch.float64)
    entry = tr.evaluate(rbm, v, ["exact"], sample_weight=weights)["exact"]
    assert entry["log_likelihood"] == pytest.approx(tr.log_likelihood(rbm, v, sample_weight=weights), abs=1e-12)
    x = -rbm.free_energy(v)
    mean = float(weights @ x / weights.sum())
    error = float((weights.square() @ (x - mean).square()).sqrt() / weights.sum())
    assert entry["mean_over_rows_std_error"] == pytest.approx(error, rel=1e-12)
    assert entry["n_effective"] == pytest.approx(float(weights.sum() ** 2 / weights.square().sum()), rel=1e-12)
    unweighted = tr.evaluate(rbm, v, ["exact"])["exact"]
    assert "n_effective" not in unweighted and unweighted["log_likelihood"] != pytest.approx(entry["log_likelihood"])
