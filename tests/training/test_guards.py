"""Divergence guards: a run that blows up stops with the cause named and the last good state kept."""

import math

import pytest
import torch

import torchrbm as tr
from torchrbm.training.checkpoint import checkpoint_history

DATA = tr.datasets.bars_and_stripes(4)


def _rbm(**options):
    return tr.RBM(16, 8, generator=torch.Generator().manual_seed(0), **options)


def test_a_huge_learning_rate_stops_with_the_cause_and_keeps_the_last_good_checkpoint(tmp_path):
    path, good = tmp_path / "run.ckpt", {}

    def remember(model, record):
        good[record["epoch"]] = {name: p.detach().clone() for name, p in model.named_parameters()}

    rbm = _rbm()
    with pytest.raises(tr.DivergenceError, match=r"diverged in epoch (\d+): .*learning rate too large for this "
                       r"model \(lr = 1e\+0\d in this epoch; try a tenth\)") as error:
        tr.fit(rbm, DATA, epochs=20, lr=lambda epoch: 10.0 ** epoch, momentum=0.9, weight_decay=0.0, batch_size=8,
               seed=0, checkpoint=path, callbacks=[remember], max_abs_weight=None)
    assert isinstance(error.value, FloatingPointError)
    last = max(good)
    assert f"epoch {last + 1}" in str(error.value)
    for name, param in rbm.named_parameters():
        assert torch.equal(param, good[last][name])
    assert [record["epoch"] for record in checkpoint_history(path)] == list(range(last + 1))


def test_exploding_weights_are_caught_before_they_overflow():
    rbm = _rbm()
    with pytest.raises(tr.DivergenceError, match=r"weights exploded: max \|W\| = .* exceeds max_abs_weight = 0.05"):
        tr.fit(rbm, DATA, epochs=50, lr=0.1, batch_size=8, seed=0, max_abs_weight=0.05)
    assert float(rbm.W.detach().abs().max()) <= 0.05


def test_a_runaway_free_energy_names_the_gaussian_units():
    data, _ = tr.datasets.standardize(tr.datasets.digits(binarize_method=None)[:200], drop_constant=True)
    rbm = tr.RBM(data.shape[1], 4, visible=tr.units.Gaussian(sigma=1e-3, min_sigma=1e-4),
                 generator=torch.Generator().manual_seed(0))
    with pytest.raises(tr.DivergenceError, match="free energy ran away.*Gaussian visible units: data that is not "
                       "standardised"):
        tr.fit(rbm, data, epochs=2, lr=1e-6, seed=0)


def test_clip_grad_norm_bounds_every_update():
    def change(**options):
        rbm = _rbm()
        before = torch.cat([p.detach().flatten().clone() for p in rbm.parameters()])
        tr.fit(rbm, DATA, epochs=1, lr=1.0, batch_size=8, seed=0, **options)
        return float((torch.cat([p.detach().flatten() for p in rbm.parameters()]) - before).norm())

    steps = math.ceil(len(DATA) / 8)
    assert change(clip_grad_norm=1e-3) <= steps * 1e-3 * (1 + 1e-5)
    assert change() > 10 * steps * 1e-3


@pytest.mark.parametrize("bad, message", [(0, "clip_grad_norm must be positive"),
                                          (-1.0, "clip_grad_norm must be a finite number >= 0"),
                                          ("x", "clip_grad_norm must be a number")])
def test_clip_grad_norm_is_checked(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tr.fit(_rbm(), DATA, epochs=1, clip_grad_norm=bad)


def test_max_abs_weight_is_checked():
    with pytest.raises(ValueError, match="max_abs_weight must be a positive number or None"):
        tr.fit(_rbm(), DATA, epochs=1, max_abs_weight=-1)


def test_train_reports_divergence_as_an_error(tmp_path, capsys):
    from torchrbm.cli import main

    run = tmp_path / "run"
    assert main(["train", "--data", "bas", "--hidden", "4", "--epochs", "5", "--lr", "1e9", "--out", str(run),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "torchrbm train: error: training diverged in epoch 0" in err and "lr = 1e+09" in err
    assert not (run / "model.safetensors").exists()


def test_without_per_epoch_measures_the_same_model_is_trained_and_the_guard_checks_the_parameters():
    """``monitor=False``: the records hold no measures, the parameters are bit for bit those of a monitored
    run, a blow-up is still caught, and settings that read the measures are refused."""
    histories, models = {}, {}
    for monitor in (True, False):
        models[monitor] = _rbm()
        histories[monitor] = tr.fit(models[monitor], DATA, sampler=tr.PCD(n_chains=8), epochs=3, batch_size=8,
                                    seed=0, validation_data=DATA, monitor=monitor)
    for name, param in models[True].named_parameters():
        assert torch.equal(dict(models[False].named_parameters())[name], param), name
    assert histories[False]["recon_error"] == [None] * 3 and histories[False]["free_energy_gap"] == [None] * 3
    assert all(value > 0 for value in histories[True]["recon_error"])
    assert histories[False]["lr"] == histories[True]["lr"]
    with pytest.raises(tr.DivergenceError, match=r"weights exploded|NaN or infinite"):
        tr.fit(_rbm(), DATA, epochs=20, lr=lambda epoch: 10.0 ** epoch, momentum=0.9, batch_size=8, seed=0,
               monitor=False)
    with pytest.raises(ValueError, match="monitor=False measures nothing after each epoch, but log_likelihood_every"):
        tr.fit(_rbm(), DATA, epochs=1, monitor=False, log_likelihood_every=1)
    with pytest.raises(ValueError, match="but early_stopping reads"):
        tr.fit(_rbm(), DATA, epochs=1, monitor=False, validation_data=DATA, early_stopping=tr.EarlyStopping())
    with pytest.raises(ValueError, match="ReduceLROnPlateau follows recon_error_valid, which monitor=False"):
        tr.fit(_rbm(), DATA, epochs=1, monitor=False, validation_data=DATA,
               lr_scheduler=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt))
    with pytest.raises(TypeError, match="monitor must be True or False; found 0"):
        tr.fit(_rbm(), DATA, epochs=1, monitor=0)
