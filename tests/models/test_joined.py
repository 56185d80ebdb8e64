"""JoinedEmbedding: the join against a hand-made reference, its saved layout, and model folders
written before it existed (``tests/models/legacy``, made by ``make_legacy_bundles.py`` with the
siamkit that had ``SiameseNetwork(appearance_skip=...)``)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import siamkit
from siamkit.distances import MahalanobisDistance
from siamkit.export import ModelFileError, load_model, model_fingerprint, save_model
from siamkit.heads import AppearanceFeatures
from siamkit.index import Gallery
from siamkit.models import JoinedEmbedding, Preprocess, SiameseNetwork

LEGACY = Path(__file__).resolve().parent / "legacy"


def small_net(**kw) -> SiameseNetwork:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    net = SiameseNetwork(enc, 8, preprocess=Preprocess((0.3,), (0.4,), (1, 28, 28)), **kw)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def test_embed_is_the_hand_made_join() -> None:
    """``[net.embed(x) ; w * hog(x)] / sqrt(1 + w²)`` with the HOG features computed apart."""
    from siamkit.heads.appearance import hog_features

    torch.manual_seed(0)
    net, w = small_net(), 0.3
    joined = JoinedEmbedding(net, AppearanceFeatures(7, "hog", bins=6, signed=True, levels=2), w)
    x = torch.rand(4, 1, 28, 28)
    e, h = net.embed(x), hog_features(x, bins=6, cell=7, signed=True, levels=2)
    naive = torch.stack(
        [
            torch.tensor([*e[i].tolist(), *(w * h[i]).tolist()]) / math.sqrt(1 + w * w)
            for i in range(4)
        ]
    )
    with torch.no_grad():
        z = joined.embed(x)
    torch.testing.assert_close(z, naive)
    assert joined.embedding_dim == 8 + 6 * (16 + 4) == z.shape[1]
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))


def test_the_state_is_the_networks_under_its_own_keys() -> None:
    torch.manual_seed(0)
    net = small_net()
    joined = JoinedEmbedding(net, AppearanceFeatures(7), 1.0)
    assert joined.state_dict().keys() == net.state_dict().keys()
    other = JoinedEmbedding(small_net(), AppearanceFeatures(7), 1.0)
    other.load_state_dict(joined.state_dict(), strict=True)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(other.embed(x), joined.embed(x))
    # a joined model's weights load into its bare network and back (init_from, checkpoints)
    net.load_state_dict(other.state_dict(), strict=True)


def test_the_network_of_a_joined_embedding_has_no_learned_distance_or_cohort() -> None:
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="fixed distance"):
        JoinedEmbedding(small_net(distance=MahalanobisDistance(8, rank=2)), AppearanceFeatures(7))
    net = small_net()
    net.set_score_norm(torch.randn(10, 8), k=3)
    with pytest.raises(ValueError, match="no cohort"):
        JoinedEmbedding(net, AppearanceFeatures(7))


@pytest.mark.parametrize("learned", [False, True])
def test_round_trip_of_a_joined_model(tmp_path: Path, learned: bool) -> None:
    torch.manual_seed(0)
    dist = MahalanobisDistance(8 + 16, rank=4) if learned else None
    joined = JoinedEmbedding(small_net(), AppearanceFeatures(7), 0.8, distance=dist).eval()
    if not learned:
        with torch.no_grad():
            joined.set_score_norm(joined.embed(torch.rand(9, 1, 28, 28)), k=3)
    save_model(joined, tmp_path / "m", threshold=0.4)
    doc = json.loads((tmp_path / "m" / "siamkit.json").read_text())
    assert doc["model"]["kind"] == "joined" and doc["model"]["net"]["kind"] == "siamese"
    back = load_model(tmp_path / "m")
    assert isinstance(back, JoinedEmbedding) and back.threshold == 0.4
    x, y = torch.rand(5, 1, 28, 28), torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(back.embed(x), joined.embed(x))
        assert torch.equal(back(x, y), joined(x, y))
        zx, zy = back.embed(x), back.embed(y)
        assert torch.equal(
            back.scoring_distance.pairwise(zx, zy), joined.scoring_distance.pairwise(zx, zy)
        )
    assert model_fingerprint(back) == model_fingerprint(joined) == doc["fingerprint"]


@pytest.mark.parametrize("name", ["hog_snorm", "pixels_mahalanobis"])
def test_a_model_folder_saved_before_loads_as_the_joined_model_it_was(
    tmp_path: Path, name: str
) -> None:
    """Same embeddings, distances, cohort scores, threshold and fingerprint as when it was saved
    (so galleries built with it still take it); saved again, it is a ``kind: joined`` folder."""
    folder = LEGACY / name
    doc = json.loads((folder / "siamkit.json").read_text())
    assert doc["model"]["kind"] == "siamese" and doc["model"]["appearance_skip"]
    want = load_file(str(LEGACY / f"{name}.expected.safetensors"))
    model = load_model(folder)
    assert isinstance(model, JoinedEmbedding) and isinstance(model.net, SiameseNetwork)
    assert model.threshold == doc["threshold"] and model.embedding_dim == want["z"].shape[1]
    assert model.distance_name == doc["distance"]
    with torch.no_grad():
        z = model.embed(want["x"])
        torch.testing.assert_close(z, want["z"], rtol=0, atol=1e-6)
        torch.testing.assert_close(
            model(want["x"], want["x"].flip(0)), want["d"], rtol=0, atol=1e-6
        )
        if "scores" in want:
            got = model.scoring_distance.pairwise(z, z.flip(0))
            # the same scores in float64, which the float32 ones now meet (the cohort's distance
            # matrix is exact since feaf21db; the normalisation amplifies any float noise)
            f64 = model.scoring_distance.pairwise(z.double(), z.flip(0).double())
            torch.testing.assert_close(got.double(), f64, rtol=0, atol=1e-3)
            # the fixture was scored with the float32 expansion |x|^2 + |y|^2 - 2x.y, which the
            # normalisation amplified to 0.039 off at a score of 10.7; a wrong cohort, k or
            # method moves these scores by far more than 0.05
            torch.testing.assert_close(got, want["scores"], rtol=0, atol=0.05)
    assert model_fingerprint(model) == doc["fingerprint"]
    save_model(model, tmp_path / "again")
    again = json.loads((tmp_path / "again" / "siamkit.json").read_text())
    assert again["model"]["kind"] == "joined" and again["fingerprint"] == doc["fingerprint"]
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "again").embed(want["x"]), z)


def test_a_gallery_built_with_an_old_model_folder_takes_it_loaded_and_converted(
    tmp_path: Path,
) -> None:
    """``hog_snorm.gallery.db`` was enrolled by the old siamkit with the old model (it records the
    model's fingerprint): the folder loaded now, and saved again in the new layout, open it and
    find each enrolled image at distance 0."""
    want = load_file(str(LEGACY / "hog_snorm.expected.safetensors"))
    old = load_model(LEGACY / "hog_snorm")
    save_model(old, tmp_path / "converted")
    for model in (old, load_model(tmp_path / "converted")):
        shutil.copy(LEGACY / "hog_snorm.gallery.db", tmp_path / "g.db")
        with Gallery.open(tmp_path / "g.db", model, create=False) as g:
            found = g.identify_batch(want["x"], k=1)
        assert [r.matches[0].label for r in found] == ["a", "a", "b", "b", "b"]
        (tmp_path / "g.db").unlink()
    other = JoinedEmbedding(
        small_net(), AppearanceFeatures(7, "hog", bins=6, signed=True, levels=2), 0.5
    )
    shutil.copy(LEGACY / "hog_snorm.gallery.db", tmp_path / "g.db")
    with pytest.raises(ValueError, match="different model"):
        Gallery.open(tmp_path / "g.db", other, create=False)


def test_a_legacy_folder_with_a_broken_appearance_section_is_refused_clearly(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "m"
    shutil.copytree(LEGACY / "hog_snorm", folder)
    doc = json.loads((folder / "siamkit.json").read_text())
    doc["model"]["appearance_skip"]["features"] = "sift"
    (folder / "siamkit.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"cannot be rebuilt.*'pixels' or 'hog'"):
        load_model(folder)


def test_init_from_a_joined_model_takes_its_network() -> None:
    """``model.init_from`` copies encoder, head and normalisation: of the joined model's network."""
    from siamkit.training.init_from import init_from_model

    source = load_model(LEGACY / "hog_snorm")
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    net = SiameseNetwork(enc, 8, preprocess=Preprocess(input_shape=(1, 28, 28))).eval()
    joined = JoinedEmbedding(net, AppearanceFeatures(7, "hog", bins=6, signed=True, levels=2), 0.5)
    init_from_model(joined, LEGACY / "hog_snorm")
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(net.embed(x), source.net.embed(x))
