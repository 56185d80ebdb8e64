"""Writer-independent training on genuine / forged pairs with a contrastive loss.

Each step draws ``P`` training writers, ``G`` of their genuine signatures and ``F`` of their
skilled forgeries, embeds the batch once and forms its pairs: every genuine-genuine pair of a
writer (similar) against as many dissimilar pairs, of which ``1 - random_fraction`` are genuine
× skilled forgery of the same writer and the rest genuine × another writer's genuine (a random
forgery). The loss is siamkit's :func:`~siamkit.losses.contrastive_loss` (``loss:
contrastive``) or, as the peer recipe, pytorch-metric-learning's ``ContrastiveLoss`` on the
very same pairs (``loss: pml``). Every ``eval_every`` steps the skilled- and random-forgery
EERs on the *validation* writers are measured; the weights with the lowest sum of those measured
are kept (:func:`selection_score`: the random EER alone without skilled forgeries, the skilled
one alone with one validation writer; model selection never sees test writers).

With ``checkpoint`` set, the whole state (weights, optimizer, schedule, the batch sampler's and
torch's random generators, the best weights so far, the history and the config) is written
atomically after every validation check with the image path's tensor-only checkpoint files
(:mod:`siamkit.training.checkpoint`); ``resume=True`` continues it and ends with the same weights
as a run that was never stopped. A checkpoint of another config is refused, by the shared
:class:`~siamkit.training.config_guard.ConfigGuard` (:func:`signature_config_guard`).

>>> model, history = train_signatures(
...     build_signature_model(), train_set, val_set, SignatureTrainConfig(), SignatureEvalConfig()
... )  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.applications.signatures.config import (
    SignatureEvalConfig,
    SignatureRunConfig,
    SignatureTrainConfig,
)
from siamkit.applications.signatures.decision import REDUCTIONS
from siamkit.applications.signatures.evaluate import SignatureEvaluation, evaluate_signatures
from siamkit.clauses import NO_EVALUATION
from siamkit.data.signature_set import SignatureSet
from siamkit.encode import encode
from siamkit.index.embedding import model_embeddings
from siamkit.losses import contrastive_loss
from siamkit.models import JoinedEmbedding, SiameseNetwork, network_of
from siamkit.training.checkpoint import rng_state, save_checkpoint, set_rng_state
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.ddp import resolve_device
from siamkit.training.preflight import resumable_state

SignatureModel = SiameseNetwork | JoinedEmbedding

__all__ = [
    "batch_pairs",
    "embed_signatures",
    "sample_batch",
    "signature_config_guard",
    "train_signatures",
]

LossFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def sample_batch(data: SignatureSet, cfg: SignatureTrainConfig, rng: np.random.Generator) -> Tensor:
    """Indices ``(B,)`` of one batch: ``P`` writers × (``G`` genuine + up to ``F`` forged)."""
    w_np, f_np = data.writer.numpy(), data.forged.numpy().astype(bool)
    writers = rng.choice(
        len(data.names), size=min(cfg.writers_per_batch, len(data.names)), replace=False
    )
    idx: list[int] = []
    for w in writers:
        gen = np.flatnonzero((w_np == w) & ~f_np)
        forg = np.flatnonzero((w_np == w) & f_np)
        idx += rng.choice(
            gen, size=cfg.genuine_per_writer, replace=len(gen) < cfg.genuine_per_writer
        ).tolist()
        if len(forg):
            idx += rng.choice(
                forg, size=min(cfg.forged_per_writer, len(forg)), replace=False
            ).tolist()
    return torch.tensor(idx, dtype=torch.int64)


def batch_pairs(
    writer: Tensor, forged: Tensor, random_fraction: float, rng: np.random.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Balanced pairs inside a batch: ``(i, j, same)`` each ``(P,)`` (positions in the batch).

    Positives: every genuine-genuine pair of a writer. Negatives: as many, ``1 - random_fraction``
    of them genuine × same-writer forgery, the rest genuine × other-writer genuine.
    """
    w = writer.numpy()
    f = forged.numpy().astype(bool)
    same_w = w[:, None] == w[None, :]
    gen = ~f
    upper = np.triu(np.ones_like(same_w), k=1)
    pos = np.argwhere(same_w & gen[:, None] & gen[None, :] & upper)
    skilled = np.argwhere(same_w & gen[:, None] & f[None, :])
    rand = np.argwhere(~same_w & gen[:, None] & gen[None, :] & upper)
    n_rand = min(len(rand), round(len(pos) * random_fraction))
    n_sk = min(len(skilled), len(pos) - n_rand)
    if n_sk < len(pos) - n_rand:  # too few forgeries: fill with random forgeries
        n_rand = min(len(rand), len(pos) - n_sk)
    neg = np.concatenate(
        [
            skilled[rng.choice(len(skilled), n_sk, replace=False)] if n_sk else skilled[:0],
            rand[rng.choice(len(rand), n_rand, replace=False)] if n_rand else rand[:0],
        ]
    )
    pairs = np.concatenate([pos, neg]).reshape(-1, 2)
    same = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return (
        torch.from_numpy(pairs[:, 0]).long(),
        torch.from_numpy(pairs[:, 1]).long(),
        torch.from_numpy(same).long(),
    )


def _loss_fn(cfg: SignatureTrainConfig) -> LossFn:
    if cfg.loss == "pml":
        from pytorch_metric_learning.losses import ContrastiveLoss

        pml = ContrastiveLoss(pos_margin=0.0, neg_margin=cfg.margin)

        def peer(z: Tensor, i: Tensor, j: Tensor, same: Tensor) -> Tensor:
            s = same.bool()
            labels = torch.arange(len(z), device=z.device)  # unused when indices are given
            return pml(z, labels, indices_tuple=(i[s], j[s], i[~s], j[~s]))  # type: ignore[no-any-return]

        return peer

    def ours(z: Tensor, i: Tensor, j: Tensor, same: Tensor) -> Tensor:
        d = (z[i] - z[j]).pow(2).sum(dim=1).clamp_min(1e-12).sqrt()  # (P,) euclidean
        return contrastive_loss(d, same, margin=cfg.margin)

    return ours


def embed_signatures(model: SignatureModel, images: Tensor, batch_size: int = 256) -> Tensor:
    """``(N, 1, H, W)`` -> ``(N, D)`` float32 embeddings on the CPU: :func:`siamkit.encode.encode`
    (eval mode, no gradients, the model's mode restored) with the model's input checks on."""
    if len(images) == 0:
        return torch.zeros((0, model.embedding_dim))
    return encode(model, images, batch_size, check=True)


def _checked_signatures(z: Tensor, sigs: SignatureSet, of: str = "the signatures") -> Tensor:
    """``sigs``' ``(N, D)`` embeddings ``z``, refused where they hold NaN or infinite values by
    the scans' files (a generated writer's by its name, genuine or forged, and its number),
    :func:`~siamkit.index.embedding.model_embeddings`'s sentence about ``of``, as the other
    commands give it. The distances refused them before, naming neither scan nor writer:
    "genuine distances contain NaN or inf; check the embeddings ..." (s57_r3, noticed; in
    training's validation too, s57_c3)."""
    if bool(torch.isfinite(z).all()):
        return z
    if sigs.paths is not None:
        names = [repr(p) for p in sigs.paths]
    else:
        seen: dict[tuple[int, bool], int] = {}
        names = []
        for w, f in zip(sigs.writer.tolist(), sigs.forged.tolist()):
            k = seen[w, f] = seen.get((w, f), 0) + 1
            names.append(f"writer {sigs.names[w]}'s {'forgery' if f else 'genuine signature'} {k}")
    model_embeddings(z.numpy(), of, names, which=NO_EVALUATION)
    return z


def validate(
    model: SignatureModel, data: SignatureSet, cfg: SignatureEvalConfig
) -> SignatureEvaluation:
    """Evaluate ``model`` on ``data``'s writers with the eval config (threshold: skilled EER, or
    the random one where there are no skilled forgeries).

    With ``cfg.reduce == "auto"`` every reduction is tried and the one with the lowest skilled
    + random EER on ``data`` (:func:`selection_score`) is returned (use validation writers only).
    A NaN or infinite embedding is refused by its scan (:func:`_checked_signatures`), where the
    distances said "genuine distances contain NaN or inf", naming none.
    """
    z = _checked_signatures(embed_signatures(model, data.images), data, "the validation signatures")
    options = REDUCTIONS if cfg.reduce == "auto" else (cfg.reduce,)
    evs = [
        evaluate_signatures(
            z, data.writer, data.forged, cfg.references, r, model.distance, seed=cfg.seed
        )
        for r in options
    ]
    return min(evs, key=selection_score)


def selection_score(ev: SignatureEvaluation) -> float:
    """What validation minimises: the skilled + random EER, of those measured (no skilled
    forgeries, or one writer: no random ones). A NaN sum compared false with every other, so
    the first check's weights were kept whatever came after."""
    return float(sum(e for e in (ev.skilled.eer, ev.random.eer) if e == e))


def _none_for_nan(value: Any) -> Any:
    """``None`` for a float that is NaN or infinite (no JSON: metrics.json), else ``value``."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy Generator's state with its 128-bit integers as text (checkpoints hold plain values)."""
    return json.loads(json.dumps(rng.bit_generator.state, default=str), parse_int=str)


def _set_generator_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = json.loads(json.dumps(state), object_hook=_ints)


def _ints(d: dict[str, Any]) -> dict[str, Any]:
    return {
        k: int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v for k, v in d.items()
    }


def _read_saved_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's signature config as ``now``'s shape: a key added since it was written takes
    its default; a key of the config that ``now`` leaves out (``train.threads``, which a resume may
    change) is left out; a checkpoint that did not record ``model.init_from`` takes ``now``'s
    (nothing to check it against). Keys and sections the config does not know are kept, to be
    named."""
    defaults = json.loads(json.dumps(SignatureRunConfig().to_dict()))  # tuples as lists
    out = dict(saved)
    for name, section in saved.items():
        if name in defaults and isinstance(section, dict) and isinstance(now.get(name), dict):
            read = {**defaults[name], **section}
            out[name] = {k: v for k, v in read.items() if k in now[name] or k not in defaults[name]}
    model, now_model = out.get("model"), now.get("model")
    if isinstance(model, dict) and isinstance(now_model, dict) and "init_from" in now_model:
        out["model"] = {"init_from": now_model["init_from"], **model}
    return out


def signature_config_guard(config: dict[str, Any]) -> ConfigGuard:
    """The shared :class:`~siamkit.training.config_guard.ConfigGuard` for a signature run's
    ``config`` (the dict its checkpoint records): on resume it refuses any other config, naming
    the keys (``train.steps`` too: the cosine schedule's length; ``eval`` keys too: validation
    during training reads them)."""
    return ConfigGuard(config, read=_read_saved_config, may_change=())  # validation reads eval.seed


def train_signatures(
    model: SignatureModel,
    train_set: SignatureSet,
    val_set: SignatureSet,
    cfg: SignatureTrainConfig,
    eval_cfg: SignatureEvalConfig,
    log: Callable[[str], None] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    run_config: dict[str, Any] | None = None,
) -> tuple[SignatureModel, list[dict[str, Any]]]:
    """Train ``model`` in place for ``cfg.steps`` steps on ``cfg.device``; returns it with the best
    validation weights loaded, on the device it came on, and the history of validation checks.

    ``checkpoint``: the file written after every validation check; ``resume`` continues it.
    ``run_config``: what the checkpoint records and a resume must match (default: ``cfg`` and
    ``eval_cfg``).
    """
    device = resolve_device(cfg.device)
    home = next(model.parameters()).device
    model.to(device)  # before the optimiser: a resumed state is cast to where the weights are
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    loss_fn = _loss_fn(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    best: tuple[float, dict[str, Tensor]] | None = None
    history: list[dict[str, Any]] = []
    running, start = 0.0, 0
    config = run_config or {"train": asdict(cfg), "eval": asdict(eval_cfg)}
    if resume:
        if checkpoint is None:
            raise ValueError("resume needs an output folder holding checkpoint.pt")
        state = resumable_state(checkpoint, signature_config_guard(config))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        _set_generator_state(rng, state["sampler"])
        # a checkpoint from before selection_score held NaN where a kind of forgery had none to
        # score: NaN in metrics.json is no JSON. Its best_score was NaN too, which compared false
        # with every score, so its best weights are the first check's: scored again from
        # history[0] as selection_score scores them (reviewer s52_R11)
        if state["best"] is not None:
            score = float(state["best_score"])
            if math.isnan(score) and state["history"]:
                first = state["history"][0]
                measured = (first.get(f"val_eer_{k}") for k in ("skilled", "random"))
                score = float(sum(e for e in measured if e is not None and e == e))
            if not math.isnan(score):
                best = (score, state["best"])
        history, running, start = (
            [{k: _none_for_nan(v) for k, v in row.items()} for row in state["history"]],
            float(state["running"]),
            int(state["epoch"]),
        )
        if log is not None:
            log(f"resumed from {checkpoint} after step {start} of {cfg.steps}")
    # with appearance features joined, the loss sees the network alone (they have no weights)
    network = network_of(model)
    model.train()
    for step in range(start + 1, cfg.steps + 1):
        idx = sample_batch(train_set, cfg, rng)
        i, j, same = batch_pairs(
            train_set.writer[idx], train_set.forged[idx], cfg.random_fraction, rng
        )
        x = train_set.images[idx].to(device)
        z = network.embed(x, check=False)  # (B, D)
        loss = loss_fn(z, i.to(device), j.to(device), same.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            ev = validate(model, val_set, eval_cfg)
            mean_loss = running / (step - (history[-1]["step"] if history else 0))
            row = {
                "step": step,
                "loss": _none_for_nan(mean_loss),  # None where NaN or infinite, as on resume
                # None for a kind of forgery with none to score (NaN is no JSON: metrics.json)
                **{f"val_eer_{k}": ev.to_dict()[k]["eer"] for k in ("skilled", "random")},
            }
            history.append(row)
            running = 0.0
            if log is not None:
                log(
                    f"step {step}: loss {mean_loss:.4f}, validation EER skilled "
                    f"{ev.skilled.eer:.3f}, random {ev.random.eer:.3f}"
                )
            score = selection_score(ev)
            if best is None or score < best[0]:
                best = (score, copy.deepcopy(model.state_dict()))
            if checkpoint is not None:
                save_checkpoint(
                    {
                        "epoch": step,  # the checkpoint format's position: steps done
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "rng": rng_state(),
                        "sampler": _generator_state(rng),
                        "best_score": None if best is None else best[0],
                        "best": None if best is None else best[1],
                        "history": history,
                        "running": running,
                        "config": config,
                    },
                    checkpoint,
                )
    if best is not None:
        model.load_state_dict(best[1])
    model.eval().to(home)
    return model, history
