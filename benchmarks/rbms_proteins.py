"""Protein families against rbms: time per update and held-out log-likelihood of Potts RBMs, in one process.

rbms 0.5.0 (``pip install rbms==0.5.0``; PyTorch, Decelle, Seoane et al.) trains a
Potts-Bernoulli RBM (``PBRBM``) by PCD.  Both libraries train the same model on the
same rows of an alignment (Kunitz, WW), split by ``tr.datasets.split_by_identity`` (80 %
identity, a fifth of the sequences held out as whole clusters), with the same sequence
weights (``aln.weights``, 1 / neighbours at >= 80 % identity) and the same initial
parameters (rbms's: visible biases from the site frequencies, ``W ~ N(0, 1e-4^2)``,
zero-sum gauge): 100 hidden units, batch 100, 100 persistent chains, one Gibbs step per
update, plain SGD (no momentum, no weight decay), the same learning rate (0.05) and number
of updates.  torchrbm also trains the same visible layer with dReLU hidden units, which rbms
does not have (same initial ``W`` and visible biases; the dReLU units start as standard
Gaussians; learning rate 0.01, the best of 0.01, 0.02 and 0.05 in a shorter run).

The updates differ where rbms's own algorithm does: rbms follows the centred gradient
(offsets: the batch's weighted means), divides the whole gradient by its Euclidean norm
(so its learning rate is a step length), and weighs the sequences only in the means: the
data term ``<v h>`` of its weight gradient is the batch's unweighted mean.  torchrbm takes
the plain weighted-mean gradient.

What each timing includes:

* rbms: the body of its ``rbms.training.pcd.train`` loop per update - a random batch
  (``torch.randperm``), ``fit_batch_pcd`` (the batch's hidden means, one Gibbs step of the
  chains, the centred gradient, the gradient normalised to unit norm), the SGD step and
  ``ensure_zero_sum_gauge``; not its per-update HDF5 log, checkpoints and progress bar
  (its ``train`` cannot switch them off; ``--shipped-updates`` times that ``train`` as well,
  end to end, for a shorter run).
* torchrbm: ``tr.fit`` as a user calls it (per epoch: shuffling, batches, steps, the zero-sum
  gauge, and its per-epoch monitoring of 1000 rows), called once per round for that round's
  epochs, with the same sampler (so the chains persist).

Threads: the trained models run on ``--threads`` (default 1).  ``tr.fit`` runs models this
small on one thread whatever torch is set to (``tr.threads``: fewer than 2**21 multiply-adds
per product, counted as ``rows x L x n_hidden``), and on a machine shared with other
CPU-bound work two-thread runs stall (rbms on two threads took 20 times as long per update
while another process held a core).  So both train on one thread, and each round also
times, on copies of the current models, rbms and torchrbm (its one-thread policy off) on
``--variant-threads`` threads (default: one per CPU) for ``--variant-updates`` updates; their
fastest round is the nearest to an idle machine.

Training is split into ``--repeats`` rounds; in each round every model trains its share of
the updates in turn (one second's pause before each), after a warm-up of each on a copy of
its model (rbms's TorchScript functions recompile during their first ~150 calls).  Reported:
the median and range over rounds of the milliseconds per update, the rbms / torchrbm ratio
of each round (median and range), and the machine's load average after each round.

Before timing, rbms's parameters are converted into a ``tr.RBM`` with Potts visible units
(same layout ``W[i, a, j]``, ``(L, q)`` visible biases, same energy ``-sum_i a[i, v_i] -
b.h - sum_ij W[i, v_i, j] h_j``) and checked on random parameters in float64: free
energies, joint energies and both conditionals must agree with rbms's own functions (rbms
replaces ``softplus(x)`` by ``x`` for ``x >= 10``; that term is added back).  Each trained
rbms model is checked again, then all models are measured on the held-out sequences by
torchrbm's AIS and reverse AIS (weighted by held-out weights computed within the held-out
set, 3-sigma intervals), and on the training rows with the same ``log Z``.

    python3.11 -m venv ../venv-rbms      # its own environment: rbms pulls h5py, matplotlib, ...
    ../venv-rbms/bin/pip install torch==2.13.0 && ../venv-rbms/bin/pip install rbms==0.5.0 threadpoolctl
    ../venv-rbms/bin/pip install -e .
    TORCHRBM_DATA=../shared/data ../venv-rbms/bin/python benchmarks/rbms_proteins.py [--families kunitz ww]
        [--updates 10000] [--repeats 5] [--out benchmarks/results/rbms_proteins.json] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import platform
import statistics
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from throughput import paired_ratio, write_report

import torchrbm as tr

N_HIDDEN = 100
BATCH = 100
N_CHAINS = 100
K = 1
LR = 0.05
DRELU_LR = 0.01
SEED = 0
MAIN = ("rbms", "torchrbm", "torchrbm_drelu")


# ----------------------------------------------------------------------------------------- data
def load_family(name: str) -> dict:
    aln = tr.datasets.protein_family(name)
    train, test = tr.datasets.split_by_identity(aln.codes, identity=0.8, test_fraction=0.2, seed=SEED)
    test_codes = aln.codes[test]
    return {"name": name, "q": aln.q, "length": aln.length, "train": aln.codes[train],
            "train_weights": aln.weights[train], "test": test_codes,
            "test_weights": tr.datasets.sequence_weights(test_codes)}


# --------------------------------------------------------------------------- rbms and conversion
def rbms_initial(codes: torch.Tensor):
    """rbms's initial Potts-Bernoulli RBM for ``codes``, as its ``train`` makes it (``init_parameters``,
    then the zero-sum gauge), drawn from torch's global generator."""
    from rbms.potts_bernoulli.classes import PBRBM
    from rbms.potts_bernoulli.implement import _init_parameters
    from rbms.potts_bernoulli.utils import ensure_zero_sum_gauge

    torch.manual_seed(SEED)
    vbias, hbias, weights = _init_parameters(N_HIDDEN, codes.float(), torch.device("cpu"), torch.float32)
    params = PBRBM(weight_matrix=weights, vbias=vbias, hbias=hbias)
    ensure_zero_sum_gauge(params)
    return params


@torch.no_grad()
def to_torchrbm(params, hidden: str = "bernoulli", dtype: torch.dtype | None = None) -> tr.RBM:
    """A ``tr.RBM`` with Potts visible units holding rbms's parameters: ``W`` (L, q, H), visible biases
    (L, q) and, for Bernoulli hidden units, the hidden biases, copied as they are (same layout and signs).
    dReLU units carry their own thresholds (they start at zero) and get the weights and visible biases."""
    length, q, n_hidden = params.weight_matrix.shape
    model = tr.RBM(length, n_hidden, visible=tr.units.Potts(q), hidden=hidden,
                   dtype=dtype or params.weight_matrix.dtype)
    model.W.copy_(params.weight_matrix)
    model.a.copy_(params.vbias)
    if hidden == "bernoulli":
        model.b.copy_(params.hbias)
    return model


@torch.no_grad()
def check_conversion(params, codes: torch.Tensor, tolerance: float = 1e-9) -> dict:
    """Compare rbms's functions on ``params`` with torchrbm's on the converted model, in float64, on
    ``codes`` and as many uniformly random sequences; raise if they differ by more than ``tolerance``."""
    from rbms.potts_bernoulli.implement import _sample_hiddens, _sample_visibles

    p64 = params.clone(dtype=torch.float64)
    model = to_torchrbm(p64)
    gen = torch.Generator().manual_seed(SEED)
    length, q, n_hidden = p64.weight_matrix.shape
    random = torch.randint(0, q, (codes.shape[0], length), generator=gen)
    v = torch.cat([codes.long(), random])
    h = torch.bernoulli(torch.full((v.shape[0], n_hidden), 0.5, dtype=torch.float64), generator=gen)
    inputs = model.hidden_preactivation(v)
    # rbms's free energy takes softplus(x) as x for x >= 10, which raises it by log(1 + exp(-x)) there
    cutoff = torch.where(inputs >= 10, torch.log1p(torch.exp(-inputs)), torch.zeros_like(inputs)).sum(1)
    free_rbms = p64.compute_energy_visibles(v.double())
    free_ours = model.free_energy(v)
    _, mean_h = _sample_hiddens(v.double(), p64.weight_matrix, p64.hbias)
    _, mean_v = _sample_visibles(h, p64.weight_matrix, p64.vbias)
    result = {
        "sequences": int(v.shape[0]),
        "free_energy_max_abs_difference": float((free_ours - free_rbms).abs().max()),
        "free_energy_max_abs_difference_after_cutoff": float((free_ours + cutoff - free_rbms).abs().max()),
        "units_at_cutoff": int((inputs >= 10).sum()),
        "energy_max_abs_difference": float((model.energy(v, h) - p64.compute_energy(v.double(), h)).abs().max()),
        "hidden_mean_max_abs_difference": float((model.prob_h(v) - mean_h).abs().max()),
        "visible_mean_max_abs_difference": float((model.prob_v(h) - mean_v).abs().max()),
    }
    result["max_abs_difference"] = max(result[key] for key in (
        "free_energy_max_abs_difference_after_cutoff", "energy_max_abs_difference", "hidden_mean_max_abs_difference",
        "visible_mean_max_abs_difference"))
    if not result["max_abs_difference"] <= tolerance:
        raise AssertionError(f"rbms -> torchrbm conversion differs: {result}")
    return result


def random_rbms_model(length: int, q: int):
    """An rbms model with hidden inputs of order 10 (some beyond rbms's softplus cutoff) for the conversion check."""
    from rbms.potts_bernoulli.classes import PBRBM

    gen = torch.Generator().manual_seed(SEED + 1)
    return PBRBM(weight_matrix=torch.randn(length, q, N_HIDDEN, generator=gen) * 0.5,
                 vbias=torch.randn(length, q, generator=gen), hbias=torch.randn(N_HIDDEN, generator=gen) * 4)


# -------------------------------------------------------------------------------------- trainers
class RbmsTrainer:
    """rbms's PCD training loop (the body of ``rbms.training.pcd.train``), without its per-update HDF5 log,
    checkpoints and progress bar."""

    def __init__(self, params, family: dict, lr: float) -> None:
        from torch.optim import SGD

        self.params = params
        self.data = family["train"].float()  # rbms keeps sequences as float codes
        self.weights = family["train_weights"].float()
        self.chains = params.sample_state(params.init_chains(N_CHAINS), n_steps=K)  # as its create_machine
        self.optimizer = SGD(params.parameters(), lr=lr, maximize=True)
        params.init_grad()
        self.lr = lr

    def copy(self) -> RbmsTrainer:
        twin = RbmsTrainer(self.params.clone(), {"train": self.data, "train_weights": self.weights}, self.lr)
        twin.chains = {name: value.clone() for name, value in self.chains.items()}
        return twin

    @torch.no_grad()
    def advance(self, updates: int) -> int:
        from rbms.potts_bernoulli.utils import ensure_zero_sum_gauge
        from rbms.training.pcd import fit_batch_pcd

        for _ in range(updates):
            rand_idx = torch.randperm(len(self.data))[:BATCH]
            batch = (self.data[rand_idx], self.weights[rand_idx])
            self.optimizer.zero_grad(set_to_none=False)
            self.chains, _ = fit_batch_pcd(batch=batch, parallel_chains=self.chains, params=self.params,
                                           gibbs_steps=K, beta=1.0, centered=True)
            self.optimizer.step()
            ensure_zero_sum_gauge(self.params)
        return updates

    def model(self) -> tr.RBM:
        return to_torchrbm(self.params)


class TorchrbmTrainer:
    """``tr.fit`` for a number of epochs per call, with one persistent sampler (so its chains carry on)."""

    def __init__(self, model: tr.RBM, family: dict, lr: float) -> None:
        self.rbm, self.family, self.lr = model, family, lr
        self.sampler = tr.PCD(n_chains=N_CHAINS, k=K)
        self.calls = 0

    @property
    def updates_per_epoch(self) -> int:
        return -(-self.family["train"].shape[0] // BATCH)

    def copy(self) -> TorchrbmTrainer:
        twin = TorchrbmTrainer(copy.deepcopy(self.rbm), self.family, self.lr)
        twin.sampler = copy.deepcopy(self.sampler)
        return twin

    def advance(self, epochs: int) -> int:
        tr.fit(self.rbm, self.family["train"], sample_weight=self.family["train_weights"], sampler=self.sampler,
               epochs=epochs, batch_size=BATCH, lr=self.lr, momentum=0.0, weight_decay=0.0,
               seed=SEED + self.calls)
        self.calls += 1
        return epochs * self.updates_per_epoch

    def model(self) -> tr.RBM:
        return self.rbm


def on_threads(threads: int | None, run):
    """``run()`` with torch on ``threads`` threads (``None``: as set), restoring the count after."""
    def wrapped():
        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            return run()
        finally:
            torch.set_num_threads(before)
    return wrapped


def without_one_thread_policy(run):
    def wrapped():
        tr.threads.set_one_thread_below(0)
        try:
            return run()
        finally:
            tr.threads.set_one_thread_below(None)
    return wrapped


def timed(run) -> tuple[float, int]:
    start = time.perf_counter()
    updates = run()
    return time.perf_counter() - start, updates


# ------------------------------------------------------------------------------------ evaluation
def evaluate(model: tr.RBM, family: dict, n_betas: int, n_chains: int) -> dict:
    """Held-out log-likelihood by AIS and reverse AIS (held-out weights), and the training rows' mean
    log-likelihood with each estimate's ``log Z`` (training weights)."""
    start = time.perf_counter()
    result = tr.evaluate(model, family["test"], methods=("ais", "rais"), n_chains=n_chains, n_betas=n_betas,
                         sample_weight=family["test_weights"], seed=SEED)
    train_free = tr.mean_free_energy(model, family["train"], sample_weight=family["train_weights"])
    out = {}
    for method in ("ais", "rais"):
        entry = result[method]
        out[method] = {key: entry[key] for key in ("log_likelihood", "log_likelihood_interval_3sigma",
                                                     "log_likelihood_interval_3sigma_of_log_z", "log_partition",
                                                     "log_partition_std", "effective_sample_size",
                                                     "n_effective") if key in entry}
        out[method]["train_log_likelihood"] = -train_free - entry["log_partition"]
        if "warning" in entry:
            out[method]["warning"] = entry["warning"]
    out["seconds"] = time.perf_counter() - start
    return out


# ------------------------------------------------------------------------- rbms's own train()
def shipped_train(family: dict, lr: float, updates: int) -> float:
    """Seconds per update of ``rbms.training.pcd.train`` itself, end to end (its archive, per-update HDF5
    log, 50 checkpoints), on the same rows, weights and settings."""
    import numpy as np
    from rbms.dataset.dataset_class import RBMDataset
    from rbms.parser import default_args
    from rbms.training.pcd import train
    from rbms.training.utils import get_checkpoints

    def dataset(codes, weights):
        return RBMDataset(data=codes.numpy().astype(np.float32), labels=-np.ones(codes.shape[0]),
                          weights=weights.numpy().astype(np.float32), names=np.arange(codes.shape[0]),
                          dataset_name=family["name"], is_binary=False, device="cpu", dtype=torch.float32)

    with tempfile.TemporaryDirectory() as folder:
        args = {**default_args, "filename": str(Path(folder) / "RBM.h5"), "num_hiddens": N_HIDDEN,
                "batch_size": BATCH, "gibbs_steps": K, "learning_rate": lr, "num_chains": N_CHAINS,
                "num_updates": updates, "restore": False, "overwrite": True, "log": False, "seed": SEED,
                "train_size": 1.0, "test_size": None, "device": "cpu", "dtype": torch.float32,
                "training_type": "pcd", "no_center": False, "beta": 1.0, "L1": 0.0, "L2": 0.0}
        checkpoints = get_checkpoints(num_updates=updates, n_save=args["n_save"], spacing=args["spacing"])
        torch.manual_seed(SEED)
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
            train(train_dataset=dataset(family["train"], family["train_weights"]),
                  test_dataset=dataset(family["test"], family["test_weights"]), model_type="PBRBM", args=args,
                  dtype=torch.float32, checkpoints=checkpoints)
        return (time.perf_counter() - start) / updates


# ----------------------------------------------------------------------------------------- main
def run_family(family: dict, args) -> dict:
    print(f"\n{family['name']}: train {tuple(family['train'].shape)}, held out {tuple(family['test'].shape)} "
          f"(n_eff train {float(family['train_weights'].sum()):.0f}, held out "
          f"{float(family['test_weights'].sum()):.0f})", flush=True)
    conversion = check_conversion(random_rbms_model(family["length"], family["q"]), family["train"][:200])
    print(f"  conversion check (random parameters, float64): max |difference| "
          f"{conversion['max_abs_difference']:.1e} ({conversion['units_at_cutoff']} hidden inputs >= 10; free "
          f"energies differ by up to {conversion['free_energy_max_abs_difference']:.1e} before adding rbms's "
          "cutoff back)", flush=True)

    initial = rbms_initial(family["train"])
    trainers = {"rbms": RbmsTrainer(initial.clone(), family, args.lr),
                "torchrbm": TorchrbmTrainer(to_torchrbm(initial), family, args.lr),
                "torchrbm_drelu": TorchrbmTrainer(to_torchrbm(initial, hidden="drelu"), family, args.drelu_lr)}
    per_epoch = trainers["torchrbm"].updates_per_epoch
    epochs_per_round = max(1, round(args.updates / args.repeats / per_epoch))
    updates_per_round = epochs_per_round * per_epoch
    variant_epochs = max(1, round(args.variant_updates / per_epoch))
    print(f"  {args.repeats} rounds of {epochs_per_round} epochs = {updates_per_round} updates per model "
          f"({args.repeats * updates_per_round} in all); speed variants {variant_epochs * per_epoch} updates "
          "per round", flush=True)

    def step(name: str, trainer, epochs: int):
        if name.startswith("rbms"):
            return lambda: trainer.advance(epochs * per_epoch)
        return lambda: trainer.advance(epochs)

    many = args.variant_threads if args.variant_threads and args.variant_threads > args.threads else None
    variants = {} if many is None else {
        f"rbms_{many}_threads": lambda: on_threads(many, step("rbms", trainers["rbms"].copy(), variant_epochs)),
        f"torchrbm_{many}_threads": lambda: on_threads(many, without_one_thread_policy(
            step("torchrbm", trainers["torchrbm"].copy(), variant_epochs)))}
    # warm-up on copies: rbms's scripted functions settle after ~150 calls
    for name in MAIN:
        step(name, trainers[name].copy(), max(1, 300 // per_epoch) if name == "rbms" else 1)()
    for make in variants.values():
        make()()

    times: dict[str, list[float]] = {name: [] for name in (*MAIN, *variants)}
    load = []  # the machine's 1-minute load average after each round (other processes slow the runs)
    for _ in range(args.repeats):
        for name in MAIN:
            time.sleep(args.pause)
            seconds, updates = timed(step(name, trainers[name], epochs_per_round))
            times[name].append(seconds / updates * 1e3)
        for name, make in variants.items():
            run = make()
            time.sleep(args.pause)
            seconds, updates = timed(run)
            times[name].append(seconds / updates * 1e3)
        load.append(os.getloadavg()[0])
        print("  round: " + ", ".join(f"{name} {values[-1]:.2f}" for name, values in times.items())
              + f" ms/update; load average {load[-1]:.2f}", flush=True)

    trained = {name: trainer.model() for name, trainer in trainers.items()}
    conversion_trained = check_conversion(trainers["rbms"].params, family["train"][:200])
    print(f"  conversion check (trained rbms model): max |difference| "
          f"{conversion_trained['max_abs_difference']:.1e}", flush=True)
    shipped = None
    if args.shipped_updates:
        shipped = shipped_train(family, args.lr, args.shipped_updates) * 1e3
        print(f"  rbms train() end to end, {args.shipped_updates} updates: {shipped:.2f} ms/update", flush=True)

    evaluation = {}
    for name, model in trained.items():
        evaluation[name] = evaluate(model, family, args.n_betas, args.n_chains)
        print(f"  evaluated {name} in {evaluation[name]['seconds']:.0f} s", flush=True)

    ratios = {name: paired_ratio(times, "rbms", name) for name in MAIN[1:]}
    if many is not None:
        ratios[f"rbms_{many}_threads_over_torchrbm"] = paired_ratio(times, f"rbms_{many}_threads", "torchrbm")
        ratios[f"rbms_{many}_threads_over_torchrbm_{many}_threads"] = paired_ratio(
            times, f"rbms_{many}_threads", f"torchrbm_{many}_threads")
    summary = {name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
               for name, values in times.items()}
    print_family(family["name"], summary, ratios, evaluation, shipped)
    return {"train_rows": family["train"].shape[0], "test_rows": family["test"].shape[0],
            "length": family["length"], "q": family["q"], "updates": args.repeats * updates_per_round,
            "updates_per_round": updates_per_round, "variant_updates": variant_epochs * per_epoch,
            "ms_per_update_runs": times, "load_average_per_round": load, "ms_per_update": summary,
            "speed_up_paired": ratios,
            "rbms_train_end_to_end_ms_per_update": shipped, "conversion_check_random": conversion,
            "conversion_check_trained": conversion_trained, "evaluation": evaluation}


def _interval(entry: dict) -> str:
    low, high = entry["log_likelihood_interval_3sigma"]
    return f"{entry['log_likelihood']:8.2f} [{low:.2f}, {high:.2f}]"


def print_family(name: str, summary: dict, ratios: dict, evaluation: dict, shipped: float | None) -> None:
    print(f"\n  {name}: ms/update median (range); rbms / model per round; held-out LL AIS, reverse AIS "
          "[3 sigma]; training LL (AIS log Z)")
    for model, s in summary.items():
        ratio = ratios.get(model)
        speed = "" if ratio is None else f"x{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"
        line = f"  {model:20s} {s['median']:6.2f} ({s['min']:.2f}-{s['max']:.2f})  {speed:20s}"
        if model in evaluation:
            ev = evaluation[model]
            line += (f" AIS {_interval(ev['ais'])}  RAIS {_interval(ev['rais'])}  "
                     f"train {ev['ais']['train_log_likelihood']:.2f}")
        print(line)
    for key, ratio in ratios.items():
        if key not in summary:
            print(f"  {key}: x{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f}) per round")
    if shipped is not None:
        print(f"  {'rbms train()':20s} {shipped:6.2f}  (end to end, with its per-update HDF5 log and checkpoints)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["kunitz", "ww"], choices=["kunitz", "ww"])
    parser.add_argument("--updates", type=int, default=10000, help="updates per model (rounded to whole epochs)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds the training is split into")
    parser.add_argument("--lr", type=float, default=LR, help="learning rate of rbms and torchrbm's Potts-Bernoulli RBM")
    parser.add_argument("--drelu-lr", type=float, default=DRELU_LR, help="learning rate of the dReLU RBM")
    parser.add_argument("--variant-updates", type=int, default=100,
                        help="updates per round of the speed-only variants (rounded to whole epochs)")
    parser.add_argument("--shipped-updates", type=int, default=1000,
                        help="updates of rbms's own train(), timed end to end (0: skip)")
    parser.add_argument("--n-betas", type=int, default=10000)
    parser.add_argument("--n-chains", type=int, default=100, help="AIS chains")
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the trained models (default 1: "
                        "torchrbm's own choice for these sizes, and robust to other work on the machine)")
    parser.add_argument("--variant-threads", type=int, default=os.cpu_count(),
                        help="threads of the speed-only variants of rbms and torchrbm (0: none)")
    parser.add_argument("--quick", action="store_true", help="a smoke run (a minute or so; longer on a busy machine)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rbms_proteins.json")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.repeats, args.variant_updates, args.shipped_updates = 200, 2, 50, 50
        args.n_betas, args.pause = 200, 0.1
    try:
        rbms_version = version("rbms")
    except PackageNotFoundError:
        parser.error("rbms is not installed: pip install rbms==0.5.0")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, rbms {rbms_version}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{N_HIDDEN} hidden, batch {BATCH}, {N_CHAINS} chains, PCD-{K}, SGD lr {args.lr} (dReLU {args.drelu_lr})")
    results = {name: run_family(load_family(name), args) for name in args.families}
    report = {"torch": torch.__version__, "rbms": rbms_version, "threads": args.threads,
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average_end": os.getloadavg(),
              "setting": {"hidden": N_HIDDEN, "batch_size": BATCH, "n_chains": N_CHAINS, "k": K, "lr": args.lr,
                          "drelu_lr": args.drelu_lr,
                          "momentum": 0.0, "weight_decay": 0.0, "n_betas": args.n_betas,
                          "ais_chains": args.n_chains, "repeats": args.repeats},
              "command": "python benchmarks/rbms_proteins.py " + " ".join(
                  f"--{key.replace('_', '-')} {value}" for key, value in vars(args).items()
                  if key not in ("out", "quick", "families")) + " --families " + " ".join(args.families),
              "families": results}
    return write_report(report, str(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
