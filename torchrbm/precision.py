"""Training precision: ``"32-true"`` or ``"bf16-mixed"`` (the public path of :mod:`torchrbm.training.precision`)."""

from .training.precision import *  # noqa: F403
from .training.precision import __all__  # noqa: F401
