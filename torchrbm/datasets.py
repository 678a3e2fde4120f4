"""Data sets, their loaders and preprocessing (the public path of :mod:`torchrbm.data.datasets`)."""

from .data.datasets import *  # noqa: F403
from .data.datasets import __all__  # noqa: F401
