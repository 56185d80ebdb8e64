"""The FastAPI application: JSON endpoints behind an optional API key, a web page, offline docs.

Public without a key: ``GET /health``, the web page ``/`` with its ``/static`` files, ``/docs``
(Swagger UI, served from the files of the ``fastapi-offline`` package: no CDN) and ``/openapi.json`` (they
hold no data). Every other endpoint needs ``X-API-Key`` when a key is set.
"""

from __future__ import annotations

import hmac
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Security
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles

from siamkit._version import __version__
from siamkit.service.engine import ServiceEngine
from siamkit.service.errors import RequestError, install_error_handlers
from siamkit.service.limits import ServiceLimits
from siamkit.service.middleware import AccessLogMiddleware, GuardMiddleware
from siamkit.service.routes import router
from siamkit.service.schemas import HealthResponse
from siamkit.service.server import check_api_key

STATIC_DIR = Path(__file__).parent / "static"
API_KEY_HEADER = "X-API-Key"

_DESCRIPTION = """Verify (1:1), identify (1:N) and enroll images with a siamkit Siamese network.

Send images as `multipart/form-data`. Answers are JSON; errors are `{"detail": "..."}` with a 4xx
status. When the service has an API key, send it in the `X-API-Key` header.
"""


_TEXT_DESCRIPTION = """Verify (1:1), identify (1:N) and enroll texts with a siamkit Siamese transformer.

Send JSON with text fields (`{"text": ...}`, `{"texts": [...]}`). Answers are JSON; errors are
`{"detail": "..."}` with a 4xx status. When the service has an API key, send it in the `X-API-Key`
header.
"""


def _api_key_dependency(api_key: str | None) -> Any:
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
    expected = api_key.encode() if api_key else None

    async def require_api_key(key: str | None = Security(header)) -> None:
        if expected is None:
            return
        if key is None or not hmac.compare_digest(key.encode(), expected):
            raise RequestError(
                401,
                f"Missing or wrong API key; send the service's key in the {API_KEY_HEADER} header.",
            )

    return require_api_key


def _page(name: str) -> Any:
    async def page() -> FileResponse:
        return FileResponse(
            STATIC_DIR / name, media_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    return page


def _swagger_ui_dir() -> Path | None:
    """The Swagger UI 5 files installed with the ``fastapi-offline`` package (not imported)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the installed assets; its start script is a static file (CSP)."""
    assets = _swagger_ui_dir()
    if assets is None:
        app.add_api_route("/docs", _page("docs-missing.html"), include_in_schema=False)
        return
    app.mount("/docs/assets", StaticFiles(directory=assets), name="swagger-ui")
    app.add_api_route("/docs", _page("docs.html"), include_in_schema=False)


def _routes_except(base: APIRouter, taken: APIRouter) -> APIRouter:
    """``base``'s routes whose path and methods ``taken`` does not serve."""
    served = {
        (r.path, m) for r in taken.routes for m in getattr(r, "methods", ()) if hasattr(r, "path")
    }
    rest = APIRouter()
    rest.routes.extend(
        r
        for r in base.routes
        if not any((getattr(r, "path", None), m) in served for m in getattr(r, "methods", ()))
    )
    return rest


def _text_service(model: Any) -> tuple[APIRouter | None, float | None]:
    """For a text model: its endpoints (JSON with text) and its threshold; else ``(None, None)``."""
    from siamkit.service.text_routes import is_text_model, text_router, text_threshold

    if not is_text_model(model):
        return None, None
    return text_router, text_threshold(model)[0]


def create_app(
    model: Any,
    gallery_path: str | Path | None,
    api_key: str | None = None,
    limits: ServiceLimits | None = None,
    index: str = "exact",
    body_timeout: float = 30.0,
    model_name: str | None = None,
) -> FastAPI:
    """Build the service for ``model`` and the gallery file ``gallery_path``.

    Args:
        model: a loaded siamkit image model (see :class:`ServiceEngine`), or a text model
            (``input_kind == "text"``): then ``/enroll``, ``/verify``, ``/identify``, ``/embed``
            take JSON with text (:mod:`siamkit.service.text_routes`) and the page has text boxes.
        gallery_path: the gallery file; created if missing, refused if made by another model.
            None serves ``/verify`` of two images and ``/embed`` only.
        api_key: when set, every endpoint but ``/health`` (and the static page) needs it in ``X-API-Key``.
        limits: request limits (:class:`ServiceLimits`).
        index: the gallery's search index kind (``"exact"``, ``"faiss-hnsw"``, ...).
        body_timeout: seconds a request body may stall before it is answered 408.
        model_name: the model's name in ``/info`` and on the page (``siamkit serve`` passes the
            model folder's name, not its path: /info is public); None shows none.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> app = create_app(siamkit.load_model("out/model"), "staff.db")  # doctest: +SKIP
        >>> TestClient(app).get("/health").json()["status"]  # doctest: +SKIP
        'ok'
    """
    check_api_key(api_key)
    limits = limits or ServiceLimits()
    text_routes, threshold = _text_service(model)
    engine = ServiceEngine(
        model, gallery_path, limits, index=index, threshold=threshold, model_name=model_name
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.close()

    app = FastAPI(
        title="siamkit",
        version=__version__,
        description=_DESCRIPTION if text_routes is None else _TEXT_DESCRIPTION,
        docs_url=None,  # the stock page loads Swagger UI from a CDN; _mount_docs serves it locally
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    install_error_handlers(app)
    app.add_middleware(
        GuardMiddleware, max_body_bytes=limits.max_request_bytes, body_timeout=body_timeout
    )
    app.add_middleware(AccessLogMiddleware)  # outermost: it times the guard's refusals too

    @app.get("/health", response_model=HealthResponse, tags=["service"])
    async def health() -> HealthResponse:
        """Liveness; needs no API key and tells whether the others do."""
        return HealthResponse(status="ok", version=__version__, auth_required=api_key is not None)

    # uptime monitors and some balancers check with HEAD (UptimeRobot's default): 405 read as down
    app.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)

    needs_key = [Depends(_api_key_dependency(api_key))]
    if text_routes is None:
        app.include_router(router, dependencies=needs_key)
    else:  # the text endpoints replace the image ones of the same path; the rest are shared
        app.include_router(text_routes, dependencies=needs_key)
        app.include_router(_routes_except(router, text_routes), dependencies=needs_key)
    page = "index.html" if text_routes is None else "text.html"
    app.add_api_route("/", _page(page), include_in_schema=False)
    _mount_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
