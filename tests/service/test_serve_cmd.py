"""``siamkit serve``: options, the loopback rule, model loading; uvicorn itself is replaced."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from _service_helpers import as_tensor, make_model, pattern, png_bytes
from click.testing import CliRunner

import siamkit
from siamkit.cli import serve_cmd
from siamkit.service import ServiceLimits, check_bind, is_loopback

THREADS_SET: list[int] = []


@pytest.fixture
def model_dir(tmp_path):
    return str(siamkit.save_model(make_model(threshold=0.25), tmp_path / "model"))


@pytest.fixture
def calls(monkeypatch):
    """Replace uvicorn by a recorder; keep serve's torch.set_num_threads from leaking."""
    seen: list[tuple] = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: THREADS_SET.append(n))
    monkeypatch.setattr(
        serve_cmd, "run_server", lambda model, gallery, **kw: seen.append((model, gallery, kw))
    )
    monkeypatch.delenv("SIAMKIT_API_KEY", raising=False)
    THREADS_SET.clear()
    return seen


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
    args = [
        model_dir,
        "--gallery",
        gallery,
        "--port",
        "8123",
        "--max-upload-mb",
        "2",
        "--max-pixels",
        "1000",
    ]
    result = CliRunner().invoke(serve_cmd.serve, args)
    assert result.exit_code == 0, result.output
    model, got_gallery, kw = calls[0]
    assert got_gallery == gallery
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8123 and kw["api_key"] is None
    assert kw["limits"] == ServiceLimits(max_upload_bytes=2 << 20, max_pixels=1000)
    x = as_tensor(pattern("disc"))
    torch.testing.assert_close(model.embed(x), make_model().embed(x))
    assert model.threshold == 0.25
    assert THREADS_SET == [1]  # torch threads per call, default 1


def test_public_host_needs_a_key(model_dir, tmp_path, calls):
    result = CliRunner().invoke(
        serve_cmd.serve, [model_dir, "--gallery", str(tmp_path / "g.db"), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2 and "Refusing to listen on '0.0.0.0'" in result.output
    assert not calls
    env = {"SIAMKIT_API_KEY": "from-env"}
    result = CliRunner().invoke(
        serve_cmd.serve,
        [model_dir, "--gallery", str(tmp_path / "g.db"), "--host", "0.0.0.0"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert calls[0][2]["api_key"] == "from-env" and "from-env" not in result.output


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
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not calls


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
    onnx_model = serve_cmd.load_runtime(model_dir, "onnx", threads=1)
    with TestClient(create_app(onnx_model, tmp_path / "g.db")) as client:
        pair = client.post("/verify", files=[upload("file_a", "stripes"), upload("file_b", "disc")])
        match = client.post("/identify", files=[upload("file", "disc")]).json()["matches"][0]
    with torch.inference_mode():
        want = float(torch_model(as_tensor(pattern("stripes")), as_tensor(pattern("disc")))[0])
    assert pair.json()["distance"] == pytest.approx(want, abs=1e-4)
    assert match["label"] == "a" and match["distance"] == pytest.approx(want, abs=1e-4)
