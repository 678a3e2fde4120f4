"""Progress bars: training and AIS report on stderr, never on stdout."""

import torch

import torchrbm as tr


def test_progress_bars_for_training_and_ais_go_to_stderr(capsys):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, data, epochs=2, batch_size=8, seed=0, progress=True)
    tr.ais(rbm, n_chains=10, n_betas=500, seed=0, progress=True)
    tr.reverse_ais(rbm, data, n_chains=10, n_betas=300, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training" in captured.err and "epoch 1" in captured.err
    assert "499/499" in captured.err and "reverse AIS" in captured.err and "ess=" in captured.err
