"""Data sets: synthetic generators, real files, downloads and user files."""

import functools
import hashlib
import http.server
import logging
import math
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import torchrbm as tr
from torchrbm.data import datasets, downloads, registry


def test_bars_and_stripes_has_32_patterns_and_known_optimum():
    data = datasets.bars_and_stripes(4)
    assert data.shape == (32, 16) and data.dtype == torch.uint8
    images = data.reshape(-1, 4, 4)
    rows_constant = (images == images[:, :, :1]).all(dim=(1, 2))
    cols_constant = (images == images[:, :1, :]).all(dim=(1, 2))
    assert bool((rows_constant | cols_constant).all())
    # The empirical distribution's log-likelihood is the best any model can reach.
    _, counts = torch.unique(data, dim=0, return_counts=True)
    p = counts.double() / 32
    best = float((counts * torch.log(p)).sum() / 32)
    assert best == pytest.approx(-(28 * math.log(32) + 4 * math.log(16)) / 32)
    assert round(best, 3) == -3.379 and round(best * 32, 2) == -108.13


def test_shifter_ensemble():
    data, shift = datasets.shifter(8)
    assert data.shape == (768, 19)
    x, y, label = data[:, :8], data[:, 8:16], data[:, 16:]
    for s, direction in enumerate((-1, 0, 1)):
        chosen = shift == s
        assert torch.equal(torch.roll(x[chosen], direction, dims=1), y[chosen])
        assert bool((label[chosen].argmax(1) == s).all())


def test_digits_binarised_by_threshold():
    x, y = datasets.digits(return_labels=True)
    assert x.shape == (1797, 64) and x.dtype == torch.uint8 and set(x.unique().tolist()) == {0, 1}
    grey = datasets.digits(binarize_method=None)
    assert grey.dtype == torch.float32 and grey.max() == 1.0
    assert torch.equal(x, (grey > 0.5).to(torch.uint8))
    assert y.shape == (1797,)


def test_binarisation_options():
    grey = torch.tensor([[0.1, 0.5, 0.9]])
    assert datasets.binarize(grey, "threshold").tolist() == [[0, 0, 1]]
    assert torch.equal(datasets.binarize(grey, None), grey)
    many = torch.full((20000, 1), 0.3)
    first = datasets.binarize(many, "stochastic", seed=1)
    assert torch.equal(first, datasets.binarize(many, "stochastic", seed=1))
    assert first.float().mean().item() == pytest.approx(0.3, abs=0.01)
    with pytest.raises(ValueError, match="unknown binarisation"):
        datasets.binarize(grey, "otsu")


def test_mnist_family_from_the_data_directory(shared_data):
    x, y = datasets.mnist("train", data_dir=shared_data, return_labels=True)
    assert x.shape == (60000, 784) and x.dtype == torch.float32 and y.shape == (60000,)
    assert x.max().item() == 1.0 and torch.bincount(y).tolist()[1] == 6742
    test = datasets.mnist("test", data_dir=shared_data, binarize_method="threshold")
    assert test.shape == (10000, 784) and test.dtype == torch.uint8
    fashion = datasets.fashion_mnist("test", data_dir=shared_data)
    assert fashion.shape == (10000, 784)
    counts = {split: int(datasets.binarized_mnist(split, data_dir=shared_data).sum())
              for split in ("train", "valid", "test")}
    assert counts == {"train": 5118041, "valid": 1028036, "test": 1038896}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _HangUpHandler(_QuietHandler):
    """Announces each file's full length but sends only its first half, then closes the connection."""

    def copyfile(self, source, outputfile):
        outputfile.write(source.read(os.fstat(source.fileno()).st_size // 2))


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """``serve(handler)``: serve a new directory over HTTP on 127.0.0.1 and make it the only mirror."""
    servers = []

    def start(handler=_QuietHandler) -> Path:
        served = tmp_path / "mirror"
        served.mkdir()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("TORCHRBM_MIRROR", f"http://127.0.0.1:{server.server_port}/")
        monkeypatch.setattr(downloads, "MIRRORS", {})
        return served

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_mirror(serve):
    return serve()


def _mirror_file(mirror: Path, relpath: str, payload: bytes) -> None:
    (mirror / relpath).parent.mkdir(parents=True, exist_ok=True)
    (mirror / relpath).write_bytes(payload)


def test_missing_files_are_downloaded_and_verified(shared_data, http_mirror, tmp_path, caplog, capfd):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (http_mirror / "mnist").mkdir(exist_ok=True)
        shutil.copy(shared_data / "mnist" / name, http_mirror / "mnist" / name)
    root = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="torchrbm"):
        x, y = datasets.mnist("test", data_dir=root, return_labels=True)
    assert caplog.messages == [f"downloading {os.environ['TORCHRBM_MIRROR']}mnist/{name} to {root / 'mnist' / name}"
                               for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]
    assert capfd.readouterr().err == ""  # pooch's own announcement is silenced
    assert x.shape == (10000, 784) and y.shape == (10000,)
    assert torch.equal(x, datasets.mnist("test", data_dir=shared_data))
    stored = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == datasets.SHA256["mnist/t10k-labels-idx1-ubyte.gz"]
    assert sorted(path.name for path in (root / "mnist").iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                                        "t10k-labels-idx1-ubyte.gz"]


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_damaged_download_is_rejected_and_removed(shared_data, http_mirror, tmp_path, damage):
    relpath = "mnist/t10k-labels-idx1-ubyte.gz"
    payload = bytearray((shared_data / relpath).read_bytes())
    if damage == "corrupted":
        payload[100] ^= 0xFF
    else:
        del payload[len(payload) // 2:]
    _mirror_file(http_mirror, relpath, bytes(payload))
    root = tmp_path / "cache"
    expected = datasets.SHA256[relpath]
    found = hashlib.sha256(payload).hexdigest()
    with pytest.raises(ValueError, match="checksum mismatch") as error:
        datasets.fetch(relpath, root)
    message = str(error.value)
    assert "for http://127.0.0.1:" in message and relpath in message
    assert expected in message and found in message and f"Download it by hand to {root / relpath}" in message
    assert "TORCHRBM_DATA" in message
    assert not (root / "mnist").exists() or not any((root / "mnist").iterdir())


def test_a_connection_lost_mid_download_leaves_no_file(shared_data, serve, tmp_path):
    relpath = "mnist/t10k-labels-idx1-ubyte.gz"
    _mirror_file(serve(_HangUpHandler), relpath, (shared_data / relpath).read_bytes())
    root = tmp_path / "cache"
    with pytest.raises(FileNotFoundError, match="could not be downloaded") as error:
        datasets.fetch(relpath, root)
    assert f"/{relpath}: " in str(error.value) and f"Download it by hand to {root / relpath}" in str(error.value)
    assert not (root / "mnist").exists() or not any((root / "mnist").iterdir())


def test_unreachable_mirror_gives_a_clear_error(http_mirror, tmp_path, monkeypatch):
    relpath = "fashion_mnist/t10k-labels-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="could not be downloaded") as error:
        datasets.fetch(relpath, tmp_path)
    message = str(error.value)
    assert f"data file not found: {tmp_path / relpath}" in message
    assert f"/{relpath}: 404 Client Error" in message
    assert f"Download it by hand to {tmp_path / relpath}, or set TORCHRBM_DATA" in message
    monkeypatch.delenv("TORCHRBM_MIRROR")
    with pytest.raises(FileNotFoundError, match=r"\(no mirror; set TORCHRBM_MIRROR to one\)"):
        datasets.fetch(relpath, tmp_path)


def test_binarized_mnist_is_built_from_the_text_files_without_an_npz_mirror(http_mirror, tmp_path, monkeypatch):
    splits = {"train": np.eye(3, 784, dtype=np.uint8), "valid": np.ones((2, 784), np.uint8),
              "test": np.zeros((1, 784), np.uint8)}
    for split, rows in splits.items():
        np.savetxt(http_mirror / f"binarized_mnist_{split}.amat", rows, fmt="%d")
    monkeypatch.setattr(downloads, "BINARIZED_MNIST_AMAT", os.environ["TORCHRBM_MIRROR"] + "binarized_mnist_{}.amat")
    monkeypatch.setattr(downloads, "BINARIZED_MNIST_CONTENT_SHA256",
                        {split: hashlib.sha256(rows.tobytes()).hexdigest() for split, rows in splits.items()})
    for split, rows in splits.items():
        assert datasets.binarized_mnist(split, data_dir=tmp_path).numpy().tolist() == rows.tolist()
    assert [path.name for path in (tmp_path / "binarized_mnist").iterdir()] == ["binarized_mnist.npz"]
    (tmp_path / "binarized_mnist" / "binarized_mnist.npz").unlink()
    monkeypatch.setitem(downloads.BINARIZED_MNIST_CONTENT_SHA256, "test", "0" * 64)
    with pytest.raises(ValueError, match="binarised MNIST test split does not match its pinned SHA-256"):
        datasets.binarized_mnist("train", data_dir=tmp_path)
    assert not any((tmp_path / "binarized_mnist").iterdir())


def test_user_files(tmp_path):
    array = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    np.save(tmp_path / "x.npy", array)
    np.savez(tmp_path / "x.npz", train=array)
    np.savetxt(tmp_path / "x.csv", array, delimiter=",")
    for name in ("x.npy", "x.npz", "x.csv"):
        loaded = datasets.load(str(tmp_path / name))
        assert loaded.tolist() == array.tolist()
    np.savez(tmp_path / "two.npz", a=array, b=array)
    assert datasets.load_file(tmp_path / "two.npz", key="b").shape == (2, 3)
    with pytest.raises(ValueError, match="name the one to use"):
        datasets.load_file(tmp_path / "two.npz")


def test_read_idx_rejects_truncated_files(tmp_path, shared_data):
    raw = (shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    import gzip

    (tmp_path / "cut.idx").write_bytes(gzip.decompress(raw)[:-10])
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "cut.idx")


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHRBM_DATA", str(tmp_path))
    assert datasets.data_dir() == tmp_path
    assert datasets.data_dir("elsewhere") == Path("elsewhere")
    monkeypatch.delenv("TORCHRBM_DATA")
    assert datasets.data_dir() == Path.home() / ".cache" / "torchrbm"


def test_rbm_trains_from_loaded_uint8_data():
    data = datasets.load("bas")
    rbm = tr.RBM(16, 4)
    history = tr.fit(rbm, data, epochs=2, batch_size=8, seed=0)
    assert len(history) == 2 and rbm.W.dtype == torch.float32


def test_data_sets_without_splits_refuse_a_split():
    assert datasets.load("digits", split="train").shape == (1797, 64)
    for name in ("digits", "bas"):
        with pytest.raises(ValueError, match=f"{name} has no 'test' split: only mnist, fashion-mnist and "):
            datasets.load(name, split="test")


def test_threshold_binarisation_reads_uint8_grey_levels_as_fractions_of_255():
    grey = torch.tensor([[0, 100, 128, 255]], dtype=torch.uint8)
    assert datasets.binarize(grey, "threshold").tolist() == [[0, 0, 1, 1]]  # 100/255 < 0.5 < 128/255
    assert datasets.binarize(grey.numpy(), "threshold", threshold=0.3).tolist() == [[0, 1, 1, 1]]
    with pytest.raises(ValueError, match=r"values from 0 to 16: scale them into \[0, 1\]"):
        datasets.binarize(torch.tensor([[0.0, 16.0]]), "threshold")
    with pytest.raises(ValueError, match=r"values from -1 to 1"):
        datasets.binarize(torch.tensor([[-1, 1]]), "stochastic")


def test_cli_names_the_file_and_the_fix_for_grey_levels_under_bernoulli_units(tmp_path, capsys):
    from torchrbm.cli import main

    path = tmp_path / "grey.npy"
    rows = (torch.arange(40 * 16).reshape(40, 16) % 256).to(torch.uint8).numpy()
    np.save(path, rows)
    assert main(["train", "--data", str(path), "--hidden", "4", "--epochs", "1", "--out", str(tmp_path / "a"),
                 "--quiet", "--binarize", "none"]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "values from 0 to 255" in error and "--binarize threshold" in error
    assert main(["train", "--data", str(path), "--hidden", "4", "--epochs", "1", "--out", str(tmp_path / "b"),
                 "--quiet", "--binarize", "threshold"]) == 0


def test_records_say_how_each_data_set_is_split_and_validated(tmp_path):
    assert datasets.DATASETS == ("digits", "bas", "shifter", "mnist", "fashion-mnist", "binarized-mnist", "kunitz",
                                 "ww", "lattice-proteins")
    assert {name: record.validation for name, record in datasets.REGISTRY.items()} == {
        "digits": 0.1, "bas": 0.0, "shifter": 0.0, "mnist": 0.1, "fashion-mnist": 0.1, "binarized-mnist": "valid",
        "kunitz": 0.1, "ww": 0.1, "lattice-proteins": 0.1}
    assert {name: record.alphabet for name, record in datasets.REGISTRY.items() if record.alphabet} == {
        name: "ACDEFGHIKLMNPQRSTVWY-" for name in ("kunitz", "ww", "lattice-proteins")}
    assert [name for name, record in datasets.REGISTRY.items() if record.has_test_split] == [
        "mnist", "fashion-mnist", "binarized-mnist"]
    assert datasets.REGISTRY["binarized-mnist"].splits == ("train", "valid", "test")
    assert datasets.data_set("Fashion_MNIST") is datasets.REGISTRY["fashion-mnist"]
    file = datasets.data_set(tmp_path / "rows.csv")
    assert (file.name, file.splits, file.validation, file.has_test_split) == (
        str(tmp_path / "rows.csv"), ("train",), 0.1, False)
    with pytest.raises(ValueError, match="unknown data set 'nonsense'; known: digits, bas, shifter, mnist"):
        datasets.data_set("nonsense")
    with pytest.raises(ValueError, match="unknown split 'valid' for mnist; use 'train' or 'test'"):
        datasets.load("mnist", split="valid")


def test_holdout_indices_draw_round_f_n_rows_with_the_seed():
    kept, held = registry.holdout_indices(10, 0.25, seed=4)
    assert held.numel() == 2 and kept.numel() == 8  # round(2.5) = 2
    assert sorted(torch.cat([kept, held]).tolist()) == list(range(10))
    order = torch.randperm(10, generator=torch.Generator().manual_seed(4))
    assert held.tolist() == order[:2].tolist() and kept.tolist() == order[2:].tolist()
    assert registry.holdout_indices(10, 0.04, seed=4)[1].numel() == 0  # round(0.4) = 0


def test_split_rows_hold_out_a_seeded_fraction_of_the_training_rows():
    seen = []
    rows = datasets.split_rows("digits", 3, check=lambda x: seen.append(tuple(x.shape)))
    assert seen == [(1797, 64)]  # the check sees the training split whole, before rows are held out
    assert rows.train.shape == (1617, 64) and rows.validation.shape == (180, 64) and rows.test is None
    assert rows.validation_rows == "180 rows (0.1 of the training rows, drawn with seed 3)"
    everything = datasets.load("digits")
    order = torch.randperm(1797, generator=torch.Generator().manual_seed(3))
    assert torch.equal(rows.validation, everything[order[:180]]) and torch.equal(rows.train, everything[order[180:]])
    other = datasets.split_rows("digits", 4, holdout=0.5)
    assert other.validation.shape == (898, 64) and other.validation_rows.startswith("898 rows (0.5 of")
    bas = datasets.split_rows("bas", 3)
    assert torch.equal(bas.train, datasets.bars_and_stripes(4)) and bas.validation is None
    assert bas.validation_rows == "none"


def test_split_rows_of_a_data_set_with_its_own_validation_and_test_splits(shared_data):
    seen = []
    rows = datasets.split_rows("binarized-mnist", data_dir=shared_data, check=lambda x: seen.append(x.shape[0]))
    assert seen == [50000, 10000, 10000]
    assert rows.validation_rows == "its valid split"
    for part, split in ((rows.train, "train"), (rows.validation, "valid"), (rows.test, "test")):
        assert torch.equal(part, datasets.binarized_mnist(split, data_dir=shared_data))
    drawn = datasets.split_rows("binarized-mnist", 1, holdout=0.2, test=False, data_dir=shared_data)
    assert (drawn.train.shape[0], drawn.validation.shape[0], drawn.test) == (40000, 10000, None)
    assert drawn.validation_rows == "10000 rows (0.2 of the training rows, drawn with seed 1)"
    assert int(drawn.train.sum()) + int(drawn.validation.sum()) == 5118041  # the training split's ones
