"""The ``torchrbm`` command line: its subcommands and their options.

``train``'s options take their defaults from :class:`~torchrbm.cli.options.TrainOptions` (the
namespace holds only those given: see :func:`~torchrbm.cli.options.train_options`); an option
that sets one thing has one name in every subcommand (``--ais-chains``, ``--ais-betas``), with
the earlier spellings kept as aliases.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .._utils.text import listed
from .._utils.validation import check_device
from .._version import __version__
from ..data import datasets
from ..data.alignments import ALPHABETS
from ..estimation.evaluation import METHODS
from ..training.defaults import DEFAULTS
from ..training.precision import PRECISIONS
from .data import WITH_TEST_SPLIT, holdout_defaults
from .models import HIDDEN, MODEL_CLASSES, VISIBLE
from .options import AIS_BETAS, AIS_CHAINS, RECIPES, options_text, unit_defaults_text
from .options import TrainOptions as T

DESCRIPTION = "The ``torchrbm`` command: train, evaluate, sample from and inpaint with restricted Boltzmann machines."


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that help written into a closed pipe raises ``BrokenPipeError`` (which
    :func:`torchrbm.cli.main` turns into exit status 141) instead of being dropped with status 0."""

    def _print_message(self, message: str, file=None) -> None:
        if message:
            (file or sys.stderr).write(message)


def _device(text: str) -> str:
    """argparse type for ``--device``: a device this machine has."""
    try:
        return str(check_device(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _fraction(text: str) -> float:
    """argparse type for ``--holdout``: a number in [0, 1)."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1); found {text}")
    return value


def _count(text: str) -> int:
    """argparse type for counts of examples or chains: a positive integer."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; found {text}")
    return value


def _steps(text: str) -> int:
    """argparse type for numbers of sampling steps: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; found {text}")
    return value


def _positive_float(text: str) -> float:
    """argparse type for an inverse temperature: a finite number > 0."""
    value = float(text)
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; found {text}")
    return value


def _add_data_arguments(parser: argparse.ArgumentParser, *, of_a_model: bool = False) -> None:
    """--data, --data-dir, --binarize, --csv-header and --delimiter; ``of_a_model``: --data defaults to the
    data a model file was trained on."""
    default = "the data the model was trained on, else digits" if of_a_model else "digits"
    parser.add_argument("--data",
                        help=f"data set ({', '.join(datasets.DATASETS)}; moving-bars for a conditional model) or "
                        f"a .npy/.npz/.csv file (FILE.npz:NAME for one array of several) (default: {default})")
    parser.add_argument("--data-dir",
                        help="directory of the real data sets (default: $TORCHRBM_DATA or ~/.cache/torchrbm)")
    parser.add_argument("--binarize", choices=["default", "threshold", "stochastic", "none"],
                        help="binarisation of grey levels (default: threshold for "
                        "digits, none otherwise)")
    parser.add_argument("--csv-header", choices=["yes", "no"],
                        help="a .csv file's first line is column names to skip (yes) or numbers (no) (default: "
                        "skipped, with a note, if it is not all numbers)")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="what separates a .csv file's values: one character, tab, or whitespace (runs of "
                        "spaces and tabs) (default: ,)")


def _add_common_arguments(parser: argparse.ArgumentParser, *, device_help: str = "cpu or cuda (default: cpu)",
                          seed_help: str = f"random seed (default: {T.seed})") -> None:
    """--device, --seed and --quiet."""
    parser.add_argument("--device", type=_device, help=device_help)
    parser.add_argument("--seed", type=int, help=seed_help)
    parser.add_argument("--quiet", action="store_true",
                        help="no progress or messages on stderr (warnings and errors still); the results are "
                        "printed all the same")


def _add_ais_arguments(parser: argparse.ArgumentParser, names: tuple[list[str], list[str]],
                       helps: tuple[str, str]) -> None:
    """--ais-chains and --ais-betas (with the other ``names`` they have), with ``helps`` that end in their defaults."""
    chains, betas = names
    parser.add_argument(*chains, dest="ais_chains", type=int, metavar="N", help=f"{helps[0]} (default: {AIS_CHAINS})")
    parser.add_argument(*betas, dest="ais_betas", type=int, metavar="N", help=f"{helps[1]} (default: {AIS_BETAS})")


def _add_model_arguments(train: argparse.ArgumentParser) -> None:
    """The model ``train`` trains: its class, size, unit types and starting point."""
    train.add_argument("--hidden", type=int, help=f"number of hidden units (default: {T.hidden}; with --init: "
                       "the model's)")
    train.add_argument("--init", metavar="MODEL",
                       help="start from the model in this file (written by torchrbm, e.g. a run's "
                       "model.safetensors) instead of random weights; a new run, with its own settings")
    train.add_argument("--model", choices=list(MODEL_CLASSES),
                       help="rbm (fully connected), conv (shared filters, Lee et al. 2009) or crbm (conditional "
                            "on the previous --order frames of a sequence; --data moving-bars or a file of one "
                            f"sequence, a frame per row) (default: {T.model})")
    train.add_argument("--order", type=int, help=f"crbm: previous frames in the context (default: {T.order})")
    train.add_argument("--filters", type=int, help=f"conv: number of filters (default: {T.filters})")
    train.add_argument("--filter-size", type=int, help=f"conv: filter side in pixels (default: {T.filter_size})")
    train.add_argument("--pool", type=int, help="conv: probabilistic max-pooling block side")
    train.add_argument("--visible", choices=list(VISIBLE),
                       help="visible unit type; gaussian standardises the grey levels, potts models aligned sequences "
                            "(one unit per position, as many states as the alphabet's symbols; its runs default to "
                            f"{unit_defaults_text('potts')}) (default: {T.visible})")
    train.add_argument("--hidden-units", choices=HIDDEN,
                       help=f"hidden unit type (drelu: Tubiana et al.'s double ReLU) (default: {T.hidden_units})")
    train.add_argument("--learn-sigma", action="store_true", help="learn the Gaussian units' variances")


def _add_training_arguments(train: argparse.ArgumentParser) -> None:
    """How ``train`` trains: the sampler, the updates, the guards and the monitoring."""
    train.add_argument("--recipe", choices=sorted(RECIPES),
                       help="a named set of training options, under those given: density (a high held-out "
                       "log-likelihood of binary data soon, chosen on binarised MNIST) is "
                       f"{options_text(RECIPES['density'])}")
    train.add_argument("--sampler", choices=["cd", "pcd", "pt"], help=f"default: {DEFAULTS.sampler}")
    train.add_argument("--k", type=int, help=f"Gibbs steps per update (default: {T.k})")
    train.add_argument("--sampler-chains", "--n-chains", dest="n_chains", type=int, metavar="N",
                       help=f"the training sampler's chains: persistent chains for pcd, per temperature for pt "
                       f"(default: {T.n_chains})")
    train.add_argument("--n-temps", type=int, help=f"temperatures for pt (default: {T.n_temps})")
    train.add_argument("--keep-hidden", action="store_true",
                       help="pcd: the chains keep their hidden states between updates (scikit-learn's "
                       "BernoulliRBM; one product of the chains with the weights fewer per update)")
    train.add_argument("--centered", action="store_true", help="centred gradients (Melchior et al. 2016)")
    train.add_argument("--ll-every", type=int, metavar="N",
                       help="every N epochs record the log-likelihood (exact or AIS, one log Z) of the monitored "
                            "training rows and of the held-out rows (default: never)")
    _add_ais_arguments(train, (["--ais-chains"], ["--ais-betas"]),
                       ("chains for the final AIS/RAIS estimates of large models",
                        "temperatures for the final AIS/RAIS estimates of large models"))
    train.add_argument("--epochs", type=int, help=f"default: {T.epochs}")
    train.add_argument("--batch-size", type=int,
                       help=f"rows per step and process (default: {T.batch_size}); under torchrun the global "
                            "batch is this times the number of processes")
    train.add_argument("--lr", type=float, help=f"learning rate (default: {T.lr:g})")
    train.add_argument("--lr-decay-epochs", type=int, metavar="N",
                       help="the learning rate falls linearly to 0 over the last N epochs, letting the persistent "
                       "chains settle into the model's equilibrium (default: 0, constant; --visible potts: a quarter "
                       "of --epochs)")
    train.add_argument("--momentum", type=float, nargs="+", metavar="M",
                       help="momentum, or initial and final momentum switched after "
                       f"{DEFAULTS.momentum_switch} epochs (default: {' '.join(f'{m:g}' for m in T.momentum)})")
    train.add_argument("--weight-decay", type=float, help=f"L2 on weights (default: {T.weight_decay:g})")
    train.add_argument("--l1-squared", type=float, help="L1² penalty on each hidden unit's weights, "
                       f"l1_squared/2 sum_j (sum_i |W_ij|)^2 (Tubiana et al. 2019) (default: {T.l1_squared:g})")
    train.add_argument("--l2-fields", type=float, help="L2 penalty on the visible biases (fields), "
                       f"l2_fields/2 sum_i a_i^2 (default: {T.l2_fields:g})")
    train.add_argument("--sparsity-target", type=float,
                       help="target mean hidden activation, e.g. 0.05 (default: none)")
    train.add_argument("--clip-grad-norm", type=float, metavar="NORM",
                       help="rescale each update's gradient to at most this norm (default: no clipping)")
    train.add_argument("--max-abs-weight", type=float, metavar="W",
                       help="stop, keeping the last good epoch, when a weight's magnitude exceeds this (divergence "
                            f"guard; also on NaN/inf or a runaway free energy) (default: {T.max_abs_weight:g})")
    train.add_argument("--holdout", type=_fraction,
                       help="fraction of the training rows held out for validation (free-energy gap, "
                       f"held-out log-likelihood), drawn with --seed (default: {holdout_defaults()}); test splits "
                       "are never used in training")
    train.add_argument("--precision", choices=list(PRECISIONS),
                       help="matrix products of the training steps: float32 parameters with bfloat16 or "
                            f"float16 products under *-mixed (default: {T.precision})")


def _add_run_arguments(train: argparse.ArgumentParser) -> None:
    """Where ``train`` runs and writes: device, seed, run directory, resume, checkpoints."""
    _add_common_arguments(train, device_help="cpu or cuda (default: cpu); under torchrun, cuda means "
                          "cuda:LOCAL_RANK")
    train.add_argument("--out", help="run directory (default: runs/DATE-TIME)")
    starts = train.add_mutually_exclusive_group()
    starts.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint, with its recorded settings (options "
                        "given again must match them)")
    starts.add_argument("--overwrite", action="store_true",
                        help="start a new run in --out even if it holds one, removing the old run's files "
                        "(without it, that is refused)")
    train.add_argument("--checkpoint-every", type=int, metavar="N",
                       help=f"write RUN_DIR/checkpoint.safetensors every N epochs (default: {T.checkpoint_every})")
    train.add_argument("--tensorboard", action="store_true",
                       help="also log the metrics of each epoch for TensorBoard, in RUN_DIR/tensorboard "
                            "(needs the tensorboard package)")


def _add_train(sub, command: Callable) -> None:
    train = sub.add_parser("train", help="train an RBM and write a run directory", argument_default=argparse.SUPPRESS,
                           description="Train an RBM (binary or Gaussian visible units, fully connected, "
                           "convolutional or conditional) and write a run directory; with no arguments, on "
                           "scikit-learn's 8x8 digits (binarised) in well under a minute.")
    _add_data_arguments(train)
    train.add_argument("--max-rows", type=_count, metavar="N",
                       help="read only the first N rows of the data (of each split of the MNIST family), to try a "
                       "data set quickly; evaluate and inpaint read the model's data as its run did (default: all)")
    _add_model_arguments(train)
    _add_training_arguments(train)
    _add_run_arguments(train)
    train.set_defaults(func=command)


def _add_evaluate(sub, command: Callable) -> None:
    evaluate = sub.add_parser("evaluate", help="measure a saved model on data")
    evaluate.add_argument("model", help="model file written by torchrbm (.safetensors)")
    _add_data_arguments(evaluate, of_a_model=True)
    _add_split_argument(evaluate)
    evaluate.add_argument("--method", choices=[*METHODS, "all"], default="all",
                          help="exact log-likelihood, AIS, reverse AIS, pseudo-log-likelihood, reconstruction "
                          "error, free energy (and gap to the training split), generative checks (stats: site "
                          "frequencies and pair correlations of 1000 sampled rows against the data's), or all "
                          "(default; stats only for models of sequences)")
    _add_ais_arguments(evaluate, (["--ais-chains", "--chains"], ["--ais-betas", "--betas"]),
                       ("AIS and reverse AIS chains", "AIS and reverse AIS temperatures"))
    evaluate.add_argument("--burn-in", type=int, default=0,
                          help="Gibbs steps before reverse AIS leaves the data (default: 0)")
    evaluate.add_argument("--pll", choices=["full", "stochastic"], default="full",
                          help="pseudo-log-likelihood over every bit or one random bit (default: full)")
    _add_common_arguments(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(func=command, binarize=T.binarize, device=T.device, seed=T.seed, ais_chains=AIS_CHAINS,
                          ais_betas=AIS_BETAS)


def _add_split_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", default=None, help=f"split of {listed(WITH_TEST_SPLIT, 'or')} (default: test); "
                        "other data: the rows the model's training run held out, else all rows")


def _add_alphabet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alphabet", help="the symbols of the states, in order: protein, dna, rna or a string such "
                        "as ACGT- (default: the alphabet of the model's training data, else protein: "
                        f"{ALPHABETS['protein']})")


def _add_sample(sub, command: Callable) -> None:
    sample = sub.add_parser("sample", help="draw samples from a saved model: Gibbs chains or parallel tempering, "
                            "at a chosen inverse temperature")
    sample.add_argument("model", help="model file written by torchrbm (.safetensors)")
    sample.add_argument("--n", type=_count, default=100, help="number of chains (default: 100)")
    sample.add_argument("--steps", type=_steps, default=1000,
                        help="Gibbs steps, or parallel-tempering updates (default: 1000)")
    sample.add_argument("--beta", type=_positive_float, default=1.0,
                        help="inverse temperature: above 1 towards the most probable samples, below 1 more varied "
                        "(default: 1, the model itself)")
    sample.add_argument("--sampler", choices=("gibbs", "pt"), default="gibbs",
                        help="gibbs: independent chains; pt: parallel tempering, --n chains at each of --n-temps "
                        "temperatures from --beta down to 0, which crosses between modes (default: gibbs)")
    sample.add_argument("--n-temps", type=_count, default=20, help="temperatures for --sampler pt (default: 20)")
    _add_alphabet_argument(sample)
    _add_common_arguments(sample)
    sample.add_argument("--out", required=True, help="FILE.png, FILE.svg, FILE.npy, or FILE.fasta for a model of "
                        "sequences (Potts units)")
    sample.set_defaults(func=command, device=T.device, seed=T.seed)


def _add_inpaint(sub, command: Callable) -> None:
    inpaint = sub.add_parser("inpaint", help="fill in missing pixels of data with a saved model")
    inpaint.add_argument("model", help="model file written by torchrbm (.safetensors): an RBM, ConvRBM or DBN")
    _add_data_arguments(inpaint, of_a_model=True)
    _add_split_argument(inpaint)
    inpaint.add_argument("--n", type=_count, default=10, help="number of examples, drawn at random (default: 10)")
    inpaint.add_argument("--mask", default="bottom",
                         help="missing pixels: bottom, top, left or right half, random:P, or a .npy file of "
                         "booleans (True: missing) of one image's or the examples' shape (default: bottom)")
    inpaint.add_argument("--steps", type=int, default=1000, help="Gibbs steps, half of them burn-in (default: 1000)")
    _add_common_arguments(inpaint)
    inpaint.add_argument("--out", required=True,
                         help="FILE.png or FILE.svg (before/after, the first 20 examples) or FILE.npy")
    inpaint.add_argument("--json", action="store_true", help="print JSON")
    inpaint.set_defaults(func=command, binarize=T.binarize, device=T.device, seed=T.seed)


def _add_scan(sub, command: Callable) -> None:
    scan = sub.add_parser("scan", help="score every single mutant of a sequence with a saved model (mutational scan)",
                          description="Score every single mutant x^{i->a} of a sequence x with a saved model of "
                          "sequences (Potts or binary visible units): log p(x^{i->a}) - log p(x) = F(x) - "
                          "F(x^{i->a}), where log Z cancels. Writes the table of scores (positions x states) and "
                          "prints the most favourable and most deleterious mutants, such as W12F +1.23 (the wild "
                          "type's W at position 12, counted from 1, changed to F).")
    scan.add_argument("model", help="model file written by torchrbm (.safetensors)")
    given = scan.add_mutually_exclusive_group(required=True)
    given.add_argument("--sequence", metavar="SEQ", help="the sequence, as letters of the alphabet (as long as the "
                       "model has positions)")
    given.add_argument("--fasta", metavar="FILE",
                       help="read the sequence from an alignment file (aligned FASTA, A2M/A3M or Stockholm)")
    which = scan.add_mutually_exclusive_group()
    which.add_argument("--index", type=_count, metavar="I", help="--fasta: the I-th sequence, 1 the first "
                       "(default: 1)")
    which.add_argument("--id", metavar="NAME",
                       help="--fasta: the sequence whose header (after '>') is NAME or begins with the word NAME")
    _add_alphabet_argument(scan)
    scan.add_argument("--top", type=_count, default=5, metavar="N",
                      help="how many of the most favourable and most deleterious mutants to print (default: 5)")
    scan.add_argument("--device", type=_device, help="cpu or cuda (default: cpu)")
    scan.add_argument("--out", required=True, help="FILE.csv (one row per position: position, wild_type, a column "
                      "per state), FILE.npy (the (L, q) array), or a heat map FILE.png or FILE.svg")
    scan.add_argument("--json", action="store_true", help="print JSON")
    scan.set_defaults(func=command, device=T.device)


def _add_report(sub, command: Callable) -> None:
    report = sub.add_parser("report", help="write RUN_DIR/report.html: one self-contained page of a run")
    report.add_argument("run_dir", help="run directory written by torchrbm train")
    report.set_defaults(func=command)


def build_parser(commands: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The ``torchrbm`` command line; ``commands`` run each subcommand (``args.func``)."""
    parser = _Parser(prog="torchrbm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"torchrbm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, add in (("train", _add_train), ("evaluate", _add_evaluate), ("sample", _add_sample),
                      ("inpaint", _add_inpaint), ("scan", _add_scan), ("report", _add_report)):
        add(sub, commands[name])
    return parser
