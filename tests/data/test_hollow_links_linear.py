"""Whether a class link leads to none of its class's images (``_holds_no_image``) was asked of
every image for every link: O(links x images) string work (3.6 s at 20,000 images and 200
links, s61_LR). Each class's folders are now prefix sets worked out once, asked in O(1) per
link. The naive test is kept here as the reference the new one must agree with."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

from PIL import Image

from siamkit.data import folders
from siamkit.data.folders import ClassWalk, _holds_no_image, _link_routes, _walk, walk_classes


def naive_holds_no_image(link: Path, other: Path, walk: ClassWalk) -> bool:
    """The function as it was (3c84e360): every image's path and every folder's real path
    compared with the link's, for each link."""
    if other in walk.empty or other not in walk.files:
        return True
    files = walk.files[other]
    route, real = _link_routes(link, other)
    parents = dict.fromkeys(os.fspath(f.parent) for f in files)
    reals = [os.path.join(os.path.realpath(d), "") for d in parents]
    if any(os.fspath(f).startswith(route) for f in files) or any(d.startswith(real) for d in reals):
        return False
    read = {
        os.path.realpath(os.path.join(where, name))
        for where, names in _walk(link, [])
        for name in names
    }
    return {os.path.realpath(f) for f in files}.isdisjoint(read)


def _random_tree(root: Path, rng: random.Random) -> Path:
    """Classes with nested folders (some empty), folder links out of a class into a shared
    folder, and class links to classes, their sub-folders and the shared folder's."""
    ds, outside = root / "ds", root / "outside"
    root.mkdir()
    Image.new("L", (4, 4)).save(root / "one.png")
    png = (root / "one.png").read_bytes()
    made: list[Path] = []
    for c in range(5):
        made.append(ds / f"c{c}")
        for _ in range(rng.randint(0, 6)):
            made.append(rng.choice(made) / f"s{rng.randint(0, 3)}")
    made += [outside / f"o{i}" for i in range(3)]
    for d in made:
        d.mkdir(parents=True, exist_ok=True)
        for i in range(rng.randint(0, 2)):
            (d / f"{i}.png").write_bytes(png)  # its own file (a hard link is a shared image)
    for c in range(5):  # a folder link out of some classes (read as the class's)
        if rng.random() < 0.5:
            os.symlink(outside / f"o{rng.randint(0, 2)}", ds / f"c{c}" / "far")
    inside = [d for d in made if d.is_relative_to(ds) and d.parent != ds]
    targets = [ds / f"c{c}" for c in range(5)] + inside + [ds / "c0" / "far" / "none"]
    for i in range(8):
        target = rng.choice(targets)
        if target.exists() or target.parent.exists():
            os.symlink(target, ds / f"link{i}")
    return ds


def test_the_prefix_sets_agree_with_the_naive_test_on_random_trees(tmp_path: Path) -> None:
    said: list[bool] = []
    for seed in range(12):
        rng = random.Random(seed)
        ds = _random_tree(tmp_path / str(seed), rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            walk = walk_classes(ds)
        reals: dict[Path, folders._ClassReals] = {}
        for link, other in sorted(walk.linked.items()):
            if other == link.parent:
                continue
            got = _holds_no_image(link, other, walk, reals)
            assert got == naive_holds_no_image(link, other, walk), (seed, link, other)
            said.append(got)
    # the trees hold links of both answers, not a handful
    assert said.count(True) > 10 and said.count(False) > 10, said


class _Counted(list[Path]):
    """A class's images that count how often they are scanned."""

    scans = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        type(self).scans += 1
        return super().__iter__()


def test_a_class_s_images_are_scanned_once_for_all_its_links(tmp_path: Path) -> None:
    """200 links into a class of 2,000 images (paths only: no file is needed for the prefix
    test) scanned every image for each link: 200 scans. Once per class now."""
    cat = tmp_path / "ds" / "cat"
    images = _Counted(cat / f"d{i % 40}" / f"{i}.png" for i in range(2_000))
    cat.parent.mkdir()  # the links' folder; cat and its images need not exist
    walk = ClassWalk({cat: images}, [], [], [])
    reals: dict[Path, folders._ClassReals] = {}
    _Counted.scans = 0
    for i in range(200):  # each into a folder of cat that holds images: none is hollow
        link = tmp_path / "ds" / f"k{i}"
        os.symlink(cat / f"d{i % 40}", link)
        assert not _holds_no_image(link, cat, walk, reals)
    assert _Counted.scans <= 2
