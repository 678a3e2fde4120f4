"""tr.generate: Gibbs chains and parallel tempering at a chosen inverse temperature, against enumeration."""

import itertools

import pytest
import torch
from helpers import randomize

import torchrbm as tr


def _potts_model(hidden: str = "bernoulli") -> tr.RBM:
    rbm = randomize(tr.RBM(3, 2, visible=tr.units.Potts(3), hidden=hidden, dtype=torch.float64), seed=4)
    if hidden == "drelu":
        with torch.no_grad():
            rbm.hidden.gamma_plus.abs_().add_(0.5)
            rbm.hidden.gamma_minus.abs_().add_(0.5)
    return rbm


def _all_sequences(length: int, q: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(q), repeat=length)), dtype=torch.float64)


def _tempered_bernoulli(rbm: tr.RBM, beta: float) -> torch.Tensor:
    """``sum_h exp(-beta E(v, h))`` over every Potts sequence ``v`` and binary ``h``, normalised."""
    v = _all_sequences(rbm.n_visible, 3)
    one_hot = torch.nn.functional.one_hot(v.long(), 3).double()  # (27, L, q)
    h = torch.tensor(list(itertools.product((0.0, 1.0), repeat=rbm.n_hidden)), dtype=torch.float64)
    with torch.no_grad():
        visible = torch.einsum("nia,ia->n", one_hot, rbm.a)
        coupling = torch.einsum("nia,iaj,mj->nm", one_hot, rbm.W, h) + h @ rbm.b
        energy = -(visible[:, None] + coupling)
    return torch.softmax(torch.logsumexp(-beta * energy, 1), 0)


def _frequencies(samples: torch.Tensor, q: int) -> torch.Tensor:
    index = samples.long() @ (q ** torch.arange(samples.shape[1] - 1, -1, -1))
    return torch.bincount(index, minlength=q ** samples.shape[1]).double() / samples.shape[0]


@pytest.mark.parametrize("sampler", ["gibbs", "pt"])
@pytest.mark.parametrize("beta", [1.0, 2.0, 0.5])
def test_generated_sequences_follow_the_tempered_boltzmann_distribution(sampler, beta):
    rbm = _potts_model()
    samples = tr.generate(rbm, 20000, 30, beta=beta, sampler=sampler, n_temps=4,
                          generator=torch.Generator().manual_seed(0))
    assert samples.shape == (20000, 3)
    exact = _tempered_bernoulli(rbm, beta)
    # 20 000 independent chains: the standard error of each of the 27 frequencies is below 0.0035.
    torch.testing.assert_close(_frequencies(samples, 3), exact, atol=0.012, rtol=0)


def test_a_low_temperature_concentrates_on_the_most_probable_sequence():
    rbm = _potts_model()
    exact = _tempered_bernoulli(rbm, 1.0)
    mode = _all_sequences(3, 3)[exact.argmax()]
    samples = tr.generate(rbm, 2000, 30, beta=8.0, generator=torch.Generator().manual_seed(1))
    at_mode = (samples == mode).all(1).double().mean().item()
    assert at_mode > 0.9 > exact.max().item()


def test_generation_with_drelu_hidden_units_matches_the_free_energy_at_beta_one():
    rbm = _potts_model("drelu")
    samples = tr.generate(rbm, 20000, 30, sampler="pt", n_temps=3, generator=torch.Generator().manual_seed(2))
    exact = torch.softmax(-rbm.free_energy(_all_sequences(3, 3)).detach(), 0)
    torch.testing.assert_close(_frequencies(samples, 3), exact, atol=0.012, rtol=0)


def test_a_pt_sampler_of_ones_own_keeps_its_swap_rates_and_chains():
    rbm = _potts_model()
    sampler = tr.PT(n_chains=50, betas=[2.0, 1.0, 0.0])
    samples = tr.generate(rbm, 50, 20, beta=2.0, sampler=sampler, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(samples, sampler.chains[:50])
    assert sampler.swap_rates.shape == (2,) and bool((sampler.swap_rates > 0).all())


def test_generation_starts_where_asked_and_zero_steps_return_the_start():
    rbm = _potts_model()
    start = torch.tensor([[0.0, 1.0, 2.0]] * 4, dtype=torch.float64)
    torch.testing.assert_close(tr.generate(rbm, 4, 0, start=start), start)
    torch.testing.assert_close(tr.generate(rbm, 4, 0, start=start, sampler="pt", n_temps=3), start)


def test_generation_refuses_bad_arguments():
    rbm = _potts_model()
    with pytest.raises(ValueError, match="beta must be a positive"):
        tr.generate(rbm, 4, 1, beta=0.0)
    with pytest.raises(ValueError, match="sampler must be 'gibbs', 'pt'"):
        tr.generate(rbm, 4, 1, sampler="metropolis")
    with pytest.raises(ValueError, match="50 chains per temperature from beta = 2"):
        tr.generate(rbm, 4, 1, sampler=tr.PT(n_chains=50, betas=[2.0, 0.0]))
    with pytest.raises(ValueError, match="PT's negative phase"):
        tr.fit(rbm, torch.zeros(10, 3), sampler=tr.PT(betas=[2.0, 1.0, 0.0]), epochs=1, batch_size=5)
