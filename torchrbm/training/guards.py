"""Divergence guards: stop a training run that blew up, say why, and keep the last good parameters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..models.protocol import EnergyModel

if TYPE_CHECKING:
    from .settings import TrainingSettings

#: A mean free energy beyond this many nats per visible unit means the model ran away
#: (saturated weights, or Gaussian variances collapsed onto the data).
MAX_FREE_ENERGY_PER_UNIT = 1e5


class DivergenceError(FloatingPointError):
    """Training diverged; the model holds the parameters of the last good epoch."""


class DivergenceGuard:
    """Checks the model after each epoch of :func:`torchrbm.fit`.

    The run has diverged when a parameter is NaN or infinite, when a weight's
    magnitude exceeds the settings' ``max_abs_weight`` (``None``: no limit), or when the mean
    free energy ``<F(v)>`` of the monitored training rows is not finite or exceeds
    :data:`MAX_FREE_ENERGY_PER_UNIT` nats per visible unit.  The guard then
    restores the parameters after the last good epoch and raises
    :class:`DivergenceError` naming the likely cause, before a checkpoint of the
    diverged state could be written.
    """

    def __init__(self, model: EnergyModel, weight_names: set[str], settings: TrainingSettings) -> None:
        self.settings = settings
        self.weight_names = weight_names
        self._last_good = self._snapshot(model)

    @staticmethod
    def _snapshot(model: EnergyModel) -> dict[str, Tensor]:
        return {name: value.detach().clone() for name, value in model.state_dict().items()}

    def _problem(self, model: EnergyModel, mean_free_energy: float | None) -> str | None:
        for name, param in model.named_parameters():
            if not bool(torch.isfinite(param).all()):
                return f"parameter {name!r} became NaN or infinite"
        if self.settings.max_abs_weight is not None:
            for name, param in model.named_parameters():
                if name in self.weight_names:
                    largest = float(param.detach().abs().max())
                    if largest > self.settings.max_abs_weight:
                        return (f"the weights exploded: max |{name}| = {largest:.3g} exceeds max_abs_weight = "
                                f"{self.settings.max_abs_weight:g}")
        if mean_free_energy is None:  # not measured (fit's monitor=False)
            return None
        if not math.isfinite(mean_free_energy):
            return "the free energy of the training data became NaN or infinite"
        if abs(mean_free_energy) > MAX_FREE_ENERGY_PER_UNIT * model.n_visible:
            return (f"the free energy ran away: <F(v)> = {mean_free_energy:.3g} nats on the training data, "
                    f"beyond {MAX_FREE_ENERGY_PER_UNIT:g} per visible unit")
        return None

    def _likely_causes(self, model: EnergyModel, lr: float) -> str:
        momentum = self.settings.momentum
        causes = [f"a learning rate too large for this model (lr = {lr:g} in this epoch; try a tenth)"]
        if momentum:
            causes.append(f"momentum ({momentum})")
        hint = model.visible.divergence_hint()
        if hint is not None:
            causes.append(hint)
        if self.settings.precision == "16-mixed":
            causes.append("float16 products overflowing (precision='bf16-mixed' has float32's range)")
        if self.settings.clip_grad_norm is None:
            causes.append("no gradient clipping (clip_grad_norm=...)")
        return "; ".join(causes)

    def check(self, model: EnergyModel, epoch: int, mean_free_energy: float | None, lr: float) -> None:
        """Raise :class:`DivergenceError` (after restoring the last good parameters) if the run diverged
        in ``epoch``, trained with learning rate ``lr`` (``mean_free_energy``: ``None`` where not measured)."""
        problem = self._problem(model, mean_free_energy)
        if problem is None:
            self._last_good = self._snapshot(model)
            return
        model.load_state_dict(self._last_good)
        restored = "their initial values" if epoch == 0 else f"their values after epoch {epoch - 1}"
        kept = "; no checkpoint of this epoch was written" if self.settings.checkpoint is not None else ""
        raise DivergenceError(
            f"training diverged in epoch {epoch}: {problem}. The model's parameters were restored to {restored}"
            f"{kept}. Likely causes: {self._likely_causes(model, lr)}."
        )
