"""/info's embedding parts for a self-supervised model: the head's values and the encoder's taps,
as the saved model embeds, not "encoder and projection head" (that head is dropped)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import siamkit
from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.service import create_app


def _ssl_model(tmp_path: Path, embed: str) -> Path:
    """A one-step task: ssl run whose ConvNet has taps kept out of the loss, as
    configs/simclr.yaml's (there 128 head values + 4,416 tap values)."""
    taps = {"widths": [8, 16], "taps": [0], "tap_grids": [3, 2], "tap_train": False}
    return train_tiny_ssl(
        tmp_path, save_photos(tmp_path / "photos", 20), name=f"o-{embed}", encoder_kwargs=taps,
        ssl={"embed": embed},
    )  # fmt: skip


@pytest.mark.parametrize(("embed", "learned"), [("head", 8), ("backbone", 16)])
def test_info_names_the_head_and_the_taps_of_a_self_supervised_model(
    tmp_path: Path, embed: str, learned: int
) -> None:
    """A task: ssl model's 4,544-d embedding (128 head values + 4,416 taps) was described as one
    part, 'Values the network learned in training (encoder and projection head)': the projection
    head is training-only and dropped, and the taps, most of the values, went unnamed."""
    net = siamkit.load_model(_ssl_model(tmp_path, embed))
    taps = 8 * (3 * 3 + 2 * 2)  # block 0's 8 channels in 3x3 and 2x2 cells
    assert net.embedding_dim == learned + taps
    with TestClient(create_app(net, None)) as client:
        model = client.get("/info").json()["model"]
    parts = {p["name"]: p for p in model["embedding_parts"]}
    assert [(p["name"], p["dim"]) for p in model["embedding_parts"]] == [
        ("learned", learned),
        ("taps", taps),
    ]
    described = " ".join(p["description"] for p in model["embedding_parts"])
    assert "projection head" not in described, described
    assert "pooled in 3\u00d73 and 2\u00d72 cells" in parts["taps"]["description"]
    assert "taps: [0]" in parts["taps"]["description"]
    assert "kept out of the training loss" in parts["taps"]["description"]
    head = parts["learned"]["description"]
    if embed == "backbone":  # an identity head: the encoder's pooled features as they are
        assert "16 pooled deep features" in head and "no projection" in head, head
    else:
        assert "projected by the embedding head to 8" in head, head


def test_a_supervised_model_without_taps_is_one_learned_part(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    pre = siamkit.Preprocess(input_shape=(1, 12, 12))
    net = siamkit.SiameseNetwork(enc, 8, preprocess=pre).eval()
    with TestClient(create_app(net, None)) as client:
        (part,) = client.get("/info").json()["model"]["embedding_parts"]
    assert part["name"] == "learned" and part["dim"] == 8
    assert "16 pooled deep features projected by the embedding head to 8" in part["description"]
