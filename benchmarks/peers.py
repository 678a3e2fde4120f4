"""Training speed on MNIST against learnergy, a maintained PyTorch RBM library, in one process.

learnergy 2.0.2 (``pip install learnergy==2.0.2``; it needs torch >= 2.13 and
installs scikit-image) trains its Bernoulli ``RBM`` by CD-k: autograd of the
mean free energy of the data minus that of the chains' last visible samples,
then ``torch.optim.SGD`` - the same update as torchrbm's CD-k.  Its ``fit`` also
computes every mini-batch's pseudo-likelihood and squared reconstruction error,
and batches through a ``DataLoader``; these are part of its training loop and
cannot be switched off.  torchrbm's epoch includes its own per-epoch monitoring.

Setting: 60 000 x 784 grey-level MNIST images in [0, 1], 500 hidden units,
batch 100, learning rate 0.1, no momentum, float32, one epoch, CD-1 and CD-10.
After the timed epochs each trained model's mean-field reconstruction error
on the 10 000 test images is measured (outside the timing), to show that they
learned alike.  Runs take
turns, one second apart, after a warm-up run each (``throughput.time_runs``).

    pip install learnergy==2.0.2
    python benchmarks/peers.py [--repeats 3] [--out benchmarks/results/peers.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
from pathlib import Path

import torch
from throughput import LR, N_HIDDEN, paired_ratio, time_runs

import torchrbm as tr

BATCH = 100


def torchrbm_epoch(x: torch.Tensor, k: int, trained: list):
    def run():
        rbm = tr.RBM(x.shape[1], N_HIDDEN, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, x, sampler=tr.CD(k=k), epochs=1, batch_size=BATCH, lr=LR, momentum=0.0, weight_decay=0.0,
               seed=0)
        trained.append(rbm)

    return run


def learnergy_epoch(x: torch.Tensor, k: int, trained: list):
    from learnergy.models.bernoulli import RBM as LearnergyRBM

    dataset = torch.utils.data.TensorDataset(x, torch.zeros(x.shape[0]))

    def run():
        torch.manual_seed(0)
        model = LearnergyRBM(n_visible=x.shape[1], n_hidden=N_HIDDEN, steps=k, learning_rate=LR)
        model.fit(dataset, batch_size=BATCH, epochs=1)
        trained.append(model)

    return run


@torch.no_grad()
def reconstruction_error(model, test: torch.Tensor) -> float:
    """Mean squared error per pixel of the mean-field reconstruction ``E[v | h = E[h | v]]``."""
    if isinstance(model, tr.RBM):
        return tr.reconstruction_error(model, test)
    return float(((model.visible_sampling(model.hidden_sampling(test)[0])[0] - test) ** 2).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/peers.json"))
    args = parser.parse_args()
    try:
        import learnergy
    except ImportError:
        parser.error("learnergy is not installed: pip install learnergy==2.0.2")
    logging.getLogger("learnergy").setLevel(logging.WARNING)  # it logs every epoch at INFO
    torch.manual_seed(0)
    x = tr.datasets.load("mnist", binarize_method=None)
    test = tr.datasets.load("mnist", split="test", binarize_method=None)
    print(f"torch {torch.__version__}, learnergy {learnergy.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    results = {}
    for k in (1, 10):
        trained: dict[str, list] = {"torchrbm": [], "learnergy": []}
        runs = {"torchrbm": torchrbm_epoch(x, k, trained["torchrbm"]),
                "learnergy": learnergy_epoch(x, k, trained["learnergy"])}
        times = time_runs(runs, args.repeats)
        errors = {name: [reconstruction_error(model, test) for model in models] for name, models in trained.items()}
        trained.clear()
        ratio = paired_ratio(times, "learnergy", "torchrbm")
        results[f"cd{k}"] = {"runs": times, "test_reconstruction_error": errors,
                             "seconds": {name: statistics.median(t) for name, t in times.items()},
                             "torchrbm_speed_up": ratio}
        print(f"\nCD-{k}, batch {BATCH}, {N_HIDDEN} hidden, one epoch")
        for name, values in times.items():
            print(f"  {name:10s} median {statistics.median(values):7.3f} s  runs {[round(t, 3) for t in values]}"
                  f"  test reconstruction error {statistics.median(errors[name]):.4f}")
        print(f"  torchrbm speed-up {ratio['median']:.2f}x (range {ratio['min']:.2f}-{ratio['max']:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"torch": torch.__version__, "learnergy": learnergy.__version__,
                                    "threads": torch.get_num_threads(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
