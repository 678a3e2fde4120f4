"""Test log-likelihood of a 500-hidden-unit RBM on binarised MNIST, by AIS and reverse AIS.

Data: Larochelle & Murray's fixed binarisation (train 50 000, valid 10 000, test
10 000); ``--train-splits train,valid`` trains on all 60 000 MNIST training images,
as the published reference did.
Training: ``--sampler`` (default PCD-1 with centring) for at most ``--epochs``
epochs or ``--minutes`` minutes, whichever ends first; the learning rate is
constant for the first half of the epochs, then falls linearly to zero.
Evaluation on the test set: forward AIS and reverse AIS (from test data), each
``--chains`` x ``--betas``, with ±3 sigma intervals.  Published reference:
-86.34 nats (CD-25, Salakhutdinov & Murray 2008).

    python benchmarks/mnist_ll.py [--minutes 40] [--out benchmarks/results/mnist_ll]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import torchrbm as tr
from torchrbm.plots import plot_curves, plot_filters, plot_images


def linear_decay(lr: float, epochs: int):
    """``lr`` for the first half of the epochs, then linearly down to ``lr / (epochs / 2)``."""
    half = epochs // 2

    def schedule(epoch: int) -> float:
        return lr if epoch < half else lr * (epochs - epoch) / (epochs - half)

    return schedule


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--sampler", choices=["cd", "pcd", "pt"], default="pcd")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--n-chains", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=40.0, help="training time budget")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--no-center", dest="centered", action="store_false")
    parser.add_argument("--ll-every", type=int, default=50, help="AIS on 1000 training rows every N epochs")
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--betas", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=list(tr.precision.PRECISIONS), default="32-true")
    parser.add_argument("--train-splits", default="train", help="comma-separated splits to train on")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mnist_ll"))
    args = parser.parse_args()

    splits = args.train_splits.split(",")
    train = torch.cat([tr.datasets.binarized_mnist(split, data_dir=args.data_dir) for split in splits])
    test = tr.datasets.binarized_mnist("test", data_dir=args.data_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    rbm = tr.RBM(784, args.hidden, data=train, generator=generator)
    sampler = tr.sampling.samplers.get_sampler(args.sampler, k=args.k, n_chains=args.n_chains)
    deadline = time.perf_counter() + 60 * args.minutes

    def log(model, record):
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items() if v is not None}
        print(json.dumps(shown), flush=True)
        return time.perf_counter() > deadline

    start = time.perf_counter()
    history = tr.fit(rbm, train, sampler=sampler, epochs=args.epochs, batch_size=args.batch_size,
                     lr=linear_decay(args.lr, args.epochs), momentum=(0.5, 0.9),
                     weight_decay=args.weight_decay, centered=args.centered, validation_data=test,
                     generator=generator, callbacks=[log], log_likelihood_every=args.ll_every,
                     precision=args.precision)
    train_seconds = time.perf_counter() - start
    tr.save(rbm, out / "model.safetensors", metadata={"args": vars(args)})

    results = {"args": vars(args), "epochs_run": len(history), "train_seconds": train_seconds,
               "history": history.records}
    results.update(tr.evaluate(rbm, test, ("ais", "rais", "recon", "fe"), reference=train,
                                          n_chains=args.chains, n_betas=args.betas, seed=args.seed))
    for method in ("ais", "rais"):
        entry = results[method]
        low, high = entry["log_likelihood_interval_3sigma"]
        print(f"test log-likelihood by {method}: {entry['log_likelihood']:.2f} nats "
              f"(3 sigma {low:.2f} to {high:.2f}; {entry['seconds']:.0f} s)")
    print(f"trained {len(history)} epochs in {train_seconds / 60:.1f} min")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot_curves(history).savefig(out / "curves.png", dpi=100)
    plot_filters(rbm).savefig(out / "filters.png", dpi=100)
    chains = rbm.gibbs(test[:100].float(), 1000, generator)
    plot_images(rbm.prob_v(rbm.prob_h(chains)), title="samples: 1000 Gibbs steps from test digits").savefig(
        out / "samples.png", dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
