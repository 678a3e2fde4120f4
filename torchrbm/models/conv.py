"""The convolutional RBM (Lee, Grosse, Ranganath & Ng 2009).

Images ``v`` of shape ``(channels, height, width)`` and ``n_filters`` hidden
feature maps of shape ``(height - k + 1, width - k + 1)`` ("valid" convolution)
share ``k x k`` filters ``W`` (``(n_filters, channels, k, k)``); each map has one
hidden bias ``b_f`` and each channel one visible bias ``a_c``:

    E(v, h) = E_self(v; a) + E_self(h; b) - sum_f s(h_f) . (W_f * s(v)),

with ``*`` the cross-correlation of :func:`torch.nn.functional.conv2d`.  The hidden
pre-activation is ``conv2d(s(v), W) + b`` and the visible one
``conv_transpose2d(s(h), W) + a``.  With ``pool`` the hidden units use
probabilistic max-pooling (:class:`~torchrbm.units.PooledBernoulli`).

Visible and hidden states are flattened rows (``channels * height * width`` and
``n_filters * map height * map width`` values), as for :class:`~torchrbm.RBM`, so
samplers, ``fit``, the estimators and the unit types apply unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._utils.validation import check_positive_int
from ..units import PooledBernoulli, Units
from .base import BipartiteRBM
from .rbm import RBM


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    first, second = value
    return check_positive_int(first, name), check_positive_int(second, name)


class ConvRBM(BipartiteRBM):
    """Convolutional RBM with shared filters, a bias per filter and optional max-pooling.

    Parameters
    ----------
    image_shape:
        ``(height, width)`` or ``(channels, height, width)``.
    n_filters, filter_size:
        Number of feature maps and the filters' size (``k`` or ``(kh, kw)``).
    pool:
        Side of the probabilistic max-pooling blocks (``None``: plain Bernoulli
        hidden units); must divide the feature maps' size.
    visible, hidden:
        Unit types as for :class:`~torchrbm.RBM` (``hidden`` is ignored with ``pool``).
    """

    config_fields = ("image_shape", "n_filters", "filter_size", "pool")

    def __init__(
        self,
        image_shape,
        n_filters: int,
        filter_size,
        visible: str | dict | Units = "bernoulli",
        hidden: str | dict | Units = "bernoulli",
        *,
        pool: int | None = None,
        data=None,
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = tuple(image_shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"image_shape must be (height, width) or (channels, height, width); found {shape}")
        self.image_shape = tuple(check_positive_int(s, "image size") for s in ((1,) * (3 - len(shape)) + shape))
        channels, height, width = self.image_shape
        self.n_filters = check_positive_int(n_filters, "n_filters")
        kh, kw = self.filter_size = _pair(filter_size, "filter_size")
        if kh > height or kw > width:
            raise ValueError(f"images of {height}x{width} pixels do not fit filters of {kh}x{kw}; "
                             "use smaller filters")
        self.map_shape = (height - kh + 1, width - kw + 1)
        self.pool = None if pool is None else check_positive_int(pool, "pool")
        maps = (self.n_filters, *self.map_shape)
        if self.pool is not None:
            hidden = PooledBernoulli(self.pool, maps)
        super().__init__(math.prod(self.image_shape), math.prod(maps), visible, hidden, data=data,
                         weight_std=weight_std, generator=generator, device=device, dtype=dtype)

    visible_bias_name = "visible_bias"

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        channels = self.image_shape[0]
        return {"W": (self.n_filters, channels, *self.filter_size), "visible_bias": (channels,),
                "hidden_bias": (self.n_filters,)}

    # ------------------------------------------------------------------ shape
    @property
    def a(self) -> Tensor:
        """The visible bias of every pixel: each channel's bias, repeated."""
        return self.visible_bias.repeat_interleave(math.prod(self.image_shape[1:]))

    @property
    def b(self) -> Tensor:
        """The hidden bias of every unit: each filter's bias, repeated over its map."""
        return self.hidden_bias.repeat_interleave(math.prod(self.map_shape))

    @torch.no_grad()
    def init_visible_bias(self, data) -> None:
        """Set each channel's bias so that the visible units alone reproduce its mean intensity."""
        data = self.check_data(data)
        per_channel = data.to(device=self.device, dtype=torch.float64).reshape(data.shape[0], self.image_shape[0], -1)
        self.visible_bias.copy_(self.visible.bias_for_mean(per_channel.mean((0, 2)).to(self.dtype)))

    # ------------------------------------------------------------ convolutions
    def _images(self, x: Tensor) -> Tensor:
        return x.reshape(-1, *self.image_shape)

    def _maps(self, x: Tensor) -> Tensor:
        return x.reshape(-1, self.n_filters, *self.map_shape)

    def hidden_preactivation(self, v) -> Tensor:
        """``conv2d(s(v), W) + b``, flattened: the input to each hidden unit."""
        v = self._v(v)
        weights = self._matmul_weights()
        maps = F.conv2d(self._images(self.visible.statistic(v)).to(weights.dtype), weights)
        pre = torch.add(self.hidden_bias[:, None, None], maps)
        return pre.reshape(*v.shape[:-1], self.n_hidden)

    def visible_preactivation(self, h) -> Tensor:
        """``conv_transpose2d(s(h), W) + a``, flattened: the input to each visible unit."""
        h = self._h(h)
        weights = self._matmul_weights()
        images = F.conv_transpose2d(self._maps(self.hidden.statistic(h)).to(weights.dtype), weights)
        pre = torch.add(self.visible_bias[:, None, None], images)
        return pre.reshape(*h.shape[:-1], self.n_visible)

    def interaction(self, v: Tensor, h: Tensor) -> Tensor:
        """``sum_f s(h_f) . (W_f * s(v))``."""
        return (self.hidden.statistic(h) * (self.hidden_preactivation(v) - self.b)).sum(-1)

    # ----------------------------------------------------------------- gradients
    def visible_field(self, h_mean: Tensor) -> Tensor:
        """``conv_transpose2d(E[h], W)``, flattened."""
        return F.conv_transpose2d(self._maps(h_mean), self.W).reshape(h_mean.shape[0], -1)

    def interaction_grads(self, v: Tensor, h_mean: Tensor, coefficients: Tensor) -> dict[str, Tensor]:
        """With ``m_n = c_n E[h | v_n]`` as maps,

            dF/dW = -sum_n corr(s(v_n), m_n),   dF/da_c = -sum_n c_n sum_{pixels of c} s(v_n),
            dF/db_f = -sum_n sum_{units of map f} m_n,

        the correlation being the weight gradient of a convolution (:func:`torch.nn.grad.conv2d_weight`).
        """
        weighted_maps = self._maps(h_mean * coefficients[:, None])
        statistic = self._images(self.visible.statistic(v))
        pixel_grad = self.visible.self_energy_bias_grad(v, coefficients)
        return {
            "W": torch.nn.grad.conv2d_weight(statistic, self.W.shape, weighted_maps).neg_(),
            "visible_bias": pixel_grad.reshape(self.image_shape[0], -1).sum(1),
            "hidden_bias": weighted_maps.sum((0, 2, 3)).neg_(),
        }

    def to_linear(self) -> nn.Linear:
        """Not available: a feed-forward network takes fully connected layers (see :meth:`to_dense`)."""
        raise TypeError("to_torch supports fully connected layers; use ConvRBM.to_dense() first")

    def to_dense(self) -> RBM:
        """The fully connected :class:`~torchrbm.RBM` with the same energy: its weight matrix
        holds each filter at every position, and its biases repeat the shared ones."""
        eye = torch.eye(self.n_visible, device=self.device, dtype=self.dtype)
        with torch.no_grad():  # row i: the hidden input from pixel i alone
            dense_w = F.conv2d(self._images(eye), self.W).reshape(self.n_visible, self.n_hidden)
        dense = RBM(self.n_visible, self.n_hidden, visible=self.visible.config(), hidden=self.hidden.config(),
                    device=self.device, dtype=self.dtype)
        dense.load_state_dict({"W": dense_w, "a": self.a.detach(), "b": self.b.detach(),
                               **{f"visible.{k}": v for k, v in self.visible.state_dict().items()}})
        return dense
