"""Training rows from memory, from .npy files in chunks, and from iterables of batches."""

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import torchrbm as tr
from torchrbm.data.batches import row_source


def _rows(n=53, width=6, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, width)) < 0.4).astype(np.uint8)


def _epoch(source, batch_size, rank=0, world_size=1, shuffle=True, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return list(source.batches(batch_size, shuffle, generator, rank, world_size))


def _as_set(batches) -> list[tuple]:
    return sorted(tuple(row.tolist()) for batch in batches for row in batch)


def test_npy_file_in_small_chunks_serves_every_row_once(tmp_path):
    rows = np.arange(53 * 6, dtype=np.uint8).reshape(53, 6)  # distinct rows
    np.save(tmp_path / "rows.npy", rows)
    source = tr.NpyRows(tmp_path / "rows.npy", chunk_bytes=60)  # 10 rows a chunk: 6 chunks
    batches = _epoch(source, batch_size=5)
    assert all(b.dtype == torch.uint8 for b in batches) and max(b.shape[0] for b in batches) == 5
    assert _as_set(batches) == _as_set([torch.from_numpy(rows)])
    order = torch.cat(batches)[:, 0].tolist()
    assert order != sorted(order)  # shuffled across and within chunks
    unshuffled = torch.cat(_epoch(source, batch_size=5, shuffle=False))
    assert torch.equal(unshuffled, torch.from_numpy(rows))


@pytest.mark.parametrize("gather_bytes", [1, 60, 2**20])
def test_rows_in_memory_are_served_in_the_permutation_order_however_many_are_gathered_at_once(
        monkeypatch, gather_bytes):
    """Gathering several batches' rows at once (about ``GATHER_BYTES``) changes neither the batches nor
    their order: the rows of a permutation of the rows, cut every ``batch_size``."""
    from torchrbm.data import batches as batches_module

    monkeypatch.setattr(batches_module, "GATHER_BYTES", gather_bytes)
    rows = torch.arange(53 * 6, dtype=torch.float32).reshape(53, 6)
    order = torch.randperm(53, generator=torch.Generator().manual_seed(3))
    served = _epoch(tr.TensorRows(rows), batch_size=5, seed=3)
    assert [b.shape[0] for b in served] == [5] * 10 + [3]
    assert torch.equal(torch.cat(served), rows[order])


def test_memmap_with_header_offset_reads_like_the_file(tmp_path):
    rows = _rows()
    np.save(tmp_path / "rows.npy", rows)
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    from_map, from_path = tr.NpyRows(mapped), tr.NpyRows(str(tmp_path / "rows.npy"))
    assert from_map.offset == from_path.offset > 0 and from_map.shape == (53, 6)
    assert torch.equal(from_map.read(3, 9), torch.from_numpy(rows[3:9]))


@pytest.mark.parametrize("kind", ["tensor", "npy"])
def test_shares_of_two_processes_split_each_global_batch(tmp_path, kind):
    rows = np.arange(53 * 6, dtype=np.uint8).reshape(53, 6)
    np.save(tmp_path / "rows.npy", rows)
    source = tr.TensorRows(torch.from_numpy(rows)) if kind == "tensor" else tr.NpyRows(tmp_path / "rows.npy")
    shares = [_epoch(source, batch_size=4, rank=rank, world_size=2) for rank in (0, 1)]
    assert len(shares[0]) == len(shares[1])
    for first, second in zip(*shares, strict=True):
        assert not set(first[:, 0].tolist()) & set(second[:, 0].tolist())
    served = _as_set(shares[0] + shares[1])
    assert len(served) == 53 and served == _as_set([torch.from_numpy(rows)])  # 53 = 6 x 8 + 5: none lost


@pytest.mark.parametrize("n", [1, 5, 7, 24, 25, 26, 29, 53])
def test_every_process_gets_the_announced_number_of_batches(tmp_path, n):
    """``n_batches`` is what every process gets: under torch.distributed a process whose batches fail
    stands in for the ones still due, so the count must be exact (the last global batch only if it
    has a row for every process)."""
    rows = np.arange(n * 6, dtype=np.uint8).reshape(n, 6) % 251
    np.save(tmp_path / "rows.npy", rows)
    for source in (tr.TensorRows(torch.from_numpy(rows)), tr.NpyRows(tmp_path / "rows.npy", chunk_bytes=60)):
        for batch_size in (1, 2, 4):
            for world_size in (1, 2, 3):
                for rank in range(world_size):
                    served = len(_epoch(source, batch_size, rank, world_size))
                    assert served == source.n_batches(batch_size, world_size), (type(source), batch_size, rank)


def test_training_from_a_npy_file_equals_training_in_memory(tmp_path):
    data = tr.datasets.bars_and_stripes(4)
    np.save(tmp_path / "bas.npy", data.numpy())
    models = []
    for source in (data, tmp_path / "bas.npy", np.load(tmp_path / "bas.npy", mmap_mode="r")):
        rbm = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
        tr.fit(rbm, source, sampler=tr.PCD(n_chains=20), epochs=5, batch_size=8, lr=0.05, seed=1, shuffle=False)
        models.append(rbm)
    for other in models[1:]:
        for name, param in models[0].named_parameters():
            assert torch.equal(param, dict(other.named_parameters())[name]), name


def test_training_from_batches_of_a_data_loader():
    data = tr.datasets.bars_and_stripes(4)
    loader = DataLoader(TensorDataset(data, torch.zeros(len(data))), batch_size=8, shuffle=False)
    from_loader = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    in_memory = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    tr.fit(from_loader, loader, sampler=tr.Exact(), epochs=4, lr=0.1, seed=0)
    tr.fit(in_memory, data, sampler=tr.Exact(), epochs=4, batch_size=8, lr=0.1, seed=0, shuffle=False)
    torch.testing.assert_close(from_loader.W, in_memory.W, rtol=0, atol=1e-6)
    listed = tr.IterableBatches([data[:16].numpy(), data[16:].numpy()])
    assert listed.n_features == 16 and torch.equal(torch.cat(_epoch(listed, 999)), data)

    class Halves:  # any iterable that starts afresh each time, given to fit as it is
        def __iter__(self):
            yield from (data[:16], data[16:])

    assert isinstance(row_source(Halves(), from_loader), tr.IterableBatches)
    assert isinstance(row_source(data.tolist(), from_loader), tr.TensorRows)  # a nested list is rows


def test_bad_files_and_batches_are_refused_with_their_reason(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        tr.NpyRows(tmp_path / "missing.npy")
    np.save(tmp_path / "line.npy", np.zeros(4))
    with pytest.raises(ValueError, match=r"must hold a 2-D array .* or images .*; found shape \(4,\)"):
        tr.NpyRows(tmp_path / "line.npy")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.zeros((5, 3))))
    with pytest.raises(ValueError, match="Fortran"):
        tr.NpyRows(tmp_path / "fortran.npy")
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError, match="not a .npy file"):
        tr.NpyRows(tmp_path / "text.npy")
    np.save(tmp_path / "short.npy", np.zeros((100, 4), dtype=np.uint8))
    (tmp_path / "short.npy").write_bytes((tmp_path / "short.npy").read_bytes()[:-50])
    with pytest.raises(ValueError, match="truncated"):
        tr.NpyRows(tmp_path / "short.npy", chunk_bytes=40).read(0, 100)
    out_of_range = np.full((30, 4), 0.5)
    out_of_range[17, 2] = 3.0
    np.save(tmp_path / "range.npy", out_of_range)
    with pytest.raises(ValueError, match=r"range.npy rows 0:30"):
        tr.fit(tr.RBM(4, 2), tmp_path / "range.npy", epochs=1)
    with pytest.raises(ValueError, match="2 columns but the model has 4"):
        row_source(torch.zeros(3, 2), tr.RBM(4, 2))
    with pytest.raises(TypeError, match="iterator is used up"):
        tr.IterableBatches(iter([np.zeros((2, 4))]))
    with pytest.raises(TypeError, match="iterator is used up after one epoch; pass an iterable that starts afresh"):
        tr.fit(tr.RBM(4, 2), (np.zeros((2, 4)) for _ in range(3)), epochs=1)
    with pytest.raises(ValueError, match="empty"):
        tr.IterableBatches([])
    with pytest.raises(ValueError, match="batch 1 has 3 columns"):
        tr.fit(tr.RBM(4, 2), tr.IterableBatches([np.zeros((2, 4)), np.zeros((2, 3))]), epochs=1)


def test_monitoring_sample_of_a_file_holds_the_same_rows_as_in_memory(tmp_path):
    rows = np.arange(200 * 3, dtype=np.int32).reshape(200, 3)
    np.save(tmp_path / "rows.npy", rows)
    from_file = tr.NpyRows(tmp_path / "rows.npy").sample(17, torch.Generator().manual_seed(5))
    in_memory = tr.TensorRows(torch.from_numpy(rows)).sample(17, torch.Generator().manual_seed(5))
    assert from_file.shape == (17, 3) and _as_set([from_file]) == _as_set([in_memory])


def test_a_npy_file_of_images_is_read_as_rows(tmp_path):
    rows = _rows(20, 9)
    np.save(tmp_path / "images.npy", rows.reshape(20, 3, 3))
    with pytest.warns(UserWarning, match=r"images.npy has the shape of images, \(20, 3, 3\).* shape \(20, 9\)"):
        source = tr.NpyRows(tmp_path / "images.npy", chunk_bytes=40)
    assert source.shape == (20, 9) and torch.equal(source.read(0, 20), torch.from_numpy(rows))
    assert _as_set(_epoch(source, 4)) == _as_set([torch.from_numpy(rows)])


def test_a_function_of_batches_is_called_each_epoch():
    data = tr.datasets.bars_and_stripes(4)
    calls = []

    def halves():  # a generator function: a new generator of the same two batches each call
        calls.append(len(calls))
        yield data[:16]
        yield data[16:]

    source = tr.IterableBatches(halves)
    for _ in range(3):
        assert torch.equal(torch.cat(_epoch(source, 999)), data)
    assert source.n_batches(8) is None and len(calls) == 4  # the first batch is read once to learn the width
    from_function = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    from_list = tr.RBM(16, 8, data=data, generator=torch.Generator().manual_seed(0))
    tr.fit(from_function, halves, sampler=tr.Exact(), epochs=4, lr=0.1, seed=0)  # fit takes the function as it is
    tr.fit(from_list, tr.IterableBatches([data[:16], data[16:]]), sampler=tr.Exact(), epochs=4, lr=0.1, seed=0)
    assert len(calls) > 4 + 4 and torch.equal(from_function.W, from_list.W)


def test_a_function_of_batches_must_return_a_new_iterable_each_epoch():
    batches = iter([np.zeros((2, 4))] * 3)
    with pytest.raises(TypeError, match="the function of batches <lambda> returned the same iterator twice"):
        tr.fit(tr.RBM(4, 2), lambda: batches, epochs=2)
    with pytest.raises(TypeError, match="the function of batches <lambda> returned a int, not an iterable"):
        tr.IterableBatches(lambda: 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr.fit(tr.RBM(4, 2), lambda: iter([np.zeros((2, 4))]), epochs=2)  # a new iterator each call
