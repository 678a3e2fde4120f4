"""Training speed on MNIST: torchrbm against scikit-learn's BernoulliRBM and the matmul roofline, in one process.

Setting: 60 000 x 784 grey-level MNIST images, 500 hidden units, float32
parameters, one epoch.  The main comparison is CD-1 at batch 100; further
settings are batch 10 and 1000, CD-10 and PCD-1 (100 chains).  torchrbm runs
with float32 matrix products (``precision="32-true"``) and with bfloat16 ones
(``"bf16-mixed"``).  scikit-learn's BernoulliRBM (whose algorithm is PCD-1 with
as many chains as the batch size: the same products per step as CD-1) runs the
same epoch (``n_iter=1``) on float64 and on float32 input; it has no CD-k, so
CD-10 is measured against the roofline only.

The *roofline* of a setting is the time of the same sequence of matrix products
as torchrbm's epoch (three or more ``b + v W`` / ``a + h W^T`` products and the
weight statistic ``V^T H`` per step, through the same kernels) with nothing
else: no sampling, no element-wise work, no update.  ``roofline fraction`` is
that time over the epoch's time.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow a current NumPy down; the script
re-executes itself with both unset so that scikit-learn gets its best kernel, and
prints the BLAS libraries and kernels it ran with (threadpoolctl).  Runs of one
setting take turns (round robin), after one warm-up run each.  ``--device cuda``
runs torchrbm and the roofline on a GPU (waiting for its queued work before
each run's clock stops), against scikit-learn on the CPU.

    python benchmarks/throughput.py [--repeats 5] [--extra-repeats 3] [--device cuda] \
        [--out benchmarks/results/throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from torchrbm._utils.blas import blas_description, reexec_without_blas_overrides

reexec_without_blas_overrides()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402

import torchrbm as tr  # noqa: E402
from torchrbm._utils import kernels  # noqa: E402
from torchrbm.precision import matmul_dtype  # noqa: E402

N_HIDDEN = 500
LR = 0.1
PRECISIONS = ("32-true", "bf16-mixed")
#: name -> (sampler, k, batch size); the first is the headline comparison.
SETTINGS = {
    "cd1_batch100": ("cd", 1, 100),
    "cd1_batch10": ("cd", 1, 10),
    "cd1_batch1000": ("cd", 1, 1000),
    "cd10_batch100": ("cd", 10, 100),
    "pcd1_batch100": ("pcd", 1, 100),
}


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    if torch.cuda.is_available():  # a GPU's queued work belongs to the run
        torch.cuda.synchronize()
    return time.perf_counter() - start


def torchrbm_epoch(x: torch.Tensor, sampler: str, k: int, batch: int, precision: str, n_hidden: int = N_HIDDEN,
                   device: str = "cpu"):
    def run():
        rbm = tr.RBM(x.shape[1], n_hidden, generator=torch.Generator().manual_seed(0), device=device)
        chains = tr.CD(k=k) if sampler == "cd" else tr.PCD(n_chains=batch, k=k)
        tr.fit(rbm, x, sampler=chains, epochs=1, batch_size=batch, lr=LR, momentum=0.0, weight_decay=0.0, seed=0,
               precision=precision)

    return run


def products_per_step(sampler: str, k: int) -> int:
    """Number of ``b + v W`` / ``a + h W^T`` products in one training step (besides ``V^T H``):
    CD-k: the data's hidden units, then k visible and k hidden half-steps; PCD-k: the
    data's hidden units, then k full Gibbs steps and the chains' hidden means."""
    return 1 + 2 * k if sampler == "cd" else 2 + 2 * k


def roofline_epoch(n: int, n_visible: int, sampler: str, k: int, batch: int, precision: str,
                   n_hidden: int = N_HIDDEN, device: str = "cpu"):
    """The epoch's matrix products alone, on random operands, through torchrbm's kernels."""
    dtype = matmul_dtype(precision) or torch.float32
    gen = torch.Generator().manual_seed(0)
    weights = (torch.randn(n_visible, n_hidden, generator=gen) * 0.01).to(device, dtype)
    visible_bias = torch.zeros(n_visible, dtype=dtype, device=device)
    hidden_bias = torch.zeros(n_hidden, dtype=dtype, device=device)
    v = torch.rand(batch, n_visible, generator=gen).to(device, dtype)
    h = torch.rand(batch, n_hidden, generator=gen).to(device, dtype)
    stacked_v = torch.cat([v.T, v.T], 1).T
    stacked_h = torch.cat([h, h])
    n_products = products_per_step(sampler, k)
    steps = -(-n // batch)

    def run():
        for _ in range(steps):
            for i in range(n_products):
                if i % 2 == 0:
                    kernels.addmm(hidden_bias, v, weights)
                else:
                    kernels.addmm(visible_bias, h, weights.T)
            kernels.mm(stacked_v.T, stacked_h)

    return run


def sklearn_epoch(x: np.ndarray, batch: int):
    def run():
        BernoulliRBM(n_components=N_HIDDEN, batch_size=batch, learning_rate=LR, n_iter=1,
                     random_state=0).fit(x)

    return run


def time_runs(runs: dict, repeats: int, pause: float = 1.0, warm_up: bool = True) -> dict[str, list[float]]:
    """Time each run ``repeats`` times, after one warm-up run of each (unless ``warm_up`` is false).

    The runs take turns (round robin), so that a drift in the machine's speed
    touches all of them alike, with a pause before each so that the previous
    library's idle threads have stopped spinning when the next one starts.
    """
    for run in runs.values() if warm_up else ():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            time.sleep(pause)
            times[name].append(_seconds(run))
    return times


def paired_ratio(times: dict[str, list[float]], slower: str, faster: str) -> dict[str, float]:
    """Median and range over the rounds of ``slower / faster`` measured in the same round."""
    paired = [a / b for a, b in zip(times[slower], times[faster], strict=True)]
    return {"median": statistics.median(paired), "min": min(paired), "max": max(paired)}


def measure_setting(x: torch.Tensor, name: str, repeats: int, device: str = "cpu") -> dict:
    sampler, k, batch = SETTINGS[name]
    runs = {}
    for precision in PRECISIONS:
        runs[f"torchrbm_{precision}"] = torchrbm_epoch(x, sampler, k, batch, precision, device=device)
        runs[f"roofline_{precision}"] = roofline_epoch(x.shape[0], x.shape[1], sampler, k, batch, precision,
                                                       device=device)
    if k == 1:
        runs["sklearn_float64"] = sklearn_epoch(x.numpy().astype(np.float64), batch)
        runs["sklearn_float32"] = sklearn_epoch(x.numpy(), batch)
    times = time_runs(runs, repeats)
    ratios = {}
    for precision in PRECISIONS:
        ours = f"torchrbm_{precision}"
        ratios[f"roofline_fraction_{precision}"] = paired_ratio(times, f"roofline_{precision}", ours)
        for reference in ("sklearn_float64", "sklearn_float32"):
            if reference in times:
                ratios[f"{ours}_vs_{reference}"] = paired_ratio(times, reference, ours)
    print(f"\n{name}: {sampler.upper()}-{k}, batch {batch}")
    for run, values in times.items():
        print(f"  {run:22s} median {statistics.median(values):7.3f} s  runs {[round(t, 3) for t in values]}")
    for ratio, value in ratios.items():
        print(f"  {ratio:44s} {value['median']:.2f}  (range {value['min']:.2f}-{value['max']:.2f})")
    return {"sampler": sampler, "k": k, "batch_size": batch, "runs": times,
            "seconds": {run: statistics.median(values) for run, values in times.items()}, "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds for the headline setting (CD-1, batch 100)")
    parser.add_argument("--extra-repeats", type=int, default=3, help="rounds for each further setting")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="comma-separated subset of: " + ", ".join(SETTINGS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu", help="torchrbm's and the roofline's device, e.g. cuda "
                        "(scikit-learn runs on the CPU) (default: cpu)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput.json"))
    args = parser.parse_args()

    x = tr.datasets.mnist("train", data_dir=args.data_dir)
    print(f"data: MNIST train {tuple(x.shape)}, {N_HIDDEN} hidden, one epoch per run")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    blas = blas_description()
    print("\n".join(blas))
    headline = next(iter(SETTINGS))
    results = {name: measure_setting(x, name, args.repeats if name == headline else args.extra_repeats, args.device)
               for name in args.settings.split(",")}
    report = {"settings": results, "blas": blas, "torch": torch.__version__, "numpy": np.__version__,
              "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(args.device),
              "command": "python benchmarks/throughput.py"}
    return write_report(report, args.out)


def write_report(report: dict, path: str) -> int:
    """Write a benchmark's JSON ``report`` to ``path`` (making its directory) and say so; 0, for exit codes."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
