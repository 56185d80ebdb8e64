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

import contextlib
import difflib
import importlib
import importlib.metadata
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
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

    def accepts(self, name: str, param: str) -> bool:
        """Whether the factory ``name`` takes a keyword ``param`` (by name or ``**kwargs``)."""
        accepted = inspect.signature(self.get(name)).parameters
        return param in accepted or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()
        )

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
                f"{self.kind} {name!r} has no {'parameter' if len(unknown) == 1 else 'parameters'} "
                f"{', '.join(unknown)}; it accepts: {valid}"
            )

    def build(self, name: str, /, **params: Any) -> T:
        """Check ``params`` against the factory's signature, then call it."""
        self.check_params(name, params)
        try:
            return self.get(name)(**params)
        except TypeError as err:  # a missing required argument
            raise TypeError(f"cannot build {self.kind} {name!r}: {err}") from None


#: Ends the refusal of a config name no registry holds: a user's own part is known once the
#: module that registers it is imported (worded for the command line and for Python alike).
PLUGIN_HINT = (
    "if it is your own, import the module that registers it with siamkit --plugin MODULE "
    "(in Python, import it before loading the config)"
)


class PluginNotImportedError(ValueError):
    """A saved model names a part (an encoder, a distance) that a user's module registers, and
    that module is not imported in this process; ``part`` names it (``encoder 'tiny_cnn'``)."""

    def __init__(self, message: str, part: str = "") -> None:
        super().__init__(message)
        self.part = part


def plugin_module(factory: Callable[..., Any]) -> str | None:
    """The module that defines ``factory`` when it is not siamkit's own (a user's plug-in), else
    ``None``: what a saved model records so that loading it can say which module to import."""
    module = getattr(factory, "__module__", None) or getattr(
        getattr(factory, "func", None), "__module__", None
    )
    if not isinstance(module, str) or module == "siamkit" or module.startswith("siamkit."):
        return None
    return module


def not_imported(kind: str, name: str, module: Any) -> PluginNotImportedError:
    """The sentence for a saved ``kind`` ``name`` that ``module`` registered and this process has
    not: which module to import, and how."""
    part = f"{kind} {name!r}"
    if module == "__main__":
        return PluginNotImportedError(
            f"its {part} was registered by the script that saved it, not by a module "
            f"siamkit can import; move that code into a module and run siamkit with --plugin "
            f"MODULE (in Python, register {name!r} again before loading)",
            part,
        )
    if isinstance(module, str) and module:
        return PluginNotImportedError(
            f"its {part} is registered by the module {module!r}, which is not "
            f"imported; run siamkit with --plugin {module} (in Python, import {module} first)",
            part,
        )
    return PluginNotImportedError(
        f"its {part} is not registered here; import the module that registers it "
        "first (siamkit --plugin MODULE)",
        part,
    )


def did_you_mean(given: Sequence[str], valid: Iterable[str]) -> str:
    """`` (did you mean 'epochs'?)`` for the valid names closest to the misspelled ``given``
    (difflib's ratio >= 0.6), else ``""``: how every config check words a misspelling (torch-free,
    so the ONNX-only tracker can say it too)."""
    options = list(valid)
    close = [m for g in given for m in difflib.get_close_matches(str(g), options, n=1)]
    return f" (did you mean {', '.join(map(repr, dict.fromkeys(close)))}?)" if close else ""


def load_target(spec: str) -> Any:
    """``"package.module:attr"`` -> that attribute, imported now: how plug-ins registered by name
    (model kinds, ``task:`` runners) are found only when first used."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a plug-in target must look like 'package.module:attr', got {spec!r}")
    return getattr(importlib.import_module(module), attr)


#: The entry-point group in which an installed package names its plug-in modules
#: (``[project.entry-points."siamkit.plugins"] my_parts = "my_package.parts"``).
PLUGIN_GROUP = "siamkit.plugins"


def import_plugins(modules: Iterable[str] = (), entry_points: bool = True) -> list[str]:
    """Import the user's modules that register parts (encoders, losses, miners, distances, ...),
    so a config or a saved model can name them: how ``siamkit --plugin MODULE`` and
    ``SIAMKIT_PLUGINS`` find user code.

    Args:
        modules: module names (``my_parts``, ``lab.parts``) or ``.py`` files. A name is looked
            for on the Python path and then in the current folder (a console script does not
            search it); a file is imported from its own folder.
        entry_points: also import every module installed packages name in the
            :data:`PLUGIN_GROUP` entry-point group (a function named there is called).

    Returns:
        The names of the modules imported, in order.

    Raises:
        ImportError: one sentence naming a module that cannot be found or fails to import.
    """
    done: list[str] = []
    if entry_points:
        for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
            try:
                target = ep.load()
            except Exception as err:  # any error of the plug-in's own code
                raise ImportError(
                    f"the siamkit plug-in {ep.name!r} of an installed package ({ep.value}) failed "
                    f"to import ({type(err).__name__}: {err}); fix or uninstall that package"
                ) from err
            if callable(target) and not inspect.ismodule(target):
                target()
            done.append(ep.value)
    for spec in modules:
        done.append(_import_plugin(spec.strip()))
    return done


def recorded_plugin(spec: str) -> str:
    """How a run records the plug-in ``spec`` it was started with, to import it again: a module
    name as given, a ``.py`` file as its absolute path (a resume may run from another folder)."""
    spec = spec.strip()
    return str(Path(spec).expanduser().resolve()) if spec.endswith(".py") else spec


def plugin_name(spec: str) -> str:
    """The module name the plug-in ``spec`` is imported as (a ``.py`` file's stem)."""
    spec = spec.strip()
    return Path(spec).stem if spec.endswith(".py") else spec


#: The plug-ins this process imported (:func:`import_plugins`), as a run records them -> the
#: module name each was imported as, in order: what a saved model records (:func:`used_plugins`).
_IMPORTED: dict[str, str] = {}


def used_plugins() -> list[str]:
    """The plug-ins this process imported by name or file (``--plugin``, ``$SIAMKIT_PLUGINS``, a
    config's ``plugins:``, a loaded model's), as a run records them, that are still imported:
    what a saved model of a user's parts records so that loading it imports them again."""
    return [spec for spec, name in _IMPORTED.items() if name in sys.modules]


#: Whether loading a saved model imports the plug-in modules it records (``plugins`` in
#: ``siamkit.json``) when the caller does not say (``load_model(trust_plugins=None)``): off, as
#: importing runs their code; ``siamkit --trust-plugins`` turns it on for its command.
_TRUST_RECORDED = False


def trusts_recorded_plugins() -> bool:
    """Whether a saved model's recorded plug-ins are imported when loading it does not say
    (:func:`trusting_recorded_plugins`); ``False`` unless a command was told to trust them."""
    return _TRUST_RECORDED


@contextlib.contextmanager
def trusting_recorded_plugins() -> Iterator[None]:
    """Within it, loading a saved model (``load_model`` not given ``trust_plugins``) imports the
    plug-in modules it records: what ``siamkit --trust-plugins`` does for its command, so every
    command that loads a model (and ``serve``) does it without each passing the choice on."""
    global _TRUST_RECORDED
    before, _TRUST_RECORDED = _TRUST_RECORDED, True
    try:
        yield
    finally:
        _TRUST_RECORDED = before


class PluginImportError(ImportError):
    """A plug-in module that cannot be imported; ``reason`` says why in a few words (the
    message says it whole, with what to do)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _import_plugin(spec: str) -> str:
    folder = None
    name = spec
    if spec.endswith(".py"):
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise PluginImportError(
                f"plug-in file {spec} does not exist; give an existing .py file or a module name",
                "no such file",
            )
        folder, name = str(path.parent), path.stem
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise PluginImportError(
            f"{spec!r} is not a module name; give one as 'my_parts' or 'lab.parts', or a .py file",
            "not a module name",
        )
    if folder is not None and folder not in sys.path:
        sys.path.insert(0, folder)  # the file named is the one imported
    elif folder is None and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # after installed modules: a local file never shadows them
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
            raise PluginImportError(
                f"cannot find the plug-in module {name!r}; run siamkit in the folder that holds "
                f"{name.replace('.', '/')}.py, add that folder to PYTHONPATH, or install the "
                "package that provides it",
                "not found on the Python path or in the current folder",
            ) from None
        raise PluginImportError(
            f"the plug-in module {name!r} failed to import ({err}); install what it needs",
            str(err),
        ) from err
    except Exception as err:  # any error of the plug-in's own code
        raise PluginImportError(
            f"the plug-in module {name!r} failed to import ({type(err).__name__}: {err}); fix it "
            "and run again",
            f"{type(err).__name__}: {err}",
        ) from err
    _IMPORTED[recorded_plugin(spec)] = name
    return name
