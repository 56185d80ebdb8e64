"""A model built in Python as ``SiameseNetwork(create_encoder("text", path=P))`` and saved embeds
neither texts nor images (the text encoder takes token ids and an attention mask). The image
commands told its user to "run one batch through it before saving (`net.embed(images)`)" or to
pass --input-shape, which cannot help it, and the text commands only that it is "not a text
model"; the service the same as for an image model. Each now says what it is and what to build
instead (TextSiameseNetwork.pretrained), and an image model that recorded no shape keeps its
own advice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.cli.main import cli
from siamkit.encoders import create_encoder
from siamkit.models import HalfTwinNetwork, SiameseNetwork

pytest.importorskip("transformers")

WHAT = "is a SiameseNetwork over the 'text' encoder, which embeds neither texts nor images"
BUILD = "TextSiameseNetwork.pretrained(FOLDER)"


@pytest.fixture(scope="module")
def generic(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("generic")
    save_tiny_bert(root / "bert", layers=1)
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("text", path=str(root / "bert")), embedding_dim=8)
    return str(siamkit.save_model(net.eval(), root / "model"))


def _refused(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code != 0, res.output
    return res.output


def test_every_command_says_what_a_generic_text_model_is_and_what_to_build(
    generic: str, tmp_path: Path
) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "hello"}\n', encoding="utf-8")
    outs = [
        _refused("embed", generic, str(image), "--out", str(tmp_path / "e.npy")),
        _refused("verify", generic, str(image), str(image)),
        _refused(
            "enroll", generic, "--gallery", str(tmp_path / "g.db"), "--label", "a", str(image)
        ),
        _refused("export", generic, "--input-shape", "1,8,8"),
        _refused("text", "similarity", "a", "b", "--model", generic),
        _refused(
            "text", "enroll", str(corpus), "--gallery", str(tmp_path / "t.db"), "--model", generic
        ),
    ]
    for out in outs:
        assert WHAT in out and BUILD in out, out
        assert "net.embed(images)" not in out, out
    assert not (tmp_path / "g.db").exists() and not (tmp_path / "t.db").exists()


def test_text_identify_and_verify_without_a_gallery_refuse_the_model_first(
    generic: str, tmp_path: Path
) -> None:
    """With no gallery yet they told the user to enroll first with `siamkit text enroll ...
    --model GEN`, which refuses GEN (s57_FB Q5): the model's sentence comes first."""
    missing = str(tmp_path / "none.db")
    outs = [
        _refused("text", "identify", "hello", "--gallery", missing, "--model", generic),
        _refused("text", "verify", "hi", "--label", "a", "--gallery", missing, "--model", generic),
    ]
    for out in outs:
        assert WHAT in out and BUILD in out, out
        assert "enroll texts into it first" not in out, out
    assert not Path(missing).exists()


def test_enroll_says_what_a_half_twin_of_text_encoders_is(tmp_path: Path) -> None:
    """enroll embeds with branch g alone (the document tower), which hid the model's text
    towers: it told the user to run one batch of images through it (reviewer s57_r7 finding 1)."""
    save_tiny_bert(tmp_path / "bert", layers=1)
    torch.manual_seed(0)
    towers = [create_encoder("text", path=str(tmp_path / "bert")) for _ in range(2)]
    net = HalfTwinNetwork(*towers, embedding_dim=8)
    folder = str(siamkit.save_model(net.eval(), tmp_path / "tt"))
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    gallery = tmp_path / "g.db"
    out = _refused("enroll", folder, "--gallery", str(gallery), "--label", "a", str(image))
    assert "is a HalfTwinNetwork over the 'text' encoder" in out and BUILD in out, out
    assert "net.embed(images)" not in out, out
    assert not gallery.exists()
    # embed, evaluate and calibrate gave the half-twin advice, net.embed(x, branch='f'), which
    # raises for a text tower (s57_FB Q2)
    data = tmp_path / "imgs"
    for label in ("a", "b"):
        (data / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(data / label / f"{i}.png")
    outs = [
        _refused("embed", folder, str(image), "--out", str(tmp_path / "e.npy")),
        _refused("evaluate", folder, "--data", str(data)),
        _refused("calibrate", folder, "--data", str(data)),
    ]
    for out in outs:
        assert "is a HalfTwinNetwork over the 'text' encoder" in out and BUILD in out, out
        assert "branch='f'" not in out, out


def test_a_half_twin_with_one_text_tower_is_named_by_that_tower(tmp_path: Path) -> None:
    """An image-to-text half-twin (tower f a convnet, tower g the text encoder) was told it
    "embeds neither texts nor images" and to build a text-only model instead, yet its tower f
    embeds images (reviewer s57_r7 finding 2): the sentence names the text tower and the Python
    calls that embed with each tower, and both calls work."""
    pytest.importorskip("fastapi")
    from siamkit.models import Preprocess
    from siamkit.service import create_app

    save_tiny_bert(tmp_path / "bert", layers=1)
    torch.manual_seed(0)
    f = create_encoder("convnet", in_channels=1, widths=(4,))
    g = create_encoder("text", path=str(tmp_path / "bert"))
    net = HalfTwinNetwork(f, g, embedding_dim=8, preprocess_f=Preprocess(input_shape=(1, 12, 12)))
    folder = str(siamkit.save_model(net.eval(), tmp_path / "mixed"))
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(image)
    outs = [
        _refused("verify", folder, str(image), str(image)),
        _refused("enroll", folder, "--gallery", str(tmp_path / "g.db"), "--label", "a", str(image)),
        _refused("text", "similarity", "a", "b", "--model", folder),
    ]
    with pytest.raises(ValueError) as err:
        create_app(siamkit.load_model(folder), tmp_path / "s.db")
    outs.append(str(err.value))
    for out in outs:
        assert "is a HalfTwinNetwork whose tower g is the 'text' encoder" in out, out
        assert "neither texts nor images" not in out and BUILD not in out, out
        assert "net.embed(x, branch='f')" in out and "net.head_g(net.encoder_g(" in out, out
    loaded = siamkit.load_model(folder)
    ids, mask = torch.ones(2, 5, dtype=torch.long), torch.ones(2, 5, dtype=torch.long)
    with torch.no_grad():
        assert loaded.embed(torch.rand(2, 1, 12, 12), branch="f").shape == (2, 8)
        assert loaded.head_g(loaded.encoder_g(ids, mask)).shape == (2, 8)


def test_the_service_says_what_a_generic_text_model_is(generic: str, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from siamkit.service import create_app

    with pytest.raises(ValueError, match="over the 'text' encoder") as err:
        create_app(siamkit.load_model(generic), tmp_path / "s.db")
    assert BUILD in str(err.value)


def test_an_image_model_without_a_shape_keeps_its_advice(tmp_path: Path) -> None:
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=(4,)), embedding_dim=4)
    folder = str(siamkit.save_model(net, tmp_path / "m"))
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    out = _refused("embed", folder, str(image), "--out", str(tmp_path / "e.npy"))
    assert "net.embed(images)" in out and WHAT not in out, out


def test_export_writes_the_image_tower_of_a_half_twin_with_one_text_tower(tmp_path: Path) -> None:
    """`export MIXED --branch f` (tower f a convnet, tower g the text encoder) exported tower f
    until the text-encoder check (ced5d6e0) looked at the whole model and refused it with "no
    command takes this model" (s57_FB Q1): only the tower written is checked now, and the
    sentence names the export that does work."""
    pytest.importorskip("onnx")
    from siamkit.models import Preprocess

    save_tiny_bert(tmp_path / "bert", layers=1)
    torch.manual_seed(0)
    f = create_encoder("convnet", in_channels=1, widths=(4,))
    g = create_encoder("text", path=str(tmp_path / "bert"))
    net = HalfTwinNetwork(f, g, embedding_dim=8, preprocess_f=Preprocess(input_shape=(1, 12, 12)))
    folder = str(siamkit.save_model(net.eval(), tmp_path / "mixed"))
    onnx_f = tmp_path / "f.onnx"
    res = CliRunner().invoke(cli, ["export", folder, "--branch", "f", "--out", str(onnx_f)])
    assert res.exit_code == 0, res.output
    assert onnx_f.is_file()
    for args in (["--out", str(tmp_path / "x.onnx")], ["--branch", "g"]):
        out = _refused("export", folder, *args)
        assert "is a HalfTwinNetwork whose tower g is the 'text' encoder" in out, out
        assert "and `siamkit export MODEL --branch f` take this model, with tower f" in out, out
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "x.document.onnx").exists()


def _mixed(tmp_path: Path, text_tower: str) -> tuple[HalfTwinNetwork, str]:
    """A half-twin of a convnet (12x12 images) and the 'text' encoder as tower ``text_tower``."""
    from siamkit.models import Preprocess

    save_tiny_bert(tmp_path / "bert", layers=1)
    torch.manual_seed(0)
    image = create_encoder("convnet", in_channels=1, widths=(4,))
    text = create_encoder("text", path=str(tmp_path / "bert"))
    pre = Preprocess(input_shape=(1, 12, 12))
    if text_tower == "g":
        net = HalfTwinNetwork(image, text, embedding_dim=8, preprocess_f=pre)
    else:
        net = HalfTwinNetwork(text, image, embedding_dim=8, preprocess_g=pre)
    return net.eval(), str(siamkit.save_model(net.eval(), tmp_path / f"mixed_{text_tower}"))


def test_the_image_tower_of_a_half_twin_with_one_text_tower_still_runs(tmp_path: Path) -> None:
    """identify / verify --gallery embed queries with tower f alone, enroll with tower g alone:
    an image-to-text half-twin searched a gallery of its text tower's embeddings (enrolled in
    Python) at 427768a5, and a text-to-image one enrolled images, until a check of the whole
    model refused both (s57_FB Q1). The pair form needs both towers and is still refused."""
    from siamkit.index import Gallery

    image = tmp_path / "q.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 12), np.uint8)).save(image)
    net, folder = _mixed(tmp_path, "g")
    gallery = tmp_path / "g.db"
    with Gallery.open(gallery, net, threshold=1.0) as g:  # tower g's embeddings of two texts
        g.enroll_embeddings("shoe", torch.randn(1, 8))
        g.enroll_embeddings("hat", torch.randn(1, 8))
    res = CliRunner().invoke(cli, ["identify", folder, "--gallery", str(gallery), str(image)])
    assert res.exit_code == 0, res.output
    assert "shoe" in res.output and "hat" in res.output, res.output
    args = ["verify", folder, str(image), "--gallery", str(gallery), "--label", "shoe"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "distance" in res.output, res.output
    out = _refused("verify", folder, str(image), str(image))  # tower g would embed the second
    assert "whose tower g is the 'text' encoder" in out, out

    _, folder2 = _mixed(tmp_path / "2", "f")
    enrolled = tmp_path / "e.db"
    res = CliRunner().invoke(
        cli, ["enroll", folder2, "--gallery", str(enrolled), "--label", "a", str(image)]
    )
    assert res.exit_code == 0, res.output
    assert "enrolled 1 image of 1 label" in res.output, res.output
    out = _refused("identify", folder2, "--gallery", str(enrolled), str(image))
    assert "whose tower f is the 'text' encoder" in out and "`siamkit enroll`" in out, out
