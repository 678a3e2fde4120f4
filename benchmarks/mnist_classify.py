"""MNIST classification with RBMs: features + logistic regression, a fine-tuned DBN, a classification RBM.

Grey-level MNIST scaled to [0, 1] (read as the probabilities of binary pixels),
60 000 training and 10 000 test images.  Three models, each timed end to end:

* ``features``: a 784-``--hidden`` RBM (CD-1, bf16-mixed products), its hidden
  probabilities fed to scikit-learn's ``LogisticRegression``; ``C`` is chosen on the
  last 10 000 training images, then the classifier is refitted on all 60 000.
  The RBM is saved (for ``torchrbm inpaint``).
* ``dbn``: a 784-500-500-2000 DBN pretrained greedily (CD-1), then fine-tuned as a
  784-500-500-2000-10 network by backpropagation (learning rate decayed linearly to
  0), on all training images (``--tune-validation F`` holds out a fraction for
  early stopping instead).
* ``crbm``: a classification RBM over [image, one-hot label] (Larochelle & Bengio
  2008), hybrid training: CD-1 plus ``--alpha`` times the exact discriminative
  gradient; predictions by p(y | x), exact.

Results (test error, seconds) go to ``--out`` as JSON.

    python benchmarks/mnist_classify.py --models features dbn crbm [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

import torchrbm as tr

RESULTS = Path(__file__).parent / "results" / "mnist_classify"


def linear_decay(lr: float, epochs: int):
    def schedule(epoch: int) -> float:
        return lr * (1 - epoch / epochs)

    return schedule


def error_rate(predicted, labels) -> float:
    return float((torch.as_tensor(predicted) != torch.as_tensor(labels)).float().mean())


def features(x, y, x_test, y_test, args) -> dict:
    rbm = tr.RBM(784, args.hidden, data=x, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    tr.fit(rbm, x, sampler=tr.CD(1), epochs=args.rbm_epochs, batch_size=100, lr=linear_decay(0.05, args.rbm_epochs),
           momentum=(0.5, 0.9), weight_decay=1e-4, precision="bf16-mixed", seed=0, progress=args.progress)
    rbm_seconds = time.perf_counter() - start
    tr.save(rbm, RESULTS / "rbm_features.safetensors", metadata={"command": "benchmarks/mnist_classify.py"})
    with torch.no_grad():
        h, h_test = (rbm.prob_h(part).numpy() for part in (x, x_test))
    validation = {}
    for c in args.c_grid:
        model = LogisticRegression(C=c, max_iter=args.lr_iter).fit(h[:50000], y[:50000].numpy())
        validation[c] = 1 - model.score(h[50000:], y[50000:].numpy())
    best = min(validation, key=validation.get)
    classifier = LogisticRegression(C=best, max_iter=args.lr_iter).fit(h, y.numpy())
    total = time.perf_counter() - start
    return {"test_error": 1 - classifier.score(h_test, y_test.numpy()), "rbm_seconds": rbm_seconds,
            "total_seconds": total, "hidden": args.hidden, "rbm_epochs": args.rbm_epochs,
            "validation_error_by_C": validation, "C": best,
            "reconstruction_error_test": tr.reconstruction_error(rbm, x_test)}


def dbn(x, y, x_test, y_test, args) -> dict:
    net = tr.DBN([784, 500, 500, 2000], generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    net.pretrain(x, epochs=args.dbn_epochs, batch_size=100, lr=linear_decay(0.05, args.dbn_epochs),
                 momentum=(0.5, 0.9), weight_decay=1e-4, precision="bf16-mixed", sampler=tr.CD(1), seed=0,
                 progress=args.progress)
    pretrain_seconds = time.perf_counter() - start
    history = net.fine_tune(x, y, epochs=args.tune_epochs, lr=linear_decay(args.tune_lr, args.tune_epochs),
                            momentum=0.9, weight_decay=1e-5, validation_fraction=args.tune_validation,
                            patience=args.patience, seed=0, progress=args.progress)
    total = time.perf_counter() - start
    return {"test_error": error_rate(net.predict(x_test), y_test), "pretrain_seconds": pretrain_seconds,
            "total_seconds": total, "fine_tune_epochs": len(history),
            "validation_errors": [r["valid_error"] for r in history], "pretrain_epochs": args.dbn_epochs,
            "validation_fraction": args.tune_validation}


def classification_rbm(x, y, x_test, y_test, args) -> dict:
    model = tr.ClassificationRBM(784, 10, args.crbm_hidden, generator=torch.Generator().manual_seed(0))
    joint = model.joint_data(x, y)
    model.init_visible_bias(joint)
    alpha = args.alpha
    start = time.perf_counter()
    tr.fit(model, joint, sampler=tr.CD(1), epochs=args.crbm_epochs, batch_size=100,
           lr=linear_decay(0.05, args.crbm_epochs), momentum=(0.5, 0.9), weight_decay=1e-4,
           extra_loss=lambda m, rows: alpha * m.discriminative_loss(rows), seed=0, progress=args.progress)
    seconds = time.perf_counter() - start
    return {"test_error": error_rate(model.predict(x_test), y_test), "total_seconds": seconds,
            "hidden": args.crbm_hidden, "epochs": args.crbm_epochs, "alpha": alpha,
            "train_error": error_rate(model.predict(x[:10000]), y[:10000])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["features", "dbn", "crbm"],
                        default=["features", "dbn", "crbm"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--hidden", type=int, default=1000, help="features: RBM hidden units (default: 1000)")
    parser.add_argument("--rbm-epochs", type=int, default=30)
    parser.add_argument("--c-grid", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    parser.add_argument("--lr-iter", type=int, default=500)
    parser.add_argument("--dbn-epochs", type=int, default=50, help="pretraining epochs per layer (default: 50)")
    parser.add_argument("--tune-epochs", type=int, default=120)
    parser.add_argument("--tune-lr", type=float, default=0.1, help="dbn: initial fine-tuning rate, "
                        "decayed linearly to 0 (default: 0.1)")
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--tune-validation", type=float, default=0.0,
                        help="dbn: fraction held out for early stopping; 0 trains on all images (default: 0)")
    parser.add_argument("--crbm-hidden", type=int, default=1000)
    parser.add_argument("--crbm-epochs", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=10.0,
                        help="crbm: weight of the discriminative loss relative to the likelihood (default: 10)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "results.json"))
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    x, y = tr.datasets.mnist("train", data_dir=args.data_dir, return_labels=True)
    x_test, y_test = tr.datasets.mnist("test", data_dir=args.data_dir, return_labels=True)
    x, x_test = x.float(), x_test.float()
    print(f"MNIST {tuple(x.shape)} train, {tuple(x_test.shape)} test; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    runners = {"features": features, "dbn": dbn, "crbm": classification_rbm}
    for name in args.models:
        results[name] = runners[name](x, y, x_test, y_test, args)
        results[name]["command"] = "python benchmarks/mnist_classify.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("models", "out", "progress",
                                                                                     "data_dir", "c_grid"))
        print(name, json.dumps(results[name], indent=1), flush=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
