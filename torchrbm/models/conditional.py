"""The conditional RBM (Taylor, Hinton & Roweis 2007).

A context ``c`` (for sequences: the previous frames) shifts the biases of both
layers, and the model is an ordinary RBM given the context:

    E(v, h | c) = E_vis(v; a + c A) + E_hid(h; b + c B) - s_v(v)^T W s_h(h),

with ``A`` of shape ``(n_context, n_visible)`` (autoregressive weights) and ``B`` of
shape ``(n_context, n_hidden)``.  :meth:`ConditionalRBM.condition` returns that
ordinary RBM, with one row of biases per example, so every sampler and estimator
written for RBMs runs on it unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import kernels
from .._utils.validation import as_data_tensor, check_positive_int, inputs_trusted, trusted_inputs
from ..units import Units
from .base import uniform_coefficients
from .rbm import RBM


class ConditionalRBM(RBM):
    """An RBM whose biases depend linearly on a context vector.

    Parameters are those of :class:`~torchrbm.RBM` plus ``n_context``; the
    context weights ``A`` and ``B`` start as ``N(0, weight_std^2)``.
    """

    weight_names = ("W", "A", "B")
    hidden_input_names = ("W", "b", "B")
    config_fields = ("n_visible", "n_hidden", "n_context")
    supports_centering = False

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        n_context: int,
        visible: str | dict | Units = "bernoulli",
        hidden: str | dict | Units = "bernoulli",
        *,
        data=None,
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.n_context = check_positive_int(n_context, "n_context")
        super().__init__(n_visible, n_hidden, visible, hidden, data=data, weight_std=weight_std,
                         generator=generator, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {**super().parameter_shapes(), "A": (self.n_context, self.n_visible),
                "B": (self.n_context, self.n_hidden)}

    def _context(self, context) -> Tensor:
        trusted = inputs_trusted() and isinstance(context, Tensor) and context.ndim == 2
        if not (trusted and context.shape[1] == self.n_context):
            context = as_data_tensor(context, name="context", n_features=self.n_context)
        return context.to(device=self.device, dtype=self.dtype)

    def join_context(self, rows: Tensor, context, name: str = "context") -> Tensor:
        """Training's hook: ``rows`` of visible data with their ``context`` (required; ``name`` in errors)
        appended as extra columns, the rows training stores and :meth:`split_rows` takes apart."""
        if context is None:
            raise ValueError(f"a ConditionalRBM needs {name}= (one row of context per row of data)")
        context = as_data_tensor(context, name=name, n_features=self.n_context)
        if context.shape[0] != rows.shape[0]:
            raise ValueError(f"{name} has {context.shape[0]} rows but the data has {rows.shape[0]}")
        dtype = torch.promote_types(torch.promote_types(rows.dtype, context.dtype), torch.float32)
        return torch.cat([rows.to(dtype), context.to(device=rows.device, dtype=dtype)], 1)

    def split_rows(self, rows: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Training's hook: rows of :meth:`join_context` taken apart, as the visible rows and the keyword
        arguments of :meth:`condition` and :meth:`free_energy_grad` (``{"context": ...}``)."""
        return rows[:, : self.n_visible], {"context": rows[:, self.n_visible :]}

    def condition(self, context) -> RBM:
        """The ordinary RBM ``p(v, h | c)`` for each row of ``context``: an :class:`RBM` sharing
        ``W`` and the unit types, with biases ``a + c A`` and ``b + c B`` (one row per example,
        so its methods take exactly as many rows as ``context`` has)."""
        return _ConditionedRBM(self, self._context(context))

    @torch.no_grad()
    def free_energy_grad(self, v, h_mean: Tensor | None = None, coefficients: Tensor | None = None, *,
                         context) -> dict[str, Tensor]:
        """``sum_n k_n dF(v_n | c_n) / d theta``, with coefficients ``k_n``; as
        :meth:`RBM.free_energy_grad`, plus

            dF/dA = -sum_n k_n c_n s(v_n)^T,   dF/dB = -sum_n k_n c_n E[h | v_n, c_n]^T.
        """
        c = self._context(context)
        view = self.condition(c)
        v = view._v(v)
        if h_mean is None:
            h_mean = view.prob_h(v)
        if coefficients is None:
            coefficients = uniform_coefficients(v.shape[0], v)
        grads = view.free_energy_grad(v, h_mean, coefficients)
        weighted_c = c * coefficients.to(self.dtype)[:, None]
        grads["A"] = kernels.mm(weighted_c.T, self.visible.statistic(v)).neg_()
        grads["B"] = kernels.mm(weighted_c.T, h_mean).neg_()
        return grads

    @torch.no_grad()
    def predict(self, context, *, start=None, steps: int = 30,
                generator: torch.Generator | None = None) -> Tensor:
        """``E[v | c]`` estimated the way Taylor et al. generate: from ``start`` (default:
        the visible units on their dynamic biases alone, ``E[v | h = 0, c]``), ``steps``
        Gibbs steps with the context clamped, then one mean-field step."""
        view = self.condition(context)
        steps = check_positive_int(steps, "steps", minimum=0)
        c_rows = view.a.shape[0]
        v = view.prob_v(torch.zeros(c_rows, self.n_hidden, device=self.device, dtype=self.dtype)) \
            if start is None else view._v(start)
        if steps:
            v = view.gibbs(v, steps, generator)
        return view.prob_v(view.prob_h(v))

    @torch.no_grad()
    def generate(self, history, n_frames: int, *, steps: int = 30,
                 generator: torch.Generator | None = None) -> Tensor:
        """Continue sequences: ``history`` holds each sequence's last ``order`` frames, most recent
        first, as rows of length ``n_context`` (``order * n_visible``); each new frame is sampled
        by :meth:`predict`'s chain (ending in a sample, not the mean) and fed back as context.
        Returns ``(n_sequences, n_frames, n_visible)``."""
        context = self._context(history)
        n_frames = check_positive_int(n_frames, "n_frames")
        if self.n_context % self.n_visible:
            raise ValueError("generate() needs a context made of whole previous frames "
                             f"(n_context {self.n_context} is not a multiple of n_visible {self.n_visible})")
        self._v(context.reshape(-1, self.n_visible))  # the history's frames: in the visible units' range
        frames = []
        with trusted_inputs():  # the context was checked; the frames are the model's own samples
            for _ in range(n_frames):
                view = self.condition(context)
                v = view.gibbs(context[:, : self.n_visible], steps, generator)
                frames.append(v)
                context = torch.cat([v, context[:, : self.n_context - self.n_visible]], 1)
        return torch.stack(frames, 1)


class _ConditionedRBM(RBM):
    """A :class:`ConditionalRBM` given one context row per example: an :class:`RBM` sharing its
    ``W`` and unit types, with biases ``a + c A`` and ``b + c B`` (one row per example) that
    follow the conditional model's parameters (autograd reaches them through the view)."""

    def __init__(self, model: ConditionalRBM, context: Tensor) -> None:
        super().__init__(model.n_visible, model.n_hidden, model.visible, model.hidden, device=model.device,
                         dtype=model.dtype)
        self.W = model.W
        self.a = kernels.addmm(model.a, context, model.A)
        self.b = kernels.addmm(model.b, context, model.B)
        self.matmul_dtype = model.matmul_dtype

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}
