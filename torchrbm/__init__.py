"""torchrbm: restricted Boltzmann machines on PyTorch."""

from . import datasets, distributed, precision, threads, units
from ._utils.grad_mode import differentiable
from ._version import __version__ as __version__
from .data.batches import IterableBatches, NpyRows, RowSource, TensorRows
from .estimation.ais import AISResult, ais, beta_schedule, reverse_ais
from .estimation.estimate import (
    exact_log_partition,
    free_energy_gap,
    log_likelihood,
    mean_free_energy,
    pseudo_log_likelihood,
    reconstruction_error,
)
from .estimation.evaluation import evaluate
from .estimation.mutations import mutational_scan
from .estimation.statistics import StatisticsComparison, compare_statistics
from .io import load, save
from .models.classification import ClassificationRBM
from .models.conditional import ConditionalRBM
from .models.conv import ConvRBM
from .models.protocol import EnergyModel
from .models.rbm import RBM
from .sampling.generation import generate
from .sampling.samplers import CD, PCD, PT, Exact, NegativePhase, Sampler
from .training.dbn import DBN
from .training.fit import fit
from .training.guards import DivergenceError
from .training.monitor import EarlyStopping, History, LogLikelihoodMonitor, ScalarLogger
from .training.settings import TrainingSettings

__all__ = [
    "AISResult",
    "CD",
    "ClassificationRBM",
    "ConditionalRBM",
    "ConvRBM",
    "PCD",
    "PT",
    "RBM",
    "DBN",
    "DivergenceError",
    "EarlyStopping",
    "EnergyModel",
    "Exact",
    "History",
    "IterableBatches",
    "NpyRows",
    "RowSource",
    "TensorRows",
    "TrainingSettings",
    "LogLikelihoodMonitor",
    "ScalarLogger",
    "ais",
    "beta_schedule",
    "compare_statistics",
    "StatisticsComparison",
    "NegativePhase",
    "Sampler",
    "datasets",
    "differentiable",
    "distributed",
    "evaluate",
    "exact_log_partition",
    "fit",
    "free_energy_gap",
    "generate",
    "load",
    "log_likelihood",
    "mean_free_energy",
    "mutational_scan",
    "pseudo_log_likelihood",
    "reconstruction_error",
    "reverse_ais",
    "save",
    "plots",
    "precision",
    "threads",
    "units",
]


def __getattr__(name: str):
    """``tr.plots`` on first use: the plotting module (matplotlib, logomaker) loads only when asked for."""
    if name == "plots":
        import importlib

        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
