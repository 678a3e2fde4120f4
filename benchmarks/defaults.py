"""Choose ``fit``'s and ``torchrbm train``'s default settings by training on the built-in data sets.

Each candidate setting (sampler, batch size, learning rate, momentum, weight
decay) trains, for a fixed number of epochs and ``--seeds`` seeds:

* ``digits-20``: a 64 x 20 RBM on scikit-learn's binarised 8 x 8 digits, 10 %
  held out by a permutation seeded with 0 (the same split for every seed);
  scored by the exact mean log-likelihood of the held-out rows (and of the
  training rows), in nats;
* ``digits-100``: the demo-size 64 x 100 RBM on the same split; scored by the
  held-out reconstruction error, the free-energy gap (held-out minus training)
  and the held-out log-likelihood by forward AIS (100 chains, ``--ais-betas``
  temperatures, base fitted to the training rows);
* ``bas``: a 16 x 16 RBM on the 32 bars-and-stripes 4 x 4 patterns; scored by
  the exact mean log-likelihood of the patterns (the best possible is -3.379).

Every model's visible biases start from its training data's means
(``RBM(..., data=train)``, as ``torchrbm train`` does).  Printed: the median
and range over seeds of each score, and the seconds per run.  ``fit (old)`` is
``fit``'s default until this benchmark (CD-1, batch 100, lr 0.01, no momentum,
no weight decay); ``train (old)`` is ``torchrbm train``'s (PCD with 100 chains
and k = 1, batch 20, lr 0.01, momentum 0.5 then 0.9 after 5 epochs, weight
decay 1e-4); the others change one or two of ``train (old)``'s settings.

    OMP_NUM_THREADS=1 python benchmarks/defaults.py [--seeds 3] [--epochs 50] [--bas-epochs 2000]
        [--out benchmarks/results/defaults.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import torchrbm as tr

BAS_OPTIMUM = -3.379
OLD_TRAIN = {"sampler": "pcd", "n_chains": 100, "k": 1, "batch_size": 20, "lr": 0.01, "momentum": (0.5, 0.9),
             "weight_decay": 1e-4}
CANDIDATES: dict[str, dict[str, Any]] = {
    "fit (old)": {"sampler": "cd", "k": 1, "batch_size": 100, "lr": 0.01, "momentum": 0.0, "weight_decay": 0.0},
    "train (old)": OLD_TRAIN,
    "train, lr 0.05": {**OLD_TRAIN, "lr": 0.05},
    "train, batch 10": {**OLD_TRAIN, "batch_size": 10},
    "train, batch 50": {**OLD_TRAIN, "batch_size": 50},
    "train, batch 100, lr 0.05": {**OLD_TRAIN, "batch_size": 100, "lr": 0.05},
    "train, CD-1": {**OLD_TRAIN, "sampler": "cd"},
    "train, no weight decay": {**OLD_TRAIN, "weight_decay": 0.0},
    "train, CD-1, batch 10": {**OLD_TRAIN, "sampler": "cd", "batch_size": 10},
    "train, CD-1, no weight decay": {**OLD_TRAIN, "sampler": "cd", "weight_decay": 0.0},
}
#: score name -> (higher is better, digits shown)
SCORES = {
    "digits-20 valid LL": (True, 3), "digits-20 train LL": (True, 3), "digits-20 s": (False, 1),
    "digits-100 valid recon": (False, 4), "digits-100 FE gap": (False, 2), "digits-100 valid AIS LL": (True, 2),
    "digits-100 s": (False, 1), "bas LL": (True, 3), "bas s": (False, 1),
}


def make_sampler(setting: dict[str, Any]):
    if setting["sampler"] == "cd":
        return tr.CD(k=setting["k"])
    return tr.PCD(n_chains=setting["n_chains"], k=setting["k"])


def train(setting: dict[str, Any], n_hidden: int, data: torch.Tensor, *, epochs: int, seed: int):
    rbm = tr.RBM(data.shape[1], n_hidden, data=data, generator=torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    tr.fit(rbm, data, sampler=make_sampler(setting), epochs=epochs, batch_size=setting["batch_size"],
           lr=setting["lr"], momentum=setting["momentum"], weight_decay=setting["weight_decay"], seed=seed)
    return rbm, time.perf_counter() - start


def digits_split() -> tuple[torch.Tensor, torch.Tensor]:
    data = tr.datasets.load("digits")
    order = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(0))
    count = round(0.1 * data.shape[0])
    return data[order[count:]], data[order[:count]]


def scores(setting: dict[str, Any], seed: int, args) -> dict[str, float]:
    train_rows, valid_rows = digits_split()
    out: dict[str, float] = {}
    rbm, seconds = train(setting, 20, train_rows, epochs=args.epochs, seed=seed)
    log_z = tr.exact_log_partition(rbm)
    out["digits-20 valid LL"] = tr.log_likelihood(rbm, valid_rows, log_z=log_z)
    out["digits-20 train LL"] = tr.log_likelihood(rbm, train_rows, log_z=log_z)
    out["digits-20 s"] = seconds
    rbm, seconds = train(setting, 100, train_rows, epochs=args.epochs, seed=seed)
    out["digits-100 valid recon"] = tr.reconstruction_error(rbm, valid_rows)
    out["digits-100 FE gap"] = tr.free_energy_gap(rbm, train_rows, valid_rows)
    estimate = tr.ais(rbm, n_chains=100, n_betas=args.ais_betas, data=train_rows, seed=seed)
    out["digits-100 valid AIS LL"] = -tr.mean_free_energy(rbm, valid_rows) - estimate.log_z
    out["digits-100 s"] = seconds
    bas = tr.datasets.bars_and_stripes(4)
    rbm, seconds = train(setting, 16, bas, epochs=args.bas_epochs, seed=seed)
    out["bas LL"] = tr.log_likelihood(rbm, bas)
    out["bas s"] = seconds
    return out


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50, help="epochs on digits (default: 50)")
    parser.add_argument("--bas-epochs", type=int, default=2000, help="epochs on bars and stripes (default: 2000)")
    parser.add_argument("--ais-betas", type=int, default=1000, help="AIS temperatures for digits-100 (default: 1000)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="candidates to run (default: all)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "defaults.json"))
    args = parser.parse_args(argv)
    names = args.only or list(CANDIDATES)
    results: dict[str, Any] = {}
    for name in names:
        runs = [scores(CANDIDATES[name], seed, args) for seed in range(args.seeds)]
        results[name] = {"setting": CANDIDATES[name], "runs": runs,
                         "summary": {score: summarise([run[score] for run in runs]) for score in SCORES}}
        print(f"{name}: " + ", ".join(f"{score} {results[name]['summary'][score]['median']:.{digits}f}"
                                      for score, (_, digits) in SCORES.items()), flush=True)

    print(f"\nmedian [min, max] over {args.seeds} seeds; digits {args.epochs} epochs, bas {args.bas_epochs} epochs, "
          f"AIS {args.ais_betas} temperatures (bas optimum {BAS_OPTIMUM})")
    print("| setting | " + " | ".join(SCORES) + " |")
    print("|---" * (len(SCORES) + 1) + "|")
    for name, result in results.items():
        cells = []
        for score, (_, digits) in SCORES.items():
            s = result["summary"][score]
            cells.append(f"{s['median']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        command = ("OMP_NUM_THREADS=1 python benchmarks/defaults.py --seeds "
                   f"{args.seeds} --epochs {args.epochs} --bas-epochs {args.bas_epochs} --ais-betas {args.ais_betas}")
        with open(args.out, "w") as handle:
            json.dump({"command": command, "torch_threads": torch.get_num_threads(), "results": results,
                       "higher_is_better": {score: better for score, (better, _) in SCORES.items()}},
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
