"""The loss section of a run config: the mining a loss kind resolves (:func:`resolved_mining`),
the flat loss keys against ``loss.params``, the cross-batch memory, the miner and the loss's own
values, checked by building them (named by key)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from siamkit.losses.registry import LOSSES
from siamkit.miners import PAIR_STRATEGIES, TRIPLET_STRATEGIES
from siamkit.params import ParamError, count, number
from siamkit.registry import PLUGIN_HINT
from siamkit.training.config import LossConfig, RunConfig

#: The loss kinds a cross-batch memory (``loss.xbm_memory_size``) can wrap; n_pairs cannot (its
#: softmax is over one positive per class of the batch), nor the proxy and batch-view losses.
XBM_KINDS = (
    "triplet",
    "soft_margin_triplet",
    "contrastive",
    "multi_similarity",
    "margin",
    "lifted_structure",
    "angular",
    "tuplet_margin",
)


#: The loss.mining values a cross-batch memory can mine with, by the loss kinds whose mining it
#: does itself (batch x (batch + memory)); a miner object built by name cannot.
XBM_MINING = {
    "contrastive": "null, all, hardest, hard, semihard or easy",
    "multi_similarity": "null or multi_similarity",
    **{
        k: "null, all, hard, semihard, easy, batch_hard or random"
        for k in ("triplet", "soft_margin_triplet", "margin")
    },
}


def _check_xbm(cfg: LossConfig) -> None:
    """``loss.xbm_*``: sizes, and a loss and mining the cross-batch memory can use."""
    count("loss.xbm_memory_size", cfg.xbm_memory_size, 0, note="embeddings kept; 0 is off")
    count(
        "loss.xbm_warmup_steps",
        cfg.xbm_warmup_steps,
        0,
        note="steps before the memory starts filling",
    )
    if cfg.xbm_memory_size == 0:
        return
    if cfg.kind not in XBM_KINDS:
        raise ValueError(
            f"loss.xbm_memory_size > 0 needs loss.kind = {', '.join(XBM_KINDS)}, not {cfg.kind}"
        )
    if cfg.offline_mining:
        raise ValueError(
            "loss.xbm_memory_size > 0 mines in each step; turn loss.offline_mining off"
        )
    if resolved_mining(cfg) == "distance_weighted":
        default = " (loss.kind = margin's default)" if cfg.mining == "auto" else ""
        takes = XBM_MINING.get(cfg.kind, "null")
        raise ValueError(
            f"loss.xbm_memory_size > 0 cannot use loss.mining = distance_weighted{default}; "
            f"loss.kind = {cfg.kind} takes loss.mining = {takes} with it"
        )


def resolved_mining(cfg: LossConfig) -> str | None:
    """The mining strategy ``cfg.mining`` stands for with its loss kind (``"auto"`` resolved)."""
    if cfg.mining != "auto":
        return cfg.mining
    auto = {
        "triplet": "batch_hard",
        "multi_similarity": "multi_similarity",
        "margin": "distance_weighted",  # the paper's sampling
    }
    return auto.get(cfg.kind)


# The loss section's own keys that fill a registered loss's parameter (``loss.ms_alpha`` is
# multi_similarity's ``alpha``); ``loss.params`` can set the same parameter.
_FLAT_LOSS_KEYS = {
    "margin": "margin",
    "reduction": "reduction",
    "pos_weight": "pos_weight",
    "alpha": "ms_alpha",
    "beta": "ms_beta",
    "base": "ms_base",
    "temperature": "temperature",
}


def loss_key_conflicts(loss: LossConfig) -> list[tuple[str, str]]:
    """``(section key, loss.params key)`` pairs (``("margin", "margin")``, ``("ms_alpha",
    "alpha")``) where the loss section's own key, set away from its default, gives the loss
    kind's parameter another value than ``loss.params`` does. A user's config with one is
    refused (:func:`~siamkit.training.config_checks.check_config`); a saved one is read with
    ``loss.params`` winning, as its run trained
    (:func:`siamkit.training.config_guard.read_run_config`)."""
    from siamkit.training.objectives import flat_loss_params

    _, flat = flat_loss_params(loss, "euclidean")  # which keys: the same for any distance
    default = LossConfig()
    out = []
    for param in sorted(flat.keys() & loss.params.keys() & _FLAT_LOSS_KEYS.keys()):
        key = _FLAT_LOSS_KEYS[param]
        mine = getattr(loss, key)
        if mine != getattr(default, key) and mine != loss.params[param]:
            out.append((key, param))
    return out


def _check_loss_params(cfg: RunConfig) -> None:
    from siamkit.training.objectives import loss_params

    if conflicts := loss_key_conflicts(cfg.loss):
        key, param = conflicts[0]
        raise ValueError(
            f"loss.{key} = {getattr(cfg.loss, key)} and loss.params.{param} = "
            f"{cfg.loss.params[param]} both set the {cfg.loss.kind} loss's {param}; keep one"
        )
    name, params = loss_params(cfg.loss, cfg.model.distance)
    try:
        LOSSES.check_params(name, params)
    except TypeError as err:
        raise ValueError(f"loss.params: {err}") from None
    # NaN or inf would only show at the first step, as 'the loss became nan' blaming the data
    for param, value in params.items():
        if isinstance(value, float):
            number(_loss_key(cfg.loss, param), value)
    # a value out of the loss's range (a negative margin, a count of 2.5) would only show when
    # the run builds the loss, after the data has loaded; the loss is built once here instead
    takes = inspect.signature(LOSSES.get(name)).parameters
    run_supplies = {"distance": "euclidean", "mining": None, "classes": [0, 1], "embedding_dim": 2}
    given = {k: v for k, v in params.items() if k not in (*run_supplies, "head")}
    given.update({k: v for k, v in run_supplies.items() if k in takes})
    if "head" in takes:  # the pair-head loss: the model's learned distance
        from siamkit.distances import MLPMetric

        given["head"] = MLPMetric(2)
    _refuse_bad_value(lambda: LOSSES.build(name, **given), lambda p: _loss_key(cfg.loss, p))


def _loss_key(cfg: LossConfig, param: str) -> str:
    """The config key a loss parameter came from: ``loss.params.<param>``, or the section's own
    key that fills it (``loss.margin``, ``loss.ms_alpha``)."""
    if param in cfg.params:
        return f"loss.params.{param}"
    return f"loss.{_FLAT_LOSS_KEYS.get(param, param)}"


def _refuse_bad_value(build: Callable[[], object], key: Callable[[str], str]) -> None:
    """Build a loss or miner from the config's values, and re-raise its :class:`ParamError`
    (a value out of range, of the wrong type) under the config key the value came from. Any
    other error is left to the run's own build, which has the real classes, distance and data.
    Torch's random state is kept: building initialises class proxies."""
    import torch

    try:
        with torch.random.fork_rng(devices=[]):
            build()
    except ParamError as err:
        raise ValueError(err.named(key(err.param))) from None
    except Exception:  # reported by the run's own build
        return


# miners returning Pairs, not Triplets
_PAIR_MINERS = ("pairs", "multi_similarity", "pair_margin", "uniform_histogram")


def _check_mining(cfg: LossConfig) -> None:
    from siamkit.miners.registry import MINERS
    from siamkit.training.parts import PART_BY_KEY, native_mining

    mining = resolved_mining(cfg)
    if mining is None:
        if cfg.miner_params:
            raise ValueError("loss.miner_params are set but loss.mining names no miner")
        return
    takes = "mining" in inspect.signature(LOSSES.get(cfg.kind)).parameters
    native = native_mining(cfg.kind)
    if not takes:  # a loss without a miner ignores loss.mining, as before; parameters are refused
        if cfg.miner_params:
            raise ValueError(f"loss.kind = {cfg.kind} takes no miner; remove loss.miner_params")
        return
    if not cfg.miner_params and mining in native:
        return
    if cfg.offline_mining:
        raise ValueError(
            "loss.offline_mining mines with a strategy name; a built miner (loss.miner_params, "
            f"or {mining!r}) is for online mining"
        )
    triplets_only = cfg.kind in ("triplet", "soft_margin_triplet")
    if mining not in MINERS:
        built = [m for m in MINERS.names() if not (triplets_only and m in _PAIR_MINERS)]
        choices = sorted({*native, *built})
        known = mining in native or mining in TRIPLET_STRATEGIES or mining in PAIR_STRATEGIES
        raise ValueError(
            f"loss.mining = {mining!r} does not work with loss.kind = {cfg.kind}"
            + (" when given parameters" if mining in native else "")
            + f"; choose auto, null or one of {', '.join(choices)}"
            + ("" if known else f"; {PLUGIN_HINT}")
        )
    if triplets_only and mining in _PAIR_MINERS:
        raise ValueError(
            f"loss.mining = {mining!r} mines pairs; loss.kind = {cfg.kind} needs triplets "
            f"(choose one of {', '.join(TRIPLET_STRATEGIES)})"
        )
    PART_BY_KEY["loss", "miner"].check(mining, cfg.miner_params, "loss.miner_params")
    params = cfg.miner_params
    _refuse_bad_value(lambda: MINERS.build(mining, **params), lambda p: f"loss.miner_params.{p}")
