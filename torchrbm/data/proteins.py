"""The protein alignments of Tubiana, Cocco & Monasson ("Learning protein constitutive motifs from
sequence data", eLife 2019) from the data directory's ``proteins/`` folder (downloaded when missing):
two Pfam families, Kunitz (PF00014) and WW (PF00397), and lattice proteins with their fitness."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .alignments import Alignment, alignment
from .downloads import fetch
from .identity import CHUNK_SIZE

#: The alignment files by family name.
FAMILIES = {
    "kunitz": "proteins/Kunitz_domain_MSA.fasta",
    "ww": "proteins/WW_domain_MSA.fasta",
    "lattice-proteins": "proteins/Lattice_Proteins_MSA.fasta",
}


def protein_family(name: str, *, data_dir=None, weights: bool = True, identity: float = 0.8, device=None,
                   chunk_size: int = CHUNK_SIZE) -> Alignment:
    """The alignment of a family of :data:`FAMILIES` over the protein alphabet (q = 21, the gap
    last), weighted as :func:`~torchrbm.data.alignments.alignment` weighs it: ``kunitz`` (11819
    sequences of 53 positions), ``ww`` (17233 of 31) or ``lattice-proteins`` (46265 of 27, no gaps)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown protein family {name!r}; known: {', '.join(FAMILIES)}")
    return alignment(fetch(FAMILIES[name], data_dir), weights=weights, identity=identity, device=device,
                     chunk_size=chunk_size)


def lattice_proteins_pnat(*, data_dir=None) -> Tensor:
    """The fitness of each lattice protein, in the order of its alignment: the probability that the
    sequence folds into the native 3x3x3 structure, ``(46265,)`` float64 in ``[0, 1]``."""
    return torch.from_numpy(np.loadtxt(fetch("proteins/Lattice_Proteins_pnat.txt", data_dir), dtype=np.float64,
                                       ndmin=1))
