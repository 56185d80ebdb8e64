"""Read and write :class:`~siamkit.training.config.RunConfig` as YAML, with strict checks.

Unknown sections and keys are rejected by name (with the valid ones listed), and every value is
checked against its field's type, so a typo never silently falls back to a default.

>>> cfg = config_from_dict({"train": {"epochs": 2}})
>>> cfg.train.epochs, cfg.train.seed
(2, 0)
"""

from __future__ import annotations

import dataclasses
import os
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from siamkit.atomic import NotUtf8Error, atomic_write, read_utf8
from siamkit.clauses import in_number, listed
from siamkit.training.config import AppearanceConfig, RunConfig
from siamkit.training.config_checks import check_config
from siamkit.training.config_sections import (
    _PART_SECTIONS,
    ConfigError,
    _section,
    unknown_sections_message,
)

#: The flat ``model.appearance_skip_<key>`` keys of older configs and checkpoints stand for
#: ``model.appearance.<key>``.
LEGACY_APPEARANCE_PREFIX = "appearance_skip_"
APPEARANCE_KEYS = tuple(f.name for f in dataclasses.fields(AppearanceConfig))


def _off(weight: Any) -> bool:
    return isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight == 0


def _read_appearance(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its ``model.appearance`` section as :class:`AppearanceConfig` reads it:
    ``weight: 0`` means off (``null``), and the flat ``model.appearance_skip_*`` keys of older
    configs and checkpoints become the section (a ``DeprecationWarning``; weight 0, their default,
    is off).

    >>> _read_appearance({"model": {"appearance": {"weight": 0, "pool": 7}}})
    {'model': {'appearance': None}}
    """
    model = doc.get("model")
    if not isinstance(model, dict):
        return doc
    n = len(LEGACY_APPEARANCE_PREFIX)
    flat = {k[n:]: v for k, v in model.items() if k.startswith(LEGACY_APPEARANCE_PREFIX)}
    rest = {k: v for k, v in model.items() if not k.startswith(LEGACY_APPEARANCE_PREFIX)}
    if flat:
        unknown = sorted(set(flat) - set(APPEARANCE_KEYS))
        if unknown:
            names = ", ".join(LEGACY_APPEARANCE_PREFIX + k for k in unknown)
            raise ConfigError(
                f"unknown {in_number(len(unknown), 'key')} {names} in section 'model'; the "
                "appearance features are "
                f"model.appearance: {{{', '.join(APPEARANCE_KEYS)}}}"
            )
        if "appearance" in model:
            both = ", ".join(f"model.{LEGACY_APPEARANCE_PREFIX}{k}" for k in flat)
            raise ConfigError(
                f"model.appearance and the flat {in_number(len(flat), 'key')} {both} both set the "
                "same thing; keep "
                "model.appearance"
            )
        warnings.warn(
            f"the flat model.{LEGACY_APPEARANCE_PREFIX}* keys are deprecated; write them as one "
            f"section, model.appearance: {{{', '.join(f'{k}: ...' for k in flat)}}}",
            DeprecationWarning,
            stacklevel=3,
        )
        rest["appearance"] = {"weight": 0.0, **flat}
    section = rest.get("appearance")
    if isinstance(section, dict) and _off(section.get("weight")):
        rest["appearance"] = None
    return {**doc, "model": rest}


#: The top-level key naming the modules that register a user's parts the config names
#: (``plugins: [my_parts]``): imported before the config is checked, as ``siamkit --plugin``
#: does; a run started with ``--plugin`` writes it in its ``config.yaml``.
PLUGINS_KEY = "plugins"


def config_plugins(doc: Any) -> list[str]:
    """Import the modules a config document's ``plugins:`` names and return them as a run
    records them (:func:`~siamkit.registry.recorded_plugin`); ``[]`` without the key.

    Raises:
        ConfigError: ``plugins`` is not a list of module names or ``.py`` files, or one of them
            cannot be imported (one sentence naming it).
    """
    from siamkit.registry import import_plugins, recorded_plugin

    raw = doc.get(PLUGINS_KEY) if isinstance(doc, dict) else None
    if raw is None:
        return []
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(
            f"plugins must be a list of module names or .py files, e.g. plugins: [my_parts]; "
            f"got {raw!r}"
        )
    try:
        import_plugins(names, entry_points=False)
    except ImportError as err:
        raise ConfigError(f"plugins: {err}") from None
    return [recorded_plugin(n) for n in names]


def without_plugins(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An application config (``task:``) with its ``plugins:`` imported (:func:`config_plugins`)
    and dropped, so the task's own checks see only its sections; returns it and the modules as a
    run records them."""
    if not isinstance(doc, dict) or PLUGINS_KEY not in doc:
        return doc, []
    plugins = config_plugins(doc)
    return {k: v for k, v in doc.items() if k != PLUGINS_KEY}, plugins


def with_plugins(doc: dict[str, Any], plugins: Sequence[str]) -> dict[str, Any]:
    """``doc`` as a run writes it: ``plugins`` (deduplicated) first as ``plugins:``, so the config
    read again imports them (:func:`dump_config`'s rule); ``doc`` itself without any."""
    return {PLUGINS_KEY: list(dict.fromkeys(plugins)), **doc} if plugins else doc


def read_config_plugins(path: str | os.PathLike[str]) -> list[str]:
    """:func:`config_plugins` of the YAML file ``path`` (a run's ``config.yaml``): its modules
    imported, errors naming the file."""
    doc = read_yaml(path)
    try:
        return config_plugins(doc)
    except ConfigError as err:
        raise ConfigError(f"{os.fspath(path)}: {err}") from None


#: A self-supervised config's own top-level keys (siamkit.applications.ssl.config), which a
#: config without ``task: ssl`` is read as a supervised one and refuses.
_SSL_KEYS = ("method", "views", "ssl")


def _ssl_hint(unknown: list[str]) -> str:
    """The end of the unknown-sections sentence when some of ``unknown`` are a self-supervised
    config's keys: its ``task: ssl`` line was left out (a copy of configs/simclr.yaml without
    it), which the bare list of a supervised config's sections did not say.

    >>> _ssl_hint(["method", "views"])
    '; method and views belong to a self-supervised config: put task: ssl at its top, as configs/simclr.yaml does'
    >>> _ssl_hint(["trian"])
    ''
    """
    ssl = [k for k in unknown if k in _SSL_KEYS]
    if not ssl:
        return ""
    names = listed(ssl)
    return (
        f"; {names} belong{'s' * (len(ssl) == 1)} to a self-supervised config: put task: ssl at "
        "its top, as configs/simclr.yaml does"
    )


def config_from_dict(doc: dict[str, Any] | None) -> RunConfig:
    """Build a checked :class:`RunConfig` from nested mappings (sections -> keys -> values); a
    top-level ``plugins:`` is imported first (:func:`config_plugins`)."""
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError("a config is a mapping of sections (data, model, loss, ...) to keys")
    if PLUGINS_KEY in doc:
        config_plugins(doc)
        doc = {k: v for k, v in doc.items() if k != PLUGINS_KEY}
    if "task" in doc:  # a whole YAML file's mapping, as load_config reads it
        from siamkit.training.tasks import DEFAULT_TASK

        task = doc["task"]
        if task not in (None, DEFAULT_TASK):
            raise ConfigError(
                f"this is a task: {task} config, not a supervised embedding one; run it with "
                f"siamkit.training.get_task({task!r})(the mapping without task, out_dir, "
                "TaskOptions())"
            )
        doc = {k: v for k, v in doc.items() if k != "task"}
    sections = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = [k for k in doc if k not in sections]
    if unknown:
        raise ConfigError(unknown_sections_message(unknown, sections) + _ssl_hint(unknown))
    doc = _read_appearance(doc)
    hints = typing.get_type_hints(RunConfig)
    parts = {name: _section(hints[name], doc.get(name), name) for name in sections}
    try:
        return check_config(RunConfig(**parts))
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from None


#: The parts' params fields added with the ``{kind, params}`` form: left out of a plain dict while
#: empty, so a config that does not use them is written, and compared with the config saved in an
#: older checkpoint or study, exactly as before.
_OPTIONAL_PARAMS = frozenset(
    {"dataset_params", "distance_params", "miner_params", "optimizer_params", "schedule_params"}
)


def plain_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) of any config dataclass, ready for YAML or JSON."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = plain_dict(value)
        elif not (type(cfg) in _PART_SECTIONS and f.name in _OPTIONAL_PARAMS and not value):
            out[f.name] = plain(value)
    return out


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) of a config, ready for YAML or JSON."""
    return plain_dict(cfg)


def yaml_error(path: str | os.PathLike[str], err: yaml.YAMLError) -> str:
    """A YAML parser error as one line, ``FILE line N: not valid YAML, <problem>`` (the parser's
    own dump names ``"<unicode string>"`` and spreads over several lines).

    >>> try:
    ...     yaml.safe_load("a: 1\\nb: [2\\n")
    ... except yaml.YAMLError as e:
    ...     print(yaml_error("x.yaml", e))
    x.yaml line 3: not valid YAML, expected ',' or ']', but got '<stream end>' (while parsing a flow sequence that starts on line 2)
    """
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"{os.fspath(path)} line {mark.line + 1}" if mark is not None else os.fspath(path)
    context = getattr(err, "context", None)
    start = getattr(err, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        context = f"{context} that starts on line {start.line + 1}"
    return f"{where}: not valid YAML, {problem}" + (f" ({context})" if context else "")


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The YAML document in ``path``; a syntax error, or bytes that are not UTF-8, is a
    :class:`ConfigError` of one line (:func:`yaml_error`, :func:`~siamkit.atomic.read_utf8`)."""
    try:
        return yaml.safe_load(read_utf8(path))
    except yaml.YAMLError as err:
        raise ConfigError(yaml_error(path, err)) from None
    except NotUtf8Error as err:
        raise ConfigError(str(err)) from None


def _shipped_hint(path: Path) -> str:
    """``"; siamkit ships ..."`` when siamkit ships a config of that file name (an installed
    siamkit has no ``configs/`` folder until ``siamkit configs`` writes one), else ``""``."""
    from importlib import resources

    try:
        shipped = (resources.files("siamkit") / "configs" / path.name).is_file()
    except (OSError, ValueError):  # pragma: no cover - a broken installation
        return ""
    if not shipped:
        return ""
    return f"; siamkit ships a {path.name}: `siamkit configs` writes its example configs into ./configs"


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read a YAML config file; every key it leaves out keeps its default.

    A top-level ``task: embedding`` (this kind of run) is allowed; another task is refused (an
    application's config, which ``siamkit train`` hands to its own runner).

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: invalid YAML, an unknown section or key (named), a value of the wrong type,
            or another task's config.

    >>> load_config("configs/demo.yaml")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {p} does not exist{_shipped_hint(p)}")
    doc = read_yaml(p)
    if isinstance(doc, dict) and "task" in doc:
        from siamkit.training.tasks import DEFAULT_TASK

        task = doc.get("task")
        if task not in (None, DEFAULT_TASK):
            raise ConfigError(
                f"{p} is a `task: {task}` config, which only siamkit train runs; this needs a "
                f"supervised embedding config (no task:, or task: {DEFAULT_TASK})"
            )
        doc = {k: v for k, v in doc.items() if k != "task"}
    try:
        return config_from_dict(doc)
    except ConfigError as err:
        raise ConfigError(f"{p}: {err}") from None


def dump_config(cfg: RunConfig, path: str | os.PathLike[str], plugins: Sequence[str] = ()) -> Path:
    """Write the fully resolved config as YAML (atomically) and return the path; ``plugins``
    (the modules the run was started with) go first as ``plugins:``, so the config read again
    (``--resume``, ``siamkit train`` of it) imports them."""
    doc = with_plugins(config_to_dict(cfg), plugins)
    return atomic_write(path, yaml.safe_dump(doc, sort_keys=False))
