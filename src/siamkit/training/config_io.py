"""Read and write :class:`~siamkit.training.config.RunConfig` as YAML, with strict checks.

Unknown sections and keys are rejected by name (with the valid ones listed), and every value is
checked against its field's type, so a typo never silently falls back to a default.

>>> cfg = config_from_dict({"train": {"epochs": 2}})
>>> cfg.train.epochs, cfg.train.seed
(2, 0)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import types
import typing
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Union

import yaml

from siamkit.atomic import NotUtf8Error, atomic_write, read_utf8
from siamkit.registry import did_you_mean
from siamkit.training.config import (
    AppearanceConfig,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    check_config,
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
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
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
    hint = f": {CLASS_LISTS[where]}" if where in CLASS_LISTS else ""
    raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}{hint}")


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
                f"unknown key(s) {', '.join(unknown)} in {where}; it takes kind and params"
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


def unknown_keys_message(unknown: Sequence[str], section: str, valid: Iterable[str]) -> str:
    """One sentence for keys no reader of ``section`` knows, with the closest valid ones and
    the whole list: ``unknown key 'epoch' in section 'train' (did you mean 'epochs'?); valid
    keys: ...``. Every task's config check words it so."""
    valid = list(valid)
    return (
        f"unknown key {', '.join(map(repr, unknown))} in section {section!r}"
        f"{did_you_mean(unknown, valid)}; valid keys: {', '.join(valid)}"
    )


def unknown_sections_message(unknown: Sequence[str], valid: Iterable[str], where: str = "") -> str:
    """One sentence for sections a config cannot have (``where``: e.g. `` in override 'x=1'``):
    ``unknown section 'trian' (did you mean 'train'?); valid sections: ...``."""
    valid = list(valid)
    return (
        f"unknown section {', '.join(map(repr, unknown))}{where}"
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
                f"unknown key(s) {names} in section 'model'; the appearance features are "
                f"model.appearance: {{{', '.join(APPEARANCE_KEYS)}}}"
            )
        if "appearance" in model:
            both = ", ".join(f"model.{LEGACY_APPEARANCE_PREFIX}{k}" for k in flat)
            raise ConfigError(
                f"model.appearance and the flat key(s) {both} both set the same thing; keep "
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
        raise ConfigError(unknown_sections_message(unknown, sections))
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
        raise FileNotFoundError(f"config file {p} does not exist")
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
