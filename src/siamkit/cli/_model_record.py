"""The lookup of the model folder a store recorded when a command enrolled into it (``face
enroll``, ``signature enroll``, ``text enroll``: ``Gallery.remember_model_path``), which lets
later commands on that store leave out --model, and the refusal of a store that another
model enrolled, naming that folder (:func:`other_models_refusal`)."""

from __future__ import annotations

from pathlib import Path


def recorded_model(
    model_path: str | None,
    store_path: str,
    default: str,
    store: str,
    *,
    refuse_gone: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """``--model`` if given, else the folder ``store_path`` recorded (if it still exists), else
    ``default``; and a note for the error message when the recorded folder is gone.

    ``store`` names the file in the note ("bank", "gallery"). With ``refuse_gone=(things,
    use_it)`` (:func:`other_models_refusal`'s arguments) a recorded folder that no longer exists
    is refused with that function's sentence instead of falling back to ``default`` (whose
    fingerprint the store would refuse anyway, naming no folder).
    """
    from siamkit.index.gallery import recorded_model_path

    if model_path is not None:
        return model_path, ""
    recorded = recorded_model_path(store_path)
    if recorded is None:
        return default, ""
    if Path(recorded).is_dir():
        return recorded, ""
    if refuse_gone is not None:
        things, use_it = refuse_gone
        refusal = other_models_refusal(
            store_path, default, None, use_it, things=things, store=store, option="--model"
        )
        if refusal is not None:  # None only if the store was changed meanwhile
            raise refusal
    return default, (
        f" (the {store} was enrolled with {recorded}, which no longer exists; if that folder "
        "moved, pass --model with the folder it is in now)"
    )


def holds_items(gallery_path: str) -> bool:
    """Whether the existing gallery at ``gallery_path`` holds an item (only read)."""
    from siamkit.index.store import GalleryStore

    store = GalleryStore(gallery_path, create=False, create_schema=False)
    try:
        return store.count()[0] > 0
    finally:
        store.close()


def empty_with_gone_model(gallery_path: str) -> str | None:
    """The model folder that the existing gallery at ``gallery_path`` recorded when that folder
    no longer exists (nor beside a moved gallery) and the gallery holds no item; else ``None``.
    Only read. The text commands and the face commands then give it their default model, each
    saying so in its own sentence: it holds nothing that the missing model made."""
    from siamkit.index.gallery import recorded_model_path
    from siamkit.index.store import existing_store_problem

    if existing_store_problem(gallery_path) is not None:
        return None
    recorded = recorded_model_path(gallery_path)
    if recorded is None or Path(recorded).is_dir():
        return None
    return None if holds_items(gallery_path) else recorded


def other_models_refusal(
    store_path: str,
    model: str,
    folder: str | None,
    use_it: str,
    *,
    things: str,
    store: str = "gallery",
    option: str | None = None,
) -> ValueError | None:
    """The refusal of the store at ``store_path`` (a ``store``: "gallery", "bank"), which
    another model than the command's enrolled, naming the model folder it recorded
    (``remember_model_path``): gone, the same folder (retrained in place, or fingerprinted
    otherwise by an earlier siamkit), or another folder. ``None`` when it
    recorded none (enrolled from Python, with dlib, or without --model): the caller keeps its
    own refusal.

    ``model`` is the command's model as the sentence names it ("dlib", a folder, the default),
    ``folder`` the folder it was loaded from (``None`` for none, such as dlib), which tells a
    folder retrained in place; ``things`` what the store holds ("faces", "signatures",
    "texts"); ``use_it`` says how to use the recorded folder, ``{recorded}`` standing for it
    ("leave out --model to use it, or enroll into a new bank file"), also after restoring it.
    The face, signature and text commands and ``siamkit serve`` refuse such a store with it.

    A recorded folder that is gone has most often moved with its project (a copied, moved or
    cloned project folder: the store records an absolute path), so the sentence first says how
    to give the command its new place: ``option``, how the command takes a model folder
    (``"--model"``, or ``"MODEL"`` for an argument); ``None``: ``--model`` when ``use_it`` names
    it, else ``MODEL``.
    """
    from siamkit.atomic import same_file
    from siamkit.index.gallery import recorded_model_path
    from siamkit.index.results import GalleryMismatchError

    recorded = recorded_model_path(store_path)
    if recorded is None:
        return None
    use = use_it.format(recorded=recorded)
    if not Path(recorded).is_dir():
        what = f"the model in {recorded}, which no longer exists"
        option = option or ("--model" if "--model" in use_it else "MODEL")
        todo = f"{_moved(option)}; else restore it and {use}"
    elif folder is not None and same_file(recorded, folder):
        return GalleryMismatchError(_same_folder_refusal(store_path, recorded, things, store))
    else:
        what = f"the model in {recorded}, not {model}"
        todo = use
    return GalleryMismatchError(
        f"{store_path} was enrolled with {what}, and its {things} cannot be compared with "
        f"another model's: {todo}."
    )


def _same_folder_refusal(store_path: str, recorded: str, things: str, store: str) -> str:
    """The refusal of a store that the model folder ``recorded``, the command's own, enrolled,
    though that model does not give the fingerprint it records now. Whether the folder's model
    was retrained or replaced since, or the store was enrolled under a siamkit (for texts: or a
    transformers) that fingerprinted the same model otherwise, cannot be told (a text gallery
    enrolled while the fingerprint hashed the transformers version and the folder's path as
    spelled then records neither), so both are said, not the first alone."""
    earlier = "an earlier siamkit or transformers" if things == "texts" else "an earlier siamkit"
    versions = "siamkit and transformers" if things == "texts" else "siamkit"
    return (
        f"{store_path} records a fingerprint that the model in {recorded}, which enrolled it, "
        f"does not give now: the model there was retrained or replaced since, or the {store} "
        f"was enrolled under {earlier} that fingerprinted it otherwise; its {things} cannot be "
        f"compared with another model's, so enroll them again into a new {store} file with this "
        f"model, or open it with the model that enrolled them (restored from a copy, or under "
        f"the {versions} that enrolled them)."
    )


def _moved(option: str) -> str:
    """What to do when a recorded model folder moved: give the command the folder it is in now,
    with ``option`` (``"--model"``: and enrolling with it records that place for later
    commands, which may then leave --model out)."""
    moved = "if that folder moved (a moved or cloned project)"
    if option == "MODEL":
        return f"{moved}, give the folder it is in now as MODEL"
    return (
        f"{moved}, pass {option} with the folder it is in now (enrolling with it records that "
        "folder)"
    )
