"""Values outside the units' range are refused by every entry point, whatever the data's dtype,
and no exact log-likelihood of discrete data comes out above 0."""

import numpy as np
import pytest
import torch

import torchrbm as tr
import torchrbm.sklearn as trs
from torchrbm.estimation.estimate import free_energies
from torchrbm.sampling.enumeration import as_float64


def _entry_points(model):
    """(name, call) for each public way data reaches a model."""
    return [
        ("fit", lambda x: tr.fit(model, x, epochs=1, batch_size=8)),
        ("fit validation_data", lambda x: tr.fit(model, torch.ones(4, model.n_visible), epochs=1,
                                                 validation_data=x)),
        ("log_likelihood exact", lambda x: tr.log_likelihood(model, x, method="exact")),
        ("log_likelihood ais", lambda x: tr.log_likelihood(model, x, method="ais", n_chains=4, n_betas=10)),
        ("reverse_ais", lambda x: tr.reverse_ais(model, x, n_chains=4, n_betas=10)),
        ("ais data", lambda x: tr.ais(model, n_chains=4, n_betas=10, data=x)),
        ("reconstruction_error", lambda x: tr.reconstruction_error(model, x)),
        ("evaluate", lambda x: tr.evaluate(model, x, ["recon"])),
        ("free_energy", lambda x: model.free_energy(x)),
    ] + ([("pseudo_log_likelihood", lambda x: tr.pseudo_log_likelihood(model, x))]  # flips 0/1 bits only
         if model.visible.name == "bernoulli" else [])


#: (units, bad rows) for every dtype that holds them; uint8 spins are what 2 * x - 1 gives on uint8 0/1 data.
CASES = [
    ("spin", np.array([[1, 255, 1, 1]] * 4, dtype=np.uint8)),
    ("spin", np.array([[1, 0, -1, 1]] * 4, dtype=np.int8)),
    ("spin", np.array([[1, 0, -1, 1]] * 4, dtype=np.int64)),
    ("spin", np.array([[1, 0.5, -1, 1]] * 4, dtype=np.float32)),
    ("bernoulli", np.array([[0, 255, 1, 1]] * 4, dtype=np.uint8)),
    ("bernoulli", np.array([[0, -1, 1, 1]] * 4, dtype=np.int8)),
    ("bernoulli", np.array([[0, 2, 1, 1]] * 4, dtype=np.int32)),
    ("bernoulli", np.array([[0, 1.5, 1, 1]] * 4, dtype=np.float64)),
]


@pytest.mark.parametrize("visible, rows", CASES, ids=[f"{u}-{r.dtype}" for u, r in CASES])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_every_entry_point_refuses_values_outside_the_range(visible, rows, as_tensor):
    model = tr.RBM(4, 3, visible=visible, generator=torch.Generator().manual_seed(0))
    data = torch.from_numpy(rows) if as_tensor else rows
    for name, call in _entry_points(model):
        with pytest.raises(ValueError, match=f"(?i){visible} units") as err:
            call(data)
        assert "found" in str(err.value), name


def test_uint8_spin_error_explains_the_wrap_around():
    x = tr.datasets.bars_and_stripes(4)  # uint8
    with pytest.raises(ValueError, match=r"found 255 .*2 \* x.float\(\) - 1"):
        tr.fit(tr.RBM(16, 8, visible="spin"), x * 2 - 1)
    tr.fit(tr.RBM(16, 8, visible="spin"), x.float() * 2 - 1, epochs=1)  # the mapping it suggests works


@pytest.mark.parametrize("estimator", [trs.RBM, trs.BernoulliRBM])
def test_estimators_check_the_range_and_say_they_clip(estimator):
    """scikit-learn's estimators accept any real data (check_estimator asks it); values outside [0, 1]
    are clipped with a warning that names the range found, never silently."""
    bad = np.array([[0, 255, 1, 1]] * 4, dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"values from 0 to 255.*clipped to \[0, 1\]"):
        clipped_fit = estimator(n_components=2, n_iter=1, random_state=0).fit(bad)
    np.testing.assert_array_equal(clipped_fit.components_,
                                  estimator(n_components=2, n_iter=1, random_state=0).fit(bad.clip(0, 1)).components_)
    for method in (clipped_fit.transform, clipped_fit.score_samples, clipped_fit.partial_fit):
        with pytest.warns(UserWarning, match="values from 0 to 255"):
            method(bad)


@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
@pytest.mark.parametrize("seed", range(5))
def test_exact_log_likelihood_of_discrete_data_is_never_above_zero(visible, seed):
    """log p(v) <= 0 for every state of a discrete model, even with large weights and for the most probable state."""
    generator = torch.Generator().manual_seed(seed)
    model = tr.RBM(10, 6, visible=visible, generator=generator)
    with torch.no_grad():
        model.W.normal_(0, 8, generator=generator)
        model.a.normal_(0, 8, generator=generator)
    states = model.visible.states(10, 0, 2**10)
    log_p = -free_energies(as_float64(model), states) - tr.exact_log_partition(model)
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-12)
    assert float(log_p.max()) > -1.1  # one state holds a third of the mass or more: the hardest case for rounding
    for best in log_p.argsort(descending=True)[:5]:
        assert tr.log_likelihood(model, states[best][None], method="exact") <= 0.0
    assert tr.evaluate(model, states, ["exact"])["exact"]["log_likelihood"] < 0.0


def test_a_mean_log_likelihood_carries_both_uncertainties():
    """sigma_logZ (the estimator's) and s / sqrt(n) (the rows'), combined as mean -+ 3 sqrt(sigma^2 + s^2/n)."""
    generator = torch.Generator().manual_seed(3)
    model = tr.RBM(12, 6, generator=generator)
    data = (torch.rand(50, 12, generator=generator) < 0.3).float()
    free = free_energies(as_float64(model), data)
    rows_error = float(free.std()) / 50 ** 0.5
    exact = tr.evaluate(model, data, ["exact"])["exact"]
    assert exact["log_partition_std"] == 0.0 and exact["n_rows"] == 50
    assert exact["mean_over_rows_std_error"] == pytest.approx(rows_error, rel=1e-9)
    assert exact["log_likelihood_interval_3sigma"] == pytest.approx(
        [exact["log_likelihood"] - 3 * rows_error, exact["log_likelihood"] + 3 * rows_error], rel=1e-9)
    sampled = tr.evaluate(model, data, ["ais"], n_chains=20, n_betas=50)["ais"]
    combined = (sampled["log_partition_std"] ** 2 + rows_error ** 2) ** 0.5
    assert sampled["log_likelihood_std"] == pytest.approx(combined, rel=1e-5)
    assert sampled["log_likelihood_interval_3sigma"][1] - sampled["log_likelihood"] == pytest.approx(3 * combined,
                                                                                                    rel=1e-5)
