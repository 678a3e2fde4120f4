"""Helpers the tests share: reference models, independent computations, where things are."""

import itertools
import os
from pathlib import Path

import torch

import torchrbm as tr

#: The repository's root (README.md, docs/, examples/).
ROOT = Path(__file__).resolve().parents[1]
#: The real data sets: $TORCHRBM_DATA, else ../shared/data beside the repository.
SHARED_DATA = Path(os.environ.get("TORCHRBM_DATA", ROOT.parent / "shared" / "data"))


def seed_example_rbm() -> tr.RBM:
    """The 2x2 model of the tutorial's Examples 1-3."""
    rbm = tr.RBM(2, 2, dtype=torch.float64)
    with torch.no_grad():
        rbm.W.copy_(torch.tensor([[0.5, 0.3], [-0.2, 0.4]], dtype=torch.float64))
        rbm.a.copy_(torch.tensor([0.1, -0.1], dtype=torch.float64))
        rbm.b.copy_(torch.tensor([0.2, 0.3], dtype=torch.float64))
    return rbm


def randomize(model, seed: int = 0, scale: float = 1.0):
    """``model`` with every parameter drawn from ``N(0, scale^2)`` (returned for chaining)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * scale)
    return model


def random_rbm(n_visible: int, n_hidden: int, seed: int = 0, scale: float = 1.0) -> tr.RBM:
    """A float64 RBM with parameters of order ``scale``."""
    return randomize(tr.RBM(n_visible, n_hidden, dtype=torch.float64), seed, scale)


def assert_free_energy_grad_matches_autograd(model, v, weight, **context) -> None:
    """``model.free_energy_grad`` equals autograd of ``sum_n w_n F(v_n)`` for every parameter."""
    grads = model.free_energy_grad(v, coefficients=weight, **context)
    params = {name: param for name, param in model.named_parameters() if param.requires_grad}
    assert set(grads) == set(params)
    free = model.condition(context["context"])(v) if context else model(v)  # forward: differentiable
    auto = torch.autograd.grad((weight * free).sum(), list(params.values()))
    for (name, _), expected in zip(params.items(), auto, strict=True):
        torch.testing.assert_close(grads[name], expected, atol=1e-10, rtol=0)


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)


def brute_force_log_z(rbm: tr.RBM) -> float:
    """log Z summed over every joint state (v, h): independent of the library's free energies."""
    v = all_binary(rbm.n_visible)
    h = all_binary(rbm.n_hidden)
    W, a, b = (p.detach() for p in (rbm.W, rbm.a, rbm.b))
    neg_energy = (v @ a)[:, None] + (h @ b)[None, :] + v @ W @ h.T
    return float(torch.logsumexp(neg_energy.flatten(), 0))
