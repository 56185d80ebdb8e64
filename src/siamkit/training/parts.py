"""The registered parts of a run as ``kind`` + ``params``: one table, read by the loader, the checks,
the builders and the saved model.

Each part of a run config (encoder, distance, miner, optimizer, schedule, data source) is a
registry name plus its parameters. The config keeps one canonical form: the name in its field
(``model.encoder``, ``optim.optimizer``, ...), the parameters that have their own config key in
those keys (``optim.lr``, ``model.metric_hidden``, ``data.root``, ...), and every other parameter
in the part's params mapping (``model.encoder_kwargs``, ``optim.optimizer_params``, ...). A YAML
file may instead write a part as ``{kind: NAME, params: {...}}`` under its key
(``model.encoder``, ``model.distance``, ``loss.miner``, ``optim.optimizer``, ``optim.schedule``,
``data.dataset``); :func:`siamkit.training.config_io.config_from_dict` reads that into the
canonical form, so both build the same objects and saved configs keep the old shape.

The builders take a part's ``(kind, params)`` from the functions below and call its registry, so
what a saved model records (:func:`run_spec`) is what was built.

>>> from siamkit.training.config import OptimConfig
>>> optimizer_part(OptimConfig(optimizer="sgd", lr=0.1, optimizer_params={"dampening": 0.0}))
('sgd', {'lr': 0.1, 'weight_decay': 0.0005, 'momentum': 0.9, 'dampening': 0.0})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siamkit.data.sources import DATA_SOURCES
from siamkit.distances import Distance
from siamkit.distances.registry import DISTANCES
from siamkit.encoders.registry import ENCODERS
from siamkit.losses.registry import LOSSES
from siamkit.miners.registry import MINERS
from siamkit.registry import PLUGIN_HINT, Registry
from siamkit.training.optim import OPTIMIZERS, SCHEDULES

if TYPE_CHECKING:
    from siamkit.training.config import DataConfig, LossConfig, ModelConfig, OptimConfig, RunConfig


@dataclass(frozen=True)
class Part:
    """Where one registered part lives in the config.

    Attributes:
        section, key: the YAML key of its ``{kind, params}`` form (``model``, ``encoder``).
        kind_field: the config field holding its registry name.
        params_field: the field holding the parameters without a config key of their own.
        flat: parameter name -> the config field that holds it (``hidden`` -> ``metric_hidden``).
        supplied: parameters the run supplies itself (the optimiser's ``params``, a
            distance's ``dim``); a config may not set them.
        registry: the registry the names and signatures come from.
    """

    section: str
    key: str
    kind_field: str
    params_field: str
    flat: dict[str, str]
    supplied: tuple[str, ...]
    registry: Registry[Any]

    @property
    def where(self) -> str:
        """``section.key`` as a user writes it."""
        return f"{self.section}.{self.key}"

    def check(self, kind: str, params: dict[str, Any], where: str | None = None) -> None:
        """A ``ValueError`` naming ``where`` for an unknown ``kind`` (with the registry's names),
        a parameter its factory does not take (with the ones it does), or one the run supplies."""
        where = where or f"{self.section}.{self.params_field}"
        if kind not in self.registry:
            raise ValueError(
                f"{self.where} = {kind!r} is not a registered {self.registry.kind}; "
                f"choose one of {', '.join(self.registry.names())}; {PLUGIN_HINT}"
            )
        supplied = sorted(set(params) & set(self.supplied))
        if supplied:
            raise ValueError(f"{where}: {', '.join(supplied)} is set by the run, not the config")
        try:
            self.registry.check_params(kind, params, self.supplied)
        except TypeError as err:
            raise ValueError(f"{where}: {err}") from None


PARTS: tuple[Part, ...] = (
    Part("data", "dataset", "dataset", "dataset_params",
         {"root": "root", "image_size": "image_size", "grayscale": "grayscale"}, (), DATA_SOURCES),
    Part("model", "encoder", "encoder", "encoder_kwargs", {}, (), ENCODERS),
    Part("model", "distance", "distance", "distance_params", {"hidden": "metric_hidden"},
         ("dim",), DISTANCES),
    Part("loss", "miner", "mining", "miner_params", {}, (), MINERS),
    Part("optim", "optimizer", "optimizer", "optimizer_params",
         {"lr": "lr", "weight_decay": "weight_decay", "momentum": "momentum"}, ("params",),
         OPTIMIZERS),
    Part("optim", "schedule", "schedule", "schedule_params",
         {"warmup_fraction": "warmup_fraction"}, ("optimizer", "total_steps", "lr"), SCHEDULES),
)  # fmt: skip
PART_BY_KEY: dict[tuple[str, str], Part] = {(p.section, p.key): p for p in PARTS}


def _with_flat(part: Part, cfg: Any) -> dict[str, Any]:
    """The part's flat config keys as parameters, then its params mapping."""
    params = {name: getattr(cfg, field) for name, field in part.flat.items()}
    extra = getattr(cfg, part.params_field)
    both = sorted(set(extra) & set(part.flat))
    if both:
        keys = ", ".join(f"{part.section}.{part.flat[k]}" for k in both)
        raise ValueError(
            f"{part.section}.{part.params_field} sets {', '.join(both)}, which is {keys}; set it there"
        )
    return {**params, **extra}


#: What a data source is given for ``data.image_size`` / ``data.grayscale`` left unset (None)
#: when it has no default of its own for them (the values they defaulted to before).
UNSET_DATA_SHAPE = {"image_size": 64, "grayscale": False}


def data_part(cfg: DataConfig) -> tuple[str, dict[str, Any]]:
    """``(data source name, its parameters)`` of ``data``. ``data.image_size`` and
    ``data.grayscale`` left unset are not passed, so that the source uses its own defaults
    (digits: 8 px, one channel); a source without a default for one gets
    :data:`UNSET_DATA_SHAPE`'s."""
    params = _with_flat(PART_BY_KEY["data", "dataset"], cfg)
    for key, fallback in UNSET_DATA_SHAPE.items():
        if key in params and params[key] is None:
            del params[key]
            if not _has_default(DATA_SOURCES, cfg.dataset, key):
                params[key] = fallback
    return cfg.dataset, params


def _has_default(registry: Registry[Any], name: str, param: str) -> bool:
    """Whether ``name``'s factory names ``param`` with a default value."""
    import inspect

    if name not in registry:
        return False
    found = inspect.signature(registry.get(name)).parameters.get(param)
    return found is not None and found.default is not inspect.Parameter.empty


def encoder_part(
    cfg: ModelConfig, input_shape: tuple[int, ...] | None = None
) -> tuple[str, dict[str, Any]]:
    """``(encoder name, its keyword arguments)``; with ``input_shape`` the input channels
    (images) or features (vectors) the data has, for an encoder that takes ``in_channels`` /
    ``in_features`` (a user's too), unless ``encoder_kwargs`` sets them."""
    params = dict(cfg.encoder_kwargs)
    if input_shape is not None and cfg.encoder in ENCODERS:
        key = {3: "in_channels", 1: "in_features"}.get(len(input_shape))
        if key is not None and _takes(ENCODERS, cfg.encoder, key):
            params.setdefault(key, int(input_shape[0]))
    return cfg.encoder, params


def _takes(registry: Registry[Any], name: str, param: str) -> bool:
    """Whether ``name``'s factory names ``param`` (not only ``**kwargs``)."""
    import inspect

    return param in inspect.signature(registry.get(name)).parameters


def distance_part(cfg: ModelConfig) -> tuple[str, dict[str, Any]]:
    """``(distance name, its parameters)`` without the ``dim`` the model supplies; ``hidden``
    (``model.metric_hidden``, the MLP head's width) only for a distance that takes it."""
    params = _with_flat(PART_BY_KEY["model", "distance"], cfg)
    if cfg.distance in DISTANCES and not DISTANCES.accepts(cfg.distance, "hidden"):
        params.pop("hidden")
    return cfg.distance, params


def optimizer_part(cfg: OptimConfig) -> tuple[str, dict[str, Any]]:
    """``(optimizer name, its parameters)`` without the network's ``params``."""
    return cfg.optimizer, _with_flat(PART_BY_KEY["optim", "optimizer"], cfg)


def schedule_part(cfg: OptimConfig) -> tuple[str, dict[str, Any]]:
    """``(schedule name, its parameters)`` without the optimiser and step count; ``lr`` is
    the optimiser's (``optim.lr``)."""
    params = _with_flat(PART_BY_KEY["optim", "schedule"], cfg)
    cycle = cfg.optimizer != "sgd" or cfg.momentum > 0
    return cfg.schedule, {"lr": cfg.lr, "cycle_momentum": cycle, **params}


#: Miner names a loss takes as a strategy string (it mines inside itself); any other registered
#: miner, or one with parameters, is built from :data:`~siamkit.miners.registry.MINERS`.
def native_mining(loss_kind: str) -> tuple[str, ...]:
    """The mining names ``loss_kind`` understands as strings."""
    from siamkit.miners import PAIR_STRATEGIES, TRIPLET_STRATEGIES

    return {
        "triplet": TRIPLET_STRATEGIES,
        "soft_margin_triplet": TRIPLET_STRATEGIES,
        "margin": TRIPLET_STRATEGIES,
        "contrastive": PAIR_STRATEGIES,
        "multi_similarity": ("multi_similarity",),
    }.get(loss_kind, ())


def miner_part(cfg: LossConfig, mining: str | None) -> tuple[str, dict[str, Any]] | None:
    """``(miner name, parameters)`` when the loss is given a built miner; ``None`` when it takes
    ``mining`` as its own strategy name (or mines nothing)."""
    if mining is None:
        return None
    if not cfg.miner_params and mining in native_mining(cfg.kind):
        return None
    return mining, dict(cfg.miner_params)


def build_miner(
    cfg: LossConfig, mining: str | None, distance: str | Distance
) -> str | Callable[..., Any] | None:
    """What the loss gets as ``mining``: the strategy name, or a miner built by name (with the
    loss's ``distance`` unless ``miner_params`` sets one)."""
    part = miner_part(cfg, mining)
    if part is None:
        return mining
    name, params = part
    if "distance" in _accepted(MINERS, name):
        params.setdefault("distance", distance)
    return MINERS.build(name, **params)  # type: ignore[no-any-return]


def _accepted(registry: Registry[Any], name: str) -> list[str]:
    import inspect

    return list(inspect.signature(registry.get(name)).parameters)


def _plain(value: Any) -> Any:
    """A JSON-able stand-in: numbers, strings and lists as they are, objects by name."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else type(value).__name__


def _spec(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "params": _plain(params)}


def run_spec(cfg: RunConfig) -> dict[str, dict[str, Any]]:
    """The registry name and parameters of every part ``cfg`` builds, as saved with the model.

    Learned parts appear by name (a loss's ``head`` is the model's distance); the parameters the
    run supplies (the network's parameters, input channels, the step count) are left out.

    >>> from siamkit.training.config import RunConfig
    >>> run_spec(RunConfig())["optimizer"]
    {'kind': 'adamw', 'params': {'lr': 0.003, 'weight_decay': 0.0005, 'momentum': 0.9}}
    """
    from siamkit.training.config_loss import resolved_mining
    from siamkit.training.objectives import loss_params

    loss_kind, loss_kw = loss_params(cfg.loss, cfg.model.distance)
    spec = {
        "data": _spec(*data_part(cfg.data)),
        "encoder": _spec(*encoder_part(cfg.model)),
        "distance": _spec(*distance_part(cfg.model)),
        "loss": _spec(loss_kind, loss_kw),
        "optimizer": _spec(*optimizer_part(cfg.optim)),
        "schedule": _spec(*schedule_part(cfg.optim)),
    }
    mining = resolved_mining(cfg.loss)
    if mining is not None and "mining" in _accepted(LOSSES, loss_kind):
        spec["miner"] = _spec(mining, dict(cfg.loss.miner_params))
    return spec


__all__ = [
    "PARTS",
    "Part",
    "build_miner",
    "data_part",
    "distance_part",
    "encoder_part",
    "miner_part",
    "optimizer_part",
    "run_spec",
    "schedule_part",
]
