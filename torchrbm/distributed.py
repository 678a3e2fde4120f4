"""Data-parallel training across processes (the public path of :mod:`torchrbm.training.distributed`)."""

from .training.distributed import *  # noqa: F403
from .training.distributed import __all__  # noqa: F401
