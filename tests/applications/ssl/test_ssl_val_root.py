"""``data.val_root``: the kNN monitor of a self-supervised run on an image folder, from a folder
of the few labelled images a user has (one sub-folder per class)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from siamkit.applications.ssl.config import ssl_config_from_dict, ssl_config_to_dict
from siamkit.applications.ssl.trainer import check_resume
from siamkit.cli.main import cli
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    """photos/ (loose, and a nested sub-folder) and labeled/ (two classes of four)."""
    photos, labeled = tmp_path / "photos", tmp_path / "labeled"
    (photos / "2019").mkdir(parents=True)
    for i in range(12):
        where = photos if i % 2 else photos / "2019"
        Image.new("RGB", (9, 8), (20 * i, 200 - 10 * i, 40)).save(where / f"{i}.png")
    for c, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (labeled / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), tuple(v + 5 * i for v in colour)).save(
                labeled / c / f"{i}.png"
            )
    return photos, labeled


def _doc(photos: Path, **data: Any) -> dict[str, Any]:
    return {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8, **data},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "knn_k": 3, "device": "cpu"},
    }  # fmt: skip


def _train(tmp_path: Path, doc: dict[str, Any], *more: str) -> Result:
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "o"
    return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress", *more])


def test_a_labelled_folder_gives_an_image_folder_run_its_knn_monitor(tmp_path: Path) -> None:
    """A user with a folder of unlabeled photos and a few hundred labelled ones had no way to
    watch a kNN accuracy while training on the photos (only labeled data sets had the monitor
    the issue asks for 'when a labeled validation set exists')."""
    photos, labeled = _folders(tmp_path)
    res = _train(tmp_path, _doc(photos, val_root=str(labeled)))
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.endswith(
        f"12 images under {photos} (no labels; kNN monitor on 8 labelled images of 2 classes "
        f"under {labeled}) on cpu"
    ), first
    assert re.search(r"^epoch 1/1: loss [\d.]+, kNN@3 [\d.]+, collapse std", res.output, re.M)
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert all(row["knn"] is not None for row in history), history
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["knn"] is not None


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("nope", "data.val_root '{p}' is not a folder: give a folder with one sub-folder of "
         "labelled images per class (e.g. labeled/cat/1.png)"),
        ("photos/2019", "data.val_root '{p}' holds images and no class sub-folders: give a "
         "folder with one sub-folder of labelled images per class"),
        ("one", "data.val_root '{p}' holds one class (red); the kNN monitor tells classes apart"),
    ],
)  # fmt: skip
def test_a_val_root_that_is_not_labelled_classes_is_one_sentence(
    tmp_path: Path, where: str, says: str
) -> None:
    photos, labeled = _folders(tmp_path)
    (tmp_path / "one").mkdir()
    (labeled / "red").rename(tmp_path / "one" / "red")
    root = tmp_path / where
    res = _train(tmp_path, _doc(photos, val_root=str(root)))
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: " + says.format(p=root)), last
    assert not (tmp_path / "o").exists()


def test_a_labeled_data_set_refuses_a_val_root() -> None:
    with pytest.raises(ValueError, match=r"data.val_root is for data.dataset = image-folder; "):
        ssl_config_from_dict({"data": {"dataset": "digits", "val_root": "labeled"}})


def test_a_checkpoint_from_before_val_root_resumes(tmp_path: Path) -> None:
    """A checkpoint saved before data.val_root existed has no such key: read as none, not as a
    different config; one made with a folder still refuses another."""
    photos, labeled = _folders(tmp_path)
    doc = {k: v for k, v in _doc(photos).items() if k != "task"}
    path = tmp_path / "o" / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "config": ssl_config_to_dict(ssl_config_from_dict(doc))}, path)
    state = load_checkpoint(path)
    del state["config"]["data"]["val_root"]
    save_checkpoint(state, path)
    check_resume(path, ssl_config_from_dict(doc))
    with pytest.raises(ValueError, match=r"different config \(data\.val_root\)"):
        check_resume(
            path, ssl_config_from_dict({**doc, "data": {**doc["data"], "val_root": str(labeled)}})
        )


def test_the_knn_monitor_votes_among_no_more_neighbours_than_a_class_has(tmp_path: Path) -> None:
    """A user with 8 labelled photos a class and the shipped train.knn_k = 20 read kNN@20 0.03
    to 0.19 each epoch while the model's P@1 on the same photos was 0.97: every image's
    leave-one-out vote took in more neighbours than its class has other images, and the other
    classes (one image more each) won it. The monitor now votes among the other images of the
    smallest class at most, and says so before training."""
    photos, labeled = _folders(tmp_path)  # two classes of four: three other images each
    doc = _doc(photos, val_root=str(labeled))
    res = _train(tmp_path, {**doc, "train": {**doc["train"], "knn_k": 20}})
    assert res.exit_code == 0, res.output
    assert (
        "note: the kNN monitor votes among 3 neighbours, not train.knn_k = 20: the smallest "
        "class of its labelled images has 4, and a vote of more neighbours than an image's "
        "class has other images would be won by the other classes"
    ) in res.output
    assert re.search(r"^epoch 1/1: loss [\d.]+, kNN@3 [\d.]+, collapse std", res.output, re.M)


def test_a_vote_within_the_smallest_class_scores_a_clustered_embedding_right() -> None:
    """Two tight clusters of four: one vote among all seven others is always wrong (own class
    three, the other four); :func:`monitor_k`'s three neighbours are all right."""
    from siamkit.applications.ssl.monitor import leave_one_out_knn, monitor_k

    z = torch.cat(
        [torch.tensor([[1.0, 0.0]]).repeat(4, 1), torch.tensor([[0.0, 1.0]]).repeat(4, 1)]
    )
    z = z + 0.01 * torch.arange(8.0)[:, None]
    y = torch.tensor([0] * 4 + [1] * 4)
    assert leave_one_out_knn(z, y, 7) == 0.0
    assert monitor_k(20, y) == 3
    assert leave_one_out_knn(z, y, monitor_k(20, y)) == 1.0


def test_a_photo_folder_names_the_files_it_leaves_out(tmp_path: Path) -> None:
    """A self-supervised run on a folder of photos left out a notes.txt and an iPhone's .heic
    without a word (a folder of 50,000 photos, a fifth of them .heic, would train on the rest
    and never say so), while a supervised run on a class folder names such files; it now says
    so in one warning line before training."""
    photos, labeled = _folders(tmp_path)
    (photos / "notes.txt").write_text("shot in 2019\n")
    (photos / "2019" / "IMG_0042.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    res = _train(tmp_path, _doc(photos, val_root=str(labeled)))
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"warning: left out 2 files that are not images by their extension, e.g. "
        f"{photos / '2019' / 'IMG_0042.heic'}, {photos / 'notes.txt'}: give them an extension "
        "(.png, .jpg) to include them if they are images"
    ], res.stderr
    assert "12 images under" in res.output


def test_a_resume_refuses_a_photo_folder_that_changed_since_the_run_started(
    tmp_path: Path,
) -> None:
    """A run on photos/ stopped, photos were added (or renamed), and --resume went on silently
    on the other images with other batches: not the run it continued, though the checkpoint's
    resume is meant to end as the uninterrupted run would. The checkpoint now records the
    folder's file names and sizes, and a resume on other files is one sentence, nothing
    written; the same folder resumes as before."""
    photos, labeled = _folders(tmp_path)
    doc = _doc(photos, val_root=str(labeled))
    assert _train(tmp_path, doc).exit_code == 0
    out = tmp_path / "o"
    res = _train(tmp_path, {**doc, "train": {**doc["train"], "epochs": 2}}, "--resume")
    assert res.exit_code == 0, res.output  # the same files: resumed
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    Image.new("RGB", (9, 8), (1, 2, 3)).save(photos / "new.png")
    res = _train(tmp_path, {**doc, "train": {**doc["train"], "epochs": 3}}, "--resume")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == (
        f"Error: cannot resume {out}: data.root {photos} holds other images than when the run "
        "started (13 images now, 12 when it started; its checkpoint records their names and "
        "sizes), so it would not continue the same run: put the folder back as it was, or start "
        "a new run (--overwrite, or another --out)"
    )
    (photos / "new.png").unlink()
    (photos / "1.png").rename(photos / "one.png")
    res = _train(tmp_path, {**doc, "train": {**doc["train"], "epochs": 3}}, "--resume")
    assert res.exit_code == 1
    assert "(files renamed or changed since it started;" in res.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_data_limit_reads_only_the_images_it_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user trying a short run with data.limit = 1,000 on 50,000 photos waited for all 50,000
    to be read (about half a second each at 12 megapixels on this machine) before 49,000 were
    dropped; only the kept ones are read now, and they are the same images in the same order."""
    import siamkit.applications.ssl.data as ssl_data
    from siamkit.applications.ssl.config import SSLDataConfig
    from siamkit.training.data import SPLIT_SEED, seeded_sample

    photos, _ = _folders(tmp_path)
    whole = ssl_data.folder_images(str(photos), 8, False)
    read: list[int] = []
    real = ssl_data.load_images

    def counting(items: Any, *args: Any, **kw: Any) -> torch.Tensor:
        read.append(len(items))
        return real(items, *args, **kw)

    monkeypatch.setattr(ssl_data, "load_images", counting)
    cfg = SSLDataConfig(dataset="image-folder", root=str(photos), image_size=8, limit=5)
    data = ssl_data.load_ssl_data(cfg)
    assert read == [5]
    assert torch.equal(data.train_x, whole[seeded_sample(12, 5, SPLIT_SEED)])
