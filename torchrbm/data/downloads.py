"""Real data files: where they live, and their verified download.

The data directory is the ``data_dir`` argument, else ``$TORCHRBM_DATA``, else
``~/.cache/torchrbm``, laid out as::

    mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    fashion_mnist/  (the same four names)
    binarized_mnist/binarized_mnist.npz   (train/valid/test, Larochelle & Murray)
    proteins/{Kunitz_domain,WW_domain,Lattice_Proteins}_MSA.fasta, Lattice_Proteins_pnat.txt

A missing file is downloaded from a public mirror by pooch, which checks it
against a pinned SHA-256 before it is put in place.  ``$TORCHRBM_MIRROR`` (an
HTTP(S) or FTP base URL with the same layout) is tried before the public mirrors.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .._utils.files import atomic_write_bytes

logger = logging.getLogger(__name__)

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
    "proteins/Kunitz_domain_MSA.fasta": "5035465dd607e71694141630e2369205fa22cb4e4f2a387ee191eab0533cfc26",
    "proteins/WW_domain_MSA.fasta": "3fdc5fe05c4280f2a3445b4d497fc3ba87b25abef8e3dee982573a2e31f557b3",
    "proteins/Lattice_Proteins_MSA.fasta": "f31662132e1893fc82d0e872074aa4790fa914caa1c77d18c23f196795193655",
    "proteins/Lattice_Proteins_pnat.txt": "595cf8f0bf04899da4c3ed6cd2829f3396bae4bd5bd27c2b0c2f564d1f8cb31d",
}

#: Public mirrors, by folder under the data directory.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "binarized_mnist": [],
    "proteins": [],
}

#: Public copies of single files, tried after the mirrors of their folder: the protein alignments are
#: in the ``data/`` folder of github.com/jertubiana/PGM (Tubiana, Cocco & Monasson, eLife 2019; BSD 3-Clause).
_PGM = "https://raw.githubusercontent.com/jertubiana/PGM/master/data/"
FILE_URLS = {
    "proteins/Kunitz_domain_MSA.fasta": [_PGM + "Kunitz/Kunitz_domain_MSA.fasta"],
    "proteins/WW_domain_MSA.fasta": [_PGM + "WW/WW_domain_MSA.fasta"],
    "proteins/Lattice_Proteins_MSA.fasta": [_PGM + "Lattice_Proteins/Lattice_Proteins_MSA.fasta"],
    "proteins/Lattice_Proteins_pnat.txt": [_PGM + "Lattice_Proteins/Lattice_Proteins_pnat.txt"],
}

#: Larochelle's original text files; converted to the npz, checked by content.
BINARIZED_MNIST_AMAT = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{}.amat"
BINARIZED_MNIST_CONTENT_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else ``$TORCHRBM_DATA``, else ``~/.cache/torchrbm``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("TORCHRBM_DATA")
    return Path(env) if env else Path.home() / ".cache" / "torchrbm"


def _mirrors_for(relpath: str) -> list[str]:
    """The URLs of ``relpath``: under ``$TORCHRBM_MIRROR`` first, then under each public mirror of its folder,
    then its own public copies."""
    folder, name = relpath.split("/", 1)
    urls = []
    custom = os.environ.get("TORCHRBM_MIRROR")
    if custom:
        urls.append(custom.rstrip("/") + "/" + relpath)
    urls += [base + name for base in MIRRORS.get(folder, [])]
    return urls + FILE_URLS.get(relpath, [])


def _downloader(url: str, timeout: float):
    """pooch's downloader for ``url`` (HTTP in chunks of 1 MiB, with ``timeout`` seconds to answer)."""
    import pooch

    if url.startswith(("http://", "https://")):
        return pooch.HTTPDownloader(timeout=timeout, chunk_size=1 << 20)
    return pooch.choose_downloader(url)


def download(url: str, target: Path, sha256: str, *, timeout: float = 60.0) -> None:
    """Download ``url`` to ``target`` if its SHA-256 is ``sha256``; never leaves a bad file.

    pooch streams the file to a temporary name beside ``target`` and moves it into place only
    if its checksum matches.  A corrupted or truncated file is deleted and raises ``ValueError``;
    a mirror that cannot be reached, or that breaks off the transfer, raises ``OSError`` and
    leaves nothing either.  The download is logged by torchrbm's logger, not pooch's, so that
    the command line's ``--quiet`` silences it.
    """
    import pooch

    target = Path(target)
    downloader = _downloader(url, timeout)
    logger.info("downloading %s to %s", url, target)
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent,
                       downloader=downloader)
    except ValueError as err:
        raise ValueError(f"checksum mismatch for {url}: {err}") from None
    finally:
        pooch_logger.setLevel(level)


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
