"""``torchrbm scan``: score every single mutant of a sequence with a saved model (a mutational scan)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from .. import plots
from .._utils.files import atomic_savefig, atomic_write_bytes
from ..data.alignment_files import read_records
from ..data.alignments import encode_sequence
from ..estimation.mutations import mutational_scan
from ..io import load, write_mutational_scan_csv
from .models import is_conditional, model_alphabet
from .output import ARRAY_SUFFIXES, FIGURE_SUFFIXES, check_suffix, npy_bytes, output_path

#: What --out may end in: a table, an array or a heat map.
SCAN_SUFFIXES = (".csv", *ARRAY_SUFFIXES, *FIGURE_SUFFIXES)


def cmd_scan(args: argparse.Namespace) -> int:
    out = output_path(args.out)
    check_suffix(out, SCAN_SUFFIXES)
    model = load(args.model, device=args.device)
    states = _states(model)
    symbols = model_alphabet(args.model, args.alphabet, states.numel())
    name, text = _sequence(args)
    codes = encode_sequence(text, symbols)
    if codes.numel() != model.n_visible:
        raise ValueError(f"the sequence {name} has {codes.numel()} positions but the model has {model.n_visible} "
                         "(its visible units)")
    scan = mutational_scan(model, states[codes]).cpu()
    _write(out, scan, codes, symbols, name)
    result = {"model": str(args.model), "sequence": name, "wild_type": text, "alphabet": symbols, "out": str(out),
              "score": "log p(mutant) - log p(wild type)",
              "most_favourable": top_mutants(scan, codes, symbols, args.top, favourable=True),
              "most_deleterious": top_mutants(scan, codes, symbols, args.top, favourable=False)}
    _print(result, args.json)
    return 0


def _states(model) -> torch.Tensor:
    """The states each visible unit takes (a Potts unit's codes ``0 .. q - 1``, a binary unit's two values)."""
    if is_conditional(model) or not hasattr(model, "visible"):
        raise ValueError(f"scan scores the single mutants of one sequence under a model of sequences (an RBM of "
                         f"Potts or binary visible units); this file holds a {type(model).__name__}")
    states = model.visible.unit_states()
    if states is None:
        raise ValueError(f"scan changes one position at a time to each of its states: it needs visible units with a "
                         f"few states per position (Potts, Bernoulli, spin), not {model.visible.name}")
    return states.cpu()


def _sequence(args: argparse.Namespace) -> tuple[str, str]:
    """The scanned sequence's name and letters: ``--sequence``, or one record of ``--fasta``: ``--id`` (its
    whole header or the header's first word), else ``--index`` (from 1)."""
    if args.sequence is not None:
        if args.id is not None or args.index is not None:
            raise ValueError("--index and --id choose a sequence of --fasta; with --sequence, leave them out")
        return "given by --sequence", args.sequence
    records = read_records(args.fasta)
    if args.id is not None:
        found = [record for record in records if args.id in (record.id, record.id.split(maxsplit=1)[0])]
        if not found:
            raise ValueError(f"{args.fasta} holds no sequence with the id {args.id!r} (its first ids: "
                             f"{', '.join(repr(record.id) for record in records[:5])})")
        return f"{found[0].id} of {args.fasta}", found[0].text
    index = args.index or 1
    if not 1 <= index <= len(records):
        raise ValueError(f"--index {index}: {args.fasta} holds {len(records)} sequences (1 is the first)")
    record = records[index - 1]
    return f"{record.id} of {args.fasta}", record.text


def _write(out: Path, scan: torch.Tensor, codes: torch.Tensor, symbols: str, name: str) -> None:
    """``--out``: the scan as CSV, as a ``.npy`` array ``(L, q)`` or as a heat map."""
    if out.suffix == ".csv":
        write_mutational_scan_csv(out, scan, codes, symbols)
    elif out.suffix in ARRAY_SUFFIXES:
        atomic_write_bytes(out, npy_bytes(scan.numpy()))
    else:
        atomic_savefig(plots.plot_mutational_scan(scan, symbols, codes, title=f"mutational scan of {name}"), out)


def top_mutants(scan: torch.Tensor, codes: torch.Tensor, symbols: str, n: int, *,
                favourable: bool) -> list[dict[str, Any]]:
    """The ``n`` single mutants of largest (``favourable``) or smallest score, the wild type's own states
    left out, best first: each as ``{"mutant": "W12F", "position": 12, "wild_type": "W", "state": "F",
    "score": ...}``."""
    scores = scan.clone()
    length = scores.shape[0]
    scores[torch.arange(length), codes] = float("nan")
    flat = scores.reshape(-1)
    keep = flat.isnan().logical_not().nonzero().reshape(-1)
    order = torch.argsort(flat[keep], descending=favourable, stable=True)[:n]
    mutants = []
    for index in keep[order].tolist():
        position, state = divmod(index, scores.shape[1])
        wild = symbols[int(codes[position])]
        mutants.append({"mutant": f"{wild}{position + 1}{symbols[state]}", "position": position + 1,
                        "wild_type": wild, "state": symbols[state], "score": float(flat[index])})
    return mutants


def _print(result: dict[str, Any], as_json: bool) -> None:
    """The result as JSON, or a few lines: the sequence, the most favourable and most deleterious mutants."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"sequence {result['sequence']} ({len(result['wild_type'])} positions): {result['wild_type']}")
    for key in ("most_favourable", "most_deleterious"):
        mutants = "  ".join(f"{entry['mutant']} {entry['score']:+.2f}" for entry in result[key])
        print(f"{key.replace('_', ' ')} ({result['score']}): {mutants}")
    print(f"wrote the scan to {result['out']}")
