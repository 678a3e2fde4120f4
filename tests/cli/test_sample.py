"""``torchrbm sample``: arrays, figures and FASTA, Gibbs chains or parallel tempering at an inverse temperature."""

import numpy as np
import pytest
import torch

import torchrbm as tr
from torchrbm.cli import main
from torchrbm.data.alignment_files import read_records


@pytest.fixture
def potts_model(tmp_path):
    rbm = tr.RBM(6, 3, visible=tr.units.Potts(4), weight_std=1.0, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "potts.safetensors"
    tr.save(rbm, path)
    return rbm, path


@pytest.mark.parametrize("sampler", ["gibbs", "pt"])
def test_sample_writes_the_sequences_tr_generate_draws_as_fasta(potts_model, tmp_path, capsys, sampler):
    rbm, path = potts_model
    out = tmp_path / "samples.fasta"
    assert main(["sample", str(path), "--n", "7", "--steps", "20", "--beta", "1.5", "--sampler", sampler,
                 "--n-temps", "4", "--alphabet", "ACGT", "--seed", "3", "--out", str(out)]) == 0
    assert "7 samples (20" in capsys.readouterr().out
    expected = tr.generate(rbm, 7, 20, beta=1.5, sampler=sampler, n_temps=4,
                           generator=torch.Generator().manual_seed(3)).long()
    records = read_records(out)
    assert [record.id for record in records] == [f"sample_{i}" for i in range(1, 8)]
    assert ["".join("ACGT"[c] for c in row) for row in expected.tolist()] == [r.text for r in records]


def test_sample_npy_at_beta_one_is_the_gibbs_chain_of_before(potts_model, tmp_path):
    rbm, path = potts_model
    out = tmp_path / "samples.npy"
    assert main(["sample", str(path), "--n", "5", "--steps", "10", "--out", str(out), "--quiet"]) == 0
    generator = torch.Generator().manual_seed(0)
    before = rbm.gibbs(rbm.sample_from_visible_biases(5, generator), 10, generator)
    np.testing.assert_array_equal(np.load(out), before.numpy())


def test_sample_refuses_what_it_cannot_do(potts_model, tmp_path, capsys):
    _, path = potts_model
    assert main(["sample", str(path), "--out", str(tmp_path / "s.fasta")]) == 2  # 4 states, 21 protein letters
    assert "4 states each but the default protein alphabet has 21 symbols" in capsys.readouterr().err
    tr.save(tr.RBM(4, 2), tmp_path / "binary.safetensors")
    assert main(["sample", str(tmp_path / "binary.safetensors"), "--out", str(tmp_path / "s.fasta")]) == 2
    assert "FASTA holds sequences, from a model of Potts units" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", str(path), "--beta", "0", "--out", str(tmp_path / "s.npy")])
    assert "--beta: must be a finite number > 0; found 0" in capsys.readouterr().err
    assert not (tmp_path / "s.fasta").exists() and not (tmp_path / "s.npy").exists()
