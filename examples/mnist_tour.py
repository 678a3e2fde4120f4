"""An RBM on MNIST from start to finish: train, measure, look, complete, classify.

1. Train a binary RBM with persistent contrastive divergence and centred
   gradients on MNIST binarised by sampling each pixel with its grey level as
   probability (the training split, or its first ``--rows`` rows), writing a
   checkpoint after every epoch (run it again to continue an interrupted run).
2. Measure it on the test split with every method ``tr.evaluate`` has:
   forward and reverse AIS (with ±3σ intervals), pseudo-log-likelihood,
   reconstruction error, free energies and their gap to the training data.
3. Draw its filters, samples and reconstructions (PNG in ``--out``).
4. Complete the bottom halves of test digits by clamped Gibbs sampling and
   compare the error of the completed pixels with filling in the pixel means.
5. Use its hidden means as features for logistic regression.

The full setting (``--rows 60000 --epochs 50 --hidden 500``) takes about
15 minutes on 2 CPU cores; the test suite runs it with a few hundred rows.

    TORCHRBM_DATA=../shared/data python examples/mnist_tour.py [--epochs 50] [--out runs/mnist_tour]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from sklearn.linear_model import LogisticRegression

import torchrbm as tr
from torchrbm import plots


def bottom_half_mask(n: int) -> torch.Tensor:
    mask = torch.zeros(n, 28, 28, dtype=torch.bool)
    mask[:, 14:] = True
    return mask.reshape(n, 784)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60000, help="training rows (default: all 60000)")
    parser.add_argument("--test-rows", type=int, default=10000, help="test rows (default: all 10000)")
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--betas", type=int, default=10000, help="AIS temperatures (default: 10000)")
    parser.add_argument("--inpaint-steps", type=int, default=1000)
    parser.add_argument("--data-dir", default=None, help="default: $TORCHRBM_DATA or ~/.cache/torchrbm")
    parser.add_argument("--out", default="runs/mnist_tour",
                        help="run directory; a run there with other settings is refused: choose another")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def load(split: str, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = tr.datasets.mnist(split, data_dir=args.data_dir, binarize_method="stochastic", seed=0,
                                 return_labels=True)
        return x[:rows], y[:rows]

    (train, train_labels), (test, test_labels) = load("train", args.rows), load("test", args.test_rows)
    print(f"MNIST, binarised: {len(train)} training and {len(test)} test images")

    # 1. training
    rbm = tr.RBM(784, args.hidden, data=train, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, train, sampler=tr.PCD(n_chains=100), epochs=args.epochs, batch_size=100, lr=args.lr,
                     momentum=0.0, weight_decay=1e-4, centered=True, validation_data=test, seed=0,
                     checkpoint=out / "checkpoint.safetensors", resume=True)
    tr.save(rbm, out / "model.safetensors")
    print(f"trained {len(history)} epochs in {sum(r['time'] for r in history):.1f} s")

    # 2. measurement: every estimate labelled with its method
    measures = tr.evaluate(rbm, test, reference=train, n_betas=args.betas, seed=0)
    for name in ("ais", "rais"):
        result = measures[name]
        low, high = result["log_likelihood_interval_3sigma"]
        print(f"{result['method']:>24s}: {result['log_likelihood']:.2f} nats per test image, ±3σ [{low:.2f}, "
              f"{high:.2f}]")
    print(f"pseudo-log-likelihood {measures['pll']['pseudo_log_likelihood']:.2f}, reconstruction error "
          f"{measures['recon']['reconstruction_error']:.4f}, free-energy gap test - training "
          f"{measures['fe']['free_energy_gap']:.3f}")

    # 3. pictures
    plots.plot_filters(rbm).savefig(out / "filters.png")
    samples = rbm.gibbs(test[:100].float(), k=1000, generator=torch.Generator().manual_seed(0))
    plots.plot_images(rbm.prob_v(rbm.prob_h(samples)), title="1000 Gibbs steps from test digits").savefig(
        out / "samples.png")
    plots.plot_reconstructions(rbm, test[:20]).savefig(out / "reconstructions.png")
    plots.plot_curves(history).savefig(out / "curves.png")

    # 4. inpainting: the bottom halves of test digits
    n = min(1000, len(test))
    mask = bottom_half_mask(n)
    completed = rbm.inpaint(test[:n], mask, steps=args.inpaint_steps, generator=torch.Generator().manual_seed(0))
    truth = test[:n].float()
    means = train.float().mean(0).expand(n, -1)
    inpaint_error = float((completed - truth)[mask].square().mean())
    mean_error = float((means - truth)[mask].square().mean())
    print(f"bottom halves of {n} test digits: squared error {inpaint_error:.4f} completed, {mean_error:.4f} "
          "filled with pixel means")

    # 5. features for classification
    classifier = LogisticRegression(max_iter=500).fit(plots.hidden_means(rbm, train), train_labels.numpy())
    accuracy = classifier.score(plots.hidden_means(rbm, test), test_labels.numpy())
    print(f"logistic regression on the hidden means: test accuracy {accuracy:.4f}")

    results = {"measures": measures,
               "inpainting": {"completed": inpaint_error, "pixel_means": mean_error}, "accuracy": accuracy,
               "epochs": len(history), "args": vars(args)}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
