"""The torchrbm command: train, evaluate, sample."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torchrbm as tr
from torchrbm.cli import build_parser, main
from torchrbm.cli.data import DataOptions
from torchrbm.cli.options import train_options


def _subcommands() -> list[str]:
    parser = build_parser()
    return list(next(action for action in parser._actions if action.dest == "command").choices)


#: The subcommands DESIGN.md promises, each with its help page tested below.
SUBCOMMANDS = ["train", "evaluate", "sample", "inpaint", "scan", "report"]


def test_every_subcommand_is_covered_by_the_help_test():
    assert _subcommands() == SUBCOMMANDS


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith(f"usage: torchrbm {command}")
    parser = next(action for action in build_parser()._actions if action.dest == "command").choices[command]
    options = [string for action in parser._actions for string in action.option_strings if string.startswith("--")]
    assert options and [option for option in options if option not in page] == []  # every option explained


def test_train_writes_a_run_directory(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden", "16", "--out", str(run), "--quiet"]) == 0
    for name in ("model.safetensors", "metrics.jsonl", "config.json", "summary.json", "filters.png",
                 "samples.png", "reconstructions.png", "curves.png"):
        assert (run / name).stat().st_size > 0, name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert all(r["free_energy_gap"] is not None for r in records)  # digits hold out 10 %
    summary = json.loads((run / "summary.json").read_text())
    model = tr.load(run / "model.safetensors")
    assert model.n_visible == 64 and model.n_hidden == 16
    # 16 hidden units: the exact log-likelihood of the held-out 10 % is reported.
    assert summary["evaluated_on"] == "validation rows"
    assert summary["exact"]["method"] == "exact enumeration"
    assert summary["exact"]["log_likelihood"] == pytest.approx(
        tr.log_likelihood(model, tr.datasets.digits()[_held_out_rows()]), abs=1e-6)


def _held_out_rows():
    import torch

    order = torch.randperm(1797, generator=torch.Generator().manual_seed(0))
    return order[:180]


def test_train_reports_ais_and_reverse_ais_for_large_models(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "30", "--ais-betas", "500", "--out", str(run), "--quiet"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert "exact" not in summary
    for method in ("ais", "rais"):
        low, high = summary[method]["log_likelihood_interval_3sigma"]
        assert low <= summary[method]["log_likelihood"] <= high
        assert summary[method]["n_betas"] == 500


def test_one_setting_has_one_option_name_and_the_earlier_names_still_work():
    parser = build_parser()
    given = parser.parse_args(["evaluate", "m", "--ais-chains", "7", "--ais-betas", "9"])
    earlier = parser.parse_args(["evaluate", "m", "--chains", "7", "--betas", "9"])
    assert (given.ais_chains, given.ais_betas) == (earlier.ais_chains, earlier.ais_betas) == (7, 9)
    train = train_options(parser.parse_args(["train", "--ais-chains", "7", "--ais-betas", "9"]))
    assert (train.ais_chains, train.ais_betas) == (7, 9)
    defaults = parser.parse_args(["evaluate", "m"]), train_options(parser.parse_args(["train"]))
    assert [(options.ais_chains, options.ais_betas) for options in defaults] == [(100, 10000)] * 2
    for name in ("--sampler-chains", "--n-chains"):
        assert train_options(parser.parse_args(["train", name, "12"])).n_chains == 12


def test_train_takes_the_ais_and_sampler_chains_by_their_names(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--hidden", "30", "--epochs", "1", "--sampler", "pcd", "--sampler-chains", "10",
                 "--ais-chains", "20", "--ais-betas", "300", "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["n_chains"], config["ais_chains"], config["ais_betas"]) == (10, 20, 300)
    summary = json.loads((run / "summary.json").read_text())
    for method in ("ais", "rais"):
        assert (summary[method]["n_chains"], summary[method]["n_betas"]) == (20, 300)


def test_train_keeps_the_chains_hidden_states_with_keep_hidden(tmp_path, capsys):
    """``--keep-hidden``: pcd's chains keep their hidden states (recorded, and resumed with them); refused for
    samplers without such states."""
    run = tmp_path / "run"
    arguments = ["train", "--data", "bas", "--hidden", "8", "--batch-size", "8", "--sampler", "pcd",
                 "--n-chains", "8", "--keep-hidden", "--seed", "2", "--out", str(run), "--quiet"]
    assert main([*arguments, "--epochs", "3"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["keep_hidden"] is True
    resumed = main(["train", "--out", str(run), "--resume", "--epochs", "4", "--quiet"])
    straight, plain = tmp_path / "straight", tmp_path / "plain"
    assert resumed == 0 and main([*arguments[:-3], "--out", str(straight), "--quiet", "--epochs", "4"]) == 0
    without = [argument for argument in arguments[:-3] if argument != "--keep-hidden"]
    assert main([*without, "--out", str(plain), "--quiet", "--epochs", "4"]) == 0
    model, again, other = (tr.load(path / "model.safetensors") for path in (run, straight, plain))
    assert torch.equal(model.W, again.W) and not torch.equal(model.W, other.W)
    capsys.readouterr()
    assert main(["train", "--data", "bas", "--epochs", "1", "--sampler", "cd", "--keep-hidden", "--quiet",
                 "--out", str(tmp_path / "cd")]) == 2
    assert "--keep-hidden keeps the hidden states of pcd's chains; --sampler is cd" in capsys.readouterr().err


def test_the_density_recipe_sets_its_options_under_those_given(tmp_path, capsys):
    from torchrbm.cli.options import train_options

    parser = build_parser()
    options = train_options(parser.parse_args(["train", "--recipe", "density", "--epochs", "40"]))
    assert (options.sampler, options.n_chains, options.k, options.keep_hidden, options.centered) == \
        ("pcd", 100, 1, True, True)
    assert (options.batch_size, options.lr, options.momentum, options.weight_decay) == (50, 0.005, (0.5, 0.9), 1e-4)
    assert options.lr_decay_epochs == 20  # the second half of the epochs
    given = train_options(parser.parse_args(["train", "--recipe", "density", "--lr", "0.01", "--batch-size", "20"]))
    assert (given.lr, given.batch_size, given.keep_hidden, given.lr_decay_epochs) == (0.01, 20, True, 25)
    run = tmp_path / "run"
    assert main(["train", "--recipe", "density", "--data", "bas", "--hidden", "8", "--epochs", "2",
                 "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["recipe"], config["batch_size"], config["keep_hidden"], config["centered"]) == \
        ("density", 50, True, True)
    capsys.readouterr()
    assert main(["train", "--recipe", "density", "--visible", "potts", "--data", "bas", "--epochs", "1",
                 "--out", str(tmp_path / "potts"), "--quiet"]) == 2
    assert "--recipe density was chosen for --visible bernoulli units; --visible is potts" in capsys.readouterr().err


def test_evaluate_json_and_sample(tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", "bas", "--hidden", "8", "--epochs", "20", "--batch-size", "8", "--out", str(run),
          "--quiet"])
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.safetensors"), "--data", "bas", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = tr.load(run / "model.safetensors")
    data = tr.datasets.bars_and_stripes(4)
    assert result["exact"]["log_likelihood"] == pytest.approx(tr.log_likelihood(model, data), abs=1e-9)
    assert result["exact"]["method"] == "exact enumeration"
    assert result["recon"]["reconstruction_error"] == pytest.approx(tr.reconstruction_error(model, data))
    assert result["pll"]["pseudo_log_likelihood"] == pytest.approx(tr.pseudo_log_likelihood(model, data))
    for method in ("ais", "rais"):  # 100 chains x 10000 temperatures on a 16 x 8 model
        assert result[method]["log_likelihood"] == pytest.approx(result["exact"]["log_likelihood"], abs=0.02)
        low, high = result[method]["log_likelihood_interval_3sigma"]
        assert low <= result["exact"]["log_likelihood"] <= high
    assert result["fe"]["mean_free_energy"] == pytest.approx(tr.mean_free_energy(model, data))
    assert main(["evaluate", str(run / "model.safetensors"), "--data", "bas", "--method", "exact"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"exact: log-likelihood {result['exact']['log_likelihood']:.3f} nats per example")
    assert line.endswith("[exact enumeration]")
    assert main(["sample", str(run / "model.safetensors"), "--n", "12", "--steps", "5",
                 "--out", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (12, 16) and set(np.unique(samples)) <= {0.0, 1.0}
    assert main(["sample", str(run / "model.safetensors"), "--n", "12", "--steps", "5",
                 "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main(["train", "--data", "nonsense", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "unknown data set 'nonsense'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.safetensors"), "--data", "bas"]) == 2
    assert "model file not found" in capsys.readouterr().err
    tr.save(tr.RBM(4, 2), tmp_path / "model.safetensors")
    assert main(["sample", str(tmp_path / "model.safetensors"), "--out", str(tmp_path / "x.gif")]) == 2
    assert "--out must end in .png, .svg, .npy, .fasta or .fa; found x.gif" in capsys.readouterr().err


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "torchrbm", "--version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.startswith("torchrbm ")


@pytest.mark.parametrize("command", [["evaluate", "MODEL", "--data", "bas", "--method", "exact", "--json", "--quiet"],
                                     ["train", "--help"]], ids=["evaluate", "help"])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, command):
    """``torchrbm ... | head`` may close the pipe before the command writes: it then stops
    with 141 (128 + SIGPIPE, as a shell reports it) and no error message, buffered output or not."""
    tr.save(tr.RBM(16, 4, generator=torch.Generator().manual_seed(0)), tmp_path / "model.safetensors")
    command = [str(tmp_path / "model.safetensors") if word == "MODEL" else word for word in command]
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([sys.executable, "-m", "torchrbm", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    process.stdout.close()  # long before the command writes (it first imports torch)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, stderr
    assert stderr == ""


def test_train_with_bf16_mixed_precision(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "16", "--precision", "bf16-mixed", "--out", str(run),
                 "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["precision"] == "bf16-mixed"
    model = tr.load(run / "model.safetensors")
    assert str(model.W.dtype) == "torch.float32"
    assert model.matmul_dtype is None
    with pytest.raises(SystemExit):
        main(["train", "--precision", "bf16", "--out", str(tmp_path / "bad"), "--quiet"])


@pytest.mark.slow
def test_train_evaluate_and_sample_a_gaussian_rbm_on_grey_level_digits(tmp_path, capsys):
    run = tmp_path / "grbm"
    assert main(["train", "--visible", "gaussian", "--learn-sigma", "--hidden", "12", "--epochs", "3",
                 "--lr", "0.001", "--out", str(run), "--quiet"]) == 0
    model = tr.load(run / "model.safetensors")
    assert model.visible.name == "gaussian" and model.visible.learn_sigma
    assert model.n_visible == 61  # the three always-blank pixels of the 8x8 digits are dropped
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exact"]["method"] == "exact enumeration"
    # A density of the standardised data, said so, and in the data's own units: log p(x) = log p(z) - sum log std.
    digits = tr.datasets.load("digits", binarize_method=None).double()
    std = digits[torch.randperm(1797, generator=torch.Generator().manual_seed(0))[180:]].std(0)
    exact = summary["exact"]
    assert exact["log_likelihood_original_units"] == pytest.approx(
        exact["log_likelihood"] - float(std[std > 0].log().sum()), abs=1e-9)
    assert "standardised data" in exact["density_of"] and "the 3 constant column(s)" in exact["density_of"]
    assert (run / "filters.png").stat().st_size > 0
    evaluated = subprocess.run(
        [sys.executable, "-m", "torchrbm", "evaluate", str(run / "model.safetensors"), "--data", "digits",
         "--method", "exact", "--json"], capture_output=True, text=True, check=True)
    # Evaluated on all 1797 digits, standardised as in training: a density, not a probability.
    assert json.loads(evaluated.stdout)["exact"]["log_likelihood"] == pytest.approx(
        summary["exact"]["log_likelihood"], abs=5.0)
    assert main(["sample", str(run / "model.safetensors"), "--n", "4", "--steps", "10",
                 "--out", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (4, 64) and np.all(samples[:, 0] == 0)  # original scale, blank pixel restored
    capsys.readouterr()
    # Every method: those that need binary units say why they do not apply.
    assert main(["evaluate", str(run / "model.safetensors"), "--betas", "50", "--chains", "10", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert "needs visible units with a few states each" in results["pll"]["skipped"]
    assert "log_likelihood" in results["ais"]
    # Inpainting masks pixels of the original 8x8 images, the dropped blank ones included.
    assert main(["inpaint", str(run / "model.safetensors"), "--n", "5", "--mask", "bottom", "--steps", "20",
                 "--out", str(tmp_path / "filled.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing_fraction"] == 0.5
    filled = np.load(tmp_path / "filled.npy")
    # pixels 32 and 39, in the bottom half, are blank in every digit: missing, they get their training value
    assert filled.shape == (5, 64) and np.all(filled[:, [0, 32, 39]] == 0) and np.isfinite(filled).all()


def test_train_a_convolutional_rbm(tmp_path, capsys):
    run = tmp_path / "conv"
    assert main(["train", "--model", "conv", "--filters", "6", "--filter-size", "5", "--pool", "2",
                 "--epochs", "2", "--ais-betas", "200", "--out", str(run), "--quiet"]) == 0
    model = tr.load(run / "model.safetensors")
    assert type(model) is tr.ConvRBM and model.W.shape == (6, 1, 5, 5) and model.pool == 2
    summary = json.loads((run / "summary.json").read_text())
    assert {"ais", "rais"} <= set(summary)  # 64 visible and 6 x 4 x 4 hidden units: sampled log Z
    assert (run / "filters.png").stat().st_size > 0
    assert main(["train", "--model", "conv", "--filter-size", "9", "--out", str(tmp_path / "bad"), "--quiet"]) != 0
    assert "images of 8x8 pixels do not fit filters of 9x9" in capsys.readouterr().err


def test_train_a_conditional_rbm_on_moving_bars(tmp_path, capsys):
    run = tmp_path / "crbm"
    assert main(["train", "--model", "crbm", "--data", "moving-bars", "--order", "2", "--hidden", "24",
                 "--epochs", "40", "--lr", "0.05", "--batch-size", "20", "--out", str(run), "--quiet"]) == 0
    model = tr.load(run / "model.safetensors")
    assert type(model) is tr.ConditionalRBM and model.n_context == 24
    prediction = json.loads((run / "summary.json").read_text())["prediction"]
    # The bar moves: copying the previous frame gets 2 x 3 of 12 pixels wrong, the CRBM far fewer.
    assert prediction["prediction_error"] < 0.5 * prediction["copy_previous_frame_error"]
    assert (run / "generated.png").stat().st_size > 0 and (run / "filters.png").stat().st_size > 0
    # evaluate measures the same held-out frames with the same seed: the same errors
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.safetensors"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["prediction"] == prediction and evaluated["rows"].endswith("frames its training run held out")
    assert main(["evaluate", str(run / "model.safetensors"), "--data", "moving-bars"]) == 0
    assert "prediction error" in capsys.readouterr().out
    assert main(["train", "--model", "crbm", "--data", "moving-bars", "--sampler", "pt", "--epochs", "1",
                 "--out", str(tmp_path / "bad"), "--quiet"]) != 0
    assert "CD(k) or PCD" in capsys.readouterr().err


def test_unknown_or_missing_device_is_refused_by_name(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--device", "gpu0"])
    assert exit_info.value.code == 2 and "unknown device 'gpu0'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            main(["sample", "model.safetensors", "--device", "cuda", "--out", "x.png"])
        assert "sees no CUDA GPU" in capsys.readouterr().err


def test_a_run_directory_is_not_overwritten_by_accident(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "bas", "--epochs", "1", "--hidden", "4", "--out", str(run), "--quiet"]) == 0
    model = (run / "model.safetensors").read_bytes()
    assert main(["train", "--data", "bas", "--epochs", "2", "--hidden", "4", "--out", str(run), "--quiet"]) == 2
    assert "already holds a run (checkpoint.safetensors, metrics.jsonl, model.safetensors): continue it with " \
           "--resume, replace it with --overwrite" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == model
    # --epochs 0 measures the untrained model; --overwrite replaces the run, leaving none of its files.
    assert main(["train", "--data", "bas", "--epochs", "0", "--hidden", "4", "--out", str(run), "--overwrite"]) == 0
    assert "trained" in capsys.readouterr().out and not (run / "checkpoint.safetensors").exists()
    assert json.loads((run / "summary.json").read_text())["epochs"] == 0 and not (run / "metrics.jsonl").exists()
    with pytest.raises(SystemExit):
        main(["train", "--out", str(run), "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err
    # a run that failed before its first epoch left only its settings: nothing to lose, no refusal
    (run / "model.safetensors").unlink()
    (run / "summary.json").unlink()
    assert main(["train", "--data", "bas", "--epochs", "1", "--hidden", "4", "--out", str(run), "--quiet"]) == 0


def test_evaluate_measures_the_rows_the_training_run_held_out(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--hidden", "8", "--epochs", "2", "--holdout", "0.2", "--seed", "3", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.safetensors"), "--method", "recon", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"] == "digits"  # the model's own, from its recorded settings
    digits = tr.datasets.load("digits")
    held_out = digits[torch.randperm(1797, generator=torch.Generator().manual_seed(3))[:359]]
    assert result["rows"] == "the 359 rows its training run held out" and result["n_examples"] == 359
    model = tr.load(run / "model.safetensors")
    assert result["recon"]["reconstruction_error"] == pytest.approx(tr.reconstruction_error(model, held_out))
    assert main(["evaluate", str(run / "model.safetensors"), "--data", "bas", "--method", "recon", "--json"]) == 2
    assert "data has 16 columns but the model has 64 visible units" in capsys.readouterr().err
    assert main(["evaluate", str(run / "model.safetensors"), "--split", "test"]) == 2
    assert "--split applies to mnist, fashion-mnist and binarized-mnist; digits has no splits" \
           in capsys.readouterr().err


def test_sample_refuses_a_conditional_model(tmp_path, capsys):
    run = tmp_path / "crbm"
    assert main(["train", "--model", "crbm", "--data", "moving-bars", "--hidden", "8", "--epochs", "1",
                 "--out", str(run), "--quiet"]) == 0
    assert main(["sample", str(run / "model.safetensors"), "--out", str(tmp_path / "s.npy")]) == 2
    assert "use ConditionalRBM.generate(context, n_frames)" in capsys.readouterr().err


def test_momentum_takes_one_or_two_values_below_one(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "bas", "--hidden", "4", "--epochs", "1", "--momentum", "0.5", "--out", str(run),
                 "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["momentum"] == [0.5]
    assert main(["train", "--data", "bas", "--epochs", "1", "--momentum", "0.5", "0.9", "0.1", "--out",
                 str(tmp_path / "three"), "--quiet"]) == 2
    assert "--momentum takes one value, or two (initial and final); found 3" in capsys.readouterr().err
    # refused before --overwrite removes the run there
    assert main(["train", "--data", "bas", "--epochs", "1", "--momentum", "1.0", "--out", str(run), "--overwrite",
                 "--quiet"]) == 2
    assert "momentum must be below 1" in capsys.readouterr().err and (run / "model.safetensors").is_file()


@pytest.mark.parametrize("name, n_train, n_valid", [("mnist", 54000, 6000), ("binarized-mnist", 50000, 10000)])
def test_training_runs_never_see_the_test_split(shared_data_dir, name, n_train, n_valid):
    """mnist validates on 10 % of its training split (seed --seed); binarized-mnist on its valid split."""
    rows = DataOptions(data=name, data_dir=str(shared_data_dir), binarize="none").training_rows(tr.units.Bernoulli())
    train, valid, which = rows.train, rows.held_out, rows.held_out_rows
    assert (train.shape[0], valid.shape[0]) == (n_train, n_valid)
    rows = {split: tr.datasets.load(name, split=split, data_dir=shared_data_dir, binarize_method=None).numpy()
            for split in (["train", "test"] if name == "mnist" else ["train", "valid", "test"])}
    seen = {row.tobytes() for row in np.concatenate([train.numpy(), valid.numpy()])}
    assert not seen & {row.tobytes() for row in rows["test"]}
    if name == "mnist":
        assert seen == {row.tobytes() for row in rows["train"]}
        assert which == "6000 rows (0.1 of the training rows, drawn with seed 0)"
    else:
        np.testing.assert_array_equal(valid.numpy(), rows["valid"])
        assert which == "its valid split"


def test_run_directory_mistakes_are_named(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["train", "--hidden", "4", "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    # a run directory given as a model file: which file to use
    assert main(["sample", str(run), "--n", "2", "--steps", "1", "--out", str(tmp_path / "s.npy")]) == 2
    assert f"{run} is a directory, not a torchrbm model file (a torchrbm run directory): use " \
           f"{run / 'model.safetensors'}" in capsys.readouterr().err
    # --out into a directory that does not exist is refused, not created
    missing = tmp_path / "no" / "such"
    assert main(["sample", str(run / "model.safetensors"), "--out", str(missing / "s.png")]) == 2
    assert f"directory {missing} does not exist" in capsys.readouterr().err and not missing.exists()
    # a model too large for the machine: how much memory it needs, not an allocator traceback
    assert main(["train", "--hidden", "100000000000", "--epochs", "1", "--out", str(tmp_path / "huge")]) == 2
    assert "needs 2.38e+04 GiB" in capsys.readouterr().err
    # --tensorboard without the package: refused before anything is written
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main(["train", "--tensorboard", "--epochs", "1", "--out", str(tmp_path / "tb")]) == 2
    assert "pip install tensorboard" in capsys.readouterr().err and not (tmp_path / "tb").exists()


def test_train_reads_a_csv_file_with_a_header_and_its_delimiter_and_max_rows(tmp_path, capsys):
    digits = tr.datasets.load("digits").numpy()
    csv = tmp_path / "digits.csv"
    csv.write_text("\n".join(["\t".join(f"p{i}" for i in range(64)), *("\t".join(map(str, row)) for row in digits)]))
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--csv-header", "yes", "--delimiter", "tab", "--max-rows", "100",
                 "--hidden", "8", "--epochs", "1", "--holdout", "0.2", "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["n_train"], config["n_held_out"]) == (80, 20)  # the first 100 rows, 20 of them held out
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.safetensors"), "--method", "recon", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # the file read as its run read it: the same 20 rows held out
    held_out = torch.from_numpy(digits[:100])[torch.randperm(100, generator=torch.Generator().manual_seed(0))[:20]]
    assert result["rows"] == "the 20 rows its training run held out"
    assert result["recon"]["reconstruction_error"] == pytest.approx(
        tr.reconstruction_error(tr.load(run / "model.safetensors"), held_out))
    assert main(["train", "--data", str(csv), "--delimiter", "tab", "--csv-header", "no", "--out",
                 str(tmp_path / "refused"), "--quiet"]) == 2
    assert "digits.csv line 1 is not all numbers (a header? skip it with header=True, --csv-header yes)" \
           in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--max-rows", "0"])
    assert "--max-rows: must be a positive integer; found 0" in capsys.readouterr().err


def test_a_run_records_its_data_and_refuses_to_resume_on_other_rows(tmp_path, capsys, monkeypatch):
    rows = tr.datasets.load("digits")[:200].numpy()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    np.save("rows.npy", rows)
    assert main(["train", "--data", "rows.npy", "--hidden", "6", "--epochs", "2", "--out", "run", "--quiet"]) == 0
    config = json.loads((tmp_path / "work" / "run" / "config.json").read_text())
    assert config["data"] == str(tmp_path / "work" / "rows.npy")
    assert config["data_fingerprint"]["shapes"] == [[180, 64], [20, 64]]
    # evaluate from another working directory finds the data and the rows the run held out
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", "work/run/model.safetensors", "--method", "recon", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == "the 20 rows its training run held out"
    # the same file name with other rows of the same shape: resuming is refused, naming the change
    np.save("work/rows.npy", 1 - rows)
    assert main(["train", "--out", "work/run", "--resume", "--epochs", "3", "--quiet"]) == 2
    assert "its data changed since the run started" in capsys.readouterr().err
    np.save("work/rows.npy", rows)  # the same rows again: the finished run is extended to 3 epochs
    assert main(["train", "--out", "work/run", "--resume", "--epochs", "3", "--quiet"]) == 0
    assert len((tmp_path / "work" / "run" / "metrics.jsonl").read_text().splitlines()) == 3


@pytest.mark.slow
def test_a_new_run_can_start_from_a_saved_model(tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["train", "--hidden", "6", "--epochs", "2", "--out", str(first), "--quiet"]) == 0
    start = tr.load(first / "model.safetensors")
    second = tmp_path / "second"
    assert main(["train", "--init", str(first / "model.safetensors"), "--epochs", "0", "--out", str(second),
                 "--quiet"]) == 0
    assert torch.equal(tr.load(second / "model.safetensors").W, start.W)  # no epoch: the model as it was given
    config = json.loads((second / "config.json").read_text())
    assert config["hidden"] == 6 and config["init"] == str(first / "model.safetensors")
    assert main(["train", "--init", str(first / "model.safetensors"), "--epochs", "1", "--out",
                 str(tmp_path / "third"), "--quiet"]) == 0
    assert not torch.equal(tr.load(tmp_path / "third" / "model.safetensors").W, start.W)
    assert main(["train", "--data", "bas", "--init", str(first / "model.safetensors"), "--out",
                 str(tmp_path / "bad"), "--quiet"]) == 2
    assert "has 64 visible units but the data has 16 columns" in capsys.readouterr().err


@pytest.mark.slow
def test_data_set_names_stay_names_and_older_runs_still_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()  # a folder named like a data set does not make --data digits a path
    assert main(["train", "--hidden", "5", "--epochs", "2", "--out", "run", "--quiet"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"] == "digits" and config["n_hidden"] == 5
    capsys.readouterr()
    # fewer epochs than done is refused before anything changes; the recorded settings stay
    assert main(["train", "--out", "run", "--resume", "--epochs", "1", "--quiet"]) == 2
    assert "holds 2 epochs, more than --epochs 1" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 2
    # a run recorded by an earlier version (default sampler null, meaning pcd; no n_hidden) resumes as pcd
    assert main(["train", "--sampler", "pcd", "--hidden", "5", "--epochs", "2", "--out", "old", "--quiet"]) == 0
    old = json.loads((tmp_path / "old" / "config.json").read_text())
    old.update(sampler=None)
    del old["n_hidden"], old["ais_chains"], old["hidden_units"], old["l1_squared"], old["l2_fields"]  # added since
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    assert main(["train", "--out", "old", "--resume", "--epochs", "3", "--quiet"]) == 0
    assert json.loads((tmp_path / "old" / "config.json").read_text())["sampler"] == "pcd"


@pytest.mark.slow
def test_ctrl_c_during_the_final_evaluation_ends_with_the_resume_hint(tmp_path, capsys, caplog, monkeypatch):
    import torchrbm.cli.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torchrbm.cli.train, "evaluate", interrupted)
    run = tmp_path / "run"
    assert main(["train", "--hidden", "5", "--epochs", "2", "--out", str(run), "--quiet"]) == 130
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"].startswith(f"during the final evaluation; continue with: torchrbm train --out {run}")
    assert summary["epochs"] == 2 and tr.load(run / "model.safetensors").n_hidden == 5
    assert "interrupted during the final evaluation" in (run / "report.html").read_text()
    assert "continue with" in caplog.text
    monkeypatch.undo()
    assert main(["train", "--out", str(run), "--resume", "--quiet"]) == 0  # measures the trained model again
    assert "interrupted" not in json.loads((run / "summary.json").read_text())


def test_train_a_potts_drelu_rbm_on_an_alignment_and_evaluate_it(tmp_path, capsys):
    family = tmp_path / "family.fasta"
    codes = torch.randint(21, (80, 4), generator=torch.Generator().manual_seed(0))  # far apart: many clusters
    family.write_text("".join(f">seq{i}\n{''.join('ACDEFGHIKLMNPQRSTVWY-'[c] for c in row)}\n"
                              for i, row in enumerate(codes.tolist())))
    run = tmp_path / "run"
    assert main(["train", "--data", str(family), "--visible", "potts", "--hidden-units", "drelu", "--hidden", "4",
                 "--epochs", "2", "--sampler", "pcd", "--l1-squared", "0.01", "--out", str(run), "--quiet"]) == 0
    assert "1000 generated sequences against the validation rows: Pearson r" in capsys.readouterr().out
    model = tr.load(run / "model.safetensors")
    assert model.W.shape == (4, 21, 4) and model.hidden.name == "drelu"
    config = json.loads((run / "config.json").read_text())
    assert config["hidden_units"] == "drelu" and config["l1_squared"] == 0.01
    samples = (run / "samples.fasta").read_text().split()
    assert len(samples) == 2000 and all(len(line) == 4 and set(line) <= set("ACDEFGHIKLMNPQRSTVWY-")
                                       for line in samples[1::2])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exact"]["log_likelihood"] < 0  # 21**4 visible states, fewer than 2**20: exact
    held = summary["exact"]["n_rows"]  # random sequences: no neighbours, every weight 1
    assert summary["exact"]["n_effective"] == pytest.approx(held) and "sequence_weights" in summary
    assert summary["stats"]["n_samples"] == 1000 and summary["stats"]["n_reference"] == held
    assert -1 <= summary["stats"]["site_frequency_r"] <= 1 and (run / "generative_checks.png").stat().st_size > 0
    assert main(["evaluate", str(run / "model.safetensors"), "--data", str(family), "--method", "pll", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pll"]["pseudo_log_likelihood"] < 0
    assert main(["evaluate", str(run / "model.safetensors"), "--data", str(family), "--method", "stats", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["stats"]["n_reference"] == held
    assert evaluated["stats"]["n_reference_effective"] == pytest.approx(held)
    assert -1 <= evaluated["stats"]["connected_correlation_r"] <= 1 and "sequence_weights" in evaluated


def test_sequences_need_potts_units_and_potts_units_need_sequences(tmp_path, capsys):
    family = tmp_path / "family.a3m"
    family.write_text(">a\nACDaaE\n>b\nAC-E\n")
    assert main(["train", "--data", str(family), "--out", str(tmp_path / "r1"), "--quiet"]) == 2
    assert "holds sequences of 21 symbols (integer codes): model them with --visible potts" in capsys.readouterr().err
    assert main(["train", "--data", "bas", "--visible", "potts", "--out", str(tmp_path / "r2"), "--quiet"]) == 2
    assert "--visible potts needs categorical data" in capsys.readouterr().err


def test_potts_runs_take_the_defaults_of_their_units_unless_told_otherwise(tmp_path):
    from torchrbm.cli.options import UNIT_DEFAULTS, train_options, unit_defaults_text

    family = tmp_path / "family.fasta"
    family.write_text(">a\nACDE\n>b\nACDF\n")
    parser = build_parser()
    chosen = train_options(parser.parse_args(["train", "--data", str(family), "--visible", "potts"]))
    fixed = {key: value for key, value in UNIT_DEFAULTS["potts"].items() if key != "lr_decay_epochs"}
    assert {key: getattr(chosen, key) for key in fixed} == fixed
    assert (chosen.epochs, chosen.lr_decay_epochs) == (200, 50)
    shorter = train_options(parser.parse_args(["train", "--data", str(family), "--visible", "potts", "--epochs", "30"]))
    assert (shorter.epochs, shorter.lr_decay_epochs) == (30, 8)
    assert "--epochs 200 --lr-decay-epochs 0.25×epochs" in unit_defaults_text("potts")
    told = train_options(parser.parse_args(["train", "--data", str(family), "--visible", "potts", "--k", "1",
                                            "--momentum", "0.5"]))
    assert (told.k, told.momentum, told.sampler) == (1, (0.5,), "pcd")
    plain = train_options(parser.parse_args(["train"]))
    assert (plain.k, plain.l2_fields, plain.sampler) == (1, 0.0, None)


def test_train_lets_the_learning_rate_fall_to_zero_over_the_last_epochs(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", "bas", "--hidden", "4", "--epochs", "6", "--lr", "0.1", "--lr-decay-epochs", "4",
                 "--out", str(run), "--quiet"]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == pytest.approx([0.1, 0.1, 0.1, 0.075, 0.05, 0.025])
    assert main(["train", "--data", "bas", "--hidden", "4", "--epochs", "3", "--lr-decay-epochs", "4",
                 "--out", str(tmp_path / "other"), "--quiet"]) == 2
