"""One CD-1 epoch on MNIST: torchrbm against scikit-learn's BernoulliRBM, in one process.

Setting: 60 000 x 784 grey-level MNIST images, 500 hidden units, batch 100,
float32 parameters, one epoch; torchrbm with float32 matrix products
(``precision="32-true"``) and with bfloat16 ones (``"bf16-mixed"``).  scikit-learn's BernoulliRBM runs the same epoch
(``n_iter=1``) on float64 input and on float32 input.  Each timing is the
median of ``--repeats`` runs after one warm-up run.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow a current NumPy down; the script
re-executes itself with both unset so that scikit-learn gets its best kernel, and
prints the BLAS libraries and kernels it ran with (threadpoolctl).

    python benchmarks/throughput.py [--repeats 3] [--out benchmarks/results/throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from torchrbm.blas import blas_description, reexec_without_blas_overrides

reexec_without_blas_overrides()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402

import torchrbm as tr  # noqa: E402

N_HIDDEN = 500
BATCH = 100
LR = 0.1


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def torchrbm_epoch(x: torch.Tensor, precision: str):
    def run():
        rbm = tr.RBM(x.shape[1], N_HIDDEN, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, x, sampler=tr.CD(k=1), epochs=1, batch_size=BATCH, lr=LR, seed=0, precision=precision)

    return run


def sklearn_epoch(x: np.ndarray):
    def run():
        BernoulliRBM(n_components=N_HIDDEN, batch_size=BATCH, learning_rate=LR, n_iter=1,
                     random_state=0).fit(x)

    return run


def time_runs(runs: dict, repeats: int, pause: float = 1.0) -> dict[str, list[float]]:
    """Time each run ``repeats`` times, after one warm-up run of each.

    The runs take turns (round robin), so that a drift in the machine's speed
    touches all of them alike, with a pause before each so that the previous
    library's idle threads have stopped spinning when the next one starts.
    """
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            time.sleep(pause)
            times[name].append(_seconds(run))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput.json"))
    args = parser.parse_args()

    x = tr.datasets.mnist("train", data_dir=args.data_dir)
    print(f"data: MNIST train {tuple(x.shape)}, {N_HIDDEN} hidden, batch {BATCH}, one CD-1 epoch")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    blas = blas_description()
    print("\n".join(blas))

    runs = {
        "torchrbm_float32": torchrbm_epoch(x, "32-true"),
        "torchrbm_bf16_mixed": torchrbm_epoch(x, "bf16-mixed"),
        "sklearn_float64": sklearn_epoch(x.numpy().astype(np.float64)),
        "sklearn_float32": sklearn_epoch(x.numpy()),
    }
    times = time_runs(runs, args.repeats)
    results = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:18s} median {results[name]:.3f} s  runs {[round(t, 3) for t in values]}")

    # Ratios of the runs made in the same round, so that the machine's drift cancels.
    ratios, ratio_ranges = {}, {}
    for ours in ("torchrbm_float32", "torchrbm_bf16_mixed"):
        for ref in ("sklearn_float64", "sklearn_float32"):
            paired = [theirs / mine for theirs, mine in zip(times[ref], times[ours], strict=True)]
            ratios[f"{ours}_vs_{ref}"] = statistics.median(paired)
            ratio_ranges[f"{ours}_vs_{ref}"] = [min(paired), max(paired)]
    for name, value in ratios.items():
        low, high = ratio_ranges[name]
        print(f"speed-up {name}: {value:.2f}x (median of rounds; range {low:.2f}-{high:.2f})")
    report = {"seconds": results, "runs": times, "ratios": ratios, "ratio_ranges": ratio_ranges,
              "blas": blas, "torch": torch.__version__, "numpy": np.__version__,
              "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "command": "python benchmarks/throughput.py"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
