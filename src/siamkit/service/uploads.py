"""Uploaded files -> validated image tensors (and thumbnails), with the service's limits.

Only the bytes of an upload are ever used: its file name is shown in messages and kept as the
enrolled item's source (its last part only, :func:`file_name`), never opened.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from fastapi import UploadFile
from PIL import Image

from siamkit.data.image_io import resize_images
from siamkit.image_decode import convert_image, draft_jpeg, unconverted_mode_problem
from siamkit.index.store import unprintable_char
from siamkit.models.half_twin_sizes import other_tower_problem, tower_sizes
from siamkit.progress import human_bytes
from siamkit.service.errors import FIELD_WORDS, RequestError
from siamkit.service.limits import ServiceLimits
from siamkit.service.thumbnails import read_for_thumbnail, thumbnail_png


@dataclass(frozen=True)
class Upload:
    """The bytes of one uploaded file and how to name it in a message: ``name`` mid-sentence
    (``'x.png' (the first image)``, or ``the first image`` for an upload without a filename),
    ``.subject`` at the start of one; ``filename``: the file's name as the gallery keeps it
    (:func:`file_name`), None when the upload named none."""

    name: str
    data: bytes
    filename: str | None = None

    @property
    def subject(self) -> str:
        """``name`` to begin a sentence with (``The first image is empty ...``)."""
        return _capital(self.name)


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def field_words(field: str) -> str:
    """A form field as a person says it: ``files[1]`` -> ``image 2``, ``file_a`` -> ``the first image``."""
    if field.startswith("files[") and field.endswith("]") and field[6:-1].isdigit():
        return f"image {int(field[6:-1]) + 1}"
    return FIELD_WORDS.get(field, field)


MAX_FILE_NAME_CHARS = 255
"""The longest file name kept as an item's source (a file system's usual limit): a longer one
is cut, ending in an ellipsis."""


def file_name(filename: str | None) -> str | None:
    r"""An upload's file name as a gallery keeps it (the item's ``source``): its last part only,
    since a client may send a path (``C:\photos\a.jpg``, ``../a.jpg``) that means nothing here;
    a space other than ' ' made ' ' and any other character that cannot be shown (as a label's
    are told: :func:`~siamkit.index.store.unprintable_char`) made '?', so nothing is refused;
    at most :data:`MAX_FILE_NAME_CHARS` characters. None when nothing names a file (no name,
    or a bare ``.`` or ``..``).

    >>> file_name("C:\\Users\\me\\tile 3.jpg"), file_name("../etc/a\x1bb.png"), file_name("..")
    ('tile 3.jpg', 'a?b.png', None)
    """
    if not filename:
        return None
    name = re.split(r"[/\\]", filename)[-1]
    if not name.strip() or name in (".", ".."):
        return None
    shown = "".join(
        ch if unprintable_char(ch) is None else " " if unicodedata.category(ch) == "Zs" else "?"
        for ch in name
    )
    if len(shown) > MAX_FILE_NAME_CHARS:
        shown = shown[: MAX_FILE_NAME_CHARS - 1] + "\u2026"
    return shown


def _describe(field: str, upload: UploadFile) -> str:
    filename = (upload.filename or "").replace("\n", " ")[:80]
    words = field_words(field)
    return f"{filename!r} ({words})" if filename else words


async def read_upload(upload: UploadFile, field: str, limits: ServiceLimits) -> Upload:
    """Read one uploaded file, refusing empty and oversized ones.

    Raises:
        RequestError: 413 above ``limits.max_upload_bytes``, 400 for an empty file.
    """
    what = _describe(field, upload)
    limit = limits.max_upload_bytes
    if upload.size is not None and upload.size > limit:
        raise RequestError(413, _too_big(_capital(what), limit))
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise RequestError(413, _too_big(_capital(what), limit))
    if not data:
        raise RequestError(400, f"{_capital(what)} is empty (0 bytes); choose an image file.")
    return Upload(what, data, file_name(upload.filename))


async def read_uploads(
    uploads: list[UploadFile], field: str, limits: ServiceLimits
) -> list[Upload]:
    """Read a list of files (``files`` of ``/enroll``, ``/embed``): 1 to ``max_files`` of them."""
    if not uploads:
        raise RequestError(422, f"Choose at least one image ({field}).")
    if len(uploads) > limits.max_files:
        raise RequestError(
            413,
            f"{len(uploads)} files sent; at most {limits.max_files} are accepted per request. "
            "Send them in several requests.",
        )
    return [await read_upload(u, f"{field}[{i}]", limits) for i, u in enumerate(uploads)]


def _too_big(what: str, limit: int) -> str:
    return f"{what} is larger than the limit of {human_bytes(limit)}; send a smaller image."


def _header_size(upload: Upload) -> tuple[int, int]:
    """``(width, height)`` from the image header, without decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data)) as img:
                return img.size
    except Image.DecompressionBombError:
        raise RequestError(
            413,
            f"{upload.subject} has too many pixels (hundreds of millions, beyond any limit here); "
            "resize it first.",
        ) from None
    except MemoryError:  # the server's trouble, not the upload's: a 500
        raise
    except Exception:  # whatever Pillow raises on bytes it cannot read (OSError, ValueError,
        # and on some damaged files TypeError, IndexError, struct.error ...) says so of the upload
        raise RequestError(
            400,
            f"{upload.subject} is not a readable image; send a PNG, JPEG, BMP, GIF or WebP file.",
        ) from None


def check_dimensions(upload: Upload, limits: ServiceLimits) -> int:
    """Read only the image header: 400 if it is not an image, 413 if it is too large or too thin.

    Returns the image's pixel count (for the request's decode budget).
    """
    width, height = _header_size(upload)
    pixels = width * height
    if pixels > limits.max_pixels:
        raise RequestError(
            413,
            f"{upload.subject} has too many pixels: {width}x{height} = {pixels:,}, more than the "
            f"limit of {limits.max_pixels:,}; resize it first.",
        )
    if max(width, height) > limits.max_side:
        raise RequestError(
            413,
            f"{upload.subject} is {width}x{height}: a side longer than {limits.max_side:,} pixels; "
            "resize it first.",
        )
    if max(width, height) > limits.max_aspect * max(1, min(width, height)):
        raise RequestError(
            413,
            f"{upload.subject} is {width}x{height}, more than {limits.max_aspect} times longer "
            "than wide; crop it to the object first.",
        )
    return pixels


def check_all_dimensions(uploads: list[Upload], limits: ServiceLimits) -> None:
    """Check every header of a request before any pixel is decoded, and the total decode budget."""
    total = sum(check_dimensions(u, limits) for u in uploads)
    if total > limits.max_request_pixels:
        raise RequestError(
            413,
            f"The images of this request have {total:,} pixels together, more than the limit of "
            f"{limits.max_request_pixels:,}; send fewer or smaller images per request.",
        )


def _decode(upload: Upload, channels: int, size: tuple[int, int] | None) -> torch.Tensor:
    """Decode one checked upload to ``(C, H, W)`` floats; a big JPEG decodes at a reduced scale.

    ``size = (H, W)``, the model's input: a JPEG far larger is shrunk by the JPEG decoder as
    :func:`~siamkit.data.image_io.read_image_resized` shrinks it for training and the command
    line (:func:`~siamkit.image_decode.draft_jpeg`), so a photo gets the same pixels through
    the service as through ``siamkit enroll``. ``size=None`` decodes at full size.
    """
    mode = "L" if channels == 1 else "RGB"
    try:  # Pillow reading the client's bytes, and only that: whatever it raises is the upload's
        img = Image.open(io.BytesIO(upload.data))
        if size is not None:
            draft_jpeg(img, size)
        img.load()
    except MemoryError:  # the server's trouble, not the upload's: a 500
        raise
    except Exception as err:  # OSError, ValueError, and on some damaged files TypeError,
        # IndexError, struct.error ... (as in _header_size)
        raise RequestError(
            400,
            f"{upload.subject} is corrupt or truncated ({err}): send it again, or save it again "
            "from the original if it was cut short on disk.",
        ) from None
    _refuse_unconverted_mode(upload, img)
    # siamkit's own work on pixels read: a failure here is a bug, the service's 500
    array = np.asarray(convert_image(img, mode), dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).to(torch.float32).div_(255.0)


def decode_images(
    uploads: list[Upload], input_shape: tuple[int, int, int], limits: ServiceLimits
) -> torch.Tensor:
    """Decode and resize uploads to the model's input: ``(N, C, H, W)`` float32 in ``[0, 1]``."""
    check_all_dimensions(uploads, limits)
    c, h, w = input_shape
    out = torch.empty(len(uploads), c, h, w)
    for i, upload in enumerate(uploads):
        img = _decode(upload, c, (h, w))
        out[i] = resize_images(img.unsqueeze(0), (h, w))[0]
    return out


def decode_photos(uploads: list[Upload], limits: ServiceLimits) -> list[torch.Tensor]:
    """Decode uploads at their own sizes, for a model that takes whole photos (a face model):
    ``[(3, H, W)]`` float32 in ``[0, 1]``; the sizes were checked against ``limits``."""
    check_all_dimensions(uploads, limits)
    return [_decode(upload, 3, None) for upload in uploads]


def thumbnails_of(uploads: list[Upload]) -> list[bytes]:
    """64-pixel PNG thumbnails of already validated uploads, as
    :func:`~siamkit.service.thumbnails.make_thumbnail` makes them: 400 naming the upload whose
    pixels Pillow cannot read for it after all, whatever it raises (:func:`read_for_thumbnail`,
    at another scale than :func:`_decode`'s); shrinking and saving them is siamkit's work, so a
    failure there is the service's 500."""
    thumbnails = []
    for upload in uploads:
        try:
            img = read_for_thumbnail(upload.data)
        except MemoryError:
            raise
        except Exception as err:  # as in _decode
            raise RequestError(
                400,
                f"Cannot make a thumbnail of {upload.name}: it is corrupt or truncated ({err}); "
                "send it again, or save it again from the original.",
            ) from None
        _refuse_unconverted_mode(upload, img)
        thumbnails.append(thumbnail_png(img))
    return thumbnails


def _refuse_unconverted_mode(upload: Upload, img: Image.Image) -> None:
    """400 for an upload that Pillow read in a colour space it cannot convert
    (:data:`~siamkit.image_decode.UNCONVERTED_MODES`), in the CLI's sentence."""
    problem = unconverted_mode_problem(upload.subject, img.mode)
    if problem is not None:
        raise RequestError(400, problem)


def refuse_other_tower_size(model: object, uploads: list[Upload], role: str) -> None:
    """422, before anything is decoded or enrolled, for an upload to an image half-twin (two towers:
    trained with ``task: half_twin``, or a HalfTwinNetwork saved in Python) at exactly the other
    tower's input size, which would be resized into the wrong tower: for ``role="query"`` (tower f:
    /identify's file, /verify's file_a or file) one at g's size, for ``role="document"`` (tower g:
    /enroll's files, /verify's file_b) one at f's. The sentence is the command line's
    (:mod:`siamkit.models.half_twin_sizes`), naming the upload. Other sizes, and other models,
    pass."""
    sizes = tower_sizes(model)
    if sizes is None:
        return
    for upload in uploads:
        w, h = _header_size(upload)
        problem = other_tower_problem(sizes, upload.subject, w, h, role, "/verify's file_b")
        if problem is not None:
            raise RequestError(422, problem + ".")
