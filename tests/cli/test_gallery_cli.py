"""The enroll / identify / verify / gallery commands, end to end on Fashion-MNIST PNG files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.gallery_cmds import COMMANDS
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.index import Gallery

THRESHOLD = 0.05


@pytest.fixture(scope="module")
def cli() -> click.Group:
    group = click.Group("siamkit")
    for command in COMMANDS:
        group.add_command(command)
    return group


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A saved model bundle and 8 Fashion-MNIST test images as PNG files (2 per class 0-3)."""
    root = tmp_path_factory.mktemp("gallery_cli")
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(encoder, embedding_dim=16, preprocess=pre)
    siamkit.save_model(net, root / "model", threshold=THRESHOLD)
    images, labels = load_fashion_mnist("test")
    out = {"model": root / "model", "root": root}
    for c in range(4):
        for j, row in enumerate(np.flatnonzero(labels.numpy() == c)[:2]):
            path = root / f"c{c}_{j}.png"
            Image.fromarray(images[row].numpy()).save(path)
            out[f"c{c}_{j}"] = path
    (root / "broken.png").write_bytes(b"not an image at all")
    out["broken"] = root / "broken.png"
    return out


def run(cli, args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def enroll_four(cli, files, db):
    for c in range(4):
        run(
            cli,
            ["enroll", files["model"], "--gallery", db, "--label", f"class-{c}", files[f"c{c}_0"]],
        )


def test_enroll_identify_verify_and_manage(cli, files, tmp_path):
    db = tmp_path / "staff.db"
    out = run(
        cli,
        [
            "enroll",
            files["model"],
            "--gallery",
            db,
            "--label",
            "alice",
            "--metadata",
            '{"team": "ops"}',
            files["c0_0"],
            files["c0_1"],
            "--json",
        ],
    )
    doc = json.loads(out.stdout)
    assert doc["label"] == "alice" and len(doc["item_ids"]) == 2 and doc["num_items"] == 2
    run(cli, ["enroll", files["model"], "--gallery", db, "--label", "bob", files["c1_0"]])

    out = run(
        cli,
        [
            "identify",
            files["model"],
            "--gallery",
            db,
            files["c1_0"],
            files["c0_1"],
            "--k",
            "5",
            "--json",
        ],
    )
    doc = json.loads(out.stdout)
    assert doc["threshold"] == THRESHOLD
    first, second = doc["queries"]
    assert first["label"] == "bob" and first["matches"][0]["distance"] < 1e-3
    assert [m["label"] for m in first["matches"]] == ["bob", "alice"]  # distinct labels
    assert second["label"] == "alice" and second["matches"][0]["accepted"] is True

    # the same answer as the Python API on the same files
    net = siamkit.load_model(files["model"])
    from siamkit.data.image_io import load_images

    with Gallery.open(db, net) as g:
        ref = g.identify(load_images([files["c1_0"]], (1, 28, 28))[0], k=5)
    assert [m["item_id"] for m in first["matches"]] == [m.item_id for m in ref.matches]

    out = run(cli, ["gallery", db, "list", "--json"])
    labels = json.loads(out.stdout)["labels"]
    assert labels == [
        {"label": "alice", "count": 2, "metadata": {"team": "ops"}},
        {"label": "bob", "count": 1, "metadata": None},
    ]
    stats = json.loads(run(cli, ["gallery", db, "stats", "--json"]).output)
    assert stats["num_items"] == 3 and stats["num_labels"] == 2 and stats["embedding_dim"] == 16
    assert stats["model_path"] == str(Path(files["model"]).resolve())  # enroll records it
    # opened without a model the gallery has no threshold; "threshold None" read as uncalibrated
    assert "threshold" not in stats
    assert "threshold" not in run(cli, ["gallery", db, "stats"]).output

    out = run(
        cli, ["verify", files["model"], files["c1_0"], "--gallery", db, "--label", "bob", "--json"]
    )
    assert json.loads(out.stdout)["same"] is True
    assert json.loads(run(cli, ["gallery", db, "remove", "bob", "--json"]).output)["removed"] == 1
    out = run(cli, ["gallery", db, "remove", "bob"], code=1)
    assert "'bob' is not in the gallery" in out.output
    assert "alice" in run(cli, ["gallery", db, "list"]).output


def test_verify_a_pair(cli, files):
    same = json.loads(
        run(cli, ["verify", files["model"], files["c2_0"], files["c2_0"], "--json"]).output
    )
    assert same["same"] is True and same["distance"] < 1e-3 and same["threshold"] == THRESHOLD
    net = siamkit.load_model(files["model"])
    from siamkit.data.image_io import load_images

    x = load_images([files["c2_0"], files["c3_0"]], (1, 28, 28))
    with torch.inference_mode():
        d = float(net(x[:1], x[1:])[0])
    other = json.loads(
        run(cli, ["verify", files["model"], files["c2_0"], files["c3_0"], "--json"]).output
    )
    assert other["distance"] == pytest.approx(d, abs=1e-5) and other["same"] == (d <= THRESHOLD)
    assert "distance" in run(cli, ["verify", files["model"], files["c2_0"], files["c3_0"]]).output


def test_unknown_query_is_reported_as_unknown(cli, files, tmp_path):
    db = tmp_path / "g.db"
    run(cli, ["enroll", files["model"], "--gallery", db, "--label", "alice", files["c0_0"]])
    out = run(
        cli,
        ["identify", files["model"], "--gallery", db, files["c3_1"], "--threshold", "0", "--json"],
    )
    query = json.loads(out.stdout)["queries"][0]
    assert query["unknown"] is True and query["label"] is None
    assert query["matches"][0]["accepted"] is False
    assert (
        "unknown"
        in run(
            cli, ["identify", files["model"], "--gallery", db, files["c3_1"], "--threshold", "0"]
        ).output
    )


def test_errors_are_clear_and_without_traceback(cli, files, tmp_path):
    db = tmp_path / "g.db"
    out = run(cli, ["identify", files["model"], "--gallery", db, files["c0_0"]], code=1)
    assert "no gallery" in out.output and not db.exists()
    out = run(
        cli, ["enroll", files["model"], "--gallery", db, "--label", "x", files["broken"]], code=1
    )
    assert "broken.png" in out.output
    out = run(
        cli,
        ["enroll", files["model"], "--gallery", db, "--label", "x", tmp_path / "nope.png"],
        code=2,
    )
    assert "does not exist" in out.output
    run(
        cli,
        [
            "enroll",
            files["model"],
            "--gallery",
            db,
            "--label",
            "x",
            "--metadata",
            "{bad",
            files["c0_0"],
        ],
        code=2,
    )
    run(cli, ["enroll", files["model"], "--gallery", db, "--label", "alice", files["c0_0"]])
    out = run(
        cli, ["verify", files["model"], files["c0_0"], "--gallery", db, "--label", "ghost"], code=1
    )
    assert "'ghost' is not in the gallery" in out.output and "alice" in out.output
    run(
        cli, ["verify", files["model"], files["c0_0"]], code=2
    )  # neither a second image nor a gallery
    run(cli, ["gallery", tmp_path / "missing.db", "stats"], code=1)
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello " * 500)
    assert "not a siamkit gallery" in run(cli, ["gallery", not_db, "list"], code=1).output


@pytest.mark.parametrize("command", [["list"], ["stats"], ["remove", "alice"]])
def test_gallery_of_a_missing_file_says_how_to_create_it(cli, tmp_path, command):
    """It used to say "open it with a model (or embedding_dim=...)", the library's words."""
    db = tmp_path / "missing.db"
    out = run(cli, ["gallery", db, *command], code=1).output
    assert "siamkit enroll MODEL --gallery" in out and "embedding_dim" not in out
    assert not db.exists()


def test_enroll_metadata_that_is_not_an_object_names_the_option(cli, files, tmp_path):
    db = tmp_path / "g.db"
    args = ["enroll", files["model"], "--gallery", db, "--label", "x", "--metadata", "[1]"]
    out = run(cli, [*args, files["c0_0"]], code=2).output
    assert "--metadata" in out and "JSON object" in out
    assert not db.exists()


@pytest.mark.parametrize("label", ["", "  padded ", "x" * 257])
def test_a_bad_label_creates_no_gallery(cli, files, tmp_path, label):
    """A label the gallery refuses (given, or a sub-folder's name) is refused before the
    gallery is opened: a new gallery file was left behind, empty."""
    db = tmp_path / "new" / "g.db"
    out = run(cli, ["enroll", files["model"], "--gallery", db, "--label", label, files["c0_0"]],
              code=1).output  # fmt: skip
    assert "label" in out and not db.exists() and not db.parent.exists()
    if label == "  padded ":  # (a folder name has at most 255 bytes)
        (tmp_path / "photos" / label).mkdir(parents=True)
        shutil.copy(files["c0_0"], tmp_path / "photos" / label / "a.png")
        out = run(cli, ["enroll", files["model"], "--gallery", db, tmp_path / "photos"], code=1)
        assert "label" in out.output and not db.exists() and not db.parent.exists()


def test_a_gallery_of_another_model_is_refused(cli, files, tmp_path):
    """A gallery `siamkit enroll` built with another model said 'built by a different model
    (fingerprint ...)', naming neither the folder that enrolled nor what to give, where the
    face, signature and text commands name it: the same sentence now, for a folder that is
    another model, one retrained in place, and one that is gone. A gallery enrolled from Python
    (no folder recorded) keeps the fingerprints."""
    db, mine = tmp_path / "g.db", tmp_path / "mine"
    shutil.copytree(files["model"], mine)
    run(cli, ["enroll", mine, "--gallery", db, "--label", "alice", files["c0_0"]])
    torch.manual_seed(1)
    other = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1),
        embedding_dim=16,
        preprocess=siamkit.models.Preprocess(input_shape=(1, 28, 28)),
    )
    siamkit.save_model(other, tmp_path / "other")
    said = (
        f"Error: {db} was enrolled with the model in {mine}, not {tmp_path / 'other'}, and its "
        "images cannot be compared with another model's: give "
        f"{mine} as MODEL to use it, or enroll into a new gallery file."
    )
    for args in (
        ["identify", tmp_path / "other", "--gallery", db, files["c0_0"]],
        ["enroll", tmp_path / "other", "--gallery", db, "--label", "bob", files["c0_0"]],
        ["verify", tmp_path / "other", files["c0_0"], "--gallery", db, "--label", "alice"],
    ):
        assert run(cli, args, code=1).output.strip() == said
    siamkit.save_model(other, mine)  # retrained in place
    out = run(cli, ["identify", mine, "--gallery", db, files["c0_0"]], code=1).output
    assert f"records a fingerprint that the model in {mine}, which enrolled it, does not" in out
    assert "the model there was retrained or replaced since, or the gallery was enrolled" in out
    assert "enroll them again into a new gallery file with this model" in out
    shutil.rmtree(mine)
    out = run(cli, ["identify", tmp_path / "other", "--gallery", db, files["c0_0"]], code=1)
    assert out.output.strip() == (
        f"Error: {db} was enrolled with the model in {mine}, which no longer exists, and its "
        "images cannot be compared with another model's: if that folder moved (a moved or "
        "cloned project), give the folder it is in now as MODEL; else restore it and give "
        f"{mine} as MODEL to use it, or enroll into a new gallery file."
    )
    net = siamkit.load_model(files["model"])
    with Gallery.open(tmp_path / "python.db", net) as g:  # no folder recorded
        g.enroll("alice", torch.zeros(1, 1, 28, 28))
    out = run(cli, ["identify", tmp_path / "other", "--gallery", tmp_path / "python.db",
                    files["c0_0"]], code=1).output  # fmt: skip
    assert "different model" in out


def test_a_tracker_is_named_as_one_with_what_to_give_instead(cli, files, tmp_path):
    """The built-in tracker was said to "not record the shape of the images it takes: it was
    saved before it saw any" (as if re-saving it would help); nothing is written."""
    from siamkit.applications.tracking.pretrained import PRETRAINED_DIR

    db, tracker = tmp_path / "g.db", PRETRAINED_DIR
    out = run(cli, ["enroll", tracker, "--gallery", db, "--label", "a", files["c0_0"]], code=1)
    said = out.output
    assert not db.exists()
    enroll_four(cli, files, db)
    before = db.read_bytes()
    said += run(cli, ["identify", tracker, "--gallery", db, files["c0_0"]], code=1).output
    args = ["verify", tracker, files["c0_0"], "--gallery", db, "--label", "class-0"]
    said += run(cli, args, code=1).output
    said += run(cli, ["verify", tracker, files["c0_0"], files["c1_0"]], code=1).output
    assert said.count("is a tracker (a SiamFC tracking model, used by `siamkit track`), not an "
                      "embedding model") == 4  # fmt: skip
    assert "a gallery needs one, e.g. a model `siamkit train` saved" in said
    assert said.count(f"a gallery needs one: give the model that enrolled {db}") == 2
    assert "verify compares embeddings: give an embedding model" in said
    assert "does not record the shape" not in said
    assert db.read_bytes() == before


def test_help_texts(cli):
    for args in (["enroll"], ["identify"], ["verify"], ["gallery"], ["gallery", "x.db", "remove"]):
        out = run(cli, [*args, "--help"])
        assert "Usage" in out.output and ("Example" in out.output or "LABEL" in out.output)


@pytest.mark.parametrize("value", ["nan", "-0.5", "inf", "abc"])
def test_a_threshold_that_cannot_decide_is_refused(cli, files, value):
    """nan or a negative distance threshold decided every pair "different" (inf: "same")."""
    res = run(
        cli, ["verify", files["model"], files["c2_0"], files["c2_0"], "--threshold", value], code=2
    )
    assert "threshold" in res.output and (
        "finite number" in res.output or "not a number" in res.output
    )


def test_identify_on_an_empty_gallery_says_it_is_empty(cli, files, tmp_path):
    db = tmp_path / "g.db"
    run(cli, ["enroll", files["model"], "--gallery", db, "--label", "alice", files["c0_0"]])
    run(cli, ["gallery", db, "remove", "alice"])
    out = run(cli, ["identify", files["model"], "--gallery", db, files["c0_0"]]).output
    assert "unknown" in out and "is empty: enroll images first" in out
    doc = json.loads(
        run(cli, ["identify", files["model"], "--gallery", db, files["c0_0"], "--json"]).stdout
    )
    assert doc["gallery_empty"] is True and doc["queries"][0]["unknown"] is True


def test_enrolling_an_image_again_skips_it_and_says_how_many(cli, files, tmp_path):
    db, m = tmp_path / "g.db", files["model"]
    out = run(cli, ["enroll", m, "--gallery", db, "--label", "alice",
                    files["c0_0"], files["c0_1"], files["c0_0"], "--json"])  # fmt: skip
    doc = json.loads(out.stdout)
    assert len(doc["item_ids"]) == 2 and doc["num_items"] == 2  # given twice: stored once
    assert doc["skipped_already_enrolled"] == 1
    assert doc["skipped"] == {"alice": [str(files["c0_0"])]}  # which one: the second c0_0
    assert doc["metadata_not_applied"] == []
    copy = tmp_path / "copy.png"  # the same picture under another name, in another batch
    copy.write_bytes(files["c0_1"].read_bytes())
    out = run(cli, ["enroll", m, "--gallery", db, "--label", "alice", copy, files["c1_0"]])
    assert out.output.splitlines() == [
        f"enrolled 1 image of 1 label into {db} (now 3 items): alice 1",
        "skipped 1 image already enrolled under the same label (the same image: the same "
        "embedding)",
    ]
    out = run(cli, ["enroll", m, "--gallery", db, "--label", "alice", files["c0_0"], copy])
    assert out.output.startswith(f"enrolled 0 images of 0 labels into {db} (now 3 items)\n")
    assert "skipped 2 images already enrolled" in out.output
    folder = tmp_path / "people"  # a repeat is per label: bob may hold alice's picture
    for name, src in (("alice", "c0_0"), ("bob", "c0_0"), ("bob", "c2_0")):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / f"{src}.png").write_bytes(files[src].read_bytes())
    doc = json.loads(run(cli, ["enroll", m, "--gallery", db, folder, "--json"]).stdout)
    assert [(d["label"], len(d["item_ids"])) for d in doc["labels"]] == [("alice", 0), ("bob", 2)]
    assert doc["num_items"] == 5 and doc["skipped_already_enrolled"] == 1
    with Gallery.open(db, siamkit.load_model(m)) as g:
        assert [(i.label, i.count) for i in g.labels()] == [("alice", 3), ("bob", 2)]


def test_enroll_keeps_the_thumbnails_the_service_keeps(cli, files, tmp_path):
    """siamkit enroll kept no thumbnails while the service's /enroll does: a gallery filled from
    the shell and then served showed its matches and its labels' images without a picture. It
    keeps each enrolled image's thumbnail in the same side file, made as the service makes them
    (make_thumbnail of the file), none for an image skipped as a repeat, and the service then
    shows them."""
    from fastapi.testclient import TestClient

    from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for
    from siamkit.service import create_app
    from siamkit.service.thumbnails import data_url, make_thumbnail

    db, m = tmp_path / "g.db", files["model"]
    first = json.loads(
        run(cli, ["enroll", m, "--gallery", db, "--label", "alice",
                  files["c0_0"], files["c0_1"], "--json"]).stdout
    )  # fmt: skip
    folder = tmp_path / "people"  # labels from folders; alice's c0_1 again is a repeat
    for name, src in (("alice", "c0_1"), ("bob", "c2_0")):
        (folder / name).mkdir(parents=True)
        (folder / name / f"{src}.png").write_bytes(files[src].read_bytes())
    second = json.loads(run(cli, ["enroll", m, "--gallery", db, folder, "--json"]).stdout)
    assert second["skipped"] == {"alice": [str(folder / "alice" / "c0_1.png")]}
    (bob,) = second["labels"][1]["item_ids"]
    a0, a1 = first["item_ids"]
    thumb = {k: make_thumbnail(files[k].read_bytes()) for k in ("c0_0", "c0_1", "c2_0")}
    store = ThumbnailStore(thumbnails_path_for(db))
    try:
        assert store.get(range(100)) == {a0: thumb["c0_0"], a1: thumb["c0_1"], bob: thumb["c2_0"]}
        assert [i for i, _ in store.of_label("alice")] == [a0, a1]
    finally:
        store.close()
    with TestClient(create_app(siamkit.load_model(m), db)) as client:
        shown = {g["label"]: g["thumbnail"] for g in client.get("/gallery").json()["labels"]}
        assert shown == {"alice": data_url(thumb["c0_0"]), "bob": data_url(thumb["c2_0"])}
        name = files["c2_0"].name
        with files["c2_0"].open("rb") as f:
            found = client.post("/identify", files={"file": (name, f, "image/png")}).json()
        assert found["matches"][0]["item_id"] == bob
        assert found["matches"][0]["thumbnail"] == data_url(thumb["c2_0"])


def test_metadata_given_with_only_repeats_is_said_not_applied(cli, files, tmp_path):
    db, m = tmp_path / "g.db", files["model"]
    run(cli, ["enroll", m, "--gallery", db, "--label", "alice", files["c0_0"],
              "--metadata", '{"team": "ops"}'])  # fmt: skip
    folder = tmp_path / "people"  # alice: only a repeat; bob: new
    for name, src in (("alice", "c0_0"), ("bob", "c1_0")):
        (folder / name).mkdir(parents=True)
        (folder / name / f"{src}.png").write_bytes(files[src].read_bytes())
    new_meta = ["--metadata", '{"team": "dev"}']
    out = run(cli, ["enroll", m, "--gallery", db, folder, *new_meta])
    assert out.output.splitlines()[1] == (
        "skipped 1 image already enrolled under the same label (the same image: the same "
        "embedding); --metadata was not applied to alice, which got no new image"
    )
    doc = json.loads(run(cli, ["enroll", m, "--gallery", db, folder, *new_meta, "--json"]).stdout)
    assert doc["metadata_not_applied"] == ["alice", "bob"]  # now bob's image is a repeat too
    assert doc["skipped"] == {
        "alice": [str(folder / "alice" / "c0_0.png")],
        "bob": [str(folder / "bob" / "c1_0.png")],
    }
    out = run(cli, ["enroll", m, "--gallery", db, folder])  # no --metadata: nothing to say
    assert "--metadata" not in out.output and "skipped 2 images" in out.output
    with Gallery.open(db, siamkit.load_model(m)) as g:  # the store kept alice's metadata
        assert {i.label: i.metadata for i in g.labels()} == {
            "alice": {"team": "ops"},
            "bob": {"team": "dev"},
        }


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["enroll", "{model}", "--gallery", "{db}", "{image}"], "--label"),
        (["verify", "{model}", "{image}", "--gallery", "{db}"], "--label"),
        (["face", "enroll", "--gallery", "{db}", "{image}"], "--label"),
        (["signature", "enroll", "--gallery", "{db}", "{image}"], "--writer"),
    ],
)
def test_a_label_given_twice_is_refused_not_the_last_one_kept(
    files: dict[str, Path], tmp_path: Path, command: list[str], option: str
) -> None:
    """click keeps the last of a repeated option: `--label a --label b` enrolled everything as b."""
    from siamkit.cli.main import cli as siamkit_cli

    db = tmp_path / "g.db"
    image = files["c0_0"]
    args = [a.format(model=files["model"], db=db, image=image) for a in command]
    res = CliRunner().invoke(siamkit_cli, [*args, option, "a", option, "b"])
    assert res.exit_code == 2, res.output
    assert res.output.splitlines()[-1] == f"Error: {option} was given 2 times (a, b); give it once"
    assert not db.exists()


def test_gallery_list_is_a_table_with_metadata_only_when_any(cli, files, tmp_path):
    """`gallery list`: a header row, no trailing spaces, and a metadata column only when some
    label has metadata ("-" for those without); --json keeps every label's metadata."""
    db = tmp_path / "g.db"
    enroll_four(cli, files, db)
    assert run(cli, ["gallery", db, "list"]).stdout.splitlines() == [
        "label    items",
        "-------  -----",
        "class-0  1",
        "class-1  1",
        "class-2  1",
        "class-3  1",
    ]
    model, image = files["model"], files["c0_1"]
    run(
        cli, ["enroll", model, "--gallery", db, "--label", "alice", "--metadata", '{"a": 1}', image]
    )
    assert run(cli, ["gallery", db, "list"]).stdout.splitlines() == [
        "label    items  metadata",
        "-------  -----  --------",
        'alice    1      {"a": 1}',
        "class-0  1      -",
        "class-1  1      -",
        "class-2  1      -",
        "class-3  1      -",
    ]
    labels = json.loads(run(cli, ["gallery", db, "list", "--json"]).stdout)["labels"]
    assert labels[0] == {"label": "alice", "count": 1, "metadata": {"a": 1}}
    assert labels[1] == {"label": "class-0", "count": 1, "metadata": None}
