"""The autograd rule: named model methods give plain tensors, rbm(v) and differentiable() keep the graph."""

import pytest
import torch

import torchrbm as tr


def _models():
    generator = torch.Generator().manual_seed(0)
    return {
        "rbm": tr.RBM(6, 4, generator=generator),
        "gaussian": tr.RBM(6, 4, visible=tr.units.Gaussian(learn_sigma=True), generator=generator),
        "conv": tr.ConvRBM((1, 4, 4), 2, 3, generator=generator),
        "conditional view": tr.ConditionalRBM(6, 4, 3, generator=generator).condition(torch.ones(5, 3)),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_named_methods_return_tensors_without_autograd_history(name):
    model = _models()[name]
    v = (torch.rand(5, model.n_visible, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    h = model.sample_h(v)
    outputs = {
        "energy": model.energy(v, h), "free_energy": model.free_energy(v), "prob_h": model.prob_h(v),
        "prob_v": model.prob_v(h), "sample_h": h, "sample_v": model.sample_v(h), "gibbs": model.gibbs(v, 2),
        "hidden_preactivation": model.hidden_preactivation(v), "hidden_step": model.hidden_step(v)[0],
        "free_energy_hidden": model.free_energy_hidden(h),
    }
    for method, output in outputs.items():
        assert not output.requires_grad, method
        output.numpy()  # no "Can't call numpy() on Tensor that requires grad"


def test_calling_the_model_is_the_differentiable_free_energy():
    rbm = tr.RBM(6, 4, generator=torch.Generator().manual_seed(0))
    v = torch.ones(3, 6)
    free = rbm(v)
    assert free.requires_grad
    torch.testing.assert_close(free.detach(), rbm.free_energy(v))
    free.mean().backward()
    assert all(p.grad is not None for p in rbm.parameters())
    with torch.no_grad():  # PyTorch's grad mode still decides
        assert not rbm(v).requires_grad


def test_differentiable_keeps_every_methods_history():
    model = tr.ClassificationRBM(4, 3, 5, generator=torch.Generator().manual_seed(0))
    x = torch.ones(2, 4)
    assert not model.class_log_prob(x).requires_grad and not model.prob_h(model.joint_data(x, [0, 1])).requires_grad
    with tr.differentiable():
        assert model.class_log_prob(x).requires_grad
        assert model.prob_h(model.joint_data(x, [0, 1])).requires_grad
    assert model.discriminative_loss(model.joint_data(x, [0, 2])).requires_grad  # a loss keeps its graph
    assert not model.predict_proba(x).requires_grad


def test_a_subclass_method_follows_the_rule():
    class Shifted(tr.RBM):
        def free_energy(self, v):
            return super().free_energy(v) + self.a.sum()

    model = Shifted(3, 2)
    assert not model.free_energy(torch.ones(1, 3)).requires_grad
    assert model(torch.ones(1, 3)).requires_grad
