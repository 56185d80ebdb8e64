"""Tracking sequences on disk in the two standard layouts, and in memory.

GOT-10k: ``seq/00000001.jpg ...`` + ``seq/groundtruth.txt`` (one ``x,y,w,h`` line per frame).
OTB: ``seq/img/0001.jpg ...`` + ``seq/groundtruth_rect.txt`` (commas, tabs or spaces); a
multi-target OTB folder (``groundtruth_rect.1.txt``, ``groundtruth_rect.2.txt``, as Jogging) is one
sequence per ground-truth file, named ``Jogging.1``, ``Jogging.2``.
Frames are ordered by their numbers (``2.jpg`` before ``10.jpg``); hidden files (macOS's
``._0001.jpg``) are ignored. A ground-truth row of ``NaN`` (OTB's "no box") is kept as NaN.
A ground truth with a different number of lines than frames, or a frame that is not a readable
image or is in a colour space siamkit does not convert (CIELAB, as
:func:`~siamkit.image_decode.unconverted_mode_problem` says), is refused with one sentence naming
the file.

>>> seq = read_sequence("data/Basketball")  # doctest: +SKIP
>>> seq.boxes.shape, seq.frame(0).shape  # doctest: +SKIP
((725, 4), (432, 576, 3))
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from siamkit.atomic import read_utf8
from siamkit.data.folders import list_images
from siamkit.image_decode import convert_image, unconverted_mode_problem

_FRAME_EXT = (".jpg", ".jpeg", ".png", ".bmp")
LAYOUTS = ("got10k", "otb")


@dataclass
class TrackingSequence:
    """Frames (arrays or image paths) and one ``(x, y, w, h)`` box per frame: ``boxes`` ``(N, 4)``."""

    name: str
    frames: list[np.ndarray] | list[Path]
    boxes: np.ndarray
    first_box_source: str | None = (
        None  # where boxes[0] was read, e.g. "seq/groundtruth.txt line 1"
    )

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.boxes) != len(self.frames):
            raise ValueError(
                f"sequence {self.name!r} has {len(self.frames)} frames but {len(self.boxes)} boxes"
            )

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as an RGB ``(H, W, 3)`` uint8 array."""
        f = self.frames[i]
        if isinstance(f, np.ndarray):
            return f
        try:  # Pillow reading the frame's file, and only that: whatever it raises is the file's
            im = Image.open(f)
            try:
                im.load()
            except BaseException:
                im.close()
                raise
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the frame {f} is missing; put it back or re-extract the sequence"
            ) from None
        except MemoryError:  # this machine's trouble, not the frame's
            raise
        except Exception:  # unidentified, truncated or broken image: OSError, ValueError,
            # SyntaxError, and on some damaged files TypeError, IndexError, KeyError, struct.error
            raise ValueError(
                f"cannot read the frame {f}: it is not a valid image (corrupt or truncated), so "
                "replace it with the frame's image"
            ) from None
        with im:  # siamkit's own work on the pixels read: a failure here is a bug, raised as itself
            problem = unconverted_mode_problem(f"the frame {f}", im.mode)  # as decode_image
            if problem is not None:
                raise ValueError(problem)
            return np.asarray(convert_image(im, "RGB"))


def _parse_boxes(path: Path) -> tuple[np.ndarray, int]:
    """The ``(N, 4)`` boxes of a ground-truth file and the line number of the first one."""
    rows, first = [], 0
    for lineno, line in enumerate(read_utf8(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"{path} line {lineno} is not four numbers: {line.strip()!r}"
            ) from None
        if len(values) != 4:
            raise ValueError(f"{path} line {lineno} has {len(values)} numbers; expected x, y, w, h")
        rows.append(values)
        first = first or lineno
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4), first or 1


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers in a name by value: ``2.jpg`` before ``10.jpg``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    )


def _frames_in(folder: Path) -> list[Path]:
    return sorted(list_images(folder, _FRAME_EXT), key=lambda p: natural_key(p.name))


def _otb_ground_truths(d: Path) -> list[Path]:
    """``groundtruth_rect.txt``, or the ``groundtruth_rect.K.txt`` of a multi-target sequence."""
    if (d / "groundtruth_rect.txt").is_file():
        return [d / "groundtruth_rect.txt"]
    multi = [
        p
        for p in d.glob("groundtruth_rect.*.txt")
        if re.fullmatch(r"groundtruth_rect\.\d+\.txt", p.name)
    ]
    return sorted((p for p in multi if p.is_file()), key=lambda p: natural_key(p.name))


def sequence_layout(folder: str | os.PathLike[str]) -> str | None:
    """``"got10k"``, ``"otb"`` or None when ``folder`` is not a sequence folder."""
    d = Path(folder)
    if (d / "img").is_dir() and _otb_ground_truths(d):
        return "otb"
    if (d / "groundtruth.txt").is_file():
        return "got10k"
    return None


def read_targets(folder: str | os.PathLike[str]) -> list[TrackingSequence]:
    """Every target of a GOT-10k or OTB sequence folder: one, or one per ground-truth file of a
    multi-target OTB folder (``NAME.1``, ``NAME.2``, ...). Frames stay on disk until :meth:`frame`."""
    d = Path(folder)
    layout = sequence_layout(d)
    if layout is None:
        raise ValueError(
            f"{d} is not a tracking sequence: expected groundtruth.txt beside the frames (GOT-10k) "
            "or img/ with groundtruth_rect.txt (OTB)"
        )
    gts = _otb_ground_truths(d) if layout == "otb" else [d / "groundtruth.txt"]
    frame_dir = d / "img" if layout == "otb" else d
    frames = _frames_in(frame_dir)
    if not frames:  # "has no frames" said neither where nor which files were looked for
        where = f"in {frame_dir}" if layout == "otb" else f"beside {gts[0].name} in {d}"
        raise ValueError(
            f"{d} has no frames: put the sequence's images ({', '.join(_FRAME_EXT)}) {where}"
        )
    out = []
    for gt in gts:
        boxes, first = _parse_boxes(gt)
        if len(boxes) != len(frames):
            raise ValueError(
                f"{gt} has {len(boxes)} ground-truth lines but {d} has {len(frames)} frames"
            )
        target = gt.name[len("groundtruth_rect.") : -len(".txt")] if len(gts) > 1 else ""
        name = f"{d.name}.{target}" if target else d.name
        out.append(TrackingSequence(name, frames, boxes, f"{gt} line {first}"))
    return out


def read_sequence(folder: str | os.PathLike[str]) -> TrackingSequence:
    """Read a GOT-10k or OTB sequence folder of one target (frames stay on disk until :meth:`frame`)."""
    targets = read_targets(folder)
    if len(targets) > 1:
        raise ValueError(
            f"{folder} holds {len(targets)} targets (groundtruth_rect.K.txt); read them with "
            "read_targets or read_sequences"
        )
    return targets[0]


def read_sequences(root: str | os.PathLike[str]) -> list[TrackingSequence]:
    """Every sequence folder directly under ``root`` (or ``root`` itself if it is one), by name."""
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"no sequence folder at {r}")
    if sequence_layout(r):
        return read_targets(r)
    folders = sorted(
        (d for d in r.iterdir() if d.is_dir() and sequence_layout(d)), key=lambda d: d.name
    )
    seqs = [seq for d in folders for seq in read_targets(d)]
    if not seqs:
        raise ValueError(f"{r} holds no GOT-10k or OTB sequence folders")
    return seqs


def write_sequence(
    seq: TrackingSequence, folder: str | os.PathLike[str], layout: str = "got10k"
) -> Path:
    """Write ``seq`` as a sequence folder (JPEG frames), atomically: a temp folder renamed at the end."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    dest = Path(folder)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; choose another folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        img_dir = tmp / "img" if layout == "otb" else tmp
        img_dir.mkdir(exist_ok=True)
        digits = 4 if layout == "otb" else 8
        for i in range(len(seq)):
            Image.fromarray(seq.frame(i)).save(img_dir / f"{i + 1:0{digits}d}.jpg", quality=92)
        gt = tmp / ("groundtruth_rect.txt" if layout == "otb" else "groundtruth.txt")
        gt.write_text("".join(",".join(f"{v:.2f}" for v in b) + "\n" for b in seq.boxes))
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
