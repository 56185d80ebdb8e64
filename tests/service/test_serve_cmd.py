"""``siamkit serve``: options, the loopback rule, model loading; uvicorn itself is replaced."""

from __future__ import annotations

import socket
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _service_helpers import as_tensor, free_port, make_model, pattern, png_bytes
from click.testing import CliRunner

import siamkit
from siamkit.cli import serve_cmd
from siamkit.export.serving import load_for_serving
from siamkit.index import Gallery
from siamkit.service import ServiceLimits, check_bind, is_loopback

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

THREADS_SET: list[int] = []


@pytest.fixture
def model_dir(tmp_path):
    return str(siamkit.save_model(make_model(threshold=0.25), tmp_path / "model"))


def _record(seen: list[tuple]) -> Any:
    def run(app: Any, sock: socket.socket, log_level: str) -> None:
        seen.append((app, sock.getsockname(), log_level))
        sock.close()

    return run


@pytest.fixture
def calls(monkeypatch):
    """Replace uvicorn by a recorder of (app, bound address, log level); keep torch threads."""
    seen: list[tuple] = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: THREADS_SET.append(n))
    monkeypatch.setattr(serve_cmd, "run_server", _record(seen))
    monkeypatch.delenv("SIAMKIT_API_KEY", raising=False)
    THREADS_SET.clear()
    yield seen
    for app, _, _ in seen:
        app.state.engine.close()


def _key_required(app: Any) -> bool:
    with TestClient(app) as client:
        return bool(client.get("/health").json()["auth_required"])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
    if loopback:
        check_bind(host, None)
    else:
        with pytest.raises(ValueError, match="API key"):
            check_bind(host, None)
        check_bind(host, "secret")


def test_serve_loads_the_model_and_passes_the_options(model_dir, tmp_path, calls):
    gallery = str(tmp_path / "staff.db")
    port = free_port()
    args = [model_dir, "--gallery", gallery, "--port", str(port), "--max-upload-mb", "2"]
    result = CliRunner().invoke(serve_cmd.serve, [*args, "--max-pixels", "1000"])
    assert result.exit_code == 0, result.output
    app, address, log_level = calls[0]
    assert address == ("127.0.0.1", port) and log_level == "info"
    assert f"on http://127.0.0.1:{port}/" in result.output
    engine = app.state.engine
    assert engine.limits == ServiceLimits(
        max_upload_bytes=2 << 20, max_pixels=1000, max_request_pixels=4 * 4096 * 4096
    )
    assert engine.gallery.stats().path == gallery
    x = as_tensor(pattern("disc"))
    torch.testing.assert_close(engine.model.embed(x), make_model().embed(x))
    assert engine.model.threshold == 0.25
    assert THREADS_SET == [1]  # torch threads per call, default 1
    assert not _key_required(app)
    assert engine.model_name == f"{tmp_path.name}/model"  # /info and the page (below)


def test_info_names_the_model_folder_not_its_path(model_dir, tmp_path, calls):
    """/info (and so the page) is public: it names the model by its folder, never the absolute
    path given to serve (whose home, which project); the startup line keeps the full path."""
    assert Path(model_dir).is_absolute()
    result = CliRunner().invoke(serve_cmd.serve, [model_dir, "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert f"Serving {model_dir} (torch on cpu) without a gallery" in result.output
    with TestClient(calls[0][0]) as client:
        answer = client.get("/info")
        page = client.get("/").text
    assert answer.json()["model"]["name"] == f"{tmp_path.name}/model"
    assert str(tmp_path) not in answer.text and str(tmp_path) not in page
    assert serve_cmd.public_model_name(model_dir + "/") == f"{tmp_path.name}/model"
    assert serve_cmd.public_model_name(".") == Path.cwd().name


def test_a_trained_models_folder_is_named_with_its_run(tmp_path, calls):
    """`siamkit train --out runs/x` writes runs/x/model; serve named it by its folder alone, so
    the page read 'Text model model: ...' (an image model's 'Model model: ...'). It is now
    x/model, as the user knows it; another folder keeps its own name."""
    model_dir = siamkit.save_model(make_model(), tmp_path / "runs" / "x" / "model")
    result = CliRunner().invoke(serve_cmd.serve, [str(model_dir), "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    with TestClient(calls[0][0]) as client:
        assert client.get("/info").json()["model"]["name"] == "x/model"
    assert serve_cmd.public_model_name("runs/x/model") == "x/model"
    assert serve_cmd.public_model_name("runs/x/best") == "best"
    assert serve_cmd.public_model_name("/model") == "model"


def test_public_host_needs_a_key(model_dir, tmp_path, calls):
    result = CliRunner().invoke(
        serve_cmd.serve, [model_dir, "--gallery", str(tmp_path / "g.db"), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2 and "Refusing to listen on '0.0.0.0'" in result.output
    assert not calls
    env = {"SIAMKIT_API_KEY": "from-env"}
    args = [model_dir, "--gallery", str(tmp_path / "g.db"), "--host", "0.0.0.0"]
    result = CliRunner().invoke(serve_cmd.serve, [*args, "--port", str(free_port())], env=env)
    assert result.exit_code == 0, result.output
    assert _key_required(calls[0][0]) and "from-env" not in result.output


def test_bad_options_are_usage_errors(model_dir, tmp_path, calls):
    base = [model_dir, "--gallery", str(tmp_path / "g.db")]
    for extra in (
        ["--max-upload-mb", "64", "--max-request-mb", "32"],
        ["--port", "70000"],
        ["--runtime", "tf"],
    ):
        result = CliRunner().invoke(serve_cmd.serve, base + extra)
        assert result.exit_code == 2, (extra, result.output)
    result = CliRunner().invoke(serve_cmd.serve, [str(tmp_path / "missing"), "--gallery", "g.db"])
    assert result.exit_code == 2 and "no such model folder" in result.output
    assert not calls


def test_an_unknown_model_name_lists_the_names_serve_takes(tmp_path, calls):
    """`siamkit serve NAME`, NAME neither a folder nor a named model, said only click's
    "Directory 'NAME' does not exist"; it now names the models serve takes by name, read from
    the lookup that resolves them."""
    from siamkit.encoders.text_zoo import text_model_names

    result = CliRunner().invoke(serve_cmd.serve, ["all-MiniLM-L12-v2", "--port", str(free_port())])
    assert result.exit_code == 2 and not calls
    said = " ".join(result.output.split())
    names = ", ".join([serve_cmd.DLIB, *text_model_names()])
    assert "dlib, all-MiniLM-L6-v2, all-mpnet-base-v2" in names
    assert (
        "'all-MiniLM-L12-v2': no such model folder, and not one of the named models: "
        f"{names}; give a saved model's folder or one of these names"
    ) in said
    assert "does not exist" not in said


def test_onnx_runtime_without_the_adapter_says_how_to_get_it(
    model_dir, tmp_path, calls, monkeypatch
):
    monkeypatch.setitem(sys.modules, "siamkit.export.onnx_model", None)  # import fails
    result = CliRunner().invoke(
        serve_cmd.serve, [model_dir, "--gallery", str(tmp_path / "g.db"), "--runtime", "onnx"]
    )
    assert result.exit_code == 1 and "--runtime onnx is not available" in result.output
    assert not calls


def test_a_broken_model_folder_is_a_clean_error(tmp_path, calls):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "siamkit.json").write_text("{not json")
    result = CliRunner().invoke(
        serve_cmd.serve, [str(tmp_path / "model"), "--gallery", str(tmp_path / "g.db")]
    )
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_serve_is_registered_in_the_siamkit_command():
    from siamkit.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert (
        result.exit_code == 0
        and "--gallery" in result.output
        and "SIAMKIT_API_KEY" in result.output
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_pixels": 0},
        {"max_k": -1},
        {"max_files": 1.5},
        {"max_upload_bytes": True},
        {"max_upload_bytes": 10, "max_request_bytes": 5},
    ],
)
def test_service_limits_are_validated(kwargs):
    with pytest.raises(ValueError, match="ServiceLimits"):
        ServiceLimits(**kwargs)


def test_onnx_runtime_serves_a_gallery_built_with_torch(model_dir, tmp_path):
    """``--runtime onnx`` opens the torch model's gallery and answers like the torch model."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient
    from siamkit.export.onnx import export_onnx
    from siamkit.service import create_app

    def upload(field: str, kind: str) -> tuple[str, tuple[str, bytes, str]]:
        return (field, (f"{kind}.png", png_bytes(pattern(kind)), "image/png"))

    torch_model = siamkit.load_model(model_dir)
    with TestClient(create_app(torch_model, tmp_path / "g.db")) as client:
        assert (
            client.post(
                "/enroll", data={"label": "a"}, files=[upload("files", "stripes")]
            ).status_code
            == 201
        )
    export_onnx(model_dir)
    onnx_model = load_for_serving(model_dir, "onnx", threads=1)
    with TestClient(create_app(onnx_model, tmp_path / "g.db")) as client:
        pair = client.post("/verify", files=[upload("file_a", "stripes"), upload("file_b", "disc")])
        match = client.post("/identify", files=[upload("file", "disc")]).json()["matches"][0]
    with torch.inference_mode():
        want = float(torch_model(as_tensor(pattern("stripes")), as_tensor(pattern("disc")))[0])
    assert pair.json()["distance"] == pytest.approx(want, abs=1e-4)
    assert match["label"] == "a" and match["distance"] == pytest.approx(want, abs=1e-4)


def test_onnx_int8_runtime_serves_the_int8_export_of_an_image_model(model_dir):
    """``--runtime onnx-int8`` (added with the text runtime) picks model.int8.onnx, and says how
    to make it when it is missing."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx
    from siamkit.export.quantize import quantize_onnx

    export_onnx(model_dir)
    with pytest.raises(
        FileNotFoundError, match=r"has no model\.int8\.onnx; create it with .*--int8"
    ):
        load_for_serving(model_dir, "onnx-int8")
    quantize_onnx(Path(model_dir) / "model.onnx", mode="dynamic")
    int8 = load_for_serving(model_dir, "onnx-int8", threads=1)
    assert int8.precision == "int8"
    assert load_for_serving(model_dir, "onnx", threads=1).precision == "fp32"
    x = torch.from_numpy(pattern("disc")[None, None] / 255.0).float()
    want = siamkit.load_model(model_dir).embed(x).detach()
    got = int8.embed(x)
    assert float(torch.nn.functional.cosine_similarity(got, want)[0]) > 0.95


def test_the_startup_line_names_the_runtime_and_its_graph(model_dir, tmp_path, calls):
    """'Serving MODEL with gallery ...' did not say whether PyTorch or which ONNX export answers
    (their distances differ slightly); it now names the runtime and the graph it loaded."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx
    from siamkit.export.quantize import quantize_onnx

    export_onnx(model_dir)
    quantize_onnx(Path(model_dir) / "model.onnx", mode="dynamic")
    gallery = str(tmp_path / "t.db")
    for runtime, graph in (("onnx-int8", "model.int8.onnx"), ("onnx", "model.onnx")):
        args = [model_dir, "--gallery", gallery, "--runtime", runtime]
        result = CliRunner().invoke(serve_cmd.serve, [*args, "--port", str(free_port())])
        assert result.exit_code == 0, result.output
        ran = f"{runtime}: {Path(model_dir) / graph}"
        assert f"Serving {model_dir} ({ran}) with gallery {gallery} on http" in result.output
    args = [model_dir, "--device", "cpu", "--port", str(free_port())]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert f"Serving {model_dir} (torch on cpu) without a gallery" in result.output


def test_a_named_pretrained_text_model_is_served_as_the_text_commands_take_it(tmp_path, calls):
    """`siamkit serve all-MiniLM-L6-v2` failed with "Directory 'all-MiniLM-L6-v2' does not
    exist" while the text commands take that name; serve looks it up as they do (and says so in
    --help), and an ONNX runtime, which needs a saved model's export, is one sentence."""
    pytest.importorskip("transformers")
    help_text = " ".join(CliRunner().invoke(serve_cmd.serve, ["--help"]).output.split())
    assert "all-MiniLM-L6-v2 (their default), all-mpnet-base-v2" in help_text
    gallery = str(tmp_path / "tickets.db")
    args = ["all-MiniLM-L6-v2", "--gallery", gallery, "--port", str(free_port())]
    result = CliRunner().invoke(serve_cmd.serve, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Serving all-MiniLM-L6-v2 (torch on cpu) with gallery" in result.output
    printer = ["The printer on floor two is out of toner.", "Printer toner is empty again."]
    with TestClient(calls[0][0]) as client:
        assert client.get("/info").json()["model"]["name"] == "all-MiniLM-L6-v2"
        enrolled = client.post("/enroll", json={"label": "printer", "texts": printer[:1]})
        assert enrolled.status_code == 201, enrolled.text
        found = client.post("/identify", json={"text": printer[1], "k": 1}).json()
    assert found["matches"][0]["label"] == "printer"
    args = ["all-MiniLM-L6-v2", "--runtime", "onnx-int8", "--port", str(free_port())]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0, result.output
    assert "all-MiniLM-L6-v2 is a pretrained text model, not a saved siamkit model" in (
        result.output
    )


def test_a_busy_port_fails_before_serving_is_announced_and_creates_no_gallery(
    model_dir, tmp_path, calls
):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        result = CliRunner().invoke(
            serve_cmd.serve, [model_dir, "--gallery", str(tmp_path / "g.db"), "--port", str(port)]
        )
    finally:
        busy.close()
    assert result.exit_code == 1 and f"Port {port} on 127.0.0.1 is already in use" in result.output
    assert "Serving" not in result.output and not calls
    assert list(tmp_path.iterdir()) == [tmp_path / "model"]  # no g.db, g.db.thumbs


def test_a_gallery_of_another_model_fails_before_serving_is_announced(model_dir, tmp_path, calls):
    other = Gallery.open(tmp_path / "other.db", embedding_dim=3)
    other.enroll_embeddings("alice", np.ones((1, 3), np.float32))  # an empty one takes any model
    other.close()
    before = (tmp_path / "other.db").read_bytes()
    thumbs = (tmp_path / "other.db.thumbs").exists()
    result = CliRunner().invoke(
        serve_cmd.serve,
        [model_dir, "--gallery", str(tmp_path / "other.db"), "--port", str(free_port())],
    )
    assert result.exit_code == 1 and "Serving" not in result.output and not calls
    assert "Error:" in result.output and "Traceback" not in result.output
    assert (tmp_path / "other.db").read_bytes() == before
    assert (tmp_path / "other.db.thumbs").exists() == thumbs


@pytest.mark.parametrize("key", ["   ", " padded "])
def test_a_whitespace_api_key_is_refused_before_anything(model_dir, tmp_path, calls, key):
    args = [model_dir, "--gallery", str(tmp_path / "g.db"), "--api-key", key]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert result.exit_code == 2 and "API key" in result.output and "Serving" not in result.output
    assert not calls and not (tmp_path / "g.db").exists()


def test_without_a_gallery_only_verify_and_embed_are_served(model_dir, tmp_path, calls):
    result = CliRunner().invoke(serve_cmd.serve, [model_dir, "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert "without a gallery" in result.output
    app = calls[0][0]
    pair = [
        ("file_a", ("a.png", png_bytes(pattern("stripes")), "image/png")),
        ("file_b", ("b.png", png_bytes(pattern("disc")), "image/png")),
    ]
    with TestClient(app) as client:
        assert client.post("/verify", files=pair).status_code == 200
        assert client.post("/embed", files=[("files", pair[0][1])]).status_code == 200
        r = client.post("/identify", files=[("file", pair[0][1])])
        assert r.status_code == 409 and "--gallery" in r.json()["detail"]
        assert client.get("/info").json()["gallery"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_onnx_runtime_decides_with_the_threshold_calibrated_after_the_export(model_dir):
    """A threshold rewritten in siamkit.json after ``siamkit export`` (``siamkit calibrate``
    removes the export it makes stale, but not a copy put back): ``--runtime onnx`` used to
    serve the stale threshold copied into the ONNX file."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx
    from siamkit.export.quantize import quantize_onnx
    from siamkit.export.threshold_file import write_threshold

    export_onnx(model_dir)
    quantize_onnx(Path(model_dir) / "model.onnx", mode="dynamic")
    write_threshold(model_dir, 0.125)
    for runtime in ("onnx", "onnx-int8"):
        assert load_for_serving(model_dir, runtime, threads=1).threshold == 0.125


def test_device_auto_serves_from_where_the_model_runs(model_dir, tmp_path, calls):
    """--device, auto by default: the model runs there (on a machine without CUDA, auto is the
    CPU; with one, this enrolls, verifies and identifies on the GPU; it did on an H200)."""
    from siamkit.training.ddp import resolve_device

    assert {p.name: p.default for p in serve_cmd.serve.params}["device"] == "auto"
    gallery = str(tmp_path / "g.db")
    args = [model_dir, "--gallery", gallery, "--port", str(free_port())]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert result.exit_code == 0, result.output
    engine = calls[0][0].state.engine
    assert next(engine.model.parameters()).device.type == resolve_device("auto").type
    disc = png_bytes(pattern("disc"))
    with TestClient(calls[0][0]) as client:
        enrolled = client.post("/enroll", data={"label": "ann"}, files={"files": ("a.png", disc)})
        assert enrolled.status_code == 201, enrolled.text
        found = client.post("/identify", files={"file": ("a.png", disc)}).json()
        assert found["matches"][0]["label"] == "ann", found
        same = client.post("/verify", data={"label": "ann"}, files={"file": ("a.png", disc)}).json()
        assert same["same"] is True and same["distance"] == pytest.approx(0.0, abs=1e-3)


def test_an_onnx_runtime_serves_under_the_default_device(model_dir, tmp_path, calls):
    """auto (the default) leaves an ONNX runtime on the CPU; it is not refused as a GPU would
    be (serve refused auto with ONNX, where the text commands took it)."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx

    export_onnx(model_dir)
    for device in ([], ["--device", "auto"], ["--device", "cpu"]):
        args = [model_dir, "--runtime", "onnx", "--port", str(free_port()), *device]
        result = CliRunner().invoke(serve_cmd.serve, args)
        assert result.exit_code == 0, result.output
    assert len(calls) == 3


def test_a_gpu_with_an_onnx_runtime_or_a_face_model_is_refused(model_dir, tmp_path, calls):
    gallery = tmp_path / "g.db"
    args = [model_dir, "--gallery", str(gallery), "--runtime", "onnx", "--device", "cuda"]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert result.exit_code == 2 and "--runtime onnx runs on the CPU: drop --device cuda" in (
        result.output
    )
    assert not calls and not gallery.exists()

    class FaceModel:  # what serve sees of a dlib face model
        input_kind = "photo"

    face = FaceModel()
    with pytest.raises(ValueError, match="a face model runs on the CPU"):
        serve_cmd._to_device(face, torch.device("cuda"), "cuda")
    assert serve_cmd._to_device(face, torch.device("cuda"), "auto") is face


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_a_gpu_that_is_not_there_is_one_sentence(model_dir, tmp_path, calls):
    gallery = tmp_path / "g.db"
    result = CliRunner().invoke(
        serve_cmd.serve, [model_dir, "--gallery", str(gallery), "--device", "cuda"]
    )
    assert result.exit_code == 1 and "no usable CUDA GPU" in result.output, result.output
    assert not calls and not gallery.exists()
