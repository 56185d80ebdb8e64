"""Links into a class that lead to none of its images: the old test against the prefix sets.

``walk_classes`` asks of each class folder that is a link into another class whether it leads
to any image the walk listed for that class (``_holds_no_image``). Until stop 62 that asked
every image's path and every image folder's real path for each link: O(links x images) string
work (s61_LR hand-timed 3.6 s at 20,000 images and 200 links). Now each class's folders are
prefix sets worked out once, and each link is one set lookup.

This benchmark builds the walk of one class of ``--images`` image paths in ``--folders``
folders (paths only: the prefix test reads no file), and ``--links`` class links into
sub-folders of it that hold no image (the case that scanned every image), then times both
tests over all the links, interleaved in each round, and checks they give the same answers.
The old test is kept here as it was (3c84e360).

Run:  nice python benchmarks/bench_hollow_links.py [--images 20000] [--links 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from siamkit.data.folders import ClassWalk, _ClassReals, _holds_no_image, _link_routes, _walk


def old_holds_no_image(
    link: Path, other: Path, walk: ClassWalk, cache: dict[Path, tuple[list[str], set[str]]]
) -> bool:
    """``_holds_no_image`` as it was (3c84e360): its folders' and images' real paths once per
    class (``cache``), then every image's path and every folder's compared for each link."""
    if other in walk.empty or other not in walk.files:
        return True
    files = walk.files[other]
    if other not in cache:
        parents = dict.fromkeys(os.fspath(f.parent) for f in files)
        folders = [os.path.join(os.path.realpath(d), "") for d in parents]
        cache[other] = folders, {os.path.realpath(f) for f in files}
    folders, reals = cache[other]
    route, real = _link_routes(link, other)
    if any(os.fspath(f).startswith(route) for f in files) or any(
        d.startswith(real) for d in folders
    ):
        return False
    read = {
        os.path.realpath(os.path.join(where, name))
        for where, names in _walk(link, [])
        for name in names
    }
    return reals.isdisjoint(read)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--folders", type=int, default=200)
    ap.add_argument("--links", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ds = Path(tmp) / "ds"
        cat = ds / "cat"
        (cat / "empty").mkdir(parents=True)  # the links' target: a folder without images
        files = [cat / f"d{i % args.folders}" / f"{i}.png" for i in range(args.images)]
        walk = ClassWalk({cat: files}, [], [], [])
        links = []
        for i in range(args.links):
            link = ds / f"k{i}"
            os.symlink(cat / "empty", link)
            links.append(link)
        old_s, new_s = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            cache: dict[Path, tuple[list[str], set[str]]] = {}  # a fresh walk's, as below
            old = [old_holds_no_image(k, cat, walk, cache) for k in links]
            old_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            reals: dict[Path, _ClassReals] = {}  # a fresh walk's: the sets are built in it
            new = [_holds_no_image(k, cat, walk, reals) for k in links]
            new_s.append(time.perf_counter() - t)
            assert old == new and all(new), "the two tests disagree"
    old_m, new_m = statistics.median(old_s), statistics.median(new_s)
    print(
        f"{args.images:,} images in {args.folders} folders, {args.links} hollow links, "
        f"median of {args.rounds} rounds"
    )
    # the row as BENCHMARKS.md records it, pasted as printed: both columns to the ms and the
    # ratio to one decimal ("{new_m:.4f}" and a whole-number ratio, "2x" for 2.12, made the
    # recorded row differ from what its command printed: s62_r4 finding 2)
    print(
        "| images | links | old (each image's path compared per link, 3c84e360) "
        "| new (prefix sets once per class) | old / new |"
    )
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| {args.images:,} | {args.links} | {old_m:.3f} s | {new_m:.3f} s | {old_m / new_m:.1f}x |"
    )


if __name__ == "__main__":
    main()
