"""A mutational scan as users see it: a sequence read from its letters, the scan as CSV and as a heat map."""

import csv
import io

import numpy as np
import pytest
import torch
from helpers import randomize

import torchrbm as tr
from torchrbm import plots
from torchrbm.io import mutational_scan_csv, write_mutational_scan_csv

ALPHABET = "ACD-"


@pytest.fixture
def scanned():
    """A random Potts RBM of 5 positions over ``ACD-``, a sequence and its scan."""
    rbm = randomize(tr.RBM(5, 3, visible=tr.units.Potts(4), dtype=torch.float64), seed=3)
    sequence = tr.datasets.encode_sequence("CA-DA", ALPHABET)
    return rbm, sequence, tr.mutational_scan(rbm, sequence)


def test_a_sequence_is_read_from_its_letters_and_a_stray_letter_is_named():
    assert tr.datasets.encode_sequence("CA-DA", ALPHABET).tolist() == [1, 0, 3, 2, 0]
    assert tr.datasets.encode_sequence("WY-").tolist() == [18, 19, 20]  # the protein alphabet, the gap last
    with pytest.raises(ValueError, match=r"the sequence has 'B' at position 3, a symbol not in the alphabet 'ACD-'"):
        tr.datasets.encode_sequence("CAB", ALPHABET)
    with pytest.raises(ValueError, match="non-empty string"):
        tr.datasets.encode_sequence("", ALPHABET)


def test_the_csv_reads_back_as_the_scan_and_its_wild_type(scanned, tmp_path):
    _, sequence, scan = scanned
    text = mutational_scan_csv(scan, sequence, ALPHABET)
    assert text == mutational_scan_csv(scan, "CA-DA", ALPHABET)  # letters or codes
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["position", "wild_type", "A", "C", "D", "-"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert "".join(row[1] for row in rows[1:]) == "CA-DA"
    values = torch.tensor([[float(value) for value in row[2:]] for row in rows[1:]], dtype=torch.float64)
    assert torch.equal(values, scan)  # every digit kept: the same float64s
    assert values[torch.arange(5), sequence].abs().max() < 1e-12 and values.abs().max() > 0.1  # 0 for the wild type
    write_mutational_scan_csv(tmp_path / "scan.csv", scan, sequence, ALPHABET)
    assert (tmp_path / "scan.csv").read_text() == text


def test_the_csv_refuses_a_scan_that_does_not_fit(scanned):
    _, sequence, scan = scanned
    with pytest.raises(ValueError, match=r"scan must have shape \(L, 21\).*found \(5, 4\)"):
        mutational_scan_csv(scan, sequence, "protein")
    with pytest.raises(ValueError, match="the sequence has 4 positions but the scan has 5"):
        mutational_scan_csv(scan, "CA-D", ALPHABET)
    with pytest.raises(ValueError, match=r"codes must lie in 0..3 .* found 0..4"):
        mutational_scan_csv(scan, [0, 1, 4, 2, 0], ALPHABET)


def test_the_heat_map_puts_positions_across_states_down_and_marks_the_wild_type(scanned, tmp_path):
    _, sequence, scan = scanned
    fig = plots.plot_mutational_scan(scan, ALPHABET, sequence)
    ax, colour_bar = fig.axes
    image = ax.get_images()[0]
    np.testing.assert_array_equal(image.get_array(), scan.numpy().T)  # row a, column i
    low, high = image.get_clim()
    assert low == -high == -float(scan.abs().max())  # diverging, centred at 0
    assert image.get_cmap().name == "RdBu_r"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C1", "A2", "-3", "D4", "A5"]
    assert list(ax.get_xticks()) == [0, 1, 2, 3, 4]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(ALPHABET)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[0, 1], [1, 0], [2, 3], [3, 2], [4, 0]])
    assert colour_bar.get_ylabel() == "log p(mutant) − log p(wild type)"
    for suffix in (".png", ".svg"):
        fig.savefig(tmp_path / f"scan{suffix}")
        assert (tmp_path / f"scan{suffix}").stat().st_size > 1000
    bare = plots.plot_mutational_scan(scan, ALPHABET)  # no sequence: positions by number, nothing marked
    assert [t.get_text() for t in bare.axes[0].get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert not bare.axes[0].collections
    with pytest.raises(ValueError, match=r"scan must have shape \(L, 3\)"):
        plots.plot_mutational_scan(scan, "ACD", None)
    with pytest.raises(ValueError, match="the sequence has 3 positions but the scan has 5"):
        plots.plot_mutational_scan(scan, ALPHABET, "CA-")
