"""``siamkit face evaluate`` with a siamkit face model refused a NaN embedding by its row of one
chip, "1 of the 1 embeddings the model made of the inputs hold NaN or infinite values (rows 0),
which no search can rank", naming no file; dlib's NaN went on into the scores. Both are now
refused at the file, by its name, counted against the files embedded so far, as ``siamkit
enroll`` refuses one, and no later file is embedded."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.applications.faces import DlibFaceEncoder, FacePipeline
from siamkit.applications.faces.evaluate import evaluate_lfw
from siamkit.applications.faces.lfw import read_lfw_pairs
from siamkit.cli.main import cli
from siamkit.index.base import UnrankableEmbeddingsError


@pytest.fixture
def siamkit_model(tmp_path):
    import torch

    import siamkit
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,) * 3, std=(0.25,) * 3, input_shape=(3, 32, 32))
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), tmp_path / "m")
    return tmp_path / "m"


def test_face_evaluate_with_a_siamkit_model_names_the_file_and_stops_there(
    monkeypatch, face_folder, siamkit_model
):
    import siamkit.applications.faces.evaluate as ev
    from siamkit.models import SiameseNetwork

    third = face_folder / "Lionel_Messi" / "Lionel_Messi_0001.jpg"  # sorted: 2 of Eileen first
    real, read, calls = SiameseNetwork.embed, ev.read_rgb, []

    def read_rgb(path, *args, **kwargs):  # the files in the order they are embedded
        calls.append(path)
        return read(path, *args, **kwargs)

    def embed(self, x, *args, **kwargs):  # the third file's face embeds as NaN
        z = real(self, x, *args, **kwargs)
        return z * float("nan") if calls and calls[-1] == third else z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    monkeypatch.setattr(ev, "read_rgb", read_rgb)
    args = ["face", "evaluate", "--identities", str(face_folder), "--model", str(siamkit_model)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 3 embeddings the model made of the largest faces of the first 3 of the "
        f"6 photos hold NaN or infinite values ({str(third)!r}), which no evaluation can score"
    )
    assert len(calls) == 3  # the files after it are not embedded


def test_face_evaluate_with_dlib_refuses_a_nan_in_place_of_scores(tmp_path, face_folder):
    lines = ["2 1", "Eileen_Collins 1 2", "Eileen_Collins 1 Lionel_Messi 2"]
    lines += ["Lionel_Messi 1 2", "Mega_Mind 2 Eileen_Collins 2"]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    pairs = read_lfw_pairs(tmp_path / "pairs.txt", face_folder)
    encoder = DlibFaceEncoder()
    real, calls = encoder.embed_chips, []

    def embed_chips(chips):  # the last of the 5 files the pairs name embeds as NaN
        calls.append(len(chips))
        z = np.array(real(chips), dtype=np.float32)
        return z * np.float32("nan") if len(calls) == 5 else z

    encoder.embed_chips = embed_chips  # type: ignore[method-assign]
    with pytest.raises(UnrankableEmbeddingsError) as err:
        evaluate_lfw(FacePipeline(encoder), pairs)
    last = face_folder / "Mega_Mind" / "Mega_Mind_0002.jpg"
    assert str(err.value) == (
        "1 of the 5 embeddings the model made of the photos' largest faces hold NaN or infinite "
        f"values ({str(last)!r}), which no evaluation can score"
    )
