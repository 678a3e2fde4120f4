"""The convolutional RBM against its dense equivalent, brute-force enumeration and autograd."""

import math

import pytest
import torch
from helpers import assert_free_energy_grad_matches_autograd, randomize

import torchrbm as tr
from torchrbm import units


def _conv(image_shape=(3, 3), n_filters=2, filter_size=2, seed=0, **kwargs) -> tr.ConvRBM:
    return randomize(tr.ConvRBM(image_shape, n_filters, filter_size, dtype=torch.float64, **kwargs), seed, 0.8)


def _all_states(layer_units, n):
    return layer_units.states(n, 0, layer_units.n_states(n), dtype=torch.float64)


@pytest.mark.parametrize("pool", [None, 2])
def test_free_energy_and_conditionals_by_enumeration(pool):
    model = _conv(pool=pool)  # 9 pixels; 2 maps of 2x2 hidden units
    v_all = _all_states(model.visible, 9)
    h_all = _all_states(model.hidden, 8)
    assert h_all.shape[0] == (25 if pool else 256)  # a pooled block: off or one of its 4 units on
    energy = torch.stack([model.energy(v_all, h.expand(v_all.shape[0], -1)) for h in h_all], 1)
    torch.testing.assert_close(model.free_energy(v_all), -torch.logsumexp(-energy, 1), atol=1e-10, rtol=0)
    torch.testing.assert_close(model.prob_h(v_all), torch.softmax(-energy, 1) @ h_all, atol=1e-10, rtol=0)
    torch.testing.assert_close(model.free_energy_hidden(h_all), -torch.logsumexp(-energy, 0), atol=1e-10, rtol=0)
    torch.testing.assert_close(model.prob_v(h_all), torch.softmax(-energy, 0).T @ v_all, atol=1e-10, rtol=0)
    assert tr.exact_log_partition(model) == pytest.approx(torch.logsumexp(-energy.flatten(), 0).item(), abs=1e-10)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_equals_the_dense_rbm_built_from_the_filters(visible):
    spec = units.Gaussian(learn_sigma=True, sigma=0.7) if visible == "gaussian" else "bernoulli"
    model = _conv((2, 7, 6), n_filters=3, filter_size=(3, 2), visible=spec)
    dense = model.to_dense()
    assert dense.W.shape == (84, 3 * 5 * 5)
    generator = torch.Generator().manual_seed(1)
    v = (torch.rand(5, 84, generator=generator) < 0.5).double() if visible == "bernoulli" else \
        torch.randn(5, 84, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(model.free_energy(v), dense.free_energy(v), atol=1e-10, rtol=0)
    h = model.sample_h(v, generator)
    torch.testing.assert_close(model.energy(v, h), dense.energy(v, h), atol=1e-10, rtol=0)
    torch.testing.assert_close(model.prob_v(h), dense.prob_v(h), atol=1e-10, rtol=0)
    # Shared filters: 3 * 2 * 3 * 2 weights and 2 + 3 biases, against 84 * 75 + 84 + 75.
    shared = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("visible."))
    assert shared == 36 + 5 and dense.W.numel() + 84 + 75 == 6459


@pytest.mark.parametrize("pool", [None, 2])
def test_free_energy_grad_matches_autograd(pool):
    model = _conv((1, 5, 5), n_filters=2, filter_size=2, pool=pool, visible=units.Gaussian(learn_sigma=True))
    v = torch.randn(6, 25, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    weight = torch.tensor([0.4, 0.3, 0.3, -0.5, -0.25, -0.25], dtype=torch.float64)
    assert_free_energy_grad_matches_autograd(model, v, weight)


def test_pooled_samples_keep_one_unit_per_block_and_the_mean():
    model = _conv((1, 5, 5), n_filters=2, filter_size=2, pool=2)
    v = (torch.rand(2, 25, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([model.sample_h(v, generator) for _ in range(20000)])
    model.hidden.check_values(draws.reshape(-1, model.n_hidden), "samples")  # at most one on per block
    torch.testing.assert_close(draws.mean(0), model.prob_h(v), atol=0.02, rtol=0)


def test_training_on_digits_lowers_the_reconstruction_error_and_round_trips(tmp_path):
    data = tr.datasets.digits()
    model = tr.ConvRBM((8, 8), 8, 5, data=data, pool=2, generator=torch.Generator().manual_seed(0))
    history = tr.fit(model, data, sampler=tr.PCD(100), epochs=15, batch_size=50, lr=0.05, momentum=0.5,
                     sparsity_target=0.1, seed=0)
    errors = history["recon_error"]
    assert errors[-1] < 0.6 * errors[0], errors
    tr.save(model, tmp_path / "conv.safetensors")
    loaded = tr.load(tmp_path / "conv.safetensors")
    assert type(loaded) is tr.ConvRBM and loaded.pool == 2
    torch.testing.assert_close(loaded.free_energy(data[:5].float()), model.free_energy(data[:5].float()))


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="images of 4x4 pixels do not fit filters of 5x5"):
        tr.ConvRBM((4, 4), 2, 5)
    with pytest.raises(ValueError, match="do not split into 3x3 pooling blocks"):
        tr.ConvRBM((8, 8), 2, 5, pool=3)
    model = tr.ConvRBM((8, 8), 2, 5)
    with pytest.raises(ValueError, match="has 60 columns but the model has 64 visible units"):
        tr.fit(model, torch.zeros(10, 60))
    assert model.n_hidden == 2 * 16 and math.prod(model.map_shape) == 16
