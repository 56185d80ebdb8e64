"""An image half-twin's ONNX export (a HalfTwinNetwork, what a ``task: half_twin`` run trains;
built here in Python): both branches go out, f as ``model.onnx`` and g beside it as
``model.document.onnx`` (int8 too), each equal to its torch branch, and the ONNX runtime of a
gallery or the service embeds what is searched with f's graph and what is enrolled with g's,
each at its own input size. An export of one branch (an old one, or ``--branch``) is refused
with a sentence saying to export again."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.export_cmd import export
from siamkit.export.onnx import PARITY_ATOL, export_onnx
from siamkit.export.runtime import OnnxEmbedder
from siamkit.export.serving import load_for_serving
from siamkit.index import Gallery
from siamkit.models import HalfTwinNetwork, Preprocess


def _half_twin(g_size: int = 28) -> HalfTwinNetwork:
    """Two small convnets over grey images, different weights (f and g differ): f takes 28x28
    images, g ``g_size`` ones (as tests/index/test_half_twin_roles.py builds them)."""
    torch.manual_seed(0)
    f = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    g = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre_f, pre_g = Preprocess(input_shape=(1, 28, 28)), Preprocess(input_shape=(1, g_size, g_size))
    net = HalfTwinNetwork(f, g, embedding_dim=16, preprocess_f=pre_f, preprocess_g=pre_g)
    net.threshold = 0.8
    return net.eval()


def _grey(n: int, size: int, seed: int) -> torch.Tensor:
    """Whole grey levels (a PNG round trip keeps them), each image dimmer than the next, so that
    the distances are well apart (at least 3e-3 between neighbours below)."""
    x = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))
    return (x * torch.linspace(0.1, 1.0, n).view(n, 1, 1, 1) * 255).round() / 255


def _embed(path: Path, x: torch.Tensor) -> np.ndarray:
    return OnnxEmbedder(path).embed(x.numpy())


def _export_cli(*args: object) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(export, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_export_writes_both_branches_each_equal_to_its_torch_branch(tmp_path: Path) -> None:
    net = _half_twin(g_size=32)
    res = export_onnx(net, tmp_path / "m.onnx")
    assert res.document is not None
    assert res.document.path == tmp_path / "m.document.onnx"
    assert res.metadata["branch"] == "f" and res.metadata["document_graph"] == "m.document.onnx"
    assert res.document.metadata["branch"] == "g"
    assert json.loads(res.document.metadata["input_shape"]) == [1, 32, 32]
    for check in (res, res.document):
        assert check.max_abs_diff is not None and check.max_abs_diff <= PARITY_ATOL
    x, y = _grey(5, 28, 1), _grey(5, 32, 2)
    with torch.inference_mode():
        want_f, want_g = net.embed_f(x).numpy(), net.embed_g(y).numpy()
    assert np.abs(_embed(res.path, x) - want_f).max() <= PARITY_ATOL
    assert np.abs(_embed(res.document.path, y) - want_g).max() <= PARITY_ATOL


def test_a_failed_branch_f_leaves_no_branch_g_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """g is written first (f's metadata names it): when f's check then fails, g's file goes."""
    import siamkit.export.onnx as onnx_export

    real, calls = onnx_export._parity, []

    def parity(*args: object) -> float | None:
        calls.append(1)
        return real(*args) if len(calls) == 1 else 1.0  # type: ignore[arg-type]

    monkeypatch.setattr(onnx_export, "_parity", parity)
    with pytest.raises(onnx_export.ExportError, match="export of branch f differs"):
        export_onnx(_half_twin(), tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_branch_f_keeps_the_earlier_export_of_both_branches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exporting over an earlier export (--force): when f's check fails, the earlier pair stays
    as it was, g's graph included (it was removed, and the f graph left named a missing g)."""
    import siamkit.export.onnx as onnx_export

    export_onnx(_half_twin(), tmp_path / "m.onnx")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["m.document.onnx", "m.onnx"]
    real, calls = onnx_export._parity, []

    def parity(*args: object) -> float | None:
        calls.append(1)
        return real(*args) if len(calls) == 1 else 1.0  # type: ignore[arg-type]

    monkeypatch.setattr(onnx_export, "_parity", parity)
    with pytest.raises(onnx_export.ExportError, match="export of branch f differs"):
        export_onnx(_half_twin(g_size=32), tmp_path / "m.onnx")  # g's graph differs from before
    assert len(calls) == 2  # g's graph was written and checked before f's failed
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left
    assert OnnxEmbedder(tmp_path / "m.document.onnx").input_shape == (1, 28, 28)


def test_siamkit_export_writes_and_records_both_branches_and_their_int8(tmp_path: Path) -> None:
    net = _half_twin(g_size=32)
    folder = siamkit.save_model(net, tmp_path / "model")
    doc = _export_cli(folder, "--int8-mode", "dynamic", "--json")
    got = [(f["branch"], f["precision"], Path(f["path"]).name) for f in doc["files"]]
    assert got == [
        ("f", "fp32", "model.onnx"),
        ("g", "fp32", "model.document.onnx"),
        ("f", "int8", "model.int8.onnx"),
        ("g", "int8", "model.document.int8.onnx"),
    ]
    assert all(f["max_abs_diff"] <= PARITY_ATOL for f in doc["files"][:2])
    q = OnnxEmbedder(folder / "model.int8.onnx")
    assert q.info.document_graph == "model.document.int8.onnx" and q.info.branch == "f"
    assert OnnxEmbedder(folder / "model.document.int8.onnx").info.branch == "g"
    sidecar = json.loads((folder / "onnx.json").read_text())
    assert sorted(sidecar["exports"]) == sorted(name for _, _, name in got)
    assert sidecar["input"]["shape"] == ["N", 1, 28, 28]  # branch f's, what is searched with
    res = CliRunner().invoke(export, [str(folder)])
    assert res.exit_code == 2 and "model.document.onnx" in res.output  # --force replaces them


def _ranking(model: object, refs: torch.Tensor, probes: torch.Tensor, db: Path):  # type: ignore[no-untyped-def]
    """Each probe's labels, nearest first, and their distances, from a gallery of ``refs``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no calibrated threshold needed here
        with Gallery.open(db, model, threshold=1.0) as g:
            for i in range(len(refs)):
                g.enroll(f"item-{i}", refs[i : i + 1])
            stored = g.items("item-0").embeddings
            found = [g.identify(p, k=len(refs)).matches for p in probes]
    labels = [[m.label for m in ms] for ms in found]
    return labels, np.array([[m.distance for m in ms] for ms in found]), stored


def test_a_gallery_ranks_through_the_onnx_runtime_as_through_pytorch(tmp_path: Path) -> None:
    """f and g take the same size here, so embedding the references with f's graph would run:
    the ranking (and distances) show that g's graph embedded them."""
    net = _half_twin()
    folder = siamkit.save_model(net, tmp_path / "model")
    _export_cli(folder, "--int8-mode", "dynamic", "--json")
    refs, probes = _grey(6, 28, 1), _grey(4, 28, 2)
    want, want_d, _ = _ranking(net, refs, probes, tmp_path / "torch.db")
    with torch.inference_mode():  # what the ranking would be had f embedded the references
        f_only = torch.cdist(net.embed_f(probes), net.embed_f(refs)).argsort(dim=1).tolist()
    assert [[f"item-{i}" for i in row] for row in f_only] != want
    got, got_d, _ = _ranking(load_for_serving(folder, "onnx"), refs, probes, tmp_path / "o.db")
    assert got == want
    np.testing.assert_allclose(got_d, want_d, atol=1e-4)
    # int8: the references through g's int8 graph, the probes through f's, one at a time as
    # the gallery sends them (dynamic int8's activation ranges are the batch's)
    served = load_for_serving(folder, "onnx-int8")
    got, got_d, stored = _ranking(served, refs, probes, tmp_path / "q.db")
    zg = np.concatenate([_embed(folder / "model.document.int8.onnx", r[None]) for r in refs])
    np.testing.assert_allclose(stored, zg[:1], atol=1e-6)
    zf = np.concatenate([_embed(folder / "model.int8.onnx", p[None]) for p in probes])
    d = np.linalg.norm(zf[:, None] - zg[None], axis=2)  # euclidean, the net's distance
    np.testing.assert_allclose(np.sort(d, axis=1), got_d, atol=1e-5)


def _png(img: torch.Tensor) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((img[0] * 255).round().numpy().astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_the_service_on_onnx_reads_each_branch_at_its_size_and_info_shows_both(
    tmp_path: Path,
) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    net = _half_twin(g_size=32)
    folder = siamkit.save_model(net, tmp_path / "model")
    _export_cli(folder, "--json")
    refs, probe = _grey(2, 32, 1), _grey(1, 28, 2)
    with torch.inference_mode():
        want = torch.cdist(net.embed_f(probe), net.embed_g(refs))[0].numpy()
    q = _png(probe[0])
    with TestClient(create_app(load_for_serving(folder, "onnx"), tmp_path / "g.db")) as c:
        model = c.get("/info").json()["model"]
        assert model["towers"] == 2 and model["input_shape"] == [1, 28, 28]
        assert model["reference_input_shape"] == [1, 32, 32]
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
    plain = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8,)),
        8,
        preprocess=Preprocess(input_shape=(1, 28, 28)),
    ).eval()
    with TestClient(create_app(plain, None)) as c:
        model = c.get("/info").json()["model"]
    assert model["towers"] == 1 and model["reference_input_shape"] == model["input_shape"]


def test_an_export_without_branch_g_is_refused_with_a_sentence_to_export_again(
    tmp_path: Path,
) -> None:
    """An export of branch f alone (as siamkit export wrote before both went out) is refused."""
    pytest.importorskip("fastapi")
    from siamkit.service.engine import ServiceEngine

    folder = siamkit.save_model(_half_twin(), tmp_path / "model")
    export_onnx(folder, branch="f")  # one branch, as an old export
    want = (
        f"{folder / 'model.onnx'} holds only branch f of a half-twin model (two towers), "
        "but a gallery or the service embeds what is searched with branch f and what is "
        "enrolled or compared against with branch g: export it again with `siamkit export "
        f"{folder} --format onnx --force`, which writes both branches, or serve the torch "
        "model (--runtime torch)."
    )
    old = load_for_serving(folder, "onnx")
    with pytest.raises(ValueError) as err:
        Gallery.open(tmp_path / "g.db", old)
    assert str(err.value) == want and not (tmp_path / "g.db").exists()
    # _half_twin() is saved in Python, with no run: no task to name (s58_r5 finding 3)
    assert "task: half_twin" not in str(err.value)
    with pytest.raises(ValueError) as err:
        ServiceEngine(old, None)
    assert str(err.value) == want
    export_onnx(folder)  # exported again: both branches, accepted
    with Gallery.open(tmp_path / "g.db", load_for_serving(folder, "onnx")) as g:
        assert len(g) == 0


def test_a_missing_branch_g_graph_is_refused_when_opened(tmp_path: Path) -> None:
    folder = siamkit.save_model(_half_twin(), tmp_path / "model")
    export_onnx(folder)
    (folder / "model.document.onnx").unlink()
    with pytest.raises(ValueError) as err:
        load_for_serving(folder, "onnx")
    assert str(err.value) == (
        f"{folder / 'model.onnx'} is branch f of a half-twin whose branch g graph "
        f"model.document.onnx is not beside it; export the model again with `siamkit export "
        f"{folder} --format onnx --force`"
    )
