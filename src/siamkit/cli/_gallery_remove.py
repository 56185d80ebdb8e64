"""``siamkit gallery GALLERY remove --id 57``: remove single items by the #ID that identify,
recommend, the service and its pages show, not only a whole label."""

from __future__ import annotations

import re
from typing import Any

import click

from siamkit.clauses import counted, in_number

ID_HELP = (
    "Remove only the item of this id (the #ID identify --json, recommend, the service and its "
    "pages show; 57 or #57), instead of a whole LABEL; repeat for several. All or none: an id "
    "not in the gallery removes nothing."
)


class ItemId(click.ParamType):
    """An item id on the command line: ``57`` or ``#57``, as the pages and recommend write it."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if not re.fullmatch(r"#?[0-9]+", text):
            self.fail(
                f"{value!r} is not an item id: give its number, such as 57 (the #57 that "
                "identify and the service's pages show)",
                param,
                ctx,
            )
        return int(text.removeprefix("#"))


def removal_target(label: str | None, item_ids: tuple[int, ...]) -> None:
    """Refuse ``gallery remove`` given both a LABEL and ``--id``, or neither, in one sentence."""
    if label is not None and item_ids:
        raise click.UsageError(
            f"give either a LABEL to remove it whole or --id for single items, not both "
            f"({label!r} and --id {item_ids[0]})"
        )
    if label is None and not item_ids:
        raise click.UsageError(
            "give the LABEL to remove with all its items, or --id ID for a single item"
        )


def remove_whole_label(gallery: Any, path: str, label: str) -> int:
    """Remove ``label`` with all its items from the open ``gallery``; returns how many. A
    ``#57`` that is no label is told to use ``--id 57``: that is how an item is named, and no
    label may be written so (:func:`~siamkit.index.store.looks_like_item_id`)."""
    from siamkit.index.results import UnknownLabelError
    from siamkit.index.store import looks_like_item_id

    try:
        return int(gallery.remove(label))
    except UnknownLabelError:
        if not looks_like_item_id(label):
            raise
    n = int(label[1:])
    raise click.ClickException(
        f"label {label!r} is not in the gallery; to remove the item {label}, give its id "
        f"with --id: siamkit gallery {path} remove --id {n}"
    )


def remove_items_report(gallery: Any, item_ids: tuple[int, ...]) -> tuple[dict[str, Any], str]:
    """Remove ``item_ids`` from the open ``gallery`` (one transaction, with their thumbnails);
    returns the ``--json`` document and the text line. Labels left without items are named: they
    are no longer in the gallery."""
    removed: dict[int, str] = gallery.remove_items(item_ids)
    per_label: dict[str, int] = {}
    for label in removed.values():
        per_label[label] = per_label.get(label, 0) + 1
    gone = [label for label in per_label if label not in gallery]
    doc = {
        "item_ids": list(removed),
        "removed": len(removed),
        "labels": per_label,
        "labels_gone": gone,
    }
    items = ", ".join(f"#{i} ({label!r})" for i, label in removed.items())
    text = f"removed {counted(len(removed), 'item')}: {items}"
    if gone:
        names = ", ".join(repr(label) for label in gone)
        verb = in_number(len(gone), "is", "are")
        text += f"; {names} had no other items and {verb} no longer in the gallery"
    return doc, text
