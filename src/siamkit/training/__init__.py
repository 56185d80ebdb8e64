"""Training: config dataclasses, one train step for your own loop, and a thin Trainer.

>>> from siamkit.training import RunConfig, load_config, train_step, Trainer
>>> trainer = Trainer(net, objective, optimizer, PKBatches(x, y, p=6, k=8), epochs=3)  # doctest: +SKIP
>>> trainer = Trainer.from_config(net, cfg, data, out_dir="runs/x")  # doctest: +SKIP

A config of another ``task:`` (``ssl``, ``text``, ...; :func:`list_tasks`) runs as
``siamkit train`` runs it: ``get_task(doc.pop("task"))(doc, Path("runs/x"), TaskOptions())``
(a plain supervised run is ``siamkit.experiment.run_experiment``).
"""

from siamkit.training.batch_source import BatchSource, PKBatches
from siamkit.training.builders import (
    build_model,
    build_optimizer,
    build_scheduler,
    embedding_model,
)
from siamkit.training.callbacks import (
    Callback,
    EpochLog,
    Validation,
    WeightAverageCallback,
)
from siamkit.training.collapse import CollapseMonitor
from siamkit.training.config import (
    AppearanceConfig,
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    demo_recipe,
)
from siamkit.training.config_io import config_from_dict, config_to_dict, dump_config, load_config
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.config_sections import ConfigError
from siamkit.training.data import RunData, load_run_data
from siamkit.training.objectives import build_objective
from siamkit.training.step import train_step
from siamkit.training.tasks import TaskOptions, TaskSummary, get_task, list_tasks
from siamkit.training.trainer import Trainer, TrainResult

__all__ = [
    "AppearanceConfig",
    "BatchSource",
    "Callback",
    "CollapseMonitor",
    "ConfigError",
    "DataConfig",
    "EpochLog",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "PKBatches",
    "RunConfig",
    "RunData",
    "TaskOptions",
    "TaskSummary",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "Validation",
    "WeightAverageCallback",
    "apply_overrides",
    "build_model",
    "build_objective",
    "build_optimizer",
    "build_scheduler",
    "config_from_dict",
    "config_to_dict",
    "demo_recipe",
    "dump_config",
    "embedding_model",
    "get_task",
    "list_tasks",
    "load_config",
    "load_run_data",
    "train_step",
]
