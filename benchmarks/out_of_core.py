"""Training from a file larger than the process may hold: peak memory of ``fit`` on ``.npy`` data read in chunks.

Two data files are written (binarised MNIST training images, threshold 0.5,
``uint8``): ``mnist.npy`` (60 000 x 784, 47 MB) and ``big.npy``, the same
images repeated ``--tiles`` times (default 100: 6 000 000 x 784, 4.7 GB).
Each run is a fresh process that builds a 784 x 500 RBM, then caps its own
address space at its current size plus ``--budget-mib`` (``RLIMIT_AS``, so a
process that tried to hold the data in memory would fail), resets its peak
resident-memory mark and trains one CD-1 epoch (batch 100, float32) from the file with
``tr.NpyRows`` (64 MiB chunks).  It reports the resident memory before training
(the Python/PyTorch baseline with the model), the peak during training, and
the epoch's time.  The in-memory run on ``mnist.npy`` (``np.load`` into a
tensor) is shown for comparison.

    python benchmarks/out_of_core.py [--tiles 100] [--budget-mib 1024] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MIB = 2**20


def _status(field: str) -> int:
    """A size from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def write_tiled(images: np.ndarray, tiles: int, path: Path) -> None:
    """``images`` repeated ``tiles`` times as one .npy file, written piece by piece."""
    shape = (images.shape[0] * tiles, images.shape[1])
    with path.open("wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": np.lib.format.dtype_to_descr(images.dtype),
                                                    "fortran_order": False, "shape": shape})
        for _ in range(tiles):
            file.write(images.tobytes())


def child(path: str, mode: str, budget_mib: int) -> dict:
    import torch

    import torchrbm as tr

    rbm = tr.RBM(784, 500, generator=torch.Generator().manual_seed(0))
    torch.optim.SGD(rbm.parameters())  # the first optimizer of a process imports torch._dynamo: part of the baseline
    data = tr.NpyRows(path) if mode == "stream" else torch.from_numpy(np.load(path))
    limit = _status("VmSize") + budget_mib * MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident-memory mark
    baseline = _status("VmRSS")
    start = time.perf_counter()
    tr.fit(rbm, data, sampler=tr.CD(k=1), epochs=1, batch_size=100, lr=0.01, momentum=0.0, weight_decay=0.0, seed=0)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    rows = data.shape[0]
    return {"file": path, "mode": mode, "rows": rows, "file_mib": Path(path).stat().st_size / MIB,
            "baseline_rss_mib": baseline / MIB, "peak_rss_mib": peak / MIB,
            "peak_above_baseline_mib": (peak - baseline) / MIB, "address_space_cap_mib": limit / MIB,
            "epoch_seconds": seconds, "rows_per_second": rows / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=100)
    parser.add_argument("--budget-mib", type=int, default=1024)
    parser.add_argument("--workdir", default=None, help="where the data files go (default: a temporary directory)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "out_of_core.json"))
    parser.add_argument("--child", nargs=2, metavar=("FILE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.budget_mib)))
        return 0

    import torchrbm as tr

    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        images = (tr.datasets.mnist("train", data_dir=args.data_dir).numpy() >= 0.5).astype(np.uint8)
        mnist, big = Path(workdir) / "mnist.npy", Path(workdir) / "big.npy"
        np.save(mnist, images)
        write_tiled(images, args.tiles, big)
        results = []
        for path, mode in ((mnist, "memory"), (mnist, "stream"), (big, "stream")):
            finished = subprocess.run([sys.executable, __file__, "--budget-mib", str(args.budget_mib),
                                       "--child", str(path), mode], capture_output=True, text=True)
            if finished.returncode != 0:
                print(finished.stderr[-2000:], file=sys.stderr)
                return finished.returncode
            result = json.loads(finished.stdout.strip().splitlines()[-1])
            results.append(result)
            print(f"{path.name:10s} {mode:6s} {result['rows']:>9d} rows ({result['file_mib']:8.0f} MiB): "
                  f"baseline {result['baseline_rss_mib']:6.0f} MiB, peak {result['peak_rss_mib']:6.0f} MiB "
                  f"(+{result['peak_above_baseline_mib']:.0f}), epoch {result['epoch_seconds']:.1f} s "
                  f"({result['rows_per_second']:.0f} rows/s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": results, "budget_mib": args.budget_mib, "tiles": args.tiles,
                               "command": "python benchmarks/out_of_core.py"}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
