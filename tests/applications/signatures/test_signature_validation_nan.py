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
