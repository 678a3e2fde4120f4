"""Samplers and fit(): updates checked against independent computations."""

import copy

import pytest
import torch
from conftest import all_binary, random_rbm

import torchrbm as tr


class _DataAsModel(tr.Sampler):
    """Negative phase equal to the positive one: the likelihood gradient vanishes."""

    def negative_phase(self, model, v_data, h_data, generator=None):
        return tr.NegativePhase(v_data, model.prob_h(v_data))

    def config(self):
        return {"name": "data"}


def _params(rbm):
    return {name: p.detach().clone() for name, p in rbm.named_parameters()}


def _binary(n, d, seed):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.4).double()


def test_cd_update_equals_positive_minus_negative_statistics():
    rbm = random_rbm(6, 4, seed=1, scale=0.5)
    data = _binary(10, 6, seed=2)
    before = _params(rbm)
    tr.fit(rbm, data, sampler=tr.CD(k=2), epochs=1, batch_size=10, lr=1.0, weight_decay=0.0, shuffle=False,
           generator=torch.Generator().manual_seed(5))
    # The same chain, drawn independently with the same random stream.
    W, a, b = before["W"], before["a"], before["b"]
    g = torch.Generator().manual_seed(5)
    ph0 = torch.sigmoid(data @ W + b)
    h = (torch.rand(ph0.shape, generator=g, dtype=torch.float64) < ph0).double()
    for step in range(2):
        pv = torch.sigmoid(h @ W.T + a)
        v = (torch.rand(pv.shape, generator=g, dtype=torch.float64) < pv).double()
        if step == 0:
            ph = torch.sigmoid(v @ W + b)
            h = (torch.rand(ph.shape, generator=g, dtype=torch.float64) < ph).double()
    phk = torch.sigmoid(v @ W + b)
    expected_dw = (data.T @ ph0 - v.T @ phk) / 10
    torch.testing.assert_close(rbm.W.detach() - W, expected_dw, atol=1e-12, rtol=0)
    torch.testing.assert_close(rbm.a.detach() - a, (data - v).mean(0), atol=1e-12, rtol=0)
    torch.testing.assert_close(rbm.b.detach() - b, (ph0 - phk).mean(0), atol=1e-12, rtol=0)


def test_pcd_update_uses_persistent_chains():
    rbm = random_rbm(5, 3, seed=3, scale=0.5)
    data = _binary(8, 5, seed=4)
    sampler = tr.PCD(n_chains=6, k=1)
    before = _params(rbm)
    tr.fit(rbm, data, sampler=sampler, epochs=1, batch_size=8, lr=1.0, weight_decay=0.0, shuffle=False,
           generator=torch.Generator().manual_seed(11))
    W, a, b = before["W"], before["a"], before["b"]
    g = torch.Generator().manual_seed(11)
    ph0 = torch.sigmoid(data @ W + b)
    start = (torch.rand(6, 5, generator=g, dtype=torch.float64) < torch.sigmoid(a)).double()
    ph = torch.sigmoid(start @ W + b)
    h = (torch.rand(ph.shape, generator=g, dtype=torch.float64) < ph).double()
    pv = torch.sigmoid(h @ W.T + a)
    v = (torch.rand(pv.shape, generator=g, dtype=torch.float64) < pv).double()
    expected_dw = data.T @ ph0 / 8 - v.T @ torch.sigmoid(v @ W + b) / 6
    torch.testing.assert_close(rbm.W.detach() - W, expected_dw, atol=1e-12, rtol=0)
    assert torch.equal(sampler.chains, v)
    assert sampler.state_dict()["chains"].shape == (6, 5)


def test_exact_sampler_follows_the_log_likelihood_gradient():
    """With exact model statistics the update is the gradient of the exact log-likelihood."""
    rbm = random_rbm(6, 4, seed=21, scale=0.5)
    data = _binary(12, 6, seed=22)
    eta = 1e-3
    before = _params(rbm)
    tr.fit(rbm, data, sampler=tr.Exact(), epochs=1, batch_size=12, lr=eta, weight_decay=0.0, seed=0)
    step = {name: (p.detach() - before[name]) / eta for name, p in rbm.named_parameters()}

    probe = random_rbm(6, 4)
    probe.load_state_dict(before)
    eps = 1e-5
    for name, param in probe.named_parameters():
        numeric = torch.zeros_like(param)
        for index in range(param.numel()):
            with torch.no_grad():
                flat = param.view(-1)
                flat[index] += eps
                up = tr.log_likelihood(probe, data)
                flat[index] -= 2 * eps
                down = tr.log_likelihood(probe, data)
                flat[index] += eps
            numeric.view(-1)[index] = (up - down) / (2 * eps)
        torch.testing.assert_close(step[name], numeric, atol=1e-7, rtol=1e-6)


def test_exact_sampler_enumerates_the_hidden_layer_when_it_is_smaller():
    rbm = random_rbm(7, 3, seed=2)
    data = _binary(5, 7, seed=3)
    negative = tr.Exact().negative_phase(rbm, data, None)
    assert negative.v.shape == (8, 7)  # E[v | h] for the 2**3 hidden states
    visible = random_rbm(3, 7)
    neg_v = tr.Exact().negative_phase(visible, data[:, :3], None)
    assert neg_v.v.shape == (8, 3)
    for model, neg in ((rbm, negative), (visible, neg_v)):
        grads = model.free_energy_grad(neg.v, neg.h, neg.weight)
        # <dF/dtheta>_model is d log Z / d theta.
        log_z = torch.logsumexp(-model.free_energy(all_binary(model.n_visible)), 0)
        auto = torch.autograd.grad(-log_z, [model.W, model.a, model.b])
        for name, expected in zip("Wab", auto, strict=True):
            torch.testing.assert_close(grads[name], expected, atol=1e-10, rtol=0)


def test_weight_decay_reaches_weights_only():
    rbm = random_rbm(4, 3, seed=6)
    before = _params(rbm)
    tr.fit(rbm, _binary(6, 4, 1), sampler=_DataAsModel(), epochs=1, batch_size=6, lr=0.1,
           weight_decay=0.01, seed=0)
    torch.testing.assert_close(rbm.W.detach(), before["W"] * (1 - 0.1 * 0.01), atol=1e-14, rtol=0)
    assert torch.equal(rbm.a.detach(), before["a"]) and torch.equal(rbm.b.detach(), before["b"])


def test_sparsity_pulls_hidden_activation_toward_target():
    rbm = random_rbm(4, 3, seed=7)
    data = _binary(6, 4, 2)
    before = _params(rbm)
    tr.fit(rbm, data, sampler=_DataAsModel(), epochs=1, batch_size=6, lr=0.1, weight_decay=0.0,
           sparsity_target=0.05, sparsity_cost=0.5, seed=0)
    q = torch.sigmoid(data @ before["W"] + before["b"]).mean(0)
    delta = 0.5 * (q - 0.05)
    torch.testing.assert_close(rbm.b.detach(), before["b"] - 0.1 * delta, atol=1e-14, rtol=0)
    torch.testing.assert_close(rbm.W.detach(), before["W"] - 0.1 * torch.outer(data.mean(0), delta),
                               atol=1e-14, rtol=0)


def test_momentum_and_learning_rate_schedules():
    rbm = tr.RBM(16, 4)
    history = tr.fit(rbm, tr.datasets.bars_and_stripes(4), epochs=8, batch_size=8,
                     lr=lambda epoch: 0.1 / (1 + epoch), momentum=(0.5, 0.9), momentum_switch=5, seed=0)
    assert history["momentum"] == [0.5] * 5 + [0.9] * 3
    assert history["lr"] == pytest.approx([0.1 / (1 + e) for e in range(8)])
    assert all(t > 0 for t in history["time"])


def test_callbacks_can_stop_training():
    seen = []

    def stop_after_three(model, record):
        seen.append(record["epoch"])
        return record["epoch"] == 2

    history = tr.fit(tr.RBM(16, 4), tr.datasets.bars_and_stripes(4), epochs=10, callbacks=[stop_after_three],
                     seed=0)
    assert seen == [0, 1, 2] and len(history) == 3


@pytest.mark.parametrize("options", [
    {"sampler": tr.PCD(n_chains=10)},
    {"sampler": tr.CD(k=2), "sparsity_target": 0.1},
    {"sampler": tr.PT(n_temps=3, n_chains=5), "centered": True},
    {"sampler": tr.PCD(n_chains=10), "precision": "bf16-mixed", "clip_grad_norm": 0.5},
], ids=["pcd", "cd2-sparsity", "pt-centered", "pcd-bf16-clipped"])
def test_same_seed_same_model(options):
    """Same seed, same device, same thread count: identical parameters, bit for bit."""
    data = tr.datasets.bars_and_stripes(4)
    models = []
    for _ in range(2):
        rbm = tr.RBM(16, 8, generator=torch.Generator().manual_seed(0))
        run = {**options, "sampler": copy.deepcopy(options["sampler"])}
        tr.fit(rbm, data, epochs=5, batch_size=8, lr=0.05, momentum=(0.5, 0.9), seed=3, **run)
        models.append(rbm)
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(p, q)
    other = tr.RBM(16, 8, generator=torch.Generator().manual_seed(0))
    tr.fit(other, data, epochs=5, batch_size=8, lr=0.05, momentum=(0.5, 0.9), seed=4,
           **{**options, "sampler": copy.deepcopy(options["sampler"])})
    assert not torch.equal(other.W, models[0].W)  # the seed matters


def test_pcd_raises_the_exact_likelihood_on_bars_and_stripes():
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
    initial = tr.log_likelihood(rbm, data)
    tr.fit(rbm, data, sampler=tr.PCD(n_chains=100, k=1), epochs=1000, batch_size=8, lr=0.05, momentum=0.0,
           weight_decay=0.0, seed=0)
    final = tr.log_likelihood(rbm, data)
    assert initial == pytest.approx(-11.09, abs=0.01)
    # Optimum -3.379; PCD-1 after 4000 updates is within about one nat of it.
    assert final > -5.0


def test_digits_reconstruction_error_falls():
    data = tr.datasets.digits()
    rbm = tr.RBM(64, 64, data=data, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, data, sampler=tr.CD(1), epochs=15, batch_size=20, lr=0.05, momentum=(0.5, 0.9),
                     seed=0, validation_data=data[:200])
    errors = history["recon_error"]
    assert sum(errors[-5:]) / 5 < 0.8 * errors[0]
    assert all(gap is not None for gap in history["free_energy_gap"])


def test_fit_rejects_bad_settings():
    rbm = tr.RBM(4, 2)
    data = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="batch_size"):
        tr.fit(rbm, data, batch_size=0)
    with pytest.raises(TypeError, match="sampler"):
        tr.fit(rbm, data, sampler="cd")
    with pytest.raises(ValueError, match="sparsity_target"):
        tr.fit(rbm, data, sparsity_target=1.5)
    with pytest.raises(ValueError, match="optimizer"):
        tr.fit(rbm, data, optimizer="lbfgs-ish")
    with pytest.raises(ValueError, match="learning rate"):
        tr.fit(rbm, data, lr=-1.0)
