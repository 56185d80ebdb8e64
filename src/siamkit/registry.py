"""A small name -> factory registry, the pattern of :mod:`siamkit.encoders.registry`.

A registry holds one kind of part (losses, miners, optimizers, ...). ``build(name, **params)``
checks ``params`` against the factory's signature before calling it, so a misspelt key is one
clear sentence naming the key and the accepted ones; an unknown name lists the registered names.
Registration is explicit (``register``), never a side effect of importing a module.

>>> import torch
>>> acts = Registry("activation")
>>> acts.register("relu", torch.nn.ReLU)
>>> acts.build("relu")
ReLU()
>>> acts.build("gelu")
Traceback (most recent call last):
...
ValueError: unknown activation 'gelu'; choose one of relu
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories of one kind of part.

    Args:
        kind: what the parts are, used in error messages (``"loss"``, ``"miner"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T], overwrite: bool = False) -> None:
        """Add ``factory`` under ``name``; an existing name needs ``overwrite=True``."""
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} name must be a non-empty string")
        if name in self._factories and not overwrite:
            raise ValueError(
                f"a {self.kind} named {name!r} is already registered; pass overwrite=True to replace it"
            )
        self._factories[name] = factory

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in's or a test's own part); an unknown name lists the names."""
        self.get(name)
        del self._factories[name]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; a ``ValueError`` listing the names otherwise."""
        try:
            return self._factories[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}"
            ) from None

    def check_params(
        self, name: str, params: dict[str, Any], supplied: tuple[str, ...] = ()
    ) -> None:
        """Raise a ``TypeError`` naming any key of ``params`` the factory does not accept (and
        the ones it does, less ``supplied``: those its caller passes itself)."""
        sig = inspect.signature(self.get(name))
        accepted = sig.parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            return
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            valid = ", ".join(p for p in accepted if p != "self" and p not in supplied) or "nothing"
            raise TypeError(
                f"{self.kind} {name!r} has no parameter(s) {', '.join(unknown)}; it accepts: {valid}"
            )

    def build(self, name: str, /, **params: Any) -> T:
        """Check ``params`` against the factory's signature, then call it."""
        self.check_params(name, params)
        try:
            return self.get(name)(**params)
        except TypeError as err:  # a missing required argument
            raise TypeError(f"cannot build {self.kind} {name!r}: {err}") from None


def load_target(spec: str) -> Any:
    """``"package.module:attr"`` -> that attribute, imported now: how plug-ins registered by name
    (model kinds, ``task:`` runners) are found only when first used."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a plug-in target must look like 'package.module:attr', got {spec!r}")
    return getattr(importlib.import_module(module), attr)
