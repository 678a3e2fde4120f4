"""Next-frame prediction on moving-bar sequences: a conditional RBM against a plain RBM.

Data: ``tr.datasets.moving_bars`` (a bar of 3 pixels moving one pixel per frame,
left or right, round a ring of 12 pixels, 2 % of pixels flipped); training on 60
sequences of 30 frames, testing on 20 others.  Both models have 12 visible and
24 hidden units and the same CD-1 training; the CRBM also sees the previous two
frames.  Prediction of frame t: Gibbs sampling from frame t-1 with (CRBM) or
without (RBM) the context clamped, then one mean-field step; the error is the
mean squared error per pixel against the observed (noisy) frame.  Several seeds.

    python benchmarks/crbm_sequences.py [--seeds 5] [--out benchmarks/results/crbm_sequences.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import torchrbm as tr


def prediction_errors(seed: int, epochs: int, steps: int) -> dict[str, float]:
    train_frames, train_context = tr.datasets.sequence_windows(tr.datasets.moving_bars(60, seed=seed), order=2)
    test_frames, test_context = tr.datasets.sequence_windows(tr.datasets.moving_bars(20, seed=1000 + seed), order=2)
    settings = {"epochs": epochs, "batch_size": 20, "lr": 0.05, "momentum": 0.5, "weight_decay": 0.0,
                "seed": seed}
    crbm = tr.ConditionalRBM(12, 24, 24, generator=torch.Generator().manual_seed(seed))
    tr.fit(crbm, train_frames, context=train_context, **settings)
    rbm = tr.RBM(12, 24, data=train_frames, generator=torch.Generator().manual_seed(seed))
    tr.fit(rbm, train_frames, **settings)
    generator = torch.Generator().manual_seed(seed)
    target = test_frames.float()
    previous = test_context[:, :12].float()
    crbm_prediction = crbm.predict(test_context, start=previous, steps=steps, generator=generator)
    rbm_prediction = rbm.prob_v(rbm.prob_h(rbm.gibbs(previous, steps, generator)))
    return {
        "crbm": (crbm_prediction - target).square().mean().item(),
        "rbm": (rbm_prediction - target).square().mean().item(),
        "copy_previous_frame": (previous - target).square().mean().item(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--steps", type=int, default=10, help="Gibbs steps per prediction")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "crbm_sequences.json"))
    args = parser.parse_args()
    runs = [prediction_errors(seed, args.epochs, args.steps) for seed in range(args.seeds)]
    summary = {name: {"mean": statistics.mean(r[name] for r in runs), "runs": [r[name] for r in runs]}
               for name in runs[0]}
    for name, entry in summary.items():
        print(f"{name:20s} one-step prediction error {entry['mean']:.4f} per pixel "
              f"(seeds: {', '.join(f'{x:.4f}' for x in entry['runs'])})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "errors": summary}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
