"""The default training settings of :func:`torchrbm.fit` and ``torchrbm train``, in one place.

They were chosen by training on the built-in data sets (binarised digits with
20 and 100 hidden units, bars and stripes 4 x 4; ``benchmarks/defaults.py``,
results in ``benchmarks/BENCHMARKS.md``).  ``fit``'s signature, the command
line's options and the documentation all read :data:`DEFAULTS`; a test checks
that they agree.  The scikit-learn estimators (:mod:`torchrbm.sklearn`) keep
scikit-learn's own defaults, and a run's length is not among these settings:
``fit`` trains for 10 epochs unless told otherwise, ``torchrbm train`` for 50.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sampling.samplers import Sampler, get_sampler


@dataclass(frozen=True)
class TrainingDefaults:
    """Settings that ``fit`` and ``torchrbm train`` use when none are given."""

    sampler: str = "cd"
    n_chains: int = 100
    k: int = 1
    batch_size: int = 20
    lr: float = 0.01
    momentum: tuple[float, float] = (0.5, 0.9)
    momentum_switch: int = 5
    weight_decay: float = 1e-4

    def make_sampler(self) -> Sampler:
        """A new sampler (so no two training runs share persistent chains)."""
        return get_sampler(self.sampler, k=self.k, n_chains=self.n_chains)

    def describe(self) -> str:
        """The settings in words, as the documentation states them."""
        sampler = f"{self.sampler.upper()}-{self.k}"
        if self.sampler in ("pcd", "pt"):
            sampler += f" with {self.n_chains} chains"
        initial, final = self.momentum
        return (f"{sampler}, batch {self.batch_size}, learning rate {self.lr:g}, momentum {initial:g} then "
                f"{final:g} after {self.momentum_switch} epochs, weight decay {self.weight_decay:g}")


#: The one source of the default training settings.
DEFAULTS = TrainingDefaults()
