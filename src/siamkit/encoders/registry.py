"""The encoder registry (:data:`ENCODERS`): ``create_encoder(name, **kw)``, ``list_encoders()``.

Registration is explicit (``register_encoder``), never a side effect of importing a module.
Each encoder created here remembers its name and arguments, so a saved model can rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from siamkit.encoders.convnet import ConvNet
from siamkit.encoders.mlp import MLPEncoder
from siamkit.encoders.resnet import ResNet
from siamkit.encoders.signet import SigNet
from siamkit.encoders.text import text_encoder
from siamkit.registry import Registry, not_imported, plugin_module

EncoderFactory = Callable[..., nn.Module]

#: The encoders by name (``model.encoder``), a :class:`~siamkit.registry.Registry` like the others.
ENCODERS: Registry[nn.Module] = Registry("encoder")
ENCODERS.register("convnet", ConvNet)
ENCODERS.register("resnet", ResNet)
ENCODERS.register("mlp", MLPEncoder)
ENCODERS.register("signet", SigNet)
ENCODERS.register("text", text_encoder)


def register_encoder(name: str, factory: EncoderFactory, overwrite: bool = False) -> None:
    """Add an encoder so ``create_encoder(name)`` and saved models can build it.

    The factory must return an ``nn.Module`` with ``num_features`` and ``forward(x) -> (N, F)``.
    """
    ENCODERS.register(name, factory, overwrite=overwrite)


def list_encoders() -> list[str]:
    """Names accepted by :func:`create_encoder`."""
    return ENCODERS.names()


def create_encoder(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered encoder by name (its keyword arguments checked against its signature).

    >>> enc = create_encoder("convnet", in_channels=1)
    >>> enc.num_features
    128
    """
    encoder = ENCODERS.build(name, **kwargs)
    if not isinstance(getattr(encoder, "num_features", None), int):
        raise TypeError(f"encoder {name!r} must expose an integer `num_features`")
    # the arguments in the form the spec records (a text encoder's folder path: ./m, m/ and m
    # give m, from the string alone), and those its defaults resolved to (a text encoder's
    # window): a saved model rebuilds the encoder it ran, not whatever a later default rule
    # would make of the arguments given
    given, resolved = kwargs, getattr(encoder, "resolved_kwargs", None)
    named = _spec_kwargs(encoder, given)
    window = resolved() if callable(resolved) else {}
    kwargs = {**named, **window}
    spec: dict[str, Any] = {"name": name, "kwargs": _jsonable(kwargs)}
    if module := plugin_module(ENCODERS.get(name)):  # a user's encoder: where to find it again
        spec["module"] = module
    encoder.siamkit_spec = spec  # type: ignore[assignment]
    # the spec recorded before the resolved arguments were (only the given ones, as typed),
    # where it describes the same encoder: a model built from it and never saved has that
    # spec's fingerprint as a former one (former_encoder_specs), so its earlier galleries open
    former = getattr(encoder, "former_kwargs", None)
    if kwargs != named and callable(former) and (before := former(given)) is not None:
        encoder.siamkit_former_spec = {**spec, "kwargs": _jsonable(before)}  # type: ignore[assignment]
    # and the one recorded with the window but the folder's path as typed (./m), a former too
    if named != given:
        typed = {**spec, "kwargs": _jsonable({**given, **window})}
        encoder.siamkit_typed_spec = typed  # type: ignore[assignment]
    return encoder


def _spec_kwargs(encoder: nn.Module, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` in the form an encoder's spec records them (``spec_kwargs``: a text encoder's
    folder path, :func:`~siamkit.encoders.text_spec_path.spec_path`), else as given."""
    form = getattr(encoder, "spec_kwargs", None)
    return dict(form(given)) if callable(form) else dict(given)


def rebuild_encoder(spec: dict[str, Any]) -> nn.Module:
    """The encoder a saved model describes (:func:`encoder_spec`), keeping that description.

    A user's encoder that is not registered here is a
    :class:`~siamkit.registry.PluginNotImportedError` naming the module that registers it.
    """
    name = spec["name"]
    if name not in ENCODERS and spec.get("module"):
        raise not_imported("encoder", name, spec["module"])
    encoder = create_encoder(name, **spec["kwargs"])
    encoder.siamkit_spec = dict(spec)  # type: ignore[assignment]  # as saved: same fingerprint
    return encoder


def encoder_spec(encoder: nn.Module) -> dict[str, Any]:
    """The ``{"name", "kwargs"}`` an encoder was created with; clear error for a hand-made module."""
    spec = getattr(encoder, "siamkit_spec", None)
    if spec is None:
        raise ValueError(
            f"this {type(encoder).__name__} was not made by siamkit.encoders.create_encoder, so a saved model "
            "could not rebuild it; register its factory with register_encoder(name, factory) and create it by name"
        )
    return dict(spec)


def former_encoder_spec(encoder: nn.Module) -> dict[str, Any] | None:
    """The spec an encoder's :func:`create_encoder` call recorded before it recorded the
    arguments the defaults resolved to (a text encoder's window), where that describes the same
    encoder; ``None`` if there is none, or it is the spec the encoder keeps (one rebuilt from a
    saved spec keeps that spec)."""
    former = getattr(encoder, "siamkit_former_spec", None)
    if former is None or former == getattr(encoder, "siamkit_spec", None):
        return None
    return dict(former)


def former_encoder_specs(encoder: nn.Module) -> list[dict[str, Any]]:
    """Every spec other than its own whose fingerprint an encoder's model has had, oldest
    first: :func:`former_encoder_spec`; its own spec with a text encoder's folder path spelled
    each way a spec held it while it recorded the path as typed (``./m``, ``m/``, ``m`` and
    ``./m/`` for the ``m`` it records now, or the ``./m`` a folder saved then records:
    ``spelled_kwargs``), so the galleries enrolled then with any of them open, and those a
    model built now enrolls open with such a folder; and, for an encoder built by
    :func:`create_encoder`, its spec with the path as the caller typed it, where that is none
    of those (``m//``). Each derives from the spec's strings alone, never the working
    directory, so a project moved or copied whole keeps them."""
    spec = getattr(encoder, "siamkit_spec", None)
    specs = [getattr(encoder, "siamkit_former_spec", None)]
    spelled = getattr(encoder, "spelled_kwargs", None)
    if isinstance(spec, dict) and isinstance(spec.get("kwargs"), dict) and callable(spelled):
        specs += [{**spec, "kwargs": kwargs} for kwargs in spelled(spec["kwargs"])]
    specs.append(getattr(encoder, "siamkit_typed_spec", None))
    out: list[dict[str, Any]] = []
    for s in specs:
        if s is not None and s != spec and s not in out:
            out.append(dict(s))
    return out


def keep_former_encoder_spec(encoder: Any, former: Any) -> None:
    """Give an encoder rebuilt from a saved folder the former spec (:func:`former_encoder_spec`)
    that :func:`~siamkit.export.bundle.save_model` recorded beside its spec: without it, the
    model that opened the galleries it enrolled under that spec refused them once saved and
    loaded (s55_R5 finding 2). Kept only where it is such a spec: the same encoder's name and
    module, arguments that are the saved spec's own less only some it resolved
    (``resolved_kwargs``), which the encoder's ``former_kwargs`` gives back as they are (the
    window they resolved to then is the one it runs at), a text encoder's folder path compared
    in the form the spec records (``spec_kwargs``: the former spec holds it as typed, ``./m``,
    the saved one ``m``); anything else is dropped, as a folder saved without one."""
    spec = getattr(encoder, "siamkit_spec", None)
    check, resolved = (getattr(encoder, a, None) for a in ("former_kwargs", "resolved_kwargs"))
    if not isinstance(spec, dict) or not isinstance(former, dict):
        return
    if not callable(check) or not callable(resolved):
        return
    given, saved = former.get("kwargs"), spec.get("kwargs")
    if not isinstance(given, dict) or not isinstance(saved, dict):
        return
    typed, form = _spec_kwargs(encoder, given), _spec_kwargs(encoder, saved)  # path: spec form
    if (
        former == spec
        or former.keys() != spec.keys()
        or any(former[k] != spec[k] for k in spec if k != "kwargs")
        or any(k not in form or form[k] != v for k, v in typed.items())
        or any(k not in given and k not in resolved() for k in saved)
        or check(dict(given)) != given
    ):
        return
    encoder.siamkit_former_spec = dict(former)


def _jsonable(kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, (int, float, str, bool, list, type(None))):
            raise TypeError(
                f"encoder argument {key}={value!r} must be a number, string, bool or list to be saved"
            )
        out[key] = value
    return out
