"""dlib's pretrained face recognition as a siamkit model kind (``"dlib_face"``).

Detection -> 5-point alignment -> 150x150 chip -> dlib's 128-d ResNet descriptor (LFW 99.38% as
dlib publishes it), compared with the Euclidean distance. The default decision threshold 0.6 is
dlib's published operating point, not one calibrated by siamkit.

The bundle (``siamkit.save_model``) holds no weights: dlib's ``.dat`` files are part of the
``siamkit[face]`` install, so copying 30 MB into every model folder would buy nothing. The
bundle records each file's name and SHA-256 and the dlib / face-model versions, and loading
refuses files whose checksum differs, so a gallery never mixes embeddings of two networks.

Example:
    >>> enc = DlibFaceEncoder()  # doctest: +SKIP
    >>> enc.embed(torch.rand(1, 3, 320, 320)).shape  # raises: no face in noise  # doctest: +SKIP
    >>> siamkit.save_model(enc, "models/dlib-face")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from siamkit.applications.faces.align import CHIP_PADDING, CHIP_SIZE, FaceAligner
from siamkit.applications.faces.descriptor import DLIB_THRESHOLD, EMBEDDING_DIM, DlibDescriptor
from siamkit.applications.faces.detect import FaceBox, FaceDetector
from siamkit.applications.faces.errors import NoFaceError
from siamkit.applications.faces.resources import MODEL_FILES, file_sha256, model_file, versions
from siamkit.distances import Distance, get_distance

__all__ = ["DLIB_THRESHOLD", "EMBEDDING_DIM", "DlibFaceEncoder", "NoFaceError", "to_uint8_hwc"]

_ROLES = ("recognition", "landmarks5", "cnn_detector")


def _record_files(expected: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Name and SHA-256 of each installed file; refuse ones that differ from ``expected``."""
    out: dict[str, dict[str, str]] = {}
    for role in _ROLES:
        path = model_file(role)
        entry = {"name": MODEL_FILES[role], "sha256": file_sha256(path)}
        want = (expected or {}).get(role)
        if want is not None and want.get("sha256") != entry["sha256"]:
            raise ValueError(
                f"the installed {path.name} (sha256 {entry['sha256'][:12]}) is not the file this "
                f"face model was saved with (sha256 {str(want.get('sha256'))[:12]}); install the "
                "same face-recognition-models version"
            )
        out[role] = entry
    return out


def to_uint8_hwc(x: Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 (exact for images read from 8-bit files)."""
    return (
        (x.detach().cpu().float().clamp(0, 1) * 255.0)
        .round()
        .to(torch.uint8)
        .permute(1, 2, 0)
        .numpy()
    )


class DlibFaceEncoder(nn.Module):
    """dlib's face pipeline behind the siamkit model contract (``embed``, ``distance``, ``threshold``).

    ``embed`` takes whole images ``(N, 3, H, W)`` in [0, 1] and embeds the largest face of each
    (:class:`NoFaceError` if an image has none); :meth:`embed_chips` takes aligned chips. For every
    face of an image with its box use :meth:`faces_in` or
    :class:`~siamkit.applications.faces.FacePipeline`.

    Its ``input_kind`` is ``"photo"``: siamkit's shells (``siamkit enroll / identify / verify``,
    ``siamkit serve``) hand it each photo at its own size (:meth:`embed_photos`), never resized to
    ``input_shape``, so small faces in large photos are still found.

    Args:
        detector: ``"hog"`` (default) or ``"cnn"``; see :class:`FaceDetector`.
        upsample: detector upsampling steps.
        min_score: detections scoring below are dropped.
        input_size: the square ``input_shape`` this model reports to callers that need one
            fixed size; siamkit's own shells pass whole photos (see ``input_kind``).
        files, recorded_versions: from a saved bundle; ``files`` is checked against the install.
    """

    kind = "dlib_face"
    input_kind = "photo"

    def __init__(
        self,
        detector: str = "hog",
        upsample: int = 1,
        min_score: float = 0.0,
        input_size: int = 320,
        files: dict[str, Any] | None = None,
        recorded_versions: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.files = _record_files(files)
        now = versions()
        self.recorded_versions = dict(recorded_versions or now)
        if recorded_versions and recorded_versions.get("dlib") != now["dlib"]:
            warnings.warn(
                f"this face model was saved with dlib {recorded_versions.get('dlib')}, running "
                f"dlib {now['dlib']}; descriptors may differ slightly",
                stacklevel=2,
            )
        if input_size < 64:
            raise ValueError(f"input_size must be at least 64 pixels, got {input_size}")
        self.input_size = int(input_size)
        self.detector = FaceDetector(detector, upsample, min_score)
        self.aligner = FaceAligner(CHIP_SIZE, CHIP_PADDING)
        self.descriptor = DlibDescriptor()
        self.distance: Distance = get_distance("euclidean")
        self.threshold: float | None = DLIB_THRESHOLD

    @property
    def embedding_dim(self) -> int:
        """Size of dlib's face descriptors (128)."""
        return EMBEDDING_DIM

    @property
    def distance_name(self) -> str:
        """The name of the distance between two descriptors (``"euclidean"``, as dlib's)."""
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(3, input_size, input_size)``: reported to callers that need a shape; photos of
        any size are embedded at their own size."""
        return (3, self.input_size, self.input_size)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Aligned ``(F, 150, 150, 3)`` uint8 chips -> ``(F, 128)`` float32 descriptors."""
        return self.descriptor.embed_chips(chips)

    def faces_in(self, image: np.ndarray | Tensor) -> tuple[list[FaceBox], np.ndarray]:
        """Every face of one photo (``(H, W, 3)`` uint8, or ``(3, H, W)`` in [0, 1]) at its own
        size: the boxes, largest first, and their ``(F, 128)`` descriptors."""
        img = to_uint8_hwc(image) if isinstance(image, Tensor) else image
        boxes = self.detector(img)
        return boxes, self.embed_chips(self.aligner.chips(img, boxes))

    def embed_photos(self, images: Sequence[np.ndarray | Tensor]) -> np.ndarray:
        """The largest face of each photo, each at its own size -> ``(N, 128)``.

        A photo is ``(3, H, W)`` in [0, 1] or ``(H, W, 3)`` uint8; :class:`NoFaceError` names the
        first photo without a face.
        """
        return self.largest_faces(images)[0]

    def largest_faces(self, images: Sequence[np.ndarray | Tensor]) -> tuple[np.ndarray, list[int]]:
        """:meth:`embed_photos`, and how many faces each photo showed (the largest is used):
        the service says so for a photo of several, as ``siamkit face`` does."""
        chips, counts = [], []
        for i, image in enumerate(images):
            if isinstance(image, Tensor) and (image.dim() != 3 or image.shape[0] != 3):
                raise ValueError(f"a face photo is a (3, H, W) RGB image, got {tuple(image.shape)}")
            img = to_uint8_hwc(image) if isinstance(image, Tensor) else image
            boxes = self.detector(img)
            if not boxes:
                h, w = img.shape[:2]
                raise NoFaceError(
                    f"no face found in image {i + 1} of {len(images)} ({w}x{h} pixels)", index=i
                )
            chips.append(self.aligner.chip(img, boxes[0]))
            counts.append(len(boxes))
        if not chips:
            raise ValueError("no photos to embed")
        return self.embed_chips(np.stack(chips)), counts

    def embed(self, x: Tensor, check: bool = True) -> Tensor:
        """The largest face of each ``(N, 3, H, W)`` image in [0, 1] -> ``(N, 128)``."""
        if check and (not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != 3):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"face images are an (N, 3, H, W) RGB batch, got {shape}")
        return torch.from_numpy(self.embed_photos(list(x)))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Distances between the largest faces of image pairs: ``(N, 3, H, W)`` x 2 -> ``(N,)``."""
        return self.distance.pairwise(self.embed(a), self.embed(b))

    def config(self) -> dict[str, Any]:
        """The JSON-ready description :func:`siamkit.save_model` stores and :meth:`from_config`
        reads: detector, ``input_size``, chip geometry, model files and recorded versions."""
        return {
            "kind": self.kind,
            "detector": self.detector.config(),
            "input_size": self.input_size,
            "chip": {"size": CHIP_SIZE, "padding": CHIP_PADDING},
            "files": self.files,
            "versions": self.recorded_versions,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> DlibFaceEncoder:
        """Rebuild the encoder from :meth:`config` (warns when its dlib version differs)."""
        det = cfg.get("detector", {})
        return cls(
            detector=det.get("method", "hog"),
            upsample=int(det.get("upsample", 1)),
            min_score=float(det.get("min_score", 0.0)),
            input_size=int(cfg.get("input_size", 320)),
            files=cfg.get("files"),
            recorded_versions=cfg.get("versions"),
        )
