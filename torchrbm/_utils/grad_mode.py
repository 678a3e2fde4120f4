"""When model outputs carry autograd history.

The rule, for every model (RBM, ConvRBM, ConditionalRBM, ClassificationRBM and
users' subclasses):

* The named methods (``energy``, ``free_energy``, ``prob_h``, ``prob_v``,
  ``sample_h``, ``sample_v``, ``gibbs``, ... the list is the model's
  ``grad_free_methods``) compute as if under ``torch.no_grad()``: their outputs
  have no autograd history, so ``rbm.free_energy(v).numpy()`` works and no
  graph is kept alive.  ``fit`` needs none of it: its likelihood gradient is
  written out (``free_energy_grad``).
* Calling the model, ``rbm(v)`` (``forward``), is differentiable like any
  ``nn.Module``: it returns the free energy ``F(v)`` with autograd history, for
  losses of your own (``rbm(v).mean().backward()``).
* Inside ``with torchrbm.differentiable():`` every method keeps its autograd
  history (``fit`` differentiates ``extra_loss`` and the sparsity penalty there).

PyTorch's own grad mode still applies on top: under ``torch.no_grad()`` nothing
is differentiable, whatever this rule says.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch

_DIFFERENTIABLE: contextvars.ContextVar[bool] = contextvars.ContextVar("torchrbm_differentiable", default=False)
_MARK = "_torchrbm_grad_free"
F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def differentiable() -> Iterator[None]:
    """Within this block model methods keep their autograd history (see the module docstring).

    It does not turn PyTorch's grad mode on: inside ``torch.no_grad()`` combine it
    with ``torch.enable_grad()``.
    """
    token = _DIFFERENTIABLE.set(True)
    try:
        yield
    finally:
        _DIFFERENTIABLE.reset(token)


def is_differentiable() -> bool:
    """Whether this code runs inside :func:`differentiable`."""
    return _DIFFERENTIABLE.get()


def grad_free(method: F) -> F:
    """``method`` run under ``torch.no_grad()`` unless called inside :func:`differentiable`."""
    if getattr(method, _MARK, False):
        return method

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if not torch.is_grad_enabled() or _DIFFERENTIABLE.get():
            return method(*args, **kwargs)
        with torch.no_grad():
            return method(*args, **kwargs)

    setattr(wrapper, _MARK, True)
    return wrapper  # type: ignore[return-value]


def make_grad_free(cls: type, names: Iterable[str]) -> None:
    """Wrap each of ``names`` that ``cls`` itself defines with :func:`grad_free`."""
    for name in names:
        method = cls.__dict__.get(name)
        if callable(method):
            setattr(cls, name, grad_free(method))
