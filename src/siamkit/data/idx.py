"""Reader for the IDX file format used by MNIST and Fashion-MNIST (raw or gzip-compressed).

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the data in row-major big-endian order. See
http://yann.lecun.com/exdb/mnist/ (bottom of the page).

Example:
    >>> images = read_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from siamkit.clauses import counted

__all__ = ["IDX_DTYPES", "IdxFormatError", "parse_idx", "read_idx", "read_idx_bytes", "write_idx"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> numpy dtype (big-endian, as stored in the file)."""

_MAX_BYTES = 4 * 1024**3  # refuse headers that promise more than 4 GiB


class IdxFormatError(ValueError):
    """The bytes are not a valid IDX file (bad magic, unknown type, wrong size, bad gzip)."""


def parse_idx(data: bytes, name: str = "<bytes>", expected_ndim: int | None = None) -> np.ndarray:
    """Parse the (already decompressed) bytes of an IDX file.

    Args:
        data: the whole file content.
        name: how to refer to the data in error messages.
        expected_ndim: if given, the number of dimensions the header must declare.

    Returns:
        An array in native byte order with the shape from the header.

    Raises:
        IdxFormatError: bad magic number, unknown type code, unexpected rank, truncated data or
            trailing bytes.

    Example:
        >>> import struct
        >>> parse_idx(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([1, 2, 3])).tolist()
        [1, 2, 3]
    """
    if len(data) < 4:
        raise IdxFormatError(
            f"{name} is too short to be an IDX file ({counted(len(data), 'byte')})."
        )
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise IdxFormatError(
            f"{name} is not an IDX file: magic number starts with {data[:2].hex()} instead of 0000."
        )
    if code not in IDX_DTYPES:
        raise IdxFormatError(f"{name} has unknown IDX type code 0x{code:02x}.")
    if ndim == 0 or (expected_ndim is not None and ndim != expected_ndim):
        want = f"{expected_ndim}" if expected_ndim is not None else "at least 1"
        raise IdxFormatError(f"{name} declares {counted(ndim, 'dimension')}, expected {want}.")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(
            f"{name} is truncated inside its header ({counted(len(data), 'byte')})."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = IDX_DTYPES[code]
    # Python's integers: a damaged header's sizes (each up to 2**32 - 1) overflow int64's
    # product, which wrapped to a negative count or to 0 that an empty body then matched
    expected = math.prod(shape) * dtype.itemsize
    if expected > _MAX_BYTES:
        raise IdxFormatError(f"{name} declares shape {shape}, which is implausibly large.")
    got = len(data) - header_len
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise IdxFormatError(
            f"{name} is {what}: header shape {shape} needs {expected} data bytes, found {got}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The decompressed content of an IDX file (gunzipped when it starts with the gzip magic).

    Raises:
        FileNotFoundError: no such file.
        IdxFormatError: a broken gzip stream.

    Example:
        >>> raw = read_idx_bytes("t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
        >>> len(raw)  # doctest: +SKIP
        10008
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file '{path}' does not exist.")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxFormatError(f"'{path}' is a corrupt or truncated gzip file: {exc}.") from exc


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected by its magic bytes) or raw.

    Args:
        path: the file.
        expected_ndim: if given, the rank the file must have (3 for images, 1 for labels).

    Raises:
        FileNotFoundError: no such file.
        IdxFormatError: see :func:`parse_idx`; also a broken gzip stream.

    Example:
        >>> labels = read_idx("t10k-labels-idx1-ubyte.gz", expected_ndim=1)  # doctest: +SKIP
    """
    return parse_idx(read_idx_bytes(path), name=f"'{Path(path)}'", expected_ndim=expected_ndim)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write an array as an IDX file (gzip if ``compress`` or the name ends in ``.gz``).

    Example:
        >>> write_idx("labels-idx1-ubyte", np.array([1, 2], dtype=np.uint8))  # doctest: +SKIP
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"dtype {array.dtype} cannot be stored in IDX (use uint8, int8, ...).")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX arrays need 1 to 255 dimensions, got {array.ndim}.")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
