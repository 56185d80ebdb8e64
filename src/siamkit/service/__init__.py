"""HTTP service (extra ``siamkit[serve]``): REST API + web page for enroll, verify and identify.

>>> from siamkit.service import create_app, ServiceLimits
>>> app = create_app(siamkit.load_model("out/model"), "staff.db", api_key="s3cret")  # doctest: +SKIP

FastAPI is imported only when :func:`create_app` or :func:`serve` is used.
"""

from __future__ import annotations

from typing import Any

from siamkit.service.limits import ConnectionLimits, ServiceLimits
from siamkit.service.server import check_bind, is_loopback, serve

__all__ = ["ConnectionLimits", "ServiceLimits", "check_bind", "create_app", "is_loopback", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from siamkit.service.app import create_app
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("the service needs FastAPI: pip install 'siamkit[serve]'") from err
        return create_app
    raise AttributeError(f"module 'siamkit.service' has no attribute {name!r}")
