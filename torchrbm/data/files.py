"""Reading rows from files: MNIST's IDX files and the user's ``.npy``, ``.npz`` and ``.csv`` files."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import numpy as np
from torch import Tensor

from .._utils.validation import as_data_tensor, check_positive_int, stacklevel_outside


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not), as used by MNIST, into a ``uint8`` array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise ValueError(f"{path} is truncated: expected {expected} values, found {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


#: The kinds of file torchrbm reads rows from.
FILE_SUFFIXES = (".npy", ".npz", ".csv")


def load_file(path: str | os.PathLike, *, key: str | None = None, header: bool | None = None,
              delimiter: str | None = ",", max_rows: int | None = None) -> Tensor:
    """Load a 2-D array from ``.npy``, ``.npz`` (``key``, or its only array) or ``.csv``.

    A CSV file's values are separated by ``delimiter`` (one character; ``None``: runs of
    spaces and tabs).  ``header=True`` skips its first line, ``False`` reads every line as
    numbers; ``None`` (the default) skips the first line if it is not all numbers (column
    names), with a ``UserWarning`` that quotes it.  ``max_rows``: only the first rows.
    Images, ``(n, height, width)``, are flattened to rows (:func:`~torchrbm.validation.as_data_tensor`).
    """
    path = Path(path)
    if max_rows is not None:
        max_rows = check_positive_int(max_rows, "max_rows")
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = np.load(path, allow_pickle=False, mmap_mode="r")[:max_rows]  # only the rows asked for are read
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.keys())
            if key is None and len(names) != 1:
                raise ValueError(f"{path} holds arrays {names}; name the one to use ({path}:{names[0]} as a data "
                                 f"set, key={names[0]!r} here)")
            name = key if key is not None else names[0]
            if name not in names:
                raise ValueError(f"{path} has no array {name!r}; it holds {names}")
            array = archive[name][:max_rows]
    elif suffix == ".csv":
        array = _read_csv(path, header=header, delimiter=delimiter, max_rows=max_rows)
    else:
        raise ValueError(f"cannot read {path}: use a .npy, .npz or .csv file")
    return as_data_tensor(np.array(array), name=str(path))


def read_path(path: str | os.PathLike, **options) -> Tensor:
    """The rows of a file named by ``path`` (``FILE.npz:NAME`` for one array of an archive that holds
    several), read by :func:`load_file` with its ``options``: how ``torchrbm train --data FILE`` and
    ``fit(model, FILE)`` read a file."""
    path, key = Path(path), None
    if ".npz:" in str(path).lower() and not path.exists():  # FILE.npz:NAME, one array of an archive
        file, key = str(path).rsplit(":", 1)
        path = Path(file)
    return load_file(path, key=key, **options)


def _fields(line: str, delimiter: str | None) -> list[str]:
    """A CSV line's values (``None`` as the delimiter: runs of whitespace); ``[]`` for a blank or comment line."""
    line = line.split("#", 1)[0].strip()
    return (line.split(delimiter) if delimiter else line.split()) if line else []


def _numbers(fields: list[str]) -> bool:
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True


def _read_csv(path: Path, *, header: bool | None, delimiter: str | None, max_rows: int | None) -> np.ndarray:
    """The numbers of a CSV file as a 2-D array (after its header line, if it has one: see :func:`load_file`),
    or an error naming the first line that is not a row of them."""
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "#\r\n"):
        raise ValueError(f"the delimiter must be one character (or None for runs of whitespace); found {delimiter!r}")
    with path.open() as handle:
        first = handle.readline().rstrip("\r\n")
    skip = int(bool(header))
    if header is None and _fields(first, delimiter) and not _numbers(_fields(first, delimiter)):
        skip = 1
        warnings.warn(f"{path}: line 1 is not numbers, read as a header and skipped: {first[:60]!r} (header=False, "
                      f"--csv-header no, refuses such a line)", UserWarning, stacklevel=stacklevel_outside("torchrbm"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data": refused as empty later
        try:
            return np.loadtxt(path, delimiter=delimiter, dtype=np.float64, ndmin=2, skiprows=skip, max_rows=max_rows)
        except ValueError as err:
            reason = str(err)
    width = None
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            row = _fields(line, delimiter)
            if number <= skip or not row:
                continue
            if not _numbers(row):
                hint = " (a header? skip it with header=True, --csv-header yes)" if number == 1 else ""
                raise ValueError(f"{path} line {number} is not all numbers{hint}: {line.strip()[:60]!r}")
            if width is not None and len(row) != width:
                raise ValueError(f"{path} line {number} has {len(row)} values; the lines before it have {width}")
            width = len(row)
    raise ValueError(f"{path} is not a CSV file of numbers: {reason}")
