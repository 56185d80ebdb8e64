"""A text model whose embeddings hold NaN (a broken fine-tune) was passed on by the text commands
that embed on their own path: ``siamkit text similarity`` printed "similarity nan: different",
``text dedup`` and ``text plagiarism`` finished with exit 0 and wrote their groups and report
(s54_RR1). Each now refuses in the gallery's sentence (``UnrankableEmbeddingsError``), naming
the texts by what the user gave (A or B, a corpus id, a text's sentence), and writes nothing."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.cli import _text_common
from siamkit.cli.main import cli

BROKEN = "Zyxwv"  # a text holding this word is embedded as NaN by the model below


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    """The text commands with a model that embeds every text holding BROKEN as NaN."""
    real = TextSiameseNetwork.embed

    def embed(self, texts, role="query"):  # type: ignore[no-untyped-def]
        z = real(self, texts, role).clone()
        items = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(items):
            if BROKEN in t:
                z[i, 0] = float("nan")
        return z

    monkeypatch.setattr(TextSiameseNetwork, "embed", embed)
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *[str(a) for a in args]])


def _error(res) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code == 1, res.output
    return res.output.strip().splitlines()[-1]


def test_similarity_refuses_a_nan_embedding(run) -> None:
    res = run("similarity", "The printer is out of toner.", f"The {BROKEN} printer needs toner.")
    assert _error(res) == (
        "Error: 1 of the 2 embeddings the model made of A and B hold NaN or infinite values (B), "
        "which no similarity can be scored from"  # it runs no search (s56_R3 finding 2)
    )
    assert "similarity nan" not in res.output


def _corpus(tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {
        "a.txt": "The cat sat on the mat. It purred all day.",
        "b.txt": "The cat sat on a mat. It purred all day.",
        "c.txt": f"Rain fell all day. The {BROKEN} river rose.",
        "d.txt": "Stocks fell sharply on Tuesday. Markets were calm later.",
    }
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("by", "named"), [("documents", "'c.txt'"), ("passages", "'c.txt' sentence 2")]
)
def test_dedup_refuses_a_nan_embedding_and_writes_nothing(run, tmp_path, by, named) -> None:
    docs = _corpus(tmp_path)
    earlier = tmp_path / "earlier.jsonl"  # an earlier dedup's groups, kept as they were
    earlier.write_text('{"group": 0, "size": 2, "members": []}\n')
    for out in (tmp_path / "new.jsonl", earlier):
        before = out.read_bytes() if out.exists() else None
        res = run("dedup", docs, "--out", out, "--by", by)
        what = "texts" if by == "documents" else "sentences"
        n = 4 if by == "documents" else 8
        assert _error(res) == (
            f"Error: 1 of the {n} embeddings the model made of the {what} hold NaN or infinite "
            f"values ({named}), which no search can rank"
        )
        assert (out.read_bytes() if out.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "earlier.jsonl"]


def test_plagiarism_refuses_a_nan_embedding_and_writes_no_report(run, tmp_path) -> None:
    docs = _corpus(tmp_path)
    essay = tmp_path / "essay.txt"
    essay.write_text("My essay is about cats. The cat sat on the mat.")
    out = tmp_path / "report.html"
    res = run("plagiarism", essay, "--corpus", docs, "--out", out)
    assert _error(res) == (
        "Error: 1 of the 8 embeddings the model made of the sentences hold NaN or infinite "
        "values ('c.txt' sentence 2), which no search can rank"
    )
    assert not out.exists()
    essay.write_text(f"My essay is about cats. The {BROKEN} cat sat on the mat.")
    res = run("plagiarism", essay, "--corpus", docs, "--out", out)
    assert _error(res) == (
        "Error: 1 of the 2 embeddings the model made of the sentences hold NaN or infinite "
        "values ('essay.txt' sentence 2), which no search can rank"
    )
    assert not out.exists()


def test_the_library_calls_raise_the_gallerys_class(text_model, run) -> None:
    from siamkit.applications.text import find_duplicates
    from siamkit.applications.text.similarity import compare_texts
    from siamkit.index.base import UnrankableEmbeddingsError

    with pytest.raises(UnrankableEmbeddingsError, match=r"\(rows 1\)"):
        find_duplicates(["a cat", f"a {BROKEN} cat", "a dog"], text_model)
    with pytest.raises(UnrankableEmbeddingsError, match=r"\(A\)"):
        compare_texts(text_model, f"{BROKEN} here", "fine")
    assert torch.isfinite(text_model.embed(["fine"])).all()  # only the marked texts break


def test_text_enroll_names_the_text_by_its_file_and_stores_nothing(run, tmp_path) -> None:
    """Its texts a label holds already are not embedded: rows counted among the others would
    name another text, so the refusal names the text by where it is (its source)."""
    docs = _corpus(tmp_path)
    db = tmp_path / "t.db"
    res = run("enroll", docs, "--gallery", db)
    assert _error(res) == (
        "Error: 1 of the 4 embeddings the model made of the texts hold NaN or infinite values "
        f"({str(docs / 'c.txt')!r}), which no search can rank"
    )
    assert not db.exists()


def test_text_enroll_names_a_text_of_a_shared_label_by_its_line(run, tmp_path) -> None:
    """A text's id is its label in ``text enroll``, which several texts share: the refusal named
    '(printer)' for the third of three printer texts (s55_R2 finding 3). It names the line, as
    ``text identify`` shows a match's source; one of the label's texts already enrolled is not
    embedded again, and does not shift it."""
    import json

    corpus = tmp_path / "tickets.jsonl"
    db = tmp_path / "t.db"
    rows = [("printer", "The printer is out of toner."), ("vpn", "VPN fails at home.")]
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    assert run("enroll", corpus, "--gallery", db).exit_code == 0
    before = db.read_bytes()
    rows[1:1] = [("printer", "Printer jams on page two."), ("printer", f"The {BROKEN} printer.")]
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    res = run("enroll", corpus, "--gallery", db)
    assert _error(res) == (
        "Error: 1 of the 2 embeddings the model made of the texts hold NaN or infinite values "
        f"({str(corpus) + ':3'!r}), which no search can rank"
    )
    assert json.loads(corpus.read_text().splitlines()[2])["text"] == f"The {BROKEN} printer."
    assert db.read_bytes() == before


def _labelled_pairs(tmp_path):  # type: ignore[no-untyped-def]
    """Labelled pairs whose broken text is given only as the b of pairs 7 and 9, after the
    distinct texts of pairs 1-6 (which it would be numbered among)."""
    pairs = [
        ("printer out of toner", "printer needs toner", 1),
        ("vpn fails", "cannot reach vpn", 1),
        ("printer out of toner", "vpn fails", 0),
        ("printer needs toner", "cannot reach vpn", 0),
        ("vpn fails", "printer out of toner", 0),
        ("cannot reach vpn", "printer needs toner", 0),
        ("vpn fails", f"the {BROKEN} vpn", 1),
        ("printer out of toner", "cannot reach vpn", 0),
        ("cannot reach vpn", f"the {BROKEN} vpn", 1),
    ]
    csv = tmp_path / "pairs.csv"
    csv.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in pairs))
    return csv, pairs


@pytest.fixture
def tiny_folder(tmp_path_factory):  # type: ignore[no-untyped-def]
    from _tiny_bert import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


@pytest.mark.parametrize(
    ("command", "args", "said"),
    [
        ("evaluate", (), "1 of the 5 embeddings the model made of the distinct texts"),
        ("calibrate", (), "2 of the 9 embeddings the model made of the b texts"),
        ("calibrate", ("--max-pairs", "8"), "of the 8 embeddings the model made of the b texts"),
    ],
)
def test_evaluate_and_calibrate_name_the_pair_and_column_of_a_nan_text(
    run, tmp_path, tiny_folder, command, args, said
) -> None:
    """``siamkit evaluate`` of a text model named the rows of the distinct texts it embeds
    ("1 of the 5 ... (rows 4)": the fifth distinct text, read as a pair a sound one), and
    ``calibrate`` the rows of its --max-pairs sample; both now name the pair of the file, from 1,
    and its column (s55_R2 finding 2). Both said "which no search can rank", though neither
    runs a search: each now says what it cannot do (final35 "NaN wording")."""
    import re

    csv, pairs = _labelled_pairs(tmp_path)
    out = ("--out", str(tmp_path / "calibrated")) if command == "calibrate" else ()
    res = CliRunner().invoke(cli, [command, str(tiny_folder), "--data", str(csv), *args, *out])
    error = _error(res)
    assert not (tmp_path / "calibrated").exists()
    assert said in error
    named = re.fullmatch(r"Error: .*NaN or infinite values \((.*)\), which (.*)", error)
    assert named is not None, error
    # neither command runs a search: each says what it cannot do, not "no search can rank"
    cannot = {"evaluate": "no evaluation can score", "calibrate": "no threshold can be fitted on"}
    assert named.group(2) == cannot[command], error
    shown = named.group(1).split(", ")
    wanted = ["pair 7's b"] if command == "evaluate" else ["pair 7's b", "pair 9's b"]
    if args:  # the sample of 8 kept one or both; each is named by its number in the file
        assert shown and set(shown) <= set(wanted), shown
    else:
        assert shown == wanted
    for name in shown:  # an independent read: the pair named holds the broken text there
        n, column = re.fullmatch(r"pair (\d+)'s ([ab])", name).groups()  # type: ignore[union-attr]
        assert BROKEN in pairs[int(n) - 1]["ab".index(column)]


def test_a_refused_text_enroll_leaves_nothing_beside_an_existing_gallery(run, tmp_path) -> None:
    """Before the refusal, the check of what the gallery keeps read its side file's first
    thumbnail through a read-only connection, which left ``-shm`` and ``-wal`` beside it; a
    read of the texts its labels hold, or the enrollment's own connection, removed them later,
    but for texts of new labels the refusal now comes first (s55_R2 finding 4)."""
    docs = _corpus(tmp_path)
    (docs / "c.txt").unlink()  # the broken one
    db = tmp_path / "g" / "t.db"
    assert run("enroll", docs, "--gallery", db).exit_code == 0
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    assert sorted(before) == ["t.db", "t.db.thumbs"]
    more = tmp_path / "more"  # labels the gallery does not hold yet
    more.mkdir()
    (more / "e.txt").write_text(f"The {BROKEN} text.")
    (more / "f.txt").write_text("A sound text.")
    assert "NaN or infinite" in _error(run("enroll", more, "--gallery", db))
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before


def test_evaluate_of_a_half_twin_names_the_pair_and_column_of_a_nan_text(
    run, tmp_path, half_twin
) -> None:
    """A half-twin embeds each column's distinct texts with its own tower: the b column's are
    named by where the file first gives them too (s55_R2 finding 2)."""
    csv, _ = _labelled_pairs(tmp_path)
    res = CliRunner().invoke(cli, ["evaluate", str(half_twin), "--data", str(csv)])
    assert _error(res) == (
        "Error: 1 of the 5 embeddings the model made of the distinct texts hold NaN or infinite "
        "values (pair 7's b), which no evaluation can score"
    )


def test_text_verify_names_the_query_and_gives_no_verdict(run, tmp_path) -> None:
    """``text verify`` refused a NaN query embedding as "the texts (rows 0), which no search can
    rank", though it runs no search, naming a row the user never gave (s57_FB Q3): it names
    QUERY, as ``text similarity`` names A and B and ``verify --label`` the image's file."""
    db = tmp_path / "t.db"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "printer", "text": "The printer is out of toner."}\n', "utf-8")
    assert run("enroll", corpus, "--gallery", db).exit_code == 0
    res = run("verify", f"The {BROKEN} printer", "--label", "printer", "--gallery", db)
    assert _error(res) == (
        "Error: 1 of the 1 embeddings the model made of the text hold NaN or infinite values "
        "(QUERY), which no verdict can be given on"
    )
