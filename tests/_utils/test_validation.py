"""Bad input gets a clear error that names the problem."""

import warnings

import numpy as np
import pytest
import torch

import torchrbm as tr
from torchrbm import datasets


@pytest.fixture
def rbm():
    return tr.RBM(4, 3)


def test_wrong_number_of_columns(rbm):
    with pytest.raises(ValueError, match="5 columns but the model has 4 visible units"):
        tr.fit(rbm, torch.zeros(10, 5))
    with pytest.raises(ValueError, match="5 columns"):
        tr.log_likelihood(rbm, np.zeros((2, 5)))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values(rbm, bad):
    data = torch.zeros(6, 4)
    data[3, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite value.*row 3, column 2"):
        tr.fit(rbm, data)
    with pytest.raises(ValueError, match="NaN or infinite"):
        tr.reconstruction_error(rbm, data)


def test_values_outside_unit_interval(rbm):
    with pytest.raises(ValueError, match=r"\[0, 1\] for Bernoulli units.*-0.5 to 3"):
        tr.fit(rbm, [[0, 1, 3, -0.5]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tr.fit(rbm, torch.zeros(2, 4), validation_data=torch.full((2, 4), 2.0))


def test_empty_data(rbm):
    with pytest.raises(ValueError, match="empty"):
        tr.fit(rbm, np.zeros((0, 4)))


def test_wrong_shapes_and_types(rbm):
    with pytest.raises(ValueError, match="2-D"):
        tr.fit(rbm, np.zeros(4))
    with pytest.raises(TypeError, match="numbers"):
        tr.fit(rbm, [["a", "b", "c", "d"]])
    with pytest.raises(TypeError, match="not a dict"):
        tr.fit(rbm, {"v": [[0, 1, 0, 1]]})
    with pytest.raises(TypeError, match="real-valued"):
        tr.fit(rbm, torch.zeros(2, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="rectangular"):
        tr.fit(rbm, [[0, 1, 0, 1], [0, 1]])


def test_non_numeric_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("0,1,0\n1,zero,1\n")
    with pytest.raises(ValueError, match="bad.csv line 2 is not all numbers: '1,zero,1'"):
        datasets.load(str(path))


def test_unknown_data_set_name():
    with pytest.raises(ValueError, match="unknown data set 'mnistt'.*known: digits"):
        datasets.load("mnistt")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found"):
        datasets.load(str(tmp_path / "absent.npy"))
    with pytest.raises(FileNotFoundError, match="model file not found"):
        tr.load(tmp_path / "absent.safetensors")


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("0 1\n")
    with pytest.raises(ValueError, match=r"\.npy, \.npz or \.csv"):
        datasets.load(str(path))


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        datasets.mnist("dev", data_dir=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error(tmp_path):
    from torchrbm.sklearn import RBM as SklearnRBM

    tr.save(tr.RBM(3, 2), tmp_path / "m.safetensors")
    for make in (lambda: tr.RBM(3, 2, device="cuda"), lambda: tr.DBN([3, 2], device="cuda:1"),
                 lambda: SklearnRBM(device="cuda").fit(np.ones((2, 2))),
                 lambda: tr.load(tmp_path / "m.safetensors", device="cuda")):
        with pytest.raises(ValueError, match="asked for, but this PyTorch sees no CUDA GPU"):
            make()


def test_a_generator_on_another_device_than_the_model_is_a_clear_error():
    from torchrbm._utils.rng import resolve_generator

    with pytest.raises(ValueError, match="generator is on cpu but the model is on cuda"):
        resolve_generator(torch.device("cuda"), generator=torch.Generator())
    with pytest.raises(ValueError, match="generator is on cpu but the model is on meta"):
        tr.DBN([4, 3, 2], device="meta").sample(2, generator=torch.Generator())


def test_csv_and_npz_files_name_the_line_or_array_at_fault(tmp_path):
    (tmp_path / "header.csv").write_text("p0,p1\n1,0\n0,1\n")
    with pytest.raises(ValueError, match=r"header.csv line 1 is not all numbers \(a header\? skip it with "
                                         r"header=True, --csv-header yes\): 'p0,p1'"):
        datasets.load(tmp_path / "header.csv", header=False)
    (tmp_path / "ragged.csv").write_text("1,0,1\n0,1,1\n0,1\n")
    with pytest.raises(ValueError, match="ragged.csv line 3 has 2 values; the lines before it have 3"):
        datasets.load(tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's own warning about an empty file is not passed on
        with pytest.raises(ValueError, match="empty"):
            datasets.load(tmp_path / "empty.csv")
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 4)), b=np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"holds arrays \[.a., .b.\]; name the one to use \(.*two.npz:a as a data set"):
        datasets.load(tmp_path / "two.npz")
    assert torch.equal(datasets.load(f"{tmp_path / 'two.npz'}:b"), torch.ones(5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"has no array 'c'; it holds \['a', 'b'\]"):
        datasets.load(f"{tmp_path / 'two.npz'}:c")


def test_momentum_seed_and_dtype_are_checked_by_name():
    x = tr.datasets.bars_and_stripes(3)
    for momentum, message in [(1.0, "momentum must be below 1"), ((0.5, 1.5), "momentum must be below 1"),
                              ((0.5,), r"a number or a pair \(initial, final\); found 1 values"),
                              (-0.5, "momentum must be a finite number >= 0")]:
        with pytest.raises(ValueError, match=message):
            tr.fit(tr.RBM(9, 4), x, epochs=1, momentum=momentum)
    with pytest.raises(TypeError, match="seed must be an integer"):
        tr.fit(tr.RBM(9, 4), x, epochs=1, seed="a")
    for model in (lambda dtype: tr.RBM(9, 4, dtype=dtype), lambda dtype: tr.ConvRBM((3, 3), 2, 2, dtype=dtype)):
        with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
            model(torch.int64)
        assert model(torch.float64).W.dtype == torch.float64


def test_images_are_flattened_row_by_row_with_a_note():
    images = tr.datasets.bars_and_stripes(3).reshape(-1, 3, 3)  # (16, 3, 3)
    rows = images.reshape(16, 9)
    model = tr.RBM(9, 4, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match=r"data has the shape of images, \(16, 3, 3\): each example is flattened row "
                                         r"by row to 9 values, shape \(16, 9\)") as caught:
        from_images = tr.log_likelihood(model, images.numpy())
    assert caught[0].filename == __file__  # the note points at the caller's line
    assert from_images == tr.log_likelihood(model, rows)
    with pytest.warns(UserWarning, match=r"\(16, 1, 3, 3\).* to 9 values"):  # (n, channels, height, width)
        assert tr.reconstruction_error(model, images[:, None]) == tr.reconstruction_error(model, rows)
    fitted = []
    for data in (images, rows):  # the same training, from images or rows
        model = tr.RBM(9, 4, generator=torch.Generator().manual_seed(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tr.fit(model, data, epochs=2, batch_size=4, seed=0)
        fitted.append(model.W.detach())
    assert torch.equal(*fitted)
    conv = tr.ConvRBM((2, 3, 3), 2, 2, generator=torch.Generator().manual_seed(0))  # channels first, as in torch
    colour = torch.rand(5, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    with pytest.warns(UserWarning, match=r"\(5, 2, 3, 3\).* to 18 values"):
        assert tr.mean_free_energy(conv, colour) == tr.mean_free_energy(conv, colour.reshape(5, 18))
    with pytest.raises(ValueError, match=r"must be 2-D .* or images .*; found shape \(1, 1, 1, 3, 3\)"):
        tr.fit(model, np.zeros((1, 1, 1, 3, 3)))


def test_batches_of_images_are_noted_once():
    images = tr.datasets.bars_and_stripes(3).reshape(-1, 4, 3, 3)  # 4 batches of 4 images
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr.fit(tr.RBM(9, 4), tr.IterableBatches(list(images)), epochs=3, seed=0)
    notes = [str(w.message) for w in caught if "shape of images" in str(w.message)]
    assert notes and all(note.startswith("batch 0 has the shape of images, (4, 3, 3)") for note in notes)


def test_csv_header_and_delimiter(tmp_path):
    expected = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    (tmp_path / "named.csv").write_text("red,green,blue\n1,0,1\n0,1,1\n")
    with pytest.warns(UserWarning, match=r"named.csv: line 1 is not numbers, read as a header and skipped: "
                                         r"'red,green,blue'") as caught:
        assert torch.equal(datasets.load(tmp_path / "named.csv"), expected)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit header: no note
        assert torch.equal(datasets.load(tmp_path / "named.csv", header=True), expected)
        (tmp_path / "numbers.csv").write_text("9,9,9\n1,0,1\n0,1,1\n")
        assert torch.equal(datasets.load(tmp_path / "numbers.csv", header=True), expected)  # line 1 skipped
        assert datasets.load(tmp_path / "numbers.csv").shape == (3, 3)  # numbers: no header
    (tmp_path / "semicolons.csv").write_text("1;0;1\n0;1;1\n")
    assert torch.equal(datasets.load(tmp_path / "semicolons.csv", delimiter=";"), expected)
    with pytest.raises(ValueError, match="semicolons.csv line 1 is not all numbers"):
        datasets.load(tmp_path / "semicolons.csv", header=False)
    (tmp_path / "spaced.csv").write_text("1  0\t1\n 0 1   1\n")
    assert torch.equal(datasets.load(tmp_path / "spaced.csv", delimiter=None), expected)  # runs of whitespace
    (tmp_path / "tabs.csv").write_text("x\ty\tz\n1\t0\t1\n0\t1\t1\n")
    assert torch.equal(datasets.load(tmp_path / "tabs.csv", delimiter="\t", header=True), expected)
    with pytest.raises(ValueError, match="the delimiter must be one character .*; found ';;'"):
        datasets.load(tmp_path / "semicolons.csv", delimiter=";;")
    assert torch.equal(datasets.load(tmp_path / "tabs.csv", delimiter="\t", header=True, max_rows=1), expected[:1])
    with pytest.raises(ValueError, match="max_rows must be at least 1; found 0"):
        datasets.load("bas", max_rows=0)
    assert torch.equal(datasets.load("bas", max_rows=5), datasets.bars_and_stripes(4)[:5])


def test_fit_reads_a_path_as_the_command_line_does(tmp_path):
    data = tr.datasets.bars_and_stripes(3).numpy()
    np.save(tmp_path / "bas.npy", data)
    np.savez(tmp_path / "bas.npz", train=data, other=data[:2])

    def trained(source) -> torch.Tensor:
        model = tr.RBM(9, 4, generator=torch.Generator().manual_seed(0))
        tr.fit(model, source, epochs=2, batch_size=4, seed=0)
        return model.W.detach()

    in_memory = trained(data)
    (tmp_path / "bas.csv").write_text("\n".join(",".join(map(str, row)) for row in data) + "\n")
    for path in ("bas.csv", "bas.npy", "bas.npz:train"):
        assert torch.equal(trained(str(tmp_path / path)), in_memory), path
    assert torch.equal(trained(tmp_path / "bas.csv"), in_memory)  # a pathlib.Path
    with pytest.raises(FileNotFoundError, match="data file not found: .*absent.csv"):
        tr.fit(tr.RBM(9, 4), tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError, match=r"a data set by name: pass torchrbm.datasets.load\('mnist'\)"):
        tr.fit(tr.RBM(784, 4), "mnist")
    with pytest.raises(ValueError, match="holds arrays"):
        tr.fit(tr.RBM(9, 4), tmp_path / "bas.npz")
