"""Signature training's validation met a model's NaN embedding only at the distances: "genuine
distances contain NaN or inf; check the embeddings and the distance ...", naming neither scan
nor writer, where ``siamkit signature evaluate`` names the scan (s57_c3). It is now refused at
the embeddings, in model_embeddings' sentence, by the writer's signature (a scan's file where
the set has files)."""

from __future__ import annotations

import pytest
import torch

from siamkit.applications.signatures import build_signature_model
from siamkit.applications.signatures.config import SignatureEvalConfig, SignatureTrainConfig
from siamkit.applications.signatures.train import train_signatures, validate
from siamkit.data.signature_set import SignatureSet, synthetic_signature_set
from siamkit.index.base import UnrankableEmbeddingsError
from siamkit.models import SiameseNetwork


def _break_row_when_evaluating(monkeypatch: pytest.MonkeyPatch, row: int) -> None:
    """The model's eval-mode embedding of the batch's row ``row`` becomes NaN (training's own
    steps, in train mode, stay sound)."""
    real = SiameseNetwork.embed

    def embed(self, x, *a, **kw):
        z = real(self, x, *a, **kw)
        if not self.training and len(z) > row:
            z = z.clone()
            z[row] = float("nan")
        return z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)


def _setup() -> tuple[SiameseNetwork, SignatureSet]:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_signature_model((1, 40, 56), 8, {"widths": [4, 4, 4, 4], "fc": 8})
    return model, synthetic_signature_set(4, n_genuine=4, n_forged=2, seed=0, size=(40, 56))


#: rows: each writer's 4 genuine, then its 2 forged (w0000, then w0001): row 1 is w0000's
#: second genuine signature, row 4 its first forgery
NAMED = (
    "1 of the 12 embeddings the model made of the validation signatures hold NaN or infinite "
    "values (writer {}), which no evaluation can score"
)


def test_validation_names_the_signature_whose_embedding_is_nan(monkeypatch):
    model, data = _setup()
    val = data.subset([0, 1])
    cfg = SignatureEvalConfig(references=2, reduce="min")
    validate(model, val, cfg)  # sound embeddings are scored
    _break_row_when_evaluating(monkeypatch, 4)
    with pytest.raises(UnrankableEmbeddingsError) as err:
        validate(model, val, cfg)
    assert str(err.value) == NAMED.format(f"{val.names[0]}'s forgery 1")


def test_training_refuses_a_nan_at_its_first_validation_by_the_signature(monkeypatch):
    model, data = _setup()
    train, val = data.subset([2, 3]), data.subset([0, 1])
    _break_row_when_evaluating(monkeypatch, 1)
    cfg = SignatureTrainConfig(
        steps=1, eval_every=1, writers_per_batch=2, genuine_per_writer=2, forged_per_writer=1
    )
    with pytest.raises(UnrankableEmbeddingsError) as err:
        train_signatures(model, train, val, cfg, SignatureEvalConfig(references=2, reduce="min"))
    assert str(err.value) == NAMED.format(f"{val.names[0]}'s genuine signature 2")


def test_the_runs_test_writers_are_refused_by_the_signature_too(monkeypatch, tmp_path):
    """After training, the run embeds its test writers; a NaN there met the distances too."""
    import yaml

    from siamkit.applications.signatures.config import signature_config_from_dict
    from siamkit.applications.signatures.task import run_signatures
    from siamkit.training import TaskOptions

    cfg = signature_config_from_dict(
        yaml.safe_load(
            "data: {synthetic_writers: 12, genuine: 5, forged: 2, image_size: [40, 56], "
            "split: [0.5, 0.17, 0.33]}\n"
            "model: {embedding_dim: 8, appearance_weight: 0, "
            "encoder_kwargs: {widths: [4, 4, 4, 4], fc: 8, stem_stride: 1}}\n"
            "train: {steps: 1, writers_per_batch: 2, genuine_per_writer: 2, "
            "forged_per_writer: 1, eval_every: 1}\n"
            "eval: {references: 2, reduce: min}\n"
        ),
        (),
    )
    real = SiameseNetwork.embed

    def embed(self, x, *a, **kw):  # only the 4 test writers' 28 scans (validation: 2 writers)
        z = real(self, x, *a, **kw)
        if not self.training and len(z) == 28:
            z = z.clone()
            z[8] = float("inf")
        return z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    quiet = TaskOptions(progress=False, log=lambda line: None)
    with pytest.raises(UnrankableEmbeddingsError) as err:
        run_signatures(cfg, tmp_path / "run", quiet)
    assert str(err.value).startswith(
        "1 of the 28 embeddings the model made of the test signatures hold NaN or infinite "
        "values (writer "
    ), str(err.value)
    assert str(err.value).endswith("'s genuine signature 2), which no evaluation can score")
    assert not (tmp_path / "run" / "metrics.json").exists()
