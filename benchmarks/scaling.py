"""How the time of a training epoch grows with the layer sizes: a table and a log-log plot.

One CD-1 epoch over 10 000 rows, batch 100, float32 (``precision="32-true"``),
median of ``--repeats`` runs after a warm-up, together with its *roofline*, the
same epoch's matrix products alone (see ``throughput.py``):

* ``n_hidden`` = 100 ... 2000 on 784 grey-level MNIST pixels;
* ``n_visible`` = 196 ... 3136 with 500 hidden units, on random binary rows with
  MNIST's mean density (the time does not depend on the values).

The slope of log(time) against log(size) is fitted over the whole range and
over the largest three sizes.  A step costs about ``c0 + c1 B (n_v + n_h) + c2 B n_v n_h``
(fixed per-step work, element-wise work and sampling, matrix products), so the
slope approaches 1 as the products take over and is smaller for small layers.

    python benchmarks/scaling.py [--repeats 3] [--out benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from throughput import roofline_epoch, time_runs, torchrbm_epoch  # noqa: E402

import torchrbm as tr  # noqa: E402

ROWS = 10_000
HIDDEN_SIZES = (100, 200, 500, 1000, 2000)
VISIBLE_SIZES = (196, 392, 784, 1568, 3136)


def slope(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def measure(x: torch.Tensor, n_hidden: int, repeats: int) -> dict[str, float]:
    runs = {"epoch": torchrbm_epoch(x, "cd", 1, 100, "32-true", n_hidden=n_hidden),
            "roofline": roofline_epoch(x.shape[0], x.shape[1], "cd", 1, 100, "32-true", n_hidden=n_hidden)}
    times = time_runs(runs, repeats, pause=0.2)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scaling.json"))
    args = parser.parse_args()

    mnist = tr.datasets.mnist("train", data_dir=args.data_dir)[:ROWS]
    density = float(mnist.mean())
    generator = torch.Generator().manual_seed(0)
    series = {"n_hidden": [], "n_visible": []}
    for n_hidden in HIDDEN_SIZES:
        series["n_hidden"].append({"size": n_hidden, **measure(mnist, n_hidden, args.repeats)})
        print("n_visible 784, n_hidden", series["n_hidden"][-1])
    for n_visible in VISIBLE_SIZES:
        rows = (torch.rand(ROWS, n_visible, generator=generator) < density).to(torch.uint8)
        series["n_visible"].append({"size": n_visible, **measure(rows, 500, args.repeats)})
        print("n_hidden 500, n_visible", series["n_visible"][-1])

    slopes = {}
    for name, points in series.items():
        sizes = [p["size"] for p in points]
        for kind in ("epoch", "roofline"):
            seconds = [p[kind] for p in points]
            slopes[f"{name}_{kind}"] = {"all": slope(sizes, seconds), "largest_3": slope(sizes[-3:], seconds[-3:])}
    print(f"\n{'series':10s} {'size':>6s} {'epoch s':>9s} {'roofline s':>11s} {'fraction':>9s}")
    for name, points in series.items():
        for p in points:
            fraction = p["roofline"] / p["epoch"]
            print(f"{name:10s} {p['size']:6d} {p['epoch']:9.3f} {p['roofline']:11.3f} {fraction:9.2f}")
    for name, value in slopes.items():
        print(f"slope {name:20s} all sizes {value['all']:.2f}, largest three {value['largest_3']:.2f}")

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, (name, points) in zip(axes, series.items(), strict=True):
        sizes = [p["size"] for p in points]
        for kind, marker in (("epoch", "o-"), ("roofline", "s--")):
            axis.loglog(sizes, [p[kind] for p in points], marker,
                        label=f"{kind} (slope {slopes[f'{name}_{kind}']['largest_3']:.2f} over the largest three)")
        axis.set_xticks(sizes, [str(size) for size in sizes], minor=False)
        axis.set_xticks([], minor=True)
        axis.set_xlabel(name + (" (784 visible)" if name == "n_hidden" else " (500 hidden)"))
        axis.set_ylabel(f"seconds per CD-1 epoch of {ROWS} rows")
        axis.legend(fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out.with_suffix(".png"), dpi=100)
    out.write_text(json.dumps({"series": series, "slopes": slopes, "rows": ROWS, "batch_size": 100,
                               "torch": torch.__version__, "threads": torch.get_num_threads(),
                               "command": "python benchmarks/scaling.py"}, indent=2) + "\n")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
