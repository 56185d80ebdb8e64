"""``siamkit recommend MODEL --gallery shop.db --like ... --k`` against a naive loop."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery


def model_preprocess():
    return siamkit.models.Preprocess(input_shape=(6,))


def _shop(tmp_path):
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=(8,))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=model_preprocess()).eval()
    model = siamkit.save_model(net, tmp_path / "model")
    z = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    with Gallery.open(tmp_path / "shop.db", net) as g:
        ids = [g.enroll_embeddings(f"item-{i}", z[i : i + 1])[0] for i in range(10)]
    return model, z, ids


def test_recommend_like_labels_matches_naive(tmp_path):
    model, z, ids = _shop(tmp_path)
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--json"]
    res = CliRunner().invoke(cli, [*args, "--like", "item-2", "--like", "item-7", "--k", "4"])
    assert res.exit_code == 0, res.output
    got = [it["label"] for it in json.loads(res.stdout)["items"]]
    score = {
        i: min(np.linalg.norm(z[i] - z[2]), np.linalg.norm(z[i] - z[7]))
        for i in range(10)
        if i not in (2, 7)
    }
    assert got == [f"item-{i}" for i in sorted(score, key=score.get)[:4]]
    res = CliRunner().invoke(cli, [*args, "--like", f"#{ids[3]}", "--k", "1"])
    nearest = min((i for i in range(10) if i != 3), key=lambda i: np.linalg.norm(z[i] - z[3]))
    assert json.loads(res.stdout)["items"][0]["label"] == f"item-{nearest}"


_ONE_ITEM = " (for one item, give --like '#ID' with the item N that identify or recommend print)"


@pytest.mark.parametrize(
    ("like", "said"),
    [
        ("Item-11", "label 'Item-11' is not in the gallery; did you mean 'item-1'?" + _ONE_ITEM),
        (
            "shoe",
            "label 'shoe' is not in the gallery; enrolled labels include 'item-0', 'item-1', "
            "'item-2', 'item-3', 'item-4', 'item-5', 'item-6', 'item-7', 'item-8', 'item-9'"
            + _ONE_ITEM,
        ),
        # an item id: Gallery.recommend's own sentence, with no hint of '#ID'
        (
            "#999",
            "item ids not in the gallery: 999; use an item id that identify or recommend gave "
            "with a match",
        ),
    ],
    ids=["a-near-label", "no-near-label", "an-item-id"],
)
def test_recommend_an_unknown_like_is_one_sentence(tmp_path, like, said):
    """A liked label not enrolled said only "'item-11' is not a label in the gallery", where
    gallery remove and verify --label name the labels: it now names the closest ones too, and
    that one item is liked as '#ID' (a user after one item of a label would not find that).
    --like '#999' said only "item ids not in the gallery: 999": it says where ids come from."""
    model, _, _ = _shop(tmp_path)
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--like", like]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.strip() == f"Error: {said}", res.output


def test_recommend_with_a_tracker_names_the_model_it_needs(tmp_path):
    """A tracker's distance is no gallery distance: it said "unknown distance
    'cross_correlation'; choose one of cosine, euclidean, ..."."""
    from siamkit.applications.tracking.model import SiamFCNet

    _shop(tmp_path)
    tracker = siamkit.save_model(SiamFCNet("tiny"), tmp_path / "tracker")
    args = ["recommend", str(tracker), "--gallery", str(tmp_path / "shop.db"), "--like", "item-1"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert "is a tracker (a SiamFC tracking model, used by `siamkit track`)" in res.output
    assert "a gallery needs one: give the model that enrolled" in res.output
    assert "cross_correlation" not in res.output


def test_recommend_when_every_item_is_liked_says_so(tmp_path):
    """It said "(no other items in the gallery)" of a gallery of ten items, all liked."""
    model, _, _ = _shop(tmp_path)
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db")]
    res = CliRunner().invoke(cli, [*args, *(f"--like=item-{i}" for i in range(10))])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "(nothing to recommend: every item in the gallery is liked)"


def test_recommend_with_another_model_names_the_folder_that_enrolled(tmp_path):
    """A gallery that `siamkit enroll` built with another model said 'built by a different
    model (fingerprint ...)', where the other gallery commands name the folder it recorded."""
    model, _, _ = _shop(tmp_path)
    with Gallery.open(tmp_path / "shop.db") as g:
        g.remember_model_path(model)  # as `siamkit enroll MODEL` records it
    torch.manual_seed(1)
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=(8,))
    other = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=model_preprocess()).eval()
    other_dir = siamkit.save_model(other, tmp_path / "other")
    db = tmp_path / "shop.db"
    args = ["recommend", str(other_dir), "--gallery", str(db), "--like", "item-1"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: {db} was enrolled with the model in {model}, not {other_dir}, and its images "
        f"cannot be compared with another model's: give {model} as MODEL to use it, or enroll "
        "into a new gallery file."
    )


def test_readme_shows_recommend_with_the_gallery_commands_and_it_runs(tmp_path):
    """The README's recommend example sat inside "Signature verification", after the class-imbalance
    note, where a user reading about galleries never finds it. It belongs after the gallery
    commands of "The command line", and its options are the command's."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sections = re.split(r"^## ", readme, flags=re.M)
    home = next(s for s in sections if s.startswith("The command line"))
    assert "siamkit recommend " not in next(s for s in sections if s.startswith("Signature"))
    line = next(ln for ln in home.splitlines() if ln.startswith("siamkit recommend "))
    assert home.index("siamkit gallery shop.db list") < home.index(line)
    model, _, _ = _shop(tmp_path)
    args = line.split()[2:]  # the model and gallery paths are the test's
    args[0], args[2] = str(model), str(tmp_path / "shop.db")
    args = [a.replace("item-12", "item-1").replace("item-40", "item-4") for a in args]
    res = CliRunner().invoke(cli, ["recommend", *args])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["items"]) == 8  # --k 10 of the 8 items not liked


def test_recommend_on_an_empty_gallery_says_to_enroll_first(tmp_path):
    """An empty gallery said "label 'item-1' is not in the gallery; the gallery is empty (for one
    item, give --like '#ID' ...)", a hint that cannot help, and of '#1' "item ids not in the
    gallery: 1; use an item id that identify or recommend gave": it now says, as identify does,
    that the gallery is empty and to enroll first."""
    model, _, _ = _shop(tmp_path)
    net = siamkit.load_model(model)
    Gallery.open(tmp_path / "empty.db", net).close()
    empty = str(tmp_path / "empty.db")
    for like in ("item-1", "#1"):
        res = CliRunner().invoke(cli, ["recommend", str(model), "--gallery", empty, "--like", like])
        assert res.exit_code == 1 and res.output.strip() == (
            f"Error: {empty} is empty, so there is nothing to recommend: enroll images first "
            f"(siamkit enroll {model} --gallery {empty} ...)"
        ), res.output


def test_recommend_on_an_empty_text_gallery_names_text_enroll(tmp_path):
    """An empty text gallery was told "enroll images first (siamkit enroll MODEL --gallery ...)",
    a command that refuses a text model: it names `siamkit text enroll` and the model given."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text.model import TextSiameseNetwork

    net = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "hf"), max_length=32, overlap=8)
    model = siamkit.save_model(net, tmp_path / "model")
    Gallery.open(tmp_path / "empty.db", net).close()
    empty = str(tmp_path / "empty.db")
    res = CliRunner().invoke(cli, ["recommend", str(model), "--gallery", empty, "--like", "T-1"])
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: {empty} is empty, so there is nothing to recommend: enroll texts first "
        f"(siamkit text enroll CORPUS --gallery {empty} --model {model})"
    ), res.output


def test_recommend_an_empty_like_says_what_to_give(tmp_path):
    """--like '' said "a label must have 1 to 256 characters, got 0" and --like ' ' "label ' '
    starts or ends with whitespace; strip it first" (stripped, it is empty): neither says that a
    label or an #ID is wanted."""
    model, _, _ = _shop(tmp_path)
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--like", "item-1"]
    for like in ("", " "):
        res = CliRunner().invoke(cli, [*args, "--like", like])
        assert res.exit_code == 1 and res.output.strip() == (
            f"Error: a liked item is empty ({like!r}): give a label, or #ID for one item"
        ), res.output


def test_recommend_names_a_cohort_normalised_score_as_identify_does(tmp_path):
    """With a model scoring against a cohort (set_score_norm, eval.score_norm) the gallery ranks
    by the normalised score, which is no distance (identify prints "snorm-normalised score"), but
    recommend printed "distance" for it."""
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=(8,))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=model_preprocess()).eval()
    net.set_score_norm(torch.nn.functional.normalize(torch.randn(40, 4), dim=1), k=10)
    model = siamkit.save_model(net, tmp_path / "model")
    z = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with Gallery.open(tmp_path / "shop.db", siamkit.load_model(model)) as g:
        for i in range(5):
            g.enroll_embeddings(f"item-{i}", z[i : i + 1])
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--like", "item-0"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 4 and all(" snorm-normalised score " in line for line in lines), lines


def test_recommend_per_label_lists_each_label_once(tmp_path):
    """A label of several items (a product's photos) filled several places of --k: --per-label
    lists each label once, at its nearest item, and leaves out the liked items' labels."""
    model, _, _ = _shop(tmp_path)
    net = siamkit.load_model(model)
    z = np.random.default_rng(1).normal(size=(12, 4)).astype(np.float32)
    with Gallery.open(tmp_path / "shop.db", net) as g:
        photos = {
            f"prod-{p}": g.enroll_embeddings(f"prod-{p}", z[3 * p : 3 * p + 3]) for p in range(4)
        }
        items = g.items()
    liked = int(photos["prod-0"][1])
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--json"]
    res = CliRunner().invoke(cli, [*args, "--like", f"#{liked}", "--k", "6", "--per-label"])
    assert res.exit_code == 0, res.output
    got = [(it["label"], it["item_id"]) for it in json.loads(res.stdout)["items"]]
    at = dict(zip(items.ids.tolist(), items.embeddings))
    best: dict[str, tuple[float, int]] = {}
    for i, label in zip(items.ids.tolist(), items.labels):
        if label != "prod-0":
            best[label] = min(
                best.get(label, (np.inf, 0)), (float(np.linalg.norm(at[i] - at[liked])), i)
            )
    ranked = sorted(best.items(), key=lambda t: t[1])[:6]
    assert got == [(label, i) for label, (_, i) in ranked]
    assert len({label for label, _ in got}) == 6


def test_a_like_that_is_both_an_old_label_and_an_item_is_refused(tmp_path):
    """--like '#3' liked a label '#3' that an older siamkit enrolled, without a word, though the
    help says '#ID' is one item and item 3 was in the gallery too."""
    import sqlite3

    model, z, ids = _shop(tmp_path)
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:  # as an older siamkit enrolled it
        conn.execute(
            "INSERT INTO items(label, metadata, embedding, created) VALUES (?, NULL, ?, 0)",
            ("#3", z[0].astype("<f4").tobytes()),
        )
    args = ["recommend", str(model), "--gallery", str(db), "--json", "--k", "1", "--like"]
    res = CliRunner().invoke(cli, [*args, "#3"])
    assert res.exit_code == 1 and res.output.strip() == (
        "Error: '#3' is both item 3 and the label '#3' (enrolled before labels like item ids "
        "were refused): like item 3 as '#03', or the label as its items '#11'"
    ), res.output
    assert ids[2] == 3
    vectors = {**dict(zip(ids, z)), 11: z[0]}
    for like, liked in (("#03", 3), ("#11", 11)):  # each reading, as the sentence says
        res = CliRunner().invoke(cli, [*args, like])
        assert res.exit_code == 0, res.output
        near = min((i for i in vectors if i != liked),
                   key=lambda i: np.linalg.norm(vectors[i] - vectors[liked]))  # fmt: skip
        assert [it["item_id"] for it in json.loads(res.stdout)["items"]] == [near]


def test_recommend_checks_the_fingerprint_without_building_the_model(tmp_path, monkeypatch):
    """Likes need no embedding, yet recommend built the whole model only to compare its
    fingerprint with the gallery's (a text model took 15 s): the bundle's files are hashed now,
    and the model is built only where they cannot tell (here: never)."""
    model, _, ids = _shop(tmp_path)
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--like"]
    built = CliRunner().invoke(cli, [*args, "item-2", "--like", f"#{ids[5]}", "--k", "4"])
    assert built.exit_code == 0, built.output

    def no_build(*_a, **_k):
        raise AssertionError("the model was built")

    monkeypatch.setattr(siamkit, "load_model", no_build)
    res = CliRunner().invoke(cli, [*args, "item-2", "--like", f"#{ids[5]}", "--k", "4"])
    assert res.exit_code == 0, res.output
    assert res.output == built.output  # the same items and distances


def test_recommend_with_changed_weights_still_refuses_them(tmp_path):
    """Weights replaced beside an unchanged siamkit.json hash to another fingerprint than the
    gallery's: the model is loaded then, which refuses the file as before."""
    from safetensors.torch import load_file, save_file

    model, _, _ = _shop(tmp_path)
    weights = Path(model) / "model.safetensors"
    save_file({k: v + 1 for k, v in load_file(str(weights)).items()}, str(weights))
    args = ["recommend", str(model), "--gallery", str(tmp_path / "shop.db"), "--like", "item-2"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "does not match the checksum" in res.output, res.output


def test_the_saved_files_hash_to_the_loaded_models_fingerprint(tmp_path):
    """recommend hashes a saved folder's siamkit.json and weights file with the helper that
    model_fingerprint uses for a built model (a copy of its loop could drift): both give the
    fingerprint the folder recorded, for a Siamese model and a two-tower half-twin."""
    from safetensors.torch import load_file

    from siamkit.cli.recommend_cmd import _bundle_made_gallery
    from siamkit.export.bundle import read_model_config
    from siamkit.models.fingerprint import fingerprint_of

    model, _, _ = _shop(tmp_path)
    torch.manual_seed(1)
    twin = siamkit.models.HalfTwinNetwork(
        siamkit.encoders.create_encoder("mlp", in_features=6, hidden=(8,)),
        siamkit.encoders.create_encoder("mlp", in_features=3, hidden=(8,)),
        4,
        preprocess_f=siamkit.models.Preprocess(input_shape=(6,)),
        preprocess_g=siamkit.models.Preprocess(input_shape=(3,)),
    )
    for folder in (model, siamkit.save_model(twin, tmp_path / "twin")):
        doc = read_model_config(folder)
        from_files = fingerprint_of(
            doc["model"], load_file(str(Path(folder) / "model.safetensors"))
        )
        assert from_files == siamkit.model_fingerprint(siamkit.load_model(folder))
        assert from_files == doc["fingerprint"]
    assert _bundle_made_gallery(str(model), str(tmp_path / "shop.db")) is not None


def test_recommend_on_a_text_gallery_shows_each_items_text(tmp_path):
    """A text gallery's recommendations were listed by label, distance and source alone, where
    `text identify` and the service's /recommend show each item's text: the line and --json now
    carry it (an image gallery's are as before)."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text.model import TextSiameseNetwork

    net = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "hf"), max_length=32, overlap=8)
    model = siamkit.save_model(net, tmp_path / "model")
    texts = {"T-1": "printer jams", "T-2": "the vpn drops every hour"}
    corpus = tmp_path / "tickets.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()))
    db = str(tmp_path / "tickets.db")
    enroll = ["text", "enroll", str(corpus), "--gallery", db, "--model", str(model)]
    assert CliRunner().invoke(cli, [*enroll, "--device", "cpu", "--no-progress"]).exit_code == 0
    args = ["recommend", str(model), "--gallery", db, "--like", "T-1"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert re.fullmatch(
        r"T-2 +item 2 +distance \d\.\d{4}  the vpn drops every hour  \(from .*tickets\.jsonl:2\)",
        res.output.strip(),
    ), res.output
    res = CliRunner().invoke(cli, [*args, "--json"])
    (item,) = json.loads(res.stdout)["items"]
    assert item["text"] == "the vpn drops every hour" and item["label"] == "T-2"


def test_a_text_folder_saved_under_the_former_formula_is_not_built(tmp_path, monkeypatch):
    """A text folder saved before the fingerprint left out the transformer config's keys at a
    value that changes nothing records that formula's fingerprint, as do the galleries it
    enrolled then; recommend's no-build check hashed the current and the oldest formula only,
    so it built the model (tokenizer, transformer, weights) for every such folder (s55_FB
    finding 4). It now hashes every formula the built model answers to (its
    former_fingerprints'): nothing is built for the folder's galleries, old or new, and the
    answers are the built model's; another model's gallery is still loaded and refused."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.index import GalleryStore

    (tmp_path / "bert").mkdir()
    save_tiny_bert(tmp_path / "bert", layers=1)
    net = TextSiameseNetwork.pretrained(tmp_path / "bert", max_length=16, overlap=4).eval()
    model = siamkit.save_model(net, tmp_path / "model")
    oldest, then = net.former_fingerprints()
    doc = json.loads((model / "siamkit.json").read_text())
    doc["fingerprint"] = then  # as the folder was saved before stop 55
    (model / "siamkit.json").write_text(json.dumps(doc))
    texts = ["red shoe", "blue shoe", "green tea", "black tea"]
    galleries = {}
    for name, recorded in (("then", then), ("oldest", oldest), ("now", None)):
        path = tmp_path / f"{name}.db"
        with Gallery.open(path, net) as g:
            for i, text in enumerate(texts):
                g.enroll(f"item-{i}", [text])
        if recorded is not None:
            with GalleryStore(path, create=False) as store:
                store.set_meta("model_fingerprint", recorded)
        galleries[name] = path
    real, built = siamkit.load_model, []

    def counted(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(siamkit, "load_model", counted)
    for name, path in galleries.items():
        args = ["recommend", str(model), "--gallery", str(path), "--json", "--like", "item-0"]
        res = CliRunner().invoke(cli, [*args, "--k", "3"])
        assert res.exit_code == 0, (name, res.output)
        with Gallery.open(path, net) as g:  # the built model's answers
            expected = g.recommend([1], k=3)
        got = json.loads(res.stdout)["items"]
        assert [it["item_id"] for it in got] == [m.item_id for m in expected], name
        assert [it["distance"] for it in got] == pytest.approx([m.distance for m in expected])
        assert built == [], name
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    with Gallery.open(tmp_path / "other.db", other) as g:
        g.enroll("item-0", ["red shoe"])
    args = ["recommend", str(model), "--gallery", str(tmp_path / "other.db"), "--like", "item-0"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and len(built) == 1, res.output


def test_a_text_folder_whose_tokenizer_was_swapped_is_built_as_the_full_route_builds_it(
    tmp_path, monkeypatch
):
    """recommend's no-build check hashed the tokenizer digest siamkit.json records, where
    loading (text identify, serve, recommend's full route) computes it from the tokenizer/
    folder it reads: a copy of a model whose tokenizer/ was swapped for another's (one token
    added) was answered for on its galleries, which every other command refuses as another
    model's (s56_R5 finding 1), under the current formula and the one before stop 55.
    save_model now records the SHA-256 of the files beside the weights, and the check leaves
    a folder whose files differ to the full route: built, and refused as it refuses it. The
    same folder untouched, and one saved without the record (before it), are not built, and
    answer as the built model does (the text model took the longest to build, for likes that
    need no embedding: recommend hashes its files instead)."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    import shutil

    from transformers import AutoTokenizer

    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.index import GalleryStore
    from siamkit.index.results import GalleryMismatchError

    bert = save_tiny_bert(tmp_path / "bert", layers=1)
    net = TextSiameseNetwork.pretrained(bert, max_length=16, overlap=4).eval()
    model = siamkit.save_model(net, tmp_path / "model")
    swapped = Path(shutil.copytree(model, tmp_path / "swapped"))
    tokenizer = AutoTokenizer.from_pretrained(str(bert))
    tokenizer.add_tokens(["zzqqx"])
    shutil.rmtree(swapped / "tokenizer")
    tokenizer.save_pretrained(str(swapped / "tokenizer"))
    unrecorded = Path(shutil.copytree(model, tmp_path / "unrecorded"))  # as saved before
    doc = json.loads((unrecorded / "siamkit.json").read_text())
    doc.pop("extra_files_sha256", None)
    (unrecorded / "siamkit.json").write_text(json.dumps(doc))
    _, then = net.former_fingerprints()
    galleries = {}
    for name, recorded in (("now", None), ("then", then)):
        path = tmp_path / f"{name}.db"
        with Gallery.open(path, net) as g:
            for i, text in enumerate(["red shoe", "blue shoe", "green tea"]):
                g.enroll(f"item-{i}", [text])
        if recorded is not None:
            with GalleryStore(path, create=False) as store:
                store.set_meta("model_fingerprint", recorded)
        galleries[name] = path
    real, built = siamkit.load_model, []

    def counted(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(siamkit, "load_model", counted)
    for name, path in galleries.items():
        with pytest.raises(GalleryMismatchError):  # the full route's answer, independently
            Gallery.open(path, real(swapped)).close()
        args = ["recommend", str(swapped), "--gallery", str(path), "--like", "item-0"]
        built.clear()
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and "different model" in res.output, (name, res.output)
        assert built == [(str(swapped),)], name
        with Gallery.open(path, net) as g:  # the built model's answers
            expected = [m.item_id for m in g.recommend([1], k=2)]
        for kept in (model, unrecorded):
            built.clear()
            args = ["recommend", str(kept), "--gallery", str(path), "--like", "item-0"]
            res = CliRunner().invoke(cli, [*args, "--json", "--k", "2"])
            assert res.exit_code == 0 and built == [], (name, kept, res.output)
            assert [it["item_id"] for it in json.loads(res.stdout)["items"]] == expected


def test_recommend_takes_a_hugging_face_folder_and_a_named_model_as_text_identify_does(
    tmp_path, monkeypatch
):
    """`text enroll` and `serve` take a local Hugging Face folder or a named model
    (all-MiniLM-L6-v2), and recommend refused both ('does not exist', 'has no siamkit.json')
    for the galleries they enrolled (s55_R5 finding 4). It resolves and loads them as
    `text identify` does now: the built model's answers, each with its text."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    import siamkit.encoders.text as text_encoders
    from _tiny_bert import save_tiny_bert
    from siamkit.applications.text import load_text_model

    hf = save_tiny_bert(tmp_path / "hf", layers=1)
    # the named default model is this folder here (the real one is slow to build in a test)
    monkeypatch.setattr(text_encoders, "default_text_model_path", lambda: hf)
    monkeypatch.chdir(tmp_path)
    net = load_text_model(hf).eval()
    texts = ["red shoe", "blue shoe", "green tea", "black tea"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"item-{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    for name in (str(hf), "all-MiniLM-L6-v2"):
        gallery = tmp_path / f"{len(name)}.db"
        enrolled = CliRunner().invoke(
            cli, ["text", "enroll", str(corpus), "--gallery", str(gallery), "--model", name]
        )
        assert enrolled.exit_code == 0, enrolled.output
        args = ["recommend", name, "--gallery", str(gallery), "--json", "--like", "item-0"]
        res = CliRunner().invoke(cli, [*args, "--k", "3"])
        assert res.exit_code == 0, (name, res.output)
        items = json.loads(res.stdout)["items"]
        # a naive loop: the other texts by cosine distance to the liked one's, nearest first
        z = net.embed(texts).detach().numpy()
        naive = sorted(range(1, len(texts)), key=lambda i: 1 - float(z[0] @ z[i]))[:3]
        assert [it["label"] for it in items] == [f"item-{i}" for i in naive], name
        assert [it["text"] for it in items] == [texts[i] for i in naive], name
        assert [it["distance"] for it in items] == pytest.approx(
            [1 - float(z[0] @ z[i]) for i in naive], abs=1e-5
        )
