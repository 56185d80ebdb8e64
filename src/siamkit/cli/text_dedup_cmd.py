"""``siamkit text dedup``: groups of near-duplicate texts in a corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from siamkit.atomic import check_writable_file
from siamkit.clauses import counted
from siamkit.cli import _text_common  # _text_common._model: a test can replace it
from siamkit.cli._inputs import PROGRESS, friendly_errors
from siamkit.cli._text_common import (
    _BATCH_SIZE,
    _DEVICE,
    _DIM,
    _ID_DEFAULT,
    _INT8_NOTE,
    _JSON,
    _MODEL,
    _ONNX_DIR,
    _TEXT_FIELD,
    _check_dim,
    _device,
    _load,
    _refuse_overwriting,
    _runtime,
    _runtime_option,
    _threshold_option,
    _write_atomic,
    chunk_note,
)

# 0.88 and 0.68: 1 - model.DOCUMENT_THRESHOLD and dedup.COVERAGE_SIMILARITY (a test checks)
_DEDUP_THRESHOLD = _threshold_option(
    "The score at or above which (within float32 rounding) two texts are near-duplicates: "
    "their cosine similarity with --by documents, their passage coverage with --by passages. "
    "'auto': with --by documents, "
    "the model's calibrated threshold, else all-MiniLM-L6-v2's document default 0.88; with "
    "--by passages, all-MiniLM-L6-v2's passage-coverage default 0.68 whatever the model (a "
    "calibrated threshold is a cosine of whole texts, not a coverage), two one-sentence texts "
    "being held to the documents' threshold. A half-twin (towers of its own) embeds every "
    "text with its document tower, so its 'auto' is its threshold for two documents, which "
    "its training run and siamkit calibrate fit, not its threshold for a query against a "
    "document; a half-twin that has only the latter is refused 'auto': give a number. The "
    "output says the threshold used and where it came from."
)


def _refuse_one_text(corpus: str, loaded: Any) -> None:
    """A CORPUS that is a plain text file is one text whatever its lines (one document per line,
    as gensim's lee_background.cor, is not split): dedup has no pair to compare, and embedded
    it (sentence by sentence with --by passages) to report no group. A .jsonl, .csv or folder
    that holds one text is still taken (its batch may just be small)."""
    path = Path(corpus)
    if len(loaded.docs) > 1 or not path.is_file() or path.suffix.lower() in (".jsonl", ".csv"):
        return
    raise ValueError(
        f"{corpus} is one text (a file other than .jsonl or .csv is read as one text, "
        "whatever its lines); dedup compares texts with each other: give a .jsonl or .csv "
        "corpus with a text per line or row, or a folder of text files"
    )


_GROUPS_SUFFIXES = ("", ".jsonl", ".ndjson", ".json")
# suffixes of formats other than JSON lines that a name may be given in by mistake; any other
# dot (groups.2026-12-06, dedup.v2) is part of the name, not a format
# fmt: off
_OTHER_FORMATS = frozenset({
    ".csv", ".tsv", ".txt", ".text", ".md", ".rst", ".html", ".htm", ".xml", ".xls", ".xlsx",
    ".ods", ".parquet", ".feather", ".arrow", ".yaml", ".yml", ".toml", ".ini", ".pdf", ".doc",
    ".docx", ".odt", ".rtf", ".db", ".sqlite", ".py", ".log",
})
# fmt: on


def _holds_groups(path: Path) -> bool:
    """Whether the existing file ``path`` is an earlier dedup's output: empty (no group found)
    or its first line one group (a JSON object with ``group`` and ``members``). A line longer
    than is read (the largest group comes first, each member with its text's start: some 4,000
    members make a MiB) is judged by its start, which dedup writes as ``{"group": K, ...,
    "members": [``, so an earlier output is not refused for its size."""
    try:
        with path.open("rb") as f:
            first = f.readline(_FIRST_LINE_READ)
        if not first.strip():
            return path.stat().st_size == 0
        if len(first) == _FIRST_LINE_READ and not first.endswith(b"\n"):  # cut: read its start
            return _GROUP_LINE_START.match(first) is not None
        line = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(line, dict) and "group" in line and "members" in line


_FIRST_LINE_READ = 1 << 16
# the start of a group's line as dedup writes it: the group's number first, the members (the
# bulk of the line) last, after a few scalar fields
_GROUP_LINE_START = re.compile(rb'\s*\{"group": \d+, [^\[\]{}]*"members": \[')


def _refuse_another_format(out: str) -> None:
    """--out whose suffix names another format (groups.csv, groups.html, notes.txt): the groups
    are JSON lines whatever the name, so an editor opened groups.csv in a spreadsheet to find a
    column of JSON, and an existing notes.txt given by mistake was replaced without a word. A
    dot that names no format (groups.2026-12-06, dedup.v2) is part of the name: such a file is
    refused only when it exists and holds no earlier dedup's groups."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in _GROUPS_SUFFIXES:
        return
    if suffix not in _OTHER_FORMATS:
        if not path.is_file() or _holds_groups(path):
            return
        raise click.BadParameter(
            f"{out} is an existing file that holds no dedup groups, which the groups (JSON "
            f"lines, one group a line) would replace; give another file name, e.g. {out}.jsonl",
            param_hint="'--out'",
        )
    what = (
        f"is an existing file ending in {suffix}, which the groups (JSON lines, one group a "
        "line) would replace"
        if path.is_file()
        else f"ends in {suffix}, but the groups are JSON lines (one group a line)"
    )
    raise click.BadParameter(
        f"{out} {what}; give a .jsonl file name, e.g. {path.with_suffix('.jsonl')}",
        param_hint="'--out'",
    )


@click.command("dedup")
@click.argument("corpus", type=click.Path(exists=True))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="groups.jsonl to write (JSON lines: a name ending in .jsonl, .ndjson or .json, or "
    "in no other format's suffix, such as groups.2026-12-06).",
)
@_MODEL
@_DEDUP_THRESHOLD
@click.option(
    "--rule",
    type=click.Choice(["components", "clique", "centroid"]),
    default="components",
    show_default=True,
    help="components: linked chains; clique: every pair linked; centroid: linked to one leader.",
)
@click.option(
    "--by",
    "scoring",
    type=click.Choice(["documents", "passages"]),
    default="documents",
    show_default=True,
    help="documents: the cosine of whole-text embeddings. passages: split texts into sentences "
    "and score a pair by passage coverage (the smaller of the two texts' mean best-match "
    "sentence cosine): edited copies keep their sentences, different articles on the same "
    "story do not. For documents of several sentences: two one-sentence texts are held to the "
    "document threshold instead. On synthetic edits of Lee background documents 0-149 "
    "(validation) it raised pair F1 from 0.96 to 0.99; see BENCHMARKS.md.",
)
@_TEXT_FIELD
@click.option(
    "--id-field",
    default=None,
    help=f"JSONL key / CSV column of ids, each given once {_ID_DEFAULT}.",
)
@_BATCH_SIZE
@click.option(
    "--faiss-above",
    default=50_000,
    show_default=True,
    type=click.IntRange(0),
    help="Use a FAISS HNSW neighbour graph above this many texts (exact search below).",
)
@_DIM
@_runtime_option("the same groups, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@PROGRESS
@_JSON
@friendly_errors
def dedup(
    corpus: str,
    out: str,
    model_path: str | None,
    threshold: float | None,
    rule: str,
    scoring: str,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    faiss_above: int,
    dim: int | None,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Find groups of near-duplicate texts in CORPUS (.jsonl, .csv, or a folder of text files).

    A .jsonl line, a .csv row or a folder's file is one text; a single file of another kind
    is one text whatever its lines, and is refused (dedup needs two).

    Each line of --out is one group: its members' ids, the start of their texts (200
    characters, on one line, to review the group by) and scores against the group's first
    member (cosine, or passage coverage with --by passages); min_similarity, the score of the
    group's weakest linked pair (not the threshold); and threshold, the score at or above which
    two texts were linked (with --by passages also threshold_one_sentence, for two one-sentence
    texts). The --json summary says the threshold as threshold (min_similarity there is the
    same number, kept for scripts that read it).

    \b
    Examples:
      siamkit text dedup corpus.jsonl --out groups.jsonl --threshold auto
      siamkit text dedup tickets.csv --text-field title,body --rule clique --out groups.jsonl
      siamkit text dedup articles.jsonl --by passages --out groups.jsonl
    """
    from siamkit.applications.text.duplicates import dedup_thresholds, find_duplicates
    from siamkit.cli.text_identify import snippet

    _refuse_another_format(out)  # before the corpus is read
    loaded = _load(corpus, text_field, id_field)
    _refuse_overwriting(out, "--out", loaded.files)
    check_writable_file(out, f"--out {out}")  # before the texts are grouped, not after
    _refuse_one_text(corpus, loaded)  # before the model loads and the texts are embedded
    docs = loaded.docs
    model = _text_common._model(model_path, _device(device, runtime))
    _check_dim(model, dim)  # a usage error (exit 2), its note on stderr
    chosen = dedup_thresholds(model, threshold, scoring, dim, threshold_option="--threshold")
    dist, source = chosen.distance, chosen.source
    doc_dist, doc_source = chosen.document_distance, chosen.document_source
    onnx = _runtime(model, model_path, runtime, onnx_dir)
    found = find_duplicates(
        [d.text for d in docs],
        model,
        chosen,
        scoring,
        rule,
        batch_size=batch_size,
        faiss_above=faiss_above,
        dim=dim,
        runtime=onnx,
        log=lambda line: click.echo(line, err=True),
        ids=[d.id for d in docs],  # a model's NaN refused by the texts' ids, not their rows
    )
    groups, chunked = found.groups, found.chunked
    measure = "passage coverage" if scoring == "passages" else "similarity"
    if note := _giant_group_note(groups, len(docs), f"{measure} >= {1 - dist:.4f}", rule):
        click.echo(note, err=True)
    # the threshold used, in each line and the summary: a line's min_similarity is its group's
    # weakest linked pair, the summary's min_similarity (kept as it was) the threshold
    thresholds = {
        "threshold": 1 - dist,
        **({"threshold_one_sentence": 1 - doc_dist} if scoring == "passages" else {}),
    }
    lines = [
        json.dumps(
            {
                "group": k,
                "size": len(g.members),
                "scoring": scoring,
                "min_similarity": round(g.min_similarity, 6),
                **thresholds,
                "members": [  # each text's start, so a reviewer need not look each id up
                    {
                        "id": docs[i].id,
                        "similarity": round(s, 6),
                        "text": snippet(docs[i].text, 200),
                    }
                    for i, s in zip(g.members, g.scores)
                ],
            },
            ensure_ascii=False,  # a reviewer reads 登录 or Принтер, not \u767b\u5f55
        )
        for k, g in enumerate(groups)
    ]
    _write_atomic(Path(out), "".join(line + "\n" for line in lines))
    in_groups = sum(len(g.members) for g in groups)
    summary = {
        "texts": len(docs),
        "groups": len(groups),
        "texts_in_groups": in_groups,
        **thresholds,
        "min_similarity": 1 - dist,
        "threshold_source": source,
        **(
            {"min_similarity_one_sentence": 1 - doc_dist, "one_sentence_source": doc_source}
            if scoring == "passages"
            else {}
        ),
        "rule": rule,
        "scoring": scoring,
        "search": found.search,
        "chunked_texts": chunked,
        "dim": found.dim,
        "runtime": runtime,
        "out": out,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{counted(len(docs), 'text')}: {counted(len(groups), 'duplicate group')} holding "
        f"{counted(in_groups, 'text')} ({rule}, {summary['search']} search) "
        f"-> {out}\n"
        f"threshold: {'passage coverage' if scoring == 'passages' else 'similarity'} >= "
        f"{1 - dist:.4f} ({source})"
    )
    if scoring == "passages":
        click.echo(f"two one-sentence texts: similarity >= {1 - doc_dist:.4f} ({doc_source})")
    # with --by passages the texts are embedded sentence by sentence: those are what was windowed
    click.echo(chunk_note(chunked, "sentence" if scoring == "passages" else "text"), nl=False)


def _giant_group_note(groups: list[Any], n_texts: int, threshold: str, rule: str) -> str:
    """A warning when one group holds most of the texts (at least 10 and over half): at that
    threshold texts merely on one topic link up (a calibrated threshold fitted on easy pairs
    sits low), so the group is not a set of duplicates to merge; ``""`` otherwise. ``threshold``:
    as the summary says it (``similarity >= 0.2574``)."""
    size = len(groups[0].members) if groups else 0  # groups come largest first
    if size < 10 or size * 2 <= n_texts:
        return ""
    how = "; or --rule clique or centroid, which do not chain" if rule == "components" else ""
    return (
        f"warning: one group holds {size} of the {n_texts} texts: at {threshold} texts that are "
        f"only related link up; read a few of its members and raise --threshold{how}"
    )
