"""A gallery file as a whole, beside what :class:`~siamkit.index.store.GalleryStore` does in it:
remove one that a first enrollment created and stopped before filling (:func:`remove_if_unused`),
check one (:func:`check_gallery_file`: SQLite's integrity check, every stored embedding's size and
values, the model that made it), back one up (:func:`backup_gallery_file`: SQLite's online backup
API, safe while the service or an enrollment writes to it).

Only the standard library and numpy, as :mod:`siamkit.index.store`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from siamkit.atomic import atomic_path, check_writable_file, same_file
from siamkit.clauses import counted, in_number, listing
from siamkit.index.provenance import check_enrolled_tower, check_same_model
from siamkit.index.store import (
    existing_store_problem,
    recorded_size,
    schema_problem,
    unreadable_size_problem,
    unsized_problem,
)
from siamkit.index.thumbnail_store import thumbnails_path_for

#: The files SQLite keeps beside a database: its write-ahead log, the log's shared-memory
#: index, and the rollback journal
_BESIDE = ("-wal", "-shm", "-journal")
#: The tables :func:`remove_if_unused` may count (its SQL names one; never a caller's text)
_COUNTED = frozenset({"items", "thumbnails"})
_SHOWN = 3  # items named in a problem's sentence, the rest counted
_IN_COMMAND = 20  # ids in a problem's remove command; --json lists every one (bad_item_ids)


def _has_rows(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``table`` (one of :data:`_COUNTED`) exists and holds a row."""
    if table not in _COUNTED:
        raise ValueError(f"cannot count the rows of {table!r}")
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
    if found.fetchone() is None:
        return False
    return conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None


def remove_if_unused(path: str | Path, table: str = "items", *, emptied: bool = False) -> bool:
    """Remove the SQLite file ``path`` and SQLite's files beside it when its ``table``
    (``"items"`` of a gallery, ``"thumbnails"`` of its side file) holds no row, or does not
    exist yet, and no other connection has the file open; returns whether it was removed.
    ``emptied``: cut ``path`` back to 0 bytes instead of deleting it (a file the user made
    with ``touch``, which keeps its owner and mode; SQLite reads a 0-byte file as a new one).

    For a file that a command created and then stopped before it stored anything there (a first
    ``siamkit enroll`` interrupted while it embeds the images), so that no empty gallery made
    for one model is left behind to refuse the next one, or to read as a gallery. A file that
    another process has open (it may be enrolling into it) is left alone: SQLite lets a
    connection take a file out of WAL mode only while it is the file's only one, and the rows
    are counted again under an exclusive lock just before the files are removed. A file that is
    no SQLite database, or that cannot be deleted, is left as it is (never an error: it runs
    while another error, or Ctrl-C, is on its way out).
    """
    file = Path(path)
    if not file.is_file():
        return False
    try:  # a file that SQLite cannot open is left too, so that the caller's error stays
        conn = sqlite3.connect(str(file), isolation_level=None, timeout=0)
    except sqlite3.Error:
        return False
    try:
        if _has_rows(conn, table):
            return False
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        if mode is None or str(mode[0]).lower() != "delete":  # another connection has it open
            return False
        conn.execute("BEGIN EXCLUSIVE")
        try:
            if _has_rows(conn, table):
                return False
            if emptied:
                os.truncate(file, 0)
            else:
                file.unlink(missing_ok=True)
            for name in (Path(f"{file}{end}") for end in _BESIDE):
                name.unlink(missing_ok=True)
        finally:
            conn.execute("ROLLBACK")
        return True
    except sqlite3.Error:  # locked by another process, or not a database: left as it is
        return False
    except OSError:  # cannot be deleted (a read-only folder): kept, and the caller's error stays
        return False
    finally:
        conn.close()


@dataclass(frozen=True)
class GalleryCheck:
    """What :func:`check_gallery_file` found in a gallery file.

    Attributes:
        path: the file checked.
        integrity: SQLite's ``PRAGMA integrity_check`` answer, ``"ok"`` for a sound file.
        num_items, num_labels: what the gallery holds (0 where it could not be read).
        embedding_dim, distance, model_fingerprint: what its meta records (None if nothing).
        problems: one sentence per thing wrong, each naming what to do; empty when all is well.
        orphan_thumbnails: the thumbnails or text previews in its side file (``PATH.thumbs``)
            that belong to no item: written for an enrollment stopped before its commit (or
            one under way now), above every item id handed out, and those of items removed
            since (under ids handed out; a note says which are which).
        notes: a sentence per thing to know that is not wrong (the orphan thumbnails, and how
            they go); empty when there is none.
        bad_item_ids: the ids of every item whose embedding is of the wrong size or not
            finite, in order (a problem's remove command names the first 20 of them).
    """

    path: str
    integrity: str
    num_items: int = 0
    num_labels: int = 0
    embedding_dim: int | None = None
    distance: str | None = None
    model_fingerprint: str | None = None
    problems: tuple[str, ...] = ()
    orphan_thumbnails: int = 0
    notes: tuple[str, ...] = ()
    bad_item_ids: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


@dataclass
class _Findings:
    """:class:`GalleryCheck` while it is found out."""

    path: str
    integrity: str = "not checked"
    counts: tuple[int, int] = (0, 0)
    meta: dict[str, str] = field(default_factory=dict)
    dim: int | None = None
    problems: list[str] = field(default_factory=list)
    orphans: int = 0
    notes: list[str] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)

    def result(self) -> GalleryCheck:
        return GalleryCheck(
            self.path,
            self.integrity,
            *self.counts,
            embedding_dim=self.dim,
            distance=self.meta.get("distance"),
            model_fingerprint=self.meta.get("model_fingerprint"),
            problems=tuple(self.problems),
            orphan_thumbnails=self.orphans,
            notes=tuple(self.notes),
            bad_item_ids=tuple(sorted(self.bad)),
        )


def _existing_file(path: str | Path, what: str) -> Path:
    """``path`` when it is a gallery file to read; else one sentence naming what it is."""
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{what} {file} is a folder; a gallery is a single file, e.g. staff.db")
    problem = existing_store_problem(file)
    if problem == "missing":
        raise FileNotFoundError(f"no gallery at {file}; check the path")
    if problem == "empty":
        raise ValueError(f"{file} is empty (0 bytes), not a gallery; there is nothing in it")
    return file


def check_gallery_file(
    path: str | Path, wanted: Mapping[str, str] | None = None, model: Any = None
) -> GalleryCheck:
    """Check the gallery file ``path``: SQLite's integrity check, the gallery's tables and meta,
    the number of items and labels, and that every stored embedding has the recorded dimension
    and only finite values (a NaN or infinite one matches nothing, or everything). ``wanted``:
    the meta a model's gallery must have (:func:`~siamkit.index.provenance.wanted_meta`), to
    check also that this model made it (its fingerprint, distance and embedding size);
    ``model``, the model ``wanted`` describes, as Gallery.open checks it (a fingerprint it
    had by a former formula is its own too). The
    thumbnail file beside it (``path.thumbs``) gets SQLite's integrity check: damaged, or no
    thumbnail file, it is a problem too (the gallery itself may be sound).

    The file is only read. Returns what was found; its ``problems`` say what is wrong.

    Raises:
        FileNotFoundError, ValueError: no file, a folder, or a 0-byte file at ``path``.

    >>> check_gallery_file("staff.db").ok  # doctest: +SKIP
    True
    """
    file = _existing_file(path, "the gallery")
    found = _Findings(str(file))
    conn = sqlite3.connect(str(file), isolation_level=None, timeout=30.0)
    try:
        _check_open_file(conn, file, found, wanted, model)
    except sqlite3.DatabaseError as err:  # a damaged header, schema or table
        if found.integrity not in ("ok", "not checked"):
            return found.result()  # the integrity check's sentence says it already
        if found.integrity == "not checked":
            found.integrity = str(err)
        found.problems.append(
            f"{file} cannot be read as a gallery ({err}): it is damaged or no SQLite file; "
            "restore it from a backup, or enroll its images again into a new gallery file"
        )
    finally:
        conn.close()
    return found.result()


def _check_open_file(
    conn: sqlite3.Connection,
    file: Path,
    found: _Findings,
    wanted: Mapping[str, str] | None,
    model: Any = None,
) -> None:
    """The checks of :func:`check_gallery_file` on its open connection, into ``found``."""
    rows = conn.execute("PRAGMA integrity_check(10)")
    messages = [m for r in rows for m in str(r[0]).splitlines() if not m.startswith("*** ")]
    found.integrity = "; ".join(messages)
    if messages != ["ok"]:
        first = listing(messages, 1)
        found.problems.append(
            f"SQLite's integrity check finds {file} damaged ({first}): restore it "
            "from a backup, or enroll its images again into a new gallery file"
        )
    not_gallery = _not_a_gallery(conn, file)
    if not_gallery is not None:
        found.problems.append(not_gallery)
        return
    found.meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    row = conn.execute("SELECT COUNT(*), COUNT(DISTINCT label) FROM items").fetchone()
    found.counts = (int(row[0]), int(row[1]))
    other_schema = schema_problem(file, found.meta.get("schema_version"))
    if other_schema is not None:  # the open refuses it: no siamkit command here can use it
        found.problems.append(other_schema)
        found.dim = recorded_size(found.meta)  # still shown, as the counts are
        return
    found.dim = recorded_size(found.meta)
    if found.dim is None:
        if found.counts[0]:
            # the store's refusal of it, in its words: "never opened with a model" was false
            # for items another program or an old siamkit wrote, and named no command (s54_FA),
            # whatever the value that is no size: no number (s55_R2 finding 6), or '0', which
            # called every item "not 0 float32 values" and advised removing them all
            found.problems.append(unsized_problem(file, found.meta.get("embedding_dim")))
            return
        if "embedding_dim" in found.meta:  # opened with a model; its size changed since
            found.problems.append(unreadable_size_problem(file, found.meta["embedding_dim"]))
            return
        found.problems.append(
            f"{file} records no embedding size (its meta embedding_dim is "
            f"{found.meta.get('embedding_dim')!r}); it was never opened with a model, so enroll "
            "into a new gallery file"
        )
        return
    found.bad = _check_embeddings(conn, file, found.dim, found.problems)
    if wanted is not None:
        _check_model(found, file, wanted, model)
    _count_orphan_thumbnails(conn, file, found)


def _last_item_id(conn: sqlite3.Connection) -> int:
    """The largest item id ever handed out and committed (an AUTOINCREMENT's sequence, which
    an enrollment killed before its commit leaves where it was); 0 when none was."""
    seq = 0
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'").fetchone():
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='items'").fetchone()
        seq = int(row[0]) if row is not None and row[0] is not None else 0
    top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]
    return max(seq, int(top))


def _count_orphan_thumbnails(conn: sqlite3.Connection, file: Path, found: _Findings) -> None:
    """Count the thumbnails (a text's previews) beside the gallery that belong to no item, and
    say what they are. Those above every item id handed out were written for an enrollment
    stopped before its commit (or one under way now): the next enrollment that stores an item
    deletes them (:func:`~siamkit.index.thumbnail_store.remove_thumbnails_from`). Those at or
    below it are of items removed: an image's thumbnail is kept just after its enrollment's
    commit and its items read back, deleting those a removal took in between
    (:meth:`~siamkit.index.thumbnail_store.ThumbnailStore.put_enrolled_live`), so one is left
    only by a kill between the two, an older siamkit, or items deleted by hand; their ids are
    never handed out again, so no enrollment deletes them. Only read, never deleted here: an
    enrollment under way writes its previews just before its commit.

    A side file that SQLite's integrity check finds damaged, or that is no thumbnail file (no
    database, another program's tables), is a problem: every command and every request of the
    service that shows or deletes thumbnails is refused for it, and the check said "ok". One
    that cannot be read now (a lock held) is left to the commands that use it."""
    thumbs = Path(thumbnails_path_for(file))
    if not thumbs.is_file():
        return
    last = _last_item_id(conn)
    try:
        # only SELECTs, on the gallery's connection with the side file attached, so both counts
        # come from one statement and the two files are read as they are at one moment (a
        # removal deletes the thumbnails first, so none of an item being removed is counted)
        try:
            conn.execute("ATTACH DATABASE ? AS side", (str(thumbs),))
        except sqlite3.OperationalError:
            raise  # a lock held: left to the commands that use the file
        except sqlite3.DatabaseError as err:  # no database at all; nothing was attached
            found.problems.append(_not_thumbnails(thumbs, str(err)))
            return
        try:
            tables = _sound_side_file(conn, thumbs, found)
            if tables is None or "thumbnails" not in tables:
                return
            row = conn.execute(
                "SELECT COALESCE(SUM(item_id > ?1), 0), COALESCE(SUM(item_id <= ?1 AND NOT EXISTS"
                " (SELECT 1 FROM main.items WHERE main.items.id = side.thumbnails.item_id)), 0)"
                " FROM side.thumbnails",
                (last,),
            )
            above, removed = (int(n) for n in row.fetchone())
        finally:
            conn.execute("DETACH DATABASE side")
    except sqlite3.Error:
        return
    found.orphans = above + removed
    if above:
        found.notes.append(
            f"{thumbs} holds {counted(above, 'thumbnail')} or text "
            f"{in_number(above, 'preview')} of no item, written "
            "for an enrollment stopped before its commit (or for one under way now); the next "
            f"enrollment into {file} that stores an item deletes them"
        )
    if removed:
        found.notes.append(
            f"{thumbs} holds {counted(removed, 'thumbnail')} or text "
            f"{in_number(removed, 'preview')} of items no longer in "
            f"{file} (an enrollment killed while keeping them, items removed by an older "
            "siamkit, or by hand); no enrollment deletes them, as their ids are never handed "
            "out again"
        )


def _not_thumbnails(thumbs: Path, why: str) -> str:
    """The problem of a file at the thumbnail path that is none (as ThumbnailStore refuses it)."""
    return (
        f"{thumbs}, at the path where the gallery keeps its thumbnails, is not a siamkit "
        f"thumbnail file ({why}); the gallery is not in it: move or rename it, and a new one is "
        "made there at the next enrollment or start of the service (without the thumbnails of "
        "the items enrolled so far)"
    )


def _sound_side_file(conn: sqlite3.Connection, thumbs: Path, found: _Findings) -> set[str] | None:
    """The tables of the side file ``thumbs`` attached as ``side``; None, with a problem in
    ``found``, when SQLite's integrity check finds it damaged (its "malformed" raised by the
    check too) or it holds other tables than ``thumbnails``. A lock held is raised as it is.
    The integrity check, not the quick one: only it sees an index out of step with its table
    (``thumbnails_label``), which the listings read and then refuse; it costs about the same."""
    try:
        rows = conn.execute("PRAGMA side.integrity_check(10)").fetchall()
        messages = [m for r in rows for m in str(r[0]).splitlines() if not m.startswith("*** ")]
        if messages == ["ok"]:
            named = conn.execute("SELECT name FROM side.sqlite_master WHERE type='table'")
            tables = {r[0] for r in named}
            if not tables - {"thumbnails"}:
                return tables
            found.problems.append(_not_thumbnails(thumbs, f"it has other tables: {sorted(tables)}"))
            return None
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as err:
        messages = [str(err)]
    first = listing(messages, 1)
    found.problems.append(
        f"SQLite's integrity check finds {thumbs}, the thumbnail file beside the gallery, damaged "
        f"({first}): the gallery's items are not in it, only their thumbnails (a "
        "text's first characters), yet the service and the commands that show or delete them "
        "refuse while it is so: restore it from a backup, or move it aside (a new one is made "
        "there, without the thumbnails of the items enrolled so far)"
    )
    return None


def _not_a_gallery(conn: sqlite3.Connection, file: Path) -> str | None:
    """Why the SQLite file ``file`` open on ``conn`` is no siamkit gallery; None when it is one
    (it has the ``meta`` and ``items`` tables)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if {"meta", "items"} <= tables:
        return None
    return (
        f"{file} is an SQLite file but no siamkit gallery (its tables: "
        f"{sorted(tables) or 'none'}); give the gallery file that `siamkit enroll` made"
    )


def _check_embeddings(
    conn: sqlite3.Connection, file: Path, dim: int, problems: list[str]
) -> list[int]:
    """Every item's embedding is ``dim`` little-endian float32 values, all finite; returns the
    ids of those that are not."""
    wrong: list[tuple[int, str]] = []  # (id, label) of every one: --json names all
    bad: list[tuple[int, str]] = []
    rows = conn.execute("SELECT id, label, embedding FROM items ORDER BY id")
    while chunk := rows.fetchmany(4096):
        fits = [isinstance(r[2], bytes) and len(r[2]) == 4 * dim for r in chunk]
        sized = [r for r, ok in zip(chunk, fits) if ok]
        wrong += [(r[0], r[1]) for r, ok in zip(chunk, fits) if not ok]
        if not sized:
            continue
        x = np.frombuffer(b"".join(r[2] for r in sized), dtype="<f4").reshape(len(sized), dim)
        bad += [(sized[i][0], sized[i][1]) for i in np.flatnonzero(~np.isfinite(x).all(axis=1))]
    if wrong:
        problems.append(
            f"{file} has {counted(len(wrong), 'embedding')} that "
            f"{in_number(len(wrong), 'is', 'are')} not {dim} float32 values, the "
            f"size it records: {_named(wrong)}; {_fix(file, wrong)}"
        )
    if bad:
        problems.append(
            f"{file} has {counted(len(bad), 'embedding')} with NaN or infinite values, which no "
            f"search can rank: {_named(bad)}; {_fix(file, bad)}"
        )
    return [i for i, _ in wrong + bad]


def _named(items: list[tuple[int, str]]) -> str:
    """``item 3 ('alice'), item 9 ('bob') and 4 more``: the first :data:`_SHOWN`, the rest counted."""
    return listing((f"item {i} ({label!r})" for i, label in items), limit=_SHOWN)


def _fix(file: Path, items: list[tuple[int, str]]) -> str:
    """What to do with the bad ``(id, label)`` items: remove them by id (their labels keep the
    rest); the command names up to :data:`_IN_COMMAND` of them, also those the sentence only
    counts, and past that says where every id is listed (thousands of ``--id`` were a wall)."""
    each = " ".join(f"--id {i}" for i, _ in items[:_IN_COMMAND])
    command = f"`siamkit gallery {file} remove {each}`"
    if len(items) <= _IN_COMMAND:
        return f"remove them ({command}) and enroll them again"
    return (
        f"remove them ({command} removes the first {_IN_COMMAND}; `siamkit gallery {file} "
        "check --json` lists every bad item's id under bad_item_ids) and enroll them again"
    )


def _check_model(
    found: _Findings, file: Path, wanted: Mapping[str, str], model: Any = None
) -> None:
    """What :meth:`Gallery.open <siamkit.index.gallery.Gallery.open>` checks before the model
    that ``wanted`` describes opens the gallery (the same functions), as problems. A gallery
    that holds no item takes any model (its enrollment records it): nothing to compare."""
    meta = {"model_fingerprint": "none", "distance": "none", **found.meta}  # a damaged meta too
    try:
        if found.counts[0]:
            check_same_model(file, meta, wanted, model)
        check_enrolled_tower(file, meta, wanted, found.counts[0])
    except ValueError as err:  # GalleryMismatchError is one
        found.problems.append(str(err))


class BackupExistsError(ValueError):
    """:func:`backup_gallery_file` without ``force`` found its target (``path``) there already;
    the CLI says ``--force`` where this says ``force=True``."""

    def __init__(self, path: Path, force: str = "force=True") -> None:
        super().__init__(f"{path} already exists; give another path, or {force} to overwrite it")
        self.path = path


class GalleryBackup(NamedTuple):
    """What :func:`backup_gallery_file` wrote: the copy ``out``, the items and labels it holds,
    and its thumbnail side file (``OUT.thumbs``), None when the gallery has none."""

    out: str
    num_items: int
    num_labels: int
    thumbnails: str | None


#: The endings of the files a gallery keeps beside it (as ``staff.db`` + ending), and what each is
_SIDES = (
    (".thumbs", "the gallery's thumbnail file, where it keeps its items' thumbnails"),
    *((end, "a file SQLite keeps beside the gallery") for end in _BESIDE),
    *(
        (f".thumbs{end}", "a file SQLite keeps beside the gallery's thumbnail file")
        for end in _BESIDE
    ),
)


def _part_of_gallery(target: Path, src: Path) -> str | None:
    """What ``target`` is of the gallery ``src`` (the gallery itself, or one of the files it
    keeps beside it), under any spelling of either; None when it is none of them.

    Those files are named after the path the gallery is opened by: through a symlink
    ``link.db -> data/staff.db``, the service started with ``link.db`` keeps its thumbnails in
    ``link.db.thumbs`` while SQLite keeps its log at ``data/staff.db-wal``. So ``target`` is
    one when, less its ending, it names the gallery (a symlink, a hard link, ``..``); or when
    it is the same file as one named after ``src`` as given or resolved (a link to it).
    """
    if same_file(target, src):
        return "the gallery itself"
    name = str(target)
    for end, what in _SIDES:
        if name.endswith(end) and same_file(name[: -len(end)], src):
            return what
    for base in (src, src.resolve()):
        for end, what in _SIDES:
            if same_file(f"{base}{end}", target):
                return what
    return None


def backup_targets(path: str | Path, out: str | Path) -> tuple[Path, Path, Path, Path]:
    """``(gallery, its thumbnails, out, out's thumbnails)`` of a backup of ``path`` to ``out``,
    checked: the gallery is a file, ``out`` is another file in a folder this user can write,
    and neither ``out`` nor a file the backup writes or deletes beside it is the gallery or
    one of its files (:func:`_part_of_gallery`)."""
    src = _existing_file(path, "the gallery")
    dest = Path(out)
    src_thumbs, dest_thumbs = Path(thumbnails_path_for(src)), Path(thumbnails_path_for(dest))
    # the gallery's side file, and SQLite's files beside either: a backup written there (with
    # force, as its "already exists" refusal advised) replaced the gallery's thumbnails by a
    # copy of the gallery, or the log of committed enrollments; a symlinked spelling of the
    # gallery got past a check of the names as spelled
    what = _part_of_gallery(dest, src)
    if what is not None:
        raise ValueError(f"{dest} is {what}; give another path for the backup")
    # and what the backup writes or deletes beside out: for a gallery named staff.thumbs, a
    # backup to staff wrote staff.thumbs (or deleted it, the gallery having no side file)
    for name in (dest_thumbs, *(Path(f"{n}{end}") for n in (dest, dest_thumbs) for end in _BESIDE)):
        what = _part_of_gallery(name, src)
        if what is not None:
            raise ValueError(
                f"the backup {dest} would write or delete {name} beside it, which is {what}; "
                "give another path for the backup"
            )
    check_writable_file(dest, f"the backup {dest}")
    return src, src_thumbs, dest, dest_thumbs


def backup_gallery_file(
    path: str | Path, out: str | Path, *, force: bool = False, timeout: float = 30.0
) -> GalleryBackup:
    """Copy the gallery file ``path`` to ``out`` with SQLite's online backup API: one
    consistent snapshot of what was committed (an enrollment under way is not in it, nor half
    in it), safe while the service or an enrollment has the gallery open. Its thumbnail side
    file (``GALLERY.thumbs``) is copied too, to ``OUT.thumbs``, after the gallery (it may hold
    thumbnails of items enrolled meanwhile; the next enrollment into the copy drops those).

    Each copy is written under a temporary name beside ``out`` and renamed when both are
    complete, so no half-written backup is left under its name.

    Args:
        path: the gallery file.
        out: the backup's file name.
        force: overwrite ``out`` (and ``OUT.thumbs``; an ``OUT.thumbs`` the gallery has no
            counterpart of is removed, as its thumbnails belong to the old file). Stop whatever
            uses ``out`` first.
        timeout: seconds to wait while another process holds a lock the copy needs.

    Raises:
        FileNotFoundError, ValueError: no gallery at ``path``; ``out`` is the gallery, a
            folder, or in a folder this user cannot write; :class:`BackupExistsError` (a
            ``ValueError``): ``out`` or ``OUT.thumbs`` exists without ``force``.

    >>> backup_gallery_file("staff.db", "backups/staff-monday.db").num_items  # doctest: +SKIP
    40
    """
    src, src_thumbs, dest, dest_thumbs = backup_targets(path, out)
    there = [p for p in (dest, dest_thumbs) if p.exists()]
    if there and not force:
        raise BackupExistsError(there[0])
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(dest))
        counts = _copy(src, tmp, timeout, gallery=True)
        thumbs = None
        if src_thumbs.is_file():
            _copy(src_thumbs, stack.enter_context(atomic_path(dest_thumbs)), timeout)
            thumbs = str(dest_thumbs)
        elif dest_thumbs.exists():  # force: the old backup's thumbnails are not this one's
            dest_thumbs.unlink()
        for name in (dest, dest_thumbs):  # force: an old file's log must not be replayed on it
            for end in _BESIDE:
                Path(f"{name}{end}").unlink(missing_ok=True)
    return GalleryBackup(str(dest), *counts, thumbs)


def _copy(src: Path, tmp: Path, timeout: float, gallery: bool = False) -> tuple[int, int]:
    """SQLite's backup of ``src`` into the new file ``tmp``; for a gallery, checks that it is
    one and returns its ``(items, labels)`` as copied."""
    with contextlib.closing(
        sqlite3.connect(str(src), isolation_level=None, timeout=timeout)
    ) as source:
        not_gallery = _not_a_gallery(source, src) if gallery else None
        if not_gallery is not None:
            raise ValueError(not_gallery)
        with contextlib.closing(sqlite3.connect(str(tmp), isolation_level=None)) as copy:
            source.backup(copy)  # every page in one step: one snapshot
            if not gallery:
                return 0, 0
            row = copy.execute("SELECT COUNT(*), COUNT(DISTINCT label) FROM items").fetchone()
            return int(row[0]), int(row[1])
