"""The classification RBM: exact p(y | x) by free energies, generative and hybrid training."""

import pytest
import torch
from helpers import randomize
from sklearn.linear_model import LogisticRegression

import torchrbm as tr


@pytest.fixture(scope="module")
def split_digits():
    x, y = tr.datasets.digits(return_labels=True)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[order].float(), y[order]
    return x[:1500], y[:1500], x[1500:], y[1500:]


def test_class_posterior_equals_the_free_energies_of_each_label():
    model = randomize(tr.ClassificationRBM(5, 3, 4, dtype=torch.float64), seed=0, scale=0.8)
    x = (torch.rand(6, 5, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    joint = torch.stack([model.joint_data(x, torch.full((6,), c)) for c in range(3)], 1)  # (6, classes, 8)
    expected = torch.log_softmax(-model.free_energy(joint), -1)
    torch.testing.assert_close(model.class_log_prob(x), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(model.predict_proba(x).sum(1), torch.ones(6, dtype=torch.float64))


def test_partition_function_includes_the_label_softmax():
    model = randomize(tr.ClassificationRBM(3, 3, 4, dtype=torch.float64), seed=2, scale=0.8)
    states = torch.cat([model.joint_data(torch.tensor([[a, b, c]], dtype=torch.float64), torch.tensor([k]))
                        for a in (0.0, 1.0) for b in (0.0, 1.0) for c in (0.0, 1.0) for k in range(3)])
    brute = float(torch.logsumexp(-model.free_energy(states).detach(), 0))
    assert tr.exact_log_partition(model) == pytest.approx(brute, abs=1e-9)


@pytest.mark.slow
def test_generative_and_hybrid_training_classify_held_out_digits(split_digits, tmp_path):
    x, y, x_test, y_test = split_digits
    baseline = 1 - LogisticRegression(max_iter=2000).fit(x.numpy(), y.numpy()).score(x_test.numpy(), y_test.numpy())
    errors = {}
    for name, extra in (("generative", None), ("hybrid", lambda m, rows: 10 * m.discriminative_loss(rows))):
        model = tr.ClassificationRBM(64, 10, 100, generator=torch.Generator().manual_seed(0))
        joint = model.joint_data(x, y)
        model.init_visible_bias(joint)
        tr.fit(model, joint, sampler=tr.CD(1), epochs=30, batch_size=20, lr=0.05, momentum=(0.5, 0.9),
               extra_loss=extra, seed=0)
        errors[name] = float((model.predict(x_test) != y_test).float().mean())
    assert errors["generative"] < 0.10  # measured: 0.067
    assert errors["hybrid"] < min(errors["generative"], baseline)
    tr.save(model, tmp_path / "c.safetensors")
    torch.testing.assert_close(tr.load(tmp_path / "c.safetensors").predict_proba(x_test), model.predict_proba(x_test))


def test_label_errors_name_the_problem():
    model = tr.ClassificationRBM(4, 3, 2)
    x = torch.zeros(5, 4)
    with pytest.raises(ValueError, match=r"labels must be in 0 \.\. 2; found values from 0 to 3"):
        model.joint_data(x, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="whole numbers"):
        model.joint_data(x, torch.tensor([0.5, 1, 2, 0, 0]))
    with pytest.raises(ValueError, match="4 labels for 5 examples"):
        model.joint_data(x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="one-hot"):
        tr.fit(model, torch.cat([x, torch.ones(5, 3)], 1), epochs=1)
