"""Samplers and fit(): updates checked against independent computations."""

import copy
import functools
import math

import pytest
import torch
from helpers import all_binary, random_rbm, randomize

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
        grads = model.free_energy_grad(neg.v, neg.h, neg.sample_weight)
        # <dF/dtheta>_model is d log Z / d theta.
        log_z = torch.logsumexp(-model(all_binary(model.n_visible)), 0)
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


def _split_bars_and_stripes():
    data = tr.datasets.bars_and_stripes(4).double()
    order = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    return data[order[:16]], data[order[16:]]  # under monitor_size: every row is monitored


def test_log_likelihood_every_records_training_and_held_out_rows():
    train, valid = _split_bars_and_stripes()
    rbm = random_rbm(16, 6, seed=2, scale=0.3)
    measured = []
    history = tr.fit(rbm, train, validation_data=valid, epochs=4, batch_size=8, lr=0.05, seed=0,
                     log_likelihood_every=2, callbacks=[lambda model, record: measured.append(
                         (tr.log_likelihood(model, train, method="exact"),
                          tr.log_likelihood(model, valid, method="exact")))])
    assert history["log_likelihood_method"] == [None, "exact", None, "exact"]
    for record, (train_ll, valid_ll) in zip(history, measured, strict=True):
        if record["epoch"] % 2:
            assert record["log_likelihood_train"] == pytest.approx(train_ll, abs=1e-9)
            assert record["log_likelihood_valid"] == pytest.approx(valid_ll, abs=1e-9)
        else:
            assert "log_likelihood_train" not in record and "log_likelihood_valid" not in record
    assert "log_likelihood" not in history[1]  # no key that does not say which rows


def test_a_callback_asking_to_stop_does_not_skip_the_others():
    seen = []
    history = tr.fit(tr.RBM(16, 4), tr.datasets.bars_and_stripes(4), epochs=10, seed=0, callbacks=[
        lambda model, record: record["epoch"] == 1, lambda model, record: seen.append(record["epoch"])])
    assert seen == [0, 1] and len(history) == 2


def test_the_learning_rate_follows_a_scheduler():
    data = tr.datasets.bars_and_stripes(4)
    step_lr = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)
    history = tr.fit(tr.RBM(16, 4), data, epochs=5, batch_size=8, lr=0.1, seed=0, lr_scheduler=step_lr)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])

    rbm = tr.RBM(16, 4)
    optimizer = torch.optim.SGD(rbm.parameters(), lr=0.2, momentum=0.5)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    history = tr.fit(rbm, data, epochs=4, batch_size=8, seed=0, optimizer=optimizer, lr_scheduler=cosine)
    expected = [0.1 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert history["lr"] == pytest.approx(expected)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # the scheduler's last step
    assert history["momentum"] == [0.5] * 4  # the given optimizer's own


def test_a_learning_rate_schedule_in_a_scheduler_follows_the_updates():
    """The updates use the scheduler's rate: a rate of 0 from the second epoch on freezes the model."""
    data = _binary(8, 6, seed=3)
    rbm = random_rbm(6, 3, seed=4)
    after_first = []
    tr.fit(rbm, data, epochs=3, batch_size=8, lr=0.1, seed=0, callbacks=[
        lambda model, record: after_first.append(_params(model)) if record["epoch"] == 0 else None],
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 if epoch == 0 else 0.0))
    assert all(torch.equal(p, after_first[0][name]) for name, p in _params(rbm).items())


def test_bad_schedulers_are_refused_clearly():
    rbm, data = tr.RBM(4, 2), torch.zeros(3, 4)
    other = torch.optim.SGD(tr.RBM(4, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="bound to another optimizer"):
        tr.fit(rbm, data, lr_scheduler=torch.optim.lr_scheduler.StepLR(other, 1))
    with pytest.raises(TypeError, match="must be a torch.optim.lr_scheduler scheduler or a function"):
        tr.fit(rbm, data, lr_scheduler="step")
    with pytest.raises(TypeError, match="must return a torch.optim.lr_scheduler scheduler"):
        tr.fit(rbm, data, lr_scheduler=lambda opt: 0.5)
    with pytest.raises(ValueError, match="give the learning-rate schedule once"):
        tr.fit(rbm, data, lr=lambda epoch: 0.1, lr_scheduler=functools.partial(torch.optim.lr_scheduler.StepLR,
                                                                              step_size=1))
    with pytest.raises(ValueError, match="exactly the model's trained parameters"):
        tr.fit(rbm, data, optimizer=other)
    with pytest.raises(ValueError, match="keeps its own learning rate"):
        tr.fit(rbm, data, optimizer=torch.optim.SGD(rbm.parameters(), lr=0.1), lr=lambda epoch: 0.1)
    plateau = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="min")
    with pytest.raises(ValueError, match="needs validation_data"):
        tr.fit(rbm, data, lr_scheduler=plateau)
    with pytest.raises(ValueError, match="mode='max'"):
        tr.fit(rbm, data, validation_data=data, log_likelihood_every=1, lr_scheduler=plateau)


def test_a_plateau_scheduler_follows_the_held_out_measure():
    data = tr.datasets.bars_and_stripes(4)
    history = tr.fit(tr.RBM(16, 4), data, epochs=4, batch_size=8, lr=0.1, seed=0, validation_data=data,
                     lr_scheduler=functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, threshold=10.0,
                                                    patience=0, factor=0.5))  # no step is 10x better: halve each
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def _scripted(scores):
    """A callback adding a made-up held-out ``score`` per epoch, and the parameters after each epoch."""
    params = []

    def callback(model, record):
        record["score"] = scores[record["epoch"]]
        params.append(_params(model))

    return callback, params


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    callback, params = _scripted([5.0, 3.0, 3.5, 4.0, 2.0, 1.0])
    rbm = tr.RBM(16, 4)
    stopping = tr.EarlyStopping("score", patience=2)
    history = tr.fit(rbm, tr.datasets.bars_and_stripes(4), epochs=6, batch_size=8, seed=0, callbacks=[callback],
                     early_stopping=stopping)
    assert len(history) == 4 and history.best_epoch == 1 and stopping.best_value == 3.0
    assert all(torch.equal(p, params[1][name]) for name, p in _params(rbm).items())

    callback, params = _scripted([5.0, 3.0, 3.5, 4.0])
    history = tr.fit(rbm, tr.datasets.bars_and_stripes(4), epochs=4, batch_size=8, seed=0, callbacks=[callback],
                     early_stopping=tr.EarlyStopping("score", patience=2, restore_best=False))
    assert all(torch.equal(p, params[-1][name]) for name, p in _params(rbm).items())  # the last epoch's


def test_early_stopping_follows_the_held_out_log_likelihood_by_default():
    train, valid = _split_bars_and_stripes()
    stopping = tr.EarlyStopping(patience=100)
    history = tr.fit(random_rbm(16, 6, seed=2, scale=0.3), train, validation_data=valid, epochs=4, batch_size=8,
                     lr=0.05, seed=0, log_likelihood_every=2, early_stopping=stopping)
    assert stopping.key == "log_likelihood_valid" and stopping.maximize
    valid_ll = history["log_likelihood_valid"]
    assert history.best_epoch == max((1, 3), key=lambda e: valid_ll[e])
    tr.fit(tr.RBM(16, 4), train, validation_data=valid, epochs=1, early_stopping=stopping)
    assert stopping.key == "recon_error_valid" and not stopping.maximize
    with pytest.raises(ValueError, match="needs validation_data"):
        tr.fit(tr.RBM(16, 4), train, epochs=1, early_stopping=tr.EarlyStopping())
    with pytest.raises(ValueError, match="recorded only with log_likelihood_every"):
        tr.fit(tr.RBM(16, 4), train, validation_data=valid, epochs=1,
               early_stopping=tr.EarlyStopping("log_likelihood_valid"))
    with pytest.raises(ValueError, match="monitors 'recon_eror', which the record of epoch 0 does not hold"):
        tr.fit(tr.RBM(16, 4), train, epochs=1, early_stopping=tr.EarlyStopping("recon_eror"))


def test_sample_weights_train_as_repeated_rows():
    data = tr.datasets.bars_and_stripes(3).double()
    weights = torch.randint(1, 4, (data.shape[0],), generator=torch.Generator().manual_seed(0))
    repeated = data.repeat_interleave(weights, 0)
    models = [tr.RBM(9, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) for _ in range(2)]
    options = {"sampler": tr.Exact(), "epochs": 20, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
               "batch_size": repeated.shape[0], "seed": 0}  # one batch holds every row: the full gradient
    tr.fit(models[0], data, sample_weight=weights.double(), **options)
    tr.fit(models[1], repeated, **options)
    for (name, weighted), (_, expanded) in zip(models[0].named_parameters(), models[1].named_parameters(), strict=True):
        torch.testing.assert_close(weighted, expanded, atol=1e-10, rtol=0, msg=name)
    start = tr.RBM(9, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).W.detach()
    assert float((models[0].W.detach() - start).abs().max()) > 0.05  # trained: it moved


@pytest.mark.parametrize("weights, message", [
    ([1.0, 2.0], "sample_weight has 2 values for 16 rows of data"),
    ([-1.0] + [1.0] * 15, "sample_weight must be >= 0 and not all zero; found values from -1 to 1"),
    ([0.0] * 16, "must be >= 0 and not all zero"),
    ([float("nan")] * 16, r"sample_weight contains 16 NaN or infinite value\(s\), the first at position \(0,\)"),
])
def test_bad_sample_weights_are_refused_by_name(weights, message):
    with pytest.raises(ValueError, match=message):
        tr.fit(tr.RBM(9, 2), tr.datasets.bars_and_stripes(3), sample_weight=weights, epochs=1)


def test_the_l1_squared_penalty_has_its_gradient_and_spares_no_unit():
    from torchrbm.training.step import l1_squared_grad

    weights = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)  # Potts-shaped: (L, q, H)
    penalty = 0.3 / 2 * (weights.abs().sum((0, 1)) ** 2).sum()
    torch.testing.assert_close(l1_squared_grad(weights.detach(), 0.3), torch.autograd.grad(penalty, weights)[0])
    data = tr.datasets.bars_and_stripes(4)
    plain, sparse = (tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)) for _ in range(2))
    tr.fit(plain, data, epochs=100, lr=0.1, seed=0)
    tr.fit(sparse, data, epochs=100, lr=0.1, seed=0, l1_squared=0.05)
    small = [float((model.W.detach().abs() < 0.05).float().mean()) for model in (plain, sparse)]
    assert small[1] > small[0] + 0.1, small  # more weights near zero
    with pytest.raises(ValueError, match="l1_squared must be a finite number >= 0; found -1"):
        tr.fit(plain, data, epochs=1, l1_squared=-1)


def test_monitored_metrics_are_weighted_means_of_the_monitored_rows():
    """Integer weights count as copies: a weighted fit's records equal those of the rows repeated (as many
    training as held-out rows, so that all of them are monitored)."""
    generator = torch.Generator().manual_seed(0)
    train = (torch.rand(20, 6, generator=generator) < 0.4).double()
    valid = (torch.rand(20, 6, generator=generator) < 0.6).double()
    train_copies = torch.randint(1, 4, (20,), generator=generator)
    valid_copies = torch.randint(1, 4, (20,), generator=generator)
    rbm = tr.RBM(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    history = tr.fit(rbm, train, sample_weight=train_copies, validation_data=valid,
                     validation_sample_weight=valid_copies, epochs=1, lr=0.0, log_likelihood_every=1, seed=0)
    record = history[-1]  # lr = 0: the model is the initial one
    repeated_train, repeated_valid = train.repeat_interleave(train_copies, 0), valid.repeat_interleave(valid_copies, 0)
    assert record["recon_error"] == pytest.approx(tr.reconstruction_error(rbm, repeated_train), rel=1e-12)
    assert record["recon_error_valid"] == pytest.approx(tr.reconstruction_error(rbm, repeated_valid), rel=1e-12)
    assert record["free_energy_gap"] == pytest.approx(
        tr.mean_free_energy(rbm, repeated_valid) - tr.mean_free_energy(rbm, repeated_train), rel=1e-9)
    assert record["log_likelihood_valid"] == pytest.approx(tr.log_likelihood(rbm, repeated_valid), rel=1e-12)
    assert record["log_likelihood_train"] == pytest.approx(tr.log_likelihood(rbm, repeated_train), rel=1e-12)
    with pytest.raises(ValueError, match="validation_sample_weight weighs the rows of validation_data"):
        tr.fit(rbm, train, validation_sample_weight=valid_copies, epochs=1)


@pytest.mark.parametrize("visible", ["bernoulli", "potts"])
def test_the_l2_penalty_on_fields_adds_its_gradient_to_the_visible_biases_only(visible):
    units = tr.units.Potts(3) if visible == "potts" else "bernoulli"
    data = torch.randint(0, 3 if visible == "potts" else 2, (16, 3), generator=torch.Generator().manual_seed(0))
    models = {}
    for strength in (0.0, 0.5):
        rbm = randomize(tr.RBM(3, 5, visible=units, dtype=torch.float64), seed=3)  # 27 visible states: enumerated
        start = {name: p.detach().clone() for name, p in rbm.named_parameters()}
        tr.fit(rbm, data.double(), sampler=tr.Exact(), epochs=1, batch_size=16, lr=0.1, momentum=0.0,
               weight_decay=0.0, l2_fields=strength, seed=0)
        models[strength] = rbm
    # One full-batch step: a <- a - lr (grad + l2_fields a); the Potts gauge keeps the sum over states at zero.
    expected = models[0.0].a - 0.1 * 0.5 * start["a"]
    if visible == "potts":
        expected = expected - expected.mean(1, keepdim=True)
    torch.testing.assert_close(models[0.5].a, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(models[0.5].W, models[0.0].W, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="l2_fields must be a finite number >= 0"):
        tr.fit(models[0.0], data.double(), epochs=1, l2_fields=-0.1)
