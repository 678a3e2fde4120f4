"""How many CPU threads torchrbm's calls run on: one for small models, PyTorch's count otherwise.

PyTorch runs its CPU operations on ``torch.get_num_threads()`` threads (by
default one per core).  When every core is busy with another process, each
multi-threaded operation waits for its helper threads to be scheduled again, and
for the tiny products of a small model that wait (up to a scheduler time slice,
milliseconds) is far longer than the arithmetic: ``tr.ais`` on a 16 x 16 model
ran 10-100 times slower on two threads than on one on a busy 2-core machine,
while on an idle machine one thread is as fast as two for such models
(``benchmarks/threads.py``; numbers in ``benchmarks/BENCHMARKS.md``).

So each call of :func:`~torchrbm.fit`, :func:`~torchrbm.ais`,
:func:`~torchrbm.reverse_ais`, :meth:`RBM.gibbs <torchrbm.RBM.gibbs>`,
:meth:`RBM.inpaint <torchrbm.RBM.inpaint>` and the :class:`~torchrbm.DBN`
methods that train or sample chooses its thread count once, from the size of its
matrix products: ``rows x n_visible x n_hidden`` multiply-adds (``rows`` is the
batch, the chains or the rows sampled; a DBN counts its largest layer).  Below
:func:`one_thread_below` (:data:`DEFAULT_ONE_THREAD_BELOW` unless set) the call
runs on one thread, and PyTorch's thread count is restored when it returns.
Larger work, and work on any other device than the CPU, runs as PyTorch is set.

What a user can set:

* ``TORCHRBM_ONE_THREAD_BELOW`` (environment) or :func:`set_one_thread_below`:
  the threshold in multiply-adds per product; ``0`` turns the policy off;
* ``torch.set_num_threads(n)`` / ``OMP_NUM_THREADS``: the thread count of
  everything else (``1`` on a machine shared with other CPU-bound work makes
  large models robust as well, at the cost of their speed on an idle machine).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch

__all__ = [
    "DEFAULT_ONE_THREAD_BELOW",
    "ENVIRONMENT_VARIABLE",
    "set_one_thread_below",
    "one_thread_below",
    "macs_per_row",
    "threads_for",
    "for_model",
    "per_call",
]

#: Products below this many multiply-adds run on one thread by default: 2**21 (2.1 million), above
#: a DBN layer of 256 x 256 at batch 20 (1.3 million) and below a 784 x 500 model at batch 6.
#: See ``benchmarks/BENCHMARKS.md``.
DEFAULT_ONE_THREAD_BELOW = 2**21

ENVIRONMENT_VARIABLE = "TORCHRBM_ONE_THREAD_BELOW"

_threshold: int | None = None  # set_one_thread_below's value; None: the environment's or the default
# Per Python thread (PyTorch's thread count is a per-thread OpenMP setting): ``depth``, the open
# blocks inside the outermost one that chose one thread, and ``restore``, the count before it.
_state = threading.local()

F = TypeVar("F", bound=Callable[..., Any])


def _checked(value: Any, name: str) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a whole number of multiply-adds (0: never one thread); "
                             f"found {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer number of multiply-adds, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be at least 0 (0: never one thread); found {value}")
    return int(value)


def set_one_thread_below(macs: int | None) -> None:
    """Run torchrbm's calls whose products have fewer than ``macs`` multiply-adds on one thread
    (``0``: never; ``None``: back to ``$TORCHRBM_ONE_THREAD_BELOW`` or the default)."""
    global _threshold
    _threshold = None if macs is None else _checked(macs, "one_thread_below")


def one_thread_below() -> int:
    """The threshold in force: :func:`set_one_thread_below`'s value, else
    ``$TORCHRBM_ONE_THREAD_BELOW``, else :data:`DEFAULT_ONE_THREAD_BELOW`."""
    if _threshold is not None:
        return _threshold
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return _checked(value, ENVIRONMENT_VARIABLE) if value else DEFAULT_ONE_THREAD_BELOW


def macs_per_row(model: Any) -> int | None:
    """Multiply-adds per row of ``model``'s largest product: the visible units' input width times
    ``n_hidden`` (``n_visible x n_hidden``; ``L q x n_hidden`` for Potts units, whose field has ``q``
    numbers per position), the largest layer's for a model with ``layers`` (a DBN); ``None`` for
    anything else."""
    layers = getattr(model, "layers", None)
    if layers is not None:
        sizes = [macs_per_row(layer) for layer in layers]
        return None if not sizes or None in sizes else max(sizes)
    n_visible, n_hidden = getattr(model, "n_visible", None), getattr(model, "n_hidden", None)
    if not isinstance(n_visible, int) or not isinstance(n_hidden, int):
        return None
    return math.prod(getattr(getattr(model, "visible", None), "field_shape", (n_visible,))) * n_hidden


def threads_for(model: Any, rows: int) -> int:
    """The thread count a call on ``rows`` rows of ``model`` runs on: 1 for small CPU work,
    else ``torch.get_num_threads()``."""
    current = torch.get_num_threads()
    device = getattr(model, "device", None)
    per_row = macs_per_row(model)
    if current == 1 or not isinstance(device, torch.device) or device.type != "cpu" or per_row is None:
        return current
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1:
        return current  # the call itself refuses it by name
    return 1 if rows * per_row < one_thread_below() else current


@contextmanager
def for_model(model: Any, rows: int) -> Iterator[int]:
    """Run the block on :func:`threads_for` ``(model, rows)`` threads and restore PyTorch's
    count afterwards; yields the count.  Inside a block that chose one thread (in the same
    Python thread: PyTorch's count is per thread) further blocks change nothing."""
    depth = getattr(_state, "depth", 0)
    if depth:
        _state.depth = depth + 1
        chosen = torch.get_num_threads()
    else:
        chosen, current = threads_for(model, rows), torch.get_num_threads()
        if chosen == current:
            yield chosen
            return
        _state.restore, _state.depth = current, 1
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        _state.depth -= 1
        if not _state.depth:
            torch.set_num_threads(_state.restore)


def per_call(work: Callable[[dict[str, Any]], tuple[Any, Any]]) -> Callable[[F], F]:
    """Decorator: each call runs under :func:`for_model` ``(*work(arguments))``, where
    ``arguments`` maps the call's parameter names to their values (defaults included) and
    ``work`` returns the model and its rows (a count, or the rows themselves)."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if getattr(_state, "depth", 0) or torch.get_num_threads() == 1:
                return function(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return function(*args, **kwargs)  # the call reports its own mistake
            bound.apply_defaults()
            model, rows = work(bound.arguments)
            with for_model(model, _count(rows)):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _count(rows: Any) -> Any:
    """A row count, or the length of the first dimension of an array of rows."""
    shape = getattr(rows, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) > 1 else 1
    return rows
