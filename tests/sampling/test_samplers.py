"""Parallel tempering, centring and likelihood monitoring."""

import pytest
import torch
from helpers import all_binary, random_rbm

import torchrbm as tr


def _histogram(v: torch.Tensor) -> torch.Tensor:
    weights = 2 ** torch.arange(v.shape[1] - 1, -1, -1, dtype=torch.float64)
    return torch.bincount((v.double() @ weights).long(), minlength=2 ** v.shape[1]).double() / v.shape[0]


def test_parallel_tempering_chains_sample_their_tempered_distributions():
    """With the model fixed, the beta = 1 chains sample p(v) and the beta = 0 chains the uniform base."""
    rbm = random_rbm(4, 3, seed=3, scale=1.5)
    sampler = tr.PT(n_temps=4, n_chains=2000, k=1)
    generator = torch.Generator().manual_seed(0)
    collected = {0: [], 3: []}
    for step in range(60):
        sampler.negative_phase(rbm, None, None, generator)
        if step >= 20:
            chains = sampler.chains.reshape(4, 2000, 4)
            for t in collected:
                collected[t].append(chains[t])
    exact = torch.softmax(-rbm.free_energy(all_binary(4)).detach(), 0)
    top = _histogram(torch.cat(collected[0]))
    bottom = _histogram(torch.cat(collected[3]))
    # 80 000 correlated draws; the largest state probability has standard error below 0.005.
    torch.testing.assert_close(top, exact, atol=0.015, rtol=0)
    torch.testing.assert_close(bottom, torch.full((16,), 1 / 16, dtype=torch.float64), atol=0.015, rtol=0)
    rates = sampler.swap_rates
    assert rates.shape == (3,) and bool(((rates > 0) & (rates <= 1)).all())


def test_parallel_tempering_swaps_identical_temperatures_always():
    rbm = random_rbm(5, 3, seed=1)
    sampler = tr.PT(betas=[1.0, 1.0 - 1e-12, 0.0], n_chains=50)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        sampler.negative_phase(rbm, None, None, generator)
    assert sampler.swap_rates[0].item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_parallel_tempering_beats_pcd_on_bars_and_stripes():
    data = tr.datasets.bars_and_stripes(4)
    results = {}
    for name, sampler in (("pt", tr.PT(n_temps=10, n_chains=100)), ("pcd", tr.PCD(n_chains=100))):
        rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, data, sampler=sampler, epochs=1500, batch_size=8, lr=0.05, momentum=0.0, weight_decay=0.0,
               seed=0)
        results[name] = tr.log_likelihood(rbm, data)
    assert results["pt"] > -4.0
    assert results["pt"] > results["pcd"]


def test_pt_rejects_bad_ladders():
    with pytest.raises(ValueError, match="must start at\n?.*1, not 0.9"):
        tr.PT(betas=[0.9, 0.5, 0.0]).negative_phase(random_rbm(3, 2), None, None)
    with pytest.raises(ValueError, match="decrease strictly"):
        tr.PT(betas=[1.0, 0.5, 0.7])
    with pytest.raises(ValueError, match="n_temps"):
        tr.PT(n_temps=1)


def test_centred_gradient_matches_autograd_of_the_centred_energy():
    rbm = random_rbm(5, 4, seed=2)
    data = (torch.rand(7, 5, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    model_v = (torch.rand(9, 5, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    mu = torch.rand(5, dtype=torch.float64)
    lam = torch.rand(4, dtype=torch.float64)
    weight = torch.tensor([1 / 7] * 7 + [-1 / 9] * 9, dtype=torch.float64)
    grads = rbm.free_energy_grad(torch.cat([data, model_v]), coefficients=weight)
    rbm.center_grad(grads, mu, lam)

    W = rbm.W.detach().clone().requires_grad_()
    a_c = (rbm.a.detach() + rbm.W.detach() @ lam).requires_grad_()
    b_c = (rbm.b.detach() + rbm.W.detach().T @ mu).requires_grad_()

    def free_energy(v):  # centred RBM: E = -(v-mu)^T W (h-lam) - a_c^T (v-mu) - b_c^T (h-lam)
        pre = b_c + (v - mu) @ W
        return -(v - mu) @ a_c - torch.nn.functional.softplus(pre).sum(-1) + pre @ lam

    loss = free_energy(data).mean() - free_energy(model_v).mean()
    g_w, g_a, g_b = torch.autograd.grad(loss, [W, a_c, b_c])
    torch.testing.assert_close(grads["W"], g_w, atol=1e-12, rtol=0)
    torch.testing.assert_close(grads["a"], g_a - g_w @ lam, atol=1e-12, rtol=0)
    torch.testing.assert_close(grads["b"], g_b - g_w.T @ mu, atol=1e-12, rtol=0)


def test_centring_helps_pcd_on_bars_and_stripes():
    data = tr.datasets.bars_and_stripes(4)
    results = {}
    for centered in (False, True):
        rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, data, sampler=tr.PCD(100), epochs=1000, batch_size=8, lr=0.05, momentum=0.0, weight_decay=0.0,
               seed=0, centered=centered)
        results[centered] = tr.log_likelihood(rbm, data)
    assert results[True] > results[False] + 0.2


def test_log_likelihood_monitor_records_exact_values():
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, data, epochs=6, batch_size=8, lr=0.05, seed=0, log_likelihood_every=3)
    assert history["log_likelihood_method"] == [None, None, "exact", None, None, "exact"]
    assert history["log_likelihood_train"][-1] == pytest.approx(tr.log_likelihood(rbm, data), abs=1e-9)


def test_log_likelihood_monitor_uses_ais_for_large_models():
    data = tr.datasets.digits()[:800]  # under monitor_size, so the whole set is monitored
    rbm = tr.RBM(64, 22, data=data, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, data, epochs=2, batch_size=50, lr=0.01, seed=0, log_likelihood_every=2)
    record = history[1]
    assert record["log_likelihood_method"] == "ais" and record["log_likelihood_std"] < 0.05
    assert record["log_likelihood_train"] == pytest.approx(tr.log_likelihood(rbm, data, method="exact"), abs=0.1)


def test_pcd_keeping_hidden_states_starts_from_them_and_keeps_them_through_a_checkpoint():
    """``keep_hidden``: new chains start at ``p(v | h = 0)``; each update draws ``v~ ~ p(v | h)`` from the
    kept states and keeps ``h ~ p(h | v~)``, and its negative phase is ``(v~, E[h | v~])``."""
    rbm = tr.RBM(6, 4, weight_std=1.0, generator=torch.Generator().manual_seed(0))
    sampler, data = tr.PCD(n_chains=5, keep_hidden=True), torch.zeros(3, 6)
    first = sampler.negative_phase(rbm, data, None, torch.Generator().manual_seed(1))
    start = rbm.sample_from_visible_biases(5, torch.Generator().manual_seed(1))
    assert torch.equal(first.v, start) and torch.allclose(first.h, rbm.prob_h(start))
    kept = sampler.hidden.clone()
    assert kept.shape == (5, 4) and set(kept.unique().tolist()) <= {0.0, 1.0}
    generator = torch.Generator().manual_seed(2)
    second = sampler.negative_phase(rbm, data, None, generator)
    assert torch.equal(second.v, rbm.sample_v(kept, torch.Generator().manual_seed(2)))
    restored = tr.PCD(n_chains=5, keep_hidden=True)
    restored.load_state_dict(sampler.state_dict())
    assert torch.equal(restored.hidden, sampler.hidden) and torch.equal(restored.chains, sampler.chains)
    assert torch.equal(restored.current_hidden(rbm), sampler.hidden)
    assert tr.PCD(n_chains=6, keep_hidden=True).current_hidden(rbm) is None  # other chains: a fresh start
    sampler.reset()
    assert sampler.hidden is None and sampler.chains is None


def test_samplers_rebuild_from_their_configuration_by_registered_name():
    for sampler in (tr.CD(k=3), tr.PCD(n_chains=7, k=2), tr.PCD(n_chains=7, keep_hidden=True),
                    tr.PT(n_temps=4, n_chains=5, k=1), tr.Exact()):
        again = tr.Sampler.from_config(sampler.config())
        assert type(again) is type(sampler) and again.config() == sampler.config()
    assert tr.PCD(n_chains=7).config() == {"name": "pcd", "n_chains": 7, "k": 1}  # as runs recorded it before
    assert repr(tr.PCD(n_chains=7, keep_hidden=True)) == "PCD(n_chains=7, k=1, keep_hidden=True)"
    with pytest.raises(TypeError, match="keep_hidden must be True or False; found 'yes'"):
        tr.PCD(keep_hidden="yes")

    class Twice(tr.CD):
        name = "twice-cd"

        def __init__(self, k: int = 1) -> None:
            super().__init__(k=2 * k)

    from torchrbm.sampling.samplers import get_sampler
    made = get_sampler("twice-cd", k=3, n_chains=100, n_temps=10)  # options it does not take are left out
    assert type(made) is Twice and made.k == 6
