"""Fault test: `torchrbm train` on MNIST killed with SIGKILL at random moments, resumed each time, ends
with the model of an uninterrupted run, having lost at most one checkpoint interval per kill."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

import torchrbm as tr
from torchrbm.training.checkpoint import checkpoint_history

EPOCHS = 20
KILLS = 4


def _command(run, data_dir):
    return [sys.executable, "-m", "torchrbm", "train", "--data", "mnist", "--binarize", "threshold",
            "--data-dir", str(data_dir), "--hidden", "16", "--epochs", str(EPOCHS), "--batch-size", "100",
            "--checkpoint-every", "1", "--seed", "0", "--quiet", "--out", str(run)]


def _epochs_done(run) -> tuple[int, int]:
    """Last epoch in metrics.jsonl and in the checkpoint (-1: none); both files must be whole."""
    metrics = run / "metrics.jsonl"
    logged = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
    checkpoint = run / "checkpoint.safetensors"
    saved = checkpoint_history(checkpoint) if checkpoint.exists() else []
    return (logged[-1]["epoch"] if logged else -1), (saved[-1]["epoch"] if saved else -1)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_ends_with_the_uninterrupted_model(tmp_path, shared_data):
    reference = tmp_path / "reference"
    subprocess.run(_command(reference, shared_data), check=True, timeout=300)

    run, rng, kills = tmp_path / "killed", random.Random(2026), []
    for number in range(KILLS):
        process = subprocess.Popen([*_command(run, shared_data), "--resume"], stderr=subprocess.DEVNULL)
        before = _epochs_done(run)[1]
        if number:  # after the first kill (any moment, start-up included), wait for progress: slow machines too
            deadline = time.monotonic() + 120
            while _epochs_done(run)[1] <= before and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5) if number else rng.uniform(0.5, 4.0))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        logged, saved = _epochs_done(run)  # both readable after the kill: atomic writes
        kills.append((before, logged, saved))
        assert saved >= logged - 1, kills  # at most one checkpoint interval lost
    print("kills (checkpoint epoch before, last logged epoch, checkpoint epoch after):", kills)
    assert kills[-1][2] > 0, f"the kills never let training progress: {kills}"
    subprocess.run([*_command(run, shared_data), "--resume"], check=True, timeout=300)

    finished, expected = tr.load(run / "model.safetensors"), tr.load(reference / "model.safetensors")
    for name, value in expected.state_dict().items():
        assert torch.equal(finished.state_dict()[name], value), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(EPOCHS))
    assert json.loads((run / "summary.json").read_text())["epochs"] == EPOCHS
    assert not list(run.glob(".*.tmp"))  # temporary files of killed writes were cleared by the next writes
