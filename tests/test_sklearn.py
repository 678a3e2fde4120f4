"""The scikit-learn estimator: scikit-learn's own checks, sparse input, pipelines and scores."""

import importlib
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import torchrbm as tr
from torchrbm.sklearn import RBM
from torchrbm.sklearn import BernoulliRBM as DropIn


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x > 7).astype(np.float64), y


@parametrize_with_checks([RBM(n_components=8, n_iter=2, random_state=0),
                          DropIn(n_components=8, n_iter=2, random_state=0, sampler="cd")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_sparse_input_trains_the_same_model_as_its_dense_form(digits):
    x, _ = digits
    dense = RBM(n_components=16, n_iter=2, random_state=3).fit(x)
    sparse = RBM(n_components=16, n_iter=2, random_state=3).fit(sp.csr_matrix(x))
    np.testing.assert_array_equal(sparse.components_, dense.components_)
    np.testing.assert_array_equal(sparse.intercept_hidden_, dense.intercept_hidden_)
    np.testing.assert_array_equal(sparse.transform(sp.csr_matrix(x[:50])), dense.transform(x[:50]))
    assert sparse.components_.shape == (16, 64)
    assert sparse.intercept_visible_.shape == (64,)


def test_grid_search_over_n_components_in_a_pipeline(digits):
    x, y = digits
    pipe = Pipeline([("rbm", RBM(n_iter=10, learning_rate=0.06, random_state=0)),
                     ("logistic", LogisticRegression(C=100, max_iter=1000))])
    search = GridSearchCV(pipe, {"rbm__n_components": [16, 64]}, cv=2).fit(x[:600], y[:600])
    assert search.best_params_["rbm__n_components"] in (16, 64)
    assert search.best_score_ > 0.6  # chance: 0.1; raw binary pixels: about 0.85


def test_transform_before_fit_raises_not_fitted(digits):
    with pytest.raises(NotFittedError):
        RBM().transform(digits[0])


def test_transform_is_the_hidden_probabilities_and_keeps_float32(digits):
    x, _ = digits
    est = RBM(n_components=10, n_iter=1, random_state=0).fit(x)
    expected = torch.sigmoid(torch.as_tensor(x[:5]) @ torch.as_tensor(est.components_.T, dtype=torch.float64)
                             + torch.as_tensor(est.intercept_hidden_, dtype=torch.float64))
    np.testing.assert_allclose(est.transform(x[:5]), expected.numpy(), rtol=1e-5)
    assert est.transform(x[:5].astype(np.float32)).dtype == np.float32


def test_pseudo_likelihood_scores_match_scikit_learns_scale(digits):
    """Our exact PLL per example, and scikit-learn's one-bit estimate averaged over
    many draws on the same weights, agree (the stochastic estimate is unbiased)."""
    x, _ = digits
    est = RBM(n_components=20, n_iter=3, random_state=0).fit(x)
    full = est.score_samples(x)
    assert full.shape == (x.shape[0],)
    assert float(full.mean()) == pytest.approx(tr.pseudo_log_likelihood(est.rbm_, x), rel=1e-6)
    reference = BernoulliRBM(n_components=20)
    reference.components_ = est.components_.astype(np.float64)
    reference.intercept_hidden_ = est.intercept_hidden_.astype(np.float64)
    reference.intercept_visible_ = est.intercept_visible_.astype(np.float64)
    reference.random_state_ = np.random.RandomState(0)
    theirs = np.mean([reference.score_samples(x).mean() for _ in range(50)])
    ours = np.mean([est.set_params(score_method="pll-stochastic").score_samples(x).mean() for _ in range(50)])
    # standard error of each 50 x 1797-draw mean: about 0.1 nat
    assert theirs == pytest.approx(full.mean(), abs=0.5)
    assert ours == pytest.approx(full.mean(), abs=0.5)


def test_ais_scores_are_log_likelihoods_close_to_exact():
    x = tr.datasets.bars_and_stripes(3).numpy().astype(np.float64)
    est = RBM(n_components=6, n_iter=200, batch_size=4, learning_rate=0.1, random_state=0, score_method="ais")
    scores = est.fit(x).score_samples(x)
    exact = -est.rbm_.free_energy(torch.as_tensor(x, dtype=torch.float32)).double() - tr.exact_log_partition(est.rbm_)
    np.testing.assert_allclose(scores, exact.detach().numpy(), atol=0.05)


def test_gibbs_returns_binary_states_and_partial_fit_continues(digits):
    x, _ = digits
    est = RBM(n_components=12, batch_size=20, random_state=0)
    est.partial_fit(x[:200])
    before = est.components_.copy()
    est.partial_fit(x[200:400])
    assert not np.array_equal(before, est.components_)
    v = est.gibbs(x[:30])
    assert v.shape == (30, 64) and set(np.unique(v)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(x[:10, :32])


def test_values_outside_the_unit_interval_warn_and_are_clipped(digits):
    x, _ = digits
    with pytest.warns(UserWarning, match=r"values from 0 to 16.*clipped"):
        scaled = RBM(n_components=4, n_iter=1, random_state=0).fit(x * 16)
    clipped = RBM(n_components=4, n_iter=1, random_state=0).fit(np.clip(x * 16, 0, 1))
    np.testing.assert_array_equal(scaled.components_, clipped.components_)
    # Through a Pipeline the warning points at the user's line, not at scikit-learn's code.
    pipeline = make_pipeline(MinMaxScaler(), RBM(n_components=4, n_iter=1, random_state=0)).fit(x[:100])
    with pytest.warns(UserWarning, match=r"MinMaxScaler\(clip=True\)") as caught:
        pipeline.transform(x[100:] * 2)
    assert caught[0].filename == __file__


def test_visible_biases_start_from_the_data_or_from_zero(digits):
    x, _ = digits
    tiny = {"n_components": 8, "n_iter": 1, "learning_rate": 1e-9, "random_state": 0}
    mean = x.mean(0).clip(1e-3, 1 - 1e-3)
    np.testing.assert_allclose(RBM(**tiny).fit(x).intercept_visible_, np.log(mean / (1 - mean)), atol=1e-5)
    np.testing.assert_allclose(RBM(**tiny, visible_bias_init="zero").fit(x).intercept_visible_, 0, atol=1e-6)
    with pytest.raises(ValueError, match="visible_bias_init must be one of data, zero; found 'mean'"):
        RBM(visible_bias_init="mean").fit(x)


@pytest.mark.slow
def test_scikit_learns_own_bernoullirbm_tests_pass_on_the_drop_in(tmp_path):
    """scikit-learn's test module for BernoulliRBM, run with only its import changed.

    Deselected: ``test_fit_gibbs``, which pins the weights that scikit-learn's own
    random stream gives for seed 42 (its comment: "very seed-dependent"); the
    distribution of those weights over seeds is compared in the next test.
    """
    spec = importlib.util.find_spec("sklearn.neural_network.tests.test_rbm")
    assert spec is not None, "this scikit-learn was installed without its tests"
    source = open(spec.origin).read()
    original = "from sklearn.neural_network import BernoulliRBM"
    assert original in source
    (tmp_path / "test_rbm.py").write_text(source.replace(original, "from torchrbm.sklearn import BernoulliRBM"))
    seed_pinned = [f"--deselect=test_rbm.py::test_fit_gibbs[{container.__name__}]"
                   for container in importlib.import_module("sklearn.utils.fixes").CSC_CONTAINERS]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
                          *seed_pinned, "test_rbm.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    assert f"{len(seed_pinned)} deselected" in run.stdout  # the seed-pinned cases, named one by one


def test_weights_on_scikit_learns_one_pixel_example_are_distributed_as_its_own():
    """``X = [[0], [1]]``, 2 hidden units, batch 2, 42 passes (scikit-learn's test_fit_gibbs)
    over 60 seeds: both libraries' weights centre on 0 with the same spread (about 0.06)."""
    x = np.array([[0.0], [1.0]])
    settings = {"n_components": 2, "batch_size": 2, "n_iter": 42}
    ours = np.array([DropIn(**settings, random_state=s).fit(x).components_.ravel() for s in range(60)])
    theirs = np.array([BernoulliRBM(**settings, random_state=s).fit(x).components_.ravel() for s in range(60)])
    assert abs(ours.mean()) < 0.03 and abs(theirs.mean()) < 0.03  # standard error of each mean: about 0.006
    assert ours.std() == pytest.approx(theirs.std(), rel=0.3)


def test_drop_in_has_scikit_learns_name_defaults_and_feature_names(digits):
    x, _ = digits
    assert DropIn().get_params() == {**RBM().get_params(), "visible_bias_init": "zero"}
    theirs = BernoulliRBM().get_params()
    assert theirs == {name: value for name, value in DropIn().get_params().items() if name in theirs}
    fitted = DropIn(n_components=3, n_iter=1, learning_rate=1e-9, random_state=0).fit(x)
    assert list(fitted.get_feature_names_out()) == ["bernoullirbm0", "bernoullirbm1", "bernoullirbm2"]
    assert list(RBM(n_components=2, n_iter=1).fit(x).get_feature_names_out()) == ["rbm0", "rbm1"]
    with pytest.raises(NotFittedError):
        DropIn(n_components=3).get_feature_names_out()
    np.testing.assert_allclose(fitted.intercept_visible_, 0, atol=1e-6)


@pytest.mark.parametrize("sampler", ["pcd", "pt"])
def test_h_samples_are_hidden_states_of_the_persistent_chains(digits, sampler):
    x, _ = digits
    est = RBM(n_components=6, batch_size=20, n_iter=2, random_state=0, sampler=sampler).fit(x)
    state = est.generator_.get_state()
    first, again = est.h_samples_, est.h_samples_
    assert first.shape == (20, 6) and set(np.unique(first)) <= {0.0, 1.0}
    np.testing.assert_array_equal(first, again)  # the kept states ("pcd"), or drawn from a copy of the generator
    if sampler == "pcd":
        np.testing.assert_array_equal(first, est.sampler_.hidden.numpy())
    mean = est.rbm_.prob_h(est.sampler_.chains[:20]).detach().numpy()
    assert abs(first.mean() - mean.mean()) < 0.2  # 120 draws: standard error at most 0.046
    assert torch.equal(est.generator_.get_state(), state)
    assert not hasattr(RBM(n_components=6, n_iter=1, sampler="cd", random_state=0).fit(x), "h_samples_")


def test_an_update_is_scikit_learns_for_the_same_uniforms():
    """The drop-in runs ``BernoulliRBM``'s algorithm (persistent chains that keep their hidden states): from
    the same parameters and chains, with scikit-learn's uniforms drawn from torch's generator in the order
    scikit-learn draws them, three updates give the same parameters (to float32 rounding) and the same
    hidden states."""
    from torchrbm.training.lean import lean_step

    x = load_digits().data[:130] / 16
    est = DropIn(n_components=16, learning_rate=0.1, n_iter=1, random_state=0).fit(x[:100])
    assert est.sampler_.keep_hidden
    theirs = BernoulliRBM(n_components=16, learning_rate=0.1, batch_size=10)
    theirs.components_, theirs.intercept_hidden_ = est.components_.astype(np.float64), est.intercept_hidden_ * 1.0
    theirs.intercept_visible_, theirs.h_samples_ = est.intercept_visible_ * 1.0, est.h_samples_ * 1.0
    generator = torch.Generator().manual_seed(5)
    copy = torch.Generator().manual_seed(5)

    class Uniforms:  # scikit-learn's draws: the visible states' uniforms, then the hidden states'
        @staticmethod
        def uniform(size):
            return torch.rand(size, generator=copy).double().numpy()

    rbm = est.rbm_
    for start in (100, 110, 120):
        batch = x[start: start + 10]
        theirs._fit(batch, Uniforms())
        lean_step(rbm, torch.as_tensor(batch, dtype=torch.float32), est.sampler_, generator,
                  list(rbm.named_parameters()), {"W"}, 0.0)
        with torch.no_grad():
            for param in rbm.parameters():
                param -= 0.1 * param.grad
        np.testing.assert_array_equal(est.h_samples_, theirs.h_samples_)
        np.testing.assert_allclose(est.components_, theirs.components_, rtol=0, atol=1e-5)
        np.testing.assert_allclose(est.intercept_hidden_, theirs.intercept_hidden_, rtol=0, atol=1e-5)
        np.testing.assert_allclose(est.intercept_visible_, theirs.intercept_visible_, rtol=0, atol=1e-5)
    assert 0.2 < theirs.h_samples_.mean() < 0.8


def test_verbose_prints_scikit_learns_line_each_pass_and_changes_nothing(digits, capsys):
    x, _ = digits
    quiet = DropIn(n_components=8, n_iter=3, random_state=0).fit(x[:200])
    loud = DropIn(n_components=8, n_iter=3, random_state=0, verbose=1).fit(x[:200])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[BernoulliRBM] Iteration 1, pseudo-likelihood = -")
    assert ", time = " in lines[0] and "reconstruction error = " in lines[0]
    np.testing.assert_array_equal(quiet.components_, loud.components_)
    loud.partial_fit(x[:50])  # silent, as scikit-learn's partial_fit is
    assert capsys.readouterr().out == ""


def test_private_helpers_of_bernoullirbm_match_transform(digits):
    x, _ = digits
    est = DropIn(n_components=4, n_iter=1, random_state=0).fit(x)
    np.testing.assert_array_equal(est._mean_hiddens(x[:5]), est.transform(x[:5]))
    np.testing.assert_array_equal(est._mean_hiddens(x[0]), est.transform(x[:1])[0])
    draws = np.mean([est._sample_hiddens(x[0], np.random.RandomState(i)) for i in range(400)], 0)
    np.testing.assert_allclose(draws, est.transform(x[:1])[0], atol=0.1)  # 4 standard errors at p = 0.5
