"""``siamkit recommend``: more items like the ones a user liked, from a gallery of items.

    siamkit recommend MODEL --gallery shop.db --like item-12 --like item-40 --k 10

Thin shell over :func:`siamkit.index.recommend.liked_item_ids` and :meth:`Gallery.recommend`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from siamkit.cli._inputs import text_model_folder
from siamkit.cli.gallery_cmds import _friendly, _load_model, _open, _score_kind, source_note


# a text model as `text identify` and `serve` take it too: a local Hugging Face folder or a named
# pretrained model (all-MiniLM-L6-v2, ...), which recommend refused ("does not exist", "has no
# siamkit.json") for the galleries those enrolled (s55_R5 finding 4)
@click.command()
@click.argument("model", callback=text_model_folder)
@click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="Gallery of enrolled items (SQLite), e.g. shop.db.",
)
@click.option(
    "--like",
    "likes",
    multiple=True,
    required=True,
    help="A liked item: a label (all its items are liked), or '#ID' for one item (the 'item N' "
    "that identify and recommend print). Repeat for several.",
)
@click.option(
    "--k",
    "k",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many items to list (fewer when fewer are left that are not liked).",
)
@click.option(
    "--per-label",
    is_flag=True,
    help="At most one item per label, its nearest (products rather than their photos); the "
    "labels of the liked items are left out.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_friendly
def recommend(
    model: str,
    gallery_path: str,
    likes: tuple[str, ...],
    k: int,
    per_label: bool,
    as_json: bool,
) -> None:
    """The K gallery items nearest to any liked item (liked ones excluded), nearest first;
    with --per-label, the K nearest labels, each by its nearest item. MODEL is a saved model
    folder, or a text model as `siamkit text identify --model` takes it: a local Hugging Face
    folder or a named model (all-MiniLM-L6-v2, all-mpnet-base-v2).

    \b
    Examples:
      siamkit recommend out/model --gallery shop.db --like item-12 --like item-40 --k 10
      siamkit recommend out/model --gallery shop.db --like '#7' --per-label
    """
    from siamkit.distances import get_distance
    from siamkit.evaluation._common import score_kind
    from siamkit.index.recommend import liked_item_ids
    from siamkit.index.results import UnknownLabelError

    distance = _bundle_made_gallery(model, gallery_path)  # likes need no embedding: no model
    if distance is not None:  # the bundle's files hash to the gallery's fingerprint
        net, kind = None, score_kind(get_distance(distance))
    else:  # a tracker said "unknown distance 'cross_correlation'"
        net = _recommend_model(model, gallery_path)
        kind = _score_kind(net)  # a cohort-normalised model's numbers are no distances
    with _open(gallery_path, net, folder=model) as gallery:  # another model's: names its folder
        if len(gallery) == 0:  # every like is unknown: say why, not which (as identify)
            raise click.ClickException(
                f"{gallery_path} is empty, so there is nothing to recommend: "
                f"{_enroll_first(model, gallery_path)}"
            )
        try:
            ids = liked_item_ids(gallery, list(likes))
        except UnknownLabelError as e:  # a label only: an unknown #ID is refused by recommend
            raise UnknownLabelError(
                f"{e} (for one item, give --like '#ID' with the item N that identify or "
                "recommend print)"
            ) from None
        matches = gallery.recommend(ids, k=k, per_label=per_label)
        sources = gallery.sources([m.item_id for m in matches])  # the file each was enrolled from
    texts = _stored_texts(model, gallery_path, [m.item_id for m in matches])
    docs = [
        {
            "label": m.label,
            "item_id": m.item_id,
            "distance": m.distance,
            "source": sources.get(m.item_id),
        }
        for m in matches
    ]
    said = [""] * len(matches)
    if texts is not None:  # a text gallery's items show what they say, as text identify's do
        from siamkit.cli.text_identify import snippet

        for doc, m in zip(docs, matches):
            doc["text"] = texts.get(m.item_id)
        said = [f"  {snippet(texts.get(m.item_id))}" for m in matches]
    lines = [
        f"{m.label:<32} item {m.item_id:<8} {kind} {m.distance:.4f}{text}"
        + source_note(sources.get(m.item_id))
        for m, text in zip(matches, said)
    ]
    nothing = (
        "every label in the gallery is liked" if per_label else "every item in the gallery is liked"
    )
    text = "\n".join(lines) if lines else f"(nothing to recommend: {nothing})"
    click.echo(json.dumps({"like": list(likes), "items": docs}, indent=2) if as_json else text)


def _recommend_model(folder: str, gallery_path: str) -> Any:
    """The model at ``folder`` as the command that enrolled ``gallery_path`` loaded it: a
    Hugging Face folder as `text enroll` does (:func:`~siamkit.applications.text.
    load_text_model`), a saved model folder as the gallery commands do."""
    from siamkit.encoders.text import is_pretrained_text_folder

    if is_pretrained_text_folder(folder):
        from siamkit.applications.text import load_text_model

        return load_text_model(folder)
    return _load_model(folder, gallery_path)


def _stored_texts(model: str, gallery_path: str, item_ids: list[int]) -> dict[int, str] | None:
    """The texts `siamkit text enroll` kept of ``item_ids`` (an item without one is left out)
    when ``model`` is a text model; ``None`` for any other model (its side file holds
    thumbnails). `recommend` listed a text gallery's items by label alone, where `text
    identify` and the service's `/recommend` show each item's text."""
    from siamkit.cli._model_kind import is_text_model
    from siamkit.encoders.text import is_pretrained_text_folder

    if not is_text_model(model) and not is_pretrained_text_folder(model):
        return None
    from siamkit.cli.text_identify import stored_texts

    return stored_texts(gallery_path, item_ids)


def _enroll_first(model: str, gallery_path: str) -> str:
    """How to fill the empty gallery at ``gallery_path`` for the model folder ``model``: a text
    model's is filled by `siamkit text enroll` (the image command was named for it too)."""
    from siamkit.cli._model_kind import is_text_model
    from siamkit.encoders.text import is_pretrained_text_folder

    if is_text_model(model) or is_pretrained_text_folder(model):
        return (
            f"enroll texts first (siamkit text enroll CORPUS --gallery {gallery_path} "
            f"--model {model})"
        )
    return f"enroll images first (siamkit enroll {model} --gallery {gallery_path} ...)"


def _bundle_made_gallery(model: str, gallery_path: str) -> str | None:
    """The distance of the gallery at ``gallery_path`` when the model folder ``model`` made it,
    told from the folder's files without building the model (a text model took 15 s to build,
    for likes that need no embedding): the fingerprint that :func:`~siamkit.models.fingerprint.
    model_fingerprint` gives the loaded model, hashed from ``siamkit.json``'s model description
    and the weights file's tensors, with its distance and size. ``None`` where that cannot tell
    (another model, a cohort-normalised or learned distance, a two-tower model's gallery that
    does not record its enrolling tower, a kind that fingerprints itself otherwise, files beside
    the weights, a text model's tokenizer, no longer the ones saved, a file that is not a
    model's or a gallery's): the model is then loaded, and refused or used, as before."""
    from safetensors.torch import load_file

    from siamkit.distances import list_distances
    from siamkit.export.bundle import (
        WEIGHTS_FILE,
        extra_files_as_saved,
        read_model_config,
        recover_model_folder,
    )
    from siamkit.index import GalleryStore
    from siamkit.index.provenance import ENROLLED_TOWER_KEY
    from siamkit.models import model_class
    from siamkit.models.fingerprint import fingerprint_of

    try:
        recover_model_folder(model)
        doc = read_model_config(model)
        with GalleryStore(gallery_path, create=False, create_schema=False) as store:
            meta = store.meta()
    except Exception:  # not a model's or a gallery's file: the full load says which
        return None
    config: Any = doc.get("model")
    distance = meta.get("distance")
    two_towers = isinstance(config, dict) and (
        config.get("kind") == "half_twin" or config.get("share_weights") is False
    )
    if (
        not isinstance(config, dict)
        or config.get("kind") == "siamfc"  # a tracker: refused by name
        or config.get("score_norm") is not None
        or (two_towers and ENROLLED_TOWER_KEY not in meta)  # refused: enrolled by query tower
        or distance not in list_distances()
        or distance != doc.get("distance")
        or meta.get("embedding_dim") != str(doc.get("embedding_dim"))
        # a tokenizer/ swapped or edited since the save: siamkit.json's digest of it is not
        # the one loading computes, which may refuse the gallery (s56_R5 finding 1)
        or not extra_files_as_saved(model, doc)
    ):
        return None
    try:  # hash what loading would build from, by each formula the loaded model answers to
        tensors = load_file(str(Path(model) / WEIGHTS_FILE))
        cls = model_class(str(config.get("kind")))
        # a kind that hashes a part of its description (a text model: not its files' place),
        # and its former formulas (TextSiameseNetwork.former_fingerprints'), which a gallery
        # enrolled before them, or by a folder saved before them, records
        describe = getattr(cls, "fingerprint_description", None)
        formers = getattr(cls, "former_descriptions", None)
        if describe is None:  # a kind's only formula
            descriptions = [config]
        else:
            descriptions = [describe(config), *(formers(config) if formers else ())]
        digests = {fingerprint_of(d, tensors) for d in descriptions}
    except Exception:  # unreadable, or no numpy dtype (bfloat16): the full load says
        return None
    return str(distance) if meta.get("model_fingerprint") in digests else None
