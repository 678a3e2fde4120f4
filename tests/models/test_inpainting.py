"""Inpainting: clamped Gibbs sampling against the exact conditional, masks, and the CLI."""

import json

import numpy as np
import pytest
import torch
from helpers import all_binary, random_rbm

import torchrbm as tr
from torchrbm.cli import main
from torchrbm.models.inpainting import inpainting_mask


def exact_conditional_mean(rbm, v, mask):
    """E[v_m | v_o] by enumerating every completion of the missing units."""
    states = all_binary(rbm.n_visible)
    consistent = (states[:, ~mask] == v[~mask]).all(1)
    candidates = states[consistent]
    weights = torch.softmax(-rbm.free_energy(candidates), 0)
    return weights @ candidates


def test_inpainting_estimates_the_exact_conditional_mean():
    rbm = random_rbm(8, 5, seed=2, scale=0.8)
    v = torch.tensor([1.0, 0, 1, 1, 0, 0, 1, 0], dtype=torch.float64)
    mask = torch.tensor([False, False, False, True, True, False, True, True])
    generator = torch.Generator().manual_seed(0)
    # 400 independent chains of 400 steps: the standard error of each mean is below 0.005
    completed = rbm.inpaint(v.expand(400, -1), mask, 400, generator=generator)
    expected = exact_conditional_mean(rbm, v, mask)
    torch.testing.assert_close(completed.mean(0), expected, atol=0.02, rtol=0)
    assert torch.equal(completed[:, ~mask], v[~mask].expand(400, -1))  # observed units untouched


def test_potts_inpainting_fills_each_missing_position_with_its_most_probable_state():
    import itertools

    from helpers import randomize

    rbm = randomize(tr.RBM(5, 3, visible=tr.units.Potts(4), dtype=torch.float64), seed=5, scale=1.2)
    v = torch.tensor([[2.0, 0, 1, 3, 0], [1.0, 3, 0, 2, 2]], dtype=torch.float64)
    mask = torch.tensor([False, True, False, True, False])
    completed = rbm.inpaint(v, mask, 4000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(completed[:, ~mask], v[:, ~mask])
    for row, filled in zip(v, completed, strict=True):
        completions = torch.tensor(list(itertools.product(range(4), repeat=2)), dtype=torch.float64)
        candidates = row.repeat(16, 1)
        candidates[:, mask] = completions
        weights = torch.softmax(-rbm.free_energy(candidates).detach(), 0)
        for position, column in zip(mask.nonzero().flatten().tolist(), range(2), strict=True):
            marginal = torch.zeros(4, dtype=torch.float64).index_add_(0, completions[:, column].long(), weights)
            assert marginal.max() - marginal.sort().values[-2] > 0.05  # a clear winner to find
            assert filled[position].item() == marginal.argmax().item()


def test_one_layer_dbn_inpaints_exactly_like_its_rbm():
    rbm = random_rbm(6, 4, seed=1)
    dbn = tr.DBN(layers=[rbm])
    v = all_binary(6)[::5]
    mask = torch.tensor([True, False, True, False, False, True])
    ours = dbn.inpaint(v, mask, 20, generator=torch.Generator().manual_seed(3))
    theirs = rbm.inpaint(v, mask, 20, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


def test_mask_errors_name_the_problem():
    rbm = random_rbm(4, 2)
    v = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        rbm.inpaint(v, torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        rbm.inpaint(v, torch.full((4,), 0.5))
    with pytest.raises(ValueError, match="burn_in"):
        rbm.inpaint(v, torch.ones(4, dtype=torch.bool), 10, burn_in=10)


def test_named_masks():
    bottom = inpainting_mask("bottom", 16).reshape(4, 4)
    assert bottom[2:].all() and not bottom[:2].any()
    right = inpainting_mask("right", 16).reshape(4, 4)
    assert right[:, 2:].all() and not right[:, :2].any()
    assert 0.3 < inpainting_mask("random:0.5", 10000).float().mean() < 0.7
    with pytest.raises(ValueError, match="square"):
        inpainting_mask("top", 10)


@pytest.mark.slow
def test_cli_inpaint_beats_filling_with_pixel_means(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "20", "--hidden", "64", "--ais-betas", "100", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "inpainted.png"
    completed = mean_fill = 0.0
    for seed in ("0", "1", "2"):  # three random masks: one is a noisy measure on 8x8 images
        assert main(["inpaint", str(run / "model.safetensors"), "--n", "300", "--mask", "random:0.3",
                     "--steps", "200", "--seed", seed, "--out", str(out), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert out.is_file() and result["missing_fraction"] == pytest.approx(0.3, abs=0.1)
        completed, mean_fill = completed + result["mse_completed"], mean_fill + result["mse_mean_fill"]
    # Missing pixels follow from their neighbours: clearly better than the pixel means.
    assert completed < 0.8 * mean_fill
    assert main(["inpaint", str(run / "model.safetensors"), "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in" in capsys.readouterr().err
    # A mask file of one image's shape, as 0/1 integers, is the bottom half named in another way.
    np.save(tmp_path / "bottom.npy", inpainting_mask("bottom", 64).reshape(8, 8).long().numpy())
    for mask, out in (("bottom", "named.npy"), (str(tmp_path / "bottom.npy"), "from_file.npy")):
        assert main(["inpaint", str(run / "model.safetensors"), "--n", "20", "--mask", mask, "--steps", "20",
                     "--out", str(tmp_path / out), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["missing_fraction"] == 0.5
    np.testing.assert_array_equal(np.load(tmp_path / "named.npy"), np.load(tmp_path / "from_file.npy"))
    np.save(tmp_path / "twos.npy", np.full(64, 2))
    assert main(["inpaint", str(run / "model.safetensors"), "--mask", str(tmp_path / "twos.npy"),
                 "--out", str(tmp_path / "x.npy")]) == 2
    assert "mask must be boolean (True where a unit is missing) or 0/1" in capsys.readouterr().err


def test_missing_units_may_hold_nan_but_observed_ones_may_not():
    data = tr.datasets.bars_and_stripes(3).float()
    rbm = tr.RBM(9, 6, data=data, generator=torch.Generator().manual_seed(0))
    dbn = tr.DBN(layers=[rbm, tr.RBM(6, 4, generator=torch.Generator().manual_seed(1))])
    mask = torch.zeros(9, dtype=torch.bool)
    mask[6:] = True
    holes = data.clone()
    holes[:, 6:] = float("nan")
    for model in (rbm, dbn):
        filled = model.inpaint(holes, mask, steps=20, generator=torch.Generator().manual_seed(0))
        expected = model.inpaint(data, mask, steps=20, generator=torch.Generator().manual_seed(0))
        assert torch.equal(filled, expected) and bool(torch.isfinite(filled).all())
        holes_observed = holes.clone()
        holes_observed[0, 0] = float("nan")
        with pytest.raises(ValueError, match="NaN or infinite value.*row 0, column 0"):
            model.inpaint(holes_observed, mask, steps=20)


def test_spin_units_inpaint_with_the_missing_entries_replaced_by_valid_states():
    rbm = tr.RBM(6, 4, visible="spin", generator=torch.Generator().manual_seed(0))
    v = torch.ones(3, 6)
    mask = torch.tensor([False, False, False, True, True, True])
    filled = rbm.inpaint(v, mask, steps=10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(filled[:, :3], v[:, :3]) and bool((filled[:, 3:].abs() <= 1).all())


def test_inpainting_input_of_the_wrong_shape_is_named():
    rbm = tr.RBM(16, 4)
    mask = torch.zeros(16, dtype=torch.bool)
    with pytest.raises(ValueError, match="v has 15 columns but the model has 16 visible units"):
        rbm.inpaint(torch.zeros(3, 15), mask, steps=2)
    with pytest.raises(ValueError, match=r"v must be 2-D \(examples, 16\); found shape \(16,\)"):
        rbm.inpaint(torch.zeros(16), mask, steps=2)


def test_cli_inpaints_sequences_and_counts_the_recovered_states(tmp_path, capsys):
    from torchrbm.data.alignments import fasta_text

    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (300, 1), generator=generator).repeat(1, 6)  # every position the same state
    (tmp_path / "family.fasta").write_text(fasta_text(codes))
    rbm = tr.RBM(6, 8, visible=tr.units.Potts(21), data=codes.double(), generator=generator)
    tr.fit(rbm, codes.double(), sampler=tr.CD(), epochs=60, batch_size=20, lr=0.05, seed=0)
    tr.save(rbm, tmp_path / "model.safetensors")
    assert main(["inpaint", str(tmp_path / "model.safetensors"), "--data", str(tmp_path / "family.fasta"),
                 "--mask", "random:0.3", "--n", "100", "--steps", "200", "--out", str(tmp_path / "filled.npy"),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    # the observed positions give the state away; the most frequent state is right about a quarter of the time
    assert results["recovered_fraction"] > 0.95 > 0.5 > results["recovered_fraction_most_frequent_state"]
    filled = np.load(tmp_path / "filled.npy")
    assert filled.shape == (100, 6) and set(np.unique(filled)) <= {0.0, 1.0, 2.0, 3.0}
    assert main(["inpaint", str(tmp_path / "model.safetensors"), "--data", str(tmp_path / "family.fasta"),
                 "--out", str(tmp_path / "filled.png")]) == 2
    assert "--out must end in .npy; found filled.png" in capsys.readouterr().err
