"""Connection guard for uvicorn: idle connections cannot crowd out real requests.

uvicorn counts every open connection against ``limit_concurrency`` and answers 503 above it,
before authentication, so ~1,000 idle TCP connections from one client (or slow clients that send
a header byte now and then) stall every request, ``/health`` included. This protocol:

* closes a connection that has not finished its request headers ``header_timeout`` seconds after
  its first byte (or after it opened): slow-loris clients are cut off;
* keeps at most ``max_idle_per_client`` idle connections per client address and
  ``max_connections`` in all, closing the *oldest idle* ones when a new connection arrives, so a
  new request always gets in. A connection whose request is running is never closed.

Bodies that stall after their headers are bounded in :mod:`siamkit.service.middleware`. Behind a
reverse proxy (nginx, Caddy) the proxy buffers requests and limits clients as well (README).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from siamkit.service.limits import ConnectionLimits


class _Registry:
    """Open connections, oldest first, in all and per client address."""

    def __init__(self) -> None:
        self.all: dict[GuardedH11Protocol, None] = {}
        self.by_client: dict[str, dict[GuardedH11Protocol, None]] = {}

    def add(self, conn: GuardedH11Protocol) -> None:
        self.all[conn] = None
        self.by_client.setdefault(conn.client_host, {})[conn] = None

    def discard(self, conn: GuardedH11Protocol) -> None:
        self.all.pop(conn, None)
        mine = self.by_client.get(conn.client_host)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_client[conn.client_host]


def _close_oldest_idle(conns: dict[GuardedH11Protocol, None], excess: int, new: Any) -> None:
    """Close the ``excess`` oldest idle connections of ``conns`` (never ``new``)."""
    for conn in list(conns):
        if excess <= 0:
            return
        if conn is not new and conn.is_idle() and not conn.transport.is_closing():
            conn.close_idle()
            excess -= 1


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header timeouts and idle-connection eviction.

    Build the class for one server with :func:`guarded_protocol`; pass it as ``http=``.
    """

    limits = ConnectionLimits()
    registry = _Registry()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_host = ""
        self._header_timer: asyncio.TimerHandle | None = None

    def is_idle(self) -> bool:
        """No request is running on this connection (none begun, or the last one answered)."""
        return self.cycle is None or self.cycle.response_complete

    def close_idle(self) -> None:
        if self.transport.is_closing():
            return
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.client_host = self.client[0] if self.client else ""
        reg, lim = self.registry, self.limits
        reg.add(self)
        self._start_header_timer()
        mine = reg.by_client.get(self.client_host, {})
        idle = sum(1 for c in mine if c.is_idle() and not c.transport.is_closing())
        _close_oldest_idle(mine, idle - lim.max_idle_per_client, self)
        open_now = sum(1 for c in reg.all if not c.transport.is_closing())
        _close_oldest_idle(reg.all, open_now - lim.max_connections, self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self.registry.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.is_idle():
            self._start_header_timer()  # the first byte of a new request starts its clock
        super().data_received(data)

    def on_response_complete(self) -> None:
        self._cancel_header_timer()
        super().on_response_complete()

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._on_header_timeout
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.is_idle():  # headers still incomplete (or never sent): a slow or idle client
            self.close_idle()


def guarded_protocol(limits: ConnectionLimits | None = None) -> type[GuardedH11Protocol]:
    """A protocol class with its own ``limits`` and connection registry (one per server).

    Example:
        >>> uvicorn.Config(app, http=guarded_protocol(ConnectionLimits(header_timeout=5)))  # doctest: +SKIP
    """
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"limits": limits or ConnectionLimits(), "registry": _Registry()},
    )
