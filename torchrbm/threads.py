"""How many CPU threads a call runs on (the public path of :mod:`torchrbm._utils.threads`)."""

from ._utils.threads import *  # noqa: F403
from ._utils.threads import __all__  # noqa: F401
