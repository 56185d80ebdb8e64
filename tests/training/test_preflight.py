"""What a run refuses before it writes anything (:mod:`siamkit.training.preflight`) and data of
fewer than two classes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.training import RunData, apply_overrides, build_model, preflight
from siamkit.training.checkpoint import save_checkpoint
from siamkit.training.config import DataConfig, RunConfig
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.config_io import config_from_dict, config_to_dict
from siamkit.training.data import load_run_data
from siamkit.training.preflight import check_input_size, check_positives, check_resumable


def _folder(root: Path, classes: list[str], per_class: int, size: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (size, size), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _data(y: torch.Tensor) -> RunData:
    x = torch.rand(len(y), 1, 8, 8)
    classes = tuple(sorted(set(y.tolist())))
    names = tuple(f"c{c}" for c in range(max(classes) + 1))
    empty = torch.zeros(0, dtype=torch.long)
    return RunData(x, y, x[:0], empty, x[:0], empty, names, classes, ())


def test_classes_of_a_single_training_image_are_refused_for_a_pair_loss() -> None:
    data = _data(torch.tensor([0, 0, 0, 1, 2, 2]))  # class 1: one image, its own only "positive"
    cfg = config_from_dict({"loss": {"kind": "triplet"}})
    with pytest.raises(ValueError, match=r"training class 'c1' has a single training image"):
        check_positives(cfg, data)
    with pytest.raises(ValueError, match=r"training classes 'c1', 'c3' have a single .*those"):
        check_positives(cfg, _data(torch.tensor([0, 0, 1, 2, 2, 3])))
    limited = apply_overrides(cfg, ["data.limit=6"])
    with pytest.raises(ValueError, match=r"after data.limit = 6.*raise data.limit"):
        check_positives(limited, data)
    check_positives(config_from_dict({"loss": {"kind": "proxy_anchor"}}), data)  # proxies: fine
    check_positives(cfg, _data(torch.tensor([0, 0, 1, 1])))


def test_labels_per_class_is_checked_once_when_the_config_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[RunConfig] = []
    real = preflight.check_labels_per_class
    monkeypatch.setattr(preflight, "check_labels_per_class", lambda c: real(c) or calls.append(c))
    cfg = config_from_dict({"loss": {"kind": "triplet"}, "data": {"labels_per_class": 2}})
    check_positives(cfg, _data(torch.tensor([0, 0, 1, 1])))  # the preflight does not redo it
    assert calls == [cfg]


def test_one_label_per_class_in_a_config_not_read_is_refused_by_its_data() -> None:
    cfg = config_from_dict({"loss": {"kind": "triplet"}})
    unread = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, labels_per_class=1))
    with pytest.raises(
        ValueError,
        match=r"have a single training image after data\.labels_per_class = 1, but loss\.kind = "
        r"triplet .*: keep at least 2 labels per class, ",
    ):
        check_positives(unread, _data(torch.tensor([0, 1, 2])))


def test_images_too_small_for_the_encoder_are_refused_naming_the_key_and_a_size() -> None:
    cfg = config_from_dict(
        {
            "data": {"dataset": "image-folder", "root": "x", "image_size": 2},
            "model": {"encoder_kwargs": {"widths": [8, 16, 16]}, "embedding_dim": 8},
        }
    )
    net = build_model(cfg.model, (1, 2, 2))
    with pytest.raises(ValueError) as err:
        check_input_size(net, cfg, (1, 2, 2))
    assert str(err.value) == (
        "data.image_size = 2 is too small for model.encoder = convnet (it fails on 2×2 images); "
        "the smallest size that works is 4"
    )
    assert net.training  # the check leaves the network as it found it
    big = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, image_size=4))
    check_input_size(build_model(cfg.model, (1, 4, 4)), big, (1, 4, 4))


def test_images_too_small_at_an_unset_image_size_name_the_key_to_set() -> None:
    """With data.image_size unset (the data set's own), the refusal named 'the image-folder
    images (4×4)', not the key that makes them bigger; digits, which refuse another size, are
    still named by their images."""
    model = {"encoder_kwargs": {"widths": [8, 16, 16]}, "embedding_dim": 8}
    for dataset, subject in (
        ("image-folder", "data.image_size, left unset (2 for image-folder),"),
        ("synthetic-glyphs", "data.image_size, left unset (2 for synthetic-glyphs),"),
        ("digits", "the digits images (2×2)"),
    ):
        cfg = config_from_dict({"data": {"dataset": dataset}, "model": model})
        assert cfg.data.image_size is None
        with pytest.raises(ValueError) as err:
            check_input_size(build_model(cfg.model, (1, 2, 2)), cfg, (1, 2, 2))
        assert str(err.value) == (
            f"{subject} is too small for model.encoder = convnet (it fails on 2×2 images); "
            "the smallest size that works is 4"
        )


@pytest.mark.parametrize("train_classes", [6, None])
def test_a_folder_of_one_class_is_named_with_its_class(
    tmp_path: Path, train_classes: int | None
) -> None:
    root = _folder(tmp_path / "single", ["only"], 6)
    cfg = DataConfig(dataset="image-folder", root=str(root), image_size=8, grayscale=True,
                     train_classes=train_classes)  # fmt: skip
    with pytest.raises(ValueError) as err:
        load_run_data(cfg)
    assert str(err.value).startswith(
        f"data.root {root} holds only 1 class (only); similarity training needs at least 2 classes"
    )


def test_resume_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    cfg = RunConfig()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        check_resumable(cfg, tmp_path / "checkpoint.pt")
    saved = apply_overrides(cfg, ["model.init_from=runs/base/model"])
    save_checkpoint({"epoch": 1, "config": config_to_dict(saved)}, tmp_path / "checkpoint.pt")
    assert check_resumable(saved, tmp_path / "checkpoint.pt") == saved


def test_a_resume_keeps_the_init_from_it_started_with(tmp_path: Path) -> None:
    """A resume needs no --init-from (it takes the checkpoint's, so the run still records where it
    started); the same model again is fine, another one is refused."""
    path = tmp_path / "checkpoint.pt"
    saved = apply_overrides(RunConfig(), ["model.init_from=runs/base/model"])
    save_checkpoint({"epoch": 1, "config": config_to_dict(saved)}, path)
    assert check_resumable(RunConfig(), path) == saved
    same = apply_overrides(RunConfig(), [f"model.init_from={Path.cwd() / 'runs/base/model'}"])
    assert check_resumable(same, path) == saved  # spelt otherwise: the checkpoint's spelling
    other = apply_overrides(RunConfig(), ["model.init_from=runs/other/model"])
    with pytest.raises(
        ValueError,
        match=r"^the checkpoint's run started from --init-from / model\.init_from runs/base/model, "
        r"not runs/other/model: resume without --init-from / model\.init_from \(the checkpoint",
    ):
        check_resumable(other, path)
    save_checkpoint({"epoch": 1, "config": config_to_dict(RunConfig())}, path)
    with pytest.raises(
        ValueError,
        match=r"^the checkpoint's run did not start from a saved model: resume without "
        r"--init-from / model\.init_from runs/other/model$",
    ):
        check_resumable(other, path)


def test_config_guard_names_what_changed() -> None:
    guard = ConfigGuard(config_to_dict(apply_overrides(RunConfig(), ["optim.lr=0.01"])))
    lr = RunConfig().optim.lr
    with pytest.raises(
        ValueError,
        match=rf"different config \(optim.lr\); resume with the same one "
        rf"\(the checkpoint's values: --set optim.lr={lr}\)$",
    ):
        guard.load_state_dict(config_to_dict(RunConfig()))
    # a value --set cannot give back (a list) gets no hint
    guard = ConfigGuard(
        config_to_dict(apply_overrides(RunConfig(), ["data.train_classes=[0,1,2]"]))
    )
    with pytest.raises(ValueError, match=r"\(data.train_classes\); resume with the same one$"):
        guard.load_state_dict(config_to_dict(RunConfig()))


def test_config_guard_takes_one_folder_spelt_two_ways_as_the_same_in_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run's guard (text, SSL, signatures, tracker, as the embedding run's) compared
    paths as text: ``./sigs`` and ``sigs`` were 'a different config'. Two folders still differ,
    and so does a value that only looks like a path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sigs").mkdir()
    (tmp_path / "other").mkdir()
    saved = {"method": "simclr", "data": {"root": "./sigs", "size": 1}}

    def guard(config: dict) -> ConfigGuard:  # an application's guard: its own config shape
        return ConfigGuard(config, read=lambda saved, now: saved)

    guard({"method": "simclr", "data": {"root": "sigs", "size": 1}}).load_state_dict(saved)
    absolute = {"root": str(tmp_path / "sigs"), "size": 1}
    guard({"method": "simclr", "data": absolute}).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"different config \(data.root\)"):
        guard({"method": "simclr", "data": {"root": "other", "size": 1}}).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"different config \(method\)"):
        guard({"method": "./simclr", "data": saved["data"]}).load_state_dict(saved)
