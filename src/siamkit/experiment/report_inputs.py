"""What a training run adds to its report: the config that ran, the operating point, the run, peers."""

from __future__ import annotations

from typing import Any


def report_inputs(
    cfg: Any, data: Any, metrics: dict[str, Any], episodes: int | None, device: Any
) -> dict[str, Any]:
    """Keyword arguments of :func:`siamkit.evaluation.write_report` for a finished run.

    ``metrics`` is the run's ``metrics.json`` dict (:meth:`RunResult.to_dict`). ``config`` is the
    resolved config with the evaluation settings that actually ran (e.g.
    ``--episodes 100`` replaces ``eval.episodes``); ``calibration`` the threshold saved with the
    model and its rates on the test classes; ``run_info`` the training set size, its classes
    (named), the validation classes, wall times, device and the model it started from
    (``started_from``, with ``model.init_from``); ``peers`` the peer's figures on this
    split when ``peers.json`` has them (full data only); ``ways_asked`` the eval.ways above the
    test classes that ran as all of them (the few-shot rows say so).
    """
    from siamkit.evaluation.peers import peer_figures
    from siamkit.evaluation.report import ways_asked_of
    from siamkit.evaluation.report_sections import hardware_summary
    from siamkit.training.config_io import config_to_dict

    config = config_to_dict(cfg)
    if episodes:
        config["eval"]["episodes"] = episodes
    run = metrics.get("run") or {}
    run_info = {
        "train_images": len(data.train_y),
        "train_classes": list(data.train_classes),
        "class_names": list(data.class_names),
        "val_classes": run.get("val_classes"),
        "val_held_out": run.get("val_held_out"),
        "train_seconds": run.get("train_seconds"),
        "eval_seconds": run.get("eval_seconds"),
        "device": str(device),
        "hardware": hardware_summary(),
    }
    if getattr(cfg.model, "init_from", None):  # the model it started from, said in the header
        from siamkit.training.init_from import started_from_record

        run_info["started_from"] = started_from_record(cfg.model.init_from)
    peers = None
    if cfg.data.limit is None:
        peers = peer_figures(cfg.data.dataset, data.train_classes)
    return {
        "config": config,
        "calibration": metrics.get("calibration"),
        "run_info": run_info,
        "peers": peers,
        "trained_on": bool(set(data.test_classes) & set(data.train_classes)),
        "ways_asked": ways_asked_of(metrics),  # eval.ways above the test classes: rows say so
    }
