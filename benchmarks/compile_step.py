"""Would ``torch.compile`` speed up a CD-1 step?  One step of a 784 x 500 model at batch 100, in one process.

Three timings of the same step (CD-1 from a batch of MNIST rows: hidden means and sample, visible means
and sample, hidden means again, the gradient statistics), median over ``--steps`` steps after a warm-up:

* ``plain_eager``: the step written with plain ``torch.addmm`` / ``@`` (PyTorch's default products);
* ``plain_compiled``: that function under ``torch.compile`` (inductor; its compile time is reported);
* ``torchrbm_step``: torchrbm's own training step (``tr.fit`` for one epoch of ``--steps`` batches, per step),
  whose products go through ``torchrbm._utils.kernels`` (oneDNN for large float32 products).

    TORCHRBM_DATA=../shared/data python benchmarks/compile_step.py [--steps 200] [--out results/compile_step.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import torchrbm as tr


def plain_step(v, W, a, b, u_hidden, u_visible):
    h_mean = torch.sigmoid(torch.addmm(b, v, W))
    h = (u_hidden < h_mean).to(v.dtype)
    v_model = (u_visible < torch.sigmoid(torch.addmm(a, h, W.T))).to(v.dtype)
    h_model = torch.sigmoid(torch.addmm(b, v_model, W))
    return (v.T @ h_mean - v_model.T @ h_model) / v.shape[0], (v - v_model).mean(0), (h_mean - h_model).mean(0)


def per_step_ms(step, batches, W, a, b, generator) -> float:
    times = []
    for v in batches:
        u_hidden = torch.rand(v.shape[0], W.shape[1], generator=generator)
        u_visible = torch.rand(v.shape, generator=generator)
        start = time.perf_counter()
        step(v, W, a, b, u_hidden, u_visible)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "compile_step.json"))
    args = parser.parse_args()
    rows = tr.datasets.load("mnist", split="train", data_dir=args.data_dir, binarize_method="threshold")
    rows = rows[: 100 * args.steps].float()
    batches = list(rows.split(100))
    rbm = tr.RBM(784, 500, data=rows, generator=torch.Generator().manual_seed(0))
    W, a, b = (p.detach().clone() for p in (rbm.W, rbm.a, rbm.b))
    generator = torch.Generator().manual_seed(0)

    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": args.steps}
    per_step_ms(plain_step, batches[:20], W, a, b, generator)  # warm-up
    results["plain_eager_ms"] = per_step_ms(plain_step, batches, W, a, b, generator)
    start = time.perf_counter()
    compiled = torch.compile(plain_step)
    compiled(batches[0], W, a, b, torch.rand(100, 500), torch.rand(100, 784))
    results["compile_seconds"] = time.perf_counter() - start
    per_step_ms(compiled, batches[:20], W, a, b, generator)
    results["plain_compiled_ms"] = per_step_ms(compiled, batches, W, a, b, generator)
    tr.fit(rbm, rows[:2000], epochs=1, batch_size=100, lr=0.01, momentum=0.0, weight_decay=0.0, seed=0)  # warm-up
    start = time.perf_counter()
    tr.fit(rbm, rows, epochs=1, batch_size=100, lr=0.01, momentum=0.0, weight_decay=0.0, seed=0, monitor_size=100)
    results["torchrbm_step_ms"] = 1e3 * (time.perf_counter() - start) / len(batches)
    for key, value in results.items():
        print(f"{key:20s} {value:.3f}" if isinstance(value, float) else f"{key:20s} {value}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
