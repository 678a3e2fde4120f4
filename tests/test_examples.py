"""Every script in examples/ runs, with small settings, and prints what it claims."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

EXAMPLES = ROOT / "examples"

#: Small settings for each example (the full ones are in each script's docstring).
SMALL = {
    "digits_pipeline.py": ["--seeds", "1"],
    "dbn_digits.py": ["--epochs", "20", "--fine-tune-epochs", "50"],
    "mnist_tour.py": ["--rows", "1000", "--test-rows", "300", "--hidden", "50", "--epochs", "20", "--lr", "0.05",
                      "--betas", "300", "--inpaint-steps", "200"],
    "protein_family.py": ["--hidden", "10", "--epochs", "3", "--betas", "200", "--samples", "300"],
}


def run_example(name: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    out = tmp_path / "out"
    args = [*SMALL[name], *extra, "--out", str(out if name != "digits_pipeline.py" else tmp_path / "results.json")]
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_every_example_has_small_settings():
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(SMALL)


@pytest.mark.slow
def test_digits_pipeline(tmp_path):
    done = run_example("digits_pipeline.py", tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert set(results) == {"sklearn", "torchrbm", "torchrbm_tuned", "raw_pixels"}
    for name in ("sklearn", "torchrbm", "torchrbm_tuned"):  # RBM features beat raw pixels (about 0.78)
        assert results[name]["accuracy"][0] > 0.9, (name, results[name])
    assert results["raw_pixels"]["accuracy"][0] < 0.85
    assert "accuracy" in done.stdout


@pytest.mark.slow
def test_dbn_digits(tmp_path):
    run_example("dbn_digits.py", tmp_path)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["test_error"]["pretrained"] < 0.08
    assert results["reloaded_same"]
    assert (tmp_path / "out" / "samples.png").stat().st_size > 0


@pytest.mark.slow
def test_mnist_tour(tmp_path, shared_data):
    data = ("--data-dir", str(shared_data))
    done = run_example("mnist_tour.py", tmp_path, *data)
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    ais, rais = results["measures"]["ais"]["log_likelihood"], results["measures"]["rais"]["log_likelihood"]
    assert -190 < ais < -140 and abs(ais - rais) < 2  # an untrained model scores about -206 (pixel means)
    assert results["inpainting"]["completed"] < results["inpainting"]["pixel_means"] - 0.003
    assert results["accuracy"] > 0.6
    for name in ("filters.png", "samples.png", "reconstructions.png", "curves.png", "model.safetensors"):
        assert (out / name).stat().st_size > 0
    again = run_example("mnist_tour.py", tmp_path, *data)  # the finished checkpoint is resumed: no more training
    resumed = json.loads((out / "results.json").read_text())
    assert resumed["measures"]["ais"]["log_likelihood"] == ais and resumed["epochs"] == results["epochs"]
    assert "ais" in done.stdout and "ais" in again.stdout


@pytest.mark.slow
def test_protein_family(tmp_path, shared_data):
    done = run_example("protein_family.py", tmp_path, "--alignment",
                       str(shared_data / "proteins" / "WW_domain_MSA.fasta"))
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    low, high = results["ais"]["log_likelihood_interval_3sigma"]
    assert low < results["ais"]["log_likelihood"] < high < 0
    assert -1 < results["connected_correlation_r"] < 1 and results["site_frequency_r"] > 0.5
    for name in ("logos.png", "generative_checks.png", "mutational_scan.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    assert (out / "samples.fasta").read_text().count(">") == 300
    assert (out / "mutational_scan.csv").read_text().startswith("position,wild_type,A,C,")
    assert "held-out log-likelihood (ais)" in done.stdout and "most favourable single mutant" in done.stdout
