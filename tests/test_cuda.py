"""The CUDA path: the same numbers as on the CPU, no host-device sync inside a training step.

These tests run wherever ``torch.cuda.is_available()``; the CPU suite covers the
same code on the CPU.
"""

import math

import numpy as np
import pytest
import torch
from helpers import brute_force_log_z, seed_example_rbm

import torchrbm as tr
from torchrbm.cli import main
from torchrbm.training.step import step as _step

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
CUDA = torch.device("cuda")


def test_worked_example_partition_function_on_the_gpu():
    rbm = seed_example_rbm().to(CUDA)
    assert math.exp(tr.exact_log_partition(rbm)) == pytest.approx(math.exp(brute_force_log_z(seed_example_rbm())),
                                                                  rel=1e-12)
    v, h = torch.tensor([[1.0, 0.0]], device=CUDA, dtype=torch.float64), torch.ones(1, 2, device=CUDA,
                                                                                      dtype=torch.float64)
    assert rbm.energy(v, h).item() == pytest.approx(-1.4, abs=1e-12)


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_exact_gradient_training_matches_the_cpu(precision):
    data = tr.datasets.bars_and_stripes(3)
    models = {}
    for device in ("cpu", "cuda"):
        rbm = tr.RBM(9, 6, data=data, generator=torch.Generator().manual_seed(0)).to(device)
        tr.fit(rbm, data, sampler=tr.Exact(), epochs=20, batch_size=7, lr=0.1, momentum=0.5, seed=0,
               shuffle=False, precision=precision)
        models[device] = rbm
    tolerance = 1e-4 if precision == "32-true" else 5e-2
    torch.testing.assert_close(models["cuda"].W.cpu(), models["cpu"].W, rtol=0, atol=tolerance)
    assert tr.log_likelihood(models["cuda"], data, method="exact") == pytest.approx(
        tr.log_likelihood(models["cpu"], data, method="exact"), abs=10 * tolerance)


@pytest.mark.parametrize("sampler", [tr.CD(k=2), tr.PCD(n_chains=50), tr.PT(n_temps=4, n_chains=20)])
def test_a_training_step_never_waits_for_the_gpu(sampler):
    rbm = tr.RBM(784, 100, device=CUDA)
    batch = (torch.rand(100, 784, device=CUDA) < 0.3).float()
    generator = torch.Generator(device=CUDA).manual_seed(0)
    named = list(rbm.named_parameters())
    optimizer = torch.optim.SGD(rbm.parameters(), lr=0.01, momentum=0.5)
    _step(rbm, batch, sampler, generator, named, {"W"}, 1e-4, None, None)  # chains start outside the check
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            _step(rbm, batch, sampler, generator, named, {"W"}, 1e-4, None, None)
            optimizer.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(rbm.W).all()


def test_training_streams_a_npy_file_to_the_gpu(tmp_path):
    data = np.tile(tr.datasets.bars_and_stripes(4).numpy(), (300, 1))  # 9600 x 16, uint8
    np.save(tmp_path / "rows.npy", data)
    rbm = tr.RBM(16, 16, data=data, device=CUDA)
    before = tr.reconstruction_error(rbm, data)
    tr.fit(rbm, tr.NpyRows(tmp_path / "rows.npy", chunk_bytes=16 * 1000), epochs=3, lr=0.05, seed=0)
    assert rbm.W.device.type == "cuda" and tr.reconstruction_error(rbm, data) < before


def test_ais_on_the_gpu_agrees_with_the_exact_value():
    data = tr.datasets.bars_and_stripes(4)
    rbm = tr.RBM(16, 10, data=data, generator=torch.Generator().manual_seed(0), device=CUDA)
    tr.fit(rbm, data, sampler=tr.PCD(n_chains=100), epochs=200, batch_size=8, lr=0.05, seed=0)
    estimate = tr.ais(rbm, n_chains=200, n_betas=2000, generator=torch.Generator(device=CUDA).manual_seed(0))
    assert estimate.log_z == pytest.approx(tr.exact_log_partition(rbm), abs=0.1)


def test_cli_trains_on_the_gpu(tmp_path):
    assert main(["train", "--device", "cuda", "--epochs", "2", "--hidden", "16", "--ais-betas", "100",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert tr.load(tmp_path / "run" / "model.safetensors").n_hidden == 16


def test_a_cpu_generator_gives_the_same_start_on_the_gpu():
    on_cpu = tr.RBM(16, 10, generator=torch.Generator().manual_seed(0))
    on_gpu = tr.RBM(16, 10, generator=torch.Generator().manual_seed(0), device=CUDA)
    assert on_gpu.W.device.type == "cuda" and torch.equal(on_gpu.W.cpu(), on_cpu.W)


def test_cli_trains_and_samples_a_gaussian_model_on_the_gpu(tmp_path):
    """Standardised data are shown and written on their original scale from GPU samples."""
    rows = np.random.default_rng(0).normal(5.0, 2.0, size=(200, 16)).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    assert main(["train", "--device", "cuda", "--data", str(tmp_path / "rows.npy"), "--visible", "gaussian",
                 "--epochs", "2", "--hidden", "8", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "samples.png").is_file()
    assert main(["sample", str(tmp_path / "run" / "model.safetensors"), "--device", "cuda", "--n", "5",
                 "--steps", "10", "--out", str(tmp_path / "samples.npy")]) == 0
    assert np.load(tmp_path / "samples.npy").shape == (5, 16)


def test_parallel_tempering_keeps_its_temperatures_on_the_gpu():
    sampler = tr.PT(n_temps=4, n_chains=5)
    rbm = tr.RBM(12, 6, device=CUDA)
    sampler.negative_phase(rbm, torch.zeros(5, 12, device=CUDA), None, torch.Generator(device=CUDA).manual_seed(0))
    assert sampler._chain_betas[1].device.type == "cuda"
