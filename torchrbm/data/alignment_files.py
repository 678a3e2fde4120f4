"""Reading multiple sequence alignments: aligned FASTA, A2M/A3M and Stockholm, as records of text.

- **Aligned FASTA**: ``>ID`` lines, each followed by its sequence on one or more lines; every
  character is a symbol (``>>S1`` has the id ``S1``: the id is what follows the ``>`` characters).
- **A2M/A3M** (suffix ``.a2m`` or ``.a3m``): FASTA in which lower-case letters and ``.`` are
  insertions relative to the match columns; they are dropped.
- **Stockholm** (content beginning ``# STOCKHOLM``, or suffix ``.sto``, ``.sth``, ``.stk``,
  ``.stockholm``): ``ID sequence`` lines, an id's sequence split over several blocks, ``#``
  lines (annotation ``#=GF``, ``#=GS``, ``#=GR``, ``#=GC``) ignored, ``//`` at the end; insert
  columns (lower case and ``.``) dropped as in A2M.  One alignment per file.

The content decides between FASTA and Stockholm; errors name the file and the line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: Suffixes of files whose lower-case letters and ``.`` are insertions.
INSERTION_SUFFIXES = (".a2m", ".a3m")
#: Suffixes of files read as alignments (by ``--data FILE`` and :func:`~torchrbm.datasets.load`).
ALIGNMENT_SUFFIXES = (".fasta", ".fa", ".faa", ".afa", ".aln", *INSERTION_SUFFIXES)
#: Suffixes of Stockholm files.
STOCKHOLM_SUFFIXES = (".sto", ".sth", ".stk", ".stockholm")
ALIGNMENT_SUFFIXES += STOCKHOLM_SUFFIXES

_INSERTIONS = re.compile(r"[a-z.]")


@dataclass(frozen=True)
class Record:
    """One aligned sequence as read: its id, its text and the line where it begins."""

    id: str
    text: str
    line: int


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines that are not blank, with their numbers (from 1), stripped of surrounding whitespace."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [(number, line.strip()) for number, line in enumerate(handle, start=1) if line.strip()]


def read_records(path: str | os.PathLike) -> list[Record]:
    """The aligned sequences of a FASTA, A2M/A3M or Stockholm file, insertions dropped; ``ValueError``
    naming the file and the first bad line for an empty, truncated or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"alignment file not found: {path}")
    lines = _numbered_lines(path)
    if not lines:
        raise ValueError(f"{path} is empty: no sequences")
    number, first = lines[0]
    if first.startswith("# STOCKHOLM"):
        return _stockholm(path, lines)
    if first.startswith(">"):
        records = _fasta(path, lines)
        if path.suffix.lower() in INSERTION_SUFFIXES:
            records = [Record(record.id, _INSERTIONS.sub("", record.text), record.line) for record in records]
        return records
    expected = "a '# STOCKHOLM 1.0' header" if path.suffix.lower() in STOCKHOLM_SUFFIXES else "a '>' header line"
    raise ValueError(f"{path} line {number} is not the start of an alignment (FASTA, A2M/A3M or Stockholm): "
                     f"expected {expected}, found {first[:60]!r}")


def _fasta(path: Path, lines: list[tuple[int, str]]) -> list[Record]:
    """The records of (aligned) FASTA: a header, then the sequence's lines up to the next header."""
    records: list[Record] = []
    header: tuple[int, str] | None = None
    parts: list[str] = []
    for number, line in [*lines, (0, ">")]:  # a last header ends the last record
        if not line.startswith(">"):
            parts.append(line)
            continue
        if header is not None:
            if not parts:
                where = f"line {number} is the next header" if number else "the file ends"
                raise ValueError(f"{path} line {header[0]}: header {header[1][:60]!r} has no sequence ({where}; a "
                                 "truncated file?)")
            records.append(Record(header[1].lstrip(">").strip(), "".join(parts), header[0]))
        header, parts = (number, line), []
    return records


def _stockholm(path: Path, lines: list[tuple[int, str]]) -> list[Record]:
    """The records of one Stockholm alignment: each id's pieces, joined in the order of the blocks."""
    texts: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    end = None
    for number, line in lines[1:]:
        if end is not None:
            what = "a second alignment begins" if line.startswith("# STOCKHOLM") else "more follows"
            raise ValueError(f"{path} holds more than one alignment: line {end} ends the first ('//') and {what} at "
                             f"line {number}; split the file and read one alignment at a time")
        if line == "//":
            end = number
        elif not line.startswith("#"):
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(f"{path} line {number} is not 'ID sequence' (found {len(fields)} fields): "
                                 f"{line[:60]!r}")
            texts.setdefault(fields[0], []).append(_INSERTIONS.sub("", fields[1]))
            starts.setdefault(fields[0], number)
    if end is None:
        raise ValueError(f"{path} has no '//' line ending its alignment (a truncated file?)")
    return [Record(name, "".join(parts), starts[name]) for name, parts in texts.items()]
