"""The built-in SGD update against torch.optim.SGD: the same parameters bit for bit, interchangeable state."""

import pytest
import torch

import torchrbm as tr
from torchrbm.training.sgd import SGDUpdate

MOMENTA = [0.0, 0.5, 0.5, 0.0, 0.9, 0.9, 0.9]  # switched on, off (the velocity is kept) and on again


def _pair(seed=0):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(7, 5), (7,), (5,)]
    first = [torch.nn.Parameter(torch.randn(*shape, generator=generator)) for shape in shapes]
    second = [torch.nn.Parameter(p.detach().clone()) for p in first]
    return first, second


def _step(optimizer, params, momentum, generator, lr=0.05, skip=None):
    for group in optimizer.param_groups:
        group["lr"], group["momentum"] = lr, momentum
    for i, p in enumerate(params):
        p.grad = None if i == skip else torch.randn(p.shape, generator=generator)
    optimizer.step()


def test_the_update_is_bit_identical_to_torch_sgd_as_the_momentum_changes():
    ours, theirs = _pair()
    mine, reference = SGDUpdate(ours, lr=0.05), torch.optim.SGD(theirs, lr=0.05)
    for t, momentum in enumerate(MOMENTA):
        skip = 1 if t == 2 else None  # a parameter without a gradient is left alone, velocity too
        _step(mine, ours, momentum, torch.Generator().manual_seed(t), skip=skip)
        _step(reference, theirs, momentum, torch.Generator().manual_seed(t), skip=skip)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), t
    assert not torch.equal(ours[0], _pair()[0][0])


@pytest.mark.parametrize("direction", ["ours to torch", "torch to ours"])
def test_the_state_moves_between_the_update_and_torch_sgd(direction):
    ours, theirs = _pair()
    mine, reference = SGDUpdate(ours, lr=0.05), torch.optim.SGD(theirs, lr=0.05)
    for t, momentum in enumerate(MOMENTA[:3]):
        _step(mine, ours, momentum, torch.Generator().manual_seed(t))
        _step(reference, theirs, momentum, torch.Generator().manual_seed(t))
    source, target = (mine, torch.optim.SGD(ours, lr=0.1)) if direction == "ours to torch" else \
        (reference, SGDUpdate(theirs, lr=0.1))
    target_params = ours if direction == "ours to torch" else theirs
    target.load_state_dict(source.state_dict())
    assert target.param_groups[0]["lr"] == 0.05 and target.param_groups[0]["momentum"] == 0.5
    other = reference if direction == "ours to torch" else mine
    other_params = theirs if direction == "ours to torch" else ours
    _step(target, target_params, 0.5, torch.Generator().manual_seed(9))
    _step(other, other_params, 0.5, torch.Generator().manual_seed(9))
    assert all(torch.equal(a, b) for a, b in zip(target_params, other_params, strict=True))


def test_a_state_for_other_parameters_is_refused():
    ours, _ = _pair()
    with pytest.raises(ValueError, match="holds 2 parameters in 1 groups; this run trains 3"):
        SGDUpdate(ours, lr=0.1).load_state_dict(torch.optim.SGD(ours[:2], lr=0.1).state_dict())


def test_fit_trains_with_it_unless_a_scheduler_needs_torch_optim(monkeypatch):
    data = (torch.rand(60, 6, generator=torch.Generator().manual_seed(0)) < 0.4).float()

    def trained(**options):
        rbm = tr.RBM(6, 4, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, data, epochs=3, batch_size=10, lr=0.1, momentum=0.5, seed=0, **options)
        return rbm

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.SGD, "step", lambda *args, **kwargs: pytest.fail("torch.optim.SGD stepped"))
        built_in = trained()
    with_torch = trained(optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.5))
    scheduled = trained(lr_scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10))
    for name in ("W", "a", "b"):
        assert torch.equal(getattr(built_in, name), getattr(with_torch, name))
        assert torch.equal(getattr(built_in, name), getattr(scheduled, name))
