"""Checks of texts given to a text model: a blank text (no visible character) and one that is
not valid Unicode are refused in one sentence. No torch: the ONNX runtime checks its texts too."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence

_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}  # spaces, controls, format (zero-width, BOM)


def is_blank(text: str) -> bool:
    """Whether ``text`` has no visible character: spaces, control and zero-width characters
    only (``"\u200b"``, ``"\x00"``), which a tokenizer turns into no token at all."""
    if any(c.isalnum() for c in text):
        return False
    return all(unicodedata.category(c) in _INVISIBLE for c in text)


def unicode_problem(text: str) -> str | None:
    """``None``, or what keeps ``text`` from being UTF-8 encoded: a lone surrogate (JSON's
    ``"\ud800"`` escapes decode to one), which the tokenizer cannot take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"a lone surrogate {text[err.start]!a} at character {err.start}"
    return None


def check_texts(texts: object, names: Sequence[str] | None = None) -> list[str]:
    """A list of non-empty strings, or one sentence saying what is wrong; ``names``: what the
    sentence calls each text (``("A", "B")``), by default ``text 0``, ``text 1``, ...

    Here, not beside the PyTorch model, because the torch-free ONNX runtime checks its texts
    too: a tensor can only be given where torch is imported already."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(texts, torch.Tensor):
        raise TypeError(
            f"a text model embeds strings, got a tensor of shape {tuple(texts.shape)} (an image?); "
            "use an image model for images"
        )
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes | bytearray):
        raise TypeError(f"a text model embeds a list of strings, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        name = f"text {i}" if names is None else names[i]
        if not isinstance(t, str):  # (a list given where one string goes: name which, and what)
            raise TypeError(
                f"{name} is of type {type(t).__name__}, not str; give each text as a str"
            )
        if is_blank(t):
            raise ValueError(f"{name} is empty; every text needs at least one visible character")
        if bad := unicode_problem(t):
            raise ValueError(f"{name} is not valid Unicode ({bad})")
    return list(texts)
