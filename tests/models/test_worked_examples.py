"""The tutorial's worked examples, reproduced through the public API."""

import math

import numpy as np
import pytest
import torch
from helpers import seed_example_rbm

import torchrbm as tr

# Example 3: E(v, h) for every joint state, in the tutorial's row order, as printed.
EXAMPLE_3 = [
    ([0, 0], [0, 0], 0.0), ([0, 0], [0, 1], -0.3), ([0, 0], [1, 0], -0.2), ([0, 0], [1, 1], -0.5),
    ([1, 0], [0, 0], -0.1), ([1, 0], [0, 1], -0.4), ([1, 0], [1, 0], -0.8), ([1, 0], [1, 1], -1.4),
    ([0, 1], [0, 0], 0.1), ([0, 1], [0, 1], -0.6), ([0, 1], [1, 0], 0.1), ([0, 1], [1, 1], -0.6),
    ([1, 1], [0, 0], 0.0), ([1, 1], [0, 1], -0.7), ([1, 1], [1, 0], -0.5), ([1, 1], [1, 1], -1.5),
]
# Two printed rows leave out the interaction W_01 = 0.3 (v_0 = h_1 = 1):
# E([1,0],[0,1]) = -0.1 - 0.3 - 0.3 = -0.7 and E([1,1],[0,1]) = 0 - 0.3 - 0.7 = -1.0.
MISPRINTED = {5: -0.7, 13: -1.0}


def test_example_1_energy():
    rbm = seed_example_rbm()
    assert rbm.energy([1.0, 0.0], [1.0, 1.0]).item() == pytest.approx(-1.4, abs=1e-12)


def test_example_3_all_energies_and_partition_function():
    rbm = seed_example_rbm()
    v = torch.tensor([row[0] for row in EXAMPLE_3], dtype=torch.float64)
    h = torch.tensor([row[1] for row in EXAMPLE_3], dtype=torch.float64)
    printed = torch.tensor([row[2] for row in EXAMPLE_3], dtype=torch.float64)
    energies = rbm.energy(v, h).detach()
    assert energies.shape == (16,)
    correct = printed.clone()
    for index, value in MISPRINTED.items():
        correct[index] = value
    torch.testing.assert_close(energies, correct, atol=1e-12, rtol=0)
    # The printed table sums to the tutorial's Z = 28.70 ...
    assert round(torch.exp(-printed).sum().item(), 2) == 28.70
    # ... and with the two rows corrected, Z of Example 1's parameters is 29.92, which is
    # what enumeration over both layers and exact_log_partition (either layer) give.
    z = torch.exp(-energies).sum().item()
    assert round(z, 2) == 29.92
    assert math.exp(tr.exact_log_partition(rbm)) == pytest.approx(z, rel=1e-12)
    assert math.exp(torch.logsumexp(-rbm.free_energy(v[::4]), 0).item()) == pytest.approx(z, rel=1e-12)


def test_example_2_conditionals():
    rbm = seed_example_rbm()
    v0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    h0 = torch.tensor([1.0, 1.0], dtype=torch.float64)  # the sampled hidden state of the example
    v1 = torch.tensor([1.0, 1.0], dtype=torch.float64)  # the sampled reconstruction
    torch.testing.assert_close(rbm.prob_h(v0).detach(), torch.tensor([0.668, 0.646], dtype=torch.float64),
                               atol=5e-4, rtol=0)
    torch.testing.assert_close(rbm.prob_v(h0).detach(), torch.tensor([0.711, 0.525], dtype=torch.float64),
                               atol=5e-4, rtol=0)
    torch.testing.assert_close(rbm.prob_h(v1).detach(), torch.tensor([0.622, 0.731], dtype=torch.float64),
                               atol=5e-4, rtol=0)


class _ExampleTwoSampler(tr.Sampler):
    """Returns the reconstruction v1 = [1, 1] that the example samples."""

    def negative_phase(self, model, v_data, h_data, generator=None):
        v1 = torch.tensor([[1.0, 1.0]], dtype=model.dtype)
        return tr.NegativePhase(v1, model.prob_h(v1))

    def config(self):
        return {"name": "example-2"}


def test_example_2_cd1_update_through_fit():
    rbm = seed_example_rbm()
    before = {name: p.detach().clone() for name, p in rbm.named_parameters()}
    eta = 0.1
    tr.fit(rbm, [[1, 0]], sampler=_ExampleTwoSampler(), epochs=1, batch_size=1, lr=eta, momentum=0.0,
           weight_decay=0.0, seed=0)
    delta_w = (rbm.W.detach() - before["W"]) / eta
    assert delta_w[0, 0].item() == pytest.approx(0.046, abs=5e-4)
    # The whole update: <v h>_data - <v h>_recon with P(h|v) in both phases.
    expected = torch.outer(torch.tensor([1.0, 0.0]), torch.sigmoid(torch.tensor([0.7, 0.6]))) - torch.outer(
        torch.tensor([1.0, 1.0]), torch.sigmoid(torch.tensor([0.5, 1.0])))
    torch.testing.assert_close(delta_w, expected.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close((rbm.a.detach() - before["a"]) / eta, torch.tensor([0.0, -1.0], dtype=torch.float64))


# bfloat16 products round the hidden probabilities to 8 significant bits (0.668 -> 0.66797),
# so a difference of two of them may move by 2^-8.
@pytest.mark.parametrize("precision, tolerance", [("32-true", 1e-6), ("bf16-mixed", 2**-8)])
@pytest.mark.parametrize("source", ["tensor", "npy"])
def test_example_2_cd1_update_under_every_speed_option(tmp_path, precision, tolerance, source):
    """float32 parameters (oneDNN products), bfloat16 products, data read from a file: the same update,
    to the rounding of the products."""
    rbm = seed_example_rbm().float()
    before = rbm.W.detach().clone()
    data = torch.tensor([[1, 0]], dtype=torch.uint8)
    if source == "npy":
        np.save(tmp_path / "v0.npy", data.numpy())
        data = tmp_path / "v0.npy"
    tr.fit(rbm, data, sampler=_ExampleTwoSampler(), epochs=1, batch_size=1, lr=0.1, weight_decay=0.0, seed=0,
           precision=precision)
    delta_w = (rbm.W.detach() - before) / 0.1
    assert delta_w[0, 0].item() == pytest.approx(0.046, abs=5e-4 + tolerance)
    expected = torch.outer(torch.tensor([1.0, 0.0]), torch.sigmoid(torch.tensor([0.7, 0.6]))) - torch.outer(
        torch.tensor([1.0, 1.0]), torch.sigmoid(torch.tensor([0.5, 1.0])))
    torch.testing.assert_close(delta_w, expected, atol=tolerance, rtol=0)
