"""The form of a text encoder's folder path that its spec records, so its model's fingerprint.

``create_encoder("text", path=P)`` recorded ``P`` as typed, so the same folder given as ``./m``,
``m/`` and ``m`` made three fingerprints, and a gallery enrolled with one spelling refused the
very model built with another. The spec now records :func:`spec_path`, which depends on the
string alone: the same script's model keeps its fingerprint wherever the project is moved,
copied or run from (resolving the path to an absolute one did not, and was reverted).
"""

from __future__ import annotations

from pathlib import Path

from siamkit.text_names import is_text_model_name


def spec_path(path: str) -> str:
    """The folder path as :class:`~pathlib.Path` reads it, the form a spec records: ``.``
    parts, repeated and trailing separators dropped, ``/`` as the separator; ``..`` kept (a
    folder reached through a symbolic link and ``..`` may be another than the one the string
    names without them, and siamkit reads the folder through ``Path``, which keeps them).

    An absolute path stays absolute, one inside the working directory too: written relative,
    the spec would depend on where the model was built from (the same script's path, run from
    the project or from elsewhere, would record two forms), which is the dependence this form
    removes. ``""`` (the default model) and a named model's name are kept as they are.

    A folder whose form without ``./`` would be a model's name (``./all-MiniLM-L6-v2``,
    ``all-MiniLM-L6-v2/``: :func:`~siamkit.text_names.is_text_model_name`) keeps the
    ``./``: the bare name is read as the named model wherever no such folder is, so a saved
    folder recording it would load the named model, not the folder's, from anywhere else.

    >>> [spec_path(p) for p in ("./m", "m/", "m", "./m//", "/data/m/", "../m", "all-mpnet-base-v2")]
    ['m', 'm', 'm', 'm', '/data/m', '../m', 'all-mpnet-base-v2']
    >>> [spec_path(p) for p in ("./all-MiniLM-L6-v2", "all-MiniLM-L6-v2/", "all-MiniLM-L6-v2")]
    ['./all-MiniLM-L6-v2', './all-MiniLM-L6-v2', 'all-MiniLM-L6-v2']
    """
    if not path:
        return path
    form = Path(path).as_posix()
    return f"./{form}" if form != path and is_text_model_name(form) else form


def path_spellings(path: str) -> list[str]:
    """The spellings of the folder :func:`spec_path` gives ``path`` for, whose fingerprints the
    galleries enrolled while the spec held the path as typed may record: that form, and with
    ``/`` after it, and, for a relative one, with ``./`` before it (and both); the form first.
    A model's name (:func:`~siamkit.text_names.is_text_model_name`) is never a spelling
    of a folder, nor a folder's spelling one of the name's: the name is that model's only
    spelling, and ``./all-MiniLM-L6-v2`` gives its three folder spellings but not the name.

    >>> path_spellings("m/")
    ['m', 'm/', './m', './m/']
    >>> path_spellings("/data/m")
    ['/data/m', '/data/m/']
    >>> path_spellings("all-MiniLM-L6-v2/")
    ['./all-MiniLM-L6-v2', 'all-MiniLM-L6-v2/', './all-MiniLM-L6-v2/']
    >>> path_spellings("all-MiniLM-L6-v2")
    ['all-MiniLM-L6-v2']
    """
    form = spec_path(path)
    if not form:
        return []
    bare = Path(form).as_posix()  # the form without a ./ kept before a model's name
    if form == bare and is_text_model_name(bare):
        return [form]
    out = [form] + ([] if is_text_model_name(bare) else [bare]) + [bare.rstrip("/") + "/"]
    if not Path(bare).is_absolute() and bare != ".":
        out += [f"./{bare}", f"./{bare}/"]
    return list(dict.fromkeys(out))
