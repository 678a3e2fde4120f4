"""RBM features for digit classification: scikit-learn's own example, with torchrbm's estimator.

The setting of scikit-learn's "Restricted Boltzmann Machine features for digit
classification" example: the 8x8 digits, "nudged" (each image also shifted by
one pixel in four directions: 8985 images), scaled to [0, 1], 80/20 split,
``Pipeline(RBM(n_components=100, learning_rate=0.06, n_iter=10), LogisticRegression(C=6000))``,
against logistic regression on the raw pixels (``C=100``).  Scored in one run:

* ``sklearn``: scikit-learn's ``BernoulliRBM`` (batch 10, PCD);
* ``torchrbm``: ``torchrbm.sklearn.BernoulliRBM`` with exactly the same settings:
  only the import differs (it is ``torchrbm.sklearn.RBM`` with the visible
  biases starting at zero, as scikit-learn's do);
* ``torchrbm_tuned``: ``torchrbm.sklearn.RBM`` with settings that suit a vectorised
  implementation better than steps on 10 examples: 100-example batches, CD-1,
  ``learning_rate=0.3``, momentum 0.5, 15 passes: second best, after 20 passes
  of the same setting (no faster than scikit-learn's fit), in
  ``benchmarks/digits_settings.py`` (3-fold cross-validation on the training
  split only, scikit-learn's pipeline scored on the same folds);
* ``raw_pixels``: logistic regression alone.

Every pipeline is fitted once on a small subset first (warm-up: one-time
imports and allocations), then timed on the full training set with
``--seeds`` random states; then the RBMs alone are timed, taking turns, each
after a pause of half a second.  scikit-learn runs with its best BLAS kernel (the
script re-executes itself without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE) and
the BLAS libraries in use are printed.

    python examples/digits_pipeline.py [--seeds 5] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from torchrbm._utils.blas import blas_description, reexec_without_blas_overrides

reexec_without_blas_overrides()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import convolve  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import minmax_scale  # noqa: E402

from torchrbm.sklearn import RBM  # noqa: E402
from torchrbm.sklearn import BernoulliRBM as DropInRBM  # noqa: E402

PAUSE_SECONDS = 0.5
SHIFTS = [  # convolution kernels that move an 8x8 image by one pixel: up, left, right, down
    [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
    [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
    [[0, 0, 0], [0, 0, 1], [0, 0, 0]],
    [[0, 0, 0], [0, 0, 0], [0, 1, 0]],
]


def nudged_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits and four one-pixel shifts of each, scaled to [0, 1] (8985 x 64)."""
    x, y = load_digits(return_X_y=True)
    x = np.asarray(x, dtype="float32")
    shifted = [np.stack([convolve(image.reshape(8, 8), mode="constant", weights=kernel).ravel() for image in x])
               for kernel in SHIFTS]
    return minmax_scale(np.concatenate([x, *shifted]), feature_range=(0, 1)), np.concatenate([y] * 5)


def pipelines(seed: int) -> dict[str, Pipeline | LogisticRegression]:
    logistic = LogisticRegression(C=6000, max_iter=1000)
    same = {"n_components": 100, "learning_rate": 0.06, "n_iter": 10, "random_state": seed}
    return {
        "sklearn": Pipeline([("rbm", BernoulliRBM(**same)), ("logistic", clone(logistic))]),
        "torchrbm": Pipeline([("rbm", DropInRBM(**same)), ("logistic", clone(logistic))]),
        "torchrbm_tuned": Pipeline([("rbm", RBM(n_components=100, learning_rate=0.3, n_iter=15, batch_size=100,
                                                momentum=0.5, sampler="cd", random_state=seed)),
                                    ("logistic", clone(logistic))]),
        "raw_pixels": LogisticRegression(C=100, max_iter=1000),
    }


def rbm_seconds(model, x: np.ndarray) -> float | None:
    """Time of the pipeline's RBM fitted alone, after a pause that lets the BLAS threads of the
    previous fit go idle (OpenBLAS's threads spin for a while after each call)."""
    if not isinstance(model, Pipeline):
        return None
    time.sleep(PAUSE_SECONDS)
    start = time.perf_counter()
    clone(model.steps[0][1]).fit(x)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="random states 0..N-1 (default: 5)")
    parser.add_argument("--out", default=None, help="write the results as JSON")
    args = parser.parse_args(argv)

    x, y = nudged_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    print(f"nudged digits: {x_train.shape[0]} training and {x_test.shape[0]} test images of {x.shape[1]} pixels")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print("\n".join(blas_description()))
    for model in pipelines(0).values():  # warm-up
        clone(model).set_params(**({"logistic__max_iter": 20} if isinstance(model, Pipeline) else {})).fit(
            x_train[:500], y_train[:500])

    results: dict[str, dict[str, list[float]]] = {}
    for seed in range(args.seeds):
        for name, model in pipelines(seed).items():
            start = time.perf_counter()
            model.fit(x_train, y_train)
            seconds = time.perf_counter() - start
            entry = results.setdefault(name, {"accuracy": [], "fit_seconds": [], "rbm_seconds": []})
            entry["accuracy"].append(accuracy_score(y_test, model.predict(x_test)))
            entry["fit_seconds"].append(seconds)
    for seed in range(args.seeds):  # the RBMs alone, taking turns
        for name, model in pipelines(seed).items():
            rbm = rbm_seconds(model, x_train)
            if rbm is not None:
                results[name]["rbm_seconds"].append(rbm)

    print(f"\n{'pipeline':18s} {'accuracy (mean, min-max)':>28s} {'pipeline fit s':>15s} {'RBM fit s':>10s}")
    for name, entry in results.items():
        acc = entry["accuracy"]
        rbm = f"{statistics.median(entry['rbm_seconds']):10.2f}" if entry["rbm_seconds"] else f"{'-':>10s}"
        print(f"{name:18s} {statistics.mean(acc):14.4f} ({min(acc):.4f}-{max(acc):.4f}) "
              f"{statistics.median(entry['fit_seconds']):15.2f} {rbm}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"results": results, "blas": blas_description(), "seeds": args.seeds,
                       "command": "python examples/digits_pipeline.py"}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
