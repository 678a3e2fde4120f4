"""Time to a good binarised-MNIST model: the test log-likelihood a training setting reaches in a wall-clock budget.

Each run trains a 500-hidden-unit RBM with one setting (:data:`SETTINGS`) for a number of minutes, then
measures the final model by forward AIS and reverse AIS (from the evaluation rows) with ±3σ intervals.
The learning rate follows the budget, not the epochs: constant for the first half of the minutes, then
falling linearly to 0 at the end (checked at the start of each epoch); training stops at the first epoch
end past the budget, and that time (monitoring included) is the run's training time.

* ``today``: ``mnist_ll.py``'s settings, which reached -85.80 in 33 minutes: PCD-1 with 100 chains and
  centred gradients, batch 100, learning rate 0.01, momentum 0.5 then 0.9, weight decay 1e-4, float32.
* ``recipe``: ``torchrbm train --recipe density``, chosen among the other settings (the candidates tried,
  see ``--list`` and BENCHMARKS.md): ``today``'s with batches of 50 at half the learning rate (the same
  step per example) and chains that keep their hidden states.  The default runs are the comparison of the
  goal, interleaved: the recipe for 4, 8 and 16 minutes and ``today`` for 16 and 32.

A budget *reaches -86* when the AIS and the reverse-AIS estimates both lie above -86 with their ±3σ
intervals of log Z.  Runs take turns in the order given (``--runs today:16,fast:4,...``), on one machine, one run
at a time.  Choose a recipe on Larochelle & Murray's train (50 000) against valid (10 000)
(``--train-splits train --eval-split valid``), never on test; the comparison trains on all 60 000 MNIST
training images (``--train-splits train,valid``, the default) and evaluates on test.

    TORCHRBM_DATA=../shared/data python benchmarks/time_to_ll.py --runs today:16,recipe:4 \\
        [--chains 100 --betas 100000] [--out benchmarks/results/time_to_ll]
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import pairwise
from pathlib import Path

import torch

import torchrbm as tr
from torchrbm.cli.options import RECIPES

#: Training settings by name: ``tr.fit`` keyword arguments, with ``lr`` the starting learning rate,
#: ``n_chains``/``k`` the persistent sampler's and ``decay`` the share of the budget over which the learning
#: rate falls to 0 (default one half).
_TODAY = {"batch_size": 100, "lr": 0.01, "momentum": (0.5, 0.9), "weight_decay": 1e-4, "centered": True,
          "n_chains": 100, "k": 1}
SETTINGS: dict[str, dict] = {
    "today": _TODAY,
    "lr0.03": {**_TODAY, "lr": 0.03},
    "lr0.02": {**_TODAY, "lr": 0.02},
    "wd0": {**_TODAY, "weight_decay": 0.0},
    "batch200": {**_TODAY, "batch_size": 200, "lr": 0.02},
    "batch200_wd0": {**_TODAY, "batch_size": 200, "lr": 0.02, "weight_decay": 0.0},
    "momentum0.9": {**_TODAY, "momentum": 0.9},
    "decay0.25": {**_TODAY, "decay": 0.25},
    "batch500": {**_TODAY, "batch_size": 500, "lr": 0.05},
    "decay1.0": {**_TODAY, "decay": 1.0},
    "lr0.02_decay1.0": {**_TODAY, "lr": 0.02, "decay": 1.0},
    "adam1e-3": {**_TODAY, "lr": 1e-3, "optimizer": "adam", "momentum": 0.0},
    "adam3e-4": {**_TODAY, "lr": 3e-4, "optimizer": "adam", "momentum": 0.0},
    "batch50": {**_TODAY, "batch_size": 50, "lr": 0.005},
    "batch50_chains50": {**_TODAY, "batch_size": 50, "lr": 0.005, "n_chains": 50},
    "batch250": {**_TODAY, "batch_size": 250, "lr": 0.025},
    "batch20": {**_TODAY, "batch_size": 20, "lr": 0.002},
    "keep": {**_TODAY, "keep_hidden": True},
    "batch50_keep": {**_TODAY, "batch_size": 50, "lr": 0.005, "keep_hidden": True},
    "batch50_keep_bf16": {**_TODAY, "batch_size": 50, "lr": 0.005, "keep_hidden": True, "precision": "bf16-mixed"},
    "batch50_keep_lr0.0075": {**_TODAY, "batch_size": 50, "lr": 0.0075, "keep_hidden": True},
}


def recipe_setting(recipe: dict) -> dict:
    """A ``torchrbm train --recipe`` (:data:`torchrbm.cli.options.RECIPES`) as a setting: its persistent
    sampler's options as they are, its learning rate falling over the same share of the budget as of the
    epochs."""
    options = dict(recipe)
    if options.pop("sampler") != "pcd":
        raise ValueError("time_to_ll.py trains with persistent chains; the recipe's sampler is not pcd")
    options["decay"] = options.pop("lr_decay_epochs").share
    return options


SETTINGS["recipe"] = recipe_setting(RECIPES["density"])


def budget_rate(lr: float, seconds: float, start: float, decay: float = 0.5):
    """``lr`` until ``1 - decay`` of ``seconds`` have passed since ``start``, then linearly down to 0 at
    ``seconds``."""
    def rate(epoch: int) -> float:
        left = 1 - (time.perf_counter() - start) / seconds
        return lr if left > decay else lr * max(0.0, left / decay)
    return rate


def train(setting: dict, minutes: float, data: torch.Tensor, seed: int) -> tuple[tr.RBM, dict]:
    """A 500-hidden-unit RBM trained with ``setting`` for ``minutes``; the model and what the run recorded."""
    options = dict(setting)
    sampler = tr.PCD(n_chains=options.pop("n_chains"), k=options.pop("k"),
                     keep_hidden=options.pop("keep_hidden", False))
    generator = torch.Generator().manual_seed(seed)
    rbm = tr.RBM(784, 500, data=data, generator=generator)
    seconds = 60 * minutes
    start = time.perf_counter()
    curve = []

    def stop_when_spent(model, record) -> bool:
        elapsed = time.perf_counter() - start
        curve.append({"epoch": record["epoch"], "seconds": elapsed, "lr": record["lr"],
                      "recon_error": record["recon_error"]})
        return elapsed >= seconds

    lr, decay = options.pop("lr"), options.pop("decay", 0.5)
    history = tr.fit(rbm, data, sampler=sampler, epochs=100_000, lr=budget_rate(lr, seconds, start, decay),
                     generator=generator, callbacks=[stop_when_spent], progress=False, **options)
    return rbm, {"epochs": len(history), "train_seconds": time.perf_counter() - start,
                 "epoch_seconds": epoch_seconds(curve), "curve": curve}


def epoch_seconds(curve: list[dict]) -> dict[str, float]:
    """The median (the upper one of an even count), shortest and longest epoch of a run, in seconds: the
    machine's slow spells show as a second, slower group of epochs, and the budget buys fewer epochs the
    more of them a run meets."""
    lengths = sorted(end - start for start, end in pairwise([0.0, *(point["seconds"] for point in curve)]))
    return {"median": lengths[len(lengths) // 2], "min": lengths[0], "max": lengths[-1]}


def evaluate(rbm: tr.RBM, rows: torch.Tensor, reference: torch.Tensor, chains: int, betas: int, seed: int) -> dict:
    """Forward AIS and reverse AIS (from ``rows``) of the log-likelihood of ``rows``; whether both lie above
    -86 with their ±3σ intervals of log Z (the goal's test; the wider intervals that add the rows' spread,
    ``log_likelihood_interval_3sigma``, are recorded too)."""
    result = tr.evaluate(rbm, rows, ("ais", "rais"), reference=reference, n_chains=chains, n_betas=betas, seed=seed)
    lows = [result[method]["log_likelihood_interval_3sigma_of_log_z"][0] for method in ("ais", "rais")]
    keys = ("log_likelihood", "log_likelihood_interval_3sigma_of_log_z", "log_likelihood_interval_3sigma", "seconds")
    return {method: {key: result[method][key] for key in keys}
            for method in ("ais", "rais")} | {"reaches_-86": all(low > -86 for low in lows)}


def estimates(record: dict) -> str:
    """A run's two estimates with their ±3σ intervals of log Z and those that add the rows' spread."""
    def one(method: str) -> str:
        entry = record[method]
        low, high = entry["log_likelihood_interval_3sigma_of_log_z"]
        wide_low, wide_high = entry["log_likelihood_interval_3sigma"]
        return (f"{entry['log_likelihood']:.2f} [log Z ±3σ: {low:.2f}, {high:.2f}; "
                f"with the rows' spread: {wide_low:.2f}, {wide_high:.2f}]")

    return f"AIS {one('ais')}, reverse AIS {one('rais')}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="recipe:4,today:16,recipe:8,today:32,recipe:16",
                        help="setting:minutes, comma-separated, run in this order")
    parser.add_argument("--train-splits", default="train,valid", help="comma-separated splits to train on")
    parser.add_argument("--eval-split", default="test")
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--betas", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as set)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--list", action="store_true", help="print the settings and stop")
    parser.add_argument("--models", type=Path, default=None, help="directory to save each final model in")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "time_to_ll.json")
    args = parser.parse_args()
    if args.list:
        for name, setting in SETTINGS.items():
            print(f"{name}: {setting}")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = [(name, float(minutes)) for name, minutes in (entry.split(":") for entry in args.runs.split(","))]
    unknown = [name for name, _ in runs if name not in SETTINGS]
    if unknown:
        parser.error(f"unknown settings {unknown}; known: {', '.join(SETTINGS)}")
    data = torch.cat([tr.datasets.binarized_mnist(split, data_dir=args.data_dir)
                      for split in args.train_splits.split(",")])
    held_out = tr.datasets.binarized_mnist(args.eval_split, data_dir=args.data_dir)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; train on {args.train_splits} "
          f"({data.shape[0]} rows), evaluate on {args.eval_split}", flush=True)
    results = {"args": {key: str(value) for key, value in vars(args).items()}, "runs": []}
    for name, minutes in runs:
        rbm, record = train(SETTINGS[name], minutes, data, args.seed)
        if args.models is not None:
            args.models.mkdir(parents=True, exist_ok=True)
            tr.save(rbm, args.models / f"{name}_{minutes:g}min.safetensors")
        record.update(setting=name, minutes=minutes, options=str(SETTINGS[name]))
        record.update(evaluate(rbm, held_out, data, args.chains, args.betas, args.seed))
        results["runs"].append(record)
        pace = record["epoch_seconds"]
        print(f"{name} {minutes:g} min: {record['epochs']} epochs in {record['train_seconds'] / 60:.1f} min "
              f"(epochs of {pace['median']:.2f} s, {pace['min']:.2f}-{pace['max']:.2f}); "
              f"{args.eval_split} LL {estimates(record)}; reaches -86: {record['reaches_-86']}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
