"""``siamkit serve MODEL --gallery PATH``: the REST API and web page (extra ``siamkit[serve]``)."""

from __future__ import annotations

import math
from typing import Any

import click

from siamkit.service.limits import MiB, ServiceLimits
from siamkit.service.server import check_bind

INDEX_CHOICES = ("exact", "faiss-flat", "faiss-ivf", "faiss-hnsw", "lsh")


def load_runtime(model_dir: str, runtime: str, threads: int | None = None) -> Any:
    """The model to serve: the PyTorch bundle, or its ONNX Runtime export (same ``embed`` contract)."""
    if runtime == "torch":
        from siamkit.export.bundle import load_model

        return load_model(model_dir)
    try:
        from siamkit.export.onnx_model import OnnxModel
    except ImportError as err:
        raise click.ClickException(
            f"--runtime onnx is not available: {err}. Install it with pip install "
            "'siamkit[onnx]' and export the model first (siamkit export MODEL --format onnx)."
        ) from None
    return OnnxModel(model_dir, threads=threads)


def run_server(model: Any, gallery: str, **kwargs: Any) -> None:
    """Start uvicorn (a separate function so tests can replace it)."""
    from siamkit.service.server import serve as serve_forever

    serve_forever(model, gallery, **kwargs)


def _limits(max_upload_mb: float, max_request_mb: float, max_pixels: int) -> ServiceLimits:
    try:
        return ServiceLimits(
            max_upload_bytes=int(max_upload_mb * MiB),
            max_request_bytes=int(max_request_mb * MiB),
            max_pixels=max_pixels,
            max_side=max(ServiceLimits.max_side, math.isqrt(max_pixels) + 1),
            max_request_pixels=max(ServiceLimits.max_request_pixels, max_pixels),
        )
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("serve")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--gallery",
    required=True,
    type=click.Path(dir_okay=False),
    help="Gallery file (SQLite); created if missing, e.g. staff.db.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs an API key.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--api-key",
    envvar="SIAMKIT_API_KEY",
    show_envvar=True,
    default=None,
    help="Require this key in the X-API-Key header of every endpoint but /health.",
)
@click.option(
    "--runtime",
    type=click.Choice(["torch", "onnx"]),
    default="torch",
    show_default=True,
    help="Run the model with PyTorch or with its ONNX Runtime export.",
)
@click.option(
    "--index",
    "index_kind",
    type=click.Choice(INDEX_CHOICES),
    default="exact",
    show_default=True,
    help="Search index of the gallery.",
)
@click.option(
    "--max-upload-mb",
    default=8.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Largest uploaded file.",
)
@click.option(
    "--max-request-mb",
    default=32.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Largest request (all files together).",
)
@click.option(
    "--max-pixels",
    default=4096 * 4096,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest image, width × height.",
)
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Torch threads per model call. Requests run one after another, so 1 wastes least "
    "on a shared CPU; raise it for large models on an otherwise idle machine.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    model: str,
    gallery: str,
    host: str,
    port: int,
    api_key: str | None,
    runtime: str,
    index_kind: str,
    max_upload_mb: float,
    max_request_mb: float,
    max_pixels: int,
    threads: int,
    log_level: str,
) -> None:
    """Serve MODEL over HTTP: enroll, verify, identify, with a web page at /.

    \b
    Example:
        siamkit serve runs/demo/model --gallery staff.db
        # open http://127.0.0.1:8000/  (API reference at /docs)
    """
    api_key = api_key or None
    try:
        check_bind(host, api_key)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    limits = _limits(max_upload_mb, max_request_mb, max_pixels)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "siamkit serve needs FastAPI and uvicorn: pip install 'siamkit[serve]'"
        ) from None
    import torch

    torch.set_num_threads(threads)
    try:
        net = load_runtime(model, runtime, threads)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Serving {model} with gallery {gallery} on http://{shown}:{port}/", err=True)
        run_server(
            net,
            gallery,
            host=host,
            port=port,
            api_key=api_key,
            limits=limits,
            index=index_kind,
            log_level=log_level,
        )
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        raise click.ClickException(str(err)) from None


COMMANDS = [serve]
