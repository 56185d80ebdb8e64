"""``siamkit text export / lexical``: write a text model's ONNX export, or a new model joining
a lexical tower (over words, or over WordNet noun synsets) to it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from siamkit.clauses import counted, listed
from siamkit.cli import _text_common  # _text_common._model: a test can replace it
from siamkit.cli._inputs import friendly_errors
from siamkit.cli._text_common import _MODEL, _TEXT_FIELD


@click.command("export")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
@_MODEL
@click.option("--int8", is_flag=True, help="Also write a dynamically quantised int8 graph.")
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace an existing export in --out, keeping files of yours in it; the earlier "
    "export's files that this one does not write are removed, and said (--overwrite is the "
    "same).",
)
@friendly_errors
def export(out: str, model_path: str | None, int8: bool, force: bool) -> None:
    """Export the text encoder to ONNX with its tokenizer (for the torch-free runtime).

    The same as `siamkit export MODEL --format onnx [--int8]` of a saved text bundle, also for
    a Hugging Face folder or the default model.

    To serve an export: `siamkit serve MODEL --runtime onnx-int8` runs MODEL/onnx, the folder
    `siamkit export MODEL --format onnx --int8` writes (MODEL a saved siamkit text model; serve
    runs no export of a Hugging Face folder or of the default model). --out elsewhere is for
    the torch-free runtime on a device (siamkit.applications.text.onnx.TextOnnxEmbedder:
    onnxruntime and tokenizers, no torch) and for the text commands' --runtime onnx-int8
    --onnx-dir DIR.

    \b
    Example:
      siamkit text export --model runs/tickets/model --out edge/ --int8
      siamkit export runs/tickets/model --format onnx --int8   # runs/tickets/model/onnx
      siamkit serve runs/tickets/model --runtime onnx-int8     # serves that export
    """
    from siamkit.applications.text.onnx_export import export_text_bundle, parity_note
    from siamkit.cli.export_cmd import _folder_entries, _removed_line
    from siamkit.encoders.text_zoo import DEFAULT_MODEL_NAME
    from siamkit.progress import step

    step(
        f"loading the model from {model_path}"
        if model_path
        else f"loading the default model ({DEFAULT_MODEL_NAME})"
    )
    net = _text_common._model(model_path)
    before = _folder_entries(Path(out))
    try:
        rows = export_text_bundle(net, out, int8=int8, force=force)
    except FileExistsError:
        raise click.UsageError(f"{out} already exists; pass --force to replace it") from None
    removed = [p for p in before if not os.path.lexists(p)]  # the user's are kept (links too)
    for r in rows:
        click.echo(
            f"{r.precision}: {r.path} ({r.size_bytes / 2**20:.1f} MiB); on probe texts max "
            f"|onnx - torch| {r.max_abs_diff:.1e}, {parity_note(r.precision, r.min_cosine)}"
        )
    click.echo(f"tokenizer: {Path(out) / 'tokenizer'}")
    if removed:
        click.echo(_removed_line(removed, text=True))


@click.command("lexical")
@click.option(
    "--corpus",
    type=click.Path(exists=True),
    required=True,
    help="Background texts the lexical tower's vocabulary and LSI directions are fitted on "
    "(.jsonl, .csv, a folder of text files; a plain text file is one document per line).",
)
@click.option(
    "--out", type=click.Path(file_okay=False), required=True, help="Model folder to write."
)
@_MODEL
@click.option(
    "--weight",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    help="w: a pair scores (1 - w) * semantic cosine + w * lexical cosine. On the Lee corpus "
    "validation documents chose 0.2-0.3 (BENCHMARKS.md). With --synsets on a model that joins "
    "a word tower: v, a pair scores (1 - v) * its score + v * synset cosine.",
)
@click.option(
    "--components",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="LSI directions (a truncated SVD of the corpus's TF-IDF); fewer than the corpus's texts.",
)
@click.option(
    "--max-terms",
    default=50_000,
    show_default=True,
    type=click.IntRange(1),
    help="Keep the corpus's most frequent terms (bounds the files: components x terms floats; "
    "not with --synsets).",
)
@click.option(
    "--synsets",
    is_flag=True,
    help="TF-IDF over WordNet noun synsets instead of words (each word's noun senses and their "
    "direct hypernyms), then the same LSI. Reads WordNet 3.0 offline from --wordnet.",
)
@click.option(
    "--wordnet",
    "wordnet_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of WordNet 3.0's dict files (index.noun, data.noun, noun.exc) for --synsets "
    "[default: /usr/share/wordnet, Debian's wordnet-base].",
)
@_TEXT_FIELD
@click.option(
    "--calibrate",
    "calibrate_pairs",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Labelled validation pairs (CSV/JSONL with columns a, b and label, any case; label 1, "
    "true or yes = same; 0, false or no = not): the joined model's threshold is set at their equal-error point and saved, so "
    "--threshold auto and `siamkit serve` work. Use pairs you will not test on.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace the model in an existing model folder at --out, keeping files of yours in "
    "it; the replaced model's files that this one does not write, and its ONNX export where it "
    "no longer matches this model, are removed, and said (an export of the same model with the "
    "same threshold is kept; --overwrite is the same).",
)
@friendly_errors
def lexical(
    corpus: str,
    out: str,
    model_path: str | None,
    weight: float,
    components: int,
    max_terms: int,
    synsets: bool,
    wordnet_dir: str | None,
    text_field: str,
    calibrate_pairs: str | None,
    force: bool,
) -> None:
    """Join a lexical tower (TF-IDF + LSI fitted on --corpus) to a text model, as a new model.

    Both twins then embed a text as the transformer's unit vector joined with its LSI vector, so
    a pair scores (1 - w) * semantic cosine + w * lexical cosine, and every command (similarity,
    dedup, plagiarism, enroll, serve, export; `siamkit train` with `model.path` set to it) uses
    the joined embedding. The
    lexical part has no trainable weights. On the Lee corpus (MiniLM + LSI-100 fitted on the 300
    background documents) it raised the held-out Pearson r from 0.633 to 0.665.

    With --synsets the tower's TF-IDF is over WordNet noun synsets (offline, from --wordnet):
    each word's noun lemma with n senses adds 1/n to each sense and to its direct hypernyms, so
    "dog" and "puppy" meet in a shared synset; the LSI keeps the embedding --components wide, and
    the model carries the words it maps (no WordNet files needed to embed): for the 300 Lee
    background texts about 150,000 words, 9.9 MB of files in the model, its ONNX export and each
    training checkpoint of it. On the Lee corpus a
    bag of synsets (without LSI) given 0.2 of the score next to a transformer + word-LSI model
    raised A→B validation r (BENCHMARKS.md, "Lee, round 7"); this command's LSI form kept most
    of it when stacked on a word tower, and alone on a transformer scored below the word-tower
    hybrid (BENCHMARKS.md, "Lee: the product's synset tower"). --synsets on a MODEL that
    already joins a word tower joins the synset tower after it, with --weight as v: a pair then
    scores (1 - v) * MODEL's score + v * synset cosine (round 7's form).

    The new model's similarity scale is not the transformer's: its default thresholds and any
    calibrated threshold or score map of MODEL are dropped. Give --calibrate PAIRS to set a
    threshold of its own, pass --threshold to the commands, or fine-tune it on labelled pairs
    (`siamkit train`), which calibrates one.

    \b
    Example:
      siamkit text lexical --corpus background.jsonl --out runs/hybrid --calibrate val_pairs.csv
      siamkit text lexical --corpus background.jsonl --model runs/hybrid --synsets --weight 0.2 --out runs/hybrid-synsets
      siamkit text lexical --corpus background.jsonl --synsets --weight 0.2 --out runs/synsets
    """
    from siamkit.applications.text.corpus import read_corpus
    from siamkit.applications.text.documents import read_text_file
    from siamkit.applications.text.lexical import LexicalTower
    from siamkit.applications.text.wordnet import WORDNET, NounSynsets
    from siamkit.export.bundle import _refuse_other_folder, save_model

    dest = Path(out)
    if dest.exists() and not force:
        raise click.UsageError(f"{out} already exists; pass --force to replace it")
    try:  # save_model's own refusal, before anything is fitted
        _refuse_other_folder(dest)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if wordnet_dir is not None and not synsets:
        raise click.UsageError("--wordnet is the WordNet of --synsets; pass --synsets too")
    given = click.get_current_context().get_parameter_source("max_terms")
    if synsets and given is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(
            "--max-terms bounds a word tower; a --synsets tower keeps the synsets its corpus reaches"
        )
    src = Path(corpus)
    if src.is_file() and src.suffix.lower() not in (".jsonl", ".csv"):
        texts = [ln for ln in read_text_file(src).splitlines() if ln.strip()]
    else:
        texts = [d.text for d in read_corpus(src, text_field, unique_ids=False)]
    pairs = None
    if calibrate_pairs is not None:  # read (and refused) before anything is fitted or written
        from siamkit.applications.text.pairs import read_labelled_pairs

        pairs = read_labelled_pairs(calibrate_pairs, "--calibrate")
    wn = None
    if synsets:  # read (and refused) before the model is loaded or anything written
        wn = NounSynsets.read(wordnet_dir or WORDNET)
    model = _text_common._model(model_path)
    base = model.lexical  # a word tower a --synsets tower is joined after, or None
    if base is not None and (wn is None or base.synsets is not None or base.stacked is not None):
        word_only = base.synsets is None and base.stacked is None  # then --synsets may join
        raise click.UsageError(
            f"{model_path} already joins a lexical tower; start from the transformer model"
            + (" (or join a --synsets tower to it)" if word_only else "")
        )
    click.echo(
        f"fitting TF-IDF{' over WordNet noun synsets' if wn else ''} + LSI "
        f"({counted(components, 'component')}) on {counted(len(texts), 'text')} ...",
        err=True,
    )
    if wn is not None:
        tower = LexicalTower.fit_synsets(texts, wn, components, weight)
        model.lexical = tower if base is None else dataclasses.replace(base, stacked=tower)
    else:
        model.lexical = LexicalTower.fit(texts, components, weight, max_features=max_terms)
    dropped = [
        name
        for name, v in (("threshold", model.threshold), ("score map", model.score_map))
        if v is not None
    ]
    # a half-twin's threshold for two documents (what dedup uses) goes with its threshold
    model.threshold, model.score_map, model.document_threshold = None, None, None
    calibrated = ""
    if pairs is not None:
        from siamkit.applications.text.validate import document_threshold, validate

        m = validate(model, pairs)
        model.threshold = m["verification.threshold"]
        if not model.share_weights:  # and, on the same pairs, the one for two documents
            model.document_threshold = document_threshold(model, pairs)
        calibrated = (
            f"threshold: similarity >= {1 - model.threshold:.4f}, the equal-error point on "
            f"{counted(len(pairs.texts[0]), 'pair')} of {calibrate_pairs} "
            f"(EER {m['verification.eer']:.3f}, ROC AUC {m['verification.roc_auc']:.3f})"
        )
    meta = {"task": "text", "lexical_corpus": str(src)}
    if base is not None and model_path is not None:  # stacked (MODEL is a folder): its word
        # tower keeps its corpus, the synset tower records its own
        from siamkit.export.bundle import read_model_config

        meta.pop("lexical_corpus")
        before = read_model_config(model_path).get("metadata") or {}
        if "lexical_corpus" in before:
            meta["lexical_corpus"] = before["lexical_corpus"]
        meta["lexical_stacked_corpus"] = str(src)
    if synsets:
        meta["lexical_wordnet"] = str(wordnet_dir or WORDNET)
    save_model(model, dest, metadata=meta)
    t = model.lexical
    s = t.stacked if t.stacked is not None else t
    over = (
        f"{counted(len(s.vocabulary), 'WordNet noun synset')} "
        f"({counted(len(s.synsets.words), 'word')})"
        if s.synsets is not None
        else counted(len(s.vocabulary), "term")
    )
    if t.stacked is None:
        click.echo(
            f"wrote {dest}: {model.embedding_dim - t.dim}-d transformer + {t.dim}-d LSI over "
            f"{over}, w = {t.weight}"
        )
    else:
        click.echo(
            f"wrote {dest}: MODEL ({model.embedding_dim - t.dim}-d transformer + "
            f"{t.dim - s.dim}-d LSI over {counted(len(t.vocabulary), 'term')}, "
            f"w = {t.weight}) + "
            f"{s.dim}-d LSI over {over}, v = {s.weight}: a pair scores (1 - v) * MODEL's "
            "score + v * synset cosine"
        )
    if dropped:
        click.echo(f"dropped MODEL's {listed(dropped)}: they were for the transformer alone")
    click.echo(
        calibrated or "thresholds: pass --threshold, or --calibrate PAIRS (no default applies)"
    )
