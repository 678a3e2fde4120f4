"""The lean training step against the general one: the same gradient for the same random draws."""

import pytest
import torch

import torchrbm as tr
from torchrbm.sampling.samplers import Sampler
from torchrbm.training import state as training_state
from torchrbm.training.lean import lean_step, lean_step_applies
from torchrbm.training.settings import TrainingSettings
from torchrbm.training.state import prepare
from torchrbm.training.step import step


def _data(n=40, d=12, seed=0):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def _rbm(visible="bernoulli", seed=1):
    return tr.RBM(12, 7, visible=visible, weight_std=0.3, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sampler", [tr.CD(k=1), tr.CD(k=3), tr.PCD(n_chains=6, k=2),
                                     tr.PCD(n_chains=6, keep_hidden=True), tr.PCD(n_chains=6, k=2, keep_hidden=True)],
                         ids=str)
@pytest.mark.parametrize("visible", ["bernoulli", "spin"])
def test_the_lean_gradient_is_the_general_one(sampler, visible):
    data = _data()
    if visible == "spin":
        data = 2 * data - 1
    general_model, lean_model = _rbm(visible), _rbm(visible)
    general_sampler, lean_sampler = (Sampler.from_config(sampler.config()) for _ in range(2))  # fresh chains
    named = [(name, p) for name, p in general_model.named_parameters() if p.requires_grad]
    for batch_index in range(3):  # the persistent chains carry on
        batch = data[10 * batch_index: 10 * batch_index + 10]
        step(general_model, batch, general_sampler, torch.Generator().manual_seed(batch_index), named, {"W"}, 0.01,
             None, None)
        lean_step(lean_model, batch, lean_sampler, torch.Generator().manual_seed(batch_index),
                  [(name, lean_model.get_parameter(name)) for name, _ in named], {"W"}, 0.01)
        for name, param in named:
            lean = lean_model.get_parameter(name).grad
            assert torch.allclose(lean, param.grad, rtol=0, atol=1e-6), name
            assert lean.abs().max() > 1e-3
        if isinstance(sampler, tr.PCD):
            assert torch.equal(lean_sampler.chains, general_sampler.chains)
            if sampler.keep_hidden:
                assert torch.equal(lean_sampler.hidden, general_sampler.hidden)
                assert lean_sampler.hidden.shape == (6, 7) and 0 < lean_sampler.hidden.mean() < 1


def _settings(**options):
    defaults = {"sampler": tr.PCD(n_chains=10), "epochs": 1, "batch_size": 10, "lr": 0.05, "seed": 0}
    return TrainingSettings(**{**defaults, **options})


@pytest.mark.parametrize("case, lean", [
    ("plain", True),
    ("cd", True),
    ("sample weights", True),
    ("penalties", True),
    ("centred", False),
    ("sparsity", False),
    ("potts", True),
    ("large potts", True),
    ("gaussian", False),
    ("drelu", False),
    ("parallel tempering", False),
    ("bf16 products", False),
    ("large", False),
])
def test_runs_take_lean_steps_only_where_nothing_else_is_needed(case, lean):
    model, data, options, fit_options = _rbm(), _data(), {}, {}
    if case == "cd":
        options["sampler"] = tr.CD(k=1)
    elif case == "sample weights":
        fit_options["sample_weight"] = torch.rand(40) + 0.5
    elif case == "penalties":
        options.update(l1_squared=1e-3, l2_fields=1e-2)
    elif case == "centred":
        options["centered"] = True
    elif case == "sparsity":
        options["sparsity_target"] = 0.1
    elif case == "potts":
        model = tr.RBM(4, 7, visible=tr.units.Potts(3))
        data = torch.randint(0, 3, (40, 4)).float()
    elif case == "large potts":  # its products are the units' own, as in the general step: no size limit
        model = tr.RBM(200, 500, visible=tr.units.Potts(21))
        data = torch.randint(0, 21, (40, 200)).float()
        options["batch_size"] = 100
    elif case == "gaussian":
        model, data = tr.RBM(12, 7, visible="gaussian"), torch.randn(40, 12)
    elif case == "drelu":
        model = tr.RBM(12, 7, hidden="drelu")
    elif case == "parallel tempering":
        options["sampler"] = tr.PT(n_temps=3, n_chains=10)
    elif case == "bf16 products":
        options["precision"] = "bf16-mixed"
    elif case == "large":
        model, data = tr.RBM(784, 500), (torch.rand(40, 784) < 0.2).float()
        options["batch_size"] = 100
    state = prepare(model, data, _settings(**options), **fit_options)
    assert lean_step_applies(state) is lean and state.lean is lean


def test_the_lean_gradient_of_potts_units_with_sample_weights_and_penalties_is_the_general_one():
    """Units with their own product (Potts), weighted rows, L1² and the field penalty: the rows are
    stacked as the general step stacks them, so the gradient is the same."""
    data = torch.randint(0, 4, (30, 5), generator=torch.Generator().manual_seed(0)).float()
    weights = torch.rand(30, 1, generator=torch.Generator().manual_seed(1)) + 0.2
    rows = torch.cat([data, weights], 1)
    models = [tr.RBM(5, 6, visible=tr.units.Potts(4), weight_std=0.3, generator=torch.Generator().manual_seed(2))
              for _ in range(2)]
    samplers = [tr.PCD(n_chains=8, k=2) for _ in range(2)]
    penalties = {"weighted": True, "l1_squared": 1e-3, "l2_fields": 1e-2}
    for batch_index in range(3):
        batch = rows[10 * batch_index: 10 * batch_index + 10]
        grads = []
        for model, sampler, take_step in zip(models, samplers, (step, lean_step), strict=True):
            named = list(model.named_parameters())
            arguments = (None, None) if take_step is step else ()
            take_step(model, batch, sampler, torch.Generator().manual_seed(batch_index), named, {"W"}, 0.01,
                      *arguments, **penalties)
            grads.append({name: p.grad for name, p in named})
        for name, general in grads[0].items():
            assert torch.allclose(grads[1][name], general, rtol=0, atol=1e-6), name
            assert general.abs().max() > 1e-3
        assert torch.equal(samplers[0].chains, samplers[1].chains)


@pytest.mark.parametrize("keep_hidden", [False, True])
@pytest.mark.parametrize("visible", ["bernoulli", "potts"])
def test_a_fit_with_lean_steps_follows_the_general_one(monkeypatch, visible, keep_hidden):
    """The same random draws and the same gradient up to float rounding: after 20 updates (PCD and
    momentum) the parameters agree to 1e-5."""
    data, options = _data(200), {}
    if visible == "potts":  # with the zero-sum gauge after each update, sample weights and the field penalty
        data = torch.randint(0, 3, (200, 12), generator=torch.Generator().manual_seed(0)).float()
        options = {"sample_weight": torch.rand(200, generator=torch.Generator().manual_seed(1)) + 0.5,
                   "l2_fields": 0.01}

    def trained():
        rbm = _rbm(tr.units.Potts(3) if visible == "potts" else visible)
        tr.fit(rbm, data, sampler=tr.PCD(n_chains=10, keep_hidden=keep_hidden), epochs=1, batch_size=10, lr=0.1,
               momentum=0.5, weight_decay=1e-3, seed=3, **options)
        return rbm

    lean = trained()
    with monkeypatch.context() as patch:
        patch.setattr(training_state, "lean_step_applies", lambda state: False)
        general = trained()
    for name in ("W", "a", "b"):
        difference = (lean.get_parameter(name) - general.get_parameter(name)).abs().max()
        assert difference < 1e-5, name
    assert (lean.W - _rbm(tr.units.Potts(3) if visible == "potts" else visible).W).abs().max() > 0.01
