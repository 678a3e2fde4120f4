"""Data sets: synthetic benchmarks, the MNIST family and user files.

Every loader returns a 2-D tensor with one example per row: ``uint8`` 0/1 for
binary data (compact; training converts batch by batch) and ``float32`` in
``[0, 1]`` for grey levels.

Real data sets live under a data directory: the ``data_dir`` argument, else
``$TORCHRBM_DATA``, else ``~/.cache/torchrbm``, laid out as::

    mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    fashion_mnist/  (the same four names)
    binarized_mnist/binarized_mnist.npz   (train/valid/test, Larochelle & Murray)

A missing file is downloaded from a public mirror by pooch, which checks it
against a pinned SHA-256 before it is put in place.  ``$TORCHRBM_MIRROR`` (an
HTTP(S) or FTP base URL with the same layout) is tried before the public mirrors.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._utils.files import atomic_write_bytes
from .._utils.validation import as_data_tensor, check_finite, check_positive_int, numeric_tensor, stacklevel_outside

__all__ = [
    "DATASETS",
    "SHA256",
    "MIRRORS",
    "BINARIZE",
    "FILE_SUFFIXES",
    "data_dir",
    "download",
    "fetch",
    "read_idx",
    "binarize",
    "Standardizer",
    "standardize",
    "bars_and_stripes",
    "shifter",
    "digits",
    "sequence_windows",
    "moving_bars",
    "mnist",
    "fashion_mnist",
    "binarized_mnist",
    "load_file",
    "read_path",
    "load",
]

#: SHA-256 of every file torchrbm may download, by path under the data directory.
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "fashion_mnist/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion_mnist/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "fashion_mnist/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "binarized_mnist/binarized_mnist.npz": "350243cb824d66d022e0c3e87cac231231668817ff03f5f6d7b6533017d56b4b",
}

#: Public mirrors, by folder under the data directory.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "binarized_mnist": [],
}

#: Larochelle's original text files; converted to the npz, checked by content.
BINARIZED_MNIST_AMAT = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{}.amat"
BINARIZED_MNIST_CONTENT_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}

BINARIZE = ("threshold", "stochastic", None)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- files
def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else ``$TORCHRBM_DATA``, else ``~/.cache/torchrbm``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("TORCHRBM_DATA")
    return Path(env) if env else Path.home() / ".cache" / "torchrbm"


def _mirrors_for(relpath: str) -> list[str]:
    """The URLs of ``relpath``: under ``$TORCHRBM_MIRROR`` first, then under each public mirror of its folder."""
    folder, name = relpath.split("/", 1)
    urls = []
    custom = os.environ.get("TORCHRBM_MIRROR")
    if custom:
        urls.append(custom.rstrip("/") + "/" + relpath)
    urls += [base + name for base in MIRRORS.get(folder, [])]
    return urls


def _downloader(url: str, timeout: float):
    """pooch's downloader for ``url`` (HTTP in chunks of 1 MiB, with ``timeout`` seconds to answer)."""
    import pooch

    if url.startswith(("http://", "https://")):
        return pooch.HTTPDownloader(timeout=timeout, chunk_size=1 << 20)
    return pooch.choose_downloader(url)


def download(url: str, target: Path, sha256: str, *, timeout: float = 60.0) -> None:
    """Download ``url`` to ``target`` if its SHA-256 is ``sha256``; never leaves a bad file.

    pooch streams the file to a temporary name beside ``target`` and moves it into place only
    if its checksum matches; a truncated or corrupted download is deleted and raises ``ValueError``,
    an unreachable one ``OSError``.
    """
    import pooch

    target = Path(target)
    downloader = _downloader(url, timeout)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent,
                       downloader=downloader)
    except ValueError as err:
        raise ValueError(f"checksum mismatch for {url}: {err}") from None


def fetch(relpath: str, root: str | os.PathLike | None = None) -> Path:
    """Path of ``relpath`` under the data directory, downloading it first if it is missing.

    The URLs of :func:`_mirrors_for` are tried in turn (then, for binarised MNIST, Larochelle's
    text files); the error after the last one names the file, every URL tried and the ways out.
    """
    target = data_dir(root) / relpath
    if target.is_file():
        return target
    if relpath not in SHA256:
        raise FileNotFoundError(f"data file not found: {target}")
    unreachable: list[str] = []
    corrupt: list[str] = []
    for url in _mirrors_for(relpath):
        try:
            download(url, target, SHA256[relpath])
            return target
        except OSError as err:
            unreachable.append(f"{url}: {err}")
        except ValueError as err:
            corrupt.append(str(err))
    if relpath == "binarized_mnist/binarized_mnist.npz":
        try:
            _convert_binarized_mnist_amat(target)
            return target
        except OSError as err:
            unreachable.append(f"{BINARIZED_MNIST_AMAT.format('*')}: {err}")
        except ValueError as err:
            corrupt.append(str(err))
    ways_out = (f"Download it by hand to {target}, or set TORCHRBM_DATA (or --data-dir) to a directory that "
                f"holds {relpath}.")
    if corrupt:
        raise ValueError(f"{'; '.join(corrupt + unreachable).rstrip('.')}. {ways_out}")
    tried = "; ".join(unreachable) or "no mirror; set TORCHRBM_MIRROR to one"
    raise FileNotFoundError(f"data file not found: {target}, and it could not be downloaded ({tried}). {ways_out}")


def _convert_binarized_mnist_amat(target: Path) -> None:
    """Build the binarised-MNIST npz from Larochelle's text files, checking each split's content."""
    splits = {}
    for split, expected in BINARIZED_MNIST_CONTENT_SHA256.items():
        url = BINARIZED_MNIST_AMAT.format(split)
        with tempfile.TemporaryFile() as text:
            _downloader(url, timeout=120)(url, text, None)
            text.seek(0)
            array = np.loadtxt(text, dtype=np.uint8, ndmin=2)
        found = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if found != expected:
            raise ValueError(f"binarised MNIST {split} split does not match its pinned SHA-256")
        splits[split] = array
    archive = io.BytesIO()
    np.savez_compressed(archive, **splits)
    atomic_write_bytes(target, archive.getvalue())


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


# ------------------------------------------------------------------ binarisation
def binarize(
    x: Tensor, method: str | None = "threshold", *, threshold: float = 0.5, seed: int = 0
) -> Tensor:
    """Binarise values in ``[0, 1]``: ``"threshold"`` (``x > threshold``), ``"stochastic"``
    (``x_i ~ Bernoulli(x_i)`` with a seeded generator) or ``None`` (unchanged).

    ``x`` is any array, tensor or nested list of finite numbers in ``[0, 1]``, or ``uint8``
    grey levels ``0..255``, which are read as ``x / 255`` (logged); other values outside
    ``[0, 1]`` raise ``ValueError``.  The result is a ``uint8`` tensor of ``x``'s shape.
    """
    if method not in (None, "none", "threshold", "stochastic"):
        raise ValueError(f"unknown binarisation {method!r}; use 'threshold', 'stochastic' or None")
    x = numeric_tensor(x, "x")
    check_finite(x, "x")
    if method is None or method == "none":
        return x
    x = _as_unit_interval(x, method)
    if method == "threshold":
        return (x > threshold).to(torch.uint8)
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(x.shape, generator=generator) < x).to(torch.uint8)


def _as_unit_interval(x: Tensor, method: str) -> Tensor:
    """``x`` if it lies in ``[0, 1]``; ``uint8`` grey levels divided by 255; else ``ValueError``."""
    if not x.numel():
        return x
    low, high = (float(value) for value in torch.aminmax(x))
    if low >= 0 and high <= 1:
        return x
    if x.dtype == torch.uint8:
        logger.info("%s binarisation: uint8 values from %g to %g read as grey levels x / 255", method, low, high)
        return x / 255.0
    raise ValueError(f"{method} binarisation reads values in [0, 1]; found values from {low:g} to {high:g}: scale "
                     "them into [0, 1] first (grey levels: x / their maximum, e.g. x / 255)")


# ------------------------------------------------------------------ standardisation
@dataclass
class Standardizer:
    """Per-column ``z = (x - mean) / std`` over the kept (non-constant) ``columns``,
    fitted on training data and applied unchanged to held-out data (for Gaussian
    visible units).  ``mean`` and ``std`` cover every original column."""

    mean: Tensor
    std: Tensor
    columns: Tensor

    def transform(self, x) -> Tensor:
        """Standardised kept columns, on ``x``'s device."""
        x = as_data_tensor(x, n_features=self.mean.numel()).double()
        mean, std, kept = self._on(x.device)
        return ((x[:, kept] - mean[kept]) / std[kept]).float()

    def inverse_transform(self, z) -> Tensor:
        """Back to the original scale and columns, on ``z``'s device; dropped columns get their constant value."""
        z = as_data_tensor(z, n_features=self.columns.numel()).double()
        mean, std, kept = self._on(z.device)
        x = mean.expand(z.shape[0], -1).clone()
        x[:, kept] = z * std[kept] + mean[kept]
        return x.float()

    def log_abs_det_jacobian(self) -> float:
        """``log |dz/dx| = -sum_i log std_i`` over the kept columns: added to a log-density of the
        standardised ``z`` it gives the log-density of the kept columns of ``x`` in their own units."""
        return -float(self.std[self.columns].log().sum())

    def _on(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        return self.mean.to(device), self.std.to(device), self.columns.to(device)

    def to_dict(self) -> dict[str, list]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": self.columns.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, list]) -> Standardizer:
        return cls(mean=torch.tensor(state["mean"], dtype=torch.float64),
                   std=torch.tensor(state["std"], dtype=torch.float64),
                   columns=torch.tensor(state["columns"], dtype=torch.int64))


def standardize(data, *, drop_constant: bool = False) -> tuple[Tensor, Standardizer]:
    """Standardise each column of ``data`` to mean 0 and standard deviation 1.

    Columns with zero variance cannot be standardised: they raise ``ValueError``
    unless ``drop_constant``, which leaves them out (``Standardizer.columns`` lists
    the kept ones).  Returns the float32 result and the fitted :class:`Standardizer`.
    """
    x = as_data_tensor(data).double()
    std = x.std(0) if x.shape[0] > 1 else torch.zeros(x.shape[1], dtype=torch.float64)
    constant = std == 0
    if bool(constant.any()) and not drop_constant:
        columns = constant.nonzero().flatten().tolist()
        raise ValueError(f"data has {len(columns)} column(s) with zero variance (first: column {columns[0]}); "
                         "pass drop_constant=True to leave them out")
    kept = (~constant).nonzero().flatten()
    if kept.numel() == 0:
        raise ValueError("every column of the data is constant; nothing to standardise")
    scaler = Standardizer(mean=x.mean(0), std=std, columns=kept)
    return scaler.transform(x), scaler


# ------------------------------------------------------------------ synthetic
def bars_and_stripes(n: int = 4) -> Tensor:
    """All ``2 * 2**n`` bars-and-stripes patterns on an ``n x n`` grid (MacKay 2003).

    Each pattern sets whole rows (stripes) or whole columns (bars); the empty and
    full images appear once as each, so the 32 patterns of the 4x4 case have a
    best possible mean log-likelihood of ``-(28 log 32 + 4 log 16) / 32 = -3.379``.
    """
    n = check_positive_int(n, "n")
    choices = torch.tensor(list(itertools.product((0, 1), repeat=n)), dtype=torch.uint8)
    stripes = choices[:, :, None].expand(-1, n, n)
    bars = choices[:, None, :].expand(-1, n, n)
    return torch.cat([stripes, bars]).reshape(-1, n * n).contiguous()


def shifter(n: int = 8) -> tuple[Tensor, Tensor]:
    """The labelled shifter ensemble (Hinton & Sejnowski 1986), all ``3 * 2**n`` cases.

    Each row is ``[x, y, label]``: ``x`` a binary vector of ``n`` bits, ``y`` its
    cyclic shift by one place left, none or right, and ``label`` that shift as a
    one-hot code of 3 bits; ``2n + 3`` columns in all (19 for ``n = 8``).
    Returns ``(data, shift)`` with ``shift`` in ``{0, 1, 2}`` for left, none, right.
    """
    n = check_positive_int(n, "n")
    x = torch.tensor(list(itertools.product((0, 1), repeat=n)), dtype=torch.uint8)
    rows, labels = [], []
    for shift, direction in enumerate((-1, 0, 1)):
        one_hot = torch.zeros(x.shape[0], 3, dtype=torch.uint8)
        one_hot[:, shift] = 1
        rows.append(torch.cat([x, torch.roll(x, direction, dims=1), one_hot], dim=1))
        labels.append(torch.full((x.shape[0],), shift, dtype=torch.int64))
    return torch.cat(rows), torch.cat(labels)


def digits(*, binarize_method: str | None = "threshold", threshold: float = 0.5, seed: int = 0,
           return_labels: bool = False):
    """scikit-learn's 8x8 digits (1797 images, 64 pixels), scaled to ``[0, 1]``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = binarize(torch.from_numpy(bunch.data / 16.0).float(), binarize_method, threshold=threshold, seed=seed)
    return (x, torch.from_numpy(bunch.target)) if return_labels else x


# ------------------------------------------------------------------ sequences
def sequence_windows(sequences, order: int) -> tuple[Tensor, Tensor]:
    """Frames and their contexts for a conditional RBM.

    ``sequences`` is one ``(T, d)`` array or a list of them.  For every frame
    ``x_t`` with ``t >= order`` the context is the ``order`` frames before it, most
    recent first: ``[x_{t-1}, ..., x_{t-order}]`` as one row of ``order * d`` values.
    Returns ``(frames, context)`` with one row per such frame.
    """
    order = check_positive_int(order, "order")
    if isinstance(sequences, (Tensor, np.ndarray)) and np.ndim(sequences) == 2:
        sequences = [sequences]
    frames, contexts = [], []
    for index, sequence in enumerate(sequences):
        x = as_data_tensor(sequence, name=f"sequence {index}")
        if x.shape[0] <= order:
            raise ValueError(f"sequence {index} has {x.shape[0]} frames; it needs more than order={order}")
        frames.append(x[order:])
        contexts.append(torch.cat([x[order - lag : x.shape[0] - lag] for lag in range(1, order + 1)], 1))
    widths = {f.shape[1] for f in frames}
    if len(widths) != 1:
        raise ValueError(f"all sequences must have the same number of columns; found {sorted(widths)}")
    return torch.cat(frames), torch.cat(contexts)


def moving_bars(n_sequences: int = 50, length: int = 30, width: int = 12, bar: int = 3,
                noise: float = 0.02, seed: int = 0) -> list[Tensor]:
    """Binary sequences of a bar of ``bar`` pixels moving round a ring of ``width`` pixels.

    Each sequence starts at a random place and moves one pixel per frame in a
    random but fixed direction; each pixel is then flipped with probability
    ``noise``.  The direction shows only over two frames, so predicting the next
    frame needs a context of at least two.  Returns ``n_sequences`` ``(length, width)``
    ``uint8`` tensors.
    """
    generator = torch.Generator().manual_seed(seed)
    start = torch.randint(width, (n_sequences, 1), generator=generator)
    direction = torch.randint(2, (n_sequences, 1), generator=generator) * 2 - 1
    position = start + direction * torch.arange(length)  # (sequences, length)
    pixels = (torch.arange(width) - position[..., None]) % width < bar
    flips = torch.rand(pixels.shape, generator=generator) < noise
    return list((pixels ^ flips).to(torch.uint8))


# ------------------------------------------------------------- MNIST family
def _idx_pair(folder: str, split: str, root) -> tuple[np.ndarray, np.ndarray]:
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"unknown split {split!r} for {folder}; use 'train' or 'test'")
    images = read_idx(fetch(f"{folder}/{prefix}-images-idx3-ubyte.gz", root))
    labels = read_idx(fetch(f"{folder}/{prefix}-labels-idx1-ubyte.gz", root))
    return images.reshape(images.shape[0], -1), labels


def _idx_loader(folder: str, title: str) -> Callable:
    def loader(split: str = "train", *, data_dir=None, binarize_method: str | None = None,
               threshold: float = 0.5, seed: int = 0, return_labels: bool = False):
        images, labels = _idx_pair(folder, split, data_dir)
        x = binarize(torch.from_numpy(images.astype(np.float32) / 255.0), binarize_method,
                     threshold=threshold, seed=seed)
        return (x, torch.from_numpy(labels.astype(np.int64))) if return_labels else x

    loader.__name__ = folder
    loader.__doc__ = (
        f"{title}: 28x28 images as 784 grey levels in [0, 1] (``split`` 'train' or 'test').\n\n"
        "``binarize_method`` is 'threshold', 'stochastic' or None; with ``return_labels`` the\n"
        "result is ``(images, labels)``."
    )
    return loader


mnist = _idx_loader("mnist", "MNIST handwritten digits (LeCun et al. 1998)")
fashion_mnist = _idx_loader("fashion_mnist", "Fashion-MNIST (Xiao et al. 2017)")


def binarized_mnist(split: str = "train", *, data_dir=None) -> Tensor:
    """Larochelle & Murray's (2011) fixed binarisation of MNIST: train 50000, valid 10000,
    test 10000 rows of 784 ``uint8`` bits."""
    if split not in BINARIZED_MNIST_CONTENT_SHA256:
        raise ValueError(f"unknown split {split!r} for binarized MNIST; use 'train', 'valid' or 'test'")
    with np.load(fetch("binarized_mnist/binarized_mnist.npz", data_dir)) as archive:
        return torch.from_numpy(archive[split].astype(np.uint8))


# ------------------------------------------------------------------ user files
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


DATASETS = ("digits", "bas", "shifter", "mnist", "fashion-mnist", "binarized-mnist")


def load(name: str, *, split: str = "train", data_dir=None, binarize_method: str | None = "default",
         threshold: float = 0.5, seed: int = 0, max_rows: int | None = None, **file_options) -> Tensor:
    """A data set by name (one of :data:`DATASETS`) or a path to a ``.npy``/``.npz``/``.csv`` file
    (``FILE.npz:NAME`` for one array of an archive that holds several), read by :func:`read_path`
    with ``file_options`` (a CSV file's ``header`` and ``delimiter``).

    ``binarize_method="default"`` binarises ``digits`` by threshold and leaves
    everything else as it is.  Only the MNIST family has splits; the other data
    sets and files are one set of rows (``split="train"``).  ``max_rows``: only
    the first rows (of the split), to try a data set quickly.
    """
    if max_rows is not None:
        max_rows = check_positive_int(max_rows, "max_rows")
    rows = _load(name, split=split, data_dir=data_dir, binarize_method=binarize_method, threshold=threshold,
                 seed=seed, max_rows=max_rows, **file_options)
    return rows if max_rows is None else rows[:max_rows]


def _load(name: str, *, split: str, data_dir, binarize_method: str | None, threshold: float, seed: int,
          max_rows: int | None, **file_options) -> Tensor:
    options = {"threshold": threshold, "seed": seed}
    method = None if binarize_method == "default" else binarize_method
    key = str(name).lower().replace("_", "-")
    if split != "train" and key not in ("mnist", "fashion-mnist", "binarized-mnist"):
        raise ValueError(f"{name} has no {split!r} split: only mnist, fashion-mnist and binarized-mnist have "
                         f"splits; hold rows out of it yourself")
    if key == "digits":
        return digits(binarize_method="threshold" if binarize_method == "default" else method, **options)
    if key == "bas":
        return bars_and_stripes(4)
    if key == "shifter":
        return shifter(8)[0]
    if key in ("mnist", "fashion-mnist"):
        loader = mnist if key == "mnist" else fashion_mnist
        return loader(split, data_dir=data_dir, binarize_method=method, **options)
    if key == "binarized-mnist":
        return binarized_mnist(split, data_dir=data_dir)
    if Path(str(name).rsplit(":", 1)[0]).suffix.lower() in FILE_SUFFIXES or Path(name).exists():
        x = read_path(name, max_rows=max_rows, **file_options)
        return binarize(x, method, **options) if method else x
    raise ValueError(
        f"unknown data set {name!r}; known: {', '.join(DATASETS)}, or a path to a .npy, .npz or .csv file"
    )
