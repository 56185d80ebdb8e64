"""Checksums and a small, atomic, checksum-verified file download.

Nothing in siamkit downloads at import or by default; loaders call :func:`download_file` only when
the user passes ``download=True``.

Example:
    >>> file_md5("train-labels-idx1-ubyte.gz")  # doctest: +SKIP
    '25c81989df183df01b3e8a0aad5dffbe'
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

from siamkit.atomic import atomic_path

__all__ = [
    "ChecksumError",
    "DownloadError",
    "download_file",
    "file_md5",
    "iter_file_chunks",
    "md5_chunks",
]

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's checksum does not match the published value."""


class DownloadError(OSError):
    """A file could not be downloaded from any of its URLs."""


def md5_chunks(chunks: Iterable[bytes]) -> str:
    """Hex MD5 of the concatenation of ``chunks``.

    Example:
        >>> md5_chunks([b"ab", b"c"]) == hashlib.md5(b"abc").hexdigest()
        True
    """
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def iter_file_chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks.

    Example:
        >>> Path("hello.txt").write_bytes(b"hello")  # doctest: +SKIP
        5
        >>> file_md5("hello.txt")  # doctest: +SKIP
        '5d41402abc4b2a76b9719d911017c592'
    """
    return md5_chunks(iter_file_chunks(Path(path)))


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``; return the MD5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "siamkit"})
    with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as fh:
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


def download_file(
    urls: Sequence[str], dest: str | os.PathLike, md5: str, timeout: float = 60.0
) -> Path:
    """Download the first URL that works to ``dest``, verifying its MD5; atomic.

    The data is written to a temporary file in the destination folder and renamed only after the
    checksum matches, so an interrupted or corrupted download never leaves a half-written file.

    Args:
        urls: mirrors to try in order.
        dest: the final file path (its folder is created).
        md5: the expected hex MD5.
        timeout: per-connection timeout in seconds.

    Raises:
        DownloadError: every URL failed (the message lists each failure).

    Example:
        >>> download_file(["https://example.org/f.gz"], "data/f.gz", md5="...")  # doctest: +SKIP
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                got = _fetch(url, tmp, timeout)
                if got != md5:
                    raise ChecksumError(f"MD5 {got} does not match the published {md5}")
            return dest
        except (OSError, urllib.error.URLError, ChecksumError) as exc:
            failures.append(f"{url}: {exc}")
    raise DownloadError(f"Could not download '{dest.name}':\n  " + "\n  ".join(failures))
