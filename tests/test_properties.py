"""Property-based tests (hypothesis): every public function that takes data, fed random shapes, dtypes,
containers (NumPy, torch, bfloat16, nested lists, scipy sparse, meta tensors, junk) and values (NaN, inf,
huge, out of range, empty), either returns the right result or raises the documented TypeError /
ValueError. An oracle written independently of torchrbm's validation decides which of the two is due;
a valid input must give a finite result of the right shape that equals the result for the same values
as a plain float32 tensor."""

import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import torchrbm as tr
from torchrbm.sklearn import RBM as SklearnRBM

N_VISIBLE, N_HIDDEN = 3, 2
EXAMPLES = 250
FLOAT32_MAX = float(np.finfo(np.float32).max)
SETTINGS = settings(max_examples=EXAMPLES, deadline=5000, suppress_health_check=list(HealthCheck),
                    derandomize=True)

VALUES = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1),
                   st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 2.0, 1e300, -1e300, 5e-324, 0.5]))
DTYPES = [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64, np.complex64]
CONTAINERS = ["numpy", "torch", "bfloat16", "list", "sparse", "meta", "junk"]


CLEAN_VALUES = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))
CLEAN_DTYPES = [np.bool_, np.uint8, np.int64, np.float16, np.float32, np.float64]


@st.composite
def inputs(draw, width: int, min_dims: int = 0, max_dims: int = 3, clean_dims: int | None = None):
    """(object passed to the function, its values as float64 or None when it is not numeric/real).

    Half of the draws are well formed (the right width, values in [0, 1], a numeric container), so
    that the success path is exercised as often as the error paths."""
    clean = draw(st.booleans())
    container = draw(st.sampled_from(CONTAINERS[:5] if clean else CONTAINERS))
    if container == "junk":
        return draw(st.sampled_from([None, "0 1 0", {"v": [0, 1, 0]}, object(), b"\x00\x01\x00"])), None
    dims = clean_dims if clean and clean_dims else draw(st.integers(max(min_dims, 1) if clean else min_dims, max_dims))
    lead = draw(st.lists(st.integers(1 if clean else 0, 3), min_size=max(dims - 1, 0), max_size=max(dims - 1, 0)))
    last = width if clean else draw(st.sampled_from([width, width, width, 0, width - 1, width + 1]))
    shape = (*lead, last) if dims else ()
    raw = draw(hnp.arrays(np.float64, shape, elements=CLEAN_VALUES if clean else VALUES))
    dtype = draw(st.sampled_from(CLEAN_DTYPES if clean else DTYPES))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = raw.astype(dtype)
    if container == "meta":
        return torch.empty(shape, device="meta"), None
    if np.iscomplexobj(array):
        return (torch.from_numpy(array) if container == "torch" else array), None
    values = array.astype(np.float64)
    if container == "torch":
        return torch.from_numpy(array), values
    if container == "bfloat16":
        tensor = torch.from_numpy(values).to(torch.bfloat16)
        return tensor, tensor.double().numpy()
    if container == "list":  # an empty list loses the shape: [] is (0,)
        return array.tolist(), np.asarray(array.tolist(), dtype=np.float64)
    if container == "sparse" and array.ndim == 2 and array.dtype not in (np.float16, np.bool_):
        return scipy.sparse.csr_matrix(array), values
    return array, values


def valid(values, *, width: int, data: bool, binary: bool = False, clip: bool = False,
          allow_empty: bool = False, any_width: bool = False, real: bool = False,
          ignored_column: int | None = None, any_range: bool = False, varying: bool = False,
          images: bool = True) -> bool:
    """The documented contract: numeric and real, the right width (and 2-D, non-empty unless
    ``allow_empty``, for data, where ``images`` of 3 or 4 dimensions count as rows of their values),
    finite and within float32's range, and in [0, 1] (exactly 0/1 if ``binary``) unless ``clip``."""
    if data and images and values is not None and values.ndim in (3, 4):
        values = values.reshape(values.shape[0], int(np.prod(values.shape[1:])))
    if values is None or values.ndim == 0 or (values.shape[-1] != width and not any_width):
        return False
    if ignored_column is not None and values.ndim == 2:  # missing units of inpainting: anything goes
        values = values.copy()
        values[:, ignored_column] = 0
    if data and (values.ndim != 2 or values.shape[1] == 0 or (values.shape[0] == 0 and not allow_empty)):
        return False
    if not np.all(np.isfinite(values)) or (np.any(np.abs(values) > FLOAT32_MAX) and not clip):
        return False
    if varying and not np.any(values.max(0) != values.min(0)):  # some column that is not constant
        return False
    if any_range:
        return True
    if real:  # Gaussian units: any value whose square a float32 energy holds
        return bool(np.all(np.abs(values) <= 1e15))
    if binary:
        return bool(np.all((values == 0) | (values == 1)))
    return clip or bool(np.all((values >= 0) & (values <= 1)))


def rbm() -> tr.RBM:
    model = tr.RBM(N_VISIBLE, N_HIDDEN, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.a.copy_(torch.tensor([0.1, -0.2, 0.3]))
        model.b.copy_(torch.tensor([-0.1, 0.2]))
    return model


def check(name, function, x, values, is_valid: bool, expected_shape=None, reference=None,
          errors: tuple[type[Exception], ...] = (TypeError, ValueError)):
    """Run ``function(x)``: a result when ``is_valid`` (finite, shaped, equal to ``reference``), else
    one of ``errors``."""
    event("valid input" if is_valid else "invalid input")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not is_valid:
            with pytest.raises(errors):
                function(x)
            return
        result = function(x)
    if isinstance(result, torch.Tensor):
        assert torch.isfinite(result.float()).all(), (name, values, result)
        if expected_shape is not None:
            assert tuple(result.shape) == expected_shape(values), (name, values.shape, result.shape)
        if reference is not None:
            torch.testing.assert_close(result, reference(torch.from_numpy(values).float()), msg=name)
    else:
        assert np.all(np.isfinite(np.asarray(result, dtype=float))), (name, values, result)


MODEL = rbm()
CONV = tr.ConvRBM((2, 2), 2, 2, generator=torch.Generator().manual_seed(0))
CLASSIFIER = tr.ClassificationRBM(N_VISIBLE, 2, 4, generator=torch.Generator().manual_seed(0))
GAUSSIAN = tr.RBM(N_VISIBLE, N_HIDDEN, visible=tr.units.Gaussian(sigma=0.5), generator=torch.Generator().manual_seed(0))
FITTED = SklearnRBM(n_components=2, n_iter=1, random_state=0).fit(np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1.0]]))
LAYER_METHODS = {
    "RBM.free_energy": (lambda x: MODEL.free_energy(x), N_VISIBLE, lambda v: v.shape[:-1]),
    "RBM.prob_h": (lambda x: MODEL.prob_h(x), N_VISIBLE, lambda v: (*v.shape[:-1], N_HIDDEN)),
    "RBM.prob_v": (lambda x: MODEL.prob_v(x), N_HIDDEN, lambda h: (*h.shape[:-1], N_VISIBLE)),
    "RBM.hidden_preactivation": (lambda x: MODEL.hidden_preactivation(x), N_VISIBLE,
                                 lambda v: (*v.shape[:-1], N_HIDDEN)),
    "RBM.free_energy_hidden": (lambda x: MODEL.free_energy_hidden(x), N_HIDDEN, lambda h: h.shape[:-1]),
    "Gaussian RBM.free_energy": (lambda x: GAUSSIAN.free_energy(x), N_VISIBLE, lambda v: v.shape[:-1]),
    "Gaussian RBM.prob_h": (lambda x: GAUSSIAN.prob_h(x), N_VISIBLE, lambda v: (*v.shape[:-1], N_HIDDEN)),
    "ConvRBM.free_energy": (lambda x: CONV.free_energy(x), 4, lambda v: v.shape[:-1]),
    # sampling from a fixed seed: the same draws for the same values
    "RBM.sample_h": (lambda x: MODEL.sample_h(x, torch.Generator().manual_seed(0)), N_VISIBLE,
                     lambda v: (*v.shape[:-1], N_HIDDEN)),
    "RBM.sample_v": (lambda x: MODEL.sample_v(x, torch.Generator().manual_seed(0)), N_HIDDEN,
                     lambda h: (*h.shape[:-1], N_VISIBLE)),
    "RBM.gibbs": (lambda x: MODEL.gibbs(x, 3, torch.Generator().manual_seed(0)), N_VISIBLE, lambda v: v.shape),
}


@pytest.mark.parametrize("name", sorted(LAYER_METHODS))
@SETTINGS
@given(data=st.data())
def test_layer_methods(name, data):
    method, width, shape = LAYER_METHODS[name]
    x, values = data.draw(inputs(width))
    check(name, method, x, values, valid(values, width=width, data=False, real=name.startswith("Gaussian")), shape,
          reference=lambda tensor: method(tensor))



def _pretrained_weights(x):
    dbn = tr.DBN([N_VISIBLE, 2, 2], generator=torch.Generator().manual_seed(0))
    dbn.pretrain(x, epochs=1, batch_size=2, lr=0.1, seed=0)
    return torch.cat([layer.W.detach().flatten() for layer in dbn.layers])


def _fit(x):
    model = rbm()
    tr.fit(model, x, epochs=1, batch_size=2, lr=0.1, sampler=tr.PCD(n_chains=4), seed=0)
    return model.W.detach()


DATA_FUNCTIONS = {
    "fit": (_fit, {"paths": True}),
    "log_likelihood (exact)": (lambda x: tr.log_likelihood(MODEL, x, method="exact"), {}),
    "reconstruction_error": (lambda x: tr.reconstruction_error(MODEL, x), {}),
    "mean_free_energy": (lambda x: tr.mean_free_energy(MODEL, x), {}),
    "pseudo_log_likelihood": (lambda x: tr.pseudo_log_likelihood(MODEL, x), {"binary": True}),
    "evaluate": (lambda x: tr.evaluate(MODEL, x, ("exact", "recon", "fe"))["exact"]["log_likelihood"], {}),
    "RBM.inpaint": (lambda x: MODEL.inpaint(x, torch.tensor([False, True, False]), steps=4,
                                            generator=torch.Generator().manual_seed(0)),
                    {"allow_empty": True, "ignored_column": 1, "images": False}),
    "RBM(data=...)": (lambda x: tr.RBM(N_VISIBLE, N_HIDDEN, data=x).a.detach(), {"none_ok": True}),
    "DBN.transform": (lambda x: tr.DBN([N_VISIBLE, 2, 2], generator=torch.Generator().manual_seed(0)).transform(x),
                      {}),
    "sklearn RBM.fit": (lambda x: torch.as_tensor(SklearnRBM(n_components=2, n_iter=1, random_state=0)
                                                  .fit(x).components_),
                        {"clip": True, "any_width": True, "images": False}),
    "sklearn RBM.transform": (lambda x: torch.as_tensor(FITTED.transform(x)), {"clip": True, "images": False}),
    "sklearn RBM.score_samples": (lambda x: torch.as_tensor(FITTED.score_samples(x)),
                                  {"clip": True, "images": False}),
    "ais(data=...)": (lambda x: tr.ais(MODEL, n_chains=4, n_betas=10, data=x, seed=0).log_z, {"none_ok": True}),
    "reverse_ais": (lambda x: tr.reverse_ais(MODEL, x, n_chains=4, n_betas=10, seed=0).log_z, {}),
    "ClassificationRBM.predict_proba": (lambda x: CLASSIFIER.predict_proba(x), {}),
    "free_energy_gap": (lambda x: tr.free_energy_gap(MODEL, x, x), {}),
    "DBN.pretrain": (lambda x: _pretrained_weights(x), {}),
    "datasets.standardize": (lambda x: tr.datasets.standardize(x, drop_constant=True)[0],
                             {"any_width": True, "any_range": True, "varying": True}),
}


@pytest.mark.parametrize("name", sorted(DATA_FUNCTIONS))
@SETTINGS
@given(data=st.data())
def test_data_entry_points(name, data):
    function, contract = DATA_FUNCTIONS[name]
    x, values = data.draw(inputs(N_VISIBLE, min_dims=0, max_dims=3, clean_dims=2))
    none_ok = contract.get("none_ok", False)  # the default "no data"
    rules = {key: value for key, value in contract.items() if key not in ("none_ok", "paths")}
    is_valid = (x is None and none_ok) or valid(values, width=N_VISIBLE, data=True, **rules)
    path = contract.get("paths", False) and isinstance(x, str)  # a string is a file's path, here of none
    check(name, function, x, values, is_valid, errors=(FileNotFoundError,) if path else (TypeError, ValueError))



@SETTINGS
@given(data=st.data(), method=st.sampled_from(["threshold", "stochastic"]))
def test_binarize(data, method):
    """Any shape of values in [0, 1], or of uint8 grey levels (read as x / 255), becomes 0/1 of that shape."""
    x, values = data.draw(inputs(N_VISIBLE))
    is_valid = values is not None and bool(np.all(np.isfinite(values)) and np.all(np.abs(values) <= FLOAT32_MAX))
    if is_valid:
        values = np.asarray(values)
        is_valid = values.dtype in (np.uint8, np.bool_) or bool(np.all((values >= 0) & (values <= 1)))
    check(f"binarize {method}", lambda x: tr.datasets.binarize(x, method), x, values, is_valid,
          expected_shape=lambda v: v.shape)
