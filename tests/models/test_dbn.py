"""Deep belief networks: stacking, up-pass, sampling, conversion to a network, fine-tuning, saving."""

import warnings

import pytest
import torch
from helpers import random_rbm

import torchrbm as tr


@pytest.fixture(scope="module")
def digits():
    return tr.datasets.digits(return_labels=True)


def test_layer_sizes_that_do_not_chain_are_refused():
    with pytest.raises(ValueError, match="do not chain: layer 0 has 4 hidden units but layer 1 has 5 visible"):
        tr.DBN(layers=[tr.RBM(6, 4), tr.RBM(5, 3)])
    with pytest.raises(ValueError, match="either layer_sizes"):
        tr.DBN([6, 4], layers=[tr.RBM(6, 4)])
    with pytest.raises(ValueError, match="at least two"):
        tr.DBN([6])


def test_transform_is_the_mean_field_up_pass_and_to_torch_computes_it():
    layers = [random_rbm(6, 5, seed=0), random_rbm(5, 4, seed=1), random_rbm(4, 3, seed=2)]
    dbn = tr.DBN(layers=layers)
    v = torch.rand(7, 6, dtype=torch.float64)
    expected = layers[2].prob_h(layers[1].prob_h(layers[0].prob_h(v)))
    torch.testing.assert_close(dbn.transform(v), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(dbn.transform(v, depth=1), layers[0].prob_h(v), atol=1e-12, rtol=0)
    network = dbn.to_torch()
    assert [type(m).__name__ for m in network] == ["Linear", "Sigmoid"] * 3
    torch.testing.assert_close(network(v), expected, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="exceeds"):
        dbn.transform(v, depth=4)


def test_to_torch_applies_the_visible_statistic_of_gaussian_units():
    rbm = tr.RBM(3, 2, visible=tr.units.Gaussian(sigma=0.5), dtype=torch.float64)
    network = tr.DBN(layers=[rbm]).to_torch()
    v = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(network(v), rbm.prob_h(v), atol=1e-12, rtol=0)


def test_greedy_pretraining_trains_each_layer_on_the_up_pass(digits):
    x, _ = digits
    dbn = tr.DBN([64, 40, 20], generator=torch.Generator().manual_seed(0))
    histories = dbn.pretrain(x, [{"epochs": 6, "lr": 0.05}, {"epochs": 4, "lr": 0.1}], batch_size=20,
                             momentum=0.0, weight_decay=0.0, sampler=tr.PCD(20), seed=0)
    assert [len(h) for h in histories] == [6, 4]
    for history in histories:
        assert history[-1]["recon_error"] < history[0]["recon_error"]
    # the second layer models the first layer's hidden means better than an untrained layer
    upper = dbn.transform(x, depth=1)
    assert tr.reconstruction_error(dbn.layers[1], upper) < tr.reconstruction_error(tr.RBM(40, 20, data=upper), upper)
    samples = dbn.sample(5, steps=10, seed=0)
    assert samples.shape == (5, 64) and 0 <= float(samples.min()) and float(samples.max()) <= 1


def test_fine_tuning_classifies_held_out_digits_and_survives_save_and_load(digits, tmp_path):
    x, y = digits
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    dbn = tr.DBN([64, 100], generator=torch.Generator().manual_seed(0))
    dbn.pretrain(x[:1500], epochs=10, batch_size=20, lr=0.05, momentum=(0.5, 0.9), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it learns: no warning that it does not
        history = dbn.fine_tune(x[:1500], y[:1500], epochs=40, lr=0.3, patience=8, seed=0)
    assert 1 <= len(history) <= 40
    error = float((dbn.predict(x[1500:]) != y[1500:]).float().mean())
    # binarised 8x8 digits: logistic regression on the pixels errs about 10 %; seeds 0-4 give 6.7-8.8 %
    assert error < 0.1
    tr.save(dbn, tmp_path / "dbn.safetensors")
    loaded = tr.load(tmp_path / "dbn.safetensors")
    torch.testing.assert_close(loaded.predict_proba(x[1500:]), dbn.predict_proba(x[1500:]))
    torch.testing.assert_close(loaded.transform(x[:5]), dbn.transform(x[:5]))


def test_fine_tuning_that_learns_nothing_says_so(digits):
    """Three sigmoid layers of untrained (0.01-scale) weights pass almost no gradient down:
    with a small learning rate the classifier stays at chance, and fine_tune says so."""
    x, y = digits
    dbn = tr.DBN([64, 100, 100, 200], generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning, match=r"learnt nothing: its best validation error 0\.[0-9]+ is no better "
                                             r"than always answering the most frequent class \(0\.[0-9]+\)"):
        dbn.fine_tune(x, y, epochs=30, lr=0.01, patience=3, seed=0)
    assert float((dbn.predict(x) == y).float().mean()) < 0.2


def test_fine_tuning_and_prediction_errors_name_the_problem(digits):
    x, y = digits
    dbn = tr.DBN([64, 8])
    with pytest.raises(ValueError, match=r"labels must be in 0 \.\. 9; found values from 0 to 10"):
        dbn.fine_tune(x[:20], torch.arange(20) % 11, n_classes=10)
    with pytest.raises(ValueError, match="3 labels for 20 examples"):
        dbn.fine_tune(x[:20], y[:3])
    with pytest.raises(RuntimeError, match="fine_tune"):
        dbn.predict(x[:3])


@pytest.mark.filterwarnings("ignore:fine-tuning learnt nothing")  # three epochs: reproducible, not useful
def test_seeded_fine_tuning_is_reproducible(digits):
    x, y = digits
    dbn = tr.DBN([64, 16], generator=torch.Generator().manual_seed(0))
    dbn.pretrain(x[:300], epochs=2, seed=0)
    first = dbn.fine_tune(x[:300], y[:300], epochs=3, seed=7)
    probabilities = dbn.predict_proba(x[:50])
    second = dbn.fine_tune(x[:300], y[:300], epochs=3, seed=7)
    assert [r["train_loss"] for r in first] == [r["train_loss"] for r in second]
    assert torch.equal(dbn.predict_proba(x[:50]), probabilities)
