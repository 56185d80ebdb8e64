"""A saved text model served by its ONNX export (:class:`TextOnnxModel`), embedding with the
torch-free :class:`~siamkit.applications.text.onnx.TextOnnxEmbedder`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siamkit.applications.text.lexical import LexicalTower
from siamkit.applications.text.onnx import EXPORT_DIR, TextOnnxEmbedder, _checked_runtime
from siamkit.applications.text.score_map import ScoreMap


class TextOnnxModel:
    """A saved text model served by its ONNX export: what the gallery and the service read of a
    text model (``input_kind``, ``embed``, ``distance``, ``threshold``, ``embedding_dim``,
    ``fingerprint``, ``token_stats``), the embedding done by :class:`TextOnnxEmbedder`.

    The fingerprint is the bundle's, so a gallery enrolled with the PyTorch model opens with
    this one and the reverse; the threshold is the bundle's current one (an export of another
    threshold, which ``siamkit calibrate`` removes, may have been put back). ``score_map`` is
    the bundle's too (cosine -> the graded scores' scale, ``None`` without one): the
    fingerprint hashes the model's config, map included, so the export this runs is the one of
    the model that map was fitted for.

    >>> load_text_onnx_model("runs/tickets/model", int8=True).embed(["hi"]).shape  # doctest: +SKIP
    torch.Size([1, 384])
    """

    kind = "text-onnx"
    input_kind = "text"
    training = False

    def __init__(
        self,
        runtime: TextOnnxEmbedder,
        distance: str,
        threshold: float | None,
        int8: bool,
        score_map: ScoreMap | None = None,
        transformer_config: dict[str, Any] | None = None,
        model_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        from siamkit.distances import get_distance

        self.runtime = runtime
        self.distance = get_distance(distance)
        self.threshold = threshold
        self.score_map = score_map
        # the bundle's Hugging Face config of the transformer: which architecture this is (the
        # default thresholds are all-MiniLM-L6-v2's), as a PyTorch model's encoder.hf_config()
        self.transformer_config: dict[str, Any] = dict(transformer_config or {})
        self.fingerprint: str = runtime.fingerprint
        self.precision = "int8" if int8 else "fp32"
        self.max_length = int(runtime.meta["max_length"])
        self.overlap = int(runtime.meta["overlap"])
        self.last_chunked = 0
        # the bundle this export was checked against (load_text_onnx_model), for an export
        # that records no (or older) former fingerprints; its PyTorch model's own, computed on
        # first need
        self._model_dir = model_dir
        self._bundle_fingerprint: str | None = None

    @property
    def embedding_dim(self) -> int:
        return self.runtime.embedding_dim

    @property
    def share_weights(self) -> bool:
        """``False`` for a half-twin's export (its document tower's graph beside the query
        tower's), as the PyTorch model's ``share_weights``: galleries record its towers."""
        return not self.runtime.meta.get("document_tower")

    @property
    def lexical(self) -> LexicalTower | None:
        """The lexical tower joined to the embedding (the export's copy), or ``None``."""
        return self.runtime.lexical

    @property
    def distance_name(self) -> str:
        return str(self.distance.name)

    def decision_threshold(self) -> tuple[float, str]:
        """As :meth:`TextSiameseNetwork.decision_threshold`: the bundle's threshold, else
        all-MiniLM-L6-v2's sentence default, and where it comes from."""
        from siamkit.applications.text.similarity import resolve_threshold

        return resolve_threshold(self, None)  # type: ignore[arg-type]

    @property
    def input_shape(self) -> None:
        """``None``: the model embeds strings, not tensors of one shape."""
        return None

    def former_fingerprints(self) -> tuple[str, ...]:
        """The exported model's other fingerprints, which a gallery may record
        (:meth:`TextOnnxEmbedder.former_fingerprints`). An export made before they were
        recorded names none, while its bundle's PyTorch model now enrolls under its current
        formula's fingerprint: such an export refused, as "built by a different model", every
        gallery that same model enrolled after the formula changed (s54_FB). For those, the
        bundle's model's own fingerprint is added, computed once, and only when a gallery's
        fingerprint differs (the only time this is asked); the export was checked to be that
        bundle's at load. So it is for an export whose list is older than the formula the
        model enrolls under now (one made while text fingerprints kept the keys at a value
        that changes nothing). The model is built only where its folder's files do not hash
        (:func:`_files_fingerprint`) to a fingerprint the export lists already: every export
        made since then lists it, and building a text model (tokenizer, transformer, weights)
        to check another model's gallery, which is refused anyway, took seconds on the route
        meant to embed without it (s55_R5 finding 1)."""
        former = self.runtime.former_fingerprints()
        if self._model_dir is None:
            return former
        if self._bundle_fingerprint is None and _files_fingerprint(self._model_dir) in (
            *former,
            self.fingerprint,
        ):
            return former
        if self._bundle_fingerprint is None:
            from siamkit.export.bundle import load_model
            from siamkit.models import model_fingerprint

            self._bundle_fingerprint = model_fingerprint(load_model(self._model_dir))
        if self._bundle_fingerprint in (*former, self.fingerprint):
            return former
        return (*former, self._bundle_fingerprint)

    def token_stats(self, texts: Sequence[str]) -> tuple[list[int], int]:
        return self.runtime.token_stats(texts)

    def embed(self, texts: Sequence[str] | str, role: str = "query") -> Any:
        """Texts -> ``(N, D)`` unit vectors as a float32 CPU tensor; ``role="document"``: a
        half-twin's document tower (one tower: the same graph for both roles)."""
        import torch

        z = self.runtime.embed([texts] if isinstance(texts, str) else texts, role=role)
        self.last_chunked = self.runtime.last_chunked
        return torch.from_numpy(z)

    def __call__(self, a: Sequence[str], b: Sequence[str]) -> Any:
        """Distances of the pairs ``(a_i, b_i)``: ``N, N -> (N,)``."""
        if len(a) != len(b):
            raise ValueError(f"pair lists differ in length: {len(a)} and {len(b)}")
        return self.distance.pairwise(self.embed(a), self.embed(b, role="document"))

    def eval(self) -> TextOnnxModel:
        return self

    def __repr__(self) -> str:
        return f"TextOnnxModel({self.precision}, fingerprint {self.fingerprint[:12]}...)"


def _files_fingerprint(model_dir: str | os.PathLike[str]) -> str | None:
    """The fingerprint the text model saved in ``model_dir`` has now, hashed from its files
    (``siamkit.json``'s description, the weights file's tensors) without building it, as
    ``siamkit recommend`` does; ``None`` where they cannot be read. It is the fingerprint of
    the model :func:`~siamkit.export.bundle.load_model` builds wherever the built model
    describes itself as the folder does (a folder saved under the current formula); a folder
    saved before may hash otherwise, and then the model is built. Left to the build's word: a
    later transformers or tokenizers that describes the same folder otherwise moves the built
    model's fingerprint, and an export listing the files' one is then taken as complete, as
    every export recording a list was before 379c3872."""
    from safetensors.torch import load_file

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import WEIGHTS_FILE, read_model_config
    from siamkit.models.fingerprint import fingerprint_of

    try:
        cfg = read_model_config(model_dir)["model"]
        tensors = load_file(str(Path(model_dir) / WEIGHTS_FILE))
        return fingerprint_of(TextSiameseNetwork.fingerprint_description(cfg), tensors)
    except Exception:  # unreadable, or no numpy dtype (bfloat16): the model is built
        return None


def load_text_onnx_model(
    model_dir: str | os.PathLike[str], int8: bool = False, threads: int | None = None
) -> TextOnnxModel:
    """The saved text model ``model_dir`` run by its export ``model_dir/onnx`` (``siamkit export
    MODEL --format onnx [--int8]``), refused unless that export exists and was made from this
    very model (same fingerprint). Torch is not used to embed.
    """
    from siamkit.export.bundle import read_model_config

    doc = read_model_config(model_dir)
    fingerprint, model = doc.get("fingerprint"), None
    if not isinstance(fingerprint, str) or not fingerprint:
        from siamkit.export.bundle import load_model
        from siamkit.models import model_fingerprint

        model = load_model(model_dir)  # an older bundle: compute it (its export, the former)
        fingerprint = model_fingerprint(model)
    runtime = _checked_runtime(
        Path(model_dir) / EXPORT_DIR,
        int8,
        fingerprint,
        threads or 0,
        model_path=model_dir,
        former=model,
    )
    threshold = doc.get("threshold")
    score_map = doc["model"].get("score_map")
    return TextOnnxModel(
        runtime,
        str(doc.get("distance") or "cosine"),
        None if threshold is None else float(threshold),
        int8,
        None if score_map is None else ScoreMap.from_dict(score_map),
        doc["model"].get("transformer"),
        model_dir=model_dir,
    )
