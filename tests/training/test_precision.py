"""Mixed precision: bfloat16 / float16 matrix products, float32 parameters and statistics."""

import pytest
import torch
from helpers import random_rbm

import torchrbm as tr
from torchrbm.precision import mixed_precision


def _float32_rbm(seed: int = 0) -> tr.RBM:
    return random_rbm(12, 8, seed=seed, scale=0.5).float()


def _data(n: int = 40, d: int = 12, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.4).float()


@pytest.mark.parametrize("precision, dtype", [("bf16-mixed", torch.bfloat16), ("16-mixed", torch.float16)])
def test_products_are_rounded_and_results_stay_float32(precision, dtype):
    rbm = _float32_rbm()
    v = _data(5)
    with mixed_precision(rbm, precision):
        pre = rbm.hidden_preactivation(v)
    assert rbm.matmul_dtype is None  # restored
    assert pre.dtype == torch.float32
    expected = rbm.b + v.to(dtype).float() @ rbm.W.detach().to(dtype).float()
    # Products of rounded operands accumulate in float32; the result is rounded once more at most.
    torch.testing.assert_close(pre, expected, atol=0.02, rtol=0.01)
    assert not torch.equal(pre, rbm.hidden_preactivation(v))  # the rounding did happen


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_exact_gradient_steps_follow_float32_within_rounding(precision):
    """Several full-batch steps with the exact gradient (and the sparsity penalty, which goes
    through autograd): each update must see the updated weights (a stale low-precision copy
    would make the runs part), and the result must match the float32 run to the operands'
    precision."""
    data = _data()
    runs = {}
    for run_precision in ("32-true", precision):
        rbm = _float32_rbm()
        tr.fit(rbm, data, sampler=tr.Exact(), epochs=20, batch_size=40, lr=0.5, shuffle=False,
               seed=0, precision=run_precision, sparsity_target=0.1)
        runs[run_precision] = rbm
    initial = _float32_rbm()
    for name in ("W", "a", "b"):
        moved = (getattr(runs["32-true"], name) - getattr(initial, name)).detach()
        error = (getattr(runs[precision], name) - getattr(runs["32-true"], name)).detach()
        assert moved.abs().max() > 0.1
        assert error.abs().max() < 0.02 * moved.abs().max()
    exact = {key: tr.log_likelihood(rbm, data, method="exact") for key, rbm in runs.items()}
    assert exact[precision] == pytest.approx(exact["32-true"], abs=1e-3)


@pytest.mark.slow
def test_bf16_training_reaches_the_float32_likelihood_on_bars_and_stripes():
    data = tr.datasets.bars_and_stripes(4)
    results = {}
    for precision in ("32-true", "bf16-mixed"):
        rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, data, sampler=tr.PCD(100), epochs=1000, batch_size=8, lr=0.05, momentum=0.0,
               weight_decay=0.0, seed=0, precision=precision)
        results[precision] = tr.log_likelihood(rbm, data)
    initial = tr.log_likelihood(tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0)), data)
    assert results["32-true"] > initial + 4
    assert results["bf16-mixed"] == pytest.approx(results["32-true"], abs=0.5)


def test_unknown_precision_is_rejected_with_the_options():
    with pytest.raises(ValueError, match="bf16-mixed"):
        tr.fit(_float32_rbm(), _data(), precision="bf16")
