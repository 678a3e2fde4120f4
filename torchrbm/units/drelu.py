"""Double rectified linear (dReLU) units."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import Units

#: Below ``x = -_TAIL`` the half-Gaussian quantities come from Laplace's continued fraction: above it
#: ``m = x + r`` and ``v = 1 - r m`` lose a factor of about ``x^2`` and ``x^4`` to cancellation (``v`` is
#: within ``1e-12`` relative at ``x = -6``).
_TAIL = 6.0
#: Terms of the continued fraction: enough for float64 rounding from ``y = _TAIL`` on.
_DEPTH = 26
#: Below ``x = -_SAMPLE_TAIL`` a draw solves the tail equation by fixed-point iteration instead of
#: inverting ``Phi``, whose values there approach float64's smallest numbers.
_SAMPLE_TAIL = 30.0
#: Fixed-point iterations: each divides the error by about ``y^2 >= 900``.
_SAMPLE_ITERATIONS = 5
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_HALF_PI = 0.5 * math.log(0.5 * math.pi)


def _laplace_fraction(y: Tensor) -> tuple[Tensor, Tensor]:
    """``(c_1, c_2)`` of Laplace's continued fraction for Mills' ratio ``R(y) = Phi(-y) / phi(y)``:

        R(y) = 1 / (y + c_1),   c_k = k / (y + c_{k+1}),

    evaluated from ``c_{_DEPTH + 1} = 0`` backwards (to float64 rounding for ``y >= _TAIL``).
    """
    c = torch.zeros_like(y)
    for k in torch.arange(_DEPTH, 1, -1, dtype=y.dtype, device=y.device).unbind():  # tensors: 2 calls a term, not 4
        c = torch.div(k, y + c)
    return torch.reciprocal(y + c), c


def _exp_square(z: Tensor) -> Tensor:
    """``exp(z^2)``, with ``z^2`` split into its float64 value and rounding error (Dekker's product), so
    that ``exp`` does not turn that rounding into ``z^2`` ulps: times ``erfc(z)`` it gives ``erfcx(z)`` to
    a few ulps, and ``erfc`` is vectorised where PyTorch's ``erfcx`` is not."""
    square = z * z
    split = z * 134217729.0  # 2^27 + 1: z = high + low, each with half of the bits, so high^2 etc. are exact
    high = split - (split - z)
    low = z - high
    error = (high * high - square) + 2 * high * low + low * low  # z^2 - square, exactly
    return torch.exp(square) * (1 + error)


def _half_gaussian(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(g, m, v)`` for ``t >= 0`` with density proportional to ``exp(-t^2 / 2 + x t)``:

        g = log int_0^inf exp(-t^2 / 2 + x t) dt = x^2 / 2 + log Phi(x) + log sqrt(2 pi),
        m = E[t] = x + r,   v = Var[t] = 1 - r m,   where r = phi(x) / Phi(x) = exp(-g).

    With ``u = erfc(|x| / sqrt(2)) = 2 Phi(-|x|)`` (one evaluation for both signs), ``g = x^2 / 2 +
    log sqrt(2 pi) + log1p(-u / 2)`` for ``x >= 0`` (no overflow: ``x^2 / 2`` stays in the log domain) and
    ``g = log(sqrt(pi / 2) e)`` for ``x < 0`` with ``e = erfcx(|x| / sqrt(2)) = exp(x^2 / 2) u`` (``x^2 / 2 +
    log Phi(x)`` without the cancelling terms; :func:`_exp_square` keeps the product to a few ulps).  Below
    ``x = -6``, with ``y = -x``, ``Phi(-y) = phi(y) R(y)`` gives ``g = log R(y) = -log(y + c_1)``,
    ``m = c_1`` and ``v = (c_2 - c_1) / (y + c_2)``, free of the cancellation in ``x + r`` and ``1 - r m``.
    Differentiable (the tail values replace the others with ``index_put``, so no gradient is lost).
    """
    half_square = 0.5 * x.square()
    negative = x < 0
    # |x| / sqrt(2), not abs(): its gradient at 0 is 0; clamped where the tail's values replace these
    root = torch.where(negative, -x.clamp(min=-_TAIL), x) / math.sqrt(2)
    upper = torch.special.erfc(root)  # 2 Phi(-|x|)
    scaled = torch.where(negative, _exp_square(root.clamp(max=_TAIL / math.sqrt(2))) * upper, 1.0)  # erfcx(root)
    g = torch.where(negative, torch.log(scaled) + _LOG_SQRT_HALF_PI,
                    half_square + _LOG_SQRT_2PI + torch.log1p(-0.5 * upper))
    ratio = torch.exp(-g)
    m = x + ratio
    v = 1 - ratio * m
    tail = x < -_TAIL
    if bool(tail.any()):
        y = -x[tail]
        c1, c2 = _laplace_fraction(y)
        g = g.index_put((tail,), -torch.log(y + c1))
        m = m.index_put((tail,), c1)
        v = v.index_put((tail,), (c2 - c1) / (y + c2))
    return g, m, v


def _half_gaussian_draw(x: Tensor, uniform: Tensor) -> Tensor:
    """Inverse-CDF draws of ``t >= 0`` with density proportional to ``exp(-t^2 / 2 + x t)``, one per
    ``uniform`` in ``(0, 1)``: the survival function ``S(t) = Phi(x - t) / Phi(x)`` solved for ``S(t) = U``,

        t = x - Phi^-1(U Phi(x)).

    Below ``x = -30`` (``y = -x``), with ``R(s) = 1 / (s + c_1(s))`` from the continued fraction,
    ``S(t) = U`` reads ``t^2 / 2 + y t = q(t)``, ``q = -log U - log(R(y) / R(y + t))``; its root
    ``t = 2 q / (y + sqrt(y^2 + 2 q))`` is iterated from ``t = 0`` (the exponential limit after one step).
    """
    central = x.clamp(min=-_SAMPLE_TAIL)
    t = (central - torch.special.ndtri(torch.exp(uniform.log() + torch.special.log_ndtr(central)))).clamp_(min=0.0)
    tail = x < -_SAMPLE_TAIL
    if bool(tail.any()):
        y, exponential = -x[tail], -torch.log(uniform[tail])
        c1 = _laplace_fraction(y)[0]
        s = torch.zeros_like(y)
        for _ in range(_SAMPLE_ITERATIONS):
            # log(R(y) / R(y + s)) = log((y + s + c_1(y + s)) / (y + c_1(y)))
            log_ratio = torch.log1p((s + _laplace_fraction(y + s)[0] - c1) / (y + c1))
            q = (exponential - log_ratio).clamp_(min=0.0)
            s = 2 * q / (y + torch.sqrt(y.square() + 2 * q))
        t[tail] = s
    return t


class _Halves(NamedTuple):
    """The two halves of ``p(h | I)`` in float64: ``x_± = ±(I - theta_±) / sqrt(gamma_±)``, the scales
    ``1 / sqrt(gamma_±)``, ``log Z_±`` and the mean and variance of ``h`` on each half."""

    x_plus: Tensor
    x_minus: Tensor
    scale_plus: Tensor
    scale_minus: Tensor
    log_plus: Tensor
    log_minus: Tensor
    mean_plus: Tensor
    mean_minus: Tensor
    var_plus: Tensor
    var_minus: Tensor

    def weights(self) -> tuple[Tensor, Tensor]:
        """``(Z_+ / Z, Z_- / Z)``, each a sigmoid (no ``1 - p`` cancellation)."""
        return torch.sigmoid(self.log_plus - self.log_minus), torch.sigmoid(self.log_minus - self.log_plus)

    def mean(self) -> Tensor:
        weight_plus, weight_minus = self.weights()
        return weight_plus * self.mean_plus + weight_minus * self.mean_minus

    def variance(self) -> Tensor:
        """Law of total variance over the two halves: a sum of non-negative terms."""
        weight_plus, weight_minus = self.weights()
        return (weight_plus * self.var_plus + weight_minus * self.var_minus
                + weight_plus * weight_minus * (self.mean_plus - self.mean_minus).square())


class DReLU(Units):
    """Double rectified linear units (Tubiana, Cocco & Monasson, eLife 2019): real ``h`` with potential

        U(h) = gamma_+ h_+^2 / 2 + theta_+ h_+ + gamma_- h_-^2 / 2 + theta_- h_-,

    ``h_+ = max(h, 0)``, ``h_- = min(h, 0)``, so ``E_self(h; c) = sum_j U_j(h_j) - c^T h`` and
    ``p(h | I) ∝ exp(-U(h) + h I)``: a Gaussian truncated to ``h >= 0`` glued to one truncated to
    ``h <= 0``.  The four per-unit parameters are learned (``gamma_±`` kept at or above ``min_gamma``
    by :meth:`constrain_`; they start at ``gamma = 1``, ``theta = 0``, a standard Gaussian).  They act
    as the layer's bias (:attr:`carries_bias`): a model keeps none for these units and passes zeros.

    With ``x_+ = (I - theta_+) / sqrt(gamma_+)`` and ``x_- = -(I - theta_-) / sqrt(gamma_-)``,

        Z_± = int_{±h >= 0} exp(-U(h) + h I) dh = exp(g(x_±)) / sqrt(gamma_±),
        g(x) = x^2 / 2 + log Phi(x) + log sqrt(2 pi),

    ``log Z = logaddexp(log Z_+, log Z_-)`` and each half is a truncated normal with mean
    ``±m(x_±) / sqrt(gamma_±)`` and variance ``v(x_±) / gamma_±`` (``m``, ``v``: see
    :func:`_half_gaussian`).  Everything is computed in float64, whatever the dtype of ``I``, and is
    stable for ``|x|`` up to ``1e5`` and beyond: ``g`` from ``erfc`` for ``x >= 0`` (no overflow:
    ``x^2 / 2`` is added in the log domain), from ``erfcx`` for ``-6 <= x < 0`` and from Laplace's
    continued fraction for Mills' ratio below, where ``x^2 / 2 + log Phi(x)``, the mean ``x + phi / Phi``
    and the variance would cancel.  ``d log Z / dI = E[h | I]``, ``d^2 log Z / dI^2 = Var[h | I]``,
    ``d log Z / d gamma_± = -E[h_±^2] / 2`` and ``d log Z / d theta_± = -E[h_±]``.

    Scale invariance: ``h -> c h``, ``W -> W / c``, ``gamma_± -> gamma_± / c^2``, ``theta_± -> theta_± / c``
    multiplies ``Z(I)`` by the constant ``c`` and so leaves ``p(v)`` unchanged; the likelihood cannot fix
    ``c``.  It is fixed with Tubiana et al.'s convention, each hidden unit having unit variance on the
    data: when :func:`~torchrbm.fit` ends, :meth:`unit_scale` on the monitored training rows and
    :meth:`rescale_`, with the weights into the units divided by ``c``
    (:meth:`~torchrbm.models.base.BipartiteRBM.rescale_hidden_`).  Between updates the scale stays free
    (rescaling during training slowed learning; see :func:`torchrbm.training.loop._fix_hidden_scale`).
    """

    name = "drelu"
    carries_bias = True
    learns_as_hidden = True
    scale_invariant = True

    def __init__(self, n_units: int | None = None, *, min_gamma: float = 0.05) -> None:
        if not 0 < min_gamma <= 1:
            raise ValueError(f"min_gamma must lie in (0, 1] (gamma starts at 1); found {min_gamma}")
        self.min_gamma = float(min_gamma)
        super().__init__(n_units)

    def bind(self, n_units: int) -> Units:
        """Also creates the parameters ``gamma_±`` (ones) and ``theta_±`` (zeros), one per unit."""
        super().bind(n_units)
        if not hasattr(self, "gamma_plus"):
            self.gamma_plus = nn.Parameter(torch.ones(n_units))
            self.gamma_minus = nn.Parameter(torch.ones(n_units))
            self.theta_plus = nn.Parameter(torch.zeros(n_units))
            self.theta_minus = nn.Parameter(torch.zeros(n_units))
        return self

    def constrain_(self) -> None:
        """Keep ``gamma_± >= min_gamma`` (called after each update)."""
        with torch.no_grad():
            self.gamma_plus.clamp_(min=self.min_gamma)
            self.gamma_minus.clamp_(min=self.min_gamma)

    def absorb_bias_(self, field: Tensor) -> None:
        """An energy term ``-field^T h`` moved into the thresholds: ``theta_± <- theta_± - field``."""
        with torch.no_grad():
            self.theta_plus.sub_(field.to(self.theta_plus.dtype))
            self.theta_minus.sub_(field.to(self.theta_minus.dtype))

    def _halves(self, pre: Tensor) -> _Halves:
        """Both halves from one evaluation of :func:`_half_gaussian` on ``x_+`` and ``x_-`` stacked (half the
        calls: for a batch of inputs their fixed cost is most of the time)."""
        u = pre.double()
        per_half = (2, *([1] * (u.dim() - 1)), -1)  # broadcasts against (2, *pre.shape)
        scale = torch.stack([self.gamma_plus, self.gamma_minus]).double().rsqrt()
        signed = torch.stack([scale[0], -scale[1]]).reshape(per_half)  # x_- = -(I - theta_-) s_-
        theta = torch.stack([self.theta_plus, self.theta_minus]).double()
        g, m, v = _half_gaussian(x := (u - theta.reshape(per_half)) * signed)
        log, mean, var = g + scale.log().reshape(per_half), m * signed, v * scale.square().reshape(per_half)
        return _Halves(x[0], x[1], scale[0], scale[1], log[0], log[1], mean[0], mean[1], var[0], var[1])

    def log_partition_terms(self, pre: Tensor) -> Tensor:
        """``log Z(I_j) = logaddexp(log Z_+, log Z_-)`` for each unit: the terms :meth:`log_partition` sums."""
        return self._log_partition_terms(pre).to(pre.dtype)

    def _log_partition_terms(self, pre: Tensor) -> Tensor:
        halves = self._halves(pre)
        return torch.logaddexp(halves.log_plus, halves.log_minus)

    def log_partition(self, pre: Tensor) -> Tensor:
        """``sum_j log Z(I_j)``, accumulated in float64."""
        return self._log_partition_terms(pre).sum(-1).to(pre.dtype)

    def mean(self, pre: Tensor) -> Tensor:
        """``E[h | I] = p_+ mu_+ + p_- mu_-`` with ``p_± = Z_± / Z`` and ``mu_±`` each half's mean."""
        return self._halves(pre).mean().to(pre.dtype)

    def variance(self, pre: Tensor) -> Tensor:
        """``Var[h | I] = p_+ V_+ + p_- V_- + p_+ p_- (mu_+ - mu_-)^2``, the second derivative of ``log Z``."""
        return self._halves(pre).variance().to(pre.dtype)

    def _draw(self, halves: _Halves, generator: torch.Generator | None) -> Tensor:
        """Pick a half with probability ``Z_± / Z``, then draw from it by :func:`_half_gaussian_draw`."""
        x_plus = halves.x_plus.detach()
        # [0, 1) moved off 0: both logarithms and Phi^-1 stay finite.
        uniform = torch.rand((2, *x_plus.shape), generator=generator, device=x_plus.device,
                             dtype=torch.float64).clamp_(min=2.0**-54)
        plus = uniform[0].log() < F.logsigmoid(halves.log_plus - halves.log_minus).detach()
        t = _half_gaussian_draw(torch.where(plus, x_plus, halves.x_minus.detach()), uniform[1])
        return torch.where(plus, t * halves.scale_plus.detach(), -t * halves.scale_minus.detach())

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        with torch.no_grad():
            return self._draw(self._halves(pre), generator).to(pre.dtype)

    def mean_and_sample(
        self, pre: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        halves = self._halves(pre)
        with torch.no_grad():
            sample = self._draw(halves, generator).to(pre.dtype)
        return halves.mean().to(pre.dtype), sample

    def log_partition_grads(self, pre: Tensor, coefficients: Tensor) -> dict[str, Tensor]:
        """``sum_n c_n d log Z(I_n) / d theta`` in closed form: ``d log Z / d gamma_± = -E[h_±^2] / 2`` and
        ``d log Z / d theta_± = -E[h_±]``, with ``E[h_±] = p_± mu_±`` and ``E[h_±^2] = p_± (V_± + mu_±^2)``."""
        with torch.no_grad():
            halves = self._halves(pre)
            weight_plus, weight_minus = halves.weights()
            c = coefficients.double()
            first_plus, first_minus = weight_plus * halves.mean_plus, weight_minus * halves.mean_minus
            second_plus = weight_plus * (halves.var_plus + halves.mean_plus.square())
            second_minus = weight_minus * (halves.var_minus + halves.mean_minus.square())
            grads = {"gamma_plus": -0.5 * (c @ second_plus), "gamma_minus": -0.5 * (c @ second_minus),
                     "theta_plus": -(c @ first_plus), "theta_minus": -(c @ first_minus)}
        return {name: grad.to(self.get_parameter(name).dtype) for name, grad in grads.items()}

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``sum_j U_j(h_j) - c_j h_j`` (``c`` is zero in a model: these units carry their own bias)."""
        positive, negative = x.clamp(min=0), x.clamp(max=0)
        potential = (positive * (0.5 * self.gamma_plus * positive + self.theta_plus)
                     + negative * (0.5 * self.gamma_minus * negative + self.theta_minus))
        return (potential - bias * x).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The input ``I`` with ``E[h | I] = mean`` under the current parameters (what a bias would have to add;
        a model keeps no bias for these units).  ``E[h | I]`` increases with ``I`` (its slope is
        ``Var[h | I] > 0``) and grows without bound both ways, so doubling ``[-1, 1]`` brackets the root and
        bisection finds it, robust where the mean is nearly flat (large ``theta_+ - theta_-``)."""
        with torch.no_grad():
            target = mean.double()
            low, high = torch.full_like(target, -1.0), torch.full_like(target, 1.0)
            for _ in range(64):
                below, above = self._halves(low).mean() > target, self._halves(high).mean() < target
                if not bool((below | above).any()):
                    break
                low, high = torch.where(below, 2 * low, low), torch.where(above, 2 * high, high)
            for _ in range(128):
                middle = 0.5 * (low + high)
                too_high = self._halves(middle).mean() > target
                low, high = torch.where(too_high, low, middle), torch.where(too_high, middle, high)
            return (0.5 * (low + high)).to(mean.dtype)

    def unit_scale(self, pre: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        """``c = 1 / s``, one per unit: ``s^2`` is the variance of ``h`` on the data, whose inputs ``I`` are
        the rows of ``pre`` (weighted by ``sample_weight``).  By the law of total variance
        ``s^2 = mean_n Var[h | I_n] + var_n E[h | I_n]``."""
        with torch.no_grad():
            halves = self._halves(pre)
            if sample_weight is None:
                sample_weight = torch.ones(pre.shape[0], device=pre.device)
            w = sample_weight.double() / sample_weight.double().sum()
            means = halves.mean()
            average = w @ means
            variance = w @ halves.variance() + w @ (means - average).square()
            return variance.rsqrt().to(pre.dtype)

    def rescale_(self, scale: Tensor) -> None:
        """``h -> c h``: ``gamma_± <- gamma_± / c^2``, ``theta_± <- theta_± / c``.  The ``min_gamma`` floor is
        not applied here (it would change the model); the next :meth:`constrain_` applies it."""
        with torch.no_grad():
            c = scale.double()
            for name, power in (("gamma_plus", 2), ("gamma_minus", 2), ("theta_plus", 1), ("theta_minus", 1)):
                parameter = self.get_parameter(name)
                parameter.copy_(parameter.double() / c.pow(power))

    def check_values(self, x: Tensor, name: str) -> None:
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} must be finite real values for dReLU units; found NaN or infinite values")

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "min_gamma": self.min_gamma}
