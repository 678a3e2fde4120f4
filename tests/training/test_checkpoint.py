"""Checkpoints: an interrupted and resumed run ends bit for bit where an uninterrupted one does."""

import functools
import json

import pytest
import torch

import torchrbm as tr

SETTINGS = {"epochs": 6, "batch_size": 8, "lr": 0.05, "momentum": (0.5, 0.9), "momentum_switch": 2,
            "weight_decay": 1e-4, "sparsity_target": 0.1, "seed": 4}
DATA = tr.datasets.bars_and_stripes(4)


def _run(sampler, checkpoint=None, resume=False, stop_after=None, **extra):
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 10, data=data, generator=torch.Generator().manual_seed(0))
    callbacks = [*extra.pop("callbacks", ()), *([] if stop_after is None else
                                                [lambda model, record: record["epoch"] == stop_after])]
    history = tr.fit(rbm, data, sampler=sampler, checkpoint=checkpoint, resume=resume, callbacks=callbacks,
                     **{**SETTINGS, **extra})
    return rbm, history


@pytest.mark.parametrize("make_sampler", [lambda: tr.PCD(n_chains=20), lambda: tr.PCD(n_chains=20, keep_hidden=True),
                                          lambda: tr.PT(n_temps=3, n_chains=10), lambda: tr.CD(k=2)])
@pytest.mark.parametrize("centered", [False, True])
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path, make_sampler, centered):
    straight, straight_history = _run(make_sampler(), centered=centered)
    path = tmp_path / "checkpoint.safetensors"
    interrupted, _ = _run(make_sampler(), checkpoint=path, stop_after=2, centered=centered)
    assert not torch.equal(interrupted.W, straight.W)
    resumed, history = _run(make_sampler(), checkpoint=path, resume=True, centered=centered)
    for name, param in straight.named_parameters():
        assert torch.equal(dict(resumed.named_parameters())[name], param), name
    assert len(history) == 6
    assert history["recon_error"] == straight_history["recon_error"]
    assert history["momentum"] == [0.5, 0.5, 0.9, 0.9, 0.9, 0.9]


def test_a_finished_run_extended_to_more_epochs_equals_a_longer_run(tmp_path):
    """epochs is the total: resuming a finished 4-epoch run with epochs=6 gives the 6-epoch run, bit for bit
    (the momentum switch at epoch 2 and the PCD chains carry on as if 6 had been asked for at the start)."""
    path = tmp_path / "checkpoint.safetensors"
    straight, straight_history = _run(tr.PCD(n_chains=20), epochs=6)
    _, first = _run(tr.PCD(n_chains=20), checkpoint=path, epochs=4)
    assert len(first) == 4 and not first.interrupted
    extended, history = _run(tr.PCD(n_chains=20), checkpoint=path, resume=True, epochs=6)
    assert torch.equal(extended.W, straight.W) and torch.equal(extended.b, straight.b)
    assert history["recon_error"] == straight_history["recon_error"]
    with pytest.raises(ValueError, match="holds 6 epochs, more than epochs=5: epochs is the total"):
        _run(tr.PCD(n_chains=20), checkpoint=path, resume=True, epochs=5)


@pytest.mark.parametrize("scheduler", [
    functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5),
    functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0, threshold=0.5)], ids=["step", "plateau"])
def test_a_run_with_a_scheduler_and_early_stopping_resumes_bit_for_bit(tmp_path, scheduler):
    def score(model, record):  # best at epoch 1; early stopping ends the run after epoch 4
        record["score"] = [5.0, 3.0, 3.5, 4.0, 4.5, 2.0][record["epoch"]]

    def run(**options):
        return _run(tr.PCD(n_chains=20), callbacks=[score], lr_scheduler=scheduler, validation_data=DATA,
                    early_stopping=tr.EarlyStopping("score", patience=3), **options)

    straight, straight_history = run()
    assert len(straight_history) == 5 and straight_history.best_epoch == 1
    path = tmp_path / "checkpoint.safetensors"
    run(checkpoint=path, stop_after=2)
    for _ in range(2):  # the second time the run has ended: nothing to train, the best epoch's parameters
        resumed, history = run(checkpoint=path, resume=True)
        for name, param in straight.named_parameters():
            assert torch.equal(dict(resumed.named_parameters())[name], param), name
        assert history["lr"] == straight_history["lr"] and history.best_epoch == 1


def test_resume_without_a_checkpoint_starts_afresh_and_writes_one(tmp_path):
    path = tmp_path / "run" / "checkpoint.safetensors"
    fresh, _ = _run(tr.PCD(n_chains=20), checkpoint=path, resume=True)
    straight, _ = _run(tr.PCD(n_chains=20))
    assert torch.equal(fresh.W, straight.W) and path.is_file()


def test_resuming_with_other_settings_or_a_damaged_file_is_refused(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    _run(tr.PCD(n_chains=20), checkpoint=path, stop_after=1)
    with pytest.raises(ValueError, match=r"other settings \(batch_size: 8 there, 16 now"):
        _run(tr.PCD(n_chains=20), checkpoint=path, resume=True, batch_size=16)
    with pytest.raises(ValueError, match="sampler"):
        _run(tr.PCD(n_chains=30), checkpoint=path, resume=True)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable torchrbm checkpoint"):
        _run(tr.PCD(n_chains=20), checkpoint=path, resume=True)


@pytest.mark.slow
def test_cli_resume_continues_a_run_and_refuses_other_settings(tmp_path, capsys, caplog):
    from torchrbm.cli import main

    common = ["train", "--data", "bas", "--hidden", "8", "--epochs", "4", "--ais-betas", "100", "--quiet"]
    straight = tmp_path / "straight"
    assert main([*common, "--out", str(straight)]) == 0
    run = tmp_path / "run"
    assert main([*common[:-3], "--epochs", "2", "--ais-betas", "100", "--quiet", "--out", str(run)]) == 0
    # --epochs is the total: the finished 2-epoch run resumed with --epochs 4 is the 4-epoch run, bit for bit
    assert main([*common, "--out", str(run), "--resume"]) == 0
    assert torch.equal(tr.load(run / "model.safetensors").W, tr.load(straight / "model.safetensors").W)
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4
    with caplog.at_level("INFO", logger="torchrbm"):
        assert main([*common[:-1], "--out", str(tmp_path / "none"), "--resume"]) == 0  # a new run, bit for bit
    assert "nothing to resume in" in caplog.text
    assert torch.equal(tr.load(tmp_path / "none" / "model.safetensors").W, tr.load(straight / "model.safetensors").W)
    interrupted = tmp_path / "interrupted"
    assert main([*common, "--out", str(interrupted)]) == 0
    checkpoint = interrupted / "checkpoint.safetensors"
    assert tr.training.checkpoint.checkpoint_history(checkpoint)[-1]["epoch"] == 3
    assert main([*common, "--out", str(interrupted), "--resume", "--lr", "0.5"]) == 2
    assert "lr 0.01 there, 0.5 now" in capsys.readouterr().err
    assert main([*common, "--out", str(interrupted), "--resume"]) == 0  # nothing left to train
    # options not given again are the run's own (data, hidden units, epochs...), not the defaults
    assert main(["train", "--out", str(interrupted), "--resume", "--quiet"]) == 0
    (interrupted / "config.json").write_text("[1]")
    assert main(["train", "--out", str(interrupted), "--resume", "--quiet"]) == 2
    assert "config.json does not hold a torchrbm run's settings" in capsys.readouterr().err
    assert torch.equal(tr.load(interrupted / "model.safetensors").W, tr.load(straight / "model.safetensors").W)
    assert len((interrupted / "metrics.jsonl").read_text().splitlines()) == 4


@pytest.mark.slow
def test_sigterm_stops_after_the_epoch_and_the_run_resumes_bit_for_bit(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "torchrbm", "train", "--data", "digits", "--hidden", "32", "--epochs", "150",
               "--ais-betas", "100", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    process = subprocess.Popen([*command, "--out", str(run)], env=env, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while (not metrics.is_file() or len(metrics.read_text().splitlines()) < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "continue with" in err
    done = len(tr.training.checkpoint.checkpoint_history(run / "checkpoint.safetensors"))
    assert 3 <= done < 150 and len(metrics.read_text().splitlines()) == done
    # The interrupted run leaves a usable model of its last finished epoch, and a report that says so.
    interrupted = tr.load(run / "model.safetensors")
    assert tr.reconstruction_error(interrupted, tr.datasets.digits()) == pytest.approx(
        json.loads(metrics.read_text().splitlines()[-1])["recon_error"], rel=0.2)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == done and summary["interrupted"].startswith(f"after epoch {done} of 150")
    assert f"interrupted after epoch {done} of 150" in (run / "report.html").read_text()
    assert (run / "curves.png").is_file() and 'alt="curves"' in (run / "report.html").read_text()
    resumed = subprocess.run([*command, "--out", str(run), "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    times = [json.loads(line)["time"] for line in metrics.read_text().splitlines()]
    assert "interrupted" not in summary and summary["train_seconds"] == pytest.approx(sum(times))
    straight = subprocess.run([*command, "--out", str(tmp_path / "straight")], env=env, capture_output=True, text=True)
    assert straight.returncode == 0
    assert torch.equal(tr.load(run / "model.safetensors").W, tr.load(tmp_path / "straight" / "model.safetensors").W)
    assert len(metrics.read_text().splitlines()) == 150


def test_a_checkpoint_from_another_kind_of_device_is_refused_by_name():
    from torchrbm.training.resume import check_generator_states

    cuda_state = torch.zeros(16, dtype=torch.uint8)  # what a CUDA generator's state holds: seed and offset
    with pytest.raises(ValueError, match="made on another kind of device than this model's \\(cpu\\)"):
        check_generator_states([cuda_state], [torch.Generator()], "run/checkpoint.safetensors")
    check_generator_states([torch.Generator().get_state()], [torch.Generator()], "run/checkpoint.safetensors")
