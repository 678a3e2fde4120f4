"""Deep belief networks: RBMs stacked and trained greedily (Hinton, Osindero & Teh 2006).

Layer ``l`` is an RBM whose visible units are the hidden units of layer ``l - 1``.
Greedy pretraining fits each RBM to the hidden means of the data under the
layers below it (the mean-field up-pass ``x_l = E[h | x_{l-1}]``).  The network
generates by Gibbs sampling in the top RBM, then one directed down-pass
``x_{l-1} ~ p(v | h = x_l)`` through the lower layers.  As a feature extractor
it is the up-pass; as a classifier it is the up-pass with a softmax output
layer on top, fine-tuned by backpropagation (:meth:`DBN.fine_tune`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._utils import threads
from .._utils.rng import resolve_generator
from .._utils.validation import check_positive_int, trusted_inputs
from ..units import UnitsFunction
from .inpainting import clamped_gibbs, observed_input
from .protocol import EnergyModel
from .rbm import RBM
from .registry import MODELS, RegisteredModel


class DeepBeliefNet(RegisteredModel, nn.Module):
    """The structure of a deep belief network: its layers, up-pass, generation and inpainting.

    :class:`torchrbm.DBN` adds the training (greedy pretraining and fine-tuning, in
    :mod:`torchrbm.training.dbn`); this class is what the models layer knows of it.

    Parameters
    ----------
    layer_sizes:
        Widths from the input up, e.g. ``[784, 500, 500, 2000]``: one binary RBM
        per pair of neighbours.
    layers:
        Instead of ``layer_sizes``, the RBMs themselves (any type, e.g. a Gaussian
        bottom layer or a :class:`~torchrbm.ConvRBM`); each layer's visible width
        must equal the hidden width of the one below.
    visible:
        Unit type of the bottom layer's visible units (with ``layer_sizes``).
    generator, device, dtype:
        As for :class:`~torchrbm.RBM` (with ``layer_sizes``).
    """

    def __init__(self, layer_sizes: Sequence[int] | None = None, *, layers: Sequence[EnergyModel] | None = None,
                 visible: str | dict = "bernoulli", generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if (layer_sizes is None) == (layers is None):
            raise ValueError("give either layer_sizes (e.g. [784, 500, 500]) or layers (a list of RBMs)")
        if layers is None:
            sizes = [check_positive_int(size, "layer size") for size in layer_sizes]
            if len(sizes) < 2:
                raise ValueError(f"layer_sizes needs at least two widths (input and one hidden layer); found {sizes}")
            layers = [RBM(n_in, n_out, visible=visible if index == 0 else "bernoulli", generator=generator,
                          device=device, dtype=dtype)
                      for index, (n_in, n_out) in enumerate(itertools.pairwise(sizes))]
        layers = list(layers)
        if not layers or not all(isinstance(layer, EnergyModel) for layer in layers):
            raise TypeError("layers must be a non-empty list of torchrbm RBMs (models with the EnergyModel interface)")
        for index, (below, above) in enumerate(itertools.pairwise(layers)):
            if below.n_hidden != above.n_visible:
                raise ValueError(f"layer sizes do not chain: layer {index} has {below.n_hidden} hidden units but "
                                 f"layer {index + 1} has {above.n_visible} visible units")
        self.layers = nn.ModuleList(layers)
        self.classifier: nn.Sequential | None = None

    # ------------------------------------------------------------------ basics
    @property
    def n_visible(self) -> int:
        return self.layers[0].n_visible

    @property
    def layer_sizes(self) -> list[int]:
        return [self.n_visible, *(layer.n_hidden for layer in self.layers)]

    @property
    def device(self) -> torch.device:
        return self.layers[0].device

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].dtype

    def config(self) -> dict[str, Any]:
        n_classes = None if self.classifier is None else self.classifier[-1].out_features
        return {"class": type(self).__name__, "layers": [layer.config() for layer in self.layers],
                "n_classes": n_classes}

    @classmethod
    def from_config(cls, config: dict[str, Any], **factory) -> DeepBeliefNet:
        layers = []
        for layer_config in config["layers"]:
            layers.append(MODELS[layer_config.get("class")].from_config(layer_config, **factory))
        dbn = cls(layers=layers)
        if config.get("n_classes"):
            dbn.classifier = dbn._classifier_network(config["n_classes"])
        return dbn

    def extra_repr(self) -> str:
        return f"layer_sizes={self.layer_sizes}"

    @staticmethod
    @threads.per_call(lambda arguments: (arguments["layer"], min(arguments["x"].shape[0], arguments["chunk"])))
    @torch.no_grad()
    @trusted_inputs()
    def _up(layer: EnergyModel, x: Tensor, chunk: int = 8192) -> Tensor:
        return torch.cat([layer.prob_h(x[start : start + chunk]) for start in range(0, x.shape[0], chunk)])

    def check_data(self, data, name: str = "data") -> Tensor:
        """``data`` as a checked 2-D tensor for the bottom layer (see :meth:`BipartiteRBM.check_data`)."""
        return self.layers[0].check_data(data, name)

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def transform(self, x, depth: int | None = None) -> Tensor:
        """Mean-field up-pass ``x_l = E[h | x_{l-1}]`` through the first ``depth`` layers (all by default)."""
        depth = len(self.layers) if depth is None else check_positive_int(depth, "depth")
        if depth > len(self.layers):
            raise ValueError(f"depth {depth} exceeds the {len(self.layers)} layers of this DBN")
        x = self.check_data(x)
        x = x.to(device=self.device, dtype=self.dtype)
        for layer in self.layers[:depth]:
            x = self._up(layer, x)
        return x

    @threads.per_call(lambda arguments: (arguments["self"], arguments["n"]))
    @torch.no_grad()
    def sample(self, n: int, steps: int = 1000, *, seed: int | None = None,
               generator: torch.Generator | None = None, progress: bool = False) -> Tensor:
        """``n`` samples: ``steps`` Gibbs steps in the top RBM, then a down-pass sampling each
        lower layer; returns the bottom layer's means ``E[v | h_1]``.  ``progress`` reports
        the Gibbs steps done on stderr (:mod:`torchrbm.progress`)."""
        n, steps = check_positive_int(n, "n"), check_positive_int(steps, "steps", minimum=0)
        generator = resolve_generator(self.device, seed, generator)
        top = self.layers[-1]
        x = top.gibbs(top.sample_from_visible_biases(n, generator), steps, generator, progress=progress)
        if len(self.layers) == 1:
            return top.prob_v(top.sample_h(x, generator))
        for layer in list(self.layers[1:-1])[::-1]:
            x = layer.sample_v(x, generator)
        return self.layers[0].prob_v(x)

    @threads.per_call(lambda arguments: (arguments["self"], arguments["v"]))
    @torch.no_grad()
    def inpaint(self, v, mask, steps: int = 1000, *, burn_in: int | None = None, seed: int | None = None,
                generator: torch.Generator | None = None, progress: bool = False) -> Tensor:
        """Fill in the visible units where ``mask`` is ``True`` (see :meth:`RBM.inpaint`).

        Each step samples an up-pass to the top RBM, one Gibbs step there and a
        down-pass, then clamps the observed units again; a one-layer DBN is exactly
        its RBM's inpainting.  ``progress`` reports the steps done on stderr (:mod:`torchrbm.progress`).
        """
        bottom = self.layers[0]
        generator = resolve_generator(self.device, seed, generator)
        v, mask, start = observed_input(bottom, v, mask, generator)

        def step(x: Tensor) -> tuple[Tensor, Tensor]:
            for layer in self.layers:
                x = layer.sample_h(x, generator)
            for layer in list(self.layers[1:])[::-1]:
                x = layer.sample_v(x, generator)
            return bottom.visible_step(x, generator)

        return clamped_gibbs(step, v, mask, start, steps, burn_in, progress=progress)

    # ------------------------------------------------------------ as a network
    def to_torch(self) -> nn.Sequential:
        """The up-pass as a feed-forward network: ``Linear(W^T, b)`` and the hidden units'
        mean function (``Sigmoid`` for binary units) per layer, initialised from (and
        independent of) the RBMs' weights."""
        modules: list[nn.Module] = []
        for layer in self.layers:
            if not layer.visible.identity_statistic:  # e.g. v / sigma^2 of Gaussian units
                modules.append(UnitsFunction(layer.visible, "statistic"))
            modules += [layer.to_linear(), layer.hidden.activation()]
        return nn.Sequential(*modules)

    def _classifier_network(self, n_classes: int, generator: torch.Generator | None = None) -> nn.Sequential:
        """The up-pass network with a linear output layer; with ``generator``, the output layer's
        weights and biases are drawn from ``U(-1/sqrt(n), 1/sqrt(n))`` (``n`` inputs, PyTorch's default
        range) by that generator, so that a seeded fine-tuning is reproducible."""
        network = self.to_torch()
        output = nn.Linear(self.layers[-1].n_hidden, n_classes, device=self.device, dtype=self.dtype)
        if generator is not None:
            bound = 1 / math.sqrt(output.in_features)
            with torch.no_grad():
                for param in output.parameters():
                    draw = torch.rand(param.shape, generator=generator, dtype=torch.float64)
                    param.copy_(draw.mul_(2 * bound).sub_(bound))
        network.append(output)
        return network

    @torch.no_grad()
    def predict_proba(self, x) -> Tensor:
        """Class probabilities of the fine-tuned classifier."""
        if self.classifier is None:
            raise RuntimeError("this DBN has no classifier yet; call fine_tune(x, y) first")
        x = self.check_data(x, "x")
        return torch.softmax(self.classifier(x.to(device=self.device, dtype=self.dtype)), -1)

    def predict(self, x) -> Tensor:
        """The most probable class under the fine-tuned classifier."""
        return self.predict_proba(x).argmax(-1)
