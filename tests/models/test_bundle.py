"""Model files: exact round trip, no pickle, and clean refusal of tampered, truncated or newer files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.distances import MahalanobisDistance, MLPMetric
from siamkit.export import ModelFileError, load_model, model_fingerprint, save_model
from siamkit.heads import AppearanceFeatures
from siamkit.models import HalfTwinNetwork, JoinedEmbedding, Preprocess, SiameseNetwork


def trained_like(net: torch.nn.Module) -> torch.nn.Module:
    """Perturb weights and batch-norm statistics so a round trip that drops anything would show."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
        for name, buf in net.named_buffers():
            if name.endswith("running_mean") or name.endswith("running_var"):
                buf.add_(0.1 * torch.rand_like(buf))
    return net.eval()


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "mahalanobis", "mlp", "appearance"])
def test_round_trip_reproduces_embeddings_exactly(tmp_path: Path, distance: str) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    dist = {"mahalanobis": MahalanobisDistance(16, rank=8), "mlp": MLPMetric(16, hidden=8)}.get(
        distance, distance
    )
    dist = "euclidean" if distance == "appearance" else dist
    prep = Preprocess((0.3,), (0.4,), (1, 28, 28))
    net = trained_like(SiameseNetwork(enc, 16, distance=dist, head_hidden=[32], preprocess=prep))
    if distance == "appearance":
        net = JoinedEmbedding(net, AppearanceFeatures(2), 0.7).eval()
    save_model(net, tmp_path / "m", threshold=0.42)
    back = load_model(tmp_path / "m")
    x, y = torch.rand(6, 1, 28, 28), torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(back.embed(x), net.embed(x))
        assert torch.equal(back(x, y), net(x, y))
    assert back.threshold == 0.42 and back.distance_name == net.distance_name
    assert model_fingerprint(back) == model_fingerprint(net)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "model.safetensors",
        "siamkit.json",
    ]
    doc = json.loads((tmp_path / "m" / "siamkit.json").read_text())
    assert (
        doc["embedding_dim"] == net.embedding_dim
        and doc["model"].get("net", doc["model"])["encoder"]["name"] == "convnet"
    )


def test_half_twin_round_trip(tmp_path: Path) -> None:
    f = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[16])
    net = trained_like(
        HalfTwinNetwork(
            f,
            g,
            4,
            preprocess_f=Preprocess(input_shape=(8,)),
            preprocess_g=Preprocess(input_shape=(5,)),
        )
    )
    save_model(net, tmp_path / "ht")
    back = load_model(tmp_path / "ht")
    x, y = torch.randn(3, 8), torch.randn(3, 5)
    assert isinstance(back, HalfTwinNetwork) and torch.equal(back(x, y), net(x, y))


def test_saving_over_an_existing_model_replaces_it(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8])
    a = trained_like(SiameseNetwork(enc, 3, preprocess=Preprocess(input_shape=(4,))))
    b = trained_like(
        SiameseNetwork(
            siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8]),
            3,
            preprocess=Preprocess(input_shape=(4,)),
        )
    )
    save_model(a, tmp_path / "m")
    save_model(b, tmp_path / "m")
    assert model_fingerprint(load_model(tmp_path / "m")) == model_fingerprint(b)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left behind


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    enc = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8])
    save_model(SiameseNetwork(enc, 3, preprocess=Preprocess(input_shape=(4,))), tmp_path / "m")
    return tmp_path / "m"


def test_tampered_weights_are_refused(saved: Path) -> None:
    data = bytearray((saved / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (saved / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="truncated or was modified"):
        load_model(saved)


def test_truncated_weights_are_refused(saved: Path) -> None:
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(saved)


def test_corrupted_json_newer_format_and_missing_files_are_refused(
    saved: Path, tmp_path: Path
) -> None:
    cfg = saved / "siamkit.json"
    doc = json.loads(cfg.read_text())
    cfg.write_text(json.dumps({**doc, "format_version": 99}))
    with pytest.raises(ModelFileError, match="upgrade siamkit"):
        load_model(saved)
    cfg.write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(saved)
    # a folder that is not there is said to be missing, not "not a model folder"
    with pytest.raises(ModelFileError, match=r"nowhere does not exist: give a model folder"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelFileError, match=r"notes\.txt is a file, not a model folder"):
        load_model(tmp_path / "notes.txt")
    (saved / "siamkit.json").unlink()
    with pytest.raises(ModelFileError, match=r"no siamkit\.json"):
        load_model(saved)


def test_weights_that_do_not_fit_the_architecture_are_refused(saved: Path) -> None:
    cfg = saved / "siamkit.json"
    doc = json.loads(cfg.read_text())
    doc["model"]["head"]["embedding_dim"] = 5
    cfg.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="cannot be rebuilt"):
        load_model(saved)


def test_no_pickle_in_the_model_folder(saved: Path) -> None:
    for f in saved.iterdir():
        head = f.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"PK", f"{f.name} looks like a pickle/zip archive"


def test_hand_made_encoder_cannot_be_saved(tmp_path: Path) -> None:
    class Enc(torch.nn.Module):
        num_features = 4

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ValueError, match="register"):
        save_model(SiameseNetwork(Enc(), 2), tmp_path / "x")
    assert not any(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("distance", ["euclidean", "mahalanobis"])
def test_score_norm_cohort_is_saved_and_used_to_verify(tmp_path: Path, distance: str) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    dist = MahalanobisDistance(16) if distance == "mahalanobis" else distance
    prep = Preprocess((0.3,), (0.4,), (1, 28, 28))
    net = trained_like(SiameseNetwork(enc, 16, distance=dist, preprocess=prep))
    net.threshold = 0.5
    with torch.no_grad():
        cohort = net.embed(torch.rand(40, 1, 28, 28))
    net.set_score_norm(cohort, k=10, method="snorm")
    assert net.threshold is None  # a threshold of the raw distance does not fit normalised scores
    assert net.scoring_distance is net.score_norm and net.distance is not net.score_norm
    save_model(net, tmp_path / "m", threshold=-0.25)
    back = load_model(tmp_path / "m")
    assert back.score_norm is not None and back.score_norm.k == 10
    assert torch.equal(back.score_norm.cohort, cohort)
    a, b = torch.rand(1, 1, 28, 28), torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        za, zb = back.embed(a), back.embed(b)
        want = float(back.score_norm.pairwise(za, zb)[0])
        raw = float(back.distance.pairwise(za, zb)[0])
    result = siamkit.index.verify_pair(back, a[0], b[0])
    assert result.distance == pytest.approx(want, abs=1e-5) and want != pytest.approx(raw)
    assert result.threshold == -0.25 and result.same == (want <= -0.25)
    assert model_fingerprint(back) == model_fingerprint(net)
    back.set_score_norm(None)
    assert back.scoring_distance is back.distance and back.threshold is None


def test_score_norm_cohort_of_the_wrong_size_is_refused() -> None:
    enc = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[8])
    net = SiameseNetwork(enc, 4)
    with pytest.raises(ValueError, match=r"cohort embeddings must be \(C, 4\)"):
        net.set_score_norm(torch.randn(10, 5))
