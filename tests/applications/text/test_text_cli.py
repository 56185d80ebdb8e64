"""siamkit text similarity / dedup / plagiarism end to end (the pretrained model, loaded once)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from siamkit.cli import _text_common
from siamkit.cli.main import cli


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


SOURCE = (
    "The national executive appointed a little-known senator as interim leader last night. "
    "The move is likely to provoke further conflict between the senators and the organisation. "
    "Financial markets rallied strongly after the central bank cut interest rates on Tuesday. "
    "Bushfires burned through thousands of hectares of forest west of Sydney over the weekend."
)
ESSAY = (
    "My essay starts with an original thought about gardening and tomatoes in spring. "
    "The national executive last night appointed a little known senator as the interim leader. "
    "This move will likely provoke more conflict between senators and the organisation. "
    "Then I write about my holiday at the beach with my grandparents and their dog."
)


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])


def test_similarity_scores_and_decides(run, text_model) -> None:
    res = run("similarity", "A man is playing guitar.", "Someone plays a guitar.", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    z = text_model.embed(["A man is playing guitar.", "Someone plays a guitar."])
    assert out["similarity"] == pytest.approx(float(z[0] @ z[1]), abs=1e-5)
    assert out["same"] is True and "Lee background" in out["threshold_source"]
    assert "not all-MiniLM-L6-v2" not in out["threshold_source"]
    res = run(
        "similarity", "A man is playing guitar.", "The stock market fell.", "--threshold", "0.1"
    )
    assert res.exit_code == 0 and "different" in res.output and "given" in res.output


def test_bad_threshold_and_empty_text_are_one_sentence(run) -> None:
    res = run("similarity", "a", "b", "--threshold", "1.5")
    assert res.exit_code != 0 and "lies in [-1, 1], got 1.5" in res.output
    res = run("similarity", " ", "b")  # the arguments are A and B, not texts 0 and 1
    assert res.exit_code != 0 and "Error: A is empty" in res.output
    res = run("similarity", "a", "\u200b")
    assert res.exit_code != 0 and "Error: B is empty" in res.output


def test_bad_option_values_are_usage_errors(run, monkeypatch, tmp_path) -> None:
    """A --threshold, --device or --dim that cannot be used is a usage error (exit 2) in every
    text command, as a --batch-size of 0 or an unknown --rule is: `text similarity --threshold
    1.5` exited 1. --threshold and --device are refused before the model loads."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n{"id": "b", "text": "a dog"}\n')
    suspect = tmp_path / "essay.txt"
    suspect.write_text(ESSAY)
    out = tmp_path / "g.jsonl"
    commands = [
        ["similarity", "a cat", "a dog"],
        ["dedup", str(corpus), "--out", str(out)],
        ["plagiarism", str(suspect), "--corpus", str(corpus)],
    ]
    for command in commands:
        for value, said in (("1.5", "lies in [-1, 1], got 1.5"), ("x", "'auto' or a cosine")):
            res = run(*command, "--threshold", value)
            assert res.exit_code == 2, (command, res.output)
            assert "Invalid value for '--threshold': " in res.output and said in res.output
        res = run(*command, "--dim", "999")
        assert res.exit_code == 2, (command, res.output)
        assert "--dim 999 is not a size of this 384-dimensional model" in res.output
    monkeypatch.setattr(_text_common, "_model", lambda *a, **k: pytest.fail("the model loaded"))
    enroll = ["enroll", str(corpus), "--gallery", str(tmp_path / "g.db")]
    for command in [*commands, enroll]:
        res = run(*command, "--device", "gpu")
        assert res.exit_code == 2, (command, res.output)
        assert "Invalid value for '--device': unknown device 'gpu'" in res.output
    for command in commands:
        assert run(*command, "--threshold", "-1.5").exit_code == 2
    assert not out.exists() and not (tmp_path / "g.db").exists()


def test_dedup_writes_groups(run, tmp_path) -> None:
    sents = SOURCE.split(". ")
    rows = [{"id": f"s{i}", "text": s} for i, s in enumerate(sents)]
    rows += [{"id": "copy0", "text": sents[0].replace("last night", "yesterday evening")}]
    rows += [{"id": "copy2", "text": sents[2] + " "}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(
        "dedup", str(corpus), "--out", str(tmp_path / "g.jsonl"), "--threshold", "0.8", "--json"
    )
    assert res.exit_code == 0, res.output
    groups = [json.loads(x) for x in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert sorted(sorted(m["id"] for m in g["members"]) for g in groups) == [
        ["copy0", "s0"],
        ["copy2", "s2"],
    ]
    assert json.loads(res.stdout)["search"] == "exact"
    # above --faiss-above: the graph is built in one FAISS call, said on stderr before it
    res = run("dedup", str(corpus), "--out", str(tmp_path / "f.jsonl"), "--threshold", "0.8",
              "--json", "--faiss-above", "3")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["search"] == "faiss-hnsw"
    assert "building a FAISS HNSW graph of 6 vectors" in res.stderr
    assert (tmp_path / "f.jsonl").read_text() == (tmp_path / "g.jsonl").read_text()


FIRE = (
    "Bushfires burned through thousands of hectares of forest west of Sydney over the weekend. "
    "Firefighters said strong winds pushed the fire front towards several small towns. "
    "Residents of two villages were told to leave their homes on Saturday night. "
    "No deaths have been reported, but dozens of houses were destroyed."
)
FIRE_COPY = (  # a sentence deleted, two swapped, a typo
    "Bushfires burned through thousands of hectares of forest west of Sydney over the weekend. "
    "Residents of two villages were told to leave their homes on Saturday nihgt. "
    "Firefighters said strong winds pushed the fire front toward several small towns."
)
FIRE_STORY = (  # the same story, other sentences
    "Fire crews battled blazes in the Blue Mountains on Sunday as hot weather returned. "
    "The premier visited an evacuation centre and praised volunteers for their courage. "
    "Weather forecasters expect cooler conditions and some rain by Tuesday."
)


def test_dedup_by_passages_scores_coverage(run, text_model, tmp_path) -> None:
    from siamkit.applications.text.passages import split_sentences

    rows = [
        {"id": "fire", "text": FIRE},
        {"id": "copy", "text": FIRE_COPY},
        {"id": "story", "text": FIRE_STORY},
        {"id": "markets", "text": SOURCE},
    ]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "g.jsonl"
    res = run("dedup", str(corpus), "--out", str(out), "--by", "passages", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["scoring"] == "passages" and summary["min_similarity"] == pytest.approx(0.68)
    assert "passage-coverage default" in summary["threshold_source"]
    assert summary["min_similarity_one_sentence"] == pytest.approx(0.88)
    (group,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(m["id"] for m in group["members"]) == ["copy", "fire"]

    def sentences(t: str):  # type: ignore[no-untyped-def]
        return text_model.embed([p.text for p in split_sentences(t)]).numpy()

    a, b = sentences(FIRE), sentences(FIRE_COPY)  # by hand: each sentence's best match, averaged
    sims = a @ b.T
    want = min(sims.max(1).mean(), sims.max(0).mean())
    assert group["min_similarity"] == pytest.approx(float(want), abs=1e-4)
    assert group["members"][1]["similarity"] == pytest.approx(float(want), abs=1e-4)
    res = run("dedup", str(corpus), "--out", str(out), "--by", "passages", "--threshold", "0.99")
    assert res.exit_code == 0 and "0 duplicate groups" in res.output
    assert "passage coverage >= 0.9900 (given)" in res.output


def test_dedup_says_the_threshold_in_each_group_and_the_summary(run, tmp_path) -> None:
    """groups.jsonl's min_similarity is the group's weakest linked pair while the --json
    summary's is the threshold, and the groups file did not say the threshold at all: both now
    carry it as threshold (the summary's min_similarity kept), and --help says which is which."""
    rows = [{"id": "fire", "text": FIRE}, {"id": "copy", "text": FIRE_COPY}]
    rows += [{"id": "markets", "text": SOURCE}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "g.jsonl"
    for by, one_sentence in (("documents", False), ("passages", True)):
        res = run("dedup", str(corpus), "--out", str(out), "--by", by, "--threshold", "0.6",
                  "--json")  # fmt: skip
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout)
        assert summary["threshold"] == summary["min_similarity"] == pytest.approx(0.6)
        (group,) = [json.loads(x) for x in out.read_text().splitlines()]
        assert group["threshold"] == summary["threshold"]
        assert group["min_similarity"] > group["threshold"]  # the weakest pair, not the threshold
        if one_sentence:
            assert group["threshold_one_sentence"] == summary["threshold_one_sentence"]
            assert summary["threshold_one_sentence"] == summary["min_similarity_one_sentence"]
        else:
            assert "threshold_one_sentence" not in group | summary
    said = " ".join(CliRunner().invoke(cli, ["text", "dedup", "--help"]).output.split())
    assert (
        "min_similarity, the score of the group's weakest linked pair (not the threshold)" in said
    )
    assert "The --json summary says the threshold as threshold" in said


def test_plagiarism_finds_the_copied_span(run, tmp_path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "news.txt").write_text(SOURCE)
    (tmp_path / "src" / "other.txt").write_text(
        "Cats sleep most of the day. Dogs like walks in parks."
    )
    (tmp_path / "essay.txt").write_text(ESSAY)
    out = tmp_path / "report.html"
    res = run(
        "plagiarism",
        str(tmp_path / "essay.txt"),
        "--corpus",
        str(tmp_path / "src"),
        "--out",
        str(out),
        "--json",
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert [s["source"] for s in rep["scores"]] == ["news.txt"]
    (span,) = rep["spans"]  # the two copied sentences merged into one span
    assert span["sentences"] == 2
    assert ESSAY[span["suspect_start"] : span["suspect_end"]].startswith("The national executive")
    assert SOURCE[span["source_start"] : span["source_end"]].endswith("organisation.")
    html = out.read_text()
    assert "<mark" in html and "news.txt" in html and "http" not in html and "<script" not in html


def test_not_utf8_suspect_names_file_line_and_byte(run, tmp_path) -> None:
    (tmp_path / "e.txt").write_bytes(b"abc\x80")
    res = run("plagiarism", str(tmp_path / "e.txt"), "--corpus", str(tmp_path / "e.txt"))
    assert res.exit_code != 0 and "e.txt line 1: byte 0x80 at offset 3 is not UTF-8" in res.output


def test_enroll_puts_a_corpus_in_a_gallery_the_service_shows(run, text_model, tmp_path) -> None:
    from siamkit.index import Gallery
    from siamkit.index.thumbnail_store import ThumbnailStore

    rows = [
        {"id": "T-1", "text": "The printer on floor two is out of toner."},
        {"id": "T-2", "text": "I cannot connect to the VPN from home."},
        {"id": "T-1", "text": "Printer toner is empty again."},  # a second text of T-1
    ]
    corpus = tmp_path / "tickets.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "tickets.db"
    res = run("enroll", str(corpus), "--gallery", str(db), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) | {"gallery": None} == {
        "texts": 3, "enrolled": 3, "skipped_already_enrolled": 0, "labels": 2, "gallery": None,
        "num_items": 3, "chunked_texts": 0, "runtime": "torch",
    }  # fmt: skip
    query = "The VPN will not connect."
    with Gallery.open(db, text_model, threshold=0.3) as g:
        assert {i.label: i.count for i in g.labels()} == {"T-1": 2, "T-2": 1}
        top = g.identify(query, k=2).matches
    z = text_model.embed([query, rows[1]["text"]])
    assert top[0].label == "T-2" and top[0].distance == pytest.approx(
        1 - float(z[0] @ z[1]), abs=1e-5
    )
    store = ThumbnailStore(str(db) + ".thumbs")
    texts = {i: b.decode() for i, b in store.of_label("T-1")}
    store.close()
    assert sorted(texts.values()) == sorted([rows[0]["text"], rows[2]["text"]])
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(text_model, db)) as client:
        r = client.post("/identify", json={"text": query, "k": 1}).json()
    assert r["matches"][0]["label"] == "T-2" and r["matches"][0]["text"] == rows[1]["text"]


def test_enroll_with_a_bad_id_writes_nothing(run, tmp_path) -> None:
    corpus = tmp_path / "c.csv"
    corpus.write_text('id,text\nok,"fine text"\n" ","a text with a blank id"\n')
    res = run("enroll", str(corpus), "--gallery", str(tmp_path / "g.db"))
    assert res.exit_code == 1 and f"{corpus} line 3 has an empty id" in res.output
    assert res.output.count("\n") == 1  # one sentence, no traceback
    assert list(tmp_path.iterdir()) == [corpus]  # no gallery, not even an empty one


def test_enroll_into_a_zero_byte_file_makes_a_new_gallery(run, tmp_path) -> None:
    """A gallery path made with touch / mktemp is a new gallery, as for image enroll: text enroll
    opened it as an existing one and was refused ('is empty (0 bytes) ... enroll something')."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "The printer is out of toner."}) + "\n")
    db = tmp_path / "g.db"
    db.touch()
    res = run("enroll", str(corpus), "--gallery", str(db), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["num_items"] == 1 and db.stat().st_size > 0


def test_device_reaches_the_model_and_onnx_refuses_a_gpu(text_model, monkeypatch, tmp_path):
    """--device: where PyTorch embeds (the text commands always embedded on the CPU, so a GPU
    machine deduplicated 200,000 texts on its CPU); the ONNX runtimes run on the CPU, and a GPU
    asked for with them is refused, not ignored."""
    import torch

    seen: list[object] = []

    def loaded(path, device=None):  # type: ignore[no-untyped-def]
        seen.append(device)
        return text_model

    monkeypatch.setattr(_text_common, "_model", loaded)
    res = CliRunner().invoke(cli, ["text", "similarity", "a cat", "a dog", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert seen == [torch.device("cpu")]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n{"id": "b", "text": "a dog"}\n')
    out = tmp_path / "groups.jsonl"
    for command in (
        ["dedup", str(corpus), "--out", str(out)],
        ["enroll", str(corpus), "--gallery", str(tmp_path / "g.db")],
    ):
        res = CliRunner().invoke(
            cli, ["text", *command, "--runtime", "onnx", "--device", "cuda", "--onnx-dir", "x"]
        )
        assert res.exit_code == 2, res.output
        assert "--runtime onnx embeds on the CPU: drop --device cuda" in res.output
    assert len(seen) == 1 and not out.exists() and not (tmp_path / "g.db").exists()


@pytest.mark.skipif(torch_cuda_available(), reason="checks the refusal on a machine without CUDA")
def test_a_gpu_that_is_not_there_is_one_sentence(tmp_path) -> None:
    out = tmp_path / "groups.jsonl"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n')
    res = CliRunner().invoke(
        cli, ["text", "dedup", str(corpus), "--out", str(out), "--device", "cuda"]
    )
    assert res.exit_code == 2 and "no usable CUDA GPU" in res.output, res.output  # a usage error
    assert "Traceback" not in res.output and not out.exists()


@pytest.mark.skipif(not torch_cuda_available(), reason="needs a CUDA GPU")
def test_dedup_on_a_gpu_finds_the_cpus_groups(tmp_path) -> None:
    sents = SOURCE.split(". ")
    rows = [{"id": f"s{i}", "text": s} for i, s in enumerate(sents)]
    rows += [{"id": "copy0", "text": sents[0].replace("last night", "yesterday evening")}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    groups = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.jsonl"
        args = ["text", "dedup", str(corpus), "--out", str(out), "--device", device]
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        groups[device] = [
            [m["id"] for m in json.loads(line)["members"]] for line in out.read_text().splitlines()
        ]
    assert groups["cuda"] == groups["cpu"] and groups["cpu"]


def test_enroll_records_the_model_folder_that_gallery_stats_names(tiny_hf, tmp_path) -> None:
    # `siamkit gallery PATH stats` showed an empty model_path for every gallery but signatures'
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n{"id": "b", "text": "a dog"}\n')
    db = tmp_path / "g.db"
    args = ["text", "enroll", str(corpus), "--gallery", str(db), "--model", str(tiny_hf)]
    res = CliRunner().invoke(cli, [*args, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["gallery", str(db), "stats", "--json"])
    assert json.loads(res.stdout)["model_path"] == str(tiny_hf.resolve()), res.output


def test_enroll_with_another_model_names_the_model_the_gallery_recorded(tiny_hf, tmp_path) -> None:
    # the gallery's refusal said 'Use the original model', naming none, where enroll --model
    # records the folder it enrolled with
    import shutil

    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text import load_text_model
    from siamkit.index import Gallery

    other = save_tiny_bert(tmp_path / "other", seed=1)
    first = tmp_path / "first"
    shutil.copytree(tiny_hf, first)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n')

    def enroll(db: object, model: object):  # type: ignore[no-untyped-def]
        args = ["text", "enroll", str(corpus), "--gallery", str(db), "--model", str(model)]
        return CliRunner().invoke(cli, [*args, "--device", "cpu", "--no-progress"])

    db = tmp_path / "g.db"
    assert enroll(db, first).exit_code == 0
    res = enroll(db, other)
    assert res.exit_code != 0
    said = (
        f"Error: {db} was enrolled with the model in {first.resolve()}, not {other}, and its texts "
        f"cannot be compared with another model's: pass --model {first.resolve()}, or enroll "
        "into a new gallery file."
    )
    assert said in " ".join(res.output.split()), res.output
    shutil.rmtree(first)
    shutil.copytree(other, first)  # retrained in place
    res = enroll(db, first)
    said = f"{db} records a fingerprint that the model in {first.resolve()}, which enrolled it,"
    assert said in " ".join(res.output.split()), res.output
    first.rename(tmp_path / "moved")
    res = enroll(db, other)
    said = (
        f"{db} was enrolled with the model in {first.resolve()}, which no longer exists, and its "
        "texts cannot be compared with another model's: if that folder moved (a moved or "
        "cloned project), pass --model with the folder it is in now (enrolling with it records "
        "that folder); else restore it and pass --model "
        f"{first.resolve()}, or enroll into a new gallery file."
    )
    assert said in " ".join(res.output.split()), res.output
    py = tmp_path / "py.db"  # enrolled from Python: no folder recorded
    with Gallery.open(py, load_text_model(tiny_hf), create=True) as g:
        g.enroll("a", ["a cat"])
    res = enroll(py, other)
    said = f"{py} was enrolled with another model than {other} and records no model folder ("
    assert said in " ".join(res.output.split()), res.output


def test_plagiarism_names_whose_share_each_source_covers(tiny_hf, tmp_path) -> None:
    # '  doc3.txt: 48.3% of the text': of the source's text or the suspect's? (the suspect's)
    sources = tmp_path / "sources"
    sources.mkdir()
    copied = "The bushfire burned thousands of hectares of forest west of Sydney."
    (sources / "doc3.txt").write_text(f"{copied} The town of Hill Top was saved by the crews.")
    essay = tmp_path / "essay.txt"
    essay.write_text(f"My essay begins with an original thought about gardening. {copied}")
    args = ["text", "plagiarism", str(essay), "--corpus", str(sources), "--model", str(tiny_hf)]
    res = CliRunner().invoke(cli, [*args, "--threshold", "0.999", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    share = json.loads(CliRunner().invoke(cli, [*args, "--threshold", "0.999", "--json"]).output)
    covered = share["scores"][0]["coverage"]
    assert f"  doc3.txt: {covered:.1%} of essay.txt, mean similarity 1.000" in res.output, (
        res.output
    )


def test_export_help_says_how_to_serve_an_export() -> None:
    """`text export --help` did not say how the service runs an export: serve runs MODEL/onnx,
    which `siamkit export MODEL --format onnx --int8` writes (test_service_text_onnx serves
    one), while an export elsewhere is for the torch-free runtime and --onnx-dir."""
    res = CliRunner().invoke(cli, ["text", "export", "--help"])
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert (
        "To serve an export: `siamkit serve MODEL --runtime onnx-int8` runs MODEL/onnx, the "
        "folder `siamkit export MODEL --format onnx --int8` writes"
    ) in said
    assert "--out elsewhere is for the torch-free runtime on a device" in said
    assert "--runtime onnx-int8 --onnx-dir DIR" in said
