"""torchrbm scan, and what a run of aligned sequences writes: logos, the mutational scan as figure and CSV."""

import csv
import io
import json

import numpy as np
import pytest
import torch
from helpers import randomize

import torchrbm as tr
from torchrbm.cli import main
from torchrbm.cli.data import DataOptions

PROTEIN = "ACDEFGHIKLMNPQRSTVWY-"


def _read_csv(path):
    """The scan table of a CSV file: ``(L, q)`` float64 and the wild type's letters."""
    header, *rows = list(csv.reader(io.StringIO(path.read_text())))
    assert header == ["position", "wild_type", *PROTEIN]
    return (torch.tensor([[float(value) for value in row[2:]] for row in rows], dtype=torch.float64),
            "".join(row[1] for row in rows))


@pytest.fixture
def saved(tmp_path):
    """A random Potts RBM of 6 positions over the protein alphabet, saved without training settings."""
    rbm = randomize(tr.RBM(6, 3, visible=tr.units.Potts(21)), seed=1, scale=0.5)
    path = tmp_path / "model.safetensors"
    tr.save(rbm, path)
    (tmp_path / "family.fasta").write_text(">first one\nACDEFG\n>second\nWY-KLM\n")
    return rbm, path


def test_scan_writes_the_models_scan_of_the_sequence(saved, tmp_path, capsys):
    rbm, path = saved
    out = tmp_path / "scan.csv"
    assert main(["scan", str(path), "--sequence", "WY-KLM", "--out", str(out)]) == 0
    expected = tr.mutational_scan(rbm, tr.datasets.encode_sequence("WY-KLM"))
    values, wild_type = _read_csv(out)
    assert wild_type == "WY-KLM" and torch.equal(values, expected)
    printed = capsys.readouterr().out.splitlines()
    scores = expected.clone()
    scores[torch.arange(6), tr.datasets.encode_sequence("WY-KLM")] = float("nan")
    position, state = divmod(int(torch.nan_to_num(scores, nan=-1e9).argmax()), 21)
    best = f"{'WY-KLM'[position]}{position + 1}{PROTEIN[state]} {float(scores[position, state]):+.2f}"
    assert printed[1].startswith("most favourable") and printed[1].split(": ", 1)[1].startswith(best)
    assert printed[2].startswith("most deleterious") and printed[-1] == f"wrote the scan to {out}"

    assert main(["scan", str(path), "--fasta", str(tmp_path / "family.fasta"), "--index", "2", "--top", "3",
                 "--out", str(tmp_path / "scan.npy"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["wild_type"] == "WY-KLM" and result["sequence"].startswith("second of")
    np.testing.assert_array_equal(np.load(tmp_path / "scan.npy"), expected.numpy())
    assert len(result["most_favourable"]) == len(result["most_deleterious"]) == 3
    worst = result["most_deleterious"][0]
    assert worst["score"] == float(scores.nan_to_num(nan=1e9).min())
    assert worst["mutant"] == f"{worst['wild_type']}{worst['position']}{worst['state']}"
    assert [entry["score"] for entry in result["most_favourable"]] == sorted(
        (entry["score"] for entry in result["most_favourable"]), reverse=True)

    assert main(["scan", str(path), "--fasta", str(tmp_path / "family.fasta"), "--id", "first",
                 "--out", str(tmp_path / "scan.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wild_type"] == "ACDEFG"
    assert (tmp_path / "scan.png").stat().st_size > 1000


@pytest.mark.parametrize(("arguments", "message"), [
    (["--sequence", "WY-KL"], "the sequence given by --sequence has 5 positions but the model has 6"),
    (["--sequence", "WY-BLM"], "the sequence has 'B' at position 4, a symbol not in the alphabet"),
    (["--sequence", "WY-KLM", "--alphabet", "dna"], "the model's visible units have 21 states each but --alphabet "
     "has 5 symbols"),
    (["--fasta", "missing.fasta"], "alignment file not found: missing.fasta"),
    (["--fasta", "FAMILY", "--index", "3"], "--index 3: FAMILY holds 2 sequences (1 is the first)"),
    (["--fasta", "FAMILY", "--id", "third"],
     "holds no sequence with the id 'third' (its first ids: 'first one', 'second')"),
    (["--sequence", "WY-KLM", "--index", "2"], "--index and --id choose a sequence of --fasta"),
])
def test_scan_names_what_is_wrong(saved, tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    arguments = [str(tmp_path / "family.fasta") if a == "FAMILY" else a for a in arguments]
    message = message.replace("FAMILY", str(tmp_path / "family.fasta"))
    assert main(["scan", str(saved[1]), *arguments, "--out", "scan.csv"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "scan.csv").exists()


def test_scan_needs_units_with_states_and_an_alphabet_of_as_many(tmp_path, capsys):
    tr.save(tr.RBM(3, 2, visible="gaussian"), tmp_path / "gaussian.safetensors")
    assert main(["scan", str(tmp_path / "gaussian.safetensors"), "--sequence", "ACD", "--out",
                 str(tmp_path / "s.csv")]) == 2
    assert "needs visible units with a few states per position (Potts, Bernoulli, spin), not gaussian" in (
        capsys.readouterr().err)
    binary = randomize(tr.RBM(3, 2, dtype=torch.float64), seed=2)
    tr.save(binary, tmp_path / "binary.safetensors")
    assert main(["scan", str(tmp_path / "binary.safetensors"), "--sequence", "101", "--out",
                 str(tmp_path / "s.npy")]) == 2
    assert "have 2 states each but the default protein alphabet has 21 symbols" in capsys.readouterr().err
    assert main(["scan", str(tmp_path / "binary.safetensors"), "--sequence", "101", "--alphabet", "01", "--out",
                 str(tmp_path / "s.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), tr.mutational_scan(binary, [1, 0, 1]).numpy())
    assert main(["scan", str(tmp_path / "binary.safetensors"), "--sequence", "101", "--out",
                 str(tmp_path / "s.txt")]) == 2
    assert "--out must end in .csv, .npy, .png or .svg; found s.txt" in capsys.readouterr().err


def test_a_potts_run_writes_logos_and_the_scan_of_its_first_training_sequence(tmp_path, capsys):
    family = tmp_path / "family.fasta"
    codes = torch.randint(21, (60, 4), generator=torch.Generator().manual_seed(0))  # 21**4 states: exact log Z
    sequences = ["".join(PROTEIN[c] for c in row) for row in codes.tolist()]
    family.write_text("".join(f">seq{i}\n{text}\n" for i, text in enumerate(sequences)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(family), "--visible", "potts", "--hidden-units", "drelu", "--hidden", "3",
                 "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    model = tr.load(run / "model.safetensors")
    values, wild_type = _read_csv(run / "mutational_scan.csv")
    train = DataOptions(data=str(family)).training_rows(tr.units.Potts(21)).train  # the run's seed 0
    assert wild_type == "".join(PROTEIN[c] for c in train[0].tolist())
    first = sequences.index(wild_type)
    assert torch.equal(values, tr.mutational_scan(model, tr.datasets.encode_sequence(wild_type)))
    for name in ("logos.png", "mutational_scan.png"):
        assert (run / name).stat().st_size > 5000, name
    report = (run / "report.html").read_text()
    assert 'alt="logos"' in report and 'alt="mutational scan"' in report
    # The run's recorded data gives scan its alphabet; its scan of that sequence is the run's.
    assert main(["scan", str(run / "model.safetensors"), "--fasta", str(family), "--index", str(first + 1),
                 "--out", str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "again.csv").read_text() == (run / "mutational_scan.csv").read_text()
