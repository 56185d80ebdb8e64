"""``siamkit text identify`` and ``siamkit text verify``: the nearest enrolled texts of a gallery
that ``siamkit text enroll`` filled, from the shell, answered as the service's ``/identify`` and
``/verify`` and ``Gallery.identify`` answer on the same gallery (issue 16)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from siamkit.cli.main import cli
from siamkit.index.embedding import CALIBRATED

TICKETS = {
    "T-1": "the printer is out of toner",
    "T-2": "vpn login fails at home",
    "T-3": "battery drains quickly",
    "T-4": "please reset my password",
}
QUERIES = ["printer needs new toner", "the battery runs out fast"]
QUESTIONS = ["how do I list the files of a folder?", "which tool prints disk usage?"]
ANSWERS = [
    "ls: list information about the files of the current directory by default.",
    "du: summarize the disk usage of each file, recursively for directories.",
]


def run(args: list[Any], code: int = 0) -> Result:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def write_corpus(path: Path, texts: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()))
    return path


def enroll(tmp: Path, model: Path, texts: dict[str, str], name: str = "tickets.db") -> Path:
    gallery = tmp / name
    corpus = write_corpus(tmp / f"{name}.jsonl", texts)
    run(["text", "enroll", corpus, "--gallery", gallery, "--model", model, "--device", "cpu",
         "--no-progress"])  # fmt: skip
    return gallery


def identify(gallery: Path, model: Path, *args: Any, code: int = 0) -> Result:
    return run(["text", "identify", *args, "--gallery", gallery, "--model", model,
                "--device", "cpu", "--no-progress"], code)  # fmt: skip


def tiny_model(tiny_hf: Path, folder: Path, threshold: float | None = None, **kw: Any) -> Path:
    """The tiny BERT as a saved siamkit text model (with a calibrated ``threshold``)."""
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import save_model

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8, **kw)
    net.threshold = threshold
    return save_model(net, folder)


@pytest.fixture
def model(tiny_hf: Path, tmp_path: Path) -> Path:
    # a threshold only the same text reaches: a different ticket is unknown (the tiny random
    # BERT puts every pair of texts at a cosine near 0.9)
    return tiny_model(tiny_hf, tmp_path / "model", threshold=1e-4)


def test_identify_answers_as_the_service_and_the_gallery_do(model: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.index import Gallery

    gallery = enroll(tmp_path, model, TICKETS)
    queries = [*QUERIES, TICKETS["T-3"]]
    got = json.loads(identify(gallery, model, *queries, "--k", "3", "--json").stdout)
    assert got["threshold_source"] == CALIBRATED
    assert got["max_distance"] == pytest.approx(1e-4)
    assert [q["query"] for q in got["queries"]] == queries
    assert [q["id"] for q in got["queries"]] == ["1", "2", "3"]
    net = load_text_model(model)
    with Gallery.open(gallery, net, create=False) as g:
        want = [g.identify(q, k=3) for q in queries]
    for q, w in zip(got["queries"], want):
        assert q["label"] == w.label
        assert [m["label"] for m in q["matches"]] == [m.label for m in w.matches]
        assert [m["item_id"] for m in q["matches"]] == [m.item_id for m in w.matches]
        assert [m["accepted"] for m in q["matches"]] == [m.accepted for m in w.matches]
        np.testing.assert_allclose(
            [m["distance"] for m in q["matches"]], [m.distance for m in w.matches], atol=1e-5
        )
        for m in q["matches"]:
            assert m["similarity"] == pytest.approx(1 - m["distance"])
            assert m["text"] == TICKETS[m["label"]]  # the stored snippet of the matched item
    # the same text is accepted; the others are unknown at the calibrated threshold
    assert [q["label"] for q in got["queries"]] == [None, None, "T-3"]
    assert [q["unknown"] for q in got["queries"]] == [True, True, False]

    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(net, gallery)) as c:
        served = [c.post("/identify", json={"text": q, "k": 3}).json() for q in queries]
    for q, s in zip(got["queries"], served):
        assert q["label"] == s["label"]
        assert got["max_distance"] == pytest.approx(s["threshold"])
        assert [(m["label"], m["item_id"], m["accepted"], m["text"]) for m in q["matches"]] == [
            (m["label"], m["item_id"], m["accepted"], m["text"]) for m in s["matches"]
        ]
        np.testing.assert_allclose(
            [m["distance"] for m in q["matches"]], [m["distance"] for m in s["matches"]], atol=1e-5
        )


def test_the_plain_answer_lists_matches_best_first_with_the_threshold_and_its_source(
    model: Path, tmp_path: Path
) -> None:
    gallery = enroll(tmp_path, model, TICKETS)
    out = identify(gallery, model, QUERIES[0], TICKETS["T-2"], "--k", "2").stdout
    lines = out.splitlines()
    assert lines[0] == f'"{QUERIES[0]}": unknown'
    assert re.match(r"  T-\d +similarity [\d.]+  distance [\d.]+  rejected  ", lines[1]), out
    assert lines[3] == f'"{TICKETS["T-2"]}": T-2'
    assert lines[4].startswith("  T-2 ")
    # the matched text, then where text enroll read it (the corpus's line 2)
    assert lines[4].endswith(f"accepted  {TICKETS['T-2']}  (from {gallery}.jsonl:2)"), out
    assert lines[-1] == f"threshold: similarity >= {1 - 1e-4:.4f} ({CALIBRATED})"
    # a threshold given: every nearest label is taken, and the source says so
    given = identify(gallery, model, QUERIES[0], "--threshold", "-1", "--k", "1").stdout
    assert given.splitlines()[0] != f'"{QUERIES[0]}": unknown'
    assert given.splitlines()[-1] == "threshold: similarity >= -1.0000 (given)"


def test_queries_from_a_file_are_named_by_their_ids(model: Path, tmp_path: Path) -> None:
    gallery = enroll(tmp_path, model, TICKETS)
    queries = write_corpus(tmp_path / "new.jsonl", {"N-1": QUERIES[0], "N-2": TICKETS["T-4"]})
    got = json.loads(identify(gallery, model, "--file", queries, "--k", "1", "--json").stdout)
    assert [(q["id"], q["label"]) for q in got["queries"]] == [("N-1", None), ("N-2", "T-4")]
    plain = identify(gallery, model, "--file", queries, "--k", "1").stdout
    assert plain.splitlines()[2] == "N-2: T-4"
    # a text file is one query, as text enroll reads it: said when it has several lines
    lines = tmp_path / "new.txt"
    lines.write_text(f"{QUERIES[0]}\n{QUERIES[1]}\n")
    res = identify(gallery, model, "--file", lines, "--json")
    assert len(json.loads(res.stdout)["queries"]) == 1
    assert "is read as one query, whatever its lines" in res.stderr
    # a folder of text files: a query per file, named by its file
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "a.txt").write_text(QUERIES[0])
    (folder / "b.txt").write_text(TICKETS["T-4"])
    got = json.loads(identify(gallery, model, "--file", folder, "--k", "1", "--json").stdout)
    assert sorted((q["id"], q["label"]) for q in got["queries"]) == [
        ("a.txt", None),
        ("b.txt", "T-4"),
    ]


def test_a_half_twin_searches_with_its_query_tower(
    half_twin_net: Callable[[float], Any], tmp_path: Path
) -> None:
    """The gallery holds the document tower's embeddings of the answers; the questions must be
    embedded with the query tower, as the service's /identify does (not the document tower)."""
    from siamkit.applications.text import load_text_model
    from siamkit.export.bundle import save_model

    net = half_twin_net(0.2)
    model = save_model(net, tmp_path / "model")
    net = load_text_model(model)
    with torch.inference_mode():
        docs = net.embed(ANSWERS, role="document").numpy()
        by_query = net.embed(QUESTIONS).numpy()
        by_document = net.embed(QUESTIONS, role="document").numpy()
    want, wrong = 1.0 - by_query @ docs.T, 1.0 - by_document @ docs.T  # (Q, A)
    assert np.abs(want - wrong).min() > 1e-3  # the towers' answers differ: the test tells them
    gallery = enroll(tmp_path, model, {f"FAQ-{i}": a for i, a in enumerate(ANSWERS)})
    got = json.loads(identify(gallery, model, *QUESTIONS, "--k", "2", "--json").stdout)
    for row, q in zip(want, got["queries"]):
        found = {m["label"]: m["distance"] for m in q["matches"]}
        np.testing.assert_allclose([found["FAQ-0"], found["FAQ-1"]], row, atol=1e-4)
    verified = run(["text", "verify", QUESTIONS[1], "--gallery", gallery, "--label", "FAQ-1",
                    "--model", model, "--device", "cpu", "--json"])  # fmt: skip
    assert json.loads(verified.stdout)["distance"] == pytest.approx(float(want[1, 1]), abs=1e-4)


def test_verify_answers_as_the_gallery_against_a_label(model: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.index import Gallery

    gallery = enroll(tmp_path, model, TICKETS)

    def verify(text: str, label: str, *more: str, code: int = 0) -> Result:
        return run(["text", "verify", text, "--gallery", gallery, "--label", label,
                    "--model", model, "--device", "cpu", *more], code)  # fmt: skip

    same = json.loads(verify(TICKETS["T-1"], "T-1", "--json").stdout)
    other = json.loads(verify(QUERIES[0], "T-1", "--json").stdout)
    with Gallery.open(gallery, load_text_model(model), create=False) as g:
        want = g.verify(QUERIES[0], "T-1")
    assert (same["same"], other["same"]) == (True, False) and want.same is False
    assert other["distance"] == pytest.approx(want.distance, abs=1e-5)
    assert other["similarity"] == pytest.approx(1 - other["distance"])
    assert other["threshold_source"] == CALIBRATED
    assert verify(QUERIES[0], "T-1").stdout.startswith("not T-1: similarity ")
    assert verify(QUERIES[0], "T-1", "--threshold", "-1").stdout.startswith("T-1: similarity ")
    missing = verify(QUERIES[0], "T-9", code=1)
    assert "label 'T-9' is not in the gallery" in missing.output


def test_a_gallery_of_another_text_model_is_refused_naming_the_one_that_enrolled(
    model: Path, tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import save_model

    gallery = enroll(tmp_path, model, TICKETS)
    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    with torch.no_grad():
        next(net.parameters()).add_(0.01)  # another model: other weights
    other = save_model(net, tmp_path / "other")
    res = identify(gallery, other, QUERIES[0], code=1)
    assert res.output.strip() == (
        f"Error: {gallery} was enrolled with the model in {model.resolve()}, not {other}, and "
        f"its texts cannot be compared with another model's: pass --model {model.resolve()}, or "
        "enroll into a new gallery file."
    )


def test_an_image_gallery_is_refused_naming_the_command_that_searches_it(
    model: Path, tmp_path: Path
) -> None:
    from PIL import Image

    import siamkit

    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.5,), input_shape=(1, 28, 28))
    images = siamkit.save_model(
        siamkit.SiameseNetwork(encoder, embedding_dim=16, preprocess=pre), tmp_path / "images"
    )
    photo = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(photo)
    gallery = tmp_path / "staff.db"
    run(["enroll", images, "--gallery", gallery, "--label", "alice", photo])
    res = identify(gallery, model, QUERIES[0], code=1)
    assert res.output.strip() == (
        f"Error: {gallery} holds images enrolled with the image model {images.resolve()}, not "
        f"texts: search it with `siamkit identify {images.resolve()} --gallery {gallery} IMAGE` "
        "(faces: `siamkit face identify`), or enroll your texts into a new gallery file with "
        "`siamkit text enroll CORPUS --gallery NEW.db`."
    )
    # without --model the image model it recorded is not taken for a text model
    alike = run(["text", "identify", QUERIES[0], "--gallery", gallery], code=1)
    assert alike.output.strip() == res.output.strip()
    # text enroll opens an existing gallery as identify does: refused alike, left unchanged
    corpus = write_corpus(tmp_path / "t.jsonl", TICKETS)
    enrolled = run(["text", "enroll", corpus, "--gallery", gallery, "--model", model], code=1)
    assert enrolled.output.strip() == res.output.strip()
    # an image gallery the service filled records no model folder, but keeps PNG thumbnails
    from siamkit.index import Gallery
    from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

    served = tmp_path / "served.db"
    with Gallery.open(served, siamkit.load_model(images)) as g:
        ids = g.enroll("alice", torch.zeros(1, 1, 28, 28))
    store = ThumbnailStore(thumbnails_path_for(served))
    store.put("alice", list(ids), [photo.read_bytes()])
    store.close()
    res = identify(served, model, QUERIES[0], code=1)
    assert "holds images (enrolled through `siamkit serve` with an image model)" in res.output
    assert f"`siamkit identify MODEL --gallery {served} IMAGE`" in res.output


def test_bad_queries_and_a_missing_gallery_are_refused_before_the_model_loads(
    model: Path, tmp_path: Path
) -> None:
    gallery = tmp_path / "none.db"
    res = identify(gallery, model, QUERIES[0], code=1)
    assert res.output.strip() == (
        f"Error: no gallery at {gallery}: enroll texts into it first with `siamkit text enroll "
        f"CORPUS --gallery {gallery} --model {model}`"
    )
    assert not gallery.exists()
    both = identify(gallery, model, "x", "--file", model / "siamkit.json", code=2)
    assert "give the queries as QUERY arguments or with --file F, not both" in both.output
    hint = " ".join(identify(gallery, model, code=2).output.split())
    assert (
        "give a QUERY text, or --file F: a .jsonl or .csv (a query per line or row), a folder of "
        "text files (a query per file) or a text file (one query)"
    ) in hint
    assert "QUERY 2 is empty" in identify(gallery, model, "a", " ", code=1).output
    blank = ["text", "verify", " ", "--gallery", gallery, "--label", "T-1", "--model", model]
    assert "Error: QUERY is empty; every text needs" in run(blank, code=1).output


def test_an_empty_gallery_says_so(model: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.index import Gallery

    gallery = tmp_path / "empty.db"
    Gallery.open(gallery, load_text_model(model)).close()
    got = json.loads(identify(gallery, model, QUERIES[0], "--json").stdout)
    assert got["gallery_empty"] is True
    assert got["queries"][0]["matches"] == [] and got["queries"][0]["label"] is None
    assert "is empty: enroll texts first" in identify(gallery, model, QUERIES[0]).stdout


def test_progress_is_shown_and_no_progress_silences_it(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamkit.progress import Progress, is_enabled, set_enabled

    real = Progress.__init__

    def eager(self: Progress, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **{**kwargs, "delay": 0, "tty": False})

    monkeypatch.setattr(Progress, "__init__", eager)
    gallery = enroll(tmp_path, model, TICKETS)
    was = is_enabled()
    try:
        args = ["text", "identify", *QUERIES, "--gallery", gallery, "--model", model]
        shown, quiet = run(args), run([*args, "--no-progress"])
    finally:
        set_enabled(was)
    assert re.search(r"^embedding the queries: 100% \(2/2 texts\)", shown.stderr, re.M), (
        shown.stderr
    )
    assert "embedding" not in quiet.stderr and quiet.stdout == shown.stdout


def test_without_model_the_commands_use_the_model_the_gallery_recorded(
    model: Path, tmp_path: Path
) -> None:
    """A gallery filled with `text enroll --model M` was refused by identify/verify without
    --model ('pass --model M'): they loaded all-MiniLM-L6-v2. Now they, and enroll into the
    existing gallery, load M, as the face and signature commands do, and say so."""
    gallery = enroll(tmp_path, model, TICKETS)
    recorded = str(model.resolve())
    base = ["--gallery", gallery, "--device", "cpu", "--no-progress", "--json"]
    got = run(["text", "identify", QUERIES[0], TICKETS["T-2"], "--k", "2", *base])
    given = json.loads(
        identify(gallery, model, QUERIES[0], TICKETS["T-2"], "--k", "2", "--json").stdout
    )
    doc = json.loads(got.stdout)
    assert (doc["model"], doc["model_source"]) == (recorded, "gallery")
    assert (given["model"], given["model_source"]) == (str(model), "--model")
    assert doc["queries"] == given["queries"]
    note = f"model: {recorded} (recorded in {gallery} by text enroll)"
    assert got.stderr.splitlines() == [note]
    assert "model:" not in identify(gallery, model, QUERIES[0]).stderr  # --model: nothing to say
    plain = run(["text", "identify", TICKETS["T-2"], "--gallery", gallery, "--no-progress"])
    assert plain.stdout.splitlines()[0] == f'"{TICKETS["T-2"]}": T-2' and note in plain.stderr

    verified = run(["text", "verify", TICKETS["T-1"], "--label", "T-1", *base[:-2], "--json"])
    v = json.loads(verified.stdout)
    assert (v["same"], v["model"], v["model_source"]) == (True, recorded, "gallery")
    assert verified.stderr.splitlines() == [note]

    more = write_corpus(tmp_path / "more.jsonl", {"T-5": "the monitor flickers"})
    added = run(["text", "enroll", more, *base])
    assert (json.loads(added.stdout)["enrolled"], json.loads(added.stdout)["num_items"]) == (1, 5)
    assert added.stderr.splitlines() == [note]  # (its --json keeps its keys: enroll's tests)
    # a new gallery records nothing: enroll without --model takes the default, saying nothing
    from siamkit.cli.text_identify import gallery_model

    fresh = gallery_model(None, str(tmp_path / "new.db"))
    assert (fresh.path, fresh.source, fresh.note) == (None, "default", None)


def test_a_recorded_model_folder_that_is_gone_is_named_with_what_to_pass(
    model: Path, tmp_path: Path
) -> None:
    gallery = enroll(tmp_path, model, TICKETS)
    recorded = model.resolve()
    moved = model.rename(tmp_path / "moved")
    sentence = (
        f"Error: {gallery} was enrolled with the model in {recorded}, which no longer exists, and "
        "its texts cannot be compared with another model's: if that folder moved (a moved or "
        "cloned project), pass --model with the folder it is in now (enrolling with it records "
        "that folder); else restore it and leave out "
        "--model, or pass --model with the folder that model is in now, or enroll into a new "
        "gallery file."
    )
    for cmd in (["identify", QUERIES[0]], ["verify", QUERIES[0], "--label", "T-1"]):
        res = run(["text", *cmd, "--gallery", gallery, "--device", "cpu"], code=1)
        assert res.output.strip() == sentence
    corpus = write_corpus(tmp_path / "more.jsonl", {"T-5": "the monitor flickers"})
    res = run(["text", "enroll", corpus, "--gallery", gallery, "--device", "cpu"], code=1)
    assert res.output.strip() == sentence
    # the model given where it is now still opens the gallery (the same fingerprint)
    got = json.loads(identify(gallery, moved, TICKETS["T-3"], "--json").stdout)
    assert got["queries"][0]["label"] == "T-3" and got["model_source"] == "--model"


def test_identify_and_verify_embed_with_the_onnx_export_of_the_query_tower(
    half_twin_net: Callable[[float], Any], tmp_path: Path
) -> None:
    """--runtime onnx (the export's query graph text.onnx; enroll embeds with text.document.onnx)
    ranks as PyTorch does, the distances within export precision."""
    pytest.importorskip("onnxruntime")
    from siamkit.export.bundle import save_model

    net = half_twin_net(0.2)
    model = save_model(net, tmp_path / "model")
    net.export_onnx_folder(model / "onnx", int8=True)
    faq = {f"FAQ-{i}": a for i, a in enumerate([*ANSWERS, *TICKETS.values()])}
    gallery = enroll(tmp_path, model, faq)
    queries = [*QUESTIONS, *QUERIES]

    def answer(*extra: str) -> list[list[tuple[str, float]]]:
        doc = json.loads(identify(gallery, model, *queries, "--k", "6", "--json", *extra).stdout)
        assert doc["runtime"] == (extra[1] if extra else "torch")
        return [[(m["label"], m["distance"]) for m in q["matches"]] for q in doc["queries"]]

    torch_, onnx = answer(), answer("--runtime", "onnx")
    for t, o in zip(torch_, onnx):
        dists = np.array([d for _, d in t])
        assert np.diff(dists).min() > 1e-3  # gaps wider than the tolerance: the ranking is real
        assert [label for label, _ in o] == [label for label, _ in t]
        np.testing.assert_allclose([d for _, d in o], dists, atol=1e-4)
    int8 = answer("--runtime", "onnx-int8")  # the int8 graph's distances differ: it ran
    assert max(abs(d - dict(t)[label]) for t, q in zip(torch_, int8) for label, d in q) > 1e-5

    def verify(*extra: str) -> float:
        res = run(["text", "verify", QUESTIONS[1], "--gallery", gallery, "--label", "FAQ-1",
                   "--model", model, "--json", *extra])  # fmt: skip
        return float(json.loads(res.stdout)["distance"])

    assert verify("--runtime", "onnx") == pytest.approx(verify(), abs=1e-4)
    assert dict(torch_[1])["FAQ-1"] == pytest.approx(verify(), abs=1e-5)
    # the ONNX runtime runs on the CPU, and needs an export
    gpu = run(["text", "verify", "x", "--gallery", gallery, "--label", "FAQ-1", "--runtime",
               "onnx", "--device", "cuda"], code=2)  # fmt: skip
    assert "--runtime onnx embeds on the CPU" in gpu.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = identify(gallery, model, "x", "--runtime", "onnx", "--onnx-dir", empty, code=1)
    assert "holds no exported text.onnx" in res.output
