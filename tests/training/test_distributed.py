"""Data-parallel training with torch.distributed (gloo on 127.0.0.1, two processes)."""

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import torchrbm as tr

GLOBAL_BATCH = 8
SETTINGS = {"epochs": 3, "lr": 0.1, "momentum": 0.5, "weight_decay": 1e-3, "seed": 3}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _problem() -> tuple[tr.RBM, torch.Tensor]:
    data = tr.datasets.bars_and_stripes(3)  # 16 rows (14 distinct patterns): two global batches of 8
    return tr.RBM(9, 5, data=data, generator=torch.Generator().manual_seed(0)), data


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        exact, data = _problem()
        if rank == 1:  # a different start: training must begin from rank 0's parameters
            torch.nn.init.normal_(exact.W)
        tr.fit(exact, data, sampler=tr.Exact(), batch_size=GLOBAL_BATCH // world_size, **SETTINGS)
        tr.save(exact, os.path.join(out, f"exact{rank}.safetensors"))
        pcd, data = _problem()
        sampler = tr.PCD(n_chains=10)
        tr.fit(pcd, data, sampler=sampler, batch_size=GLOBAL_BATCH // world_size, **SETTINGS)
        tr.save(pcd, os.path.join(out, f"pcd{rank}.safetensors"))
        torch.save(sampler.chains, os.path.join(out, f"chains{rank}.pt"))
        drelu = tr.RBM(9, 3, hidden="drelu", data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(drelu, data, sampler=tr.PCD(n_chains=10), batch_size=GLOBAL_BATCH // world_size, **SETTINGS)
        tr.save(drelu, os.path.join(out, f"drelu{rank}.safetensors"))  # its scale fixed on each batch
    finally:
        dist.destroy_process_group()
    with open(os.path.join(out, f"threads{rank}.txt"), "w") as handle:
        handle.write("\n".join(_thread_names()))


def _thread_names() -> list[str]:
    """The names of this process's threads, C++ ones included (Linux)."""
    tasks = Path("/proc/self/task")
    return [(tasks / task / "comm").read_text().strip() for task in os.listdir(tasks)]


@pytest.mark.slow
def test_two_processes_keep_identical_parameters_equal_to_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    exact = [tr.load(tmp_path / f"exact{rank}.safetensors") for rank in (0, 1)]
    pcd = [tr.load(tmp_path / f"pcd{rank}.safetensors") for rank in (0, 1)]
    for name in ("W", "a", "b"):
        assert torch.equal(getattr(exact[0], name), getattr(exact[1], name)), name
        assert torch.equal(getattr(pcd[0], name), getattr(pcd[1], name)), name
    drelu = [tr.load(tmp_path / f"drelu{rank}.safetensors").state_dict() for rank in (0, 1)]
    assert drelu[0].keys() == drelu[1].keys() and all(torch.equal(drelu[0][k], drelu[1][k]) for k in drelu[0])
    chains = [torch.load(tmp_path / f"chains{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert not torch.equal(chains[0], chains[1])  # each process runs chains of its own
    # destroy_process_group ended the group's gloo threads (a group kept alive past it can abort
    # the process at exit, while a gloo thread still releases a collective's tensors)
    for rank in (0, 1):
        threads = (tmp_path / f"threads{rank}.txt").read_text().split()
        assert threads and not [name for name in threads if "gloo" in name], threads

    # With the exact negative phase there is no sampling noise: one process on the global
    # batch follows the same path, up to the order of float32 sums in the all-reduce.
    single, data = _problem()
    tr.fit(single, data, sampler=tr.Exact(), batch_size=GLOBAL_BATCH, **SETTINGS)
    assert not torch.allclose(single.W, _problem()[0].W, atol=1e-3)  # it did train
    for name in ("W", "a", "b"):
        torch.testing.assert_close(getattr(exact[0], name), getattr(single, name), rtol=0, atol=2e-6)


@pytest.mark.slow
def test_cli_train_under_torchrun_with_two_processes(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={_free_port()}", "-m", "torchrbm", "train", "--data", "bas", "--hidden", "8",
               "--epochs", "3", "--batch-size", "4", "--ais-betas", "100", "--out", str(run), "--quiet"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, (finished.stdout[-5000:], finished.stderr[-20000:])  # every process's output
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    summary = json.loads((run / "summary.json").read_text())
    assert summary["exact"]["log_likelihood"] < 0
    assert tr.load(run / "model.safetensors").n_hidden == 8


def _full_disk_worker(rank: int, world_size: int, port: int, out: str) -> None:
    """Process 0 cannot write its checkpoint (ENOSPC); every process must stop with an error."""
    import errno

    from torchrbm._utils import files

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    if rank == 0:
        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        files.os.fsync = full
    model, data = _problem()
    _train_and_record(rank, out, lambda: tr.fit(model, data, sampler=tr.PCD(n_chains=4), batch_size=4,
                                                checkpoint=os.path.join(out, "run.ckpt"), **SETTINGS),
                      lambda err: f"{type(err).__name__}: {err}")


def _train_and_record(rank: int, out: str, train, describe) -> None:
    """Run ``train()``, leave the process group, and write how it ended (``describe(error)``) to
    ``outcome{rank}.txt``."""
    try:
        train()
        outcome = "finished"
    except (ArithmeticError, OSError, RuntimeError) as err:
        outcome = describe(err)
    finally:
        dist.destroy_process_group()
    Path(out, f"outcome{rank}.txt").write_text(outcome)


@pytest.mark.slow
def test_a_failed_checkpoint_write_on_process_0_stops_every_process(tmp_path):
    mp.spawn(_full_disk_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    outcomes = [(tmp_path / f"outcome{rank}.txt").read_text() for rank in (0, 1)]
    assert "no space left on device" in outcomes[0]
    assert outcomes[1].startswith("RuntimeError: another process of this torch.distributed run failed in writing "
                                  "the checkpoint of epoch 0")


def test_importing_torchrbm_after_init_process_group_warns():
    script = ("import warnings, torch.distributed as dist\n"
              f"dist.init_process_group('gloo', init_method='tcp://127.0.0.1:{_free_port()}', rank=0, world_size=1)\n"
              "with warnings.catch_warnings(record=True) as caught:\n"
              "    warnings.simplefilter('always')\n"
              "    import torchrbm\n"
              "dist.destroy_process_group()\n"
              "print([str(w.message) for w in caught if w.category is RuntimeWarning])\n")
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "torch.distributed.nn.functional was first imported (here, or by torch.optim) after " \
           "init_process_group" in finished.stdout


def _failing_step_worker(rank: int, world_size: int, port: int, out: str) -> None:
    """Process 1's third training step raises; every process must stop with an error, none wait
    (a short timeout makes a process left waiting fail the test instead of hanging it)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=60))
    calls = []

    def extra_loss(model, rows):
        calls.append(1)
        if rank == 1 and len(calls) == 3:
            raise ArithmeticError("step 3 failed on process 1")
        return model.W.sum() * 0.0

    def describe(err: Exception) -> str:
        tr.save(model, os.path.join(out, f"model{rank}.safetensors"))
        return f"{type(err).__name__}: {err}; steps {len(calls)}; finite {bool(torch.isfinite(model.W).all())}"

    model, data = _problem()
    _train_and_record(rank, out, lambda: tr.fit(model, data, sampler=tr.PCD(n_chains=4), batch_size=1,
                                                extra_loss=extra_loss, **SETTINGS), describe)


@pytest.mark.slow
def test_a_failed_training_step_on_one_process_stops_every_process_at_the_end_of_its_epoch(tmp_path):
    mp.spawn(_failing_step_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    outcomes = [(tmp_path / f"outcome{rank}.txt").read_text() for rank in (0, 1)]
    # process 1's third gradient failed, and it computed no more; process 0 finished the epoch (8 batches
    # of one row per process), then both stopped there, with finite and identical parameters
    assert outcomes[1] == "ArithmeticError: step 3 failed on process 1; steps 3; finite True"
    assert outcomes[0] == ("RuntimeError: another process of this torch.distributed run failed in epoch 0; "
                           "see its error; steps 8; finite True")
    models = [tr.load(tmp_path / f"model{rank}.safetensors") for rank in (0, 1)]
    for name in ("W", "a", "b"):  # the failed process applied the others' updates too
        assert torch.equal(getattr(models[0], name), getattr(models[1], name)), name


class _RowsUnreadableOnProcess1(tr.data.batches.TensorRows):
    """Rows whose third batch cannot be read on process 1 (a disk or network error there only)."""

    def __init__(self, rows, rank: int) -> None:
        super().__init__(rows)
        self.rank = rank

    def batches(self, *args, **kwargs):
        for number, batch in enumerate(super().batches(*args, **kwargs)):
            if self.rank == 1 and number == 2:
                raise OSError("batch 2 could not be read on process 1")
            yield batch


def _failing_batches_worker(rank: int, world_size: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=60))
    model, data = _problem()

    def describe(err: Exception) -> str:
        tr.save(model, os.path.join(out, f"model{rank}.safetensors"))
        return f"{type(err).__name__}: {err}"

    _train_and_record(rank, out, lambda: tr.fit(model, _RowsUnreadableOnProcess1(data, rank), sampler=tr.PCD(4),
                                                batch_size=1, **SETTINGS), describe)


@pytest.mark.slow
def test_batches_that_fail_on_one_process_stop_every_process_at_the_end_of_the_epoch(tmp_path):
    """Process 1's source raises at its third batch: it stops computing, goes on taking part in the
    epoch's remaining all-reduces, and every process then stops with an error, none left waiting."""
    mp.spawn(_failing_batches_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    outcomes = [(tmp_path / f"outcome{rank}.txt").read_text() for rank in (0, 1)]
    assert outcomes[1] == "OSError: batch 2 could not be read on process 1"
    assert outcomes[0] == "RuntimeError: another process of this torch.distributed run failed in epoch 0; see its error"
    models = [tr.load(tmp_path / f"model{rank}.safetensors") for rank in (0, 1)]
    for name in ("W", "a", "b"):
        assert torch.equal(getattr(models[0], name), getattr(models[1], name)), name
