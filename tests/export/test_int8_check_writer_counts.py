"""The int8 check names a signature run's synthetic writers as every message counts them
(siamkit.clauses.counted): "1,500 writers", not "1500 writers"."""

from __future__ import annotations

from types import SimpleNamespace

import siamkit.applications.signatures.run_record as run_record
import siamkit.applications.signatures.task as task
import siamkit.data.signature_set as signature_set
from siamkit.applications.signatures.config import SignatureDataConfig
from siamkit.cli._int8_check import SignatureData, run_signatures


def test_a_run_of_over_a_thousand_synthetic_writers_is_counted_with_the_separator(
    monkeypatch,
) -> None:
    data = SignatureDataConfig(synthetic_writers=1500, image_size=(8, 8))
    run = SimpleNamespace(data=data, source="the model", eval_seed=0)
    monkeypatch.setattr(run_record, "recorded_run", lambda model_dir: run)
    sigs = SimpleNamespace(names=[f"w{i}" for i in range(1500)])  # not made: the count is read
    monkeypatch.setattr(task, "load_run_data", lambda cfg: (sigs, None))
    monkeypatch.setattr(
        signature_set, "writer_disjoint_split", lambda n, split, seed: ([0], [1], [2])
    )
    got = run_signatures("model", (1, 8, 8))
    assert isinstance(got, SignatureData)
    assert got.where == (
        "its run's synthetic signatures (data.root null: 1,500 writers, seed 0, made again)"
    )
