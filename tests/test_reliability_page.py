"""docs/reliability.md quotes torchrbm's messages as it prints them: each row of its tables of bad input
and bad files is run here, and every quoted error or warning must be the real one (``...`` in a quote
stands for a part that varies: a path, a version, NumPy's own wording)."""

from __future__ import annotations

import json
import pickle
import re
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT

import torchrbm as tr
from torchrbm.sklearn import RBM as SklearnRBM

PAGE = ROOT / "docs" / "reliability.md"
#: The tables checked, by their header row.
TABLES = ("| input | what the user sees |", "| file | what the user sees |")


def _rows() -> dict[str, str]:
    """The checked tables' rows: first cell (the input) to second cell (what the user sees)."""
    rows, inside = {}, False
    for line in PAGE.read_text().splitlines():
        if line in TABLES:
            inside = True
        elif inside and line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            if set(cells[0]) != {"-"}:
                rows[cells[0]] = cells[1]
        else:
            inside = False
    return rows


def _quoted_messages(cell: str) -> list[str]:
    """The errors and warnings a cell quotes: its code spans that start with an exception's or a warning's name."""
    spans = [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", cell)]
    return [span for span in spans if re.match(r"[A-Z]\w*(Error|Exception|Warning): ", span)]


def _seen(case: Callable[[Path], object], tmp_path: Path, warning: bool) -> list[str]:
    """What the user sees of ``case``: the warnings it gives, or the error it raises."""
    if warning:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            case(tmp_path)
        return [f"{w.category.__name__}: {w.message}" for w in caught]
    with pytest.raises(Exception) as raised:
        case(tmp_path)
    return [f"{type(raised.value).__name__}: {raised.value}"]


def _pattern(quoted: str) -> re.Pattern:
    return re.compile(".*?".join(re.escape(part) for part in quoted.split("...")), re.S)


# ------------------------------------------------------------------ inputs of the rows
def _model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    tr.save(tr.RBM(3, 2), path)
    return path


def _edited_header(tmp_path: Path, edit: Callable[[dict], None]) -> Path:
    """A model file whose torchrbm header was changed by ``edit`` (its checksum left as it was)."""
    path = _model_file(tmp_path)
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    document = json.loads(header["__metadata__"]["torchrbm"])
    edit(document)
    header["__metadata__"]["torchrbm"] = json.dumps(document)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])
    return path


def _truncated(tmp_path: Path) -> Path:
    path = _model_file(tmp_path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return path


def _bit_flipped(tmp_path: Path) -> Path:
    path = _model_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10  # inside the last tensor
    path.write_bytes(bytes(raw))
    return path


def _pickled(tmp_path: Path) -> Path:
    path = tmp_path / "pickle.safetensors"
    path.write_bytes(pickle.dumps({"W": [[0.0, 1.0]]}))
    return path


def _named_csv(tmp_path: Path) -> Path:
    path = tmp_path / "named.csv"
    path.write_text("red,green,blue\n1,0,1\n0,1,1\n")
    return path


def _missing_entries_inpainted() -> torch.Tensor:
    v = torch.tensor([[1.0, float("nan"), 0.0]])
    return tr.RBM(3, 2).inpaint(v, torch.tensor([False, True, False]), steps=2)


def _no_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("the message of a missing GPU needs a machine without one")
    tr.RBM(3, 2, device="cuda")


RBM = tr.RBM(3, 2)
GAUSSIAN = tr.RBM(3, 2, visible="gaussian")

#: Each row's inputs (functions of a temporary directory), one per message quoted, in the quotes' order, or
#: several for a row's one message. A row that quotes no error must run without one.
CASES: dict[str, list[Callable[[Path], object]]] = {
    # bad input
    "wrong number of columns": [lambda _: RBM.free_energy(torch.zeros(4, 5)),
                                lambda _: tr.fit(RBM, torch.zeros(4, 5))],
    "NaN or ±inf": [lambda _: tr.fit(RBM, [[0, float("nan"), 1]])],
    "values outside [0, 1] for Bernoulli units": [lambda _: tr.fit(RBM, [[0, 2, 1]])],
    "empty array": [lambda _: tr.fit(RBM, np.zeros((0, 3)))],
    "1-D data for `fit`": [lambda _: tr.fit(RBM, np.zeros(3))],
    "images, `(n, height, width)` or `(n, channels, height, width)`, for a data entry point": [
        lambda _: tr.fit(tr.RBM(64, 2), np.zeros((10, 8, 8)), epochs=0)],
    "`None` or a dict": [lambda _: tr.fit(RBM, None), lambda _: tr.log_likelihood(RBM, {"v": [0, 1, 0]})],
    "a string for an estimate, which takes arrays": [lambda _: tr.reconstruction_error(RBM, "data.csv")],
    "a path to a missing file, for `fit` (which reads a path as `torchrbm train --data FILE` does)": [
        lambda _: tr.fit(RBM, "data.csv")],
    "a data set's name for `fit`": [lambda _: tr.fit(tr.RBM(784, 2), "mnist")],
    "a CSV file whose first line is not numbers": [lambda tmp: tr.datasets.load(_named_csv(tmp))],
    "the same, with `header=False` (`--csv-header no`)": [
        lambda tmp: tr.datasets.load(_named_csv(tmp), header=False)],
    "an iterator (a generator) as batches for `fit`": [
        lambda _: tr.fit(RBM, (np.zeros((2, 3)) for _ in range(3)))],
    "object or complex arrays": [lambda _: RBM.free_energy(np.array([[0, 1, object()]])),
                                 lambda _: RBM.free_energy(np.zeros((1, 3), complex))],
    "ragged nested lists": [lambda _: tr.fit(RBM, [[0, 1, 0], [0, 1]])],
    "a tensor on the `meta` device": [lambda _: RBM.free_energy(torch.zeros(2, 3, device="meta"))],
    "float64 values beyond float32's range": [lambda _: tr.fit(GAUSSIAN, np.array([[1e300, 0.0, 0.0]]))],
    "huge values for Gaussian units": [lambda _: GAUSSIAN.free_energy(torch.tensor([[1e20, 0.0, 0.0]]))],
    "NaN in the missing entries given to `inpaint`": [lambda _: _missing_entries_inpainted()],
    "a GPU that is not there": [lambda _: _no_gpu()],
    "exact likelihood of a large model": [lambda _: tr.exact_log_partition(tr.RBM(40, 30))],
    "non-binary data for the pseudo-likelihood": [lambda _: tr.pseudo_log_likelihood(RBM, [[0.5, 0, 1]])],
    "`k` below 1, `epochs` below 0, ...": [lambda _: tr.CD(-1),
                                                       lambda _: tr.fit(RBM, np.zeros((2, 3)), epochs=-1)],
    "fine-tuning labels out of range": [
        lambda _: tr.DBN([3, 2]).fine_tune(np.zeros((4, 3)), [0, 1, 5, 0], n_classes=3, epochs=1)],
    "DBN layers that do not chain": [lambda _: tr.DBN(layers=[tr.RBM(3, 2), tr.RBM(3, 2)])],
    "`transform` before `fit` (scikit-learn)": [lambda _: SklearnRBM().transform(np.zeros((2, 3)))],
    "uint8 0/1 data mapped by `2 * x - 1` for spin units (255 for 0: unsigned integers wrap around), for any "
    "entry point": [lambda _: tr.fit(tr.RBM(16, 2, visible="spin"), tr.datasets.bars_and_stripes(4) * 2 - 1)],
    "values outside [0, 1] to binarise by threshold (uint8 grey levels 0..255 are read as x / 255)": [
        lambda _: tr.datasets.binarize([[0.0, 16.0]], "threshold")],
    "probabilities outside [0, 1] for stochastic binarisation": [
        lambda _: tr.datasets.binarize([[0.5, 2.0]], "stochastic")],
    # unsafe, truncated and corrupted files
    "missing": [lambda tmp: tr.load(tmp / "nope.safetensors")],
    "truncated (10 %, 50 %, 99 % kept)": [lambda tmp: tr.load(_truncated(tmp))],
    "one bit flipped in the tensors, or a changed header field": [
        lambda tmp: tr.load(_bit_flipped(tmp)),
        lambda tmp: tr.load(_edited_header(tmp, lambda header: header["metadata"].update(epochs=3)))],
    "a header without its checksum": [
        lambda tmp: tr.load(_edited_header(tmp, lambda header: header.pop("tensors_sha256")))],
    "a newer format": [lambda tmp: tr.load(_edited_header(tmp, lambda header: header.update(format_version=9)))],
    "a pickle crafted to run code when unpickled, or a `torch.save` file": [lambda tmp: tr.load(_pickled(tmp))],
}


def test_every_row_has_its_case_and_every_case_its_row():
    rows = _rows()
    assert len(rows) > 20, "the tables of docs/reliability.md were not found"
    assert sorted(rows) == sorted(CASES)


@pytest.mark.parametrize("row", sorted(CASES))
def test_the_messages_quoted_are_the_real_ones(row, tmp_path):
    quoted = _quoted_messages(_rows().get(row, ""))
    if not quoted:
        for case in CASES[row]:
            case(tmp_path)  # no error
        return
    if len(quoted) == 1:
        quoted *= len(CASES[row])
    assert len(quoted) == len(CASES[row]), f"{row}: {len(quoted)} messages quoted, {len(CASES[row])} inputs"
    for message, case in zip(quoted, CASES[row], strict=True):
        seen = _seen(case, tmp_path, warning=re.match(r"\w*Warning: ", message) is not None)
        assert any(_pattern(message).fullmatch(real) for real in seen), \
            f"the page quotes\n  {message}\nbut the user sees\n  " + "\n  ".join(seen)
