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
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml

from siamkit.atomic import atomic_write
from siamkit.training.config import RunConfig, check_config


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message names the key."""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to ``tp`` (lists become tuples) or raise ``ConfigError``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(tp)):
            return None
        if len(args) == 1:  # Optional[X]: X's own message names the offending item
            return _coerce(value, args[0], where)
        for arg in args:
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                if typing.get_origin(arg) is tuple and isinstance(value, (list, tuple)):
                    raise  # a list with a wrong item: its message names the item
                continue
    elif tp is type(None):
        if value is None:
            return None
    elif tp is Any:
        return value
    elif origin is tuple:
        if isinstance(value, (list, tuple)):
            item = typing.get_args(tp)[0]
            return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    elif origin is dict:
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return dict(value)
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")


def _section(cls: type, values: Any, name: str) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"section '{name}' must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise ConfigError(
            f"unknown key {', '.join(map(repr, unknown))} in section '{name}'; "
            f"valid keys: {', '.join(fields)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{name}.{k}") for k, v in values.items()}
    return cls(**kwargs)


#: ``model.appearance.<key>`` -> the flat ``model.appearance_skip_<key>`` it stands for.
APPEARANCE_KEYS = ("weight", "pool", "features", "bins", "signed", "levels", "in_loss")


def _nested_appearance(doc: dict[str, Any]) -> dict[str, Any]:
    """Read a nested ``model: {appearance: {weight: .., pool: .., ...}}`` section as the flat
    ``model.appearance_skip_*`` keys (which older configs and checkpoints use, and which still work).

    >>> _nested_appearance({"model": {"appearance": {"weight": 0.5}}})
    {'model': {'appearance_skip_weight': 0.5}}
    """
    model = doc.get("model")
    if not isinstance(model, dict) or "appearance" not in model:
        return doc
    nested = model["appearance"]
    if not isinstance(nested, dict):
        raise ConfigError("model.appearance must be a mapping, e.g. {weight: 0.5, features: hog}")
    unknown = sorted(set(nested) - set(APPEARANCE_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} in model.appearance; valid keys: {', '.join(APPEARANCE_KEYS)}"
        )
    flat = {f"appearance_skip_{k}": v for k, v in nested.items()}
    both = sorted(k for k in flat if k in model)
    if both:
        raise ConfigError(
            f"model.appearance and the flat key(s) {', '.join(both)} both set the same thing; keep one"
        )
    rest = {k: v for k, v in model.items() if k != "appearance"}
    return {**doc, "model": {**rest, **flat}}


def config_from_dict(doc: dict[str, Any] | None) -> RunConfig:
    """Build a checked :class:`RunConfig` from nested mappings (sections -> keys -> values)."""
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ConfigError("a config is a mapping of sections (data, model, loss, ...) to keys")
    sections = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = [k for k in doc if k not in sections]
    if unknown:
        raise ConfigError(
            f"unknown section {', '.join(map(repr, unknown))}; valid sections: {', '.join(sections)}"
        )
    doc = _nested_appearance(doc)
    hints = typing.get_type_hints(RunConfig)
    parts = {name: _section(hints[name], doc.get(name), name) for name in sections}
    try:
        return check_config(RunConfig(**parts))
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from None


def plain_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) of any config dataclass, ready for YAML or JSON."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) of a config, ready for YAML or JSON."""
    return plain_dict(cfg)


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read a YAML config file; every key it leaves out keeps its default.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: invalid YAML, an unknown section or key (named), or a value of the wrong type.

    >>> load_config("configs/demo.yaml")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {p} does not exist")
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{p} is not valid YAML: {err}") from None
    try:
        return config_from_dict(doc)
    except ConfigError as err:
        raise ConfigError(f"{p}: {err}") from None


def dump_config(cfg: RunConfig, path: str | os.PathLike[str]) -> Path:
    """Write the fully resolved config as YAML (atomically) and return the path."""
    return atomic_write(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def apply_overrides(cfg: RunConfig, overrides: list[str] | tuple[str, ...]) -> RunConfig:
    """Apply ``section.key=value`` strings (values parsed as YAML), e.g. ``train.epochs=1``.

    >>> apply_overrides(RunConfig(), ["train.epochs=1", "data.train_classes=[0, 1]"]).train.epochs
    1
    """
    doc = config_to_dict(cfg)
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        if section not in doc:
            raise ConfigError(
                f"unknown section {section!r} in override {item!r}; valid sections: {', '.join(doc)}"
            )
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"cannot read the value in override {item!r}") from None
        doc[section][name] = value
    return config_from_dict(doc)
