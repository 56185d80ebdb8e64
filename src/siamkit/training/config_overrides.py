"""Overrides of a config: ``section.key=value`` strings (``--set``) applied to a
:class:`~siamkit.training.config.RunConfig` (:func:`apply_overrides`), or set into a task's plain
YAML mapping (:func:`set_override`)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import yaml

from siamkit.training.config import RunConfig
from siamkit.training.config_io import (
    LEGACY_APPEARANCE_PREFIX,
    config_from_dict,
    config_to_dict,
)
from siamkit.training.config_sections import ConfigError, unknown_sections_message


def _replace_part(section: dict[str, Any], section_name: str, key: str, value: Any) -> None:
    """An override ``section.key={kind, params}`` replaces the part: its canonical params and the
    config keys its new params name are dropped first (``optim.optimizer={kind: sgd}`` keeps
    ``optim.lr``; ``model.encoder={kind: resnet}`` drops the ConvNet's ``encoder_kwargs``)."""
    from siamkit.training.parts import PART_BY_KEY

    part = PART_BY_KEY.get((section_name, key))
    if part is None or (part.key == part.kind_field and not isinstance(value, dict)):
        return
    section.pop(part.params_field, None)
    if part.key != part.kind_field:
        section.pop(part.kind_field, None)
    params = value.get("params") if isinstance(value, dict) else None
    for name in params if isinstance(params, dict) else ():
        if name in part.flat:
            section.pop(part.flat[name], None)


def set_override(doc: dict[str, Any], section: str, key: str, value: Any) -> None:
    """``doc[section][key] = value`` for a ``--set section.key=value`` of a task reading a plain
    YAML mapping: a section left empty in the file (``train:``, read as None) becomes a mapping
    (it was a NoneType TypeError); a section that is not a mapping is refused, named."""
    current = doc.get(section)
    if current is None:
        current = doc[section] = {}
    elif not isinstance(current, dict):
        raise ConfigError(f"section {section!r} must be a mapping of keys to values")
    current[key] = value


def apply_overrides(cfg: RunConfig, overrides: list[str] | tuple[str, ...]) -> RunConfig:
    """Apply ``section.key=value`` strings (values parsed as YAML), e.g. ``train.epochs=1``.

    A registered part may be set whole: ``optim.optimizer={kind: sgd, params: {lr: 0.1}}``.
    A key of the nested ``model.appearance`` section is ``model.appearance.weight=0.5`` (setting
    one turns the features on; ``model.appearance=null`` or ``.weight=0`` off); the flat
    ``model.appearance_skip_*`` keys of older configs still work. One entry of a parameter
    mapping (``loss.params``, ``model.encoder_kwargs``, ``optim.schedule_params`` ...) is
    ``loss.params.margin=0.3``; the mapping's other entries stay.

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
            raise ConfigError(unknown_sections_message([section], doc, f" in override {item!r}"))
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"cannot read the value in override {item!r}") from None
        name = name.strip()
        if not _set_mapping_entry(doc[section], section, name, value, item):
            _replace_part(doc[section], section, name, value)
            _set_override(doc[section], section, name, value)
    return config_from_dict(doc)


def _mapping_fields(section: str) -> set[str]:
    """The keys of config section ``section`` whose values are mappings of free parameters
    (``loss.params``, ``model.encoder_kwargs``, ``optim.schedule_params`` ...)."""
    sec = next((f for f in dataclasses.fields(RunConfig) if f.name == section), None)
    if sec is None:
        return set()
    hints = typing.get_type_hints(typing.get_type_hints(RunConfig)[section])
    return {k for k, t in hints.items() if typing.get_origin(t) is dict}


def _set_mapping_entry(sec: dict[str, Any], section: str, name: str, value: Any, item: str) -> bool:
    """``loss.params.margin=0.3``: set one entry of a mapping key (nested further with more
    dots) and keep its other entries; False when ``name`` does not start with such a key."""
    head, dot, rest = name.partition(".")
    if not dot or head not in _mapping_fields(section):
        return False
    path = rest.split(".")
    if not all(path):
        raise ConfigError(f"override {item!r} must look like section.key.entry=value")
    current = sec.get(head)
    node: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    sec[head] = node
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is not None and not isinstance(child, dict):
            where = ".".join([section, head, *path[: i + 1]])
            raise ConfigError(
                f"override {item!r}: {where} is {child!r}, not a mapping, so it has no entry "
                f"{path[i + 1]!r}"
            )
        child = dict(child or {})
        node[part] = child
        node = child
    node[path[-1]] = value
    return True


def _set_override(sec: dict[str, Any], section: str, name: str, value: Any) -> None:
    """``sec[name] = value``, into the nested appearance section for its keys."""
    legacy = name.startswith(LEGACY_APPEARANCE_PREFIX)
    if section != "model" or not (legacy or name.startswith("appearance.")):
        sec[name] = value
        return
    current = sec.get("appearance")
    if legacy:  # read as the flat keys were: weight 0 (off) unless set
        sec[name] = value
        sec.pop("appearance", None)
        if isinstance(current, dict):
            for k, v in current.items():
                sec.setdefault(LEGACY_APPEARANCE_PREFIX + k, v)
        return
    nested = dict(current) if isinstance(current, dict) else {}
    nested[name.partition(".")[2]] = value
    sec["appearance"] = nested
