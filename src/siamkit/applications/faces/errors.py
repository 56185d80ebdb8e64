"""The face pipeline's own error (torch-free, so every face module can raise it)."""


class NoFaceError(ValueError):
    """An image in which no face was found."""
