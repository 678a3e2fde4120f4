"""``torchrbm train``'s choices as one frozen value, with the defaults of its options.

The parser leaves out of its namespace the ``train`` options that were not given, so that a
resumed run can tell them apart: :func:`train_options` takes what was given, then what the
run recorded (for ``--resume``), then the defaults here.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..runs import RunDirectory
from ..training.defaults import DEFAULTS
from ..training.schedules import linear_decay
from .data import DataOptions

#: Chains and temperatures of the final AIS and reverse AIS estimates (``--ais-chains``, ``--ais-betas``),
#: the same for ``train`` and ``evaluate``.
AIS_CHAINS = 100
AIS_BETAS = 10000


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Every option of ``torchrbm train``, by its name in config.json."""

    data: str = "digits"
    data_dir: str | None = None
    binarize: str = "default"
    csv_header: str | None = None
    delimiter: str | None = None
    max_rows: int | None = None
    hidden: int = 100
    init: str | None = None
    model: str = "rbm"
    order: int = 2
    filters: int = 16
    filter_size: int = 5
    pool: int | None = None
    visible: str = "bernoulli"
    learn_sigma: bool = False
    hidden_units: str = "bernoulli"
    recipe: str | None = None
    sampler: str | None = None
    k: int = DEFAULTS.k
    n_chains: int = DEFAULTS.n_chains
    n_temps: int = 10
    keep_hidden: bool = False
    centered: bool = False
    ll_every: int = 0
    ais_chains: int = AIS_CHAINS
    ais_betas: int = AIS_BETAS
    epochs: int = 50
    batch_size: int = DEFAULTS.batch_size
    lr: float = DEFAULTS.lr
    lr_decay_epochs: int = 0
    momentum: tuple[float, ...] = DEFAULTS.momentum
    weight_decay: float = DEFAULTS.weight_decay
    l1_squared: float = 0.0
    l2_fields: float = 0.0
    sparsity_target: float | None = None
    clip_grad_norm: float | None = None
    max_abs_weight: float | None = 1e3
    holdout: float | None = None
    precision: str = "32-true"
    device: str = "cpu"
    seed: int = 0
    out: str | None = None
    quiet: bool = False
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: int = 1
    tensorboard: bool = False

    #: Options that a resumed run takes as given now, not from its record: how the run is started and watched.
    NOT_CARRIED_OVER = frozenset({"resume", "overwrite", "out", "quiet", "tensorboard"})
    #: Options that may differ from the record when a run is resumed (with the training settings that may).
    MAY_CHANGE_ON_RESUME = NOT_CARRIED_OVER | {"data_dir", "ais_chains", "ais_betas"}

    def __post_init__(self) -> None:
        if len(self.momentum) > 2:
            raise ValueError(f"--momentum takes one value, or two (initial and final); found {len(self.momentum)}")
        object.__setattr__(self, "momentum", tuple(self.momentum))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrainOptions:
        """The options a run recorded (in config.json or a model file), over the defaults; other keys are facts
        of the run, not options."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in names})

    @property
    def data_options(self) -> DataOptions:
        """How the run reads its data."""
        return DataOptions(data=self.data, data_dir=self.data_dir, binarize=self.binarize,
                           csv_header=self.csv_header, delimiter=self.delimiter, max_rows=self.max_rows,
                           seed=self.seed, holdout=self.holdout)

    @property
    def sampler_name(self) -> str:
        """``--sampler``, by default :data:`~torchrbm.training.defaults.DEFAULTS`'s."""
        return self.sampler or DEFAULTS.sampler

    @property
    def lr_setting(self) -> float | Callable[[int], float]:
        """``--lr``, or with ``--lr-decay-epochs N`` a schedule falling linearly to 0 over the last ``N`` epochs:
        ``lr * (epochs - e) / N`` from epoch ``epochs - N`` on."""
        if not 0 <= self.lr_decay_epochs <= self.epochs:
            raise ValueError(f"--lr-decay-epochs must be between 0 and --epochs ({self.epochs}); "
                             f"found {self.lr_decay_epochs}")
        if not self.lr_decay_epochs:
            return self.lr
        return functools.partial(linear_decay, self.lr, self.epochs, self.lr_decay_epochs)

    @property
    def momentum_setting(self) -> float | tuple[float, float]:
        """``--momentum`` as the training settings take it: one value, or a pair (initial, final)."""
        return self.momentum if len(self.momentum) == 2 else self.momentum[0]


@dataclasses.dataclass(frozen=True)
class ShareOfEpochs:
    """A default that is a share of the run's ``--epochs``, rounded to whole epochs."""

    share: float

    def of(self, epochs: int) -> int:
        return round(self.share * epochs)

    def __str__(self) -> str:
        return f"{self.share:g}×epochs"


#: Defaults that differ by ``--visible`` unit type.  Potts units (aligned sequences): persistent chains
#: with 5 Gibbs steps and no momentum (with momentum 0.9 and one step the chains fell behind and the
#: models grew spurious modes) and the L2 penalty on fields; no L1² penalty, the strength that validation
#: log-likelihood chose on WW and Kunitz (``benchmarks/protein_families.py``: every strength tried lowered it);
#: 200 epochs with the learning rate falling to 0 over the last quarter of them, so that the model's
#: samples match the family (at a constant rate the models are not at equilibrium with their chains:
#: pairwise correlations of samples r = 0.85 on WW and 0.33 on Kunitz against 0.87 and 0.81 with it).
UNIT_DEFAULTS: dict[str, dict[str, Any]] = {
    "potts": {"sampler": "pcd", "k": 5, "momentum": (0.0,), "lr": 0.01, "l2_fields": 0.01, "epochs": 200,
              "lr_decay_epochs": ShareOfEpochs(0.25)},
}


#: Named sets of training options (``--recipe``), over the defaults and under the options given.
#: ``density``: a high held-out log-likelihood of binary data soon.  Chosen on binarised MNIST (500 hidden
#: units, Larochelle & Murray's train against valid, ``benchmarks/time_to_ll.py``) among batch sizes
#: 20-500, learning rates, momentum, weight decay, decay shares, chain counts, Adam and bfloat16 products:
#: persistent chains that keep their hidden states, centred gradients and batches of 50 (half of the
#: default's step per example); on one thread, in the same minutes about 1 nat above the settings of
#: ``benchmarks/mnist_ll.py`` (batch 100, chains' hidden states drawn afresh); on two threads, on all
#: 60 000 images, as high on test in 12 minutes as those settings in 32, and above -86 in 20 minutes where
#: they stay below it in 50 (benchmarks/BENCHMARKS.md).  The learning rate falls linearly to 0 over the
#: second half of the epochs.
RECIPES: dict[str, dict[str, Any]] = {
    "density": {"sampler": "pcd", "n_chains": 100, "k": 1, "keep_hidden": True, "centered": True,
                "batch_size": 50, "lr": 0.005, "momentum": (0.5, 0.9), "weight_decay": 1e-4,
                "lr_decay_epochs": ShareOfEpochs(0.5)},
}
#: The visible units each recipe was chosen for.
RECIPE_UNITS = {"density": "bernoulli"}


def options_text(options: Mapping[str, Any]) -> str:
    """Options as given on the command line, e.g. ``--sampler pcd --k 5``."""
    def flag(key: str, value: Any) -> str:
        name = f"--{key.replace('_', '-')}"
        if value is True:
            return name
        return f"{name} {' '.join(map(str, value)) if isinstance(value, tuple) else value}"

    return " ".join(flag(key, value) for key, value in options.items())


def unit_defaults_text(visible: str) -> str:
    """``--visible``'s own defaults as options, e.g. ``--sampler pcd --k 5``."""
    return options_text(UNIT_DEFAULTS[visible])


def train_options(args: argparse.Namespace) -> TrainOptions:
    """``train``'s options: those given in ``args``; with ``--resume``, then those recorded by the run in
    ``--out`` (less :attr:`TrainOptions.NOT_CARRIED_OVER`); then those of the ``--recipe`` (:data:`RECIPES`),
    then the defaults of the ``--visible`` units (:data:`UNIT_DEFAULTS`), then the defaults."""
    resumed = getattr(args, "resume", False) and getattr(args, "out", None)
    recorded = RunDirectory(args.out).config() if resumed else {}
    carried = {key: value for key, value in recorded.items() if key not in TrainOptions.NOT_CARRIED_OVER}
    given = {key: value for key, value in vars(args).items() if key not in ("command", "func")}
    visible = {**carried, **given}.get("visible", TrainOptions.visible)
    recipe = {**carried, **given}.get("recipe")
    if recipe is not None and RECIPE_UNITS[recipe] != visible:
        raise ValueError(f"--recipe {recipe} was chosen for --visible {RECIPE_UNITS[recipe]} units; "
                         f"--visible is {visible}")
    options = {**UNIT_DEFAULTS.get(visible, {}), **RECIPES.get(recipe, {}), **carried, **given}
    epochs = options.get("epochs", TrainOptions.epochs)
    return TrainOptions.from_record({key: value.of(epochs) if isinstance(value, ShareOfEpochs) else value
                                     for key, value in options.items()})

