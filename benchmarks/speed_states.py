"""Where an epoch's time goes, epoch after epoch: products, uniform random numbers, the rest.

Repeats ``throughput.py``'s headline run (one CD-1 epoch on MNIST, 784 x 500,
batch 100, float32) in one process, with timers around torchrbm's
matrix products (:mod:`torchrbm._utils.kernels`) and ``torch.rand``, and prints each
epoch's split with its page faults and involuntary context switches.  On a
machine whose speed changes while it runs, it shows which part slows down.

``--without-uniforms`` measures instead how fast the epoch could be if random
numbers cost nothing: epochs with ``torch.rand`` replaced by a constant fill (not a
sampler: a bound) take turns with ordinary ones, each followed by the roofline
(the same products alone), and each prints its roofline fraction.

    python benchmarks/speed_states.py [--epochs 40] [--without-uniforms]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from throughput import roofline_epoch, torchrbm_epoch

import torchrbm as tr
from torchrbm._utils import kernels


def timed(totals: dict[str, float], name: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        totals[name] += time.perf_counter() - start
        return result

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--without-uniforms", action="store_true",
                        help="compare with epochs whose uniform random numbers cost nothing (a bound)")
    args = parser.parse_args()
    if args.without_uniforms:
        return compare_without_uniforms(args.epochs)
    totals = {"products": 0.0, "uniforms": 0.0}
    kernels.addmm = timed(totals, "products", kernels.addmm)
    kernels.mm = timed(totals, "products", kernels.mm)
    torch.rand = timed(totals, "uniforms", torch.rand)
    x = tr.datasets.load("mnist", binarize_method=None)
    print("epoch  total s  products s  uniforms s  rest s  page faults  involuntary switches")
    headline = torchrbm_epoch(x, "cd", 1, 100, "32-true")
    for epoch in range(args.epochs):
        totals.update(products=0.0, uniforms=0.0)
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        headline()
        total = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        rest = total - totals["products"] - totals["uniforms"]
        print(f"{epoch:5d}  {total:7.3f}  {totals['products']:10.3f}  {totals['uniforms']:10.3f}  {rest:6.3f}  "
              f"{after.ru_minflt - before.ru_minflt:11d}  {after.ru_nivcsw - before.ru_nivcsw:20d}", flush=True)
    return 0


def compare_without_uniforms(rounds: int) -> int:
    x = tr.datasets.load("mnist", binarize_method=None)
    headline = torchrbm_epoch(x, "cd", 1, 100, "32-true")
    roofline = roofline_epoch(x.shape[0], x.shape[1], "cd", 1, 100, "32-true")
    draws = torch.rand

    def constant(shape, generator=None, device=None, dtype=None, **kwargs):
        return torch.full(tuple(shape), 0.5, device=device, dtype=dtype)

    headline(), roofline()
    print("round  uniforms   epoch s  roofline s  fraction")
    kinds = [("drawn", draws), ("constant", constant)]
    for round_ in range(rounds):
        for name, rand in kinds if round_ % 2 == 0 else kinds[::-1]:  # each goes first in every other round
            torch.rand = rand
            try:
                epoch = _seconds(headline)
            finally:
                torch.rand = draws
            products = _seconds(roofline)
            print(f"{round_:5d}  {name:8s}  {epoch:8.3f}  {products:10.3f}  {products / epoch:8.2f}", flush=True)
    return 0


def _seconds(run) -> float:
    time.sleep(0.5)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
