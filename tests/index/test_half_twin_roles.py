"""An image half-twin (a HalfTwinNetwork, branches f and g unshared; built here in Python, as a
``task: half_twin`` run trains one) is trained on ``delta(f(x), g(y))`` and scored on the
nearest ``g(y)`` of each ``f(x)``: a gallery enrolls its references with branch g and searches
with branch f, verify_pair scores ``(f(a), g(b))``, and the service does the same, each equal
to the branches called directly."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import siamkit
from siamkit.models import HalfTwinNetwork, Preprocess


def _half_twin() -> HalfTwinNetwork:
    """Two small convnets over 28x28 grey images, different weights (f and g differ)."""
    torch.manual_seed(0)
    f = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    g = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre = (Preprocess(input_shape=(1, 28, 28)), Preprocess(input_shape=(1, 28, 28)))
    net = HalfTwinNetwork(f, g, embedding_dim=16, preprocess_f=pre[0], preprocess_g=pre[1])
    net.threshold = 0.8
    return net.eval()


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _naive(net: HalfTwinNetwork, refs: torch.Tensor, probes: torch.Tensor):  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        zf, zg = net.embed_f(probes), net.embed_g(refs)
    assert not torch.allclose(net.embed_f(refs), zg, atol=1e-3)  # the branches differ
    return zf.numpy(), zg.numpy(), torch.cdist(zf, zg).numpy()  # euclidean, the net's distance


def test_a_gallery_enrolls_with_branch_g_and_searches_with_branch_f(tmp_path: Path) -> None:
    from siamkit.index import Gallery, verify_pair

    net = _half_twin()
    refs, probes = _images(3, 1), _images(2, 2)
    _, zg, d = _naive(net, refs, probes)
    with Gallery.open(tmp_path / "g.db", net) as g:
        for i in range(3):
            g.enroll(f"item-{i}", refs[i : i + 1])
        for i in range(3):
            np.testing.assert_allclose(g.items(f"item-{i}").embeddings, zg[i : i + 1], atol=1e-5)
        res = g.identify(probes[0], k=3)
        got = {m.label: m.distance for m in res.matches}
        np.testing.assert_allclose([got[f"item-{i}"] for i in range(3)], d[0], atol=1e-4)
        assert g.verify(probes[1], "item-2").distance == pytest.approx(float(d[1, 2]), abs=1e-4)
    with torch.inference_mode():
        want = float(net(probes[:1], refs[:1])[0])  # the pair as the network trains on it
    assert verify_pair(net, probes[0], refs[0]).distance == pytest.approx(want, abs=1e-4)


def test_the_service_enrolls_with_branch_g_and_queries_with_branch_f(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    import io

    from PIL import Image

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    def png(img: torch.Tensor) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(img[0].numpy().astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue()

    net = _half_twin()
    # whole grey levels, so that the PNG round trip gives back the same pixels
    refs = (_images(2, 1) * 255).round() / 255
    probes = (_images(1, 2) * 255).round() / 255
    _, _, d = _naive(net, refs, probes)
    files = [png(r * 255) for r in refs]
    with TestClient(create_app(net, tmp_path / "g.db")) as c:
        assert c.get("/info").json()["model"]["towers"] == 2
        for i, body in enumerate(files):
            r = c.post("/enroll", data={"label": f"item-{i}"}, files={"files": ("a.png", body)})
            assert r.status_code == 201, r.text
        q = png(probes[0] * 255)
        body = c.post("/identify", files={"file": ("q.png", q)}, data={"k": "2"}).json()
        got = {m["label"]: m["distance"] for m in body["matches"]}
        np.testing.assert_allclose([got["item-0"], got["item-1"]], d[0], atol=1e-4)
        pair = c.post("/verify", files={"file_a": ("q.png", q), "file_b": ("r.png", files[1])})
        label = c.post("/verify", files={"file": ("q.png", q)}, data={"label": "item-1"})
    assert pair.json()["distance"] == pytest.approx(float(d[0, 1]), abs=1e-4), pair.text
    assert label.json()["distance"] == pytest.approx(float(d[0, 1]), abs=1e-4), label.text


def _drop_record(path: Path) -> None:
    """The gallery as a siamkit before the enrolling tower was recorded left it."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'enrolled_tower'")
    conn.close()


def test_a_half_twin_gallery_records_its_enrolling_tower_and_one_without_it_is_refused(
    tmp_path: Path,
) -> None:
    from siamkit.index import Gallery
    from siamkit.index.store import GalleryStore

    net = _half_twin()
    with Gallery.open(tmp_path / "old.db", net) as g:
        g.enroll("item-0", _images(1, 1))
    with GalleryStore(tmp_path / "old.db", create=False) as store:
        assert store.meta()["enrolled_tower"] == "document"
    _drop_record(tmp_path / "old.db")  # enrolled with branch f by an older siamkit
    with pytest.raises(ValueError) as err:
        Gallery.open(tmp_path / "old.db", net)
    assert str(err.value) == (
        f"{tmp_path / 'old.db'} was enrolled with this half-twin model (two towers) by an older "
        "siamkit, which embedded its items with the query tower instead of the document tower "
        "(branch g of an image half-twin) that they are now searched as: enroll them again "
        "into a new gallery file."
    )
    with Gallery.open(tmp_path / "old.db") as g:  # without a model: listing and removal
        g.remove("item-0")
    with Gallery.open(tmp_path / "old.db", net) as g:  # empty: nothing stale, recorded now
        g.enroll("item-0", _images(1, 1))
    with GalleryStore(tmp_path / "old.db", create=False) as store:
        assert store.meta()["enrolled_tower"] == "document"


def test_a_shared_weight_gallery_records_no_tower_and_opens_as_before(tmp_path: Path) -> None:
    from siamkit.index import Gallery
    from siamkit.index.store import GalleryStore

    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    net = siamkit.SiameseNetwork(enc, 16, preprocess=Preprocess(input_shape=(1, 28, 28))).eval()
    with Gallery.open(tmp_path / "g.db", net) as g:
        g.enroll("item-0", _images(1, 1))
    with GalleryStore(tmp_path / "g.db", create=False) as store:
        assert "enrolled_tower" not in store.meta()
    with Gallery.open(tmp_path / "g.db", net) as g:
        assert len(g) == 1


def _grey(n: int, size: int, seed: int) -> torch.Tensor:
    """Whole grey levels, so that a PNG round trip gives back the same pixels."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=g) * 255).round() / 255


def _png(img: torch.Tensor) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((img[0] * 255).round().numpy().astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _gallery_cli():  # type: ignore[no-untyped-def]
    import click

    from siamkit.cli.gallery_cmds import COMMANDS

    cli = click.Group("siamkit")
    for command in COMMANDS:
        cli.add_command(command)
    return cli


def test_siamkit_enroll_embeds_a_half_twins_images_with_branch_g(tmp_path: Path) -> None:
    """siamkit enroll embedded the images with branch f (the query tower) while the gallery
    recorded branch g as its enrolling tower and searched them with f: they must be g's."""
    from click.testing import CliRunner

    from siamkit.index import Gallery

    net = _half_twin()
    siamkit.save_model(net, tmp_path / "model")
    refs = _grey(2, 28, 1)
    for i, r in enumerate(refs):
        (tmp_path / f"r{i}.png").write_bytes(_png(r))
    args = ["enroll", tmp_path / "model", "--gallery", tmp_path / "g.db", "--label", "item"]
    res = CliRunner().invoke(
        _gallery_cli(), [str(a) for a in [*args, *sorted(tmp_path.glob("r*"))]]
    )
    assert res.exit_code == 0, res.output
    with torch.inference_mode():
        zg = net.embed_g(refs).numpy()
    with Gallery.open(tmp_path / "g.db", net) as g:
        np.testing.assert_allclose(g.items("item").embeddings, zg, atol=1e-5)


def _sized_half_twin() -> HalfTwinNetwork:
    """A half-twin whose branch f takes 28x28 grey images and branch g 32x32 ones."""
    torch.manual_seed(0)
    f = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    g = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre_f, pre_g = Preprocess(input_shape=(1, 28, 28)), Preprocess(input_shape=(1, 32, 32))
    net = HalfTwinNetwork(f, g, embedding_dim=16, preprocess_f=pre_f, preprocess_g=pre_g)
    net.threshold = 0.8
    return net.eval()


def test_cli_reads_a_half_twins_references_at_branch_gs_size(tmp_path: Path) -> None:
    """Enrolled images and verify's second image are read at g's input size, the probes at f's
    (they were all read at f's, which g's input check refused)."""
    import json

    from click.testing import CliRunner

    cli = _gallery_cli()
    net = _sized_half_twin()
    siamkit.save_model(net, tmp_path / "model")
    refs, probe = _grey(2, 32, 1), _grey(1, 28, 2)
    for i, r in enumerate(refs):
        (tmp_path / f"r{i}.png").write_bytes(_png(r))
    (tmp_path / "q.png").write_bytes(_png(probe[0]))
    with torch.inference_mode():
        want = torch.cdist(net.embed_f(probe), net.embed_g(refs))[0].numpy()

    def run(*args: object) -> dict:  # type: ignore[type-arg]
        res = CliRunner().invoke(cli, [str(a) for a in args])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    m, db, q = tmp_path / "model", tmp_path / "g.db", tmp_path / "q.png"
    for i in range(2):
        run("enroll", m, "--gallery", db, "--label", f"item-{i}", tmp_path / f"r{i}.png", "--json")
    doc = run("identify", m, "--gallery", db, q, "--k", "2", "--json")
    got = {x["label"]: x["distance"] for x in doc["queries"][0]["matches"]}
    np.testing.assert_allclose([got["item-0"], got["item-1"]], want, atol=1e-4)
    doc = run("verify", m, q, tmp_path / "r1.png", "--json")
    assert doc["distance"] == pytest.approx(float(want[1]), abs=1e-4)


def test_the_service_reads_a_half_twins_references_at_branch_gs_size(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    net = _sized_half_twin()
    refs, probe = _grey(2, 32, 1), _grey(1, 28, 2)
    with torch.inference_mode():
        want = torch.cdist(net.embed_f(probe), net.embed_g(refs))[0].numpy()
    q = _png(probe[0])
    with TestClient(create_app(net, tmp_path / "g.db")) as c:
        for i, r in enumerate(refs):
            res = c.post(
                "/enroll", data={"label": f"item-{i}"}, files={"files": ("a.png", _png(r))}
            )
            assert res.status_code == 201, res.text
        body = c.post("/identify", files={"file": ("q.png", q)}, data={"k": "2"}).json()
        got = {m["label"]: m["distance"] for m in body["matches"]}
        np.testing.assert_allclose([got["item-0"], got["item-1"]], want, atol=1e-4)
        pair = c.post("/verify", files={"file_a": ("q.png", q), "file_b": ("r.png", _png(refs[1]))})
    assert pair.json()["distance"] == pytest.approx(float(want[1]), abs=1e-4), pair.text


@pytest.mark.parametrize("branch", ["f", "g"])
def test_a_one_branch_onnx_export_is_refused_by_a_gallery_and_the_service(
    tmp_path: Path, branch: str
) -> None:
    """siamkit export writes one branch of a half-twin with the torch model's fingerprint: a
    gallery or the service given it would embed both roles with that branch."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx
    from siamkit.export.onnx_model import OnnxModel
    from siamkit.index import Gallery

    net = _half_twin()
    path = export_onnx(net, tmp_path / "m.onnx", branch=branch).path
    onnx_net = OnnxModel(str(path))
    assert onnx_net.half_twin_branch == branch
    want = (
        f"{path} holds only branch {branch} of a half-twin model (two towers), but a "
        "gallery or the service embeds what is searched with branch f and what is enrolled or "
        "compared against with branch g: export it again with `siamkit export MODEL --format "
        "onnx --force`, which writes both branches, or serve the torch model (--runtime torch)."
    )
    with pytest.raises(ValueError) as err:
        Gallery.open(tmp_path / "g.db", onnx_net)
    assert str(err.value) == want and not (tmp_path / "g.db").exists()
    pytest.importorskip("fastapi")
    from siamkit.service.engine import ServiceEngine

    with pytest.raises(ValueError) as err:
        ServiceEngine(onnx_net, None)  # no gallery: /enroll and /verify need both still
    assert str(err.value) == want
