"""One set of default training settings (torchrbm.training.defaults.DEFAULTS), shared by fit, the CLI and the docs;
one settings object (TrainingSettings) behind fit's keywords."""

import dataclasses
import inspect

import numpy as np
import pytest
import torch
from helpers import ROOT

import torchrbm as tr
from torchrbm.cli import build_parser
from torchrbm.cli.options import train_options
from torchrbm.training.defaults import DEFAULTS, TrainingDefaults
from torchrbm.training.settings import MAY_CHANGE_ON_RESUME, TrainingSettings


def _words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_fit_signature_reads_the_defaults():
    parameters = inspect.signature(tr.fit).parameters
    for name in ("batch_size", "lr", "momentum", "momentum_switch", "weight_decay"):
        assert parameters[name].default == getattr(DEFAULTS, name), name
    assert parameters["sampler"].default is None  # a new DEFAULTS.make_sampler() per call
    first, second = DEFAULTS.make_sampler(), DEFAULTS.make_sampler()
    assert first is not second and first.config() == second.config()
    assert first.config()["k"] == DEFAULTS.k


def test_cli_train_options_read_the_defaults():
    args = train_options(build_parser().parse_args(["train"]))
    assert (args.k, args.n_chains, args.batch_size, args.lr, args.weight_decay) == (
        DEFAULTS.k, DEFAULTS.n_chains, DEFAULTS.batch_size, DEFAULTS.lr, DEFAULTS.weight_decay)
    assert tuple(args.momentum) == DEFAULTS.momentum
    assert args.sampler is None and args.sampler_name == DEFAULTS.sampler  # recorded as trained
    reference = (ROOT / "docs" / "cli.md").read_text()
    assert f"default: {DEFAULTS.sampler}" in reference
    assert f"(default: {DEFAULTS.batch_size})" in reference and f"(default: {DEFAULTS.lr:g})" in reference


@pytest.mark.parametrize("page", ["README.md", "docs/models.md", "fit's docstring"])
def test_docs_state_the_defaults(page):
    text = tr.fit.__doc__ if page == "fit's docstring" else (ROOT / page).read_text()
    assert _words(DEFAULTS.describe()) in _words(text), page


def test_defaults_are_frozen_and_describe_themselves():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.lr = 1.0
    other = TrainingDefaults(sampler="cd", batch_size=7)
    assert "CD" in other.describe() and "batch 7" in other.describe()


def test_fit_defaults_train_the_demo_model():
    # fit's old defaults (CD-1, batch 100, lr 0.01, no momentum, no weight decay) left this 64 x 100
    # digits model's reconstruction error at 0.1285 after 10 epochs (from 0.1289); the defaults chosen
    # by benchmarks/defaults.py take it to 0.077-0.078 (seeds 0-2).
    data = tr.datasets.load("digits")
    rbm = tr.RBM(64, 100, data=data, generator=torch.Generator().manual_seed(0))
    before = tr.reconstruction_error(rbm, data)
    history = tr.fit(rbm, data, seed=0)
    after = tr.reconstruction_error(rbm, data)
    assert before > 0.125 and after < 0.09, (before, after)
    assert history[-1]["recon_error"] < 0.09


def test_fit_keywords_are_the_training_settings_and_the_data():
    keywords = {name: parameter.default for name, parameter in inspect.signature(tr.fit).parameters.items()
                if parameter.kind is parameter.KEYWORD_ONLY}
    data = {name: keywords.pop(name) for name in ("context", "validation_data", "validation_context", "sample_weight",
                                                  "validation_sample_weight")}
    assert data == dict.fromkeys(data)
    assert keywords == {field.name: field.default for field in dataclasses.fields(TrainingSettings)}


def test_training_settings_are_frozen_checked_and_fingerprint_as_earlier_checkpoints():
    settings = TrainingSettings(epochs=np.int64(3), seed=np.int64(4), weight_decay=0)
    assert (settings.epochs, settings.seed, settings.weight_decay) == (3, 4, 0.0) and type(settings.seed) is int
    assert settings.sampler.config() == DEFAULTS.make_sampler().config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0
    with pytest.raises(ValueError, match="momentum must be below 1"):
        TrainingSettings(momentum=(0.5, 1.0))
    with pytest.raises(ValueError, match="sparsity_target must lie strictly between 0 and 1"):
        TrainingSettings(sparsity_target=1.5)
    fingerprint = settings.fingerprint(tr.RBM(4, 2), 1, None)
    assert list(fingerprint) == ["model", "sampler", "epochs", "batch_size", "lr", "momentum", "momentum_switch",
                                 "weight_decay", "sparsity", "centered", "optimizer", "precision", "shuffle",
                                 "world_size", "clip_grad_norm", "lr_scheduler", "early_stopping"]
    assert fingerprint["momentum"] == [0.5, 0.9] and fingerprint["sparsity"] == [None, 0.1]
    assert "epochs" in MAY_CHANGE_ON_RESUME and "lr" not in MAY_CHANGE_ON_RESUME
