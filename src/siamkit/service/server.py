"""Run the service with uvicorn: bind first, then announce; never public without an API key."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from pathlib import Path
from typing import Any

from siamkit.service.limits import ConnectionLimits, ServiceLimits

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


def raise_open_file_limit(wanted: int = 65536) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (the hard limit caps it).

    Each connection is a file; the usual soft limit of 1024 would stop ``accept`` long before
    the connection guard closes idle connections. Returns the soft limit now in force.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else int(soft)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a busy or forbidden port is one ValueError.

    Example:
        >>> sock = bind_socket("127.0.0.1", 0); sock.getsockname()[1] > 0
        True
    """
    if not 0 <= port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}.")
    name = host.strip().strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ValueError(f"Cannot listen on {host!r}: {err.strerror}; check --host.") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=2048)
    except PermissionError:
        raise ValueError(
            f"Port {port} needs administrator rights on this machine; choose a port above 1023."
        ) from None
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ValueError(
                f"Port {port} on {host} is already in use (another server is running there); "
                "stop it or choose another --port."
            ) from None
        raise ValueError(f"Cannot listen on {host}:{port}: {err.strerror}.") from None


def build_server(
    app: Any, log_level: str = "info", connections: ConnectionLimits | None = None
) -> Any:
    """A ``uvicorn.Server`` for ``app`` with the connection guard; run it with ``.run([sock])``."""
    import uvicorn

    from siamkit.service.connections import guarded_protocol

    limits = connections or ConnectionLimits()
    files = raise_open_file_limit(limits.max_connections + 256)
    if files < limits.max_connections + 64:  # leave room for the gallery, models, logs
        limits = ConnectionLimits(limits.header_timeout, limits.max_idle_per_client, files - 64)
    config = uvicorn.Config(
        app,
        http=guarded_protocol(limits),
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=False,  # siamkit's own line (AccessLogMiddleware) also says how long it took
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=None,  # idle connections are bounded by the guard instead
        h11_max_incomplete_event_size=16 * 1024,  # request line + headers
    )
    return uvicorn.Server(config)


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging, with siamkit's own loggers (a failed request's traceback, named
    ``POST /identify failed``) in its format, on its stream and at ``log_level``: unconfigured,
    they went to Python's last-resort handler, unformatted and deaf to ``--log-level``."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    level = log_level.upper()
    config["loggers"]["siamkit"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def serve(
    model: Any,
    gallery_path: str | Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    limits: ServiceLimits | None = None,
    index: str = "exact",
    log_level: str = "info",
    model_name: str | None = None,
) -> None:
    """Serve ``model`` (and the gallery, if any) at ``http://host:port/`` until interrupted.

    The port is bound and the gallery opened before anything is announced; a busy port, a
    gallery of another model or a blank API key fail first, and a gallery file this call
    created is removed again when it fails.

    Raises:
        ValueError: a non-loopback ``host`` without ``api_key``, a busy port, a gallery of
            another model.

    Example:
        >>> serve(siamkit.load_model("out/model"), "staff.db")  # doctest: +SKIP
    """
    app, sock = prepare(model, gallery_path, host, port, api_key, limits, index, model_name)
    log.info("Serving on %s", url_of(host, sock))
    build_server(app, log_level).run(sockets=[sock])


def url_of(host: str, sock: socket.socket) -> str:
    """``http://host:port/`` of a bound socket (IPv6 addresses in brackets)."""
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}/"


def prepare(
    model: Any,
    gallery_path: str | Path | None,
    host: str,
    port: int,
    api_key: str | None = None,
    limits: ServiceLimits | None = None,
    index: str = "exact",
    model_name: str | None = None,
) -> tuple[Any, socket.socket]:
    """Check the key, bind the port, then build the app; undo both if anything fails."""
    check_api_key(api_key)
    check_bind(host, api_key)
    from siamkit.service.app import create_app

    sock = bind_socket(host, port)
    new_files = new_gallery_files(gallery_path)
    try:
        app = create_app(
            model, gallery_path, api_key=api_key, limits=limits, index=index, model_name=model_name
        )
    except BaseException:
        sock.close()
        for file in new_files:
            file.unlink(missing_ok=True)
        raise
    return app, sock


def check_api_key(api_key: str | None) -> None:
    """None (no key) or a key without surrounding whitespace."""
    if api_key is None:
        return
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("The API key is empty or only spaces; give a real key or none at all.")
    if api_key != api_key.strip():
        raise ValueError(
            "The API key starts or ends with whitespace, which HTTP headers cannot carry; "
            "remove it."
        )


def new_gallery_files(gallery_path: str | Path | None) -> list[Path]:
    """The files opening this gallery would create (empty if it already exists)."""
    if gallery_path is None or str(gallery_path) == ":memory:" or Path(gallery_path).exists():
        return []
    base = str(gallery_path)
    names = [base, f"{base}.thumbs"]
    files = [Path(n + suffix) for n in names for suffix in ("", "-wal", "-shm")]
    return [f for f in files if not f.exists()]
