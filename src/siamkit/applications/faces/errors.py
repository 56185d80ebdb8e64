"""The face pipeline's own error (torch-free, so every face module can raise it)."""

from __future__ import annotations

from collections.abc import Sequence


class NotAFaceModelError(ValueError):
    """A model folder that embeds no faces (a signature, text or tracker model); ``what``: the
    clause that says what it is instead, e.g. ``"a text model, not a face (image embedding)
    model"``, so a gallery that such a model enrolled can be refused naming the gallery."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


class NoFaceError(ValueError):
    """An image in which no face was found; ``index``: its place in the batch (from 0), when
    the error came from embedding a batch."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def name_the_photo(err: NoFaceError, names: Sequence[str]) -> NoFaceError | None:
    """``err`` as a sentence naming its photo ``names[err.index]`` (the batch's photos, named in
    order, e.g. ``"'blank.png' (the second image)"``); ``None`` when ``err`` has no index into
    ``names`` (the caller then re-raises ``err`` as it is). The service and the shell commands
    name a faceless photo this way, rather than by its place in the batch that was embedded."""
    if err.index is None or not 0 <= err.index < len(names):
        return None
    return NoFaceError(
        f"No face was found in {names[err.index]}; send a photo in which a face is clearly "
        "visible.",
        err.index,
    )
