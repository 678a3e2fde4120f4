"""The registry of model classes: what :func:`torchrbm.load` rebuilds a model from."""

from __future__ import annotations

from typing import Any

from .._utils.registry import Registry

#: Every model class by name, the ``"class"`` of its configuration (filled by :class:`RegisteredModel`).
MODELS: Registry[Any] = Registry("model")


class RegisteredModel:
    """Mixin that registers each model class under its class name as it is defined, so that a
    model class written in user code saves and loads like the built-in ones.  Classes whose name
    starts with an underscore (views, helpers) are not registered."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        abstract = any(getattr(member, "__isabstractmethod__", False) for member in vars(cls).values())
        if not (cls.__name__.startswith("_") or abstract):
            MODELS.register(cls.__name__, cls)
