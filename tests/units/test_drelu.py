"""dReLU units against numerical integration over h, autograd, the exact distribution of their draws,
and float32 against float64, on a grid of inputs and parameters that includes the extremes."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from torchrbm import units
from torchrbm.units import drelu

PARAMETERS = ("gamma_plus", "gamma_minus", "theta_plus", "theta_minus")
INPUTS = (-1e4, -1e3, -50.0, -12.0, -3.0, -0.5, 0.0, 0.5, 3.0, 12.0, 50.0, 1e3, 1e4)
GAMMAS = (0.05, 1.0, 1e3)
THETAS = (-1e3, -1.0, 0.0, 2.0, 1e3)


def extreme_grid() -> tuple[torch.Tensor, torch.Tensor]:
    """Every combination of an input and the four parameters (2925 cases, rounded to float32 so that both
    precisions see the same numbers): the inputs ``(n,)`` and the parameters ``(4, n)`` in the order of
    ``PARAMETERS``."""
    cases = torch.tensor(list(itertools.product(INPUTS, GAMMAS, GAMMAS, THETAS, THETAS))).double()
    return cases[:, 0], cases[:, 1:].T


def layer_for(parameters: torch.Tensor, dtype=torch.float64) -> units.DReLU:
    """A layer with one unit per column of ``parameters``."""
    layer = units.DReLU(parameters.shape[1]).to(dtype)
    with torch.no_grad():
        for name, value in zip(PARAMETERS, parameters, strict=True):
            layer.get_parameter(name).copy_(value)
    return layer


def _half_line(a: torch.Tensor, gamma: torch.Tensor, panels: int = 24, order: int = 24):
    """``log int_0^inf exp(a h - gamma h^2 / 2) dh`` and the mean and variance of ``h`` under that weight, by
    Gauss-Legendre quadrature in log space over the 60 nats around the mode ``max(a / gamma, 0)``.

    With ``h = start + s`` the exponent is ``const + slope s - gamma s^2 / 2`` exactly, so nothing of size
    ``a^2 / gamma`` enters the sum (``const`` is added to the logarithm at the end)."""
    nodes, weights = (torch.tensor(v) for v in np.polynomial.legendre.leggauss(order))
    centre = a / gamma
    inside = centre > 0
    start = centre.clamp(min=0)
    const = torch.where(inside, a.square() / (2 * gamma), torch.zeros_like(a))
    slope = torch.where(inside, torch.zeros_like(a), a)
    reach = 120 / gamma  # (h - centre)^2 at 60 nats below the peak of the untruncated Gaussian
    low = torch.where(inside, (centre - reach.sqrt()).clamp(min=0) - start, torch.zeros_like(a))
    high = reach / (torch.sqrt((start - centre).square() + reach) + (start - centre))
    edges = low[:, None] + (high - low)[:, None] * torch.linspace(0, 1, panels + 1, dtype=torch.float64)
    left, right = edges[:, :-1, None], edges[:, 1:, None]
    s = ((left + right) / 2 + (right - left) / 2 * nodes).flatten(1)
    log_f = (slope[:, None] * s - gamma[:, None] / 2 * s.square() + torch.log((right - left) / 2 * weights).flatten(1))
    p = torch.softmax(log_f, 1)
    mean = (p * s).sum(1)
    return const + torch.logsumexp(log_f, 1), start + mean, (p * (s - mean[:, None]).square()).sum(1)


def quadrature(pre: torch.Tensor, parameters: torch.Tensor):
    """``(log Z, E[h], Var[h])`` by quadrature on each half line, the halves combined by their masses."""
    gamma_plus, gamma_minus, theta_plus, theta_minus = parameters
    log_plus, mean_plus, var_plus = _half_line(pre - theta_plus, gamma_plus)
    log_minus, mean_minus, var_minus = _half_line(theta_minus - pre, gamma_minus)
    mean_minus = -mean_minus
    w_plus, w_minus = torch.sigmoid(log_plus - log_minus), torch.sigmoid(log_minus - log_plus)
    mean = w_plus * mean_plus + w_minus * mean_minus
    var = w_plus * var_plus + w_minus * var_minus + w_plus * w_minus * (mean_plus - mean_minus).square()
    return torch.logaddexp(log_plus, log_minus), mean, var


@pytest.fixture(scope="module")
def grid():
    pre, parameters = extreme_grid()
    return pre, parameters, layer_for(parameters), quadrature(pre, parameters)


def test_log_partition_mean_and_variance_match_quadrature_on_the_extreme_grid(grid):
    pre, _, layer, (log_z, mean, variance) = grid
    ours = layer.log_partition_terms(pre), layer.mean(pre), layer.variance(pre)
    for value in (*ours, log_z, mean, variance):
        assert bool(torch.isfinite(value).all())
    # Measured: log Z within 5e-7 of values up to 1.2e9 (float64's spacing there) and within 5e-16 of
    # max(1, |log Z|) everywhere; the mean within 3e-11 of values up to 2e5 and 1e-13 relative; the variance
    # within 3e-13 relative.
    torch.testing.assert_close(ours[0], log_z, rtol=1e-14, atol=1e-13)
    torch.testing.assert_close(ours[1], mean, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(ours[2], variance, rtol=1e-12, atol=0)
    assert layer.log_partition(pre).item() == pytest.approx(log_z.sum().item(), rel=1e-15)


def _simpson_weights(half_width: float, intervals: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes on ``[-w, w]`` and composite Simpson weights with ``h = 0`` a breakpoint (the density has a kink there)."""
    side = torch.ones(intervals + 1, dtype=torch.float64)
    side[1:-1:2], side[2:-1:2] = 4.0, 2.0
    step = half_width / intervals
    nodes = torch.linspace(-half_width, half_width, 2 * intervals + 1, dtype=torch.float64)
    weights = torch.cat([side[:-1], torch.tensor([2.0], dtype=torch.float64), side[1:]]) * step / 3
    return nodes, weights


def test_the_self_energy_integrates_to_the_log_partition_and_moments():
    """``log int exp(-E_self(h; c) + h I) dh = log_partition(c + I)`` and the moments of that density, by
    Simpson's rule over ``h`` (one unit at a time, the energy evaluated as a model would)."""
    h, weights = _simpson_weights(45.0, 9000)
    bias = torch.tensor([0.8], dtype=torch.float64)
    for gamma_plus, gamma_minus, theta_plus, theta_minus in itertools.product((0.5, 3.0), (0.5, 3.0), (-1.5, 0.7),
                                                                                (-1.5, 0.7)):
        layer = layer_for(torch.tensor([[gamma_plus], [gamma_minus], [theta_plus], [theta_minus]],
                                       dtype=torch.float64))
        for value in (-6.0, -2.0, 0.0, 1.0, 6.0):
            log_f = -layer.self_energy(h[:, None], bias) + h * value + torch.log(weights)
            pre = bias + value
            assert layer.log_partition(pre).item() == pytest.approx(torch.logsumexp(log_f, 0).item(), abs=1e-10)
            p = torch.softmax(log_f, 0)
            mean = (p * h).sum()
            assert layer.mean(pre).item() == pytest.approx(mean.item(), abs=1e-9)
            assert layer.variance(pre).item() == pytest.approx((p * (h - mean).square()).sum().item(), abs=1e-9)


def test_the_derivatives_of_the_log_partition_are_the_mean_and_the_variance(grid):
    pre, _, layer, _ = grid
    pre = pre.clone().requires_grad_(True)
    (first,) = torch.autograd.grad(layer.log_partition(pre), pre)
    torch.testing.assert_close(first, layer.mean(pre).detach(), rtol=1e-12, atol=1e-14)
    (second,) = torch.autograd.grad(layer.mean(pre).sum(), pre)
    torch.testing.assert_close(second, layer.variance(pre).detach(), rtol=1e-9, atol=1e-14)


def test_log_partition_grads_match_autograd():
    """The closed form against autograd of ``sum_n c_n log_partition(I_n)``: the units are every parameter
    combination of the extreme grid, the rows every input, the coefficients of both signs."""
    combinations = torch.tensor(list(itertools.product(GAMMAS, GAMMAS, THETAS, THETAS)), dtype=torch.float64).T
    layer = layer_for(combinations)
    pre = torch.tensor(INPUTS, dtype=torch.float64)[:, None].expand(-1, combinations.shape[1])
    coefficients = torch.linspace(-1.0, 2.0, len(INPUTS), dtype=torch.float64)
    expected = torch.autograd.grad(coefficients @ layer.log_partition(pre),
                                   [layer.get_parameter(name) for name in PARAMETERS])
    grads = layer.log_partition_grads(pre, coefficients)
    assert set(grads) == set(PARAMETERS)
    for name, reference in zip(PARAMETERS, expected, strict=True):
        assert bool(torch.isfinite(grads[name]).all())
        torch.testing.assert_close(grads[name], reference, rtol=1e-9, atol=1e-12, msg=name)


def test_float32_and_float64_agree_and_stay_finite(grid):
    pre, parameters, layer, _ = grid
    single = layer_for(parameters.float(), torch.float32)
    pre32 = pre.float()
    for method in ("log_partition_terms", "mean", "variance"):
        value = getattr(single, method)(pre32)
        assert value.dtype == torch.float32 and bool(torch.isfinite(value).all()), method
        torch.testing.assert_close(value.double(), getattr(layer, method)(pre), rtol=1.2e-7, atol=1e-30, msg=method)
    draws64 = layer.sample(pre, torch.Generator().manual_seed(3))
    draws32 = single.sample(pre32, torch.Generator().manual_seed(3))
    assert draws32.dtype == torch.float32 and torch.equal(draws32, draws64.float())
    grads = single.log_partition_grads(pre32[None], torch.ones(1))
    for name, reference in layer.log_partition_grads(pre[None], torch.ones(1, dtype=torch.float64)).items():
        assert grads[name].dtype == torch.float32
        torch.testing.assert_close(grads[name].double(), reference, rtol=1.2e-7, atol=1e-30, msg=name)


def test_samples_have_the_mean_and_variance_on_the_extreme_grid(grid):
    """10000 draws for each of 418 cases (every seventh of the grid) in one call: the sample mean, variance
    and fraction of positive draws within six standard errors of ``mean``, ``variance`` and ``Z_+ / Z``."""
    pre, parameters, _, _ = grid
    pre, parameters = pre[::7], parameters[:, ::7]
    layer = layer_for(parameters)
    n = 10000
    mean, draws = layer.mean_and_sample(pre.expand(n, -1), torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(draws).all())
    torch.testing.assert_close(mean[0], layer.mean(pre), rtol=0, atol=0)
    variance = layer.variance(pre)
    centred = draws - draws.mean(0)
    sample_variance = centred.square().mean(0)
    assert bool(((draws.mean(0) - mean[0]).abs() <= 6 * (variance / n).sqrt()).all())
    variance_error = ((centred**4).mean(0) - sample_variance.square()).clamp(min=0).sqrt() / math.sqrt(n)
    assert bool(((sample_variance - variance).abs() <= 6 * variance_error + 1e-12 * variance).all())
    mass_plus = torch.tensor([_mass_plus(*case) for case in zip(pre.tolist(), *parameters.tolist(), strict=True)],
                             dtype=torch.float64)
    positive = (draws > 0).double().mean(0)
    assert bool(((positive - mass_plus).abs() <= 6 * (mass_plus * (1 - mass_plus) / n).sqrt() + 1e-9).all())


def _log_half(x: float, gamma: float) -> float:
    """``log int_0^inf exp(-gamma h^2 / 2 + x sqrt(gamma) h) dh`` by SciPy's ``log_ndtr``."""
    return x * x / 2 + special.log_ndtr(x) + 0.5 * math.log(2 * math.pi / gamma)


def _mass_plus(pre: float, gamma_plus: float, gamma_minus: float, theta_plus: float, theta_minus: float) -> float:
    """``Z_+ / Z`` from SciPy."""
    log_plus = _log_half((pre - theta_plus) / math.sqrt(gamma_plus), gamma_plus)
    log_minus = _log_half((theta_minus - pre) / math.sqrt(gamma_minus), gamma_minus)
    return float(special.expit(log_plus - log_minus))


def _cdf(h: np.ndarray, pre: float, gamma_plus: float, gamma_minus: float, theta_plus: float,
         theta_minus: float) -> np.ndarray:
    """``P(h' <= h | I)`` from SciPy: on each half the survival function ``Phi(x - sqrt(gamma) |h|) / Phi(x)``."""
    mass_plus = _mass_plus(pre, gamma_plus, gamma_minus, theta_plus, theta_minus)
    x_plus, x_minus = (pre - theta_plus) / math.sqrt(gamma_plus), (theta_minus - pre) / math.sqrt(gamma_minus)
    survival_plus = np.exp(special.log_ndtr(x_plus - math.sqrt(gamma_plus) * np.maximum(h, 0))
                           - special.log_ndtr(x_plus))
    survival_minus = np.exp(special.log_ndtr(x_minus + math.sqrt(gamma_minus) * np.minimum(h, 0))
                            - special.log_ndtr(x_minus))
    return np.where(h < 0, (1 - mass_plus) * survival_minus, 1 - mass_plus * survival_plus)


CASES = [  # (I, gamma_+, gamma_-, theta_+, theta_-)
    (0.0, 1.0, 1.0, -2.0, 2.0),  # two modes of equal mass
    (0.7, 0.05, 3.0, 1.0, -0.5),  # unequal halves
    (0.0, 1.0, 1.0, 1e3, -1e3),  # both halves in the far tail: h within about 1e-3 of 0 on either side
    (-12.0, 0.05, 0.05, 1e3, -1e3),  # x_± near -4500
    (0.0, 1.0, 1.0, 30.5, -29.5),  # x_+ = -30.5 (tail iteration), x_- = -29.5 (inverse CDF)
    (1e4, 1e3, 0.05, 1e3, -1e3),  # one half only, far from 0
    (-1e4, 0.05, 1e3, 2.0, 1e3),
]


@pytest.mark.parametrize("case", CASES)
def test_draws_follow_the_exact_distribution(case):
    layer = layer_for(torch.tensor(case[1:], dtype=torch.float64)[:, None])
    draws = layer.sample(torch.full((20000, 1), case[0], dtype=torch.float64), torch.Generator().manual_seed(1))
    assert stats.kstest(draws[:, 0].numpy(), lambda h: _cdf(h, *case)).pvalue > 1e-3


def test_each_half_line_draw_inverts_its_survival_function():
    """``S(t) = Phi(x - t) / Phi(x) = U`` to high precision (checked in 40-digit arithmetic) on both sides of
    the switch to the tail iteration at ``x = -30``."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    xs = torch.tensor([-1e5, -4472.0, -100.0, -30.5, -30.0, -29.5, -10.5, -9.5, 0.0, 3.0, 40.0], dtype=torch.float64)
    uniforms = torch.tensor([2.0**-54, 1e-9, 0.3, 0.999999], dtype=torch.float64)
    x, u = (t.flatten() for t in torch.meshgrid(xs, uniforms, indexing="ij"))
    t = drelu._half_gaussian_draw(x, u)
    for x_i, u_i, t_i in zip(x.tolist(), u.tolist(), t.tolist(), strict=True):
        log_survival = mpmath.log(mpmath.ncdf(mpmath.mpf(x_i) - mpmath.mpf(t_i)) / mpmath.ncdf(x_i))
        assert float(log_survival) == pytest.approx(math.log(u_i), rel=1e-12, abs=1e-12), (x_i, u_i, t_i)


def test_registry_round_trip_configuration_and_checks():
    layer = units.get_units({"name": "drelu", "min_gamma": 0.1}, 5)
    assert isinstance(layer, units.DReLU) and units.UNIT_TYPES["drelu"] is units.DReLU
    assert layer.config() == {"name": "drelu", "min_gamma": 0.1} and layer.carries_bias
    assert not units.ReLU.carries_bias and units.ReLU().log_partition_grads(torch.zeros(2, 3), torch.ones(2)) == {}
    assert {name: tuple(p.shape) for name, p in layer.named_parameters()} == {name: (5,) for name in PARAMETERS}
    with torch.no_grad():
        layer.gamma_plus.copy_(torch.linspace(-1.0, 2.0, 5))
        layer.theta_minus.fill_(-3.0)
    layer.constrain_()
    assert layer.gamma_plus.tolist() == pytest.approx([0.1, 0.1, 0.5, 1.25, 2.0])
    assert layer.gamma_minus.tolist() == [1.0] * 5
    copy = units.get_units(layer.config(), 5)
    copy.load_state_dict(layer.state_dict())
    pre = torch.linspace(-2.0, 2.0, 5)
    assert torch.equal(copy.mean(pre), layer.mean(pre))
    assert isinstance(units.get_units("drelu", 3), units.DReLU)
    with pytest.raises(ValueError, match="min_gamma"):
        units.DReLU(min_gamma=0.0)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            layer.check_values(torch.tensor([0.0, bad]), "h")
    layer.check_values(torch.tensor([-1e6, 0.0, 3.5]), "h")
    torch.testing.assert_close(layer.activation()(pre), layer.mean(pre))


def test_the_self_energy_is_the_potential_minus_the_bias_term():
    layer = layer_for(torch.tensor([[2.0, 0.5], [0.25, 3.0], [-1.0, 0.5], [1.5, -2.0]], dtype=torch.float64))
    h = torch.tensor([[1.5, -2.0], [-0.5, 0.0]], dtype=torch.float64)
    bias = torch.tensor([0.3, -0.7], dtype=torch.float64)
    expected = [2.0 * 1.5**2 / 2 - 1.0 * 1.5 + 3.0 * 4.0 / 2 + 2.0 * 2.0 - 0.3 * 1.5 - 0.7 * 2.0,
                0.25 * 0.25 / 2 + 1.5 * -0.5 + 0.3 * 0.5]
    torch.testing.assert_close(layer.self_energy(h, bias), torch.tensor(expected, dtype=torch.float64))


def test_bias_for_mean_inverts_the_mean(grid):
    _, parameters, layer, _ = grid
    targets = torch.tensor([-3e4, -5.0, -0.01, 0.0, 0.2, 7.0, 2e5], dtype=torch.float64).repeat(
        parameters.shape[1] // 7 + 1)[: parameters.shape[1]]
    pre = layer.bias_for_mean(targets)
    # Where the mean jumps between two far-apart modes its slope (the variance) reaches 4e8: the float64
    # resolution of I - theta then bounds how close the mean can get.
    resolution = torch.finfo(torch.float64).eps * torch.maximum(pre.abs(), parameters[2:].abs().amax(0))
    tolerance = 1e-9 * (1 + targets.abs()) + 4 * resolution * layer.variance(pre)
    assert bool(((layer.mean(pre) - targets).abs() <= tolerance).all())


def test_rescaling_by_unit_scale_gives_unit_variance_on_the_data_and_keeps_the_model():
    """After ``rescale_(unit_scale(...))`` the hidden units have unit variance on the data once the caller divides the
    inputs by the returned scale, and ``log Z(I / c)`` under the new parameters is ``log Z(I) + log c``:
    ``p(v)`` is unchanged."""
    generator = torch.Generator().manual_seed(0)
    layer = layer_for(torch.tensor([[0.3, 2.0, 1.0], [1.5, 0.1, 40.0], [-1.0, 0.5, 3.0], [2.0, -0.2, -1.0]],
                                   dtype=torch.float64))
    pre = 4 * torch.randn(500, 3, generator=generator, dtype=torch.float64) + torch.tensor([1.0, -2.0, 0.0])
    weight = torch.rand(500, generator=generator, dtype=torch.float64)
    before = layer.log_partition_terms(pre)
    scale = layer.unit_scale(pre, weight)
    layer.rescale_(scale)
    scaled = pre / scale
    w = weight / weight.sum()
    means = layer.mean(scaled)
    total = w @ layer.variance(scaled) + w @ (means - w @ means).square()
    torch.testing.assert_close(total, torch.ones(3, dtype=torch.float64), rtol=1e-12, atol=0)
    torch.testing.assert_close(layer.log_partition_terms(scaled), before + scale.log(), rtol=1e-12, atol=1e-12)


def test_training_keeps_drelu_units_at_unit_variance_on_the_data_without_changing_the_model():
    import torchrbm as tr

    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 3, (64, 5), generator=generator).double()
    rbm = tr.RBM(5, 3, visible=tr.units.Potts(3), hidden="drelu", weight_std=0.5, dtype=torch.float64,
                 generator=generator)
    free = rbm.free_energy(codes).detach()
    scale = rbm.hidden.unit_scale(rbm.hidden_preactivation(codes))
    assert not torch.allclose(scale, torch.ones(3, dtype=torch.float64), atol=0.1)
    rbm.rescale_hidden_(scale)
    shifted = rbm.free_energy(codes).detach() - free  # F(v) moves by the constant -sum_j log c_j
    torch.testing.assert_close(shifted, torch.full_like(shifted, -float(scale.log().sum())), rtol=0, atol=1e-10)
    torch.testing.assert_close(rbm.hidden.unit_scale(rbm.hidden_preactivation(codes)),
                               torch.ones(3, dtype=torch.float64), rtol=1e-10, atol=0)
    weights = torch.rand(64, generator=generator, dtype=torch.float64)
    tr.fit(rbm, codes, sample_weight=weights, sampler=tr.PCD(n_chains=20), epochs=4, batch_size=64, lr=0.1,
           seed=0)  # rescaled when training ends, on the monitored rows (all 64)
    torch.testing.assert_close(rbm.hidden.unit_scale(rbm.hidden_preactivation(codes), weights),
                               torch.ones(3, dtype=torch.float64), rtol=1e-10, atol=0)


def test_exp_square_times_erfc_is_erfcx_to_a_few_ulps():
    z = torch.linspace(0, 6 / math.sqrt(2), 20001, dtype=torch.float64)
    ours = drelu._exp_square(z) * torch.special.erfc(z)
    relative = ((ours - torch.special.erfcx(z)) / torch.special.erfcx(z)).abs().max().item()
    assert relative < 8 * torch.finfo(torch.float64).eps
