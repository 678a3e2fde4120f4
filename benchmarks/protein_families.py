"""Protein families: regularisation chosen on validation data, test log-likelihood, generative quality,
and lattice proteins' fold probabilities.

For WW and Kunitz (``TORCHRBM_DATA``'s ``proteins/``): the alignment is split by identity (no held-out
sequence 80 % identical to a training one; 20 % test), and the training side again (20 % validation).
Sequence weights are computed within each set.  Potts RBMs with Bernoulli or dReLU hidden units are
trained by PCD-5 (100 chains, no momentum: momentum 0.9 with PCD-1 left the chains behind and the
model with spurious modes, validation log-likelihood -55 to -100 against -49.7; the learning rate falling
linearly to 0 over the last ``--decay-epochs``, which lets the chains settle into the model's
equilibrium: without it the models' long Gibbs chains drift away from the family) on the training rows
for each strength of the L1² penalty on weights (``--l1-squared``,
with ``--l2-fields`` on the fields); the strength with the best validation log-likelihood (AIS, weighted)
is kept, a model with it is trained on the training and validation rows together (weights computed
within them), and that model is measured on the test rows:

* test log-likelihood, weighted, by AIS and reverse AIS with their ±3 sigma intervals;
* generative checks: ``--samples`` sequences (Gibbs chains from the visible biases, ``--gibbs-steps``
  steps) against the test rows: Pearson r of single-site frequencies and of pairwise connected
  correlations (``tr.compare_statistics``), beside two references: an independent-site model
  (the training rows' weighted frequencies, pseudocount 1 / N_eff, sampled as many times) and the
  training and validation rows themselves (the ceiling a model of them can reach).  The ceiling of a
  random 80/20 split is printed too, for comparison with other work.

Lattice proteins (``--lattice``): a Potts–dReLU RBM trained on a random 80 % of the 46 265 sequences;
on the held-out 20 %, Spearman's correlation between each sequence's log-likelihood (``-F(v)``; log Z
is one constant) and its probability of folding into the native structure, beside the independent-site
model's.

    TORCHRBM_DATA=../shared/data python benchmarks/protein_families.py [--quick] [--out benchmarks/results/proteins]
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

import torchrbm as tr
from torchrbm.training.schedules import linear_decay


def identity_split(codes: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return tr.datasets.split_by_identity(codes, identity=0.8, test_fraction=fraction, seed=seed)


def independent_site_frequencies(codes: torch.Tensor, q: int, weights: torch.Tensor) -> torch.Tensor:
    """Weighted site frequencies with pseudocount ``1 / N_eff`` spread over the ``q`` states."""
    from torchrbm.estimation.statistics import site_frequencies

    n_effective = float(weights.sum())
    frequencies = site_frequencies(codes, q, weights)
    pseudo = 1.0 / n_effective
    return (1 - pseudo) * frequencies + pseudo / q


def independent_site_samples(frequencies: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.multinomial(frequencies, n, replacement=True, generator=generator).T


def train_model(codes, q: int, weights, hidden_units: str, n_hidden: int, l1_squared: float, l2_fields: float,
                args) -> tuple[tr.RBM, float]:
    """A Potts RBM trained by PCD (100 chains, ``args.k`` steps), batch 100, for ``args.epochs``."""
    lr = args.lr_drelu if hidden_units == "drelu" else args.lr
    rbm = tr.RBM(codes.shape[1], n_hidden, visible=tr.units.Potts(q), hidden=hidden_units, data=codes,
                 weight_std=0.01, generator=torch.Generator().manual_seed(args.seed))
    start = time.perf_counter()
    tr.fit(rbm, codes, sample_weight=weights, sampler=tr.PCD(n_chains=100, k=args.k), epochs=args.epochs,
           batch_size=100, lr=functools.partial(linear_decay, lr, args.epochs, args.decay_epochs),
           momentum=args.momentum, weight_decay=0.0, l1_squared=l1_squared,
           l2_fields=l2_fields, seed=args.seed)
    return rbm, time.perf_counter() - start


def weighted_ll(model, codes, weights, method: str, n_betas: int, n_chains: int, seed: int = 0) -> dict:
    entry = tr.evaluate(model, codes, [method], n_betas=n_betas, n_chains=n_chains, sample_weight=weights,
                        seed=seed)[method]
    return {key: entry[key] for key in ("log_likelihood", "log_likelihood_interval_3sigma", "log_partition_std")}


def family(name: str, args) -> dict:
    aln = tr.datasets.protein_family(name)
    codes, q = aln.codes.long(), aln.q
    train_side, test = identity_split(codes, 0.2, args.seed)
    train_index, valid_index = identity_split(codes[train_side], 0.2, args.seed + 1)
    train, valid, test_codes = codes[train_side][train_index], codes[train_side][valid_index], codes[test]
    w_train, w_valid, w_test = (tr.datasets.sequence_weights(x) for x in (train, valid, test_codes))
    print(f"{name}: {len(train)} training ({float(w_train.sum()):.0f} effective), {len(valid)} validation, "
          f"{len(test_codes)} test ({float(w_test.sum()):.0f} effective)", flush=True)
    result = {"n_train": len(train), "n_valid": len(valid), "n_test": len(test_codes),
              "n_effective_train": float(w_train.sum()), "n_effective_test": float(w_test.sum()), "models": {}}
    train_all = codes[train_side]  # training and validation rows: the final models' training set
    w_all = tr.datasets.sequence_weights(train_all)
    for hidden_units in args.hidden_units:
        sweep = []
        for l1 in args.l1_squared if len(args.l1_squared) > 1 else []:
            rbm, seconds = train_model(train.double(), q, w_train, hidden_units, args.hidden, l1, args.l2_fields, args)
            valid_ll = weighted_ll(rbm, valid.double(), w_valid, "ais", args.select_betas, args.chains)
            sweep.append({"l1_squared": l1, "validation_log_likelihood": valid_ll, "train_seconds": seconds})
            print(f"  {hidden_units} l1_squared={l1:g}: validation LL {valid_ll['log_likelihood']:.3f} "
                  f"({seconds:.0f} s)", flush=True)
        best = max(sweep, key=lambda entry: entry["validation_log_likelihood"]["log_likelihood"]) if sweep \
            else {"l1_squared": args.l1_squared[0]}
        rbm, seconds = train_model(train_all.double(), q, w_all, hidden_units, args.hidden, best["l1_squared"],
                                   args.l2_fields, args)
        test_ll = {method: weighted_ll(rbm, test_codes.double(), w_test, method, args.betas, args.chains)
                   for method in ("ais", "rais")}
        samples = tr.generate(rbm, args.samples, args.gibbs_steps, generator=torch.Generator().manual_seed(0))
        checks = tr.compare_statistics(samples.long(), test_codes, q=q, reference_weight=w_test)
        result["models"][hidden_units] = {
            "sweep": sweep, "chosen_l1_squared": best["l1_squared"], "train_seconds": seconds, "test": test_ll,
            "site_frequency_r": checks.site_r, "connected_correlation_r": checks.correlation_r}
        print(f"  {hidden_units}: chosen l1_squared={best['l1_squared']:g}; test LL AIS "
              f"{test_ll['ais']['log_likelihood']:.3f}, RAIS {test_ll['rais']['log_likelihood']:.3f}; "
              f"r sites {checks.site_r:.3f}, pairs {checks.correlation_r:.3f}", flush=True)
        if args.figures:
            tr.plots.plot_statistics(checks).savefig(Path(args.out) / f"{name}_{hidden_units}_statistics.png", dpi=100)
    frequencies = independent_site_frequencies(train_all, q, w_all)
    independent = tr.compare_statistics(independent_site_samples(frequencies, args.samples, 0), test_codes, q=q,
                                        reference_weight=w_test)
    ceiling = tr.compare_statistics(train_all, test_codes, q=q, sample_weight=w_all, reference_weight=w_test)
    log_p = frequencies.log()[torch.arange(test_codes.shape[1]), test_codes].sum(1)
    independent_ll = float(w_test.double() @ log_p / w_test.sum())
    random = torch.randperm(len(codes), generator=torch.Generator().manual_seed(args.seed))
    cut = int(0.8 * len(codes))
    random_train, random_test = codes[random[:cut]], codes[random[cut:]]
    random_ceiling = tr.compare_statistics(random_train, random_test, q=q,
                                           sample_weight=tr.datasets.sequence_weights(random_train),
                                           reference_weight=tr.datasets.sequence_weights(random_test))
    result["references"] = {"independent_site": {**_r(independent), "test_log_likelihood": independent_ll},
                            "training_rows_ceiling": _r(ceiling),
                            "training_rows_ceiling_random_split": _r(random_ceiling)}
    print(f"  independent sites: test LL {independent_ll:.3f}, r pairs {independent.correlation_r:.3f}; ceiling r "
          f"pairs {ceiling.correlation_r:.3f} (random split {random_ceiling.correlation_r:.3f})", flush=True)
    return result


def _r(comparison) -> dict:
    return {"site_frequency_r": comparison.site_r, "connected_correlation_r": comparison.correlation_r}


def lattice(args) -> dict:
    aln = tr.datasets.protein_family("lattice-proteins")
    pnat = tr.datasets.lattice_proteins_pnat()
    codes = aln.codes.long()
    order = torch.randperm(len(codes), generator=torch.Generator().manual_seed(args.seed))
    cut = int(0.8 * len(codes))
    train, test = codes[order[:cut]], codes[order[cut:]]
    w_train = aln.weights[order[:cut]]
    rbm, seconds = train_model(train.double(), aln.q, w_train, "drelu", args.hidden, args.lattice_l1_squared,
                               args.l2_fields, args)
    log_likelihood = -rbm.free_energy(test.double()).detach()
    frequencies = independent_site_frequencies(train, aln.q, w_train)
    independent = frequencies.log()[torch.arange(test.shape[1]), test].sum(1)
    target = pnat[order[cut:]].numpy()
    result = {"n_train": cut, "n_test": len(test), "train_seconds": seconds, "l1_squared": args.lattice_l1_squared,
              "spearman_rbm": float(stats.spearmanr(log_likelihood.numpy(), target).statistic),
              "spearman_independent_site": float(stats.spearmanr(independent.numpy(), target).statistic)}
    print(f"lattice proteins: Spearman rho of log-likelihood and p_nat on {len(test)} held-out sequences: RBM "
          f"{result['spearman_rbm']:.3f}, independent sites {result['spearman_independent_site']:.3f}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["ww", "kunitz"])
    parser.add_argument("--hidden-units", nargs="+", default=["bernoulli", "drelu"])
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate of Bernoulli hidden units")
    parser.add_argument("--lr-drelu", type=float, default=0.01, help="learning rate of dReLU hidden units")
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--k", type=int, default=5, help="Gibbs steps per update of the persistent chains")
    parser.add_argument("--decay-epochs", type=int, default=50,
                        help="the learning rate falls linearly to 0 over these last epochs (0: constant)")
    parser.add_argument("--l1-squared", type=float, nargs="+", default=[0.0, 0.001])
    parser.add_argument("--l2-fields", type=float, default=0.01)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--select-betas", type=int, default=3000, help="AIS temperatures for the validation choice")
    parser.add_argument("--betas", type=int, default=20000, help="AIS and reverse-AIS temperatures on test")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--gibbs-steps", type=int, default=2000)
    parser.add_argument("--lattice", action="store_true", help="also the lattice proteins' fold probabilities")
    parser.add_argument("--lattice-l1-squared", type=float, default=0.0)
    parser.add_argument("--figures", action="store_true", help="write the generative checks' scatter plots")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a minute or two")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "proteins"))
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.hidden, args.l1_squared, args.chains, args.decay_epochs = 2, 10, [0.0, 0.01], 50, 1
        args.select_betas, args.betas, args.samples, args.gibbs_steps = 100, 200, 500, 50
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    report = {"settings": {k: v for k, v in vars(args).items()}, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "families": {name: family(name, args) for name in args.families}}
    if args.lattice:
        report["lattice_proteins"] = lattice(args)
    path = Path(args.out) / "proteins.json"
    path.write_text(json.dumps(report, indent=1, default=float))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    raise SystemExit(main())
