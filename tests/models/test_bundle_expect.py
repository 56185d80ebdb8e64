"""``load_model(path, expect=Class)``: typed as that class for a ``mypy --strict`` caller (no
``isinstance`` after loading), and a folder of another kind refused in one sentence naming what it
holds, before its weights are read. ``load_model(path)`` without ``expect`` is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.export import ModelFileError, load_model, save_model
from siamkit.heads import AppearanceFeatures
from siamkit.models import HalfTwinNetwork, JoinedEmbedding, Preprocess, SiameseNetwork


def _siamese() -> SiameseNetwork:
    enc = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8])
    return SiameseNetwork(enc, 3, preprocess=Preprocess(input_shape=(4,))).eval()


def _half_twin() -> HalfTwinNetwork:
    f = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[8])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[8])
    return HalfTwinNetwork(
        f,
        g,
        3,
        preprocess_f=Preprocess(input_shape=(4,)),
        preprocess_g=Preprocess(input_shape=(5,)),
    ).eval()


def _joined() -> JoinedEmbedding:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    net = SiameseNetwork(enc, 3, preprocess=Preprocess((0.5,), (0.5,), (1, 8, 8)))
    return JoinedEmbedding(net, AppearanceFeatures(2), 0.7).eval()


MAKERS = {"siamese": _siamese, "half_twin": _half_twin, "joined": _joined}
CLASSES = {"siamese": SiameseNetwork, "half_twin": HalfTwinNetwork, "joined": JoinedEmbedding}
HOLDS = {
    "siamese": "a Siamese model whose twins share one encoder (SiameseNetwork, kind 'siamese')",
    "half_twin": "a half-twin model with two towers (HalfTwinNetwork, kind 'half_twin')",
    "joined": "a Siamese model joined with appearance features (JoinedEmbedding, kind 'joined')",
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    return {kind: save_model(make(), root / kind) for kind, make in MAKERS.items()}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_the_expected_kind_loads_as_without_expect(folders: dict[str, Path], kind: str) -> None:
    back = load_model(folders[kind], expect=CLASSES[kind])
    assert type(back) is CLASSES[kind] and not back.training
    plain = load_model(folders[kind])
    assert torch.equal(
        torch.cat([p.flatten() for p in back.parameters()]),
        torch.cat([p.flatten() for p in plain.parameters()]),
    )
    assert isinstance(load_model(folders[kind], expect=torch.nn.Module), CLASSES[kind])  # a base


@pytest.mark.parametrize(
    ("held", "expected"),
    [(h, e) for h in MAKERS for e in MAKERS if h != e],
)
def test_another_kind_is_one_sentence_naming_what_the_folder_holds(
    folders: dict[str, Path], held: str, expected: str
) -> None:
    want = CLASSES[expected].__name__
    with pytest.raises(ModelFileError) as err:
        load_model(folders[held], expect=CLASSES[expected])
    assert str(err.value) == (
        f"{folders[held]} holds {HOLDS[held]}, not a {want}: load it with "
        f"expect={CLASSES[held].__name__}, or without expect= to take any kind"
    )


def test_another_kind_is_refused_before_its_weights_are_read(tmp_path: Path) -> None:
    """The kind is read from siamkit.json: a folder that is not the kind asked for says so, not
    that its (here damaged) weights do not match their checksum."""
    folder = save_model(_half_twin(), tmp_path / "ht")
    (folder / "model.safetensors").write_bytes(b"damaged")
    with pytest.raises(ModelFileError, match=r"holds a half-twin model .* not a SiameseNetwork"):
        load_model(folder, expect=SiameseNetwork)
    with pytest.raises(ModelFileError, match="does not match the checksum"):
        load_model(folder, expect=HalfTwinNetwork)


def test_an_application_kind_is_named_too(folders: dict[str, Path]) -> None:
    from siamkit.applications.text.model import TextSiameseNetwork

    with pytest.raises(ModelFileError, match=r"holds a Siamese model .*, not a TextSiameseNetwork"):
        load_model(folders["siamese"], expect=TextSiameseNetwork)


@pytest.mark.parametrize("expect", ["siamese", (SiameseNetwork, JoinedEmbedding)])
def test_expect_other_than_a_class_is_a_type_error(
    folders: dict[str, Path], expect: object
) -> None:
    with pytest.raises(
        TypeError, match=r"expect must be a model class such as siamkit\.SiameseNetwork"
    ):
        load_model(folders["siamese"], expect=expect)  # type: ignore[call-overload]
