"""Crash-safe files: truncated, corrupted, foreign and future files are refused; a full disk keeps the old file."""

import errno
import json
import os
import pickle

import pytest
import torch

import torchrbm as tr
from torchrbm._utils import files
from torchrbm.cli import main
from torchrbm.training.checkpoint import checkpoint_history

DATA = tr.datasets.bars_and_stripes(4)
SETTINGS = {"sampler": tr.PCD(n_chains=10), "batch_size": 8, "lr": 0.05, "seed": 0}


def _model_file(tmp_path):
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(16, 8, data=DATA, generator=torch.Generator().manual_seed(0)), path)
    return path


def _checkpoint_file(tmp_path, epochs=2):
    path = tmp_path / "run.ckpt"
    tr.fit(tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)), DATA, epochs=epochs, checkpoint=path,
           **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})
    return path


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_a_truncated_model_or_checkpoint_is_refused(tmp_path, keep):
    for path, read in ((_model_file(tmp_path), tr.load), (_checkpoint_file(tmp_path), checkpoint_history)):
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * keep)])
        with pytest.raises(ValueError, match="truncated, corrupted or not a safetensors file"):
            read(path)


def test_a_flipped_bit_in_the_tensors_fails_the_checksum(tmp_path):
    path = _model_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted: its contents do not match the SHA-256"):
        tr.load(path)
    resumed = _checkpoint_file(tmp_path / "b")
    raw = bytearray(resumed.read_bytes())
    raw[-3] ^= 0x10
    resumed.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted: its contents do not match the SHA-256"):
        tr.fit(tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)), DATA, epochs=2, checkpoint=resumed,
               resume=True, **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})


def test_a_future_checkpoint_format_is_refused(tmp_path):
    path = _checkpoint_file(tmp_path)
    path.write_bytes(path.read_bytes().replace(b'\\"format\\": 2', b'\\"format\\": 7'))
    with pytest.raises(ValueError, match="checkpoint format 7; this torchrbm reads formats 1 to 2 .written by a newer"):
        checkpoint_history(path)


class _Exploit:
    """Unpickling this runs ``open(marker, "w")``: loading it must never happen."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_file_crafted_to_run_code_when_unpickled_is_refused_and_never_run(tmp_path, capsys):
    marker = tmp_path / "code_ran"
    crafted = {"pickle.safetensors": pickle.dumps(_Exploit(marker)), "torch.pt": None}
    torch.save({"W": _Exploit(marker)}, tmp_path / "torch.pt")  # PyTorch's own (zip + pickle) format
    (tmp_path / "pickle.safetensors").write_bytes(crafted["pickle.safetensors"])
    for name in crafted:
        path = tmp_path / name
        with pytest.raises(ValueError, match="not a readable torchrbm model file"):
            tr.load(path)
        with pytest.raises(ValueError, match="not a readable torchrbm checkpoint"):
            checkpoint_history(path)
        assert main(["evaluate", str(path), "--data", "bas", "--method", "fe"]) == 2
        assert "not a readable torchrbm model file" in capsys.readouterr().err
        assert main(["sample", str(path), "--out", str(tmp_path / "s.npy"), "--steps", "1"]) == 2
    assert not marker.exists()


def _disk_full_after(monkeypatch, calls: int):
    """Make the ``calls``-th and later writes through :func:`files.atomic_write_bytes` fail with ENOSPC."""
    real_fsync, count = os.fsync, {"n": 0}

    def fsync(fd):
        count["n"] += 1
        if count["n"] >= calls and os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)


def test_a_full_disk_keeps_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = _checkpoint_file(tmp_path, epochs=2)
    before = path.read_bytes()
    _disk_full_after(monkeypatch, calls=1)
    with pytest.raises(OSError, match="could not write .*run.ckpt: no space left on device; the previous file"):
        tr.fit(tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)), DATA, epochs=4, checkpoint=path,
               **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})
    assert path.read_bytes() == before
    assert [record["epoch"] for record in checkpoint_history(path)] == [0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]  # no temporary file left behind
    monkeypatch.undo()  # space freed: the run resumes from the intact checkpoint
    rbm = tr.RBM(16, 8, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, DATA, epochs=2, checkpoint=path, resume=True, **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})
    assert len(history) == 2


def test_a_full_disk_during_train_is_a_clear_error(tmp_path, monkeypatch, capsys):
    _disk_full_after(monkeypatch, calls=3)
    run = tmp_path / "run"
    assert main(["train", "--data", "bas", "--epochs", "3", "--hidden", "4", "--out", str(run), "--quiet"]) == 2
    assert "no space left on device; the previous file there is unchanged" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    assert not list(run.glob(".*.tmp"))


def test_figures_are_written_atomically(tmp_path):
    figure = tr.plots.plot_images(DATA[:4])
    files.atomic_savefig(figure, tmp_path / "x.svg")
    files.atomic_savefig(figure, tmp_path / "x.png", dpi=50)
    assert (tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png", "x.svg"]


@pytest.fixture
def small_filesystem(tmp_path):
    """A tmpfs of a given size (in 4 KiB pages) mounted for the test; needs root (CI runs as root)."""
    import subprocess

    mounted = []

    def mount(pages: int):
        point = tmp_path / "small_fs"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={pages * 4096}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the mocked full-disk tests above "
                        "cover the same code")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_a_really_full_disk_keeps_the_previous_checkpoint(tmp_path, small_filesystem):
    """On a file system with room for one checkpoint but not two, the atomic write of the second one
    fails with ENOSPC (the old file stays until the new one is complete) and the first survives."""
    data = tr.datasets.digits()
    size = _digits_checkpoint(tmp_path / "probe.ckpt", data, epochs=1).stat().st_size
    pages = -(-size // 4096)
    disk = small_filesystem(pages + pages // 2)
    path = disk / "run.ckpt"
    _digits_checkpoint(path, data, epochs=1)
    before = path.read_bytes()
    with pytest.raises(OSError, match="no space left on device; the previous file there is unchanged") as error:
        _digits_checkpoint(path, data, epochs=2)
    assert error.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and checkpoint_history(path)[-1]["epoch"] == 0
    assert sorted(p.name for p in disk.iterdir()) == ["run.ckpt"]


def _digits_checkpoint(path, data, epochs):
    tr.fit(tr.RBM(64, 64, generator=torch.Generator().manual_seed(0)), data, epochs=epochs, checkpoint=path,
           **{**SETTINGS, "sampler": tr.PCD(n_chains=50)})
    return path


def test_a_format_1_model_without_checksum_still_loads(tmp_path):
    import safetensors.torch

    model = tr.RBM(3, 2, generator=torch.Generator().manual_seed(0))
    header = {"format_version": 1, "config": model.config(), "metadata": {}}
    tensors = {name: value.detach().contiguous() for name, value in model.state_dict().items()}
    (tmp_path / "old.safetensors").write_bytes(
        safetensors.torch.save(tensors, metadata={"torchrbm": json.dumps(header)}))
    loaded = tr.load(tmp_path / "old.safetensors")
    assert torch.equal(loaded.W, model.W)


def _edit_header(path, key, edit):
    """Rewrite the JSON document under ``key`` in a safetensors file's metadata with ``edit(document)``."""
    import struct

    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    document = json.loads(header["__metadata__"][key])
    edit(document)
    header["__metadata__"][key] = json.dumps(document)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


def test_a_changed_header_fails_the_checksum(tmp_path):
    path = _checkpoint_file(tmp_path, epochs=2)
    _edit_header(path, "torchrbm_checkpoint", lambda doc: doc.update(epoch=0))  # would redo epoch 1
    with pytest.raises(ValueError, match="corrupted: its contents do not match the SHA-256"):
        tr.fit(tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)), DATA, epochs=2, checkpoint=path,
               resume=True, **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})
    model = _model_file(tmp_path)
    _edit_header(model, "torchrbm", lambda doc: doc.update(tensors_sha256=None))
    with pytest.raises(ValueError, match="corrupted: its header lacks the SHA-256"):
        tr.load(model)


def test_a_garbled_format_1_checkpoint_is_refused(tmp_path):
    from torchrbm.training.checkpoint import checkpoint_history

    path = _checkpoint_file(tmp_path, epochs=2)

    def garble(doc):
        doc.update(format=1, history=5)
        del doc["tensors_sha256"]

    _edit_header(path, "torchrbm_checkpoint", garble)
    with pytest.raises(ValueError, match="corrupted: its header lacks or garbles history"):
        checkpoint_history(path)


def test_a_format_1_checkpoint_still_resumes(tmp_path):
    path = tmp_path / "run.ckpt"
    tr.fit(tr.RBM(16, 8, generator=torch.Generator().manual_seed(0)), DATA, epochs=3, checkpoint=path,
           callbacks=[lambda model, record: record["epoch"] == 1], **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})

    def old(doc):
        doc["format"] = 1
        del doc["tensors_sha256"]
        del doc["fingerprint"]["clip_grad_norm"]  # not recorded before format 2

    _edit_header(path, "torchrbm_checkpoint", old)
    rbm = tr.RBM(16, 8, generator=torch.Generator().manual_seed(0))
    assert len(tr.fit(rbm, DATA, epochs=3, checkpoint=path, resume=True,
                      **{**SETTINGS, "sampler": tr.PCD(n_chains=10)})) == 3


def test_metadata_with_non_string_keys_round_trips(tmp_path):
    path = tmp_path / "m.safetensors"
    tr.save(tr.RBM(3, 2), path, metadata={9: "a", 10: "b", "pair": (1, 2)})
    assert tr.io.read_header(path)["metadata"] == {"9": "a", "10": "b", "pair": [1, 2]}
    assert tr.load(path).W.shape == (3, 2)


def test_only_dead_writers_temporary_files_are_removed(tmp_path):
    target = tmp_path / "m.safetensors"
    dead = tmp_path / ".m.safetensors.999999999.x1.tmp"  # no such process
    alive = tmp_path / f".m.safetensors.{os.getppid()}.x2.tmp"  # a live process's write in progress
    other = tmp_path / ".m.x3.tmp"  # another file's
    for path in (dead, alive, other):
        path.write_text("partial")
    files.atomic_write_text(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, target.name])
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
