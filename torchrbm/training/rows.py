"""The rows training stores, and how a model reads them: the hooks a model may offer for extra inputs
per row (a conditional model's context), and what training does for a model that offers none.

A model that takes extra inputs per row offers

* ``join_context(rows, context, name) -> Tensor``: check ``context`` (called ``name`` in errors, and
  required) against the checked data ``rows`` and join the two into the rows that training stores;
* ``split_rows(rows) -> (visible rows, inputs)``: stored rows taken apart again, ``inputs`` a dict of
  keyword arguments (``{"context": ...}``), one row of each per row;
* ``condition(**inputs)``: the model of the visible rows given those inputs, on which their statistics
  are measured and a sampler's chains run;

and takes the same keyword arguments in ``free_energy_grad``.  Such a model trains with ``CD(k)``,
whose chains start from the data and so share its inputs, or ``PCD``, whose chain ``i`` is
conditioned on the batch's row ``i mod N``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils.validation import as_sample_weight
from ..data.batches import RowSource, TensorRows, row_source
from ..models.protocol import EnergyModel
from ..sampling.samplers import CD, PCD, Sampler
from .settings import TrainingSettings


def join_context(model: EnergyModel, rows: Tensor, context, name: str) -> Tensor:
    """``model.join_context(rows, context, name)``; without that hook, ``rows`` (and no ``context``)."""
    join = getattr(model, "join_context", None)
    if join is not None:
        return join(rows, context, name)
    if context is not None:
        raise ValueError(f"{name}= is for a ConditionalRBM; this model is a {type(model).__name__}")
    return rows


def training_source(model: EnergyModel, data, context, settings: TrainingSettings,
                    sample_weight=None) -> RowSource:
    """``data`` (and its ``context``) as the checked rows of a training run, each followed by its sample
    weight if there are any (:func:`with_sample_weight`); a context also has the run's options checked
    against it."""
    conditional = context is not None or hasattr(model, "join_context")
    if not conditional and sample_weight is None:
        return row_source(data, model)
    rows = join_context(model, model.check_data(data), context, "context")
    source = TensorRows(rows if sample_weight is None else with_sample_weight(rows, sample_weight))
    if conditional and (type(settings.sampler) not in (CD, PCD) or settings.centered
                        or settings.log_likelihood_every):
        raise ValueError(f"a {type(model).__name__} trains with CD(k) or PCD (each chain conditioned on a context "
                         "of the batch), without centering or likelihood monitoring")
    source.prepare(model)
    return source


def with_sample_weight(rows: Tensor, sample_weight) -> Tensor:
    """``rows`` with a last column holding each row's weight (checked: one finite weight ``>= 0`` per row,
    not all zero); the rows become floating point."""
    weights = as_sample_weight(sample_weight, rows.shape[0])
    dtype = rows.dtype if rows.is_floating_point() else torch.get_default_dtype()
    return torch.cat([rows.to(dtype), weights.to(device=rows.device, dtype=dtype)[:, None]], 1)


def split_sample_weight(rows: Tensor, weighted: bool) -> tuple[Tensor, Tensor | None]:
    """Stored ``rows`` without their last column of sample weights (if ``weighted``), and those weights
    (``None`` if not)."""
    return (rows[:, :-1], rows[:, -1]) if weighted else (rows, None)


def validation_rows(model: EnergyModel, data, context, *, with_context: bool) -> Tensor:
    """The held-out rows of ``data`` (and ``context``, which a run trained ``with_context`` needs)."""
    rows = model.check_data(data, "validation_data")
    if with_context and context is None:
        raise ValueError(f"validation_data for a {type(model).__name__} needs its validation_context")
    return join_context(model, rows, context, "validation_context")


def split_rows(model: EnergyModel, rows: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """``model.split_rows(rows)``; without that hook, ``(rows, {})``."""
    split = getattr(model, "split_rows", None)
    return (rows, {}) if split is None else split(rows)


def given(model: EnergyModel, inputs: dict[str, Tensor]):
    """``model`` given per-row ``inputs`` (``model.condition(**inputs)``); ``model`` itself without inputs."""
    return model.condition(**inputs) if inputs else model


def model_for_rows(model: EnergyModel, rows: Tensor):
    """The model that generates the visible part of stored ``rows`` (given their other inputs), and that part."""
    v, inputs = split_rows(model, rows)
    return given(model, inputs), v


def chains_for_rows(model: EnergyModel, row_model, inputs: dict[str, Tensor], sampler: Sampler):
    """The model on which ``sampler``'s chains run for a batch of ``row_model`` (``model`` given the batch's
    ``inputs``), and the chains' inputs: the batch's own for chains that start from it, else, for chain
    ``i`` of ``n_chains``, those of the batch's row ``i mod N``."""
    if not inputs or sampler.starts_from_data:
        return row_model, inputs
    first = next(iter(inputs.values()))
    rows = torch.arange(sampler.n_chains, device=first.device) % first.shape[0]
    chain_inputs = {name: value[rows] for name, value in inputs.items()}
    return given(model, chain_inputs), chain_inputs
