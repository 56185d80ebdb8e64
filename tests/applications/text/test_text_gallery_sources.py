"""A text gallery keeps where each text came from, as an image gallery keeps each image's file:
``siamkit text enroll`` records the file (a folder's document, a text file) or ``path:line`` (a
JSONL/CSV record), the service's text ``/enroll`` takes an optional ``source``, and ``siamkit
text identify`` (plain and --json) and the text ``/identify`` return it with each match; a
gallery enrolled before sources were kept answers null."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_text_identify_cli import identify, run, tiny_model


@pytest.fixture
def model(tiny_hf: Path, tmp_path: Path) -> Path:
    return tiny_model(tiny_hf, tmp_path / "model", threshold=1e-4)


def _enroll(corpus: Any, gallery: Any, model: Path) -> None:
    run(["text", "enroll", corpus, "--gallery", gallery, "--model", model, "--device", "cpu",
         "--no-progress"])  # fmt: skip


def _sources(gallery: Path) -> dict[str, list[str | None]]:
    """Each label's items' sources, in enrollment order, read from the gallery file itself."""
    with sqlite3.connect(gallery) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(items)")]
        if "source" not in columns:
            return {}
        rows = conn.execute("SELECT label, source FROM items ORDER BY id").fetchall()
    out: dict[str, list[str | None]] = {}
    for label, source in rows:
        out.setdefault(label, []).append(source)
    return out


def _match_sources(doc: dict[str, Any]) -> dict[str, str | None]:
    """``{label: source}`` of every match of every query of ``text identify --json``."""
    return {m["label"]: m["source"] for q in doc["queries"] for m in q["matches"]}


def test_enroll_keeps_path_and_line_of_jsonl_and_csv_records_as_given(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths stay relative, as siamkit enroll keeps them
    Path("exports").mkdir()
    Path("exports/tickets.jsonl").write_text(
        json.dumps({"id": "T-1", "text": "the printer is out of toner"})
        + "\n\n"  # a blank line: the next record is on line 3
        + json.dumps({"id": "T-2", "text": "vpn login fails at home"})
        + "\n"
    )
    # a quoted text over two lines: the next record starts on line 4
    Path("more.csv").write_text(
        'id,text\nT-3,"battery drains\nquickly"\nT-1,please reset my password\n'
    )
    _enroll("exports/tickets.jsonl", "g.db", model)
    _enroll("./more.csv", "g.db", model)
    assert _sources(tmp_path / "g.db") == {
        "T-1": ["exports/tickets.jsonl:1", "more.csv:4"],
        "T-2": ["exports/tickets.jsonl:3"],
        "T-3": ["more.csv:2"],
    }
    got = json.loads(
        identify(Path("g.db"), model, "vpn login fails at home", "--k", "3", "--json").stdout
    )
    matches = _match_sources(got)
    assert matches["T-2"] == "exports/tickets.jsonl:3"
    assert matches["T-3"] == "more.csv:2"
    assert matches["T-1"] in ("exports/tickets.jsonl:1", "more.csv:4")
    plain = identify(Path("g.db"), model, "vpn login fails at home", "--k", "3").stdout
    assert "(from exports/tickets.jsonl:3)" in plain and "(from more.csv:2)" in plain


def test_enroll_keeps_each_documents_file_of_a_folder_and_a_single_file(
    model: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "printer.txt").write_text("the printer is out of toner")
    (docs / "hr" / "leave.md").write_text("how many days of leave do I have")
    single = tmp_path / "vpn.txt"
    single.write_text("vpn login fails at home")
    gallery = tmp_path / "g.db"
    _enroll(docs, gallery, model)
    _enroll(single, gallery, model)
    assert _sources(gallery) == {
        "hr/leave.md": [str(docs / "hr" / "leave.md")],
        "printer.txt": [str(docs / "printer.txt")],
        "vpn.txt": [str(single)],
    }
    got = json.loads(identify(gallery, model, "toner", "--k", "3", "--json").stdout)
    assert _match_sources(got) == {
        "hr/leave.md": str(docs / "hr" / "leave.md"),
        "printer.txt": str(docs / "printer.txt"),
        "vpn.txt": str(single),
    }


def test_enrolling_again_keeps_the_sources_of_the_new_texts_only(
    model: Path, tmp_path: Path
) -> None:
    """The texts a label already holds are left out before embedding: the sources of the
    others must stay with their own texts, not shift onto the skipped ones' places."""
    first = tmp_path / "a.jsonl"
    first.write_text(json.dumps({"id": "T-1", "text": "the printer is out of toner"}) + "\n")
    again = tmp_path / "b.jsonl"
    again.write_text(
        json.dumps({"id": "T-1", "text": "the printer is out of toner"})  # held already
        + "\n"
        + json.dumps({"id": "T-1", "text": "toner cartridge is empty"})
        + "\n"
    )
    gallery = tmp_path / "g.db"
    _enroll(first, gallery, model)
    _enroll(again, gallery, model)
    assert _sources(gallery) == {"T-1": [f"{first}:1", f"{again}:2"]}


def test_a_gallery_enrolled_without_sources_answers_null(model: Path, tmp_path: Path) -> None:
    """A gallery from before sources were kept (no ``source`` column: here filled through the
    library, as text enroll filled it before) answers every match with a null source, in the
    plain output without a 'from'; enrolling into it with the command adds sources for the new
    texts only."""
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.gallery import enroll_documents
    from siamkit.index import Gallery

    gallery = tmp_path / "old.db"
    net = load_text_model(model)
    docs = [Document("T-1", "the printer is out of toner"), Document("T-2", "vpn login fails")]
    with Gallery.open(gallery, net, create=True) as g:
        enroll_documents(g, gallery, docs, embed_texts(net, [d.text for d in docs]).vectors)
    assert _sources(gallery) == {}  # no column
    got = json.loads(identify(gallery, model, "toner", "--k", "2", "--json").stdout)
    assert _match_sources(got) == {"T-1": None, "T-2": None}
    assert "(from" not in identify(gallery, model, "toner", "--k", "2").stdout

    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"id": "T-3", "text": "battery drains quickly"}) + "\n")
    _enroll(more, gallery, model)
    got = json.loads(identify(gallery, model, "toner", "--k", "3", "--json").stdout)
    assert _match_sources(got) == {"T-1": None, "T-2": None, "T-3": f"{more}:1"}


def test_the_service_keeps_enrolls_source_and_identify_returns_it(
    model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.service import create_app

    net = load_text_model(model)
    gallery = tmp_path / "g.db"
    with TestClient(create_app(net, gallery, api_key="k")) as c:
        c.headers["X-API-Key"] = "k"
        schema = c.get("/openapi.json").json()["components"]["schemas"]["TextEnrollRequest"]
        assert schema["properties"]["source"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
        # a path means nothing to the server: its last part is kept, as an upload's name is
        r = c.post(
            "/enroll",
            json={"label": "T-1", "texts": ["the printer is out of toner"],
                  "source": "C:\\exports\\tickets.csv:17"},
        )  # fmt: skip
        assert r.status_code == 201, r.json()
        r = c.post("/enroll", json={"label": "T-2", "texts": ["vpn login fails at home"]})
        assert r.status_code == 201, r.json()
        r = c.post("/enroll", json={"label": "T-3", "texts": ["battery"], "source": "a\x1bb.md"})
        assert r.status_code == 201, r.json()
        found = c.post("/identify", json={"text": "toner", "k": 3}).json()
        listed = c.get("/gallery/images", params={"label": "T-1"}).json()
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    assert {m["label"]: m["source"] for m in found["matches"]} == {
        "T-1": "tickets.csv:17",
        "T-2": None,
        "T-3": "a?b.md",
    }
    assert [(it["text"], it["source"]) for it in listed["items"]] == [
        ("the printer is out of toner", "tickets.csv:17")
    ]
    for name in ("TextMatchOut", "TextItem"):  # said for texts, not as an image's file
        assert "siamkit text enroll" in schemas[name]["properties"]["source"]["description"]
    # the command line reads what the service kept
    got = json.loads(identify(gallery, model, "toner", "--k", "3", "--json").stdout)
    assert _match_sources(got)["T-1"] == "tickets.csv:17"


def test_the_service_answers_null_sources_for_a_gallery_without_the_column(
    model: Path, tmp_path: Path
) -> None:
    """Texts enrolled without a source leave the gallery without the column (as one from
    before): they answer null, and a later /enroll with a source adds it for its own texts."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.service import create_app

    net = load_text_model(model)
    gallery = tmp_path / "old.db"
    with TestClient(create_app(net, gallery, api_key="k")) as c:
        c.headers["X-API-Key"] = "k"
        r = c.post("/enroll", json={"label": "T-1", "texts": ["the printer is out of toner"]})
        assert r.status_code == 201, r.json()
        assert _sources(gallery) == {}  # no source given: the column is not added
        found = c.post("/identify", json={"text": "toner", "k": 1}).json()
        assert [(m["label"], m["source"]) for m in found["matches"]] == [("T-1", None)]
        r = c.post(
            "/enroll", json={"label": "T-2", "texts": ["vpn login fails"], "source": "x.csv:2"}
        )
        assert r.status_code == 201, r.json()
        found = c.post("/identify", json={"text": "toner", "k": 2}).json()
    assert {m["label"]: m["source"] for m in found["matches"]} == {"T-1": None, "T-2": "x.csv:2"}


def test_document_sources_refuses_a_record_that_names_no_line() -> None:
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.gallery import document_sources

    assert document_sources("t.csv", [Document("1", "x", "t.csv line 12")]) == ["t.csv:12"]
    with pytest.raises(ValueError, match=r"does not say which line of t\.jsonl"):
        document_sources("t.jsonl", [Document("1", "x")])
    assert document_sources("notes.txt", [Document("notes.txt", "x", "notes.txt")]) == ["notes.txt"]
