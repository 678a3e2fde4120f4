"""The conditional RBM: energy and gradients against direct formulas, training on sequences."""

import pytest
import torch
from helpers import all_binary, assert_free_energy_grad_matches_autograd, randomize

import torchrbm as tr


def _crbm(n_visible=4, n_hidden=3, n_context=5, seed=0, **kwargs) -> tr.ConditionalRBM:
    return randomize(tr.ConditionalRBM(n_visible, n_hidden, n_context, dtype=torch.float64, **kwargs), seed, 0.7)


def _context(n, n_context=5, seed=1):
    return torch.randn(n, n_context, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_conditioned_model_matches_the_conditional_energy_by_enumeration():
    crbm = _crbm()
    c = _context(3)
    v_all, h_all = all_binary(4), all_binary(3)
    view = crbm.condition(c)
    for row in range(3):
        a = crbm.a + c[row] @ crbm.A
        b = crbm.b + c[row] @ crbm.B
        energy = -(v_all @ a)[:, None] - (h_all @ b)[None, :] - v_all @ crbm.W @ h_all.T  # (16, 8)
        rows = torch.full((16,), row)
        expected_free = -torch.logsumexp(-energy, 1)
        torch.testing.assert_close(crbm.condition(c[rows]).free_energy(v_all), expected_free, atol=1e-10, rtol=0)
        p_h = torch.softmax(-energy, 1)
        torch.testing.assert_close(crbm.condition(c[rows]).prob_h(v_all), p_h @ h_all, atol=1e-10, rtol=0)
        joint = torch.softmax(-energy.flatten(), 0).reshape(16, 8)
        p_v_given_h = joint / joint.sum(0, keepdim=True)
        torch.testing.assert_close(crbm.condition(c[row].expand(8, -1)).prob_v(h_all), p_v_given_h.T @ v_all,
                                   atol=1e-10, rtol=0)
    assert view.a.shape == (3, 4) and view.b.shape == (3, 3)


def test_conditional_free_energy_grad_matches_autograd():
    crbm = _crbm(visible=tr.units.Gaussian(learn_sigma=True))
    c = _context(6)
    v = torch.randn(6, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    weight = torch.tensor([0.5, 0.25, 0.25, -0.4, -0.3, -0.3], dtype=torch.float64)
    assert {name for name, _ in crbm.named_parameters()} == {"W", "a", "b", "A", "B", "visible.log_var"}
    assert_free_energy_grad_matches_autograd(crbm, v, weight, context=c)


def test_sequence_windows_put_the_most_recent_frame_first():
    sequence = torch.arange(12.0).reshape(6, 2)
    frames, context = tr.datasets.sequence_windows(sequence, order=2)
    assert frames.tolist() == [[4, 5], [6, 7], [8, 9], [10, 11]]
    assert context[0].tolist() == [2, 3, 0, 1]
    with pytest.raises(ValueError, match="needs more than order=6"):
        tr.datasets.sequence_windows(sequence, order=6)


def _plain_rbm_prediction(rbm, previous, steps, generator):
    """Next-frame prediction of a model without context: Gibbs from the last frame, then mean field."""
    v = rbm.gibbs(previous, steps, generator)
    return rbm.prob_v(rbm.prob_h(v))


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["cd", "pcd"])
def test_crbm_predicts_moving_bars_far_better_than_a_plain_rbm(sampler):
    train_frames, train_context = tr.datasets.sequence_windows(tr.datasets.moving_bars(60, seed=0), order=2)
    test_frames, test_context = tr.datasets.sequence_windows(tr.datasets.moving_bars(20, seed=1), order=2)
    settings = {"epochs": 60, "batch_size": 20, "lr": 0.05, "momentum": 0.5, "seed": 0}
    crbm = tr.ConditionalRBM(12, 24, 24, generator=torch.Generator().manual_seed(0))
    history = tr.fit(crbm, train_frames, context=train_context, validation_data=test_frames,
                     validation_context=test_context, sampler=tr.CD(1) if sampler == "cd" else tr.PCD(30),
                     **settings)
    assert history[-1]["free_energy_gap"] is not None
    rbm = tr.RBM(12, 24, data=train_frames, generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, train_frames, **settings)
    generator = torch.Generator().manual_seed(5)
    target = test_frames.float()
    crbm_error = (crbm.predict(test_context, steps=10, generator=generator) - target).square().mean().item()
    rbm_error = (_plain_rbm_prediction(rbm, test_context[:, :12].float(), 10, generator) - target).square()
    rbm_error = rbm_error.mean().item()
    assert crbm_error < 0.05 and crbm_error < rbm_error / 3, (crbm_error, rbm_error)
    continued = crbm.generate(test_context[:4], 5, generator=generator)
    assert continued.shape == (4, 5, 12)


def test_conditional_training_refuses_what_it_cannot_do():
    frames, context = tr.datasets.sequence_windows(tr.datasets.moving_bars(3), order=1)
    crbm = tr.ConditionalRBM(12, 4, 12)
    with pytest.raises(ValueError, match="needs context="):
        tr.fit(crbm, frames)
    with pytest.raises(ValueError, match="CD\\(k\\) or PCD"):
        tr.fit(crbm, frames, context=context, sampler=tr.PT(2, 10))
    with pytest.raises(ValueError, match="is for a ConditionalRBM"):
        tr.fit(tr.RBM(12, 4), frames, context=context)
    with pytest.raises(ValueError, match="context has 12 columns"):
        tr.fit(tr.ConditionalRBM(12, 4, 24), frames, context=context)
    with pytest.raises(ValueError, match="context has 80 rows"):
        tr.fit(crbm, frames[:10], context=context[:80])
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\] for Bernoulli units"):
        crbm.generate(torch.full((2, 12), 5.0), 2)  # a history of frames the visible units cannot take


def test_conditional_model_round_trips(tmp_path):
    crbm = _crbm()
    tr.save(crbm, tmp_path / "crbm.safetensors")
    loaded = tr.load(tmp_path / "crbm.safetensors")
    assert type(loaded) is tr.ConditionalRBM and loaded.n_context == 5
    v, c = all_binary(4), _context(16)
    torch.testing.assert_close(loaded.condition(c).free_energy(v), crbm.condition(c).free_energy(v))


def test_training_hooks_join_the_context_to_the_rows_and_split_it_off_again():
    crbm, v, c = _crbm(), all_binary(4)[:3], _context(3)
    visible, inputs = crbm.split_rows(crbm.join_context(v, c))
    assert torch.equal(visible, v.double()) and list(inputs) == ["context"] and torch.equal(inputs["context"], c)
    with pytest.raises(ValueError, match="needs validation_context="):
        crbm.join_context(v, None, "validation_context")
