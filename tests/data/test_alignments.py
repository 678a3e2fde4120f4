"""Alignments: the file formats, codes over alphabets, redundancy weights, the split by identity and
the shared protein families."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SHARED_DATA

import torchrbm as tr
from torchrbm.data import downloads, registry
from torchrbm.data.identity import min_matches

datasets = tr.datasets
PROTEIN = "ACDEFGHIKLMNPQRSTVWY-"


@pytest.fixture(scope="module")
def proteins() -> Path:
    if not (SHARED_DATA / "proteins").is_dir():
        pytest.skip(f"real data sets not found: no proteins/ under {SHARED_DATA} (set TORCHRBM_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def ww(proteins) -> datasets.Alignment:
    return datasets.protein_family("ww", data_dir=proteins)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _direct_weights(codes: torch.Tensor, identity: float) -> list[float]:
    """``1 / #{j : mean(c_i == c_j) >= identity}``, pair by pair."""
    rows = codes.tolist()
    length = len(rows[0])
    return [1.0 / sum(sum(x == y for x, y in zip(a, b, strict=True)) / length >= identity for b in rows)
            for a in rows]


# --- the shared families -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape, distinct, first, last", [
    ("kunitz", (11819, 53), 8062, "FCYLEEDVGICRGLISRYFYNNQSKQCEEFKYGGCLGNENNFESLEECKRTC-",
     "FCMMPARKGVCRALIPRWRYDPELKKCVEFKFGGCDGNENNFSSYKSCMATCE"),
    ("ww", (17233, 31), 7503, "LPGEWKPCQDIT-GDIYYFNFANGQSMWDHP", "LPSGWEERKDAK-GRTYYVNHNNRTTTWTRP"),
    ("lattice-proteins", (46265, 27), 46265, "EKAMPAMDPDMAHEHKKKIRAWMFEGE", "RYDCCKLYDVWHPAIESEMEDCWLRKK"),
])
def test_shared_families_are_read_with_their_shapes_ids_and_sequences(proteins, name, shape, distinct, first, last):
    family = datasets.protein_family(name, data_dir=proteins, weights=False)
    assert (tuple(family.codes.shape), family.length, family.q, family.alphabet) == (shape, shape[1], 21, PROTEIN)
    assert family.codes.dtype == torch.uint8 and family.weights.tolist() == [1.0] * shape[0]
    assert family.ids[:2] == ["S1", "S2"] and family.ids[-1] == f"S{shape[0]}"  # headers are >>S1, >>S2, ...
    assert family.sequences()[0] == first and family.sequences(family.codes[-1]) == [last]
    assert torch.unique(family.codes, dim=0).shape[0] == distinct
    assert torch.equal(datasets.load(name, data_dir=proteins), family.codes)
    assert registry.REGISTRY[name].alphabet == PROTEIN


def test_lattice_proteins_have_no_gaps_and_a_fitness_each(proteins):
    codes = datasets.load("lattice-proteins", data_dir=proteins)
    assert int(codes.max()) < 20
    pnat = datasets.lattice_proteins_pnat(data_dir=proteins)
    assert pnat.shape == (46265,) and pnat.dtype == torch.float64
    assert pnat[0].item() == 0.994633330792 and pnat[-1].item() == 0.995974665629
    assert 0.0 <= float(pnat.min()) and float(pnat.max()) <= 1.0


def test_binarising_a_protein_family_is_refused(proteins):
    with pytest.raises(ValueError, match=r"^ww holds categorical codes \(20 amino acids and the gap\): binarisation "
                                         r"does not apply; model them with Potts units$"):
        datasets.load("ww", data_dir=proteins, binarize_method="threshold")


def test_missing_protein_files_come_from_the_pgm_repository(proteins, tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHRBM_MIRROR", raising=False)
    relpath = "proteins/WW_domain_MSA.fasta"
    assert downloads._mirrors_for(relpath) == [
        "https://raw.githubusercontent.com/jertubiana/PGM/master/data/WW/WW_domain_MSA.fasta"]
    tried = []

    def download(url, target, sha256, **options):  # stands in for the network
        tried.append((url, sha256))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(proteins / relpath, target)

    monkeypatch.setattr(downloads, "download", download)
    codes = datasets.load("ww", data_dir=tmp_path)
    assert tried == [(downloads.FILE_URLS[relpath][0], downloads.SHA256[relpath])]
    assert codes.shape == (17233, 31)


# --- weights --------------------------------------------------------------------------------------------------------

def _random_family(n: int = 60, length: int = 10, q: int = 4, seed: int = 0) -> torch.Tensor:
    """Rows mutated from a few ancestors, so that many pairs are close and some are copies."""
    generator = torch.Generator().manual_seed(seed)
    ancestors = torch.randint(0, q, (5, length), generator=generator)
    rows = ancestors[torch.randint(0, 5, (n,), generator=generator)]
    mutate = torch.rand(n, length, generator=generator) < 0.2
    return torch.where(mutate, torch.randint(0, q, (n, length), generator=generator), rows).to(torch.uint8)


@pytest.mark.parametrize("identity", [0.8, 0.7, 0.5, 1.0])
@pytest.mark.parametrize("chunk_size", [1, 7, 512])
def test_weights_match_a_direct_loop_over_pairs(identity, chunk_size):
    codes = _random_family()
    weights = datasets.sequence_weights(codes, identity, chunk_size=chunk_size)
    assert weights.dtype == torch.float32
    assert weights.tolist() == pytest.approx(_direct_weights(codes, identity), rel=1e-7)


def test_the_threshold_is_the_fraction_of_equal_positions():
    assert min_matches(0.7, 10) == 7 and min_matches(0.8, 31) == 25 and min_matches(0.8, 53) == 43  # 0.7 * 10 > 7
    codes = torch.tensor([[0] * 10, [0] * 7 + [1] * 3, [1] * 10], dtype=torch.uint8)
    assert datasets.sequence_weights(codes, 0.7).tolist() == [0.5, 0.5, 1.0]
    assert datasets.sequence_weights(codes, 0.71).tolist() == [1.0, 1.0, 1.0]


def test_weights_of_the_first_500_ww_sequences_match_a_direct_count(ww):
    codes = ww.codes[:500].numpy()
    direct = [1.0 / int(((codes == row).mean(1) >= 0.8).sum()) for row in codes]
    assert datasets.sequence_weights(ww.codes[:500]).tolist() == pytest.approx(direct, rel=1e-7)
    assert datasets.sequence_weights(ww.codes[:500], chunk_size=64).tolist() == pytest.approx(direct, rel=1e-7)


def test_effective_numbers_of_sequences_at_80_percent_identity(ww, proteins):
    assert ww.n_effective == pytest.approx(2682.410, abs=1e-3)
    assert ww.n_effective == pytest.approx(float(ww.weights.double().sum()))
    kunitz = datasets.protein_family("kunitz", data_dir=proteins)
    assert kunitz.n_effective == pytest.approx(4072.970, abs=1e-3)
    lattice = datasets.load("lattice-proteins", data_dir=proteins)[:4000]
    assert datasets.sequence_weights(lattice).tolist() == [1.0] * 4000  # no two within 80 % of each other


# --- the split by identity ------------------------------------------------------------------------------------------

def test_single_linkage_joins_chains_of_close_sequences():
    base = [0] * 10
    chain = [base, [1] + base[1:], [1, 1] + base[2:], [1, 1, 1] + base[3:]]  # neighbours 90 % apart, the ends 70 %
    codes = torch.tensor([*chain, [2] * 10, [3] * 10], dtype=torch.uint8)
    assert datasets.identity_clusters(codes, 0.9, chunk_size=2).tolist() == [0, 0, 0, 0, 4, 5]
    assert datasets.sequence_weights(codes, 0.9).tolist() == pytest.approx([1 / 2, 1 / 3, 1 / 3, 1 / 2, 1, 1])
    assert datasets.max_identity(codes[:1], codes[3:]).tolist() == [pytest.approx(0.7)]


def test_split_by_identity_draws_whole_clusters_with_the_seed():
    codes = _random_family(n=200, length=20, q=6, seed=3)
    clusters = datasets.identity_clusters(codes, 0.7)
    train, test = datasets.split_by_identity(codes, 0.7, test_fraction=0.25, seed=1)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(200))
    assert set(clusters[train].tolist()).isdisjoint(clusters[test].tolist())
    assert 0 < test.numel() <= 50
    assert float(datasets.max_identity(codes[test], codes[train], chunk_size=16).max()) < 0.7
    again = datasets.split_by_identity(codes, 0.7, test_fraction=0.25, seed=1)
    assert torch.equal(again[0], train) and torch.equal(again[1], test)


def test_split_by_identity_refuses_what_it_cannot_do():
    copies = torch.zeros(10, 5, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"^the 10 sequences form 1 cluster\(s\) at identity 0.8, the largest of 10: "
                                         r"no split holds out about 0.2 of them with training sequences left; lower "
                                         r"the identity or change the test fraction$"):
        datasets.split_by_identity(copies)
    with pytest.raises(ValueError, match=r"^test_fraction must be in \(0, 1\); found 1.0$"):
        datasets.split_by_identity(copies, test_fraction=1.0)
    with pytest.raises(ValueError, match=r"^identity must be in \(0, 1\]; found 0$"):
        datasets.sequence_weights(copies, 0)
    with pytest.raises(TypeError, match="must be a 2-D integer tensor"):
        datasets.sequence_weights(copies.float())


@pytest.mark.parametrize("name, n_test, random_copies, random_close", [
    ("ww", 3447, 0.650, 0.897),
    ("kunitz", 2364, 0.393, 0.763),
])
def test_no_held_out_sequence_has_a_close_relative_in_training(proteins, name, n_test, random_copies, random_close):
    """A random 80/20 split of WW leaves 65 % of the held-out sequences with a copy in training and 90 % with a
    relative within 80 % identity (Kunitz: 39 % and 76 %); the split by identity leaves none."""
    codes = datasets.load(name, data_dir=proteins)
    kept, held = registry.holdout_indices(codes.shape[0], 0.2, seed=0)
    nearest = datasets.max_identity(codes[held], codes[kept])
    assert float((nearest == 1).double().mean()) == pytest.approx(random_copies, abs=0.0005)
    assert float((nearest >= 0.8).double().mean()) == pytest.approx(random_close, abs=0.0005)
    train, test = datasets.split_by_identity(codes, 0.8, test_fraction=0.2, seed=0)
    assert test.numel() == n_test and train.numel() + test.numel() == codes.shape[0]
    assert float(datasets.max_identity(codes[test], codes[train]).max()) < 0.8


# --- file formats ---------------------------------------------------------------------------------------------------

def test_aligned_fasta_with_wrapped_sequences_and_double_headers(tmp_path):
    path = _write(tmp_path, "family.fasta", ">>S1 first\nACD-\nEF\n\n>S2\nACDEF-\n>>>S3\nA-DEFG\n")
    aln = datasets.alignment(path, weights=False)
    assert aln.ids == ["S1 first", "S2", "S3"]
    assert aln.sequences() == ["ACD-EF", "ACDEF-", "A-DEFG"]
    assert aln.codes.tolist()[0] == [PROTEIN.index(symbol) for symbol in "ACD-EF"]
    assert aln.n_effective == 3.0


def test_a2m_and_a3m_keep_the_match_columns(tmp_path):
    a2m = _write(tmp_path, "family.a2m", ">s1\nAC..D-E\n>s2\nAcgD-E..\n>s3\nA-..DE.F\n")
    with pytest.raises(ValueError, match=r"sequence 's2' \(line 3\) has 4 match columns; the sequences before it "
                                         r"have 5"):
        datasets.alignment(a2m)
    a2m = _write(tmp_path, "family.a2m", ">s1\nAC..D-E\n>s2\nAGcgD-E\n>s3\nA-..DEF\n")
    assert datasets.alignment(a2m).sequences() == ["ACD-E", "AGD-E", "A-DEF"]
    a3m = _write(tmp_path, "family.a3m", ">s1\nACD-E\n>s2\nAGcgD-E\n>s3\nA-DEkkkwF\n")
    assert datasets.alignment(a3m).sequences() == ["ACD-E", "AGD-E", "A-DEF"]


def test_stockholm_over_several_blocks_with_annotations(tmp_path):
    text = ("# STOCKHOLM 1.0\n#=GF ID  example\n#=GS s1 AC P00001\n\n"
            "s1   AC.D\ns2   AGcD\n#=GR s1 SS  HH.H\n#=GC RF  xx.x\n\n"
            "s1   -E\ns2   E-\n//\n")
    aln = datasets.alignment(_write(tmp_path, "family.sto", text), weights=False)
    assert aln.ids == ["s1", "s2"] and aln.sequences() == ["ACD-E", "AGDE-"]
    same = datasets.alignment(_write(tmp_path, "family.txt", text), weights=False)  # found by its content
    assert same.sequences() == aln.sequences()


@pytest.mark.parametrize("alphabet, symbols, text, codes", [
    ("dna", "ACGT-", "ACGT-A", [0, 1, 2, 3, 4, 0]),
    ("rna", "ACGU-", "UUAC-G", [3, 3, 0, 1, 4, 2]),
    ("01", "01", "010011", [0, 1, 0, 0, 1, 1]),
])
def test_other_alphabets(tmp_path, alphabet, symbols, text, codes):
    aln = datasets.alignment(_write(tmp_path, "x.fasta", f">a\n{text}\n>b\n{text}\n"), alphabet=alphabet)
    assert aln.alphabet == symbols and aln.q == len(symbols) and aln.codes[0].tolist() == codes
    assert aln.weights.tolist() == [0.5, 0.5]


def test_fasta_written_and_read_back(tmp_path, ww):
    path = tmp_path / "out" / "ww.fasta"
    small = datasets.Alignment(ww.codes[:20], ww.alphabet, ww.ids[:20], ww.weights[:20])
    small.to_fasta(path)
    assert path.read_text().startswith(">S1\nLPGEWKPCQDIT-GDIYYFNFANGQSMWDHP\n>S2\n")
    again = datasets.alignment(path)
    assert again.ids == small.ids and torch.equal(again.codes, small.codes)
    with pytest.raises(ValueError, match=r"^codes must be in 0..20 for an alphabet of 21 symbols; found 0..21$"):
        small.sequences(torch.tensor([0, 21]))


def test_codes_and_weights_on_a_device(tmp_path):
    aln = datasets.alignment(_write(tmp_path, "x.fasta", ">a\nAC\n>b\nAC\n"), device="cpu")
    assert aln.codes.device.type == aln.weights.device.type == "cpu"
    assert np.allclose(aln.weights.numpy(), 0.5)


# --- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, message", [
    ("empty.fasta", "\n \n", "{path} is empty: no sequences"),
    ("lengths.fasta", ">a\nACDE\n>b\nACD\n",
     "{path}: sequence 'b' (line 3) has 3 positions; the sequences before it have 4"),
    ("symbol.fasta", ">a\nACDE\n>b\nACXE\n",
     "{path}: sequence 'b' (line 3) has the unknown symbol 'X' at position 3; the alphabet is "
     "'ACDEFGHIKLMNPQRSTVWY-'"),
    ("accent.fasta", ">a\nACDE\n>b\nACDÉ\n",
     "{path}: sequence 'b' (line 3) has the unknown symbol 'É' at position 4; the alphabet is "
     "'ACDEFGHIKLMNPQRSTVWY-'"),
    ("lower.fasta", ">a\nACDE\n>b\nAcDE\n",
     "{path}: sequence 'b' (line 3) has the unknown symbol 'c' at position 2; the alphabet is "
     "'ACDEFGHIKLMNPQRSTVWY-' (lower-case letters and '.' are insertions in A2M/A3M files: name the file .a2m or "
     ".a3m to drop them)"),
    ("truncated.fasta", ">a\nACDE\n>b\n",
     "{path} line 3: header '>b' has no sequence (the file ends; a truncated file?)"),
    ("headers.fasta", ">a\n>b\nACDE\n",
     "{path} line 1: header '>a' has no sequence (line 2 is the next header; a truncated file?)"),
    ("start.fasta", "ACDE\n>a\nACDE\n",
     "{path} line 1 is not the start of an alignment (FASTA, A2M/A3M or Stockholm): expected a '>' header line, "
     "found 'ACDE'"),
    ("two.sto", "# STOCKHOLM 1.0\na ACDE\n//\n# STOCKHOLM 1.0\nb ACDE\n//\n",
     "{path} holds more than one alignment: line 3 ends the first ('//') and a second alignment begins at line 4; "
     "split the file and read one alignment at a time"),
    ("open.sto", "# STOCKHOLM 1.0\na ACDE\n", "{path} has no '//' line ending its alignment (a truncated file?)"),
    ("fields.sto", "# STOCKHOLM 1.0\na AC DE\n//\n", "{path} line 2 is not 'ID sequence' (found 3 fields): 'a AC DE'"),
    ("none.sto", "# STOCKHOLM 1.0\n#=GF ID x\n//\n", "{path} holds no sequences"),
])
def test_bad_files_are_named_with_their_first_bad_line(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(ValueError) as caught:
        datasets.alignment(path)
    assert str(caught.value) == message.format(path=path)


def test_missing_file_and_bad_alphabet(tmp_path):
    with pytest.raises(FileNotFoundError, match="alignment file not found"):
        datasets.alignment(tmp_path / "absent.fasta")
    with pytest.raises(ValueError, match=r"^alphabet must be one of protein, dna, rna or a string of at least 2 "
                                         r"distinct printable ASCII characters other than space; found 'AA'$"):
        datasets.alignment(tmp_path / "absent.fasta", alphabet="AA")


def test_a_run_validates_a_protein_family_on_whole_clusters(proteins):
    rows = datasets.split_rows("kunitz", 3, test=False, data_dir=proteins)
    assert rows.validation.shape == (1182, 53) and rows.train.shape == (11819 - 1182, 53)
    assert rows.validation_rows == "1182 rows (0.1 of the training rows, whole clusters at 80% identity, drawn with " \
                                   "seed 3)"
    assert float(datasets.max_identity(rows.validation, rows.train).max()) < 0.8
    assert {name for name, record in registry.REGISTRY.items() if record.holdout_identity == 0.8} == {
        "kunitz", "ww", "lattice-proteins"}


def test_fasta_text_round_trips_through_the_reader(tmp_path):
    from torchrbm.data.alignments import fasta_text

    codes = torch.randint(0, 21, (9, 12), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "written.fasta"
    path.write_text(fasta_text(codes, name="seq"))
    aln = tr.datasets.alignment(path, weights=False)
    assert torch.equal(aln.codes.long(), codes) and aln.ids[0] == "seq_1"
    with pytest.raises(ValueError, match="integers in 0..3, one per symbol of 'ACGT'"):
        fasta_text(torch.tensor([[0, 4]]), "ACGT")
