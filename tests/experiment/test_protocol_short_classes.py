"""The refusal of an N-way K-shot setting that only some test classes can give names the classes
short of images (the first few, fewest images first, with their counts), by name where the data
has names, so that a user knows which class to fill or leave out."""

from __future__ import annotations

import pytest
import torch

from siamkit.experiment import check_protocol
from siamkit.training import EvalConfig


def test_the_one_short_class_is_named_with_its_count() -> None:
    y = torch.cat([torch.arange(20).repeat(2), torch.tensor([*range(18), 19])])  # 18: 2 images
    names = [f"writer_{i:02d}" for i in range(20)]
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(shots=(2,), ways=20), y, names=names)
    assert (
        "only 19 of the 20 test classes have that many (short: class 'writer_18' (2 images))"
        in str(err.value)
    )


def test_many_short_classes_show_the_first_few_by_label() -> None:
    y = torch.cat([torch.arange(20), torch.arange(14).repeat(2), torch.tensor([15])])
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(shots=(2,), ways=20), y)
    assert (
        "only 14 of the 20 test classes have that many (short: class 14 (1 image), "
        "class 16 (1 image), class 17 (1 image) and 3 more); "
    ) in str(err.value)


def test_a_run_names_the_folder_class_short_of_images(tmp_path) -> None:
    from PIL import Image

    from siamkit.experiment import run_experiment
    from siamkit.training.config_io import config_from_dict

    counts = {"anna": 6, "ben": 6, "cleo": 6, "dora": 6, "emil": 1}
    for name, n in counts.items():
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (16, 16), 40 * i).save(tmp_path / "data" / name / f"{i}.png")
    cfg = config_from_dict(
        {
            "data": {
                "dataset": "image-folder",
                "root": str(tmp_path / "data"),
                "image_size": 16,
                "train_classes": [0, 1],
            },
            "eval": {"shots": [1], "ways": 3},
        }
    )
    with pytest.raises(ValueError) as err:
        run_experiment(cfg, tmp_path / "run", progress=False, log=lambda _: None)
    assert "(short: class 'emil' (1 image))" in str(err.value), str(err.value)
