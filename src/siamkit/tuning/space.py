"""A declared search space: ``section.key`` -> a choice, a float range or an int range.

A space file is YAML, one entry per config key (or per section, choosing several of its keys
together, e.g. a loss with the mining it needs)::

    loss.margin: {float: [0.05, 0.5]}
    optim.lr: {float: [1.0e-4, 3.0e-3], log: true}
    loss.kind: {choice: [triplet, multi_similarity]}
    model.appearance.weight: {float: [0.25, 1.0]}
    train.epochs: {int: [2, 10]}
    model.encoder_kwargs: {choice: [{widths: [16, 32, 64]}, {widths: [32, 64, 128]}]}
    loss: {choice: [{kind: triplet, mining: batch_hard}, {kind: multi_similarity, mining: auto}]}

Every key is checked against the run config before any trial runs: an unknown key or a value the
config refuses is named in one sentence.

A key of the loss section that fills one loss's own parameter (``loss.margin``: triplet,
contrastive and margin; ``loss.temperature``: supcon; ``loss.ms_alpha``: multi_similarity; ...)
is drawn only in the trials whose loss reads it (Optuna's define-by-run), so a triplet trial has
no temperature, in ``best.yaml`` or the table of best values. The loss is the one the trial draws
(``loss``, ``loss.kind``), or the config's.

An ``encoder_kwargs`` a choice sets whole (``model: {choice: [{encoder: convnet, encoder_kwargs:
{widths: [16, 32, 64]}}, ...]}`` or ``model.encoder_kwargs: {choice: [...]}``) is merged over the
config's ``model.encoder_kwargs`` when the trial's encoder is the config's: its entries win, the
config's others stay (``configs/hypercolumn.yaml``'s ``taps``, ``tap_grids``, ``tap_power`` and
``tap_train`` are kept in every trial and in ``best.yaml``; ``trials.csv`` and the table of best
values show the merged kwargs, what the trial trained). A trial that draws another encoder
(``{encoder: resnet, encoder_kwargs: {...}}``), which the config's would not fit, takes the
choice's alone. ``model.encoder_kwargs.widths: {choice: [...]}`` sets that one entry.

>>> space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1e-2], "log": True}})
>>> space.params[0].key
'optim.lr'
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from siamkit.clauses import in_number
from siamkit.training import LossConfig, RunConfig
from siamkit.training.config_io import read_yaml
from siamkit.training.config_loss import _FLAT_LOSS_KEYS
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.config_sections import ConfigError, unknown_sections_message

# The space `siamkit tune` searches when no --space is given (issue 20's declared space).
# Each loss choice clears loss.params: the config's own loss's (configs/hypercolumn.yaml's tuplet
# margin and scale) would be refused by another loss, or set it. A ConvNet model choice's
# encoder_kwargs are merged over the config's (hypercolumn.yaml keeps its taps); the ResNet one,
# another encoder, replaces them (SearchSpace.overrides).
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "loss": {
        "choice": [
            {"kind": "triplet", "mining": "batch_hard", "params": {}},
            {"kind": "triplet", "mining": "semihard", "params": {}},
            {"kind": "multi_similarity", "mining": "auto", "params": {}},
            {"kind": "supcon", "mining": "auto", "params": {}},
            {"kind": "proxy_anchor", "mining": None, "params": {}},
        ]
    },
    "loss.margin": {"float": [0.05, 0.5]},  # drawn for triplet trials only (loss_reads)
    "loss.temperature": {"float": [0.03, 0.3], "log": True},  # for supcon trials only
    "optim.lr": {"float": [1.0e-4, 3.0e-3], "log": True},
    "data.augmentation": {"choice": ["none", "shift-flip", "light", "standard"]},
    "model": {
        "choice": [
            {"encoder": "convnet", "encoder_kwargs": {"widths": [16, 32, 64]}},
            {"encoder": "convnet", "encoder_kwargs": {"widths": [32, 64, 128]}},
            {"encoder": "convnet", "encoder_kwargs": {"widths": [48, 96, 192]}},
            {
                "encoder": "resnet",
                "encoder_kwargs": {"layers": [1, 1, 1], "widths": [16, 32, 64], "stem": "small"},
            },
        ]
    },
    "model.embedding_dim": {"choice": [32, 64, 128]},
    "train.epochs": {"int": [2, 10]},
}


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` is ``"choice"``, ``"float"`` or ``"int"``."""

    key: str
    kind: str
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False

    def config_keys(self) -> set[str]:
        """The config keys this parameter sets (every key of a whole-section choice)."""
        if "." in self.key:
            return {self.key}
        return {f"{self.key}.{k}" for c in self.choices for k in c}

    def kwargs_entries(self) -> set[str]:
        """The ``model.encoder_kwargs`` entries that some choice of this parameter sets whole
        (a ``model.encoder_kwargs`` choice's keys, a ``model`` choice's ``encoder_kwargs``):
        what a trial drawing it sets beside, or instead of, the config's."""
        return {e for c in self.choices for e in _whole_kwargs(self.key, c) or {}}

    def labels(self) -> list[str]:
        """Choices as strings (Optuna stores only scalars; lists and maps go as JSON)."""
        return [json.dumps(c, sort_keys=True) for c in self.choices]

    def overrides(self, value: Any, kept_kwargs: dict[str, Any] | None = None) -> list[str]:
        """``section.key=value`` strings setting ``value`` (a whole-section choice sets each key).

        ``kept_kwargs``: the config's ``model.encoder_kwargs``, which a whole ``encoder_kwargs``
        that ``value`` sets is merged over (its entries win); ``None``: it replaces them."""
        if kept_kwargs is not None:
            value = _merged_kwargs(self.key, value, kept_kwargs)
        if "." in self.key:
            return [overrides_item(self.key, value)]
        return [overrides_item(f"{self.key}.{k}", v) for k, v in value.items()]

    @property
    def needs(self) -> str | None:
        """What the trial's loss must read for this parameter to be drawn (define-by-run): its
        :attr:`loss_key`, or :data:`LEARNS` for ``optim.loss_lr_factor`` (the rate of the
        parameters a loss learns itself); ``None``: drawn in every trial."""
        return LEARNS if self.key == LOSS_LR_FACTOR else self.loss_key

    @property
    def loss_key(self) -> str | None:
        """The loss section's key this parameter sets when it fills one loss's own parameter
        (``"temperature"`` for ``loss.temperature``): drawn only when the trial's loss reads it
        (:func:`loss_reads`); ``None`` for any other parameter."""
        section, _, key = self.key.partition(".")
        return key if section == "loss" and key in _LOSS_OWN_KEYS else None

    def checked_values(self) -> list[Any]:
        """The values checked before a study starts: every choice, or both ends of the range."""
        values = list(self.choices) if self.kind == "choice" else [self.low, self.high]
        return [int(v) for v in values] if self.kind == "int" else values

    def value(self, label_or_number: Any) -> Any:
        """The config value of a sampled label (choices) or number (ranges)."""
        if self.kind == "choice":
            return json.loads(label_or_number)
        return int(label_or_number) if self.kind == "int" else float(label_or_number)


KWARGS = "model.encoder_kwargs"


def _whole_kwargs(key: str, value: Any) -> dict[str, Any] | None:
    """The ``model.encoder_kwargs`` that ``value`` of parameter ``key`` sets whole (the key's
    own value, or a ``model`` choice's entry); ``None`` when it sets none."""
    if key == KWARGS and isinstance(value, dict):
        return value
    if key == "model" and isinstance(value.get("encoder_kwargs"), dict):
        return dict(value["encoder_kwargs"])
    return None


def _merged_kwargs(key: str, value: Any, kept: dict[str, Any]) -> Any:
    """``value`` of parameter ``key`` with the whole ``encoder_kwargs`` it sets merged over
    ``kept`` (the config's; its entries win); any other value as it is."""
    kwargs = _whole_kwargs(key, value)
    if kwargs is None:
        return value
    merged = {**kept, **kwargs}
    return merged if key == "model.encoder_kwargs" else {**value, "encoder_kwargs": merged}


def _trial_encoder(values: dict[str, Any], base: RunConfig) -> Any:
    """The encoder a trial of ``values`` (by parameter key) builds: the one it draws
    (``model.encoder``, a ``model`` choice's ``encoder``), or ``base``'s."""
    encoder: Any = base.model.encoder
    for key, value in values.items():
        if key == "model.encoder":
            encoder = value
        elif key == "model" and "encoder" in value:
            encoder = value["encoder"]
    return encoder


def kept_beside(key: str, value: Any, base: RunConfig) -> list[str]:
    """The entries of ``base``'s ``model.encoder_kwargs`` that a trial drawing ``value`` of
    parameter ``key`` keeps beside the whole ``encoder_kwargs`` the value sets (``taps`` beside
    a ConvNet's ``widths``, or beside the one entry a ``model.encoder_kwargs.widths`` key sets),
    in the config's order; ``[]`` when it sets none, or picks another encoder (whose choice's
    kwargs replace the config's)."""
    if key.startswith(KWARGS + "."):  # one entry: the config's others stay
        return [k for k in base.model.encoder_kwargs if k != key[len(KWARGS) + 1 :]]
    kwargs = _whole_kwargs(key, value)
    if kwargs is None or _trial_encoder({key: value}, base) != base.model.encoder:
        return []
    return [k for k in base.model.encoder_kwargs if k not in kwargs]


#: The loss section's keys that fill a parameter of some loss kinds only (``margin``,
#: ``temperature``, ``ms_alpha``, ...).
_LOSS_OWN_KEYS = frozenset(_FLAT_LOSS_KEYS.values())


def loss_reads(loss: LossConfig) -> set[str]:
    """The loss section's own keys that ``loss``'s kind reads: ``{"margin", "reduction"}`` for
    triplet, ``{"temperature"}`` for supcon, ``set()`` for a loss set by ``loss.params`` alone.

    >>> sorted(loss_reads(LossConfig(kind="supcon", mining=None)))
    ['temperature']
    """
    from siamkit.training.objectives import flat_loss_params

    _, flat = flat_loss_params(loss, "euclidean")  # which keys: the same for any distance
    return {_FLAT_LOSS_KEYS[name] for name in flat if name in _FLAT_LOSS_KEYS}


#: The key searched only for a loss with parameters of its own to learn (:func:`loss_learns`).
LOSS_LR_FACTOR = "optim.loss_lr_factor"
#: What :attr:`Param.needs` names for :data:`LOSS_LR_FACTOR` (and :func:`loss_needs` holds).
LEARNS = "learned parameters"


def loss_learns(loss: LossConfig, base: RunConfig) -> bool:
    """Whether ``loss`` learns parameters of its own (class proxies, margin's beta), which
    ``optim.loss_lr_factor`` sets the rate of: its module, built for two classes and ``base``'s
    embedding size under a forked random state, has any (``True`` when it cannot be built
    here: the factor is then searched, as before).

    >>> loss_learns(LossConfig(kind="proxy_anchor", mining=None), RunConfig())
    True
    """
    import torch

    from siamkit.training.objectives import build_objective

    try:
        with torch.random.fork_rng(devices=[]):
            module = build_objective(loss, "euclidean", [0, 1], base.model.embedding_dim)
    except Exception:  # a loss this check cannot build (a learned metric's): search the factor
        return True
    return any(True for _ in module.parameters())


def loss_needs(loss: LossConfig, base: RunConfig) -> set[str]:
    """What ``loss`` reads of the conditional parameters (:attr:`Param.needs`): its own keys
    (:func:`loss_reads`), and :data:`LEARNS` when it learns parameters (:func:`loss_learns`)."""
    return loss_reads(loss) | ({LEARNS} if loss_learns(loss, base) else set())


def _normal_key(key: Any) -> Any:
    """``key`` without the spaces around its dotted parts (``" data.train_classes"`` is
    ``data.train_classes``), as :func:`~siamkit.training.apply_overrides` reads it: the checks
    made before a study (a searched ``data.*`` value, ``data.val_classes``) and ``--set``'s
    pinning compare the key's text, so a spaced key slipped past them (every trial then failed
    on data the preflight never checked)."""
    return ".".join(part.strip() for part in key.split(".")) if isinstance(key, str) else key


#: A number YAML 1.1 (PyYAML) reads as a string: an exponent without a dot (``1e-4``, ``3E+2``).
_EXPONENT_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")


def _yaml_number(value: Any) -> Any:
    """``value``, or the float it writes when YAML read it as a string (``"1e-4"``): a range
    ``{float: [1e-4, 1e-2], log: true}`` was refused as not low < high, though the config takes
    ``optim.lr: 1e-4`` as a number."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def _param(key: str, spec: Any) -> Param:
    # a key of the nested section, or one entry of the encoder's kwargs (its others stay)
    nested = isinstance(key, str) and key.startswith(("model.appearance.", KWARGS + "."))
    if not isinstance(key, str) or key.count(".") > 1 + nested or not key.strip("."):
        raise ValueError(
            f"search-space key {key!r} must look like section.key (e.g. optim.lr, "
            "model.appearance.weight or model.encoder_kwargs.widths), or be a section whose "
            "choices are maps of its keys"
        )
    sections = [f.name for f in dataclasses.fields(RunConfig)]
    if "." not in key and key not in sections:  # 'lr:' was called "a whole section"
        raise ValueError(
            unknown_sections_message([key], sections, " in the search space")
            + "; a key is named section.key, e.g. optim.lr"
        )
    if not isinstance(spec, dict):
        raise ValueError(f"search-space entry {key} must be a map such as {{float: [0.1, 1.0]}}")
    kinds = [k for k in ("choice", "float", "int") if k in spec]
    extra = sorted(map(str, set(spec) - {"choice", "float", "int", "log"}))
    if extra:  # a misspelt key ('logg') was only listed beside the right ones
        import difflib

        near = difflib.get_close_matches(extra[0], ["choice", "float", "int", "log"], n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise ValueError(
            f"search-space entry {key} has unknown {in_number(len(extra), 'key')} "
            f"{', '.join(repr(e) for e in extra)}{hint}: an entry holds exactly one of "
            "choice / float / int, and optionally log (e.g. {float: [1.0e-4, 1.0e-2], log: true})"
        )
    if len(kinds) != 1:
        raise ValueError(
            f"search-space entry {key} needs exactly one of choice / float / int (and optionally "
            f"log), got {sorted(spec)}"
        )
    kind, arg = kinds[0], spec[kinds[0]]
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"search-space entry {key}: choice must be a non-empty list")
        if "." not in key and not all(isinstance(c, dict) and c for c in arg):
            raise ValueError(
                f"search-space entry {key} is a whole section: its choices must be maps of its "
                "keys, e.g. {kind: triplet, mining: batch_hard}"
            )
        if "." not in key:  # a section's keys as apply_overrides reads them (see _normal_key)
            arg = [{_normal_key(k): v for k, v in c.items()} for c in arg]
        return Param(key, kind, tuple(arg))
    if "." not in key:
        raise ValueError(f"search-space entry {key}: a range needs a section.key, not a section")
    if isinstance(arg, list):  # [1e-4, 1e-2]: YAML 1.1 reads an exponent without a dot as text
        arg = [_yaml_number(v) for v in arg]
    ok = isinstance(arg, list) and len(arg) == 2
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in arg)
    if not ok or not arg[0] < arg[1]:
        raise ValueError(f"search-space entry {key}: {kind} must be [low, high] with low < high")
    log = bool(spec.get("log", False))
    if log and arg[0] <= 0:
        raise ValueError(f"search-space entry {key}: a log range must be positive")
    # Optuna's suggest_int takes whole numbers: [0.5, 3] passed every check (both ends as ints,
    # 0 and 3) and then failed every trial; whole and positive, a log one starts at 1
    if kind == "int" and not all(float(v).is_integer() for v in arg):
        raise ValueError(
            f"search-space entry {key}: int must be [low, high] of whole numbers, got {arg}; "
            "use float for a range of fractions"
        )
    return Param(key, kind, low=float(arg[0]), high=float(arg[1]), log=log)


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys, in file order."""

    params: tuple[Param, ...]

    @classmethod
    def from_dict(cls, doc: Any) -> SearchSpace:
        """The space of a search-space file's map (``section.key`` -> choices or a range),
        in file order; ``ValueError`` names the first entry that is not one."""
        if not isinstance(doc, dict) or not doc:
            got = (
                "nothing (an empty file, or comments alone)"
                if doc is None
                else "an empty map"
                if isinstance(doc, dict)
                else "a list"
                if isinstance(doc, list)
                else f"the single value {doc!r}"
            )
            raise ValueError(
                f"a search space must be a non-empty map of section.key entries, got {got}: "
                "write one line a key, e.g. optim.lr: {float: [1.0e-4, 1.0e-3], log: true}, or "
                "leave out --space for the default space"
            )
        params: dict[str, Param] = {}
        written: dict[str, Any] = {}  # each key as the map wrote it
        for k, v in doc.items():
            p = _param(_normal_key(k), v)
            if p.key in params:
                raise ValueError(
                    f"search-space keys {written[p.key]!r} and {k!r} both name {p.key}: keep "
                    "one of the two entries"
                )
            params[p.key], written[p.key] = p, k
        return cls(tuple(params.values()))

    def without(self, fixed: set[str]) -> tuple[SearchSpace, list[str]]:
        """The space minus every parameter that sets one of the ``fixed`` keys (or a key inside
        or around one: ``model.encoder_kwargs`` fixes ``model.encoder_kwargs.widths``), and the
        removed parameters' keys. ``siamkit tune --set KEY=VALUE`` pins KEY this way.

        One entry of ``model.encoder_kwargs`` (``model.encoder_kwargs.taps``) that no choice
        sets fixes no parameter: the config holds it, and each trial of the config's encoder
        keeps it beside its choice's entries (:meth:`overrides`)."""

        def touches(p: Param, a: str, b: str) -> bool:
            if a == KWARGS and b.startswith(KWARGS + "."):  # one entry: pinned if a choice sets it
                entry = b[len(KWARGS) + 1 :].partition(".")[0]
                return entry in p.kwargs_entries()
            return a == b or a.startswith(b + ".") or b.startswith(a + ".")

        keep, dropped = [], []
        for p in self.params:
            if any(touches(p, k, f) for k in p.config_keys() for f in fixed):
                dropped.append(p.key)
            else:
                keep.append(p)
        return SearchSpace(tuple(keep)), dropped

    def overrides(self, values: dict[str, Any], base: RunConfig) -> list[str]:
        """``section.key=value`` strings setting a trial's ``values`` (by parameter key) in the
        run config ``base``. A whole ``encoder_kwargs`` they set is merged over ``base``'s when
        the trial's encoder is ``base``'s (a wider ConvNet keeps the config's ``taps``), and
        replaces them when the trial draws another encoder (a ``{kind: ..., params: ...}`` one
        included), which ``base``'s would not fit."""
        by_key = {p.key: p for p in self.params}
        return [
            item for k, v in self.trained(values, base).items() for item in by_key[k].overrides(v)
        ]

    def trained(self, values: dict[str, Any], base: RunConfig) -> dict[str, Any]:
        """A trial's ``values`` (by parameter key) as the trial trains them in ``base``: a whole
        ``encoder_kwargs`` merged over ``base``'s when the trial's encoder is ``base``'s (what
        ``trials.csv`` and the table of best values show); the others as drawn."""
        if _trial_encoder(values, base) != base.model.encoder:
            return dict(values)
        kept = dict(base.model.encoder_kwargs)
        return {k: _merged_kwargs(k, v, kept) for k, v in values.items()}

    def other_encoders(self, base: RunConfig) -> list[str]:
        """The encoders other than ``base``'s that a choice sets ``encoder_kwargs`` with: their
        trials take the choice's kwargs alone, without ``base``'s (a ``--set`` entry included)."""
        names = [
            str(_trial_encoder({p.key: c}, base))
            for p in self.params
            for c in p.choices
            if _whole_kwargs(p.key, c) is not None
        ]
        return list(dict.fromkeys(n for n in names if n != str(base.model.encoder)))

    def kept_encoder_kwargs(self, base: RunConfig) -> list[str]:
        """The entries of ``base``'s ``model.encoder_kwargs`` that some choice of this space
        keeps, though it sets ``encoder_kwargs`` whole (``taps`` beside a ConvNet's ``widths``):
        the trials that a study replacing them wholesale (before siamkit tune merged them)
        trained without."""
        kept = {k for p in self.params for c in p.choices for k in kept_beside(p.key, c, base)}
        return [k for k in base.model.encoder_kwargs if k in kept]

    def draw(self, base: RunConfig, suggest: Callable[[Param], Any]) -> dict[str, Any]:
        """One trial's values in the space's order, each from ``suggest``: every parameter, but a
        loss's own key (:attr:`Param.loss_key`) only when the trial's loss reads it, and
        ``optim.loss_lr_factor`` only when it learns parameters (:attr:`Param.needs`), the loss of
        ``base`` with the other values (define-by-run).

        Raises:
            ValueError: the config refuses the other values together.
        """
        values = {p.key: suggest(p) for p in self.params if p.needs is None}
        conditional = [p for p in self.params if p.needs is not None]
        if conditional:
            loss = apply_overrides(base, self.overrides(values, base)).loss
            reads = loss_needs(loss, base)
            values.update({p.key: suggest(p) for p in conditional if p.needs in reads})
        return {p.key: values[p.key] for p in self.params if p.key in values}

    def unread(self, base: RunConfig) -> tuple[SearchSpace, list[str], list[str]]:
        """The space minus the loss keys that no loss of the study reads (``loss.margin`` with
        ``--set loss.kind=supcon``; ``optim.loss_lr_factor`` when none learns parameters of its
        own), their keys, and the loss kinds the study trains (those the
        space draws, or the config's)."""
        losses = []
        for p in self.params:
            for choice in p.choices if p.key in ("loss", "loss.kind") else ():
                try:
                    losses.append(apply_overrides(base, p.overrides(choice)).loss)
                except (ConfigError, ValueError):  # refused: check() names it
                    continue
        losses = losses or [base.loss]
        read = set().union(*(loss_needs(loss, base) for loss in losses))
        keep = [p for p in self.params if p.needs is None or p.needs in read]
        dropped = [p.key for p in self.params if p not in keep]
        names = list(dict.fromkeys(loss.kind for loss in losses))
        return SearchSpace(tuple(keep)), dropped, names

    def check(self, base: RunConfig) -> None:
        """Apply every choice and both ends of every range to ``base``; raise ``ValueError``
        naming the key and value the config refuses (before any trial runs)."""
        for p in self.params:
            for v in p.checked_values():
                try:
                    apply_overrides(base, self.overrides({p.key: v}, base))
                except (ConfigError, ValueError) as err:
                    raise ValueError(f"search space: {p.key} = {v!r} is refused: {err}") from None


def overrides_item(key: str, value: Any) -> str:
    """``section.key=value`` with the value written as YAML flow (lists and maps stay typed)."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    if text.endswith("\n...") or text.endswith(" ..."):
        text = text[: -len("...")].strip()
    return f"{key}={text}"


def load_space(path: str | os.PathLike[str] | None) -> SearchSpace:
    """The space in a YAML file, or :data:`DEFAULT_SPACE` for ``None``."""
    if path is None:
        return SearchSpace.from_dict(DEFAULT_SPACE)
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"search-space file {p} does not exist")
    doc = read_yaml(p)
    _refuse_repeated_keys(p)
    try:
        return SearchSpace.from_dict(doc)
    except ValueError as err:  # name the file: the space came from it, not from the config
        raise ValueError(f"{p}: {err}") from None


#: The tag YAML resolves a plain ``<<`` key to: a merge of the map (or maps) it names.
MERGE_TAG = "tag:yaml.org,2002:merge"


def _refuse_repeated_keys(path: Path) -> None:
    """Refuse a space file that gives a key twice in one map (``optim.lr`` on two lines, or
    ``{float: [..], float: [..]}``): YAML keeps the last silently, and the study searched a
    range other than the one the user meant, with no word of the other. Called after the file
    parsed (:func:`read_yaml`), so its text is UTF-8 and valid YAML."""
    from siamkit.atomic import read_utf8

    nodes: list[yaml.Node] = [yaml.compose(read_utf8(path), Loader=yaml.SafeLoader)]
    # Keys are compared as the values YAML makes of them, as its map does: 1 and "1" are two
    # keys, 1 and 1.0 (or true and yes) one. Merge keys (<<) are not keys: each one given
    # merges its map in.
    constructor = yaml.SafeLoader("")
    walked: set[int] = set()  # an alias is its anchor's node: walked once (a recursive one too)
    while nodes:
        node = nodes.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, tuple[str, int]] = {}
            for k, v in node.value:
                nodes.append(v)
                if not isinstance(k, yaml.ScalarNode) or k.tag == MERGE_TAG:
                    continue
                key = constructor.construct_object(k)
                if key in seen:
                    text, line = seen[key]
                    same = "" if text == k.value else f" as {text}"
                    raise ValueError(
                        f"{path} line {k.start_mark.line + 1}: {k.value} is given again (first "
                        f"on line {line}{same}), and YAML would keep the last alone; give it once"
                    )
                seen[key] = (k.value, k.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(node.value)
