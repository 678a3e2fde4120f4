"""The scikit-learn drop-in at scikit-learn's own settings: import, first fit, later fits and accuracy.

Someone who replaces ``sklearn.neural_network.BernoulliRBM`` by ``torchrbm.sklearn.BernoulliRBM``
and keeps everything else.  Two settings:

* ``defaults``: scikit-learn's defaults (256 components, learning rate 0.1, batch 10, 10 passes);
* ``example``: scikit-learn's "RBM features for digit classification" example (100 components,
  learning rate 0.06, batch 10, 10 passes);

each on two data sets: the 1797 digits scaled to [0, 1] and the first 10 000 MNIST training
images (grey levels in [0, 1]).  Measured, the two libraries always taking turns:

* ``import``: ``import`` of each class in a fresh Python process (torch is part of torchrbm's);
* ``first fit``: the first fit in a fresh process (after the import and the data are loaded);
* ``later fits``: fits in one process after one warm-up fit each, ``random_state`` 0 .. R-1;
* ``accuracy``: scikit-learn's example pipeline (the RBM, then ``LogisticRegression(C=6000)``)
  on its nudged digits (8985 images, 20 % held out), ``random_state`` 0 .. 4, each library's RBM
  at the example's settings: mean and standard error of the held-out accuracy.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow a current NumPy down: the script re-executes itself
without them (so do its fresh processes) and prints the BLAS kernels it got (threadpoolctl).
Each library runs on its own default threads (torchrbm trains models this small on one).

    TORCHRBM_DATA=../shared/data python benchmarks/sklearn_defaults.py [--repeats 5] [--mnist-repeats 2] \
        [--out benchmarks/results/sklearn_defaults.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARIES = {
    "sklearn": "from sklearn.neural_network import BernoulliRBM",
    "torchrbm": "from torchrbm.sklearn import BernoulliRBM",
}
SETTINGS = {
    "defaults": {},
    "example": {"n_components": 100, "learning_rate": 0.06, "n_iter": 10},
}


def child(library: str, data_file: str, setting: str) -> int:
    """In a fresh process (started with the parent's cleaned environment): time the import of the class,
    load the rows (``.npy``), time one fit; print JSON."""
    start = time.perf_counter()
    namespace: dict = {}
    exec(LIBRARIES[library], namespace)
    imported = time.perf_counter() - start
    import numpy as np

    x = np.load(data_file)
    start = time.perf_counter()
    namespace["BernoulliRBM"](random_state=0, **SETTINGS[setting]).fit(x)
    print(json.dumps({"import": imported, "first_fit": time.perf_counter() - start}))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:  # before anything else is imported
    raise SystemExit(child(*sys.argv[2:5]))

from torchrbm._utils.blas import blas_description, reexec_without_blas_overrides  # noqa: E402

reexec_without_blas_overrides()

import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

import torchrbm as tr  # noqa: E402
import torchrbm.sklearn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from digits_pipeline import nudged_digits  # noqa: E402

PAUSE_SECONDS = 0.5  # lets OpenBLAS's threads go idle after the other library's fit


def datasets() -> dict[str, np.ndarray]:
    digits = load_digits().data / 16.0
    mnist = tr.datasets.mnist("train")[:10_000].numpy().astype(np.float64)
    return {"digits": digits, "mnist10k": mnist}


def _fresh_process(library: str, data_file: Path, setting: str) -> dict[str, float]:
    """Import and first-fit seconds of ``library`` in a new interpreter (this script, ``--child``)."""
    command = [sys.executable, __file__, "--child", library, str(data_file), setting]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=dict(os.environ)).stdout
    return json.loads(output.strip().splitlines()[-1])


def estimator(library: str, **params):
    return (BernoulliRBM if library == "sklearn" else torchrbm.sklearn.BernoulliRBM)(**params)


def later_fits(x: np.ndarray, setting: str, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {library: [] for library in LIBRARIES}
    for library in LIBRARIES:  # warm-up
        estimator(library, random_state=0, **SETTINGS[setting]).fit(x)
    for seed in range(repeats):
        for library in LIBRARIES:
            model = estimator(library, random_state=seed, **SETTINGS[setting])
            time.sleep(PAUSE_SECONDS)
            start = time.perf_counter()
            model.fit(x)
            times[library].append(time.perf_counter() - start)
    return times


def accuracy(seeds: int) -> dict[str, dict[str, float]]:
    x, y = nudged_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    scores: dict[str, list[float]] = {library: [] for library in LIBRARIES}
    for seed in range(seeds):
        for library in LIBRARIES:
            pipeline = Pipeline([("rbm", estimator(library, random_state=seed, **SETTINGS["example"])),
                                 ("logistic", LogisticRegression(C=6000, max_iter=1000))])
            scores[library].append(accuracy_score(y_test, clone(pipeline).fit(x_train, y_train).predict(x_test)))
    return {library: {"mean": statistics.mean(values), "standard_error": statistics.stdev(values) / len(values) ** 0.5,
                      "values": values} for library, values in scores.items()}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="later fits and fresh processes per library (digits)")
    parser.add_argument("--mnist-repeats", type=int, default=2,
                        help="the same on MNIST rows (scikit-learn's defaults take about 90 s a fit there)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="pipeline accuracy over random_state 0..N-1 (0: not measured)")
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist10k"], choices=["digits", "mnist10k"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    print("\n".join(blas_description()), flush=True)
    data = datasets()
    scratch = tempfile.TemporaryDirectory()
    report: dict = {"blas": blas_description(), "repeats": args.repeats, "mnist_repeats": args.mnist_repeats,
                    "results": {}}
    for name, x in data.items():
        if name not in args.datasets:
            continue
        repeats = args.repeats if name == "digits" else args.mnist_repeats
        data_file = Path(scratch.name) / f"{name}.npy"
        np.save(data_file, x)
        for setting in SETTINGS:
            fresh: dict[str, list[dict[str, float]]] = {library: [] for library in LIBRARIES}
            for _ in range(repeats):
                for library in LIBRARIES:
                    fresh[library].append(_fresh_process(library, data_file, setting))
            later = later_fits(x, setting, repeats)
            entry = {library: {"import": _summary([r["import"] for r in fresh[library]]),
                               "first_fit": _summary([r["first_fit"] for r in fresh[library]]),
                               "later_fits": _summary(later[library])} for library in LIBRARIES}
            ratios = [s / t for s, t in zip(later["sklearn"], later["torchrbm"], strict=True)]
            entry["later_fit_speedup"] = _summary(ratios)
            first = {library: entry[library]["first_fit"]["median"] for library in LIBRARIES}
            entry["first_fit_ratio"] = first["torchrbm"] / first["sklearn"]
            report["results"][f"{name}/{setting}"] = entry
            print(f"{name} {setting} ({x.shape[0]} x {x.shape[1]}):", flush=True)
            for library in LIBRARIES:
                e = entry[library]
                print(f"  {library:9s} import {e['import']['median']:.2f} s, "
                      f"first fit {e['first_fit']['median']:.3f} s, "
                      f"later fits {e['later_fits']['median']:.3f} s ({e['later_fits']['min']:.3f}-"
                      f"{e['later_fits']['max']:.3f})", flush=True)
            print(f"  later fits: scikit-learn / torchrbm {entry['later_fit_speedup']['median']:.2f} "
                  f"({entry['later_fit_speedup']['min']:.2f}-{entry['later_fit_speedup']['max']:.2f}); first fit "
                  f"torchrbm / scikit-learn {entry['first_fit_ratio']:.2f}", flush=True)
    report["accuracy"] = accuracy(args.seeds) if args.seeds else {}
    for library, entry in report["accuracy"].items():
        print(f"example pipeline accuracy, {library}: {entry['mean']:.4f} +- {entry['standard_error']:.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
