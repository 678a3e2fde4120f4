"""Every unit type against brute force: enumeration for discrete units, numeric
integration for Gaussian ones; gradients against autograd and finite differences."""

import itertools
import math

import pytest
import torch
from helpers import assert_free_energy_grad_matches_autograd, randomize

import torchrbm as tr
from torchrbm import units

VISIBLE = {
    "bernoulli": lambda: "bernoulli",
    "spin": lambda: "spin",
    "softmax": lambda: units.Softmax(3),
    "gaussian": lambda: units.Gaussian(sigma=0.8),
    "gaussian-learned": lambda: units.Gaussian(learn_sigma=True),
    "blocks": lambda: units.Blocks([("bernoulli", 3), (units.Softmax(3), 3)]),
    "blocks-gaussian": lambda: units.Blocks([(units.Gaussian(learn_sigma=True), 1), ("bernoulli", 1)]),
}
HIDDEN = {"bernoulli": "bernoulli", "spin": "spin", "softmax": {"name": "softmax", "size": 2}}


def make_rbm(visible, hidden="bernoulli", n_visible=None, n_hidden=4, seed=0) -> tr.RBM:
    spec = VISIBLE[visible]()
    n_visible = n_visible or (2 if "gaussian" in visible else 6)
    rbm = randomize(tr.RBM(n_visible, n_hidden, visible=spec, hidden=HIDDEN[hidden], dtype=torch.float64),
                    seed, 0.7)
    with torch.no_grad():
        if isinstance(rbm.visible, units.Gaussian):
            rbm.visible.log_var.copy_(torch.linspace(-0.6, 0.4, rbm.n_visible, dtype=torch.float64))
    return rbm


def states(layer_units, n):
    return layer_units.states(n, 0, layer_units.n_states(n), dtype=torch.float64)


def grid(n_dims, half_width=9.0, points=601):
    """A regular grid over [-w, w]^n and the volume of one cell."""
    axis = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    mesh = torch.stack(torch.meshgrid(*[axis] * n_dims, indexing="ij"), -1).reshape(-1, n_dims)
    return mesh, (axis[1] - axis[0]).item() ** n_dims


def visible_sample_data(rbm, n=5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    pre = torch.randn(n, rbm.n_visible, generator=generator, dtype=torch.float64)
    return rbm.visible.sample(pre, generator)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("visible", VISIBLE)
def test_free_energy_and_hidden_conditional_by_enumerating_h(visible, hidden):
    rbm = make_rbm(visible, hidden)
    v = visible_sample_data(rbm)
    h_states = states(rbm.hidden, rbm.n_hidden)
    energy = torch.stack([rbm.energy(v, h.expand(v.shape[0], -1)) for h in h_states], 1)  # (n, states)
    torch.testing.assert_close(rbm.free_energy(v), -torch.logsumexp(-energy, 1), atol=1e-10, rtol=0)
    p_h = torch.softmax(-energy, 1)
    torch.testing.assert_close(rbm.prob_h(v), p_h @ rbm.hidden.statistic(h_states), atol=1e-10, rtol=0)


@pytest.mark.parametrize("visible", ["bernoulli", "spin", "softmax", "blocks"])
def test_discrete_visible_conditional_and_free_energy_by_enumerating_v(visible):
    rbm = make_rbm(visible, "spin")
    h = states(rbm.hidden, rbm.n_hidden)[::3]
    v_states = states(rbm.visible, rbm.n_visible)
    energy = torch.stack([rbm.energy(v.expand(h.shape[0], -1), h) for v in v_states], 1)
    torch.testing.assert_close(rbm.free_energy_hidden(h), -torch.logsumexp(-energy, 1), atol=1e-10, rtol=0)
    torch.testing.assert_close(rbm.prob_v(h), torch.softmax(-energy, 1) @ v_states, atol=1e-10, rtol=0)


@pytest.mark.parametrize("visible", ["gaussian", "gaussian-learned"])
def test_gaussian_conditional_and_free_energy_by_numeric_integration(visible):
    rbm = make_rbm(visible, n_hidden=3)
    v_grid, cell = grid(2)
    for h in states(rbm.hidden, 3)[[0, 3, 5, 7]]:
        log_joint = -rbm.energy(v_grid, h.expand(v_grid.shape[0], -1))
        log_integral = torch.logsumexp(log_joint, 0) + math.log(cell)
        assert rbm.free_energy_hidden(h[None]).item() == pytest.approx(-log_integral.item(), abs=1e-8)
        p = torch.softmax(log_joint, 0)
        mean, second = p @ v_grid, p @ v_grid**2
        torch.testing.assert_close(rbm.prob_v(h[None])[0], mean, atol=1e-8, rtol=0)
        torch.testing.assert_close(second - mean**2, rbm.visible.variance, atol=1e-6, rtol=0)


def test_gaussian_rbm_density_integrates_to_one():
    rbm = make_rbm("gaussian-learned", n_hidden=5)
    v_grid, cell = grid(2, half_width=12.0, points=801)
    log_z = tr.exact_log_partition(rbm)
    total = torch.logsumexp(-rbm.free_energy(v_grid) - log_z, 0).exp().item() * cell
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("visible", VISIBLE)
def test_samples_have_the_conditional_mean(visible):
    rbm = make_rbm(visible, "bernoulli")
    h = states(rbm.hidden, rbm.n_hidden)[[1, 6]]
    generator = torch.Generator().manual_seed(3)
    draws = rbm.sample_v(h.repeat(20000, 1), generator).reshape(20000, 2, -1)  # (draws, 2, n_visible)
    rbm.visible.check_values(draws.reshape(-1, rbm.n_visible), "samples")
    sample_mean = rbm.visible.statistic(draws).mean(0)
    expected = rbm.visible.statistic(rbm.prob_v(h)) if "gaussian" in visible else rbm.prob_v(h)
    # Standard error below 0.02 for every unit type here.
    torch.testing.assert_close(sample_mean, expected, atol=0.04, rtol=0)


@pytest.mark.parametrize("hidden", ["spin", "softmax"])
def test_hidden_samples_have_the_conditional_mean(hidden):
    rbm = make_rbm("bernoulli", hidden)
    v = visible_sample_data(rbm, n=2)
    generator = torch.Generator().manual_seed(4)
    draws = rbm.sample_h(v.repeat(20000, 1), generator).reshape(20000, 2, -1)
    torch.testing.assert_close(draws.mean(0), rbm.prob_h(v), atol=0.04, rtol=0)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("visible", VISIBLE)
def test_free_energy_grad_matches_autograd(visible, hidden):
    rbm = make_rbm(visible, hidden)
    v = visible_sample_data(rbm, n=7)
    weight = torch.tensor([0.3, 0.2, 0.1, 0.4, -0.25, -0.5, -0.25], dtype=torch.float64)
    assert_free_energy_grad_matches_autograd(rbm, v, weight)


def test_learned_sigma_gradient_matches_finite_differences_of_the_exact_likelihood():
    """The training gradient -<dF>_data + <dF>_model, with the model average taken over
    exact samples (h from its exact marginal, then v | h), agrees with central finite
    differences of the exact log-likelihood (hidden units enumerated, Gaussian integrated)."""
    rbm = make_rbm("gaussian-learned", n_hidden=3)
    data = visible_sample_data(rbm, n=6, seed=7)
    h_states = states(rbm.hidden, 3)
    p_h = torch.softmax(-rbm.free_energy_hidden(h_states), 0)
    generator = torch.Generator().manual_seed(0)
    h = h_states[torch.multinomial(p_h, 400_000, replacement=True, generator=generator)]
    model_v = rbm.sample_v(h, generator)
    gradient = rbm.free_energy_grad(data)
    model_term = rbm.free_energy_grad(model_v)
    eps = 1e-5
    for name, param in rbm.named_parameters():
        estimate = model_term[name] - gradient[name]  # d log-likelihood / d theta
        numeric = torch.zeros_like(param)
        for index in itertools.product(*map(range, param.shape)):
            with torch.no_grad():
                param[index] += eps
                up = tr.log_likelihood(rbm, data, method="exact")
                param[index] -= 2 * eps
                down = tr.log_likelihood(rbm, data, method="exact")
                param[index] += eps
            numeric[index] = (up - down) / (2 * eps)
        torch.testing.assert_close(estimate, numeric, atol=0.02, rtol=0.02)


def test_softmax_states_are_one_hot_groups_in_counting_order():
    layer = units.Softmax(3, n_units=6)
    table = states(layer, 6)
    assert table.shape == (9, 6)
    assert torch.equal(table.reshape(9, 2, 3).sum(-1), torch.ones(9, 2, dtype=torch.float64))
    assert table[:4].tolist() == [[1, 0, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0], [0, 0, 1, 1, 0, 0], [1, 0, 0, 0, 1, 0]]


def test_spin_log_partition_is_stable_for_large_inputs():
    pre = torch.tensor([[-800.0, 0.0, 800.0]])
    expected = 800 + math.log(2) + 800
    assert units.Spin().log_partition(pre).item() == pytest.approx(expected)


def test_unit_type_errors_name_the_problem():
    with pytest.raises(ValueError, match="group 0 of row 1 sums to 2"):
        tr.fit(tr.RBM(6, 2, visible=units.Softmax(3)), torch.tensor([[1.0, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 1]]))
    with pytest.raises(ValueError, match="do not split into softmax groups of 4"):
        tr.RBM(6, 2, visible=units.Softmax(4))
    with pytest.raises(ValueError, match="-1 and \\+1"):
        tr.log_likelihood(tr.RBM(3, 2, visible="spin"), torch.tensor([[0.0, 1, 1]]))
    with pytest.raises(ValueError, match="unknown unit type 'gauss'"):
        tr.RBM(3, 2, visible="gauss")
    with pytest.raises(ValueError, match="bad options for softmax"):
        tr.RBM(3, 2, visible="softmax")
    with pytest.raises(ValueError, match="visible layer only"):
        tr.RBM(3, 2, hidden=units.Gaussian(learn_sigma=True))
    with pytest.raises(ValueError, match="built for 5 units, not 3"):
        tr.RBM(3, 2, visible=units.Gaussian(5))


def test_gaussian_training_data_checks():
    data = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="not standardised"):
        tr.fit(tr.RBM(3, 2, visible="gaussian"), data * 5 + 3, epochs=1)
    data[:, 1] = 2.0
    with pytest.raises(ValueError, match="zero variance .*column 1"):
        tr.fit(tr.RBM(3, 2, visible="gaussian"), data, epochs=1)
    standardized, scaler = tr.datasets.standardize(data, drop_constant=True)
    assert scaler.columns.tolist() == [0, 2] and standardized.shape == (50, 2)
    torch.testing.assert_close(standardized.mean(0), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(standardized.std(0), torch.ones(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(scaler.inverse_transform(standardized), data, atol=1e-5, rtol=0)
    restored = tr.datasets.Standardizer.from_dict(scaler.to_dict())
    torch.testing.assert_close(restored.transform(data), standardized)
    with pytest.raises(ValueError, match="zero variance"):
        tr.datasets.standardize(data)


def _standardized_digits():
    grey = tr.datasets.digits(binarize_method=None)
    return tr.datasets.standardize(grey, drop_constant=True)[0]


@pytest.mark.parametrize("lr", [1e-4, 1e-3, 1e-2])
def test_gaussian_rbm_with_learned_sigma_trains_stably_on_digits(lr):
    data = _standardized_digits()  # 1797 x 61 (three always-blank pixels dropped)
    rbm = tr.RBM(data.shape[1], 16, visible=units.Gaussian(learn_sigma=True), data=data,
                 generator=torch.Generator().manual_seed(0))
    before = tr.log_likelihood(rbm, data, method="exact")
    history = tr.fit(rbm, data, sampler=tr.PCD(100), epochs=100, batch_size=100, lr=lr, momentum=0.5, seed=0)
    assert len(history) == 100
    assert all(bool(torch.isfinite(p).all()) for p in rbm.parameters())
    after = tr.log_likelihood(rbm, data, method="exact")
    # Measured gains: 0.015 nats at lr 1e-4, 3.8 at 1e-3, 12.4 at 1e-2 (from -86.55).
    assert after > before + {1e-4: 0.005, 1e-3: 2.0, 1e-2: 8.0}[lr], (before, after)
    if lr >= 1e-3:  # the spread of v given h falls below the data's marginal spread of 1
        assert rbm.visible.sigma.mean() < 0.98


def test_divergence_stops_with_the_parameter_named_and_the_last_good_values_kept():
    data = _standardized_digits()
    rbm = tr.RBM(data.shape[1], 8, visible="gaussian", generator=torch.Generator().manual_seed(0))
    good = {name: p.detach().clone() for name, p in rbm.named_parameters()}  # kept if epoch 0 diverges

    def remember(model, record):
        good.update({name: p.detach().clone() for name, p in model.named_parameters()})

    with pytest.raises(tr.DivergenceError, match="diverged in epoch .*(NaN or infinite|exploded|ran away).*learning "
                       "rate too large.*Gaussian visible units"):
        tr.fit(rbm, data, epochs=50, lr=1e6, momentum=0.9, seed=0, callbacks=[remember])
    for name, param in rbm.named_parameters():
        assert bool(torch.isfinite(param).all())
        assert torch.equal(param, good[name])


def _relu_rbm(seed=0):
    return randomize(tr.RBM(5, 2, hidden="relu", dtype=torch.float64), seed, 0.8)


def test_relu_hidden_units_by_numeric_integration():
    rbm = _relu_rbm()
    v = states(rbm.visible, 5)[[0, 7, 19, 31]]
    axis = torch.linspace(0, 14, 2801, dtype=torch.float64)
    h_grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    weights = torch.full((axis.numel(),), (axis[1] - axis[0]).item(), dtype=torch.float64)
    weights[[0, -1]] /= 2  # trapezoid rule: the density jumps at h = 0
    log_cell = torch.log(torch.outer(weights, weights).reshape(-1))
    for row in v:
        log_joint = -rbm.energy(row.expand(h_grid.shape[0], -1), h_grid) + log_cell
        assert rbm.free_energy(row[None]).item() == pytest.approx(-torch.logsumexp(log_joint, 0).item(), abs=1e-5)
        p = torch.softmax(log_joint, 0)
        torch.testing.assert_close(rbm.prob_h(row[None])[0], p @ h_grid, atol=1e-4, rtol=0)


def test_relu_samples_and_mean_in_the_tails():
    relu = units.ReLU()
    pre = torch.tensor([-60.0, -8.0, -1.0, 0.0, 2.0, 30.0], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([relu.sample(pre, generator) for _ in range(40000)])
    assert bool((draws >= 0).all()) and bool(torch.isfinite(draws).all())
    mean = relu.mean(pre)
    # Far left the truncated normal is nearly exponential with mean 1/|u|; far right it is N(u, 1).
    assert mean[0].item() == pytest.approx(1 / 60, rel=1e-3) and mean[-1].item() == pytest.approx(30.0)
    torch.testing.assert_close(draws.mean(0), mean, atol=0.02, rtol=0.01)
    torch.testing.assert_close(relu.bias_for_mean(mean), pre, atol=1e-6, rtol=1e-6)


def test_relu_hidden_training_with_pcd_tracks_the_exact_gradient():
    """PCD's ReLU samples must give the same learning curve as the exact gradient (the
    visible layer enumerated) on 3x3 bars and stripes."""
    data = tr.datasets.bars_and_stripes(3)

    def trained(sampler, seed):
        rbm = tr.RBM(9, 6, hidden="relu", data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, data, sampler=sampler, epochs=300, batch_size=4, lr=0.05, momentum=0.0, weight_decay=0.0,
               seed=seed)
        return tr.log_likelihood(rbm, data)

    before = tr.log_likelihood(tr.RBM(9, 6, hidden="relu", data=data, generator=torch.Generator().manual_seed(0)),
                               data)
    exact = trained(tr.Exact(), 0)
    pcd = sum(trained(tr.PCD(50), seed) for seed in range(3)) / 3
    # Measured: -6.24 before, -5.67 exact; PCD -5.66 to -5.79 over seeds 0-4 (mean of 0-2: -5.74).
    assert exact > before + 0.4
    assert pcd == pytest.approx(exact, abs=0.15)


class _Binary(units.Units):
    """Binary units defined outside torchrbm: the registry must find them by name."""

    name = "test-binary"
    discrete = True

    def mean(self, pre):
        return torch.sigmoid(pre)

    def sample(self, pre, generator=None):
        return (torch.rand(pre.shape, generator=generator, dtype=pre.dtype) < torch.sigmoid(pre)).to(pre.dtype)

    def log_partition(self, pre):
        return units.softplus(pre).sum(-1)

    def bias_for_mean(self, mean):
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3))

    def self_energy(self, x, bias):
        return -(x * bias).sum(-1)

    def n_states(self, n_units):
        return 2**n_units

    def states(self, n_units, start, stop, *, device=None, dtype=None):
        return units.Bernoulli().states(n_units, start, stop, device=device, dtype=dtype)


def test_a_unit_type_defined_outside_torchrbm_trains_saves_and_loads(tmp_path):
    assert units.UNIT_TYPES["test-binary"] is _Binary
    data = tr.datasets.bars_and_stripes(3)
    rbm = tr.RBM(9, 4, visible=_Binary(), hidden="test-binary", generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, data, epochs=5, seed=0)
    reference = tr.RBM(9, 4, generator=torch.Generator().manual_seed(0))
    tr.fit(reference, data, epochs=5, seed=0)
    for name, param in reference.named_parameters():  # the same energy: the same training
        torch.testing.assert_close(rbm.get_parameter(name), param)
    tr.save(rbm, tmp_path / "own.safetensors")
    loaded = tr.load(tmp_path / "own.safetensors")
    assert type(loaded.visible) is _Binary and type(loaded.hidden) is _Binary
    assert loaded.config() == rbm.config() == {"class": "RBM", "n_visible": 9, "n_hidden": 4,
                                               "visible": {"name": "test-binary"}, "hidden": {"name": "test-binary"}}
    assert tr.exact_log_partition(loaded) == pytest.approx(tr.exact_log_partition(reference), abs=1e-5)


def test_a_second_unit_type_cannot_take_a_registered_name():
    with pytest.raises(ValueError, match="unit type name 'bernoulli' is taken by torchrbm.units.bernoulli.Bernoulli"):
        type("MyBernoulli", (units.Bernoulli,), {"name": "bernoulli"})


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_uniform_like_draws_what_torch_rand_draws(layout):
    """The same uniforms as ``torch.rand(x.shape, ...)`` from the same generator state, in ``x``'s dtype and
    shape and laid out contiguously whatever ``x``'s strides (so that a unit's draws do not depend on them)."""
    from torchrbm.units.base import uniform_like

    x = torch.zeros(7, 5, dtype=torch.float64)
    x = x if layout == "contiguous" else torch.zeros(5, 7, dtype=torch.float64).T
    drawn = uniform_like(x, torch.Generator().manual_seed(4))
    expected = torch.rand(7, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert torch.equal(drawn, expected) and drawn.is_contiguous() and drawn.dtype == torch.float64
