"""The classification RBM (Larochelle & Bengio 2008): one RBM over an input and its label.

The visible layer is the input ``x`` (any unit type) followed by one softmax
group of ``n_classes`` label units ``y`` (one-hot), so the joint energy is

    E(x, y, h) = E_vis(x; a) - d^T y + E_hid(h; b) - x^T W h - y^T U h,

with ``U`` the label rows of ``W``.  Summing out ``h`` gives the class posterior
exactly, one free energy per class:

    p(y = c | x) ∝ exp(-F(x, e_c)) ∝ exp(d_c + log_partition_h(b + x^T W + U_c)),

(``sum_j softplus(b_j + x^T W_:j + U_cj)`` for binary hidden units; the input's own
energy cancels).  Train it on ``joint_data(x, y)`` with :func:`torchrbm.fit`
(generatively), optionally adding ``discriminative_loss`` through ``fit``'s
``extra_loss`` (Larochelle & Bengio's hybrid training).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .._utils import kernels
from .._utils.grad_mode import differentiable
from .._utils.validation import as_data_tensor, check_positive_int, inputs_trusted
from ..units import Blocks, Softmax, Units
from .rbm import RBM


def check_labels(y, n_examples: int, n_classes: int | None = None) -> Tensor:
    """``y`` as an int64 tensor of class indices ``0 .. n_classes - 1``, one per example."""
    labels = torch.as_tensor(y)
    if labels.is_floating_point():
        if not bool((labels == labels.round()).all()):
            raise ValueError("labels must be whole numbers (class indices 0, 1, ...)")
        labels = labels.long()
    if labels.dtype == torch.bool or labels.is_complex() or labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices; found shape {tuple(labels.shape)} "
                         f"and dtype {labels.dtype}")
    labels = labels.long()
    if labels.shape[0] != n_examples:
        raise ValueError(f"there are {labels.shape[0]} labels for {n_examples} examples")
    if labels.numel() and (int(labels.min()) < 0 or (n_classes is not None and int(labels.max()) >= n_classes)):
        allowed = "non-negative" if n_classes is None else f"in 0 .. {n_classes - 1}"
        raise ValueError(f"labels must be {allowed}; found values from {int(labels.min())} to {int(labels.max())}")
    return labels


class ClassificationRBM(RBM):
    """An RBM over ``[x, one_hot(y)]`` that predicts ``p(y | x)`` exactly.

    Parameters
    ----------
    n_features, n_classes, n_hidden:
        Input width, number of classes and hidden units.
    visible:
        Unit type of the input (``"bernoulli"``, ``"gaussian"``, ...).
    Other keyword arguments are those of :class:`~torchrbm.RBM`; ``data`` may be
    joint rows from :meth:`joint_data`.
    """

    grad_free_methods = (*RBM.grad_free_methods, "class_log_prob")
    config_fields = ("n_features", "n_classes", "n_hidden")

    def __init__(self, n_features: int, n_classes: int, n_hidden: int, visible: str | dict | Units = "bernoulli",
                 hidden: str | dict | Units = "bernoulli", **options: Any) -> None:
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        layer = Blocks([(visible, self.n_features), (Softmax(self.n_classes), self.n_classes)])
        super().__init__(self.n_features + self.n_classes, n_hidden, visible=layer, hidden=hidden, **options)

    @property
    def input_units(self) -> Units:
        """The unit type of the input ``x`` (the first block of the visible layer)."""
        return self.visible.parts[0]

    def units_config(self) -> dict[str, Any]:
        return {"visible": self.input_units.config(), "hidden": self.hidden.config()}

    def joint_data(self, x, y) -> Tensor:
        """Rows ``[x, one_hot(y)]`` to train on."""
        x = as_data_tensor(x, name="x", n_features=self.n_features, units=self.input_units)
        labels = check_labels(y, x.shape[0], self.n_classes).to(x.device)
        return torch.cat([x.to(self.dtype), F.one_hot(labels, self.n_classes).to(self.dtype)], 1)

    def class_log_prob(self, x) -> Tensor:
        """``log p(y = c | x)`` for every class, shape ``(n_examples, n_classes)``."""
        statistic = self.input_units.statistic(self._features(x))
        weights = self.W
        pre = kernels.addmm(self.b, statistic, weights[: self.n_features])  # (n, hidden) without the label
        per_class = pre[:, None, :] + weights[self.n_features :][None]  # (n, classes, hidden)
        logits = self.a[self.n_features :] + self.hidden.log_partition(per_class)
        return torch.log_softmax(logits, -1)

    def _features(self, x) -> Tensor:
        """``x`` checked, on the parameters' device and dtype; inside a training step (see
        :func:`~torchrbm.validation.trusted_inputs`) a tensor already there is taken as it is."""
        if (inputs_trusted() and isinstance(x, Tensor) and x.ndim == 2 and x.shape[1] == self.n_features
                and x.device == self.device and x.dtype == self.dtype):
            return x
        x = as_data_tensor(x, name="x", n_features=self.n_features, units=self.input_units)
        return x.to(device=self.device, dtype=self.dtype)

    @torch.no_grad()
    def predict_proba(self, x) -> Tensor:
        """``p(y | x)``, rows summing to 1."""
        return self.class_log_prob(x).exp()

    @torch.no_grad()
    def predict(self, x) -> Tensor:
        """The most probable class of each example."""
        return self.class_log_prob(x).argmax(-1)

    def discriminative_loss(self, rows: Tensor) -> Tensor:
        """``-mean log p(y | x)`` of joint rows ``[x, one_hot(y)]``, differentiable in the parameters
        (a loss: its autograd history is kept, see :mod:`torchrbm.grad_mode`)."""
        with differentiable():
            log_prob = self.class_log_prob(rows[:, : self.n_features])
        return -(log_prob * rows[:, self.n_features :]).sum(1).mean()
