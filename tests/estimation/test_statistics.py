"""Single-site frequencies, pairwise connected correlations and their comparison (generative checks)."""

import numpy as np
import pytest
import torch

import torchrbm as tr
from torchrbm.estimation.statistics import connected_correlations, site_frequencies


def _loops(codes: np.ndarray, q: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f_i(a)`` and ``C_ij(a, b)`` by explicit sums over rows."""
    weights = weights / weights.sum()
    n, length = codes.shape
    single = np.zeros((length, q))
    pair = np.zeros((length, q, length, q))
    for row, w in zip(codes, weights, strict=True):
        for i in range(length):
            single[i, row[i]] += w
            for j in range(length):
                pair[i, row[i], j, row[j]] += w
    return single, pair - np.einsum("ia,jb->iajb", single, single)


def test_a_worked_example():
    codes = torch.tensor([[0, 1], [1, 1], [0, 0]])
    torch.testing.assert_close(site_frequencies(codes, 2), torch.tensor([[2, 1], [1, 2]], dtype=torch.float64) / 3)
    correlations = connected_correlations(codes, 2)
    # f_01(0, 0) = 1/3 (the last row), f_0(0) f_1(0) = 2/3 * 1/3.
    assert correlations[0, 0, 1, 0].item() == pytest.approx(1 / 3 - 2 / 9)
    assert correlations[0, 0, 0, 0].item() == pytest.approx(2 / 3 - 4 / 9)  # a position with itself: variance


def test_weighted_statistics_match_explicit_sums():
    generator = np.random.default_rng(0)
    codes = generator.integers(0, 4, size=(60, 5))
    weights = generator.uniform(0.1, 2.0, size=60)
    single, correlations = _loops(codes, 4, weights)
    np.testing.assert_allclose(site_frequencies(codes, 4, weights).numpy(), single, atol=1e-12)
    np.testing.assert_allclose(connected_correlations(codes, 4, weights).numpy(), correlations, atol=1e-12)


def test_weights_count_as_copies_of_rows(monkeypatch):
    monkeypatch.setattr("torchrbm.estimation.statistics._BLOCK", 7)  # several blocks of rows
    codes = torch.randint(0, 3, (20, 6), generator=torch.Generator().manual_seed(1))
    copies = torch.randint(1, 4, (20,), generator=torch.Generator().manual_seed(2))
    expanded = codes.repeat_interleave(copies, 0)
    torch.testing.assert_close(connected_correlations(codes, 3, copies), connected_correlations(expanded, 3))


def test_comparison_of_a_set_with_itself_and_with_independent_sites():
    generator = torch.Generator().manual_seed(0)
    first = torch.randint(0, 3, (4000, 1), generator=generator)
    flips = (torch.rand(4000, 8, generator=generator) < 0.1).long()
    codes = (first + flips) % 3  # positions strongly coupled through the first
    same = tr.compare_statistics(codes, codes)
    assert same.site_r == pytest.approx(1.0) and same.correlation_r == pytest.approx(1.0)
    assert same.correlations[0].numel() == 8 * 7 // 2 * 9
    independent = torch.stack([codes[torch.randperm(4000, generator=generator), i] for i in range(8)], 1)
    shuffled = tr.compare_statistics(independent, codes)
    assert shuffled.site_r == pytest.approx(1.0)  # the same column counts
    assert abs(shuffled.correlation_r) < 0.2  # the couplings are gone
    entry = shuffled.as_dict()
    assert entry["n_samples"] == 4000 and entry["n_reference_effective"] == pytest.approx(4000)


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="non-negative integer codes"):
        site_frequencies(torch.tensor([[0.5, 1.0]]), 2)
    with pytest.raises(ValueError, match="the code 3, outside the 3 states"):
        site_frequencies(torch.tensor([[0, 3]]), 3)
    with pytest.raises(ValueError, match="5 positions but the reference rows 4"):
        tr.compare_statistics(torch.zeros(3, 5), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="sample_weight has 2 values for 3 rows"):
        tr.compare_statistics(torch.zeros(3, 4), torch.zeros(3, 4), reference_weight=[1.0, 2.0])


def test_evaluate_runs_the_generative_checks_when_asked():
    rbm = tr.RBM(3, 2, visible=tr.units.Potts(3), dtype=torch.float64)
    frequencies = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.4, 0.2]], dtype=torch.float64)
    with torch.no_grad():
        rbm.W.zero_()
        rbm.a.copy_(frequencies.log())  # independent sites with these frequencies
    codes = torch.multinomial(frequencies, 2000, replacement=True, generator=torch.Generator().manual_seed(0)).T
    assert "stats" not in tr.evaluate(rbm, codes, n_betas=10)
    entry = tr.evaluate(rbm, codes, ["stats"], n_samples=3000, gibbs_steps=2)["stats"]
    assert entry["n_samples"] == 3000 and entry["n_reference"] == 2000
    assert entry["site_frequency_r"] > 0.99 and abs(entry["connected_correlation_r"]) < 0.5
    spins = tr.RBM(4, 2, visible="spin", dtype=torch.float64)
    signs = torch.where(torch.rand(50, 4, generator=torch.Generator().manual_seed(1)) < 0.5, -1.0, 1.0)
    assert tr.evaluate(spins, signs, ["stats"], n_samples=100, gibbs_steps=1)["stats"]["n_reference"] == 50
    gaussian = tr.RBM(4, 2, visible="gaussian")
    with pytest.raises(ValueError, match="need visible units with a few states each"):
        tr.evaluate(gaussian, torch.zeros(5, 4), ["stats"])
    assert "skipped" in tr.evaluate(gaussian, torch.zeros(5, 4), ["recon", "stats"])["stats"]
