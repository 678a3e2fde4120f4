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


class _Writer:
    def __init__(self):
        self.scalars, self.flushes = [], 0

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        self.flushes += 1


def test_scalar_logger_writes_each_numeric_metric_of_each_epoch():
    writer = _Writer()
    data = tr.datasets.bars_and_stripes(4)
    history = tr.fit(tr.RBM(16, 8, data=data), data, epochs=3, batch_size=8, seed=0, validation_data=data[:8],
                     callbacks=[tr.ScalarLogger(writer)])
    assert writer.flushes == 3
    recon = [(value, step) for tag, value, step in writer.scalars if tag == "train/recon_error"]
    assert recon == [(record["recon_error"], record["epoch"]) for record in history]
    assert {tag for tag, _, _ in writer.scalars} == {"train/recon_error", "train/free_energy_gap", "train/lr",
                                                     "train/momentum", "train/time"}


def test_cli_tensorboard_option_and_messages(tmp_path, caplog, capsys):
    import importlib.util

    from torchrbm.cli import main

    with caplog.at_level("INFO", logger="torchrbm"):
        code = main(["train", "--data", "bas", "--epochs", "2", "--hidden", "8", "--sampler", "pcd",
                     "--out", str(tmp_path / "run"), "--tensorboard"])
    if importlib.util.find_spec("tensorboard") is None:
        assert code == 2 and "needs the tensorboard package" in capsys.readouterr().err
    else:
        assert code == 0 and any((tmp_path / "run" / "tensorboard").iterdir())
    assert "training RBM on 32 rows with PCD(n_chains=100, k=1) for 2 epochs" in caplog.text
