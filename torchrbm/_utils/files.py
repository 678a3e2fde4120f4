"""Crash-safe files: a reader sees the old file or the new one, never half of one.

Every file torchrbm writes goes to a temporary file in the target's directory,
is flushed to disk (``fsync``), renamed over the target and the directory entry
flushed too.  A failed write (full disk, killed process) leaves the previous
file as it was; the temporary file of a killed writer (its name holds the
writer's process id) is removed by the next write of the same file.  Tensor
files are safetensors with a JSON header that carries the SHA-256 of the header
and the tensors, so that a truncated or corrupted file is refused when read;
nothing is ever unpickled.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor

CHECKSUM_KEY = "tensors_sha256"


def _new_file_mode(path: Path) -> int:
    """The mode the file would get from a plain ``open(path, "w")``: the existing file's, else
    0666 less the umask (read from /proc where it can be, without changing it)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        pass
    try:
        with open("/proc/self/status") as status:
            umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0)
        os.umask(umask)
    return 0o666 & ~umask


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of writers of ``path`` that were killed (their process is gone)."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            stale.unlink(missing_ok=True)
        except OSError:  # the process exists (another user's): leave its file alone
            pass


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old or the new file, never half.

    Raises ``OSError`` naming ``path`` when the write fails (e.g. the disk is full); the
    previous file at ``path`` is then unchanged and no temporary file is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        reason = err.strerror or str(err)
        if err.errno == errno.ENOSPC:
            reason = "no space left on device"
        raise OSError(err.errno, f"could not write {path}: {reason}; the previous file there is unchanged") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savefig(figure, path: str | os.PathLike, **options: Any) -> None:
    """``figure.savefig(path, **options)``, written atomically (format from the suffix)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".").lower() or "png", **options)
    atomic_write_bytes(path, buffer.getvalue())


def payload_sha256(header: dict[str, Any], tensors: dict[str, Tensor]) -> str:
    """SHA-256 over the header (canonical JSON, without the checksum itself) and the tensors'
    names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    content = {key: value for key, value in header.items() if key != CHECKSUM_KEY}
    digest.update(json.dumps(content, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"|{name}|{tensor.dtype}|{tuple(tensors[name].shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_tensor_file(path: str | os.PathLike, tensors: dict[str, Tensor], key: str, header: dict[str, Any]) -> None:
    """Save ``tensors`` as safetensors with ``header`` (JSON, plus the checksum of both) under ``key``."""
    header = json.loads(json.dumps(header))  # as it will be read back: string keys, lists for tuples
    header[CHECKSUM_KEY] = payload_sha256(header, tensors)
    atomic_write_bytes(path, safetensors.torch.save(tensors, metadata={key: json.dumps(header)}))


def read_tensor_file(path: str | os.PathLike, key: str, what: str, *, version_key: str, max_version: int,
                     with_tensors: bool = True) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The JSON header under ``key`` and (with ``with_tensors``) the tensors, on the CPU.

    The header's format version (``header[version_key]``, 1 to ``max_version``) is checked
    first; from version 2 on, header and tensors must match the SHA-256 written with them.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming ``what`` the
    file should hold for a file that is not safetensors (a pickle, say: it is never
    executed), is truncated, lacks the header, has an unknown version or fails its checksum.
    """
    path = Path(path)
    if path.is_dir():
        inside = [name for name in ("model.safetensors", "checkpoint.safetensors") if (path / name).is_file()]
        hint = f": use {path / inside[0]}" if inside else ""
        raise IsADirectoryError(f"{path} is a directory, not a {what}"
                                f"{' (a torchrbm run directory)' if inside else ''}{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(key)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()} if with_tensors else {}  # noqa: SIM118
    except Exception as err:  # safetensors raises its own error types for truncated or foreign files
        raise ValueError(f"{path} is not a readable {what}: it is truncated, corrupted or not a safetensors file "
                         f"({err})") from None
    if raw is None:
        raise ValueError(f"{path} is a safetensors file but holds no {what}")
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a readable {what}: its header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a readable {what}: its header is not a JSON object")
    version = header.get(version_key)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= max_version:
        newer = " (written by a newer torchrbm: upgrade to read it)" if isinstance(version, int) else ""
        raise ValueError(f"{path} has {what} format {version!r}; this torchrbm reads formats 1 to "
                         f"{max_version}{newer}")
    if version >= 2:
        expected = header.get(CHECKSUM_KEY)
        if not (isinstance(expected, str) and len(expected) == 64):
            raise ValueError(f"{path} is corrupted: its header lacks the SHA-256 of its contents")
        if with_tensors and payload_sha256(header, tensors) != expected:
            raise ValueError(f"{path} is corrupted: its contents do not match the SHA-256 written with them")
    return header, tensors
