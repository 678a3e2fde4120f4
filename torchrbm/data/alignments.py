"""Multiple sequence alignments as integer codes: protein families and other categorical sequences.

:func:`alignment` reads a file (:mod:`~torchrbm.data.alignment_files`) into an :class:`Alignment`:
``codes[i, l]`` is the index in the alphabet of the symbol of sequence ``i`` at position ``l``,
and each sequence is weighted by one over the number of its close relatives
(:func:`~torchrbm.data.identity.sequence_weights`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._utils.files import atomic_write_text
from .._utils.validation import numeric_tensor
from .alignment_files import INSERTION_SUFFIXES, Record, read_records
from .identity import CHUNK_SIZE, sequence_weights

#: Alphabets by name, the gap ``-`` last: the 20 amino acids (q = 21) and the nucleotides (q = 5).
ALPHABETS = {
    "protein": "ACDEFGHIKLMNPQRSTVWY-",
    "dna": "ACGT-",
    "rna": "ACGU-",
}


def alphabet_symbols(alphabet: str) -> str:
    """The symbols of ``alphabet``: a name of :data:`ALPHABETS`, or a string of at least 2 distinct
    printable ASCII characters other than space (their order gives the codes)."""
    symbols = ALPHABETS.get(alphabet, alphabet)
    if not (isinstance(symbols, str) and len(symbols) >= 2 and len(set(symbols)) == len(symbols)
            and symbols.isascii() and symbols.isprintable() and " " not in symbols):
        raise ValueError(f"alphabet must be one of {', '.join(ALPHABETS)} or a string of at least 2 distinct printable "
                         f"ASCII characters other than space; found {alphabet!r}")
    return symbols


@dataclass(frozen=True)
class Alignment:
    """An alignment of ``N`` sequences of ``length`` positions over ``q`` symbols.

    ``codes``: ``(N, L)`` ``uint8`` indices into ``alphabet`` (the symbols, e.g.
    ``"ACDEFGHIKLMNPQRSTVWY-"``); ``ids``: the sequences' names; ``weights``: ``(N,)`` float32,
    ``w_i = 1 / |{j : identity(i, j) >= t}|`` (ones when not asked for).
    """

    codes: Tensor
    alphabet: str
    ids: list[str]
    weights: Tensor

    @property
    def length(self) -> int:
        """The number of positions ``L``."""
        return self.codes.shape[1]

    @property
    def q(self) -> int:
        """The number of symbols."""
        return len(self.alphabet)

    @property
    def n_effective(self) -> float:
        """The effective number of sequences, ``sum_i w_i``."""
        return float(self.weights.double().sum())

    def sequences(self, codes: Tensor | None = None) -> list[str]:
        """The aligned sequences as strings: those of this alignment, or of other ``codes`` over its
        alphabet (``(n, L)`` or one sequence ``(L,)``, e.g. a model's samples)."""
        codes = self.codes if codes is None else torch.as_tensor(codes)
        rows = codes.reshape(-1, codes.shape[-1]).cpu().numpy()
        if rows.size and (rows.min() < 0 or rows.max() >= self.q):
            raise ValueError(f"codes must be in 0..{self.q - 1} for an alphabet of {self.q} symbols; found "
                             f"{int(rows.min())}..{int(rows.max())}")
        table = np.frombuffer(self.alphabet.encode("ascii"), dtype=np.uint8)
        return [line.tobytes().decode("ascii") for line in table[rows]]

    def to_fasta(self, path: str | os.PathLike) -> None:
        """Write the alignment as aligned FASTA (``>ID`` then the sequence on one line), atomically."""
        atomic_write_text(path, "".join(f">{name}\n{text}\n" for name, text in zip(self.ids, self.sequences(),
                                                                                   strict=True)))


def _check_lengths(path, records: list[Record]) -> int:
    """The common length of the records' texts; ``ValueError`` naming the first sequence of another length."""
    columns = "match columns" if str(path).lower().endswith(INSERTION_SUFFIXES) else "positions"
    length = len(records[0].text)
    for record in records:
        if len(record.text) != length:
            raise ValueError(f"{path}: sequence {record.id!r} (line {record.line}) has {len(record.text)} {columns}; "
                             f"the sequences before it have {length}")
    if length == 0:
        raise ValueError(f"{path}: sequence {records[0].id!r} (line {records[0].line}) is empty")
    return length


def _codes(text: str, symbols: str) -> np.ndarray | None:
    """The ``int16`` code of each character of ``text`` over ``symbols`` (-1 for one not among them); ``None``
    for text that is not ASCII."""
    if not text.isascii():
        return None
    table = np.full(128, -1, dtype=np.int16)
    table[np.frombuffer(symbols.encode("ascii"), dtype=np.uint8)] = np.arange(len(symbols))
    return table[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]


def _first_unknown(text: str, symbols: str) -> int:
    """The index of the first character of ``text`` that is not one of ``symbols``."""
    return next(k for k, symbol in enumerate(text) if symbol not in symbols)


def encode(path, records: list[Record], symbols: str) -> Tensor:
    """``(N, L)`` ``uint8`` codes of the records' texts over ``symbols``; ``ValueError`` naming the
    first unknown symbol, its sequence and its position."""
    length = _check_lengths(path, records)
    text = "".join(record.text for record in records)
    codes = _codes(text, symbols)
    if codes is None or (codes < 0).any():
        at = _first_unknown(text, symbols)
        record, position = records[at // length], at % length + 1
        hint = (" (lower-case letters and '.' are insertions in A2M/A3M files: name the file .a2m or .a3m to drop "
                "them)" if text[at] == "." or text[at].islower() else "")
        raise ValueError(f"{path}: sequence {record.id!r} (line {record.line}) has the unknown symbol {text[at]!r} at "
                         f"position {position}; the alphabet is {symbols!r}{hint}")
    return torch.from_numpy(codes.astype(np.uint8).reshape(len(records), length))


def encode_sequence(text: str, alphabet: str = "protein") -> Tensor:
    """The codes of one sequence over ``alphabet`` (a name of :data:`ALPHABETS` or a string of symbols):
    ``(L,)`` ``int64`` with ``text[l] == symbols[codes[l]]``; ``ValueError`` naming the first symbol that is
    not in the alphabet and its position (from 1)."""
    symbols = alphabet_symbols(alphabet)
    if not isinstance(text, str) or not text:
        raise ValueError(f"a sequence must be a non-empty string of symbols of {symbols!r}; found {text!r}")
    codes = _codes(text, symbols)
    if codes is None or (codes < 0).any():
        at = _first_unknown(text, symbols)
        raise ValueError(f"the sequence has {text[at]!r} at position {at + 1}, a symbol not in the alphabet "
                         f"{symbols!r}")
    return torch.from_numpy(codes.astype(np.int64))


def fasta_text(codes, alphabet: str = "protein", *, name: str = "sample") -> str:
    """Rows of codes ``(N, L)`` over ``alphabet`` as aligned FASTA: headers ``>{name}_1`` .. ``>{name}_N``,
    one line of symbols each."""
    symbols = alphabet_symbols(alphabet)
    rows = numeric_tensor(codes, "codes")
    rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
    if rows.ndim != 2 or bool((rows != rows.round()).any()) or bool((rows < 0).any()) or (
            rows.numel() and int(rows.max()) >= len(symbols)):
        raise ValueError(f"codes must be an (N, L) array of integers in 0..{len(symbols) - 1}, one per symbol of "
                         f"{symbols!r}")
    return "".join(f">{name}_{index + 1}\n{''.join(symbols[code] for code in row)}\n"
                   for index, row in enumerate(rows.long().tolist()))


def sequence_codes(sequence, alphabet: str) -> Tensor:
    """One sequence as ``(L,)`` ``int64`` codes over ``alphabet``: from its letters (a ``str``, read by
    :func:`encode_sequence`) or from its codes (a tensor, array or list of integers in ``0 .. q - 1``)."""
    symbols = alphabet_symbols(alphabet)
    if isinstance(sequence, str):
        return encode_sequence(sequence, symbols)
    codes = numeric_tensor(sequence, "sequence").reshape(-1).cpu()
    if codes.numel() == 0 or codes.is_floating_point() and not torch.equal(codes, codes.round()):
        raise ValueError(f"a sequence must be its letters or a non-empty row of integer codes; found {codes.tolist()}")
    if codes.min() < 0 or codes.max() >= len(symbols):
        raise ValueError(f"a sequence's codes must lie in 0..{len(symbols) - 1} for an alphabet of {len(symbols)} "
                         f"symbols ({symbols!r}); found {int(codes.min())}..{int(codes.max())}")
    return codes.long()


def alignment(path: str | os.PathLike, *, alphabet: str = "protein", weights: bool = True, identity: float = 0.8,
              device=None, chunk_size: int = CHUNK_SIZE) -> Alignment:
    """The alignment in the file at ``path``: aligned FASTA, A2M/A3M (match columns only) or
    Stockholm (see :mod:`~torchrbm.data.alignment_files`), its symbols coded over ``alphabet``
    (a name of :data:`ALPHABETS` or a string of symbols).

    With ``weights``, each sequence weighs ``w_i = 1 / |{j : identity(i, j) >= identity}|``
    (:func:`~torchrbm.data.identity.sequence_weights`, in blocks of ``chunk_size`` rows); without,
    every weight is 1.  Codes and weights are put on ``device`` (default: the CPU).
    """
    symbols = alphabet_symbols(alphabet)
    records = read_records(path)
    if not records:
        raise ValueError(f"{path} holds no sequences")
    codes = encode(path, records, symbols).to(device)
    weight = (sequence_weights(codes, identity, chunk_size=chunk_size) if weights
              else torch.ones(codes.shape[0], device=codes.device))
    return Alignment(codes, symbols, [record.id for record in records], weight)
