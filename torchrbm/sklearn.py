"""scikit-learn estimators: ``torchrbm.sklearn.RBM`` and ``BernoulliRBM``, drop-ins for ``BernoulliRBM``.

They keep scikit-learn's parameter names (``n_components``, ``learning_rate``,
``batch_size``, ``n_iter``, ``verbose``, ``random_state``), fitted attributes
(``components_``, ``intercept_hidden_``, ``intercept_visible_``, ``h_samples_``),
output feature names and verbose lines, and add the sampler, ``k``, momentum,
weight decay and the device.  They work in ``Pipeline`` and ``GridSearchCV`` and
accept dense arrays and scipy sparse matrices; a sparse matrix trains exactly
the model its dense form trains.  :class:`BernoulliRBM` differs from
:class:`RBM` only in its name (which prefixes its feature names and verbose
lines) and in starting the visible biases at zero, as scikit-learn's does, so
that code written for scikit-learn's class runs unchanged after its import.

The fitted torch model is ``rbm_`` (a :class:`torchrbm.RBM`), so every torchrbm
estimator and plot applies to it.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils.validation import check_device, numeric_tensor, stacklevel_outside
from .estimation.ais import ais
from .estimation.estimate import pseudo_log_likelihood_per_example
from .models.rbm import RBM as _TorchRBM
from .sampling.samplers import PersistentSampler, get_sampler
from .training.fit import fit as _fit

_SCORE_METHODS = ("pll", "pll-stochastic", "ais")
_VISIBLE_BIAS_INITS = ("data", "zero")
_ROWS_PER_CHUNK = 4096


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli restricted Boltzmann machine with scikit-learn's interface.

    Parameters
    ----------
    n_components:
        Number of hidden units.
    learning_rate:
        Step size of the mean gradient over a mini-batch (scikit-learn's scale).
    batch_size:
        Examples per mini-batch.
    n_iter:
        Passes over the training data.
    verbose:
        If true, ``fit`` prints after each pass scikit-learn's pseudo-likelihood estimate
        on ``X`` (one random bit per example, from a generator of its own, so
        that printing changes nothing in the fit), the pass's training time and
        the reconstruction error.
    random_state:
        Seed (``int``), ``numpy.random.RandomState`` or ``None``; an ``int`` makes
        ``fit`` reproducible.
    sampler:
        ``"pcd"`` (persistent chains, one per example of a mini-batch, that keep
        their hidden states between updates: ``BernoulliRBM``'s algorithm,
        :class:`torchrbm.PCD` with ``keep_hidden=True``), ``"cd"`` or ``"pt"``.
    k:
        Gibbs steps per update.
    momentum, weight_decay:
        Momentum of the SGD update and L2 penalty on the weights.
    score_method:
        What :meth:`score_samples` returns per example: ``"pll"`` the exact
        pseudo-log-likelihood (every bit, deterministic), ``"pll-stochastic"``
        scikit-learn's one-random-bit estimate of it (same scale), or ``"ais"`` the
        log-likelihood ``-F(v) - log Z`` with ``log Z`` from annealed importance sampling.
    device:
        Where the model lives and trains (``"cpu"``, ``"cuda"``).
    visible_bias_init:
        ``"data"``: each visible bias starts at ``log(p_i / (1 - p_i))`` of the
        training data's mean ``p_i`` (Hinton's practical guide); ``"zero"``: at 0, as
        in scikit-learn's ``BernoulliRBM``.

    Notes
    -----
    Visible units are binary: values in ``[0, 1]`` are read as probabilities of
    being on.  Values outside ``[0, 1]`` are clipped to it, with a warning that
    names their range (the input array is not changed).  The pseudo-likelihood
    scores of values strictly between 0 and 1 use scikit-learn's formula (the
    flipped value is ``1 - v``); they are likelihoods only for binary data.
    """

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        verbose: int = 0,
        random_state=None,
        sampler: str = "pcd",
        k: int = 1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        score_method: str = "pll",
        device: str = "cpu",
        visible_bias_init: str = "data",
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.sampler = sampler
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.score_method = score_method
        self.device = device
        self.visible_bias_init = visible_bias_init

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None) -> RBM:
        """Fit the model to ``X`` (``n_iter`` passes), starting afresh."""
        return self._train(self._initialise(X), self.n_iter, report=bool(self.verbose))

    def partial_fit(self, X, y=None) -> RBM:
        """One pass over ``X`` in mini-batches, continuing from the current model
        (and its persistent chains); the first call initialises the model."""
        X = self._validate(X, reset=False) if hasattr(self, "rbm_") else self._initialise(X)
        return self._train(X, 1, report=False)  # silent, as BernoulliRBM's partial_fit is

    def _initialise(self, X) -> torch.Tensor:
        check_device(self.device)
        if self.visible_bias_init not in _VISIBLE_BIAS_INITS:
            raise ValueError(f"visible_bias_init must be one of {', '.join(_VISIBLE_BIAS_INITS)}; "
                             f"found {self.visible_bias_init!r}")
        X = self._validate(X, reset=True)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.generator_ = torch.Generator(device=self.device).manual_seed(seed)
        self.rbm_ = _TorchRBM(X.shape[1], self.n_components, data=X if self.visible_bias_init == "data" else None,
                              generator=self.generator_, device=self.device)
        self.sampler_ = get_sampler(self.sampler, k=self.k, n_chains=min(self.batch_size, X.shape[0]),
                                    keep_hidden=True)
        return X

    def _train(self, X: torch.Tensor, n_iter: int, *, report: bool) -> RBM:
        _fit(self.rbm_, X, sampler=self.sampler_, epochs=n_iter, batch_size=self.batch_size,
             lr=self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay,
             generator=self.generator_, monitor_size=min(1000, X.shape[0]), monitor=report,
             callbacks=[self._verbose_line(X)] if report else ())
        return self

    def _verbose_line(self, X: torch.Tensor):
        """A callback printing scikit-learn's verbose line after each pass, with the reconstruction error."""
        generator = torch.Generator(device=self.device).manual_seed(0)

        def report(model, record) -> None:
            pll = self._rows(lambda rows: pseudo_log_likelihood_per_example(
                model, rows, "stochastic", generator=generator, binary_only=False), X).mean()
            print(f"[{type(self).__name__}] Iteration {record['epoch'] + 1}, "
                  f"pseudo-likelihood = {pll:.2f}, time = {record['time']:.2f}s, "
                  f"reconstruction error = {record['recon_error']:.4f}", flush=True)

        return report

    # ----------------------------------------------------------- inference
    def transform(self, X) -> np.ndarray:
        """The hidden units' probabilities ``p(h_j = 1 | v) = sigmoid(b_j + v^T W_:j)``."""
        check_is_fitted(self)
        X, dtype = self._validate(X, reset=False, keep_dtype=True)
        out = self._rows(self.rbm_.prob_h, X)
        return out.astype(dtype, copy=False)

    def gibbs(self, v) -> np.ndarray:
        """One Gibbs step from ``v``: ``h ~ p(h | v)``, then ``v' ~ p(v | h)``."""
        check_is_fitted(self)
        v, dtype = self._validate(v, reset=False, keep_dtype=True)
        step = self.rbm_.gibbs
        out = self._rows(lambda rows: step(rows, 1, generator=self.generator_), v)
        return out.astype(dtype, copy=False)

    def score_samples(self, X) -> np.ndarray:
        """Per-example score of ``score_method`` (see the class docstring), in nats."""
        check_is_fitted(self)
        if self.score_method not in _SCORE_METHODS:
            raise ValueError(f"score_method must be one of {', '.join(_SCORE_METHODS)}; found {self.score_method!r}")
        X, dtype = self._validate(X, reset=False, keep_dtype=True)
        if self.score_method == "ais":
            log_z = ais(self.rbm_, generator=self.generator_).log_z
            out = self._rows(lambda rows: -self.rbm_.free_energy(rows).double() - log_z, X)
        else:
            method = "full" if self.score_method == "pll" else "stochastic"
            out = self._rows(lambda rows: pseudo_log_likelihood_per_example(
                self.rbm_, rows, method, generator=self.generator_, binary_only=False), X)
        return out.astype(dtype, copy=False)

    # ------------------------------------------------------ fitted weights
    @property
    def components_(self) -> np.ndarray:
        """Weights, ``(n_components, n_features)`` (``W`` transposed)."""
        return self.rbm_.W.detach().T.cpu().numpy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        return self.rbm_.b.detach().cpu().numpy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        return self.rbm_.a.detach().cpu().numpy()

    @property
    def h_samples_(self) -> np.ndarray:
        """Hidden states of the persistent chains (``(n_chains, n_components)``), as ``BernoulliRBM``
        keeps them: with ``"pcd"`` the states the chains keep between updates (drawn at the end of the
        last update, before its parameter change); with ``"pt"``, ``h ~ p(h | v)`` of the chains at
        temperature 1, drawn from a copy of the estimator's generator (reading it changes nothing
        and gives the same states until that generator is used again).  Only persistent
        samplers have chains; with ``sampler="cd"`` the attribute does not exist.
        """
        check_is_fitted(self)
        if not isinstance(self.sampler_, PersistentSampler):
            raise AttributeError(f"h_samples_ belongs to persistent samplers ('pcd', 'pt'); this estimator's "
                                 f"sampler is {self.sampler_!r}")
        chains = self.sampler_.chains
        if chains is None:
            raise AttributeError("h_samples_: the persistent chains start at the first update, and there was none")
        kept = getattr(self.sampler_, "hidden", None)
        if kept is not None:
            return kept[: self.sampler_.n_chains].cpu().numpy()
        generator = torch.Generator(device=self.generator_.device)
        generator.set_state(self.generator_.get_state())
        with torch.no_grad():
            return self.rbm_.sample_h(chains[: self.sampler_.n_chains], generator).cpu().numpy()

    # BernoulliRBM's private helpers, kept so that code written against it runs unchanged.
    def _mean_hiddens(self, v) -> np.ndarray:
        """:meth:`transform`, also of a single example given as a 1-D array."""
        one_example = not sp.issparse(v) and np.ndim(v) == 1
        hidden = self.transform(np.reshape(v, (1, -1)) if one_example else v)
        return hidden[0] if one_example else hidden

    def _sample_hiddens(self, v, rng: np.random.RandomState) -> np.ndarray:
        """``h ~ p(h | v)`` as booleans, with the uniforms drawn from ``rng``."""
        mean = self._mean_hiddens(v)
        return rng.uniform(size=mean.shape) < mean

    @property
    def _n_features_out(self) -> int:
        check_is_fitted(self)  # so that get_feature_names_out refuses an unfitted estimator
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # --------------------------------------------------------------- helpers
    def _validate(self, X, *, reset: bool, keep_dtype: bool = False):
        """Checked float32 tensor of ``X`` (dense, sparse, or a torch tensor) on the model's device."""
        if isinstance(X, torch.Tensor):  # NumPy has no bfloat16: such tensors arrive as float32
            X = numeric_tensor(X, "X").detach().cpu()
            X = (X.float() if X.dtype in (torch.bfloat16, torch.float16) else X).numpy()
        X = validate_data(self, X, accept_sparse=("csr", "csc", "coo"), dtype=(np.float64, np.float32),
                          reset=reset)
        dtype = X.dtype
        dense = X.toarray() if sp.issparse(X) else X
        low, high = float(dense.min()), float(dense.max())
        if low < 0 or high > 1:
            warnings.warn(f"X has values from {low:g} to {high:g}; Bernoulli visible units read values as "
                          "probabilities in [0, 1], so they were clipped to [0, 1] (scale the data into [0, 1] "
                          "first; sklearn.preprocessing.MinMaxScaler(clip=True) also keeps new data beyond the "
                          "training range inside it)", UserWarning,
                          stacklevel=stacklevel_outside("torchrbm", "sklearn"))
            dense = np.clip(dense, 0, 1)
        tensor = torch.as_tensor(np.asarray(dense, dtype=np.float32), device=self.device)
        return (tensor, dtype) if keep_dtype else tensor

    def _rows(self, function, X: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            parts = [function(X[start : start + _ROWS_PER_CHUNK]) for start in range(0, X.shape[0], _ROWS_PER_CHUNK)]
        return torch.cat(parts).cpu().numpy()


def _with_defaults(function, qualname: str, **defaults):
    """A copy of ``function`` (same code), named ``qualname``, with other defaults for some keyword-only
    parameters.

    scikit-learn reads an estimator's parameters and their defaults from the
    signature of its ``__init__``, so a subclass that only changes a default needs
    an ``__init__`` of its own; this one shares the parent's code.
    """
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)
    unknown = set(defaults) - set(function.__kwdefaults__)
    if unknown:
        raise TypeError(f"{function.__qualname__} has no keyword-only parameters {sorted(unknown)}")
    copy.__kwdefaults__ = {**function.__kwdefaults__, **defaults}
    copy.__qualname__, copy.__doc__ = qualname, function.__doc__
    copy.__annotations__ = dict(function.__annotations__)
    return copy


class BernoulliRBM(RBM):
    """:class:`RBM` under scikit-learn's name, with its visible biases starting at zero.

    The name prefixes the output feature names (``bernoullirbm0``, ...) and the
    verbose lines, as scikit-learn's ``BernoulliRBM`` does; every parameter is
    :class:`RBM`'s, and only the default of ``visible_bias_init`` differs.
    """

    __init__ = _with_defaults(RBM.__init__, "BernoulliRBM.__init__", visible_bias_init="zero")
