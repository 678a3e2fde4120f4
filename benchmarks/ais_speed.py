"""Time of forward AIS on a 784 x 500 RBM: 100 chains x 10 000 inverse temperatures.

The time does not depend on the weights, so a model with the usual initial
weights (visible biases from binarised MNIST) stands in for a trained one.

    python benchmarks/ais_speed.py [--chains 100] [--betas 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import torchrbm as tr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--betas", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ais_speed.json"))
    args = parser.parse_args()
    data = tr.datasets.binarized_mnist("train", data_dir=args.data_dir)
    rbm = tr.RBM(784, args.hidden, data=data, generator=torch.Generator().manual_seed(0))
    seconds = [tr.ais(rbm, n_chains=args.chains, n_betas=args.betas, data=data, seed=s).seconds
               for s in range(args.repeats)]
    result = {"args": vars(args), "seconds": seconds, "median_seconds": statistics.median(seconds),
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print(f"AIS 784 x {args.hidden}, {args.chains} chains x {args.betas} temperatures: "
          f"median {result['median_seconds']:.1f} s over {args.repeats} runs {[round(s, 1) for s in seconds]}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
