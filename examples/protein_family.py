"""From a protein family's alignment to motifs, new sequences and mutational scores.

1. Read an alignment (aligned FASTA, A2M/A3M or Stockholm; default: the WW domain in the data
   directory's ``proteins/``) and weigh each sequence by 1 / its neighbours at 80 % identity.
2. Hold out 20 % of the sequences as whole clusters (no held-out sequence 80 % identical to a training
   one), weights computed within each side.
3. Train a Potts RBM with dReLU hidden units by PCD (5 Gibbs steps, no momentum) with the L1² penalty
   on the weights and an L2 penalty on the fields.
4. Measure the held-out log-likelihood (AIS and reverse AIS, weighted) beside an independent-site
   model's, and write the figures a biologist looks at:

   * ``logos.png``: sequence logos of the hidden units of largest weight norm, with their inputs;
   * ``samples.fasta``: new sequences from Gibbs chains, and ``samples_beta2.fasta`` at inverse
     temperature 2 (closer to the family's most probable sequences);
   * ``generative_checks.png``: site frequencies and pairwise connected correlations of the samples
     against the held-out sequences' (Pearson r);
   * ``mutational_scan.png`` / ``.csv``: every single mutant of the first sequence, scored by
     ``log p(mutant) - log p(wild type)``.

    TORCHRBM_DATA=../shared/data python examples/protein_family.py [--alignment FILE] [--out protein_family]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import torchrbm as tr
from torchrbm.data.alignments import fasta_text
from torchrbm.estimation.statistics import site_frequencies
from torchrbm.io import write_mutational_scan_csv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alignment", help="an alignment file (default: the WW domain family)")
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--l1-squared", type=float, default=0.001)
    parser.add_argument("--betas", type=int, default=5000, help="AIS and reverse-AIS temperatures")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="protein_family")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    aln = tr.datasets.alignment(args.alignment) if args.alignment else tr.datasets.protein_family("ww")
    print(f"{aln.codes.shape[0]} sequences of {aln.length} positions, {aln.n_effective:.0f} effective")
    train, test = tr.datasets.split_by_identity(aln.codes, identity=0.8, test_fraction=0.2, seed=args.seed)
    train_codes, test_codes = aln.codes[train], aln.codes[test]
    train_weights, test_weights = tr.datasets.sequence_weights(train_codes), tr.datasets.sequence_weights(test_codes)

    rbm = tr.RBM(aln.length, args.hidden, visible=tr.units.Potts(aln.q), hidden="drelu", data=train_codes,
                 weight_std=0.01, generator=torch.Generator().manual_seed(args.seed))
    tr.fit(rbm, train_codes, sample_weight=train_weights, validation_data=test_codes,
           validation_sample_weight=test_weights, sampler=tr.PCD(n_chains=100, k=5), epochs=args.epochs,
           batch_size=100, lr=args.lr, momentum=0.0, weight_decay=0.0, l1_squared=args.l1_squared, l2_fields=0.01,
           seed=args.seed)

    measured = tr.evaluate(rbm, test_codes, ["ais", "rais"], n_betas=args.betas, n_chains=100,
                           sample_weight=test_weights)
    frequencies = 0.99 * site_frequencies(train_codes, aln.q, train_weights) + 0.01 / aln.q
    positions = torch.arange(aln.length)
    independent = frequencies.log()[positions, test_codes.long()].sum(1)
    results = {name: {key: measured[name][key] for key in ("log_likelihood", "log_likelihood_interval_3sigma")}
               for name in ("ais", "rais")}
    results["independent_site_log_likelihood"] = float(test_weights.double() @ independent / test_weights.sum())
    for name in ("ais", "rais"):
        low, high = results[name]["log_likelihood_interval_3sigma"]
        print(f"held-out log-likelihood ({name}): {results[name]['log_likelihood']:.2f} [{low:.2f}, {high:.2f}]")
    print(f"independent-site model: {results['independent_site_log_likelihood']:.2f}")

    tr.plots.weight_logos(rbm, alphabet=aln.alphabet, n=5, data=train_codes,
                          sample_weight=train_weights).savefig(out / "logos.png", dpi=100)
    generator = torch.Generator().manual_seed(args.seed)
    samples = tr.generate(rbm, args.samples, 1000, generator=generator).long()
    (out / "samples.fasta").write_text(fasta_text(samples, aln.alphabet))
    cold = tr.generate(rbm, 100, 1000, beta=2.0, generator=generator).long()
    (out / "samples_beta2.fasta").write_text(fasta_text(cold, aln.alphabet))
    checks = tr.compare_statistics(samples, test_codes.long(), q=aln.q, reference_weight=test_weights)
    tr.plots.plot_statistics(checks).savefig(out / "generative_checks.png", dpi=100)
    results.update(site_frequency_r=checks.site_r, connected_correlation_r=checks.correlation_r)
    print(f"generated against held-out: r = {checks.site_r:.3f} (site frequencies), "
          f"{checks.correlation_r:.3f} (pairwise connected correlations)")

    wild_type = aln.codes[0].long()
    scan = tr.mutational_scan(rbm, wild_type).cpu()
    tr.plots.plot_mutational_scan(scan, aln.alphabet, wild_type).savefig(out / "mutational_scan.png", dpi=100)
    write_mutational_scan_csv(out / "mutational_scan.csv", scan, wild_type, aln.alphabet)
    position, state = divmod(int(scan.argmax()), aln.q)
    print(f"most favourable single mutant of {aln.ids[0]}: {aln.alphabet[wild_type[position]]}{position + 1}"
          f"{aln.alphabet[state]} ({float(scan.max()):+.2f})")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
