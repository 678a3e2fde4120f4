"""Where training rows come from: a tensor in memory, a ``.npy`` file read in chunks, or batches from an iterable.

:func:`~torchrbm.fit` takes any of them through :func:`row_source`:

* an array or tensor (:class:`TensorRows`): shuffled row by row each epoch;
* a ``.npy`` file or ``np.memmap`` (:class:`NpyRows`): read in chunks of about
  ``chunk_bytes`` with ordinary file reads, so that memory stays bounded by one
  chunk however large the file is; each epoch visits the chunks in a random
  order and the rows of each chunk in a random order;
* an iterable of batches (:class:`IterableBatches`), such as a
  ``torch.utils.data.DataLoader``, iterated afresh each epoch, or a function
  called each epoch for a new iterator of batches (a generator function).

Rows keep their stored dtype (binary data stays ``uint8``) until a batch is
used.  Under data-parallel training (:mod:`torchrbm.distributed`) every
process draws the same global batches of ``batch_size * world_size`` rows and
takes its own share of each.
"""

from __future__ import annotations

import abc
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from .._utils.validation import as_data_tensor, check_positive_int, note_flattened
from ..models.protocol import EnergyModel
from .files import read_path
from .registry import DATASETS

#: Default size of one chunk read from a file.
CHUNK_BYTES = 64 * 2**20
#: Rows held in memory are gathered for several batches at once, about this many bytes (small batches
#: then cost a view each instead of an ``index_select`` each, and stay in the cache until used).
GATHER_BYTES = 2**20


class RowSource(abc.ABC):
    """Training rows, served as batches."""

    n_features: int
    #: Set by :meth:`prepare`: the visible units that check the values, and where batches go.
    _units = None
    _n_visible: int | None = None
    _device = torch.device("cpu")

    @abc.abstractmethod
    def batches(self, batch_size: int, shuffle: bool, generator: torch.Generator,
                rank: int = 0, world_size: int = 1) -> Iterator[Tensor]:
        """This process's share of each global batch of ``batch_size * world_size`` rows, for one epoch."""

    @abc.abstractmethod
    def sample(self, size: int, generator: torch.Generator) -> Tensor:
        """At most ``size`` rows chosen at random (the fixed subset on which training is monitored)."""

    def prepare(self, model: EnergyModel) -> None:
        """Check the rows against ``model``'s visible units and move what is worth moving to its device."""
        self._units, self._n_visible, self._device = model.visible, model.n_visible, model.device

    def n_batches(self, batch_size: int, world_size: int = 1) -> int | None:
        """How many batches :meth:`batches` yields in an epoch (``None`` if unknown beforehand); the
        same on every process."""
        return None


def _share(index: Tensor, rank: int, world_size: int) -> Tensor | None:
    """Process ``rank``'s part of a global batch's row indices; ``None`` if some process would get no row."""
    if world_size == 1:
        return index
    if index.shape[0] < world_size:
        return None
    return index.tensor_split(world_size)[rank]


def _n_global_batches(n: int, batch_size: int, world_size: int) -> int:
    """Batches per process in an epoch over ``n`` rows: the global batches of ``batch_size * world_size``
    rows, the last one only if it has a row for every process (see :func:`_share`)."""
    step = batch_size * world_size
    return n // step + (n % step >= world_size)


def _permutation(n: int, shuffle: bool, generator: torch.Generator) -> Tensor:
    if shuffle:
        return torch.randperm(n, generator=generator, device=generator.device)
    return torch.arange(n, device=generator.device)


def _pinned_on(batch: Tensor, device: torch.device) -> Tensor:
    """``batch`` on ``device``; a host-to-GPU copy goes through pinned memory without waiting for it."""
    if device.type == "cuda" and batch.device.type == "cpu":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch


class TensorRows(RowSource):
    """Rows held in memory (on the CPU or on the model's device)."""

    def __init__(self, rows: Tensor) -> None:
        self.rows = rows
        self.n_features = rows.shape[1]

    def prepare(self, model: EnergyModel) -> None:
        model.visible.check_training_data(self.rows[:, : model.n_visible], "data")
        super().prepare(model)
        if model.device.type == "cuda" and self.rows.device.type == "cpu":
            free, _ = torch.cuda.mem_get_info(model.device)
            if self.rows.nbytes < free // 4:  # small enough: keep all rows on the GPU, no copy per batch
                self.rows = self.rows.to(model.device)

    def n_batches(self, batch_size, world_size=1):
        return _n_global_batches(self.rows.shape[0], batch_size, world_size)

    def batches(self, batch_size, shuffle, generator, rank=0, world_size=1):
        n = self.rows.shape[0]
        order = _permutation(n, shuffle, generator).to(self.rows.device)
        step = batch_size * world_size
        if world_size == 1:  # the rows of several batches gathered at once (about GATHER_BYTES), handed out as views
            row_bytes = max(1, self.rows.shape[1] * self.rows.element_size())
            per_gather = step * max(1, GATHER_BYTES // (step * row_bytes))
            for start in range(0, n, per_gather):
                gathered = self.rows.index_select(0, order[start : start + per_gather])  # 6x faster than rows[index]
                gathered = _pinned_on(gathered, self._device)  # once per gather, not per batch
                for first in range(0, gathered.shape[0], step):
                    yield gathered[first : first + step]
            return
        for first in range(0, n, step):
            index = _share(order[first : first + step], rank, world_size)
            if index is None:
                return
            yield _pinned_on(self.rows.index_select(0, index), self._device)  # 6x faster than rows[index]

    def sample(self, size, generator):
        return random_rows(self.rows, size, generator)


def random_rows(rows: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """At most ``size`` rows of ``rows`` drawn without replacement (all of them if there are no more)."""
    if rows.shape[0] <= size:
        return rows
    index = torch.randperm(rows.shape[0], generator=generator, device=generator.device)[:size]
    return rows[index.to(rows.device)]


class NpyRows(RowSource):
    """Rows of a 2-D ``.npy`` file (or of an ``np.memmap`` of one), read chunk by chunk.

    Each chunk (about ``chunk_bytes``, and at least one global batch) is read with
    ordinary file reads rather than through a memory map, so the process's
    resident memory holds one chunk at a time, not the pages of the whole file.
    Values are checked (finite, within the range of the visible units) chunk by
    chunk as they are read.
    """

    def __init__(self, source: str | os.PathLike | np.memmap, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.chunk_bytes = check_positive_int(chunk_bytes, "chunk_bytes")
        if isinstance(source, np.memmap):
            if source.filename is None or source.ndim != 2 or not source.flags.c_contiguous:
                raise ValueError("a memory-mapped array must be a 2-D C-ordered np.memmap of a file")
            self.path, self.offset = Path(source.filename), source.offset
            self.shape, self.dtype = source.shape, source.dtype
        else:
            self.path = Path(source)
            self.shape, self.dtype, self.offset = _npy_layout(self.path)
        if not (np.issubdtype(self.dtype, np.number) or self.dtype == np.bool_) or self.dtype.kind == "c":
            raise TypeError(f"{self.path} must hold real numbers; found dtype {self.dtype}")
        if self.shape[0] == 0 or self.shape[1] == 0:
            raise ValueError(f"{self.path} is empty (shape {self.shape})")
        self.n_features = self.shape[1]
        self.row_bytes = self.shape[1] * self.dtype.itemsize

    def __repr__(self) -> str:
        return f"NpyRows({str(self.path)!r}, shape={self.shape}, dtype={self.dtype})"

    def _checked(self, array: np.ndarray, name: str) -> Tensor:
        """``array``'s rows as a tensor, checked (finite, in the range of the visible units once prepared)."""
        rows = as_data_tensor(array.reshape(-1, self.shape[1]), name=name)
        if self._units is not None:
            self._units.check_values(rows[:, : self._n_visible], name)
        return rows

    def read(self, start: int, stop: int) -> Tensor:
        """Rows ``start:stop`` as a checked tensor (in the file's dtype, ``bool`` as ``uint8``)."""
        array = np.fromfile(self.path, dtype=self.dtype, count=(stop - start) * self.shape[1],
                            offset=self.offset + start * self.row_bytes)
        if array.size != (stop - start) * self.shape[1]:
            raise ValueError(f"{self.path} is shorter than its header says: truncated file?")
        return self._checked(array, f"{self.path} rows {start}:{stop}")

    def n_batches(self, batch_size, world_size=1):
        return _n_global_batches(self.shape[0], batch_size, world_size)  # chunks hold whole global batches

    def batches(self, batch_size, shuffle, generator, rank=0, world_size=1):
        step = batch_size * world_size
        chunk_rows = max(1, self.chunk_bytes // (self.row_bytes * step)) * step
        starts = list(range(0, self.shape[0], chunk_rows))
        for chunk in _permutation(len(starts), shuffle, generator).tolist():
            start = starts[chunk]
            rows = _pinned_on(self.read(start, min(start + chunk_rows, self.shape[0])), self._device)
            order = _permutation(rows.shape[0], shuffle, generator).to(rows.device)
            for first in range(0, rows.shape[0], step):
                index = _share(order[first : first + step], rank, world_size)
                if index is not None:
                    yield rows.index_select(0, index)

    def sample(self, size, generator):
        n = self.shape[0]
        if n <= size:
            return self.read(0, n)
        index = torch.randperm(n, generator=generator, device=generator.device)[:size].sort().values.tolist()
        with self.path.open("rb") as file:  # row by row: no mapping of the whole file
            pieces = []
            for row in index:
                file.seek(self.offset + row * self.row_bytes)
                pieces.append(file.read(self.row_bytes))
        return self._checked(np.frombuffer(b"".join(pieces), dtype=self.dtype).copy(), str(self.path))


def _npy_layout(path: Path) -> tuple[tuple[int, int], np.dtype, int]:
    """Shape, dtype and data offset of a 2-D C-ordered ``.npy`` file, from its header."""
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with path.open("rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read_header(file)
        except ValueError as err:
            raise ValueError(f"{path} is not a .npy file: {err}") from None
        offset = file.tell()
    if len(shape) in (3, 4):  # images: C-ordered, so each example's values are one run of bytes
        rows = (shape[0], math.prod(shape[1:]))
        note_flattened(str(path), shape, rows)
        shape = rows
    if len(shape) != 2:
        raise ValueError(f"{path} must hold a 2-D array (n_examples, n_features), or images (n_examples, height, "
                         f"width) or (n_examples, channels, height, width); found shape {shape}")
    if fortran_order:
        raise ValueError(f"{path} is stored in Fortran (column) order; save it C-ordered to read it row by row")
    if dtype.hasobject:
        raise TypeError(f"{path} holds Python objects; torchrbm reads numeric arrays only")
    return shape, dtype, offset


class IterableBatches(RowSource):
    """Batches from an iterable that starts afresh each epoch (a list, a ``DataLoader``, ...), or from
    a function called each epoch for a new iterator of them (a generator function, say).

    Each item is one batch: an array or tensor of rows, or a tuple or list whose
    first element is one (as a ``DataLoader`` over a labelled data set yields).
    The iterable sets the order and the batch size, so ``fit``'s ``batch_size``
    and ``shuffle`` do not apply; under data-parallel training each process
    takes its share of every batch.
    """

    def __init__(self, iterable: Iterable | Callable[[], Iterable]) -> None:
        if callable(iterable) and not isinstance(iterable, (Iterable, type)):
            self.function, self.iterable = iterable, None
        elif iter(iterable) is iterable:
            raise TypeError("an iterator is used up after one epoch; pass an iterable that starts afresh "
                            "each time it is iterated (a list, a DataLoader, a class with __iter__), or a function "
                            "that returns a new iterator each time it is called (the generator function, not its "
                            "generator)")
        else:
            self.function, self.iterable = None, iterable
        self._last = None
        self.n_features = self._rows(next(iter(self._epoch()), None), 0).shape[1]

    def _epoch(self) -> Iterable:
        """The batches of one epoch: the iterable, or what the function returns, checked to be new."""
        if self.function is None:
            return self.iterable
        batches = self.function()
        name = getattr(self.function, "__name__", repr(self.function))
        if not isinstance(batches, Iterable):
            raise TypeError(f"the function of batches {name} returned a {type(batches).__name__}, not an iterable "
                            "of batches")
        if batches is self._last and iter(batches) is batches:
            raise TypeError(f"the function of batches {name} returned the same iterator twice, used up after one "
                            "epoch; it must return a new one each time it is called")
        self._last = batches
        return batches

    def _rows(self, item, number: int) -> Tensor:
        if item is None:
            raise ValueError("the iterable of batches is empty")
        if isinstance(item, (tuple, list)) and item and isinstance(item[0], (Tensor, np.ndarray)):
            item = item[0]
        rows = as_data_tensor(item, name=f"batch {number}", note_images=number == 0)  # images: one note
        if self._units is not None:
            if rows.shape[1] != self.n_features:
                raise ValueError(f"batch {number} has {rows.shape[1]} columns; the first had {self.n_features}")
            self._units.check_values(rows[:, : self._n_visible], f"batch {number}")
        return rows

    def n_batches(self, batch_size, world_size=1):
        # with several processes a batch of fewer rows than processes is skipped: the count is not known
        known = world_size == 1 and hasattr(self.iterable, "__len__")  # a function's batches: unknown
        return len(self.iterable) if known else None

    def _all(self) -> Iterator[Tensor]:
        for number, item in enumerate(self._epoch()):
            yield self._rows(item, number)

    def batches(self, batch_size, shuffle, generator, rank=0, world_size=1):
        for rows in self._all():
            index = _share(torch.arange(rows.shape[0], device=rows.device), rank, world_size)
            if index is not None:
                yield _pinned_on(rows.index_select(0, index), self._device)

    def sample(self, size, generator):
        taken, count = [], 0
        for rows in self._all():
            taken.append(rows[: size - count])
            count += taken[-1].shape[0]
            if count >= size:
                break
        return torch.cat(taken)


def _iterable_of_batches(data) -> bool:
    """Whether ``data`` is iterable without being array-like (an iterator, a generator, a class with ``__iter__``);
    a dict is neither (it is refused as data by name)."""
    array_like = isinstance(data, (list, tuple, str, bytes, Mapping, np.ndarray, Tensor)) or any(
        hasattr(data, name) for name in ("__array__", "toarray"))
    return isinstance(data, Iterable) and not array_like


def _read_path(path: str | os.PathLike) -> Tensor:
    """The rows of the file at ``path``; a missing file that looks like a data set's name says how to load that."""
    try:
        return read_path(path)
    except FileNotFoundError as err:
        if str(path).lower().replace("_", "-") not in DATASETS:
            raise
        raise FileNotFoundError(f"{err} (a data set by name: pass torchrbm.datasets.load({str(path)!r}))") from None


def row_source(data, model: EnergyModel) -> RowSource:
    """``data`` as a checked :class:`RowSource` for training ``model``.

    A source passes through; a ``.npy`` path or ``np.memmap`` is read in chunks
    (:class:`NpyRows`); a path to another file (``.npz``, ``.csv``) is read as ``torchrbm train
    --data FILE`` reads it (:func:`~torchrbm.datasets.read_path`); a ``DataLoader`` or another
    iterable that is not array-like gives batches (:class:`IterableBatches`), and so does a function that returns a new
    iterable of them each time it is called; anything else (arrays,
    tensors, nested lists, sparse matrices, data frames) is read into memory as one array (:class:`TensorRows`).
    """
    if isinstance(data, RowSource):
        source = data
    elif isinstance(data, np.memmap) or (isinstance(data, (str, os.PathLike)) and str(data).lower().endswith(".npy")):
        source = NpyRows(data)
    elif isinstance(data, (str, os.PathLike)):
        source = TensorRows(model.check_data(_read_path(data)))
    elif isinstance(data, DataLoader) or _iterable_of_batches(data) or (callable(data) and not isinstance(data, type)):
        source = IterableBatches(data)  # a callable: a function of a new iterable of batches each epoch
    else:
        source = TensorRows(model.check_data(data))
    if source.n_features != model.n_visible:
        raise ValueError(f"data has {source.n_features} columns but the model has {model.n_visible} visible units")
    source.prepare(model)
    return source
