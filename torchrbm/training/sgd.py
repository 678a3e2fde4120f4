"""The built-in SGD update: ``torch.optim.SGD``'s arithmetic without its per-step machinery.

With learning rate ``eta``, momentum ``mu``, gradient ``g`` and velocity ``b`` (zero before the
first step),

    b <- mu b + g   (b <- g on the first step with mu > 0),     theta <- theta - eta b,

and ``theta <- theta - eta g`` while ``mu = 0``: the operations of ``torch.optim.SGD`` (no dampening,
no Nesterov, no weight decay: fit adds weight decay to the gradient itself) in the same order, so
the parameters are bit-identical to its.  A training run uses it when fit makes the optimizer
itself and no learning-rate scheduler needs a ``torch.optim`` object; one step is three calls of
PyTorch's multi-tensor kernels, where ``torch.optim.SGD`` adds its hooks, profiling records and
per-parameter bookkeeping (about 70 us a step), and the first ``torch.optim`` step of a process
loads the compiler stack.  Its :meth:`state_dict` has ``torch.optim.SGD``'s layout, so checkpoints
written with either resume with the other.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

_GROUP_DEFAULTS = {"dampening": 0, "weight_decay": 0, "nesterov": False, "maximize": False, "foreach": None,
                   "differentiable": False, "fused": None}


class SGDUpdate:
    """Plain SGD with momentum over ``params`` (one parameter group, ``param_groups[0]["lr"]`` and
    ``["momentum"]`` set by the caller between steps, as on a ``torch.optim.SGD``)."""

    def __init__(self, params: list[Tensor], lr: float, momentum: float = 0.0) -> None:
        self.params = list(params)
        self.param_groups = [{"params": self.params, "lr": lr, "momentum": momentum, **_GROUP_DEFAULTS}]
        self._velocity: list[Tensor] | None = None

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        if torch.is_grad_enabled():
            with torch.no_grad():
                return self.step()
        group = self.param_groups[0]
        lr, momentum = group["lr"], group["momentum"]
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params, grads = [self.params[i] for i in live], [self.params[i].grad for i in live]
        if momentum != 0:
            if self._velocity is None:
                self._velocity = [None] * len(self.params)
            fresh = [i for i in live if self._velocity[i] is None]
            for i in fresh:
                self._velocity[i] = self.params[i].grad.detach().clone()
            kept = [i for i in live if i not in fresh]
            if kept:
                velocity = [self._velocity[i] for i in kept]
                torch._foreach_mul_(velocity, momentum)
                torch._foreach_add_(velocity, [self.params[i].grad for i in kept])
            grads = [self._velocity[i] for i in live]
        if params:
            torch._foreach_add_(params, grads, alpha=-lr)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.SGD``'s layout: the velocities by parameter index, one group with the parameters'
        indices."""
        group = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        state = {} if self._velocity is None else {
            i: {"momentum_buffer": v} for i, v in enumerate(self._velocity) if v is not None}
        return {"state": state, "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (this class's or a ``torch.optim.SGD``'s over the same parameters)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(f"the saved optimizer state holds {sum(len(g['params']) for g in groups)} parameters in "
                             f"{len(groups)} groups; this run trains {len(self.params)} in one")
        self.param_groups[0].update({key: value for key, value in groups[0].items() if key != "params"})
        saved = {int(i): entry.get("momentum_buffer") for i, entry in state_dict["state"].items()}
        self._velocity = None
        if any(v is not None for v in saved.values()):
            self._velocity = [None if saved.get(i) is None else saved[i].to(p.device, p.dtype).clone()
                              for i, p in enumerate(self.params)]
