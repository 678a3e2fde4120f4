"""torchrbm: restricted Boltzmann machines on PyTorch."""

from . import datasets, distributed, precision, threads, units
from .ais import AISResult, ais, beta_schedule, reverse_ais
from .batches import IterableBatches, NpyRows, RowSource, TensorRows
from .classification import ClassificationRBM
from .conditional import ConditionalRBM
from .conv import ConvRBM
from .dbn import DBN
from .estimate import (
    exact_log_partition,
    free_energy_gap,
    log_likelihood,
    mean_free_energy,
    pseudo_log_likelihood,
    reconstruction_error,
)
from .evaluation import evaluate
from .grad_mode import differentiable
from .guards import DivergenceError
from .io import load, save
from .monitor import EarlyStopping, History, LogLikelihoodMonitor, ScalarLogger
from .rbm import RBM
from .samplers import CD, PCD, PT, Exact, NegativePhase, Sampler
from .train import fit

__version__ = "0.1.0"

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
    "Exact",
    "History",
    "IterableBatches",
    "NpyRows",
    "RowSource",
    "TensorRows",
    "LogLikelihoodMonitor",
    "ScalarLogger",
    "ais",
    "beta_schedule",
    "NegativePhase",
    "Sampler",
    "datasets",
    "differentiable",
    "distributed",
    "evaluate",
    "exact_log_partition",
    "fit",
    "free_energy_gap",
    "load",
    "log_likelihood",
    "mean_free_energy",
    "pseudo_log_likelihood",
    "reconstruction_error",
    "reverse_ais",
    "save",
    "precision",
    "threads",
    "units",
]
