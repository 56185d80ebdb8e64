"""Reading a whole data.root folder: every unreadable file named at once, progress while reading."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from siamkit import progress as prog
from siamkit.cli.main import cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


class Clock:
    """A fake monotonic clock that advances one second per call."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def _photos(root: Path, n: int) -> None:
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        where = root if i % 2 else root / "sub"
        Image.new("RGB", (9 + i, 8), (20 * i % 255, 90, 20)).save(where / f"{i}.png")


@pytest.mark.parametrize("task", ["ssl", "supervised"])
def test_every_unreadable_image_of_the_folder_is_named_in_one_sentence(
    tmp_path: Path, task: str
) -> None:
    """A folder of photos with a truncated JPEG and a file that only looks like one was refused
    naming the first alone: removing it, the user ran again to be refused for the next, once per
    bad file of thousands."""
    root = tmp_path / "photos"
    if task == "ssl":
        _photos(root, 6)
        config, sets = CONFIGS / "simclr.yaml", ["--set", "train.batch_size=2"]
        cut, fake = root / "sub" / "cut.jpg", root / "fake.jpg"
    else:
        for c in ("a", "b"):
            _photos(root / c, 4)
        config, sets = CONFIGS / "digits-tiny.yaml", []
        cut, fake = root / "a" / "cut.jpg", root / "b" / "fake.jpg"
    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "whole.jpg")
    cut.write_bytes((tmp_path / "whole.jpg").read_bytes()[:200])
    fake.write_bytes(b"not a jpeg at all")
    out = tmp_path / "o"
    sets += ["--set", "data.dataset=image-folder", "--set", f"data.root={root}"]
    res = CliRunner().invoke(cli, ["train", str(config), "--out", str(out), "--no-progress", *sets])
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    why = {cut: "corrupt or truncated", fake: "not an image"}
    named = " and ".join(f"{p} ({why[p]})" for p in sorted([cut, fake], key=str))
    assert last == f"Error: data.root holds 2 unreadable images, {named}: remove or fix them", last
    assert "Traceback" not in res.output and not out.exists()


def test_many_unreadable_images_are_counted_past_ten(tmp_path: Path) -> None:
    from siamkit.applications.ssl.data import folder_images
    from siamkit.data.image_io import ImageReadError

    root = tmp_path / "photos"
    _photos(root, 3)
    for i in range(12):
        (root / f"bad{i:02d}.jpg").write_bytes(b"no")
    with pytest.raises(ImageReadError) as err:
        folder_images(str(root), 8, grayscale=False)
    assert str(err.value).startswith(
        f"data.root holds 12 unreadable images, {root / 'bad00.jpg'} (not an image), "
    )
    assert str(err.value).endswith(
        f"{root / 'bad09.jpg'} (not an image) and 2 more: remove or fix them"
    )


def test_reading_a_folder_shows_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An SSL run on a folder of 50,000 photos said nothing until every one was decoded (minutes
    of silence before its first line); the reading now reports as embedding does."""
    root = tmp_path / "photos"
    _photos(root, 20)
    monkeypatch.setattr(
        prog, "Progress", partial(prog.Progress, tty=False, delay=0.0, clock=Clock())
    )
    doc = {"task": "ssl", "data": {"dataset": "image-folder", "root": str(root), "image_size": 8}}
    config = tmp_path / "ssl.yaml"
    config.write_text(yaml.safe_dump(doc))
    try:  # refused after reading (a batch larger than the folder): nothing trains
        res = CliRunner().invoke(cli, ["train", str(config), "--out", str(tmp_path / "o")])
    finally:
        prog.set_enabled(False)  # the command turned it on for this process
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("reading the images of")]
    assert lines and lines[-1].startswith("reading the images of data.root: 100% (20/20 images)")
    assert 3 <= len(lines) <= 12, lines


def test_each_unreadable_image_is_named_with_what_is_wrong_with_it(tmp_path: Path) -> None:
    """The sentence naming several unreadable files dropped what was wrong with each (a single
    one's sentence says it): the user could not tell a truncated copy, which a new download
    fixes, from a file that is no image, or one too large, which a resize fixes."""
    import pickle

    from siamkit.data.image_io import ImageReadError, load_images

    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "whole.jpg")
    big, ok = tmp_path / "big.png", tmp_path / "ok.png"
    Image.new("RGB", (30, 30)).save(big)
    Image.new("RGB", (8, 8)).save(ok)
    cut, fake, empty = tmp_path / "cut.jpg", tmp_path / "fake.jpg", tmp_path / "empty.png"
    cut.write_bytes((tmp_path / "whole.jpg").read_bytes()[:200])
    fake.write_bytes(b"not a jpeg")
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError) as err:
        load_images([ok, cut, fake, big, empty], (3, 8, 8), max_pixels=800, folder="data.root")
    assert str(err.value) == (
        f"data.root holds 4 unreadable images, {cut} (corrupt or truncated), {fake} (not an "
        f"image), {big} (too large) and {empty} (empty): remove or fix them"
    )
    with pytest.raises(ImageReadError) as one:
        load_images([ok, big], (3, 8, 8), max_pixels=800, folder="data.root")
    assert one.value.reason == "too large"  # (a worker process's error keeps it too)
    assert pickle.loads(pickle.dumps(one.value)).reason == "too large"
