"""The face pipeline's own error (torch-free, so every face module can raise it)."""


class NoFaceError(ValueError):
    """An image in which no face was found; ``index``: its place in the batch (from 0), when
    the error came from embedding a batch."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index
