"""Runs as a library: ``run_experiment(cfg, out_dir) -> RunResult`` (train, save, calibrate,
evaluate, report); the CLI only parses options and prints the result.

>>> from siamkit.experiment import run_experiment
>>> result = run_experiment(load_config("configs/demo.yaml"), "runs/demo")  # doctest: +SKIP
>>> result.to_dict()["verification"]["eer"]  # doctest: +SKIP
"""

from siamkit.experiment.protocol import (
    ABLATION_PARTS,
    COHORT_SOURCES,
    attach_cohort,
    calibrate_run,
    check_protocol,
    cohort_images,
    cohort_source,
    evaluate_model,
    evaluate_parts,
    evaluate_protocol,
    rates_at,
    try_write_report,
)
from siamkit.experiment.result import Calibration, Rates, RunResult, ScoreNorm, Timings
from siamkit.experiment.run import evaluate_run, run_experiment

__all__ = [
    "ABLATION_PARTS",
    "COHORT_SOURCES",
    "Calibration",
    "Rates",
    "RunResult",
    "ScoreNorm",
    "Timings",
    "attach_cohort",
    "calibrate_run",
    "check_protocol",
    "cohort_images",
    "cohort_source",
    "evaluate_model",
    "evaluate_parts",
    "evaluate_protocol",
    "evaluate_run",
    "rates_at",
    "run_experiment",
    "try_write_report",
]
