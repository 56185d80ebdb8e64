"""One class walk for training and ``siamkit enroll FOLDER`` (walk_classes): the same images per
class, the same links, unreadable folders and shared files left out and named (reviewer s53_FB
findings 2 and 3, and the hard links s53_c6 left)."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from siamkit.cli._enroll import group_images
from siamkit.data.folders import (
    ImageFolderDataset,
    LeftOutFilesWarning,
    UnreadableFolderError,
    list_images,
    walk_classes,
)


def _images(root: Path, *rels: str) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 100).save(root / rel)


def _per_class(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """``(training's files per class, enroll's files per label, enroll's left-out notes)``;
    enroll says training's warnings, as ``warning:`` lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageFolderDataset(root, (1, 8, 8))
    trained: dict[str, list[str]] = {}
    for p, y in data.samples:
        trained.setdefault(data.classes[y], []).append(p.relative_to(root).as_posix())
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        groups = group_images([str(root)], None)
    enrolled = {k: [p.relative_to(root).as_posix() for p in v] for k, v in groups.items()}
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutFilesWarning)]
    said = [line[len("warning: ") :] for line in capsys.readouterr().err.splitlines()]
    assert said == notes  # the same sentences name what each leaves out
    return trained, enrolled, said


def _real_files(root: Path, *classes: str) -> dict[str, list[str]]:
    """The reference: each class's files as os.walk lists its real folder, no link followed."""
    return {
        c: sorted(
            os.path.relpath(os.path.join(w, f), root)
            for w, _, fs in os.walk(root / c)
            for f in fs
            if not os.path.islink(os.path.join(w, f))
        )
        for c in classes
    }


@pytest.mark.parametrize(
    ("link", "target", "named"),
    [
        ("alice/bob", "../bob", "left out the folder"),  # a folder link into another label
        ("alice/x.png", "../bob/1.png", "left out the file"),  # a file link into another label
        ("bobby", "bob", "left out the class folder"),  # a label folder that is another's link
    ],
)
def test_enroll_and_training_list_the_same_files_per_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str, target: str, named: str
) -> None:
    """siamkit enroll FOLDER had none of the class-link rules (reviewer s53_FB finding 2):
    alice/bob -> ../bob enrolled Bob's photos under Alice too, without a word. Enroll now lists
    through training's walk: the same files per class as training, each the real folder's
    (os.walk, no link followed), and the same sentence names the link."""
    root = tmp_path / "staff"
    _images(root, "alice/0.png", "bob/1.png", "bob/2.png")
    os.symlink(target, root / link)
    trained, enrolled, notes = _per_class(root, capsys)
    assert enrolled == trained == _real_files(root, "alice", "bob")
    assert len(notes) == 1 and notes[0].startswith(f"{named} {root / link}: "), notes


def test_a_hard_link_into_another_class_is_left_out_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hard link in bob to a photo of alice was read into both classes (reviewer s53_c6 left
    it: no cheap way to see it). The walk stats each file anyway; its (st_dev, st_ino) finds
    the file another class holds, kept in the first class by name and left out of the later
    one, named. Two links from both classes to one photo outside are the same case. A hard link
    within one class is not the classes' confusion and is kept (control)."""
    root, archive = tmp_path / "staff", tmp_path / "archive"
    _images(root, "alice/0.png", "bob/1.png")
    _images(archive, "9.png")
    os.link(root / "alice" / "0.png", root / "bob" / "0.png")
    os.link(root / "bob" / "1.png", root / "bob" / "1b.png")
    os.symlink(archive / "9.png", root / "alice" / "9.png")
    os.symlink(archive / "9.png", root / "bob" / "9.png")
    trained, enrolled, notes = _per_class(root, capsys)
    want = {"alice": ["alice/0.png", "alice/9.png"], "bob": ["bob/1.png", "bob/1b.png"]}
    assert enrolled == trained == want
    assert notes == [
        f"left out 2 files that are files of another class too (hard links, or links to the same "
        f"files), e.g. {root / 'bob' / '0.png'}, {root / 'bob' / '9.png'}: their images would "
        "count as two classes; copy them to include them in both, or remove the links"
    ]


def _refusing(real: Callable[..., object], refused: Callable[[str], bool]) -> object:
    """``real`` (os.stat, os.lstat, os.scandir) raising PermissionError for ``refused``'s
    paths: this machine runs as root, so chmod does not bite and the refusal is simulated."""

    def call(path: object, *args: object, **kwargs: object) -> object:
        if refused(os.fspath(path)):  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
        return real(path, *args, **kwargs)

    return call


def _cannot_enter(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` of mode r-- (another user's 0744 folder): its names can be listed, nothing in
    it can be stat'ed or listed (simulated: this machine runs as root, so chmod does not bite;
    os.lstat, os.stat and os.scandir refuse what lies below it, as the kernel does)."""
    below = lambda p: p.startswith(str(folder) + os.sep)  # noqa: E731
    monkeypatch.setattr(os, "lstat", _refusing(os.lstat, below))
    monkeypatch.setattr(os, "stat", _refusing(os.stat, below))
    monkeypatch.setattr(os, "scandir", _refusing(os.scandir, below))


def test_a_folder_that_can_be_listed_but_not_entered_is_left_out_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Permission denied had two outcomes (reviewer s53_FB finding 3): a folder that cannot be
    listed was left out with a warning, one that can be listed but not entered (r without x)
    refused the whole data set from _is_file. One rule now: it is left out and named once (its
    sub-folders, which cannot be listed either, with it), the other classes are read, and a
    class folder left with no images is not said to hold none. Enroll reads the same."""
    root = tmp_path / "staff"
    _images(root, "alice/0.png", "alice/2019/1.png", "alice/2019/deep/2.png", "bob/3.png")
    _images(root, "carol/4.png", "carol/sub/5.png")
    _cannot_enter(monkeypatch, root / "alice" / "2019")
    _cannot_enter(monkeypatch, root / "carol")
    trained, enrolled, notes = _per_class(root, capsys)
    assert enrolled == trained == {"alice": ["alice/0.png"], "bob": ["bob/3.png"]}
    assert sorted(notes) == [
        f"left out the folder {root / folder}: it cannot be read (permission denied); give "
        "read access to it to include its images"
        for folder in ("alice/2019", "carol")
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        walk = walk_classes(root)
    assert walk.unread == [root / "carol"] and walk.empty == []
    assert not [w for w in caught if "holds no images" in str(w.message)]


def test_list_images_leaves_out_and_names_a_file_it_cannot_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list_images (Omniglot's characters, a folder of loose images) raised a bare
    PermissionError on a link it cannot stat (/proc/1/cwd, as another user): the same rule as
    the walk now, the file is left out and named; a folder none of whose files can be stat'ed
    (r--) is named as the folder, and one that cannot be listed too. Simulated: root reads all."""
    folder = tmp_path / "chars"
    _images(folder, "0.png", "1.png")
    os.symlink("/proc/1/cwd", folder / "cwd")
    refused = str(folder / "cwd")
    monkeypatch.setattr(os, "stat", _refusing(os.stat, lambda p: p == refused))
    with pytest.warns(LeftOutFilesWarning) as got:
        assert list_images(folder) == [folder / "0.png", folder / "1.png"]
    assert [str(w.message) for w in got] == [
        f"left out the file {refused}: it cannot be read (permission denied); give read access "
        "to it to include it"
    ]
    monkeypatch.undo()
    _cannot_enter(monkeypatch, folder)
    with pytest.warns(LeftOutFilesWarning, match=f"left out the folder {folder}: it cannot be"):
        assert list_images(folder) == []
    monkeypatch.undo()
    monkeypatch.setattr(os, "scandir", _refusing(os.scandir, lambda p: p == str(folder)))
    monkeypatch.setattr(os, "listdir", _refusing(os.listdir, lambda p: p == str(folder)))
    with pytest.warns(LeftOutFilesWarning, match=f"left out the folder {folder}: it cannot be"):
        assert list_images(folder) == []


def test_a_data_set_folder_that_cannot_be_read_is_refused_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data set's own folder that cannot be listed (or entered) ended in a bare
    PermissionError: a traceback from training, and from siamkit enroll "the gallery file
    cannot be used", false. It is refused in one sentence naming the folder, a ValueError too,
    so each command's handler says it. Simulated: this machine runs as root, chmod does not
    bite; os.listdir and os.scandir refuse it (or os.stat whatever is in it)."""
    root = tmp_path / "staff"
    _images(root, "alice/0.png", "bob/1.png")
    want = re.escape(f"cannot read the folder {root} (permission denied): give read access to it")
    for patch in ("listdir", "stat"):
        monkeypatch.undo()
        if patch == "listdir":
            for name in ("listdir", "scandir"):
                refused = _refusing(getattr(os, name), lambda p: p == str(root))
                monkeypatch.setattr(os, name, refused)
        else:
            _cannot_enter(monkeypatch, root)
        with pytest.raises(UnreadableFolderError, match=want) as err:
            ImageFolderDataset(root, (1, 8, 8))
        assert isinstance(err.value, ValueError) and isinstance(err.value, PermissionError)
        with pytest.raises(UnreadableFolderError, match=want):
            group_images([str(root)], None)
