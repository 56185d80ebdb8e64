"""Limits that bound what one request may cost the service (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20


@dataclass(frozen=True)
class ServiceLimits:
    """Upper bounds on every request; anything above is refused with a 4xx and a message.

    Attributes:
        max_upload_bytes: largest single uploaded file.
        max_request_bytes: largest request body (all files and fields together).
        max_pixels: largest image, width × height, checked before the pixels are decoded.
        max_side: longest side of an image (a 1 × 16,000,000 strip passes a pixel cap alone).
        max_aspect: largest ratio of the long side to the short side.
        max_request_pixels: pixels of all images of one request together (the decode budget).
        max_files: most images in one ``/enroll`` or ``/embed`` request.
        max_label_chars: longest label (at most the gallery's 256 characters).
        max_k: largest ``k`` for ``/identify``.
        max_text_chars: longest text a text model's service takes (longer texts are refused;
            texts over the model's token window are embedded as overlapping windows).
        compute_threads: threads that run the model and the gallery (1 serialises them, which
            is fastest on a small CPU: torch already uses every core inside one call).

    Example:
        >>> ServiceLimits(max_upload_bytes=2 * MiB).max_pixels
        16777216
    """

    max_upload_bytes: int = 8 * MiB
    max_request_bytes: int = 32 * MiB
    max_pixels: int = 4096 * 4096
    max_side: int = 8192
    max_aspect: int = 20
    max_request_pixels: int = 4 * 4096 * 4096
    max_files: int = 32
    max_label_chars: int = 256
    max_k: int = 100
    max_text_chars: int = 50_000
    compute_threads: int = 1

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "max_request_bytes",
            "max_pixels",
            "max_side",
            "max_aspect",
            "max_request_pixels",
            "max_files",
            "max_label_chars",
            "max_k",
            "max_text_chars",
            "compute_threads",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ServiceLimits.{name} must be a positive integer, got {value!r}.")
        from siamkit.index.store import MAX_LABEL_LENGTH  # the gallery's own limit

        if self.max_label_chars > MAX_LABEL_LENGTH:  # a longer label passed the route's check
            # and the gallery refused it: a 500, as the service's failure, not the client's
            raise ValueError(
                f"ServiceLimits.max_label_chars ({self.max_label_chars}) cannot exceed the "
                f"gallery's limit of {MAX_LABEL_LENGTH} characters per label."
            )
        if self.max_upload_bytes > self.max_request_bytes:
            raise ValueError(
                f"ServiceLimits.max_upload_bytes ({self.max_upload_bytes}) cannot exceed "
                f"max_request_bytes ({self.max_request_bytes}); raise the request limit too."
            )
        if self.max_pixels > self.max_request_pixels:
            raise ValueError(
                f"ServiceLimits.max_pixels ({self.max_pixels:,}) cannot exceed "
                f"max_request_pixels ({self.max_request_pixels:,}); raise the request budget too."
            )


@dataclass(frozen=True)
class ConnectionLimits:
    """Bounds on connections (see :mod:`siamkit.service.connections`).

    Attributes:
        header_timeout: seconds from a request's first byte (or a new connection) to the end
            of its headers; slower connections are closed.
        max_idle_per_client: idle connections kept per client address; the oldest go first.
        max_connections: open connections in all; above it the oldest idle ones are closed.

    Example:
        >>> ConnectionLimits().max_idle_per_client
        128
    """

    header_timeout: float = 10.0
    max_idle_per_client: int = 128
    max_connections: int = 2048

    def __post_init__(self) -> None:
        if not self.header_timeout > 0:
            raise ValueError(f"header_timeout must be > 0 seconds, got {self.header_timeout}")
        if self.max_idle_per_client < 1 or self.max_connections < 2:
            raise ValueError("max_idle_per_client must be >= 1 and max_connections >= 2")
