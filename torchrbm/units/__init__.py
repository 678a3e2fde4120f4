"""Unit types: the extension point of every model in torchrbm.

A layer of units with bias ``c`` has the *self energy*

    E_self(x; c) = B(x) - c^T s(x),

where ``s(x)`` is the layer's *statistic* (what the weights multiply) and ``B`` a
base energy, and the joint energy of an RBM is
``E(v, h) = E_self(v; a) + E_self(h; b) - s_v(v)^T W s_h(h)``.  Given the other layer,
a layer's units are independent, each with *pre-activation* ``u`` (its bias plus
the input from the other layer), and

    p(x | u) ∝ exp(-B(x) + u^T s(x)).

A unit type therefore needs to know only:

* ``statistic(x)``: ``s(x)`` (``x`` itself for most types);
* ``mean(u)``: ``E[s(x) | u]``, and ``sample(u)``: a draw from ``p(x | u)``;
* ``log_partition(u)``: ``sum_i log sum_{x_i} exp(-B(x_i) + u_i s(x_i))`` (an integral
  for continuous units), the term a summed-out layer adds to the free energy;
* ``self_energy(x, c)`` and its gradient with respect to ``c`` and to the unit
  type's own parameters (the learned variance of Gaussian units);
* ``log_partition_grads(u, c)``: the gradient of the log-partition with respect to the
  unit type's own parameters, for unit types whose parameters act inside it (dReLU).

The RBM code calls only these methods and never branches on the unit type.  Unit
types are ``torch.nn.Module`` s so that their own parameters train, save and move
with the model.
"""

from .base import UNIT_TYPES, Units, UnitsFunction, get_units, softplus
from .bernoulli import Bernoulli
from .blocks import Blocks
from .drelu import DReLU
from .gaussian import Gaussian
from .pooled import PooledBernoulli
from .potts import Potts
from .relu import ReLU
from .softmax import Softmax
from .spin import Spin

__all__ = [
    "UNIT_TYPES",
    "Bernoulli",
    "Blocks",
    "DReLU",
    "Gaussian",
    "PooledBernoulli",
    "Potts",
    "ReLU",
    "Softmax",
    "Spin",
    "Units",
    "UnitsFunction",
    "get_units",
    "softplus",
]
