"""Training deep belief networks: greedy layer-wise pretraining (Hinton, Osindero & Teh 2006)
and fine-tuning as a classifier by backpropagation.

:class:`DBN` is :class:`~torchrbm.models.dbn.DeepBeliefNet` with these two methods; the
structure (layers, up-pass, sampling, inpainting, the feed-forward network) lives in the
models layer, which knows nothing of training.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._utils import threads
from .._utils.progress import Progress
from .._utils.validation import check_positive_int
from ..models.classification import check_labels
from ..models.dbn import DeepBeliefNet
from .fit import fit
from .monitor import History
from .schedules import lr_at


class DBN(DeepBeliefNet):
    """A deep belief network: :class:`~torchrbm.models.dbn.DeepBeliefNet` (whose parameters it takes)
    with greedy layer-wise pretraining (:meth:`pretrain`) and fine-tuning as a classifier
    (:meth:`fine_tune`)."""

    def pretrain(self, data, settings: Mapping[str, Any] | Sequence[Mapping[str, Any]] = (),
                 **common: Any) -> list[History]:
        """Greedy layer-wise training: fit layer ``l`` with :func:`torchrbm.fit` to the
        up-pass of ``data`` through the layers below it.

        ``common`` options (``epochs``, ``lr``, ``sampler``, ...) apply to every layer;
        ``settings`` (one mapping per layer, or one for all) override them per layer.
        Returns one :class:`History` per layer.
        """
        if isinstance(settings, Mapping):
            settings = [settings] * len(self.layers)
        settings = list(settings) or [{}] * len(self.layers)
        if len(settings) != len(self.layers):
            raise ValueError(f"settings has {len(settings)} entries for {len(self.layers)} layers")
        x = self.check_data(data)
        histories = []
        for index, layer in enumerate(self.layers):
            options = {**common, **settings[index]}
            if options.get("sampler") is not None:
                options["sampler"] = copy.deepcopy(options["sampler"])  # no chains shared between layers
            histories.append(fit(layer, x, **options))
            if index + 1 < len(self.layers):
                x = self._up(layer, x)
        return histories

    @threads.per_call(lambda arguments: (arguments["self"], arguments["batch_size"]))
    def fine_tune(self, x, y, *, n_classes: int | None = None, epochs: int = 50, batch_size: int = 100,
                  lr: float | Callable[[int], float] = 0.1, momentum: float = 0.9, weight_decay: float = 0.0,
                  validation_fraction: float = 0.1, patience: int = 5, seed: int | None = None,
                  progress: bool = False) -> History:
        """Train a classifier: the up-pass network (:meth:`to_torch`) with a linear softmax
        output layer, by backpropagation of the cross-entropy (SGD with momentum).

        ``lr`` is a number or a function ``epoch -> learning rate``.  A random
        ``validation_fraction`` of the examples is held out; training stops
        when its error has not improved for ``patience`` epochs, and the network of
        the best epoch is kept as :attr:`classifier`.  The RBMs are not changed.
        History records: ``epoch``, ``train_loss``, ``valid_error``, ``time``.  ``progress``
        reports each epoch's loss and validation error on stderr (:mod:`torchrbm.progress`).
        """
        x = self.check_data(x, "x")
        n_classes = int(check_labels(y, x.shape[0]).max()) + 1 if n_classes is None else n_classes
        labels = check_labels(y, x.shape[0], check_positive_int(n_classes, "n_classes", minimum=2))
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1); found {validation_fraction}")
        epochs, patience = check_positive_int(epochs, "epochs"), check_positive_int(patience, "patience")
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        order = torch.randperm(x.shape[0], generator=generator)
        n_valid = math.floor(validation_fraction * x.shape[0])
        valid, train = order[:n_valid], order[n_valid:]
        network = self._classifier_network(n_classes, generator)
        optimizer = torch.optim.SGD(network.parameters(), lr=lr_at(lr, 0), momentum=momentum,
                                    weight_decay=weight_decay)
        # On the model's device once (in their own dtype: binary data stay compact), so that a
        # step neither copies from the host nor reads its loss back.
        train_x = x[train].to(self.device, self.dtype if x.is_floating_point() else x.dtype)
        classifier = _Classifier(network, optimizer, self.dtype, batch_size, generator)
        history, best_error = classifier.fit((train_x, labels[train].to(self.device)), (x[valid], labels[valid]),
                                             lr, epochs=epochs, patience=patience, progress=progress)
        self.classifier = network.eval()
        if n_valid:
            _warn_if_no_better_than_the_majority(best_error, labels[valid], lr_at(lr, 0))
        return history


class _Classifier:
    """Fine-tuning's network and optimizer, trained on mini-batches of ``batch_size`` rows drawn
    with ``generator``, its inputs in ``dtype``."""

    def __init__(self, network: nn.Module, optimizer: torch.optim.Optimizer, dtype: torch.dtype, batch_size: int,
                 generator: torch.Generator) -> None:
        self.network, self.optimizer, self.dtype = network, optimizer, dtype
        self.batch_size, self.generator = batch_size, generator

    def fit(self, train: tuple[Tensor, Tensor], valid: tuple[Tensor, Tensor], lr: float | Callable[[int], float], *,
            epochs: int, patience: int, progress: bool) -> tuple[History, float]:
        """Train until ``epochs`` or until the error on the ``valid`` rows (if any) has not improved for
        ``patience`` epochs; end with the best epoch's network.  Returns the history and the best error."""
        history, best, best_error, waited = History(), None, math.inf, 0
        n_valid = valid[0].shape[0]
        bar = Progress(total=epochs, desc="fine-tuning", unit="epoch", enabled=progress, lines="each")
        for epoch in range(epochs):
            start = time.perf_counter()
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(lr, epoch)
            train_loss = self.epoch(*train)
            error = _error_rate(self.network, *valid, train[0].device, self.dtype) if n_valid else math.nan
            history.append({"epoch": epoch, "train_loss": train_loss, "valid_error": error,
                            "lr": lr_at(lr, epoch), "time": time.perf_counter() - start})
            bar.set_postfix(loss=f"{train_loss:.4f}", valid_error=f"{error:.4f}")
            bar.update()
            if not n_valid or error < best_error:
                best, best_error, waited = copy.deepcopy(self.network.state_dict()), error, 0
            else:
                waited += 1
                if waited >= patience:
                    break
        bar.close()
        self.network.load_state_dict(best)
        return history, best_error

    def epoch(self, x: Tensor, labels: Tensor) -> float:
        """One pass of SGD over the rows in random order; the mean cross-entropy
        ``-(1/N) sum_n log p(y_n | x_n)`` of its mini-batches, each weighted by its rows."""
        network, optimizer = self.network, self.optimizer
        network.train()
        shuffled = torch.randperm(x.shape[0], generator=self.generator).to(x.device)
        total = torch.zeros((), device=x.device, dtype=torch.float64)
        for first in range(0, shuffled.shape[0], self.batch_size):
            rows = shuffled[first : first + self.batch_size]
            loss = F.cross_entropy(network(x[rows].to(self.dtype)), labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * rows.shape[0]
        return float(total) / x.shape[0]


@torch.no_grad()
def _error_rate(network: nn.Module, x: Tensor, labels: Tensor, device, dtype, chunk: int = 8192) -> float:
    network.eval()
    wrong = sum(int((network(x[start : start + chunk].to(device=device, dtype=dtype)).argmax(-1)
                     != labels[start : start + chunk].to(device)).sum()) for start in range(0, x.shape[0], chunk))
    network.train()
    return wrong / x.shape[0]


def _warn_if_no_better_than_the_majority(error: float, valid_labels: Tensor, lr: float) -> None:
    """Warn when the fine-tuned classifier's validation error is no better than always answering
    the most frequent class: the gradient did not reach the lower layers (features too weak, lr too small)."""
    majority_error = 1.0 - float(torch.bincount(valid_labels).max()) / valid_labels.numel()
    if error >= majority_error:
        warnings.warn(f"fine-tuning learnt nothing: its best validation error {error:.3f} is no better than always "
                      f"answering the most frequent class ({majority_error:.3f}); pretrain longer or with a larger "
                      f"learning rate, or fine-tune with a larger lr than {lr:g}", RuntimeWarning, stacklevel=3)
