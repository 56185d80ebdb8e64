"""``task: text``: fine-tune the twin transformer on pairs, triplets or (anchor, positive) pairs.

Progress bar, a checkpoint (atomic) at the end of each epoch or every ``checkpoint_every`` steps,
``--resume`` continuing from it with the same batches, autocast on CUDA, optional gradient
checkpointing. Validation (a separate file or a seeded share of the training file) gives the
metrics and, for labelled pairs, the calibrated threshold saved with the model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from siamkit.applications.text.losses import (
    cosent_loss,
    cosine_mse_loss,
    mnrl_loss,
    text_contrastive_loss,
    text_triplet_loss,
)
from siamkit.applications.text.model import TextSiameseNetwork, load_text_model
from siamkit.applications.text.pairs import NoDuplicatesBatchSampler, TextExamples, read_examples
from siamkit.applications.text.score_map import ScoreMap
from siamkit.applications.text.train_config import TextTrainConfig, parse_config
from siamkit.applications.text.validate import validate
from siamkit.atomic import atomic_path
from siamkit.training.tasks import TaskOptions, TaskSummary

CHECKPOINT = "checkpoint.pt"


def batch_loss(model: TextSiameseNetwork, cfg: TextTrainConfig, ex: TextExamples) -> torch.Tensor:
    """The configured loss on one batch of examples (each distinct text embedded once per tower)."""
    cols = ex.texts
    if model.share_weights:
        uniq = sorted({t for c in cols for t in c})
        pos = {t: k for k, t in enumerate(uniq)}
        z = model.embed(uniq)  # (U, D)
        zs = [z[torch.tensor([pos[t] for t in c])] for c in cols]
    else:
        zs = [
            model.embed(list(c), role="query" if k == 0 else "document") for k, c in enumerate(cols)
        ]
    name, scale, margin = cfg.loss.name, cfg.loss.scale, cfg.loss.margin
    if name == "cosent":
        return cosent_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device), scale)
    if name == "cosine_mse":
        return cosine_mse_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device))
    if name == "contrastive":
        same = torch.tensor(ex.targets, device=zs[0].device)
        return text_contrastive_loss(zs[0], zs[1], same, margin)
    if name == "triplet":
        return text_triplet_loss(zs[0], zs[1], zs[2], margin)
    return mnrl_loss(zs[0], zs[1], scale, zs[2] if len(zs) > 2 else None)


def _split(ex: TextExamples, cfg: TextTrainConfig) -> tuple[TextExamples, TextExamples | None]:
    d = cfg.data
    if d.val:
        val = read_examples(d.val, d.format, d.columns, _range(cfg))
        return ex, val
    if d.val_fraction == 0 or len(ex) < 10:
        return ex, None
    order = list(range(len(ex)))
    random.Random(cfg.train.seed).shuffle(order)
    n_val = max(1, round(len(ex) * d.val_fraction))
    return ex.subset(sorted(order[n_val:])), ex.subset(sorted(order[:n_val]))


def _range(cfg: TextTrainConfig) -> tuple[float, float] | None:
    sr = cfg.data.score_range
    return None if sr is None else (float(sr[0]), float(sr[1]))


def _batches(ex: TextExamples, cfg: TextTrainConfig, epoch: int) -> list[list[int]]:
    seed = cfg.train.seed * 1000 + epoch
    if cfg.loss.name == "mnrl":
        rows = list(zip(*ex.texts))
        sampler = NoDuplicatesBatchSampler(rows, cfg.train.batch_size, seed=seed)
        return [b for b in sampler if len(b) > 1]
    order = list(range(len(ex)))
    random.Random(seed).shuffle(order)
    b = cfg.train.batch_size
    return [order[s : s + b] for s in range(0, len(order), b)]


def fit_score_map(
    model: TextSiameseNetwork, ex: TextExamples, score_range: tuple[float, float] | None
) -> ScoreMap | None:
    """For pairs with graded scores (a ``score_range``): the monotone map from the trained model's
    cosine to the score, fitted on the TRAINING pairs ``ex`` only; None for other data."""
    if ex.format != "pairs" or ex.targets is None or score_range is None or len(ex) < 2:
        return None
    model.eval()
    z = []
    for col, role in ((ex.texts[0], "query"), (ex.texts[1], "document")):
        uniq = sorted(set(col))  # each distinct text embedded once
        pos = {t: k for k, t in enumerate(uniq)}
        with torch.inference_mode():
            e = model.embed(uniq, role=role).float().cpu().numpy()
        z.append(e[[pos[t] for t in col]])
    cos = (z[0] * z[1]).sum(1)
    return ScoreMap.fit(cos, ex.targets).rescaled(*score_range)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        torch.save(state, fh)


def _setup(cfg: TextTrainConfig, device: torch.device) -> TextSiameseNetwork:
    m = cfg.model
    model = load_text_model(m.path)
    if (model.encoder.max_length, model.encoder.overlap) != (m.max_length, m.overlap):
        model.encoder.max_length, model.encoder.overlap = m.max_length, m.overlap
    if not m.share_weights and model.share_weights:
        lexical = model.lexical
        model = TextSiameseNetwork(model.encoder, share_weights=False, distance=model.distance_name)
        model.lexical = lexical
    if cfg.train.gradient_checkpointing:
        for enc in (model.encoder, model.doc_encoder):
            if enc is not None:
                enc.transformer.gradient_checkpointing_enable()  # type: ignore[operator]
    return model.to(device)


def run(config: dict[str, Any], out_dir: Path, options: TaskOptions) -> TaskSummary:
    """Fine-tune as ``config`` says; writes ``out_dir/model``, ``metrics.json``, the checkpoint."""
    cfg = parse_config(config, options.overrides)
    examples = read_examples(cfg.data.train, cfg.data.format, cfg.data.columns, _range(cfg))
    train_ex, val_ex = _split(examples, cfg)
    ckpt_path = out_dir / CHECKPOINT
    if options.resume and not ckpt_path.is_file():
        raise ValueError(f"--resume: {ckpt_path} does not exist")
    log = options.log or print
    dev_name = options.device
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if dev_name == "auto" else dev_name
    )
    torch.manual_seed(cfg.train.seed)
    model = _setup(cfg, device)
    total = cfg.train.epochs * len(_batches(train_ex, cfg, 0))
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    warm = max(1, int(cfg.train.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    start_epoch, start_step = 0, 0
    if options.resume:
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, start_step = state["epoch"], state["step"]
        torch.set_rng_state(state["rng"])
        log(f"resumed from {ckpt_path} at epoch {start_epoch + 1}, step {start_step}")
    out_dir.mkdir(parents=True, exist_ok=True)
    amp = cfg.train.amp and device.type == "cuda"
    losses = _loop(
        model,
        cfg,
        train_ex,
        opt,
        sched,
        (start_epoch, start_step),
        ckpt_path,
        amp,
        options.progress,
    )
    model.eval()
    metrics = {"train.final_loss": losses[-1] if losses else None, "train.steps": total}
    if val_ex is not None:
        metrics.update(validate(model, val_ex))
    threshold = metrics.get("verification.threshold")
    model.score_map = fit_score_map(model, train_ex, _range(cfg))
    if model.score_map is not None:
        metrics["score_map.knots"] = len(model.score_map.x)
    from siamkit.export.bundle import save_model

    model_dir = save_model(model, out_dir / "model", threshold=threshold, metadata={"task": "text"})  # type: ignore[arg-type]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return TaskSummary(model_dir, metrics, {"metrics": out_dir / "metrics.json"})


def _loop(
    model: TextSiameseNetwork,
    cfg: TextTrainConfig,
    ex: TextExamples,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    start: tuple[int, int],
    ckpt_path: Path,
    amp: bool,
    progress: bool,
) -> list[float]:
    losses: list[float] = []
    every = cfg.train.checkpoint_every
    steps_per_epoch = len(_batches(ex, cfg, 0))
    bar = tqdm(
        total=cfg.train.epochs * steps_per_epoch,
        initial=start[0] * steps_per_epoch + start[1],
        desc="fine-tuning",
        disable=not progress,
    )
    for epoch in range(start[0], cfg.train.epochs):
        batches = _batches(ex, cfg, epoch)
        for step in range(start[1] if epoch == start[0] else 0, len(batches)):
            model.train()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = batch_loss(model, cfg, ex.subset(batches[step]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.train.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            done = step + 1 == len(batches)
            if done or (every and (step + 1) % every == 0):
                nxt = (epoch + 1, 0) if done else (epoch, step + 1)
                _save_checkpoint(
                    ckpt_path,
                    {
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "epoch": nxt[0],
                        "step": nxt[1],
                        "rng": torch.get_rng_state(),
                    },
                )
    bar.close()
    return losses
