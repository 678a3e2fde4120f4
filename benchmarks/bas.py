"""Bars and stripes 4x4: exact log-likelihood curves of CD-1, CD-10, PCD and PT.

16 visible and 16 hidden units, the 32 training patterns, batch 8, learning rate
0.05, no momentum or weight decay, ``--epochs`` epochs, ``--seeds`` seeds per
sampler; the exact mean log-likelihood is recorded every ``--every`` epochs.
PCD keeps 100 chains; PT 100 chains at each of 10 temperatures.  A second panel
repeats CD-1 at a large learning rate (``--divergence-lr``), where its
likelihood first rises and then falls (Fischer & Igel 2010).  The best possible
value is -3.379 nats per pattern.

    python benchmarks/bas.py [--epochs 4000] [--seeds 3] [--out benchmarks/results/bas]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

import torchrbm as tr

OPTIMUM = -3.379


def samplers() -> dict:
    return {
        "CD-1": lambda: tr.CD(k=1),
        "CD-10": lambda: tr.CD(k=10),
        "PCD": lambda: tr.PCD(n_chains=100),
        "PT": lambda: tr.PT(n_temps=10, n_chains=100),
    }


def curve(make_sampler, data, *, epochs: int, every: int, lr: float, seed: int) -> list[tuple[int, float]]:
    rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(seed))
    points = [(0, tr.log_likelihood(rbm, data))]

    def record(model, entry):
        if (entry["epoch"] + 1) % every == 0:
            points.append((entry["epoch"] + 1, tr.log_likelihood(model, data)))

    tr.fit(rbm, data, sampler=make_sampler(), epochs=epochs, batch_size=8, lr=lr, momentum=0.0, weight_decay=0.0,
           seed=seed, callbacks=[record])
    return points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4000)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--divergence-lr", type=float, default=0.5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bas"))
    args = parser.parse_args()
    data = tr.datasets.bars_and_stripes(4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    curves: dict[str, list] = {}
    summary: dict[str, dict] = {}
    runs = {name: (make, args.lr) for name, make in samplers().items()}
    runs[f"CD-1, lr {args.divergence_lr}"] = (samplers()["CD-1"], args.divergence_lr)
    for name, (make, lr) in runs.items():
        start = time.perf_counter()
        curves[name] = [curve(make, data, epochs=args.epochs, every=args.every, lr=lr, seed=seed)
                        for seed in range(args.seeds)]
        final = [points[-1][1] for points in curves[name]]
        best = [max(ll for _, ll in points) for points in curves[name]]
        summary[name] = {"lr": lr, "final_mean": statistics.mean(final), "final": final, "best": best,
                         "seconds": time.perf_counter() - start}
        print(f"{name:16s} final {statistics.mean(final):7.3f} (seeds {[round(x, 3) for x in final]}), "
              f"best {[round(x, 3) for x in best]}, {summary[name]['seconds']:.0f} s", flush=True)

    fig = Figure(figsize=(11, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    colours = dict(zip(runs, ["tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"], strict=True))
    for name, runs_of_sampler in curves.items():
        ax = right if name.startswith("CD-1, lr") else left
        for index, points in enumerate(runs_of_sampler):
            epochs, values = zip(*points, strict=True)
            ax.plot(epochs, values, color=colours[name], alpha=0.8, lw=1, label=name if index == 0 else None)
    for ax, title in ((left, f"learning rate {args.lr}"), (right, f"CD-1, learning rate {args.divergence_lr}")):
        ax.axhline(OPTIMUM, color="black", ls="--", lw=0.8, label="optimum -3.379")
        ax.set(xlabel="epoch", ylabel="exact log-likelihood per pattern", title=title, ylim=(-12, -3))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(out / "bas.png", dpi=100)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "summary": summary, "curves": curves},
                                                 indent=2) + "\n")
    print(f"wrote {out / 'bas.png'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
