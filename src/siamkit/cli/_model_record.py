"""The lookup of the model folder a store recorded when a command enrolled into it (``face
enroll``, ``signature enroll``: ``Gallery.remember_model_path``), which lets later commands on
that store leave out --model."""

from __future__ import annotations

from pathlib import Path


def recorded_model(
    model_path: str | None, store_path: str, default: str, store: str, *, gone: str = "note"
) -> tuple[str, str]:
    """``--model`` if given, else the folder ``store_path`` recorded (if it still exists), else
    ``default``; and a note for the error message when the recorded folder is gone.

    ``store`` names the file in the note ("bank", "gallery"). With ``gone="raise"`` a recorded
    folder that no longer exists is refused in one sentence instead of falling back to
    ``default`` (whose fingerprint the store would refuse anyway, naming no folder).
    """
    from siamkit.index.gallery import recorded_model_path

    if model_path is not None:
        return model_path, ""
    recorded = recorded_model_path(store_path)
    if recorded is None:
        return default, ""
    if Path(recorded).is_dir():
        return recorded, ""
    if gone == "raise":
        raise FileNotFoundError(
            f"the {store} {store_path} was enrolled with the model in {recorded}, which no "
            "longer exists; restore that folder, or pass --model with the model that enrolled it."
        )
    return default, f" (the {store} was enrolled with {recorded}, which no longer exists)"
