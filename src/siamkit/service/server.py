"""Run the service with uvicorn, refusing to expose it beyond this machine without an API key."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from siamkit.service.limits import ServiceLimits

log = logging.getLogger("siamkit.service")
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.0/8``, ``::1`` and ``localhost``; False for ``0.0.0.0`` and real addresses.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("::1")
        (True, False, True)
    """
    host = host.strip().strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse a non-loopback address without an API key (DESIGN §6)."""
    if not is_loopback(host) and not api_key:
        raise ValueError(
            f"Refusing to listen on {host!r} without an API key: anyone who can reach it could "
            "read and change the gallery. Set --api-key (or SIAMKIT_API_KEY), or bind 127.0.0.1."
        )


def serve(
    model: Any,
    gallery_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    limits: ServiceLimits | None = None,
    index: str = "exact",
    log_level: str = "info",
) -> None:
    """Serve ``model`` and the gallery at ``http://host:port/`` until interrupted.

    Raises:
        ValueError: a non-loopback ``host`` without ``api_key``, or a gallery of another model.

    Example:
        >>> serve(siamkit.load_model("out/model"), "staff.db")  # doctest: +SKIP
    """
    check_bind(host, api_key)
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}.")
    import uvicorn

    from siamkit.service.app import create_app

    app = create_app(model, gallery_path, api_key=api_key, limits=limits, index=index)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=1024,
    )
