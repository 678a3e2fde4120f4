"""Energy, free energy, conditionals, gradients and log Z checked against enumeration."""

import math

import pytest
import torch
from helpers import all_binary, brute_force_log_z, random_rbm

import torchrbm as tr

SHAPES = [(3, 5), (5, 3), (4, 4), (7, 2), (1, 6)]


@pytest.mark.parametrize("n_visible, n_hidden", SHAPES)
def test_free_energy_sums_out_hidden_units(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden, seed=n_visible)
    v, h = all_binary(n_visible), all_binary(n_hidden)
    energies = rbm.energy(v[:, None, :].expand(-1, h.shape[0], -1), h[None].expand(v.shape[0], -1, -1))
    torch.testing.assert_close(rbm.free_energy(v), -torch.logsumexp(-energies, 1), atol=1e-10, rtol=0)
    energies_t = energies.T
    torch.testing.assert_close(rbm.free_energy_hidden(h), -torch.logsumexp(-energies_t, 1), atol=1e-10, rtol=0)


@pytest.mark.parametrize("n_visible, n_hidden", SHAPES)
def test_conditionals_match_enumeration(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden, seed=10 + n_visible)
    v, h = all_binary(n_visible), all_binary(n_hidden)
    with torch.no_grad():
        joint = -rbm.energy(v[:, None, :].expand(-1, h.shape[0], -1), h[None].expand(v.shape[0], -1, -1))
        p_h_given_v = torch.softmax(joint, 1)  # (n_v_states, n_h_states)
        p_v_given_h = torch.softmax(joint, 0)
        torch.testing.assert_close(rbm.prob_h(v), p_h_given_v @ h, atol=1e-12, rtol=0)
        torch.testing.assert_close(rbm.prob_v(h), p_v_given_h.T @ v, atol=1e-12, rtol=0)


@pytest.mark.parametrize("weighted", [False, True, "signed"])
def test_free_energy_grad_matches_autograd(weighted):
    rbm = random_rbm(6, 4, seed=3)
    v = (torch.rand(9, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    weight = torch.softmax(torch.arange(9.0, dtype=torch.float64), 0) if weighted else None
    if weighted == "signed":  # data minus model: the log-likelihood gradient in one call
        weight = torch.tensor([0.25] * 4 + [-0.2] * 5, dtype=torch.float64)
    grads = rbm.free_energy_grad(v, coefficients=weight)
    free = rbm(v)
    objective = (weight * free).sum() if weighted else free.mean()
    auto = torch.autograd.grad(objective, [rbm.W, rbm.a, rbm.b])
    for name, expected in zip("Wab", auto, strict=True):
        torch.testing.assert_close(grads[name], expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n_visible, n_hidden", SHAPES + [(10, 9), (9, 10)])
def test_exact_log_partition_matches_brute_force(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden, seed=100 + n_hidden)
    expected = brute_force_log_z(rbm)
    assert tr.exact_log_partition(rbm) == pytest.approx(expected, abs=1e-10)
    # Chunked enumeration and either layer give the same value.
    assert tr.exact_log_partition(rbm, chunk_size=3) == pytest.approx(expected, abs=1e-10)
    via_visible = torch.logsumexp(-rbm.free_energy(all_binary(n_visible)), 0).item()
    via_hidden = torch.logsumexp(-rbm.free_energy_hidden(all_binary(n_hidden)), 0).item()
    assert via_visible == pytest.approx(expected, abs=1e-10)
    assert via_hidden == pytest.approx(expected, abs=1e-10)


def test_exact_log_partition_float32_model_accumulates_in_float64():
    rbm64 = random_rbm(20, 12, seed=5, scale=0.5)
    rbm32 = tr.RBM(20, 12)
    rbm32.load_state_dict(rbm64.state_dict())
    assert tr.exact_log_partition(rbm32) == pytest.approx(tr.exact_log_partition(rbm64), abs=1e-5)


def test_log_likelihood_is_a_normalised_distribution():
    rbm = random_rbm(5, 7, seed=8)
    v = all_binary(5)
    log_p = torch.tensor([tr.log_likelihood(rbm, row[None]) for row in v], dtype=torch.float64)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-10)
    assert tr.log_likelihood(rbm, v) == pytest.approx(log_p.mean().item(), abs=1e-10)


def test_large_models_are_refused_with_a_pointer_to_ais():
    with pytest.raises(ValueError, match="ais"):
        tr.exact_log_partition(tr.RBM(784, 30))
    with pytest.raises(ValueError, match="unknown method"):
        tr.log_likelihood(tr.RBM(4, 3), torch.zeros(1, 4), method="magic")


def test_initialisation_follows_the_practical_guide():
    data = (torch.rand(2000, 50, generator=torch.Generator().manual_seed(0)) < torch.linspace(0.05, 0.95, 50)).float()
    rbm = tr.RBM(50, 400, data=data, generator=torch.Generator().manual_seed(1))
    assert rbm.W.std().item() == pytest.approx(0.01, rel=0.02)
    assert abs(rbm.W.mean().item()) < 5e-4
    assert torch.equal(rbm.b.detach(), torch.zeros(400))
    p = data.mean(0)
    torch.testing.assert_close(rbm.a.detach(), torch.log(p / (1 - p)))
    # Pixels that are always off get a large negative bias rather than -inf.
    assert torch.isfinite(tr.RBM(3, 2, data=torch.zeros(5, 3)).a).all()


def test_gibbs_is_reproducible_and_follows_dtype():
    rbm = random_rbm(6, 3, seed=2)
    v0 = torch.zeros(4, 6, dtype=torch.float64)
    first = rbm.gibbs(v0, k=5, generator=torch.Generator().manual_seed(7))
    second = rbm.gibbs(v0, k=5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, second)
    assert first.dtype == torch.float64 and first.shape == (4, 6)
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(rbm.gibbs(v0, k=0), v0)


def test_gibbs_samples_the_model_distribution():
    rbm = random_rbm(3, 2, seed=4)
    chains = rbm.gibbs(torch.zeros(20000, 3, dtype=torch.float64), k=30, generator=torch.Generator().manual_seed(0))
    states = all_binary(3)
    codes = (chains @ torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).long()
    empirical = torch.bincount(codes, minlength=8).double() / chains.shape[0]
    exact = torch.softmax(-rbm.free_energy(states), 0).detach()
    # 20000 samples: standard error below 0.0036 per state; allow 5 of them.
    torch.testing.assert_close(empirical, exact, atol=0.018, rtol=0)


def test_sample_mean_matches_probabilities():
    rbm = random_rbm(4, 6, seed=9)
    v = torch.ones(50000, 4, dtype=torch.float64)
    samples = rbm.sample_h(v, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(samples.mean(0), rbm.prob_h(v[:1])[0].detach(), atol=0.01, rtol=0)


def test_methods_reject_the_wrong_width():
    rbm = tr.RBM(4, 3)
    with pytest.raises(ValueError, match="4 values"):
        rbm.free_energy(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="3 values"):
        rbm.prob_v(torch.zeros(2, 4))


def test_constructor_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_hidden"):
        tr.RBM(4, 0)
    with pytest.raises(TypeError, match="n_visible"):
        tr.RBM(4.5, 3)
    with pytest.raises(ValueError, match="unknown unit type"):
        tr.RBM(4, 3, visible="gaussianish")


def test_exact_log_z_of_zero_model():
    rbm = tr.RBM(10, 4, weight_std=0.0, dtype=torch.float64)
    assert tr.exact_log_partition(rbm) == pytest.approx(14 * math.log(2), abs=1e-12)


@pytest.mark.parametrize("model", [
    lambda **kw: tr.RBM(6, 4, **kw),
    lambda **kw: tr.ConditionalRBM(6, 4, n_context=3, **kw),
    lambda **kw: tr.ConvRBM((5, 5), n_filters=2, filter_size=3, **kw),
], ids=["rbm", "conditional", "conv"])
def test_a_cpu_generator_starts_a_model_on_any_device_alike(model):
    """The starting weights are drawn on the generator's device, then moved: a seeded CPU
    generator gives a model on another device (here ``meta``) the same start as on the CPU."""
    on_cpu, elsewhere = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    model(generator=on_cpu)
    assert model(generator=elsewhere, device="meta").W.device.type == "meta"
    assert torch.equal(on_cpu.get_state(), elsewhere.get_state())
    assert not torch.equal(elsewhere.get_state(), torch.Generator().manual_seed(3).get_state())
