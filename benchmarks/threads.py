"""Small and large models on an idle and on a busy CPU: one thread, PyTorch's count, torchrbm's policy.

PyTorch runs CPU work on one thread per core by default.  When other processes
keep every core busy, each multi-threaded operation waits for its helper threads
to be scheduled, which costs small models far more than it gains them.  This
script times the same work

* with **one thread** (``torch.set_num_threads(1)``),
* with **PyTorch's count** (``torch.get_num_threads()`` at start, one per core) and
  torchrbm's one-thread policy off (``threads.set_one_thread_below(0)``): the
  behaviour before the policy,
* with **the policy**: PyTorch's count, and torchrbm's default threshold
  (:data:`torchrbm.threads.DEFAULT_ONE_THREAD_BELOW`), which runs calls whose
  products are smaller on one thread,

each on the machine as it is (**idle**: no load of ours) and with one CPU-bound
busy-loop process per core competing (**loaded**).  The work:

* small: forward AIS on a 16 x 16 bars-and-stripes model (100 chains x 200
  temperatures); a CD-1 epoch over 600 digits of the digits model 64 x 100 at
  batch 20; DBN pretraining 64-256-256 on the same 600 digits (one CD-1 epoch a
  layer, batch 20); DBN fine-tuning (backpropagation through 64-256-256-10 on
  all 1797 digits, batch 100, two epochs);
* the threshold's neighbourhood: CD-1 at batch 100 on 10 000 MNIST rows with
  25 ... 200 hidden units;
* large: the same on 784 x 500 (the model and batch of ``throughput.py``'s
  headline epoch; 10 000 rows to keep the slow runs of a busy machine short).

Rounds alternate which condition goes first; within a condition the settings of
a work take turns (``throughput.time_runs``, the order rotated each round), after
one warm-up run of each work on one thread on the idle machine.  The printed and saved figures are
medians with their ranges; ratios pair the runs of the same round.  Each
condition block records the 1-minute load average before it and the cores used
by other processes during it (``/proc/stat`` minus this process and its busy
loops), since other work on a shared machine changes what "idle" means.

    python benchmarks/threads.py [--rounds 3] [--only ais_bas,mnist_h500] \
        [--out benchmarks/results/threads.json]
    python benchmarks/threads.py --products --out benchmarks/results/threads_products.json

``--products`` times single ``b + v W`` products of several sizes instead, on one
thread and on PyTorch's count, keeping the fastest of 300 runs of each: on a
busy machine the fastest run is the nearest to what an idle machine gives, which
shows what two threads gain where they get their cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from throughput import paired_ratio, time_runs, torchrbm_epoch, write_report

import torchrbm as tr
from torchrbm import threads

SWEEP_HIDDEN = (25, 50, 100, 200)
SWEEP_ROWS = 10_000
CONDITIONS = ("idle", "loaded")
SMALL_ROWS = 600  # digits for the small training runs: 30 steps at batch 20


def ais_bas(n_betas: int = 200) -> tuple[Callable[[], None], tr.RBM, int]:
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
    return lambda: tr.ais(rbm, n_chains=100, n_betas=n_betas, data=data, seed=0), rbm, 100


def fit_digits() -> tuple[Callable[[], None], tr.RBM, int]:
    x = tr.datasets.digits(binarize_method=None)[:SMALL_ROWS]

    def run():
        tr.fit(tr.RBM(64, 100, generator=torch.Generator().manual_seed(0)), x, epochs=1, batch_size=20, lr=0.1,
               seed=0)

    return run, tr.RBM(64, 100), 20


def dbn_pretrain() -> tuple[Callable[[], None], tr.DBN, int]:
    x = tr.datasets.digits(binarize_method=None)[:SMALL_ROWS]

    def run():
        tr.DBN([64, 256, 256], generator=torch.Generator().manual_seed(0)).pretrain(
            x, epochs=1, batch_size=20, lr=0.1, seed=0)

    return run, tr.DBN([64, 256, 256]), 20


def dbn_fine_tune() -> tuple[Callable[[], None], tr.DBN, int]:
    x, y = tr.datasets.digits(binarize_method=None, return_labels=True)

    def run():
        tr.DBN([64, 256, 256], generator=torch.Generator().manual_seed(0)).fine_tune(
            x, y, epochs=2, batch_size=100, lr=0.3, patience=10, validation_fraction=0.0, seed=0)

    return run, tr.DBN([64, 256, 256]), 100


def mnist_epoch(x: torch.Tensor, n_hidden: int) -> tuple[Callable[[], None], tr.RBM, int]:
    return torchrbm_epoch(x, "cd", 1, 100, "32-true", n_hidden=n_hidden), tr.RBM(x.shape[1], n_hidden), 100


def workloads(data_dir: str | None) -> dict[str, tuple[Callable[[], None], object, int]]:
    """name -> (run, a model of its size, rows of its products)."""
    mnist = tr.datasets.mnist("train", data_dir=data_dir)
    work = {"ais_bas": ais_bas(), "fit_digits": fit_digits(), "dbn_pretrain": dbn_pretrain(),
            "dbn_fine_tune": dbn_fine_tune()}
    work.update({f"mnist_h{n}": mnist_epoch(mnist[:SWEEP_ROWS], n) for n in SWEEP_HIDDEN})
    work["mnist_h500"] = mnist_epoch(mnist[:SWEEP_ROWS], 500)
    return work


#: (rows, n_visible, n_hidden) of the products timed alone with ``--products``.
PRODUCTS = ((100, 16, 16), (20, 64, 100), (20, 256, 256), (100, 784, 25), (100, 784, 50), (100, 784, 100),
            (100, 784, 200), (100, 784, 500))


def product_times(threads_counts: tuple[int, ...], blocks: int = 10, calls: int = 30) -> dict[str, dict]:
    """The fastest of ``blocks x calls`` runs of one ``b + v W`` product (``torchrbm._utils.kernels.addmm``) on
    each thread count, in blocks that take turns: on a busy machine the fastest run is the
    nearest to the idle machine's time."""
    from torchrbm._utils import kernels

    results = {}
    for rows, n_visible, n_hidden in PRODUCTS:
        gen = torch.Generator().manual_seed(0)
        v, w = torch.rand(rows, n_visible, generator=gen), torch.rand(n_visible, n_hidden, generator=gen)
        b = torch.rand(n_hidden, generator=gen)
        best = {n: float("inf") for n in threads_counts}
        for _ in range(blocks):
            for n in threads_counts:
                torch.set_num_threads(n)
                for _ in range(calls):
                    start = time.perf_counter()
                    kernels.addmm(b, v, w)
                    best[n] = min(best[n], time.perf_counter() - start)
        name = f"{rows}x{n_visible}x{n_hidden}"
        results[name] = {"macs": rows * n_visible * n_hidden, "best_seconds": best}
        print(f"  {name:12s} {rows * n_visible * n_hidden:>12,} multiply-adds: "
              + ", ".join(f"{n} thread(s) {t * 1e6:8.1f} us" for n, t in best.items())
              + f"; speed-up {best[threads_counts[0]] / best[threads_counts[-1]]:.2f}", flush=True)
    return results


def with_setting(run: Callable[[], None], n_threads: int, one_thread_below: int | None) -> Callable[[], None]:
    """``run`` on ``n_threads`` torch threads with the policy's threshold (``None``: its default)."""

    def timed():
        before = torch.get_num_threads()
        torch.set_num_threads(n_threads)
        threads.set_one_thread_below(one_thread_below)
        try:
            run()
        finally:
            threads.set_one_thread_below(None)
            torch.set_num_threads(before)

    return timed


@contextmanager
def competing_load(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound busy loops (plain Python processes) while the block runs."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(1.0)  # let them start spinning
        yield
    finally:
        for process in busy:
            process.kill()
        for process in busy:
            process.wait()


def cpu_seconds() -> dict[str, float] | None:
    """CPU seconds used so far by the whole machine and by this process with its waited-for
    children, and the wall clock (Linux ``/proc/stat``; ``None`` elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:8]]
    except OSError:
        return None
    ours = os.times()
    return {"machine": (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK"),
            "ours": ours.user + ours.system + ours.children_user + ours.children_system,
            "wall": time.monotonic()}


def other_cores(before: dict[str, float] | None, after: dict[str, float] | None) -> float | None:
    """Cores used on average by processes other than this one and its busy loops, between two
    :func:`cpu_seconds` readings."""
    if before is None or after is None:
        return None
    others = (after["machine"] - before["machine"]) - (after["ours"] - before["ours"])
    return max(others, 0.0) / (after["wall"] - before["wall"])


def processor() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated subset of the work names")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds before each timed run (default: 0.3)")
    parser.add_argument("--products", action="store_true",
                        help="time single products on one thread and on PyTorch's count instead (fastest run of 300)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "threads.json"))
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    default_threads = torch.get_num_threads()
    settings = {"one_thread": (1, 0), "torch_threads": (default_threads, 0), "policy": (default_threads, None)}
    if args.products:
        print(f"torch {torch.__version__}, {cores} cores, {processor()}, load average {os.getloadavg()[0]:.2f}")
        report = {"products": product_times((1, default_threads)), "load_average_end": os.getloadavg()[0],
                  "torch": torch.__version__, "machine": processor(), "cores": cores,
                  "command": "python benchmarks/threads.py " + " ".join(sys.argv[1:])}
        return write_report(report, args.out)
    work = workloads(args.data_dir)
    if args.only:
        work = {name: work[name] for name in args.only.split(",")}
    sizes = {name: {"rows": rows, "macs_per_product": rows * threads.macs_per_row(model),
                    "policy_threads": threads.threads_for(model, rows)} for name, (_, model, rows) in work.items()}
    print(f"torch {torch.__version__}, {default_threads} threads by default, {cores} cores, "
          f"{processor()}; policy: one thread below "
          f"{threads.DEFAULT_ONE_THREAD_BELOW:,} multiply-adds per product")
    print(f"loaded: {cores} busy-loop processes; {args.rounds} rounds")
    for name, size in sizes.items():
        print(f"  {name:14s} {size['macs_per_product']:>12,} multiply-adds per product -> policy: "
              f"{size['policy_threads']} thread(s)")

    runs = {name: {setting: with_setting(run, *value) for setting, value in settings.items()}
            for name, (run, _, _) in work.items()}
    for by_setting in runs.values():  # warm-up (data, kernels' first calls), idle, on one thread
        by_setting["one_thread"]()
    times = {name: {condition: {setting: [] for setting in settings} for condition in CONDITIONS} for name in work}
    blocks = []
    for round_ in range(args.rounds):
        for condition in CONDITIONS if round_ % 2 == 0 else CONDITIONS[::-1]:
            block = {"round": round_, "condition": condition, "load_average_before": os.getloadavg()[0]}
            before = cpu_seconds()
            with competing_load(cores if condition == "loaded" else 0):
                block["load_average_start"] = os.getloadavg()[0]
                for name, by_setting in runs.items():
                    order = list(by_setting)[round_ % len(by_setting):] + list(by_setting)[:round_ % len(by_setting)]
                    measured = time_runs({setting: by_setting[setting] for setting in order}, 1, args.pause,
                                         warm_up=False)
                    for setting, values in measured.items():
                        times[name][condition][setting] += values
                    print(f"  {condition:6s} {name:14s} " + ", ".join(f"{setting} {values[0]:.3f} s"
                                                                  for setting, values in measured.items()), flush=True)
                block["load_average_end"] = os.getloadavg()[0]
            block["other_cores"] = other_cores(before, cpu_seconds())
            blocks.append(block)
            print(f"round {round_ + 1} {condition:6s}: load average {block['load_average_before']:.2f} before, "
                  f"{block['load_average_end']:.2f} at the end; other processes used "
                  f"{block['other_cores'] if block['other_cores'] is None else round(block['other_cores'], 2)} cores",
                  flush=True)

    results = {}
    print(f"\n{'work':14s} {'condition':9s} " + " ".join(f"{s:>24s}" for s in settings)
          + f" {'torch_threads/policy':>22s} {'one_thread/policy':>20s}")
    for name in work:
        results[name] = {**sizes[name]}
        for condition in CONDITIONS:
            measured = times[name][condition]
            entry = {"runs": measured, "seconds": {s: summary(v) for s, v in measured.items()},
                     "torch_threads_over_policy": paired_ratio(measured, "torch_threads", "policy"),
                     "one_thread_over_policy": paired_ratio(measured, "one_thread", "policy")}
            results[name][condition] = entry
            cells = " ".join(f"{v['median']:8.3f} ({v['min']:.3f}-{v['max']:.3f})".rjust(24)
                             for v in entry["seconds"].values())
            ratios = [entry["torch_threads_over_policy"], entry["one_thread_over_policy"]]
            print(f"{name:14s} {condition:9s} {cells} "
                  + " ".join(f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})".rjust(w)
                             for r, w in zip(ratios, (22, 20), strict=True)))
    report = {"results": results, "blocks": blocks, "settings": {s: {"threads": n, "one_thread_below": below}
                                                                  for s, (n, below) in settings.items()},
              "default_one_thread_below": threads.DEFAULT_ONE_THREAD_BELOW, "cores": cores,
              "torch": torch.__version__, "machine": processor(),
              "command": "python benchmarks/threads.py " + " ".join(sys.argv[1:])}
    return write_report(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
