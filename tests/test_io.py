"""Save and load: safetensors plus JSON, no pickle, atomic writes."""

import json
import struct

import pytest
import torch
from helpers import random_rbm

import torchrbm as tr
from torchrbm import io


def test_round_trip_keeps_values_dtype_and_metadata(tmp_path):
    rbm = random_rbm(6, 4, seed=1)
    path = tmp_path / "model.safetensors"
    tr.save(rbm, path, metadata={"epochs": 3, "note": "test"})
    loaded = tr.load(path)
    assert type(loaded) is tr.RBM and loaded.dtype == torch.float64
    for name, param in rbm.named_parameters():
        assert torch.equal(param, getattr(loaded, name))
    header = io.read_header(path)
    assert header["metadata"] == {"epochs": 3, "note": "test"}
    assert header["config"] == {"class": "RBM", "n_visible": 6, "n_hidden": 4, "visible": {"name": "bernoulli"},
                                "hidden": {"name": "bernoulli"}}
    assert tr.exact_log_partition(loaded) == tr.exact_log_partition(rbm)


def test_unit_types_and_their_parameters_round_trip(tmp_path):
    rbm = tr.RBM(6, 4, visible=tr.units.Gaussian(learn_sigma=True, sigma=0.5), hidden="spin")
    with torch.no_grad():
        rbm.visible.log_var.copy_(torch.linspace(-1, 1, 6))
    tr.save(rbm, tmp_path / "grbm.safetensors")
    loaded = tr.load(tmp_path / "grbm.safetensors")
    assert loaded.visible.config() == rbm.visible.config() and loaded.hidden.name == "spin"
    assert loaded.visible.log_var.requires_grad
    torch.testing.assert_close(loaded.visible.log_var, rbm.visible.log_var)
    v = torch.randn(3, 6)
    torch.testing.assert_close(loaded.free_energy(v), rbm.free_energy(v))


def _raw_header(path):
    """The file's bytes, its safetensors JSON header and the header's length in bytes."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return raw, json.loads(raw[8 : 8 + length]), length


def test_files_with_unit_names_only_still_load(tmp_path):
    """Files written before unit types had options name them by a string."""
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(3, 2), path)
    raw, header, length = _raw_header(path)
    meta = json.loads(header["__metadata__"]["torchrbm"])
    meta["config"].update(visible="bernoulli", hidden="bernoulli")
    meta["format_version"] = 1  # written before checksums
    del meta["tensors_sha256"]
    header["__metadata__"]["torchrbm"] = json.dumps(meta)
    new_header = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(new_header)) + new_header + raw[8 + length :])
    assert tr.load(path).visible.name == "bernoulli"


def test_file_is_plain_safetensors(tmp_path):
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(3, 2), path)
    raw, header, length = _raw_header(path)
    assert set(header) == {"__metadata__", "W", "a", "b"}
    assert header["W"]["shape"] == [3, 2]
    assert b"\x80\x04" not in raw[: 8 + length]  # no pickle protocol marker in the header


def test_save_leaves_no_temporary_files_and_replaces_atomically(tmp_path):
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(3, 2), path)
    tr.save(tr.RBM(5, 2), path)
    assert tr.load(path).n_visible == 5
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(3, 2), path)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="no space left on device; the previous file there is unchanged"):
        tr.save(tr.RBM(7, 2), path)
    monkeypatch.undo()
    assert tr.load(path).n_visible == 3
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_bad_files_are_refused(tmp_path):
    not_model = tmp_path / "junk.safetensors"
    not_model.write_bytes(b"this is not a model")
    with pytest.raises(ValueError, match="not a readable torchrbm model file"):
        tr.load(not_model)
    future = tmp_path / "future.safetensors"
    tr.save(tr.RBM(3, 2), future)
    raw = future.read_bytes().replace(b'\\"format_version\\": 2', b'\\"format_version\\": 9')
    future.write_bytes(raw)
    with pytest.raises(ValueError, match="format 9; this torchrbm reads formats 1 to 2 .written by a newer"):
        tr.load(future)


def test_load_onto_a_device_and_keep_float32(tmp_path):
    path = tmp_path / "m.safetensors"
    tr.save(tr.RBM(4, 2), path)
    loaded = tr.load(path, device="cpu")
    assert loaded.dtype == torch.float32 and loaded.device.type == "cpu"


class ScaledRBM(tr.RBM):
    """A model class of one's own: an RBM with a field recorded in its configuration."""

    config_fields = (*tr.RBM.config_fields, "scale")

    def __init__(self, n_visible, n_hidden, visible="bernoulli", hidden="bernoulli", *, scale=1.0, **options):
        self.scale = scale
        super().__init__(n_visible, n_hidden, visible, hidden, **options)


def test_a_model_class_defined_outside_torchrbm_saves_and_loads(tmp_path):
    model = ScaledRBM(6, 3, scale=2.5, generator=torch.Generator().manual_seed(0))
    tr.save(model, tmp_path / "own.safetensors")
    loaded = tr.load(tmp_path / "own.safetensors")
    assert type(loaded) is ScaledRBM and loaded.scale == 2.5
    for name, param in model.named_parameters():
        assert torch.equal(loaded.get_parameter(name), param)


def test_an_unregistered_model_is_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match="cannot save a Linear; known models: .*RBM"):
        tr.save(torch.nn.Linear(2, 2), tmp_path / "linear.safetensors")
