"""Small CPU work runs on one thread, large work and other devices on PyTorch's count, restored afterwards."""

import inspect
import threading

import pytest
import torch

import torchrbm as tr
from torchrbm import threads
from torchrbm._utils import kernels

TORCH_THREADS = 2  # set by the fixture, whatever the machine's core count


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    """PyTorch on two threads, the policy at its default, and both restored after each test."""
    before = torch.get_num_threads()
    monkeypatch.delenv(threads.ENVIRONMENT_VARIABLE, raising=False)
    threads.set_one_thread_below(None)
    torch.set_num_threads(TORCH_THREADS)
    yield
    threads.set_one_thread_below(None)
    torch.set_num_threads(before)


@pytest.fixture
def seen(monkeypatch):
    """The thread counts in force at each of torchrbm's matrix products (and DBN fine-tuning's losses)."""
    counts = []
    addmm, mm, cross_entropy = kernels.addmm, kernels.mm, torch.nn.functional.cross_entropy

    def recording(function):
        def wrapper(*args, **kwargs):
            counts.append(torch.get_num_threads())
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(kernels, "addmm", recording(addmm))
    monkeypatch.setattr(kernels, "mm", recording(mm))
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", recording(cross_entropy))
    return counts


def _bas():
    return tr.datasets.bars_and_stripes(4)


CALLS = {
    "fit": lambda rbm, dbn, data: tr.fit(rbm, data, epochs=1, batch_size=8, seed=0),
    "fit_pcd": lambda rbm, dbn, data: tr.fit(rbm, data, sampler=tr.PCD(20), epochs=1, batch_size=8, seed=0),
    "ais": lambda rbm, dbn, data: tr.ais(rbm, n_chains=10, n_betas=20, seed=0),
    "reverse_ais": lambda rbm, dbn, data: tr.reverse_ais(rbm, data, n_chains=10, n_betas=20, seed=0),
    "gibbs": lambda rbm, dbn, data: rbm.gibbs(data[:5].float(), 3),
    "inpaint": lambda rbm, dbn, data: rbm.inpaint(data[:5].float(), torch.arange(16) < 8, 3),
    "dbn_pretrain": lambda rbm, dbn, data: dbn.pretrain(data, epochs=1, batch_size=8, seed=0),
    "dbn_sample": lambda rbm, dbn, data: dbn.sample(5, steps=3, seed=0),
    "dbn_inpaint": lambda rbm, dbn, data: dbn.inpaint(data[:5].float(), torch.arange(16) < 8, 3, seed=0),
    "dbn_fine_tune": lambda rbm, dbn, data: dbn.fine_tune(data, torch.arange(len(data)) % 2, epochs=1,
                                                          validation_fraction=0.0, seed=0),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_small_cpu_work_runs_on_one_thread_and_restores_the_count(call, seen):
    data = _bas()
    rbm = tr.RBM(16, 16, data=data, generator=torch.Generator().manual_seed(0))
    dbn = tr.DBN([16, 8, 8], generator=torch.Generator().manual_seed(0))
    CALLS[call](rbm, dbn, data)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == TORCH_THREADS


@pytest.mark.parametrize("call", list(CALLS))
def test_policy_off_keeps_torch_threads(call, seen):
    threads.set_one_thread_below(0)
    data = _bas()
    CALLS[call](tr.RBM(16, 16, data=data), tr.DBN([16, 8, 8]), data)
    assert seen and set(seen) == {TORCH_THREADS}


def test_large_work_and_other_devices_keep_torch_threads():
    assert threads.threads_for(tr.RBM(784, 500), 100) == TORCH_THREADS
    assert threads.threads_for(tr.RBM(784, 500), 1) == 1  # one row of it is small work
    assert threads.threads_for(tr.RBM(16, 16), 100) == 1
    assert threads.threads_for(tr.RBM(16, 16, device="meta"), 100) == TORCH_THREADS
    assert threads.threads_for(tr.DBN([64, 256, 2000]), 100) == TORCH_THREADS  # its largest layer counts
    torch.set_num_threads(1)
    assert threads.threads_for(tr.RBM(784, 500), 100) == 1


def test_the_threshold_is_a_count_of_multiply_adds():
    rbm = tr.RBM(16, 16)  # 256 multiply-adds per row
    threads.set_one_thread_below(256 * 10)
    assert threads.threads_for(rbm, 9) == 1
    assert threads.threads_for(rbm, 10) == TORCH_THREADS
    assert threads.macs_per_row(rbm) == 256 and threads.macs_per_row(object()) is None
    # Potts units: q numbers per position enter the product (the visible input is a + W s(h), L q wide)
    assert threads.macs_per_row(tr.RBM(53, 100, visible=tr.units.Potts(21))) == 53 * 21 * 100


def test_the_environment_variable_is_honoured_and_the_setter_overrides_it(monkeypatch, seen):
    data = _bas()
    monkeypatch.setenv(threads.ENVIRONMENT_VARIABLE, "0")
    assert threads.one_thread_below() == 0
    tr.fit(tr.RBM(16, 16, data=data), data, epochs=1, batch_size=8, seed=0)
    assert set(seen) == {TORCH_THREADS}
    monkeypatch.setenv(threads.ENVIRONMENT_VARIABLE, " 1_000_000 ")
    assert threads.one_thread_below() == 1_000_000
    threads.set_one_thread_below(5)
    assert threads.one_thread_below() == 5
    threads.set_one_thread_below(None)
    assert threads.one_thread_below() == 1_000_000
    monkeypatch.delenv(threads.ENVIRONMENT_VARIABLE)
    assert threads.one_thread_below() == threads.DEFAULT_ONE_THREAD_BELOW


@pytest.mark.parametrize("value", ["lots", "-1", "1.5", "2**22"])
def test_a_bad_environment_value_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(threads.ENVIRONMENT_VARIABLE, value)
    data = _bas()
    with pytest.raises(ValueError, match=threads.ENVIRONMENT_VARIABLE):
        tr.fit(tr.RBM(16, 16, data=data), data, epochs=1, batch_size=8, seed=0)
    assert torch.get_num_threads() == TORCH_THREADS


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError),
                                              ("many", ValueError)])
def test_a_bad_threshold_is_refused_by_name(value, error):
    with pytest.raises(error, match="one_thread_below"):
        threads.set_one_thread_below(value)
    assert threads.one_thread_below() == threads.DEFAULT_ONE_THREAD_BELOW


def test_the_count_is_restored_when_the_call_fails():
    data = _bas()

    def fail(model, record):
        assert torch.get_num_threads() == 1
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        tr.fit(tr.RBM(16, 16, data=data), data, epochs=2, batch_size=8, seed=0, callbacks=[fail])
    assert torch.get_num_threads() == TORCH_THREADS


def test_bad_arguments_are_still_reported_by_the_call():
    data = _bas()
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        tr.fit(tr.RBM(16, 16), data, batch_size="8")
    with pytest.raises(ValueError, match="n_chains"):
        tr.ais(tr.RBM(16, 16), n_chains=0)
    with pytest.raises(TypeError):
        tr.fit(tr.RBM(16, 16), data, no_such_option=1)
    assert torch.get_num_threads() == TORCH_THREADS


def test_nested_and_concurrent_scopes_restore_the_count_once():
    small = tr.RBM(16, 16)
    with threads.for_model(small, 10) as outer:
        with threads.for_model(tr.RBM(784, 500), 100) as inner:
            assert outer == inner == 1 == torch.get_num_threads()
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == TORCH_THREADS



def test_a_python_thread_chooses_and_restores_its_own_count():
    entered, release, inside = threading.Event(), threading.Event(), []

    def hold():
        with threads.for_model(tr.RBM(16, 16), 10):
            inside.append(torch.get_num_threads())
            entered.set()
            release.wait()
        inside.append(torch.get_num_threads())

    worker = threading.Thread(target=hold)
    worker.start()
    entered.wait()
    assert torch.get_num_threads() == TORCH_THREADS  # PyTorch's count is per thread
    release.set()
    worker.join()
    assert inside == [1, TORCH_THREADS]
    later = []
    thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert later == [TORCH_THREADS]  # a thread started afterwards gets PyTorch's count again


def test_decorated_calls_keep_their_signature_and_documentation():
    assert list(inspect.signature(tr.fit).parameters)[:2] == ["model", "data"]
    assert tr.fit.__doc__.startswith("Train") and tr.ais.__name__ == "ais"
    assert "k" in inspect.signature(tr.RBM.gibbs).parameters
