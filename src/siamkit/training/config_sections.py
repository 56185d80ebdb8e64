"""Read one section of a config from its YAML mapping: unknown keys are refused by name (with the
valid ones listed) and every value is checked against its field's type
(:func:`~siamkit.training.config_io.config_from_dict` reads every section so)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Union

import yaml

from siamkit.clauses import in_number, listed
from siamkit.registry import did_you_mean
from siamkit.training.config import (
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
)


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message names the key."""


#: The keys that list classes by id, and what their ids are, for the refusal of another item
#: (an image folder's user names the sub-folder, as evaluate's --classes takes it).
CLASS_LISTS = {
    key: "give class ids (an image folder's sub-folders in name order are 0, 1, 2, ..., as "
    "metrics.json lists them) or a count of classes to draw"
    for key in ("data.train_classes", "data.val_classes")
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        # a list last: "a list of int, int or null" read as a list of "int, int or null"
        # (s63_r5 finding 4); "int, null or a list of int" cannot
        names = [_type_name(a) for a in typing.get_args(tp)]
        return listed(sorted(names, key=lambda name: name.startswith("a list of")), "or")
    if origin in (tuple, list):
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {', '.join(f.name for f in dataclasses.fields(tp))}"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str, scalar_list: bool = False) -> Any:
    """Return ``value`` converted to ``tp`` (lists become tuples) or raise ``ConfigError``.

    With ``scalar_list`` (a run config's keys), a single item where a list goes is a list of
    one (``eval.shots: 3`` is ``[3]``) for a ``tuple[X, ...]`` key, except in a union that
    takes the item itself (``data.train_classes: 3`` is a count of classes); never for a
    fixed-length value (a signature run's ``image_size``, the tracker's ``frame_size``).
    """
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(tp)):
            return None
        if len(args) == 1:  # Optional[X]: X's own message names the offending item
            return _coerce(value, args[0], where, scalar_list)
        for arg in args:
            try:
                return _coerce(value, arg, where, scalar_list=False)
            except ConfigError:
                if typing.get_origin(arg) is tuple and isinstance(value, (list, tuple)):
                    raise  # a list with a wrong item: its message names the item
                continue
    elif tp is type(None):
        if value is None:
            return None
    elif tp is Any:
        return value
    elif origin in (tuple, list):
        if isinstance(value, (list, tuple)):
            item = typing.get_args(tp)[0]
            try:
                return origin(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
            except ConfigError as err:
                if where in CLASS_LISTS:  # a folder's class name where its id goes
                    raise ConfigError(f"{err}: {CLASS_LISTS[where]}") from None
                raise
        if scalar_list and typing.get_args(tp)[1:] == (...,) and not isinstance(value, dict):
            with contextlib.suppress(ConfigError):  # one item: a list of one
                return origin((_coerce(value, typing.get_args(tp)[0], where),))
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
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None and math.isnan(number):  # .nan passed every range check
            raise ConfigError(f"{where} must be a number, got NaN")
        if number is not None:
            return number
    elif tp is str and isinstance(value, str):
        return value
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type) and isinstance(value, dict):
        return _section(tp, value, where)  # a nested section (model.appearance)
    hint = f": {CLASS_LISTS[where]}" if where in CLASS_LISTS else _list_form(value, tp)
    raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}{hint}")


def _list_form(value: Any, tp: Any) -> str:
    """How to write ``value`` as the list ``tp`` takes when it is one string of comma-separated
    items of its type (``--set data.score_range=0,5``): ``"; write it as a list, [0, 5]"``.

    >>> _list_form("0,5", tuple[float, float])
    '; write it as a list, [0, 5]'
    >>> _list_form("0,x", list[float])
    ''
    """
    origin = typing.get_origin(tp)
    if origin not in (tuple, list) or not isinstance(value, str):
        return ""
    args = typing.get_args(tp)
    any_length = origin is list or args[1:] == (...,)
    parts = [p.strip() for p in value.strip().strip("[]()").split(",")]
    if len(parts) < 2 or (not any_length and len(args) != len(parts)):
        return ""
    try:  # each item read as --set reads a value (YAML), then as the key's item type
        for i, part in enumerate(parts):
            _coerce(yaml.safe_load(part), args[0] if any_length else args[i], "item")
    except (ConfigError, yaml.YAMLError):
        return ""
    return f"; write it as a list, [{', '.join(parts)}]"


#: The run-config sections whose registered parts may be written as ``{kind, params}``.
_PART_SECTIONS: dict[type, str] = {
    DataConfig: "data",
    ModelConfig: "model",
    LossConfig: "loss",
    OptimConfig: "optim",
}


def _parts_form(values: dict[str, Any], section: str) -> dict[str, Any]:
    """Read each registered part written as ``key: {kind: NAME, params: {...}}`` into the
    canonical keys (:mod:`siamkit.training.parts`): the name in its field, the parameters with a
    config key of their own in those keys, the rest in the part's params mapping.

    >>> _parts_form({"optimizer": {"kind": "sgd", "params": {"lr": 0.1}}}, "optim")
    {'optimizer': 'sgd', 'lr': 0.1, 'optimizer_params': {}}
    >>> _parts_form({"encoder": {"kind": "resnet", "params": {"layers": [1, 1]}}}, "model")
    {'encoder': 'resnet', 'encoder_kwargs': {'layers': [1, 1]}}
    """
    from siamkit.training.parts import PARTS

    out = dict(values)
    for part in PARTS:
        if part.section != section or part.key not in values:
            continue
        raw, where = values[part.key], part.where
        if not isinstance(raw, dict):
            if part.key == part.kind_field:
                continue  # the flat form: the name alone
            if part.kind_field in values:
                raise ConfigError(
                    f"{where} and {section}.{part.kind_field} both name the {part.registry.kind}; keep one"
                )
            out.pop(part.key)
            out[part.kind_field] = raw  # loss.miner: NAME is loss.mining: NAME
            continue
        unknown = sorted(set(raw) - {"kind", "params"})
        if unknown:
            raise ConfigError(
                f"unknown {in_number(len(unknown), 'key')} {', '.join(unknown)} in {where}; it "
                "takes kind and params"
            )
        kind, params = raw.get("kind"), raw.get("params")
        params = {} if params is None else params
        if not isinstance(kind, str) or not kind:
            raise ConfigError(
                f"{where}.kind must name a registered {part.registry.kind}, one of "
                f"{', '.join(part.registry.names())}; got {kind!r}"
            )
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise ConfigError(
                f"{where}.params must be a mapping of parameter names to values, got {params!r}"
            )
        if part.key != part.kind_field and part.kind_field in values:
            raise ConfigError(
                f"{where} and {section}.{part.kind_field} both name the {part.registry.kind}; keep one"
            )
        if "params" in raw and part.params_field in values:
            raise ConfigError(
                f"{where}.params and {section}.{part.params_field} both set its parameters; keep one"
            )
        both = sorted(part.flat[k] for k in params if k in part.flat and part.flat[k] in values)
        if both:
            raise ConfigError(
                f"{where}.params and {', '.join(f'{section}.{k}' for k in both)} set the same thing; keep one"
            )
        if (
            kind in part.registry or part.key != "miner"
        ):  # a miner may be a loss's own strategy name
            try:
                part.check(kind, params, f"{where}.params")
            except ValueError as err:
                raise ConfigError(str(err)) from None
        out.pop(part.key)
        out[part.kind_field] = kind
        out.update({part.flat[k]: v for k, v in params.items() if k in part.flat})
        if part.params_field not in values:  # the part's own defaults, not another kind's
            out[part.params_field] = {k: v for k, v in params.items() if k not in part.flat}
    return out


def unknown_keys_message(unknown: Sequence[str], section: str, valid: Iterable[str]) -> str:
    """One sentence for keys no reader of ``section`` knows, with the closest valid ones and
    the whole list: ``unknown key 'epoch' in section 'train' (did you mean 'epochs'?); valid
    keys: ...`` (``unknown keys 'a', 'b' ...`` for several). Every task's config check words it
    so."""
    valid = list(valid)
    return (
        f"unknown {in_number(len(unknown), 'key')} {', '.join(map(repr, unknown))} in section "
        f"{section!r}"
        f"{did_you_mean(unknown, valid)}; valid keys: {', '.join(valid)}"
    )


def unknown_sections_message(unknown: Sequence[str], valid: Iterable[str], where: str = "") -> str:
    """One sentence for sections a config cannot have (``where``: e.g. `` in override 'x=1'``):
    ``unknown section 'trian' (did you mean 'train'?); valid sections: ...`` (``unknown sections
    'a', 'b' ...`` for several)."""
    valid = list(valid)
    return (
        f"unknown {in_number(len(unknown), 'section')} {', '.join(map(repr, unknown))}{where}"
        f"{did_you_mean(unknown, valid)}; valid sections: {', '.join(valid)}"
    )


def _section(cls: type, values: Any, name: str, default: Any = None) -> Any:
    """Section ``name`` of type ``cls`` from its YAML mapping; keys it does not give take their
    values from ``default`` (an instance of ``cls``: a config whose section defaults differ from
    the section type's own), else from ``cls``'s defaults."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"section '{name}' must be a mapping of keys to values, got {values!r}")
    if cls in _PART_SECTIONS:
        values = _parts_form(values, _PART_SECTIONS[cls])
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise ConfigError(unknown_keys_message(unknown, name, fields))
    kwargs = {k: _coerce(v, hints[k], f"{name}.{k}", scalar_list=True) for k, v in values.items()}
    return cls(**kwargs) if default is None else dataclasses.replace(default, **kwargs)
