"""``siamkit recommend``: more items like the ones a user liked, from a gallery of items.

    siamkit recommend MODEL --gallery shop.db --like item-12 --like item-40 --k 10

Thin shell over :func:`siamkit.index.recommend.liked_item_ids` and :meth:`Gallery.recommend`.
"""

from __future__ import annotations

import json

import click

from siamkit.cli.gallery_cmds import _friendly, _load_model, _open, _score_kind, source_note


@click.command()
@click.argument("model", type=click.Path(exists=True, file_okay=False))
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
    with --per-label, the K nearest labels, each by its nearest item.

    \b
    Examples:
      siamkit recommend out/model --gallery shop.db --like item-12 --like item-40 --k 10
      siamkit recommend out/model --gallery shop.db --like '#7' --per-label
    """
    from siamkit.index.recommend import liked_item_ids
    from siamkit.index.results import UnknownLabelError

    net = _load_model(model, gallery_path)  # a tracker said "unknown distance 'cross_correlation'"
    with _open(gallery_path, net, folder=model) as gallery:  # another model's: names its folder
        if len(gallery) == 0:  # every like is unknown: say why, not which (as identify)
            raise click.ClickException(
                f"{gallery_path} is empty, so there is nothing to recommend: enroll images first "
                f"(siamkit enroll MODEL --gallery {gallery_path} ...)"
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
    docs = [
        {
            "label": m.label,
            "item_id": m.item_id,
            "distance": m.distance,
            "source": sources.get(m.item_id),
        }
        for m in matches
    ]
    kind = _score_kind(net)  # a cohort-normalised model's numbers are no distances (as identify)
    lines = [
        f"{m.label:<32} item {m.item_id:<8} {kind} {m.distance:.4f}"
        + source_note(sources.get(m.item_id))
        for m in matches
    ]
    nothing = (
        "every label in the gallery is liked" if per_label else "every item in the gallery is liked"
    )
    text = "\n".join(lines) if lines else f"(nothing to recommend: {nothing})"
    click.echo(json.dumps({"like": list(likes), "items": docs}, indent=2) if as_json else text)
