"""Progress: tqdm bars on a terminal, plain lines in a log, always on stderr, never on stdout."""

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import torchrbm as tr
from torchrbm._utils import progress
from torchrbm.cli import main

#: What a terminal's bars are made of, and no log line may hold.
BAR_CODES = re.compile(r"[\r\x1b]")


def _stderr_lines(text: str) -> list[str]:
    assert not BAR_CODES.search(text), f"carriage return or escape code in {text!r}"
    return text.splitlines()


def _steps(lines: list[str]) -> list[str]:
    """Each progress line without its timing and values: ``"AIS: beta 3 of 10"``."""
    return [re.sub(r" \([^()]*\)(; .*)?$", "", line) for line in lines]


@pytest.fixture
def terminal(monkeypatch):
    """stderr taken for a terminal, which shows tqdm bars."""
    monkeypatch.setattr(progress, "shows_bars", lambda stream: True)


@pytest.fixture
def every_step(monkeypatch):
    """Timed phases write a plain line after every step (no seconds between two lines)."""
    monkeypatch.setenv(progress.INTERVAL_VARIABLE, "0")


@pytest.fixture(scope="module")
def bas_model(tmp_path_factory):
    run = tmp_path_factory.mktemp("progress") / "run"
    assert main(["train", "--data", "bas", "--hidden", "8", "--epochs", "3", "--batch-size", "8", "--out", str(run),
                 "--quiet"]) == 0
    return run / "model.safetensors"


def test_progress_bars_for_training_and_ais_on_a_terminal(terminal, capsys):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    tr.fit(rbm, data, epochs=2, batch_size=8, seed=0, progress=True)
    tr.ais(rbm, n_chains=10, n_betas=500, seed=0, progress=True)
    tr.reverse_ais(rbm, data, n_chains=10, n_betas=300, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training" in captured.err and "epoch 1" in captured.err and "\r" in captured.err
    assert "499/499" in captured.err and "reverse AIS" in captured.err and "ess=" in captured.err


def test_training_into_a_log_writes_one_plain_line_per_epoch(capsys):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    history = tr.fit(rbm, data, epochs=3, batch_size=8, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = _stderr_lines(captured.err)
    assert _steps(lines) == [f"training: epoch {n} of 3" for n in (1, 2, 3)]
    assert lines[-1].endswith(f"recon={history[-1]['recon_error']:.4f}")


def test_a_resumed_run_counts_its_epochs_from_the_checkpoint(tmp_path, capsys):
    data = tr.datasets.bars_and_stripes(4)
    options = {"epochs": 4, "batch_size": 8, "seed": 0, "checkpoint": tmp_path / "c.safetensors", "resume": True}
    tr.fit(tr.RBM(16, 8, data=data), data, callbacks=[lambda model, record: record["epoch"] == 1], **options)
    tr.fit(tr.RBM(16, 8, data=data), data, progress=True, **options)
    lines = _stderr_lines(capsys.readouterr().err)
    assert _steps(lines) == ["training: epoch 3 of 4", "training: epoch 4 of 4"]


def test_short_phases_write_nothing_into_a_log(capsys):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data)
    tr.ais(rbm, n_chains=10, n_betas=100, seed=0, progress=True)
    tr.pseudo_log_likelihood(rbm, data, progress=True)
    rbm.gibbs(data, 10, progress=True)
    assert capsys.readouterr().err == ""


def test_long_phases_write_a_line_every_few_seconds_and_one_at_the_end(every_step, capsys):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 8, data=data)
    tr.pseudo_log_likelihood(rbm, data.repeat(3000, 1), progress=True)  # 1 << 21 / 16**2 = 8192 rows at a time
    rbm.gibbs(data, 3, progress=True)
    rbm.inpaint(data, torch.arange(16) < 8, steps=2, progress=True)
    tr.reverse_ais(rbm, data, n_chains=10, n_betas=3, seed=0, progress=True)
    lines = _stderr_lines(capsys.readouterr().err)
    pll = [f"pseudo-likelihood (full): example {n} of 96000" for n in [*range(8192, 96000, 8192), 96000, 96000]]
    assert _steps(lines) == [
        *pll, "Gibbs sampling: step 1 of 3", "Gibbs sampling: step 2 of 3", "Gibbs sampling: step 3 of 3",
        "Gibbs sampling: step 3 of 3", "inpainting: step 1 of 2", "inpainting: step 2 of 2", "inpainting: step 2 of 2",
        "reverse AIS: beta 1 of 2", "reverse AIS: beta 2 of 2", "reverse AIS: beta 2 of 2"]
    assert "about" in lines[0] and " left" in lines[0] and "done in" in lines[-1]


def test_the_seconds_between_lines_are_a_number(monkeypatch):
    assert progress.interval() == progress.DEFAULT_INTERVAL
    monkeypatch.setenv(progress.INTERVAL_VARIABLE, "2.5")
    assert progress.interval() == 2.5
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv(progress.INTERVAL_VARIABLE, bad)
        with pytest.raises(ValueError, match="TORCHRBM_PROGRESS_SECONDS must be a number of seconds"):
            progress.interval()


def test_fine_tuning_reports_its_epochs_on_stderr(capsys):
    x, y = tr.datasets.bars_and_stripes(4), torch.arange(32) % 2
    dbn = tr.DBN([16, 8])
    history = dbn.fine_tune(x, y, epochs=2, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert _steps(_stderr_lines(captured.err)) == [
        f"fine-tuning: epoch {n} of 2" for n in range(1, len(history) + 1)]


def _torchrbm(*args: str) -> subprocess.CompletedProcess:
    """The torchrbm command, its stdout and stderr into pipes (one thread: the fastest for tiny models)."""
    return subprocess.run([sys.executable, "-m", "torchrbm", *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_train_into_a_pipe_writes_one_line_per_epoch_and_quiet_only_the_results(tmp_path):
    common = ["train", "--hidden", "8", "--epochs", "3", "--batch-size", "200"]  # digits; exact log-likelihood
    logged = _torchrbm(*common, "--out", str(tmp_path / "logged"))
    lines = _stderr_lines(logged.stderr)
    epochs = [line for line in lines if line.startswith("training: epoch ")]
    assert _steps(epochs) == [f"training: epoch {n} of 3" for n in (1, 2, 3)]
    assert all(line.startswith("torchrbm: ") for line in lines if line not in epochs)  # the messages
    assert "trained RBM" in logged.stdout and "log-likelihood" in logged.stdout
    quiet = _torchrbm(*common, "--out", str(tmp_path / "quiet"), "--quiet")
    assert quiet.stderr == ""
    results = [line for line in quiet.stdout.splitlines() if "log-likelihood" in line or "reconstruction" in line]
    assert len(results) == 2 and all(line in logged.stdout for line in results)  # the same results, in seconds more


def test_evaluate_sample_and_inpaint_report_progress_unless_quiet(bas_model, tmp_path, every_step, capsys):
    commands = [["evaluate", str(bas_model), "--method", "pll"],
                ["sample", str(bas_model), "--n", "4", "--steps", "3", "--out", str(tmp_path / "s.npy")],
                ["inpaint", str(bas_model), "--n", "4", "--steps", "2", "--mask", "random:0.5",
                 "--out", str(tmp_path / "i.npy")]]
    phases = ["pseudo-likelihood (full): example", "Gibbs sampling: step", "inpainting: step"]
    for command, phase in zip(commands, phases, strict=True):
        assert main(command) == 0
        shown = capsys.readouterr()
        assert shown.err and all(line.startswith(phase) for line in _stderr_lines(shown.err))
        assert main([*command, "--quiet"]) == 0
        quiet = capsys.readouterr()
        assert quiet.err == "" and quiet.out == shown.out != ""


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
    assert {tag for tag, _, _ in writer.scalars} == {"train/recon_error", "train/recon_error_valid",
                                                     "train/free_energy_gap", "train/lr", "train/momentum",
                                                     "train/time"}


class _RecordingWriter:
    """Stands in for tensorboard's SummaryWriter: writes one file into its log directory and keeps
    every scalar it is given."""

    scalars: list = []

    def __init__(self, log_dir):
        Path(log_dir).mkdir(parents=True)
        (Path(log_dir) / "events").write_text("")

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("installed", [False, True])
def test_cli_tensorboard_option_and_messages(tmp_path, caplog, capsys, monkeypatch, installed):
    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = _RecordingWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake if installed else None)
    monkeypatch.setattr(_RecordingWriter, "scalars", [])
    with caplog.at_level("INFO", logger="torchrbm"):
        code = main(["train", "--data", "bas", "--epochs", "2", "--hidden", "8", "--sampler", "pcd",
                     "--out", str(tmp_path / "run"), "--tensorboard"])
    if not installed:  # refused before anything is written
        assert code == 2 and "needs the tensorboard package" in capsys.readouterr().err
        assert not (tmp_path / "run").exists() and "training RBM" not in caplog.text
    else:
        assert code == 0 and (tmp_path / "run" / "tensorboard" / "events").exists()
        assert "training RBM on 32 rows with PCD(n_chains=100, k=1) for 2 epochs" in caplog.text
        assert [step for tag, _, step in _RecordingWriter.scalars if tag == "train/recon_error"] == [0, 1]
